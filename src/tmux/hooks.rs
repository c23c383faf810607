//! The supervisor's wake-up hook on its own slot panes: `pane-died[42]` running
//! `wait-for -S CHANNEL`, a latch the waiter blocks on (DESIGN.md §12). Set on a pane only
//! (never `-g`, never a window or session of someone else's), at a fixed index, so setting it
//! again overwrites it; how it reads back in a snapshot; the channel named after the server.

use super::args::{Arg, Target, render_args};
use super::cli::stderr_text;
use super::snapshot::Pane;
use super::{TmuxCli, TmuxError};

/// The index of the supervisor's entry in the `pane-died` hook array: fixed, so a restarted
/// supervisor overwrites the entry the last one set instead of adding one.
pub const HOOK_INDEX: u32 = 42;

/// The hook: a pane option since tmux 3.2 (`set-hook -p`).
const HOOK: &str = "pane-died";

/// The latch channel of the server whose socket key is `key` ([`crate::socket::key`]): a hook
/// left by a supervisor that is gone signals a latch nobody waits on until the next supervisor
/// of the same server waits on it again.
pub fn channel(key: &str) -> String {
    format!("tmux-supervisor-wake-{key}")
}

/// A channel that is safe inside the single quotes of a hook command: the characters a
/// socket key is made of, nothing tmux's parser would read as a quote, a format or a
/// separator.
fn check_channel(channel: &str) -> Result<(), TmuxError> {
    let safe = !channel.is_empty()
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_%~.".contains(&b));
    if safe {
        Ok(())
    } else {
        Err(TmuxError::BadOutput(format!(
            "not a wake-up channel name: {channel:?}"
        )))
    }
}

/// `set-hook -p -t TARGET pane-died[42] "wait-for -S 'CHANNEL'"`: on that pane only.
pub(super) fn set_hook_args(target: &Target, channel: &str) -> Result<Vec<Arg>, TmuxError> {
    target.validate()?;
    check_channel(channel)?;
    Ok(vec![
        Arg::plain("set-hook"),
        Arg::plain("-p"),
        Arg::plain("-t"),
        Arg::plain(target.render()),
        Arg::plain(format!("{HOOK}[{HOOK_INDEX}]")),
        Arg::plain(format!("wait-for -S '{channel}'")),
    ])
}

/// The pane carries the supervisor's hook for `channel`, as tmux prints it back
/// (`wait-for -S "CHANNEL"`, quoted or not): exactly that command, nothing more.
pub fn is_set(pane: &Pane, channel: &str) -> bool {
    let words: Vec<&str> = pane.died_hook.split_whitespace().collect();
    match words.as_slice() {
        ["wait-for", "-S", chan] => {
            let bare = chan
                .strip_prefix('"')
                .and_then(|c| c.strip_suffix('"'))
                .or_else(|| chan.strip_prefix('\'').and_then(|c| c.strip_suffix('\'')))
                .unwrap_or(chan);
            bare == channel
        }
        _ => false,
    }
}

impl TmuxCli {
    /// Sets the wake-up hook on `panes`, in one call; when a pane has gone meanwhile (tmux
    /// then stops the chain), one call per pane, skipping those that are gone.
    pub(super) fn hook_panes(&self, channel: &str, panes: &[String]) -> Result<(), TmuxError> {
        let mut args = Vec::new();
        for pane in panes {
            if !args.is_empty() {
                args.push(Arg::Separator);
            }
            args.extend(set_hook_args(&Target::Pane(pane.clone()), channel)?);
        }
        if args.is_empty() {
            return Ok(());
        }
        let output = self.run_raw(&args)?;
        if output.status.success() {
            return Ok(());
        }
        if panes.len() == 1 {
            return Err(TmuxError::Failed {
                args: render_args(&args),
                message: stderr_text(&output),
            });
        }
        for pane in panes {
            match self.run(&set_hook_args(&Target::Pane(pane.clone()), channel)?) {
                Err(TmuxError::Failed { message, .. }) if message.contains("no such pane") => {
                    tracing::debug!(pane = %pane, "no wake-up hook: the pane is gone");
                }
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn hooked(value: &str) -> Pane {
        Pane {
            died_hook: value.to_string(),
            ..crate::fixtures::pane("ccl-auto-11", 1)
        }
    }

    #[test]
    fn the_hook_is_on_one_pane_at_a_fixed_index_and_only_signals() {
        let args =
            set_hook_args(&Target::Pane("%7".into()), "tmux-supervisor-wake-_tmp_x").unwrap();
        assert_eq!(
            render_args(&args),
            "set-hook -p -t %7 pane-died[42] wait-for -S 'tmux-supervisor-wake-_tmp_x'"
        );
        // Never global, never a window, never a name that could match another session.
        let flags: Vec<String> = args
            .iter()
            .map(|a| a.to_os_string().to_string_lossy().into_owned())
            .collect();
        assert!(!flags.iter().any(|f| f == "-g" || f == "-w"), "{flags:?}");
        assert!(set_hook_args(&Target::Pane("ccl-auto-11".into()), "c").is_err());
        // A channel that could break out of its quotes is refused.
        for bad in ["a'b", "a b", "a;b", "#{pid}", ""] {
            assert!(
                set_hook_args(&Target::Pane("%1".into()), bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            check_channel(&channel(&crate::socket::key(std::path::Path::new(
                "/tmp/tmux-1000/a.b c~"
            ))))
            .is_ok()
        );
    }

    #[test]
    fn the_hook_reads_back_only_when_it_is_exactly_ours() {
        let ch = "tmux-supervisor-wake-_tmp_x%2E~1";
        assert!(is_set(
            &hooked(r#"wait-for -S "tmux-supervisor-wake-_tmp_x%2E~1""#),
            ch
        ));
        assert!(is_set(
            &hooked("wait-for -S tmux-supervisor-wake-_tmp_x%2E~1"),
            ch
        ));
        assert!(!is_set(&hooked(""), ch));
        // Another server's channel that starts the same, a longer command, someone else's.
        assert!(!is_set(
            &hooked(r#"wait-for -S "tmux-supervisor-wake-_tmp_x%2E~12""#),
            ch
        ));
        assert!(!is_set(
            &hooked(r#"wait-for -S "tmux-supervisor-wake-_tmp_x%2E~1" ; run-shell x"#),
            ch
        ));
        assert!(!is_set(&hooked("run-shell 'notify-send died'"), ch));
    }
}
