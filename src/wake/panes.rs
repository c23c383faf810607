//! The processes of the slot panes the supervisor keeps alive, followed until they end: a
//! pidfd each (Linux), all waited on by one thread blocked in poll(2), whose end rings the
//! [`Wake`] once. This is how a killed session (its pane's program gets SIGHUP) and a killed
//! agent whose exit tmux 3.3a loses (no `pane-died` then) are seen at once: no tmux hook fires
//! for either. Nothing runs while nothing ends.

use std::collections::HashSet;

use super::Wake;

/// The followed processes: which pids, and the thread that waits for their ends.
#[derive(Debug)]
pub struct PaneProcesses {
    wake: Wake,
    /// Every pid followed (or that could not be): each rings at most once, however often a
    /// poll lists it again.
    followed: HashSet<u32>,
    /// The waiting thread, started with the first pid.
    thread: Option<imp::Thread>,
    /// pidfds do not work here (an old kernel, a sandbox): nothing is followed.
    unsupported: bool,
}

/// What the owner tells the waiting thread.
enum Order {
    Follow(u32, std::os::fd::OwnedFd),
    Forget(u32),
    Stop,
}

impl PaneProcesses {
    pub fn new(wake: Wake) -> Self {
        PaneProcesses {
            wake,
            followed: HashSet::new(),
            thread: None,
            unsupported: false,
        }
    }

    /// From now on follows exactly `pids` (the live panes of kept-alive slots at the last
    /// poll): new ones are followed, those no longer listed are let go.
    pub fn follow(&mut self, pids: impl IntoIterator<Item = u32>) {
        let pids: HashSet<u32> = pids.into_iter().collect();
        let mut orders = Vec::new();
        self.followed.retain(|pid| {
            let keep = pids.contains(pid);
            if !keep {
                orders.push(Order::Forget(*pid));
            }
            keep
        });
        for pid in pids {
            if self.unsupported || !self.followed.insert(pid) {
                continue;
            }
            match imp::open(pid) {
                Ok(fd) => orders.push(Order::Follow(pid, fd)),
                Err(imp::NotFollowed::Gone) => {
                    // Already ended between the poll and now: that is news too.
                    self.wake.ring();
                }
                Err(imp::NotFollowed::Unsupported(e)) => {
                    tracing::info!(
                        "cannot follow the processes of slot panes ({e}): their deaths are seen by tmux hooks and polls only"
                    );
                    self.unsupported = true;
                }
                Err(imp::NotFollowed::Skipped(e)) => {
                    tracing::debug!(pid, "cannot follow this pane's process: {e}");
                }
            }
        }
        if orders.is_empty() {
            return;
        }
        if self.thread.is_none() {
            match imp::Thread::start(self.wake.clone()) {
                Ok(t) => self.thread = Some(t),
                Err(e) => {
                    tracing::info!("cannot follow the processes of slot panes: {e}");
                    self.unsupported = true;
                    return;
                }
            }
        }
        if let Some(t) = &self.thread {
            t.tell(orders);
        }
    }

    /// How many processes are followed (or were, and have ended) now.
    pub fn following(&self) -> usize {
        self.followed.len()
    }
}

impl Drop for PaneProcesses {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            t.stop();
        }
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;
    use std::os::fd::{AsFd as _, OwnedFd};
    use std::sync::mpsc;

    use rustix::event::{EventfdFlags, PollFd, PollFlags, eventfd, poll};
    use rustix::io::Errno;
    use rustix::process::{Pid, PidfdFlags, pidfd_open};

    use super::{Order, Wake};

    /// Why a process is not followed.
    pub(super) enum NotFollowed {
        /// It has ended (or never was).
        Gone,
        /// pidfds are not available here at all.
        Unsupported(std::io::Error),
        /// This one could not be (out of descriptors, …).
        Skipped(std::io::Error),
    }

    pub(super) fn open(pid: u32) -> Result<OwnedFd, NotFollowed> {
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(NotFollowed::Gone)?;
        pidfd_open(raw, PidfdFlags::NONBLOCK).map_err(|e| match e {
            Errno::SRCH => NotFollowed::Gone,
            Errno::NOSYS | Errno::PERM | Errno::ACCESS | Errno::INVAL => {
                NotFollowed::Unsupported(e.into())
            }
            e => NotFollowed::Skipped(e.into()),
        })
    }

    /// The waiting thread: orders come on a channel, and an eventfd makes its poll(2) look.
    #[derive(Debug)]
    pub(super) struct Thread {
        orders: mpsc::Sender<Order>,
        bell: std::sync::Arc<OwnedFd>,
        handle: std::thread::JoinHandle<()>,
    }

    impl Thread {
        pub(super) fn start(wake: Wake) -> std::io::Result<Thread> {
            let bell = std::sync::Arc::new(eventfd(0, EventfdFlags::CLOEXEC)?);
            let (orders, inbox) = mpsc::channel();
            let theirs = std::sync::Arc::clone(&bell);
            let handle = std::thread::Builder::new()
                .name("pane-processes".into())
                .spawn(move || run(&theirs, &inbox, &wake))?;
            Ok(Thread {
                orders,
                bell,
                handle,
            })
        }

        pub(super) fn tell(&self, orders: Vec<Order>) {
            for o in orders {
                let _ = self.orders.send(o);
            }
            let _ = rustix::io::write(self.bell.as_fd(), &1_u64.to_ne_bytes());
        }

        /// Stops the thread and waits for it (it is in poll(2), which the bell ends at once).
        pub(super) fn stop(self) {
            self.tell(vec![Order::Stop]);
            let _ = self.handle.join();
        }
    }

    fn run(bell: &OwnedFd, inbox: &mpsc::Receiver<Order>, wake: &Wake) {
        let mut fds: HashMap<u32, OwnedFd> = HashMap::new();
        loop {
            let pids: Vec<u32> = fds.keys().copied().collect();
            let mut polled = Vec::with_capacity(pids.len() + 1);
            polled.push(PollFd::new(bell, PollFlags::IN));
            for pid in &pids {
                polled.push(PollFd::new(&fds[pid], PollFlags::IN));
            }
            match poll(&mut polled, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => {
                    tracing::info!("stopped following the processes of slot panes: {e}");
                    return;
                }
            }
            let ended: Vec<u32> = pids
                .iter()
                .zip(&polled[1..])
                .filter(|(_, p)| !p.revents().is_empty())
                .map(|(pid, _)| *pid)
                .collect();
            let rung = !polled[0].revents().is_empty();
            drop(polled);
            for pid in &ended {
                fds.remove(pid);
            }
            if !ended.is_empty() {
                wake.ring();
            }
            if rung {
                let _ = rustix::io::read(bell, &mut [0_u8; 8]);
                while let Ok(order) = inbox.try_recv() {
                    match order {
                        Order::Follow(pid, fd) => {
                            fds.insert(pid, fd);
                        }
                        Order::Forget(pid) => {
                            fds.remove(&pid);
                        }
                        Order::Stop => return,
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::os::fd::OwnedFd;

    use super::{Order, Wake};

    pub(super) enum NotFollowed {
        Gone,
        Unsupported(std::io::Error),
        Skipped(std::io::Error),
    }

    pub(super) fn open(_pid: u32) -> Result<OwnedFd, NotFollowed> {
        Err(NotFollowed::Unsupported(std::io::Error::other(
            "pidfds are Linux only",
        )))
    }

    #[derive(Debug)]
    pub(super) struct Thread;

    impl Thread {
        pub(super) fn start(_wake: Wake) -> std::io::Result<Thread> {
            Err(std::io::Error::other("pidfds are Linux only"))
        }
        pub(super) fn tell(&self, _orders: Vec<Order>) {}
        pub(super) fn stop(self) {}
    }
}
