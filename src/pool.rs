//! Slots and names: which session names the config owns, and what any other name is.
//!
//! A *slot* is a configured name (`prefix + index` over `[start_index, start_index+max)`, or a
//! dedicated session). A *stray* is a live session that is not a slot but looks like a member
//! of a pool: the pool's stem (prefix without trailing `-`/`_`), an optional `-` or `_`, then
//! digits. Everything else is *other*. Only slots are ever acted on.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::config::{Config, Restart};

/// Name of the group that holds dedicated sessions.
pub const DEDICATED: &str = "sessions";

/// One configured session name and what should run in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub name: String,
    /// The pool's name, or [`DEDICATED`].
    pub group: String,
    /// The index within the pool; `None` for a dedicated session.
    pub index: Option<u32>,
    pub restart: Restart,
    /// Inside `[start_index, start_index+min)`: kept alive (when the policy allows).
    pub kept: bool,
    pub workdir: PathBuf,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The agent its command runs, when the supervisor knows it (`agent: claude`).
    pub agent: Option<crate::config::AgentKind>,
    /// The host whose tmux server holds it (a key of `hosts:`); `None`: this machine.
    pub host: Option<String>,
}

impl Slot {
    /// True when reconcile may act on this slot on its own.
    pub fn supervised(&self) -> bool {
        self.kept && self.restart != Restart::Never
    }
}

/// A group of slots as shown on screen: a pool, or the dedicated sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Human range, e.g. `ccl-auto-11..ccl-auto-20`.
    pub range: String,
    pub restart: Option<Restart>,
    /// Indices into [`Layout::slots`].
    pub slots: Vec<usize>,
    /// The host of its slots (`None`: this machine); dedicated sessions are grouped by host.
    pub host: Option<String>,
}

/// What a live session name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class<'a> {
    /// A configured slot (index into [`Layout::slots`]).
    Slot(usize),
    /// Not a slot but looks like a member of this pool.
    Stray {
        pool: &'a str,
    },
    Other,
}

/// Every slot of a config, and the rules to classify any name.
#[derive(Debug, Clone)]
pub struct Layout {
    pub slots: Vec<Slot>,
    pub groups: Vec<Group>,
    by_name: HashMap<String, usize>,
    /// (stem, pool name, the pool's host), longest stem first.
    stems: Vec<(String, String, Option<String>)>,
    /// The other hosts of the config (`hosts:`), by name; this machine is not among them.
    pub hosts: Vec<String>,
}

/// The stem of a prefix: the prefix without its trailing `-` or `_`.
pub fn stem(prefix: &str) -> &str {
    prefix.trim_end_matches(['-', '_'])
}

impl Layout {
    pub fn new(cfg: &Config) -> Self {
        let mut slots = Vec::new();
        let mut groups = Vec::new();
        for p in &cfg.pools {
            let mut members = Vec::new();
            for i in p.start_index..p.start_index.saturating_add(p.max) {
                members.push(slots.len());
                slots.push(Slot {
                    name: format!("{}{i}", p.prefix),
                    group: p.name.clone(),
                    index: Some(i),
                    restart: p.restart,
                    kept: i - p.start_index < p.min,
                    workdir: p.workdir.clone(),
                    command: p.command.clone(),
                    env: p.env.clone(),
                    agent: p.agent,
                    host: p.host.clone(),
                });
            }
            let last = p.start_index.saturating_add(p.max).saturating_sub(1);
            groups.push(Group {
                name: p.name.clone(),
                range: format!("{0}{1}..{0}{last}", p.prefix, p.start_index),
                restart: Some(p.restart),
                slots: members,
                host: p.host.clone(),
            });
        }
        // Dedicated sessions: one group per host they are on, this machine's first.
        let mut places: Vec<Option<&String>> = Vec::new();
        for s in &cfg.sessions {
            if !places.contains(&s.host.as_ref()) {
                places.push(s.host.as_ref());
            }
        }
        places.sort();
        for place in places {
            let mut members = Vec::new();
            for s in cfg.sessions.iter().filter(|s| s.host.as_ref() == place) {
                members.push(slots.len());
                slots.push(Slot {
                    name: s.name.clone(),
                    group: DEDICATED.to_string(),
                    index: None,
                    restart: s.restart,
                    kept: true,
                    workdir: s.workdir.clone(),
                    command: s.command.clone(),
                    env: s.env.clone(),
                    agent: s.agent,
                    host: s.host.clone(),
                });
            }
            groups.push(Group {
                name: DEDICATED.to_string(),
                range: format!("{} dedicated", members.len()),
                restart: None,
                slots: members,
                host: place.cloned(),
            });
        }
        let by_name = slots
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let mut stems: Vec<(String, String, Option<String>)> = cfg
            .pools
            .iter()
            .map(|p| (stem(&p.prefix).to_string(), p.name.clone(), p.host.clone()))
            .filter(|(s, _, _)| !s.is_empty())
            .collect();
        stems.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        // Every other host, with slots or not (its sessions are shown too).
        let hosts: Vec<String> = cfg.hosts.keys().cloned().collect();
        Layout {
            slots,
            groups,
            by_name,
            stems,
            hosts,
        }
    }

    /// The slot with exactly this name.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// What a session named `name` on `host` (`None`: this machine) is: a slot only on the
    /// slot's own host, a stray of a pool on that pool's host, else other. The same name on
    /// another host is never the slot.
    pub fn classify(&self, host: Option<&str>, name: &str) -> Class<'_> {
        if let Some(i) = self.slot(name)
            && self.slots[i].host.as_deref() == host
        {
            return Class::Slot(i);
        }
        for (stem, pool, pool_host) in &self.stems {
            if pool_host.as_deref() != host {
                continue;
            }
            if let Some(rest) = name.strip_prefix(stem.as_str()) {
                let digits = rest
                    .strip_prefix('-')
                    .or_else(|| rest.strip_prefix('_'))
                    .unwrap_or(rest);
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Class::Stray { pool };
                }
            }
        }
        Class::Other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::DEFAULT_YAML;

    fn production() -> Layout {
        Layout::new(&Config::parse(DEFAULT_YAML, "default").unwrap())
    }

    #[test]
    fn production_pools_give_exactly_the_real_ranges() {
        let l = production();
        let names = |g: &str| -> Vec<String> {
            l.slots
                .iter()
                .filter(|s| s.group == g)
                .map(|s| s.name.clone())
                .collect()
        };
        let manual: Vec<String> = (0..10).map(|i| format!("ccl-{i}")).collect();
        let auto: Vec<String> = (11..=20).map(|i| format!("ccl-auto-{i}")).collect();
        assert_eq!(names("manual"), manual);
        assert_eq!(names("auto"), auto);
        assert_eq!(l.slots.len(), 20);
        for i in 0..10 {
            assert_eq!(l.slot(&format!("ccl-auto{i}")), None);
            assert_eq!(l.slot(&format!("ccl-auto-{i}")), None);
        }
        assert_eq!(l.groups[1].range, "ccl-auto-11..ccl-auto-20");
        assert!(
            l.slots
                .iter()
                .all(|s| s.group != "manual" || !s.supervised())
        );
        assert!(l.slots.iter().all(|s| s.group != "auto" || s.supervised()));
    }

    #[test]
    fn classification_follows_the_stem_rule() {
        let l = production();
        for stray_of_auto in ["ccl-auto0", "ccl-auto-5", "ccl-auto-21", "ccl-auto_3"] {
            assert_eq!(
                l.classify(None, stray_of_auto),
                Class::Stray { pool: "auto" },
                "{stray_of_auto}"
            );
        }
        assert_eq!(l.classify(None, "ccl-12"), Class::Stray { pool: "manual" });
        assert_eq!(l.classify(None, "ccl10"), Class::Stray { pool: "manual" });
        assert!(matches!(l.classify(None, "ccl-auto-11"), Class::Slot(_)));
        assert!(matches!(l.classify(None, "ccl-0"), Class::Slot(_)));
        for other in [
            "ccl-foo",
            "ccl-auto-11-old",
            "main",
            "ccl-",
            "ccl-auto-",
            "cc-1",
            "",
        ] {
            assert_eq!(l.classify(None, other), Class::Other, "{other}");
        }
    }

    #[test]
    fn min_below_max_keeps_only_the_first_slots() {
        let cfg = Config::parse(
            "pools:\n  - {name: p, prefix: \"w-\", start_index: 5, max: 4, min: 2, restart: always}\n",
            "t",
        )
        .unwrap();
        let l = Layout::new(&cfg);
        let kept: Vec<_> = l.slots.iter().map(|s| (s.name.as_str(), s.kept)).collect();
        assert_eq!(
            kept,
            vec![("w-5", true), ("w-6", true), ("w-7", false), ("w-8", false)]
        );
    }

    #[test]
    fn dedicated_sessions_are_slots_of_their_own_group() {
        let cfg = Config::parse(
            "sessions:\n  - {name: ccl-docs, restart: always, workdir: /tmp}\n",
            "t",
        )
        .unwrap();
        let l = Layout::new(&cfg);
        assert_eq!(l.classify(None, "ccl-docs"), Class::Slot(0));
        assert_eq!(l.slots[0].group, DEDICATED);
        assert!(l.slots[0].supervised());
    }
}
