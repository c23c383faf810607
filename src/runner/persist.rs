//! The loop's hold on the state dir: the memory loaded at the start, saved when it changed,
//! and the server's lock, tried again while another supervisor has it. The controller never
//! opens a file; the loops own this.

use crate::config::Config;
use crate::controller::{Mode, Supervisor};
use crate::memory::{EventKind, Lock, Memory, Millis, Store};
use crate::remember::adopt_panes_of_old_memory;

/// How often a change of working agents' progress alone is written.
pub const PROGRESS_SAVE_MS: Millis = 5_000;

/// The memory as saved, without the working agents' progress.
fn steady_bytes(memory: &Memory) -> Vec<u8> {
    let mut m = memory.clone();
    for s in m.slots.values_mut() {
        s.progress = None;
    }
    serde_json::to_vec(&m).unwrap_or_default()
}

/// The state file and the lock of the server, owned by the loop: the controller never opens
/// a file. Memory is written only when it changed, never while observe-only (the other
/// supervisor owns it then).
pub struct Persist {
    store: Option<Store>,
    lock: Option<Lock>,
    saved: Vec<u8>,
    /// What was saved last, working agents' progress left out, and when.
    saved_steady: (Vec<u8>, Millis),
    /// Last save error, said once.
    save_error: Option<String>,
    /// At the start the lock was held by another supervisor (not refused for a bad file).
    held_elsewhere: bool,
}

impl Persist {
    /// Loads the memory of `store` (slots that left the config forgotten, their events kept)
    /// and tries the lock: without it the supervisor runs observe-only and tries again at
    /// each reconcile tick. Problems go to the event log. No store: memory lives in memory.
    pub fn open(config: Config, store: Option<Store>, now: Millis) -> (Supervisor, Persist) {
        let layout = crate::pool::Layout::new(&config);
        let store = store.map(|st| st.keeping_slots(layout.slots.iter().map(|s| s.name.clone())));
        let mut memory = Memory::default();
        let mut lock = None;
        let mut mode = Mode::default();
        let mut wants_lock = false;
        let mut held_elsewhere = false;
        let mut notes: Vec<(EventKind, String)> = Vec::new();
        if let Some(st) = &store {
            let (m, warning) = st.load();
            memory = m;
            adopt_panes_of_old_memory(&mut memory);
            if let Some(w) = warning {
                notes.push((EventKind::Error, w.0));
            }
            match st.lock() {
                Ok(Some(l)) => lock = Some(l),
                Ok(None) => {
                    mode.observe_only = true;
                    wants_lock = true;
                    held_elsewhere = true;
                    let who = st
                        .lock_holder()
                        .map_or_else(String::new, |p| format!(" (pid {p})"));
                    notes.push((
                        EventKind::Info,
                        format!(
                            "another supervisor{who} is reconciling this tmux server; observe-only"
                        ),
                    ));
                }
                // No lock, no acting: a symlink or a FIFO where the lock should be, a state
                // dir that cannot be written, a name too long… Reconciling without the lock
                // could mean two supervisors acting on one server. Observe only, say why, and
                // try again at each reconcile tick.
                Err(e) => {
                    mode.observe_only = true;
                    wants_lock = true;
                    notes.push((
                        EventKind::Error,
                        format!(
                            "cannot take the lock {}: {e}; observe-only until it can be taken",
                            st.lock_path.display()
                        ),
                    ));
                }
            }
        }
        let mut sup = Supervisor::new(config, memory, mode);
        sup.wants_lock = wants_lock;
        for (kind, text) in notes {
            sup.memory.push(now, kind, "", text);
        }
        let persist = Persist {
            store,
            lock,
            saved: Vec::new(),
            saved_steady: (Vec::new(), 0),
            save_error: None,
            held_elsewhere,
        };
        (sup, persist)
    }

    /// An observe-only supervisor tries again for the lock (the other one may have quit).
    pub fn retry_lock(&mut self, sup: &mut Supervisor, now: Millis) {
        if !sup.wants_lock || self.lock.is_some() {
            return;
        }
        if let Some(st) = &self.store
            && let Ok(Some(l)) = st.lock()
        {
            self.lock = Some(l);
            let (mut memory, _) = st.load();
            adopt_panes_of_old_memory(&mut memory);
            sup.took_lock(memory, now);
        }
    }

    /// Writes the memory if it changed.
    pub fn save(&mut self, sup: &mut Supervisor, now: Millis) {
        if sup.mode.observe_only {
            return;
        }
        let Some(store) = &self.store else { return };
        let Ok(bytes) = serde_json::to_vec(&sup.memory) else {
            return;
        };
        if bytes == self.saved {
            return;
        }
        // A working agent's progress changes at every poll: alone, it is written at most every
        // PROGRESS_SAVE_MS (enough for `check` to tell a hung agent), not with an fsync a poll.
        let steady = steady_bytes(&sup.memory);
        if steady == self.saved_steady.0
            && now.saturating_sub(self.saved_steady.1) < PROGRESS_SAVE_MS
        {
            return;
        }
        match store.save(&sup.memory) {
            Ok(()) => {
                self.saved = bytes;
                self.saved_steady = (steady, now);
                self.save_error = None;
            }
            Err(e) => {
                let msg = format!(
                    "cannot write the state file {}: {e}; restart counters live in memory only",
                    store.path.display()
                );
                if self.save_error.as_ref() != Some(&msg) {
                    sup.note_error(now, msg.clone());
                    self.save_error = Some(msg);
                }
            }
        }
    }

    /// The per-server state file.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Another supervisor held the lock at the start.
    pub fn held_elsewhere(&self) -> bool {
        self.held_elsewhere
    }
}
