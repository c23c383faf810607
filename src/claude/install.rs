//! `tmux-supervisor hooks install|uninstall|status`: our hooks in a user's Claude Code settings
//! file, for sessions the supervisor did not start. The file is read whole, changed only where
//! ours are, backed up, and replaced atomically with its mode kept; a file that is not valid is
//! refused and left byte for byte as it was.

use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use super::settings::{self, EVENTS};

/// The largest settings file read.
const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Claude Code hooks in the user's settings, for sessions the supervisor did not start.
#[derive(Debug, Clone, clap::Args)]
pub struct HooksArgs {
    #[command(subcommand)]
    pub action: HooksAction,
    /// The Claude Code settings file [default: `$CLAUDE_CONFIG_DIR/settings.json`, else
    /// `~/.claude/settings.json`]. A symlink is followed: the file it points to is changed.
    #[arg(long, global = true, value_name = "PATH")]
    pub settings_file: Option<PathBuf>,
}

/// What to do with our hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum HooksAction {
    /// Merge our hooks into the settings file (a backup first; the user's own hooks and every
    /// other setting kept; running it again changes nothing).
    Install,
    /// Remove exactly our hooks from the settings file.
    Uninstall,
    /// Say which events have our hook and whether its executable exists. Exit 0 when all do,
    /// 1 otherwise.
    Status,
}

impl HooksArgs {
    /// Runs the action; `config` is loaded only for `install` (its state dir goes into the
    /// commands when it is not the default one).
    pub fn run(&self, config: &crate::config::Found) -> ExitCode {
        let path = settings_path(self.settings_file.as_deref());
        let done = |text: String| (text, true);
        let outcome = match self.action {
            HooksAction::Install => config
                .load()
                .map_err(|e| e.to_string().trim_end().to_owned())
                .and_then(|c| install(&path, &c.state_dir))
                .map(done),
            HooksAction::Uninstall => uninstall(&path).map(done),
            HooksAction::Status => status(&path),
        };
        match outcome {
            Ok((text, all_well)) => {
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
                if all_well {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("tmux-supervisor: {e}");
                ExitCode::from(crate::check::EXIT_ERROR)
            }
        }
    }
}

/// `--settings-file`, else `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`.
pub fn settings_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(dir) = std::env::var_os("CLAUDE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("settings.json");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".claude").join("settings.json")
}

/// A settings file as read: where it really is (a symlink followed), its bytes and mode
/// (`None` when there is no file yet), and the document.
struct Read {
    real: PathBuf,
    before: Option<(Vec<u8>, u32)>,
    doc: Value,
}

/// Reads and checks the settings file at `path`; every refusal names the file.
fn read(path: &Path) -> Result<Read, String> {
    let real = match fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(format!(
                    "{} is a symlink to a file that does not exist; fix the link, or pass --settings-file",
                    path.display()
                ));
            }
            return Ok(Read {
                real: path.to_path_buf(),
                before: None,
                doc: Value::Object(serde_json::Map::new()),
            });
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let (bytes, mode) =
        read_bytes(&real).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{} is not valid JSON ({e}); it was left as it is: fix it, then run this again",
                path.display()
            )
        })?
    };
    settings::check(&doc).map_err(|e| {
        format!(
            "{} is not a settings file Claude Code can read: {e}; it was left as it is",
            path.display()
        )
    })?;
    Ok(Read {
        real,
        before: Some((bytes, mode)),
        doc,
    })
}

/// The bytes and permission bits of a regular file, opened without blocking (a FIFO there
/// cannot hang us) and capped at [`MAX_BYTES`].
fn read_bytes(path: &Path) -> io::Result<(Vec<u8>, u32)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(io::Error::other("it is bigger than 16 MiB"));
    }
    Ok((bytes, meta.permissions().mode() & 0o7777))
}

/// Writes `doc` over the settings file: first a backup of what was there next to `path`
/// (`settings.json.bak-<UTC time>`, same mode), then the new text through a temp file renamed
/// over the real file (a symlink at `path` stays a symlink). Refuses when the file changed
/// since it was read. Returns the backup's path.
fn write(path: &Path, read: &Read, doc: &Value) -> Result<Option<PathBuf>, String> {
    let fail = |e: io::Error| format!("cannot write {}: {e}", path.display());
    let mut text = serde_json::to_string_pretty(doc).map_err(|e| fail(io::Error::other(e)))?;
    text.push('\n');
    let dir = read
        .real
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if read.before.is_none() {
        crate::statedir::create_private(dir).map_err(fail)?;
    }
    let backup = match &read.before {
        Some((bytes, mode)) => Some(backup(path, bytes, *mode).map_err(fail)?),
        None => None,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".settings.json.")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(fail)?;
    let mode = read.before.as_ref().map_or(0o600, |(_, m)| *m);
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(fail)?;
    tmp.write_all(text.as_bytes()).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    let now = read_bytes(&read.real).ok().map(|(b, _)| b);
    if now != read.before.as_ref().map(|(b, _)| b.clone()) {
        return Err(format!(
            "{} changed while it was being updated; nothing was written: run this again",
            path.display()
        ));
    }
    tmp.persist(&read.real).map_err(|e| fail(e.error))?;
    Ok(backup)
}

/// Copies `bytes` to a new `<path>.bak-<UTC time>` (or `…-2`, `…-3` when taken), mode `mode`.
fn backup(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let base = format!("{}.bak-{stamp}", path.display());
    for n in 1..=100 {
        let name = if n == 1 {
            PathBuf::from(&base)
        } else {
            PathBuf::from(format!("{base}-{n}"))
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&name);
        match file {
            Ok(mut f) => {
                f.set_permissions(fs::Permissions::from_mode(mode))?;
                f.write_all(bytes)?;
                f.sync_all()?;
                return Ok(name);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every backup name is taken",
    ))
}

/// `hooks install`: our hooks, running this executable, merged into the settings at `path`.
pub fn install(path: &Path, state_dir: &Path) -> Result<String, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot tell where this executable is: {e}"))?;
    if !exe.is_file() {
        return Err(format!(
            "this executable {} is gone (replaced while it ran?); run the installed one",
            exe.display()
        ));
    }
    install_exe(path, &exe, state_dir)
}

/// [`install`] with the executable given.
pub fn install_exe(path: &Path, exe: &Path, state_dir: &Path) -> Result<String, String> {
    settings::utf8(exe)?;
    let dir = settings::state_dir_arg(state_dir);
    if let Some(d) = dir {
        settings::utf8(d)?;
    }
    let read = read(path)?;
    let mut doc = read.doc.clone();
    let changed = settings::merge(&mut doc, &settings::document(exe, dir))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !changed {
        return Ok(format!(
            "the hooks are already installed in {}; nothing changed",
            path.display()
        ));
    }
    let backup = write(path, &read, &doc)?;
    Ok(format!(
        "installed the hooks for {} events in {}{}",
        EVENTS.len(),
        path.display(),
        backed_up(backup.as_deref())
    ))
}

/// `hooks uninstall`: every hook of ours removed from the settings at `path`.
pub fn uninstall(path: &Path) -> Result<String, String> {
    let read = read(path)?;
    let mut doc = read.doc.clone();
    let removed = settings::unmerge(&mut doc).map_err(|e| format!("{}: {e}", path.display()))?;
    if removed == 0 {
        return Ok(format!(
            "no hooks of tmux-supervisor in {}; nothing changed",
            path.display()
        ));
    }
    let backup = write(path, &read, &doc)?;
    Ok(format!(
        "removed {removed} hooks of tmux-supervisor from {}{}",
        path.display(),
        backed_up(backup.as_deref())
    ))
}

fn backed_up(backup: Option<&Path>) -> String {
    backup.map_or_else(String::new, |b| format!(" (backup: {})", b.display()))
}

/// `hooks status`: a line per event (ours there or not, the command), then each executable
/// named and whether it exists; `true` when every event has ours and every executable exists.
pub fn status(path: &Path) -> Result<(String, bool), String> {
    use std::fmt::Write as _;
    let read = read(path)?;
    let ours =
        settings::ours_by_event(&read.doc).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = format!("{}:\n", path.display());
    let mut all = read.before.is_some();
    let mut exes: Vec<String> = Vec::new();
    let find = |event: &str| {
        ours.iter()
            .find(|(e, _)| e == event)
            .map(|(_, c)| c.clone())
    };
    let others = ours.iter().filter(|(e, _)| !EVENTS.contains(&e.as_str()));
    for event in EVENTS
        .iter()
        .copied()
        .chain(others.map(|(e, _)| e.as_str()))
    {
        let commands = find(event).unwrap_or_default();
        all &= !commands.is_empty();
        let shown = if commands.is_empty() {
            "missing".to_owned()
        } else {
            commands.join(" ; ")
        };
        let _ = writeln!(text, "  {event:<18} {shown}");
        for c in &commands {
            if let Some(exe) = settings::exe_of(c).filter(|e| !exes.contains(e)) {
                exes.push(exe);
            }
        }
    }
    for exe in &exes {
        let found = exe_exists(exe);
        all &= found;
        let said = if found { "exists" } else { "MISSING" };
        let _ = writeln!(text, "  executable {exe}: {said}");
    }
    if read.before.is_none() {
        let _ = writeln!(text, "  (there is no such file)");
    }
    Ok((text, all))
}

/// Whether the executable a hook names is there: an absolute or relative path as it is, a bare
/// name on `$PATH`.
fn exe_exists(exe: &str) -> bool {
    let runnable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if exe.contains('/') {
        return runnable(Path::new(exe));
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| runnable(&d.join(exe))))
}

#[cfg(test)]
#[path = "install_tests.rs"]
mod tests;
