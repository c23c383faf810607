//! The fleet: ids marked per host, the reconnect backoff, another host's reasons in few
//! words, an old tmux there refused, each op on its host's server with that server's ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::fixtures::pane;

#[test]
fn ids_are_marked_with_their_host_and_given_back_bare() {
    assert_eq!(mark("%3", "gpu1"), "%3@gpu1");
    assert_eq!(bare("%3@gpu1"), "%3");
    assert_eq!(bare("%3"), "%3");
    let mut whole = Snapshot::default();
    let mut theirs = Snapshot::default();
    theirs.panes.push(pane("gpu-1", 3));
    theirs.rejected.push("junk".into());
    merge(&mut whole, "gpu1", theirs);
    let p = &whole.panes[0];
    assert_eq!(
        (p.pane_id.as_str(), p.session_id.as_str()),
        ("%3@gpu1", "$3@gpu1")
    );
    assert_eq!(p.host(), Some("gpu1"));
    assert_eq!(whole.rejected, ["gpu1: junk"]);
    // This machine's panes have no host, and only they say the server's pid.
    assert_eq!(whole.server_pid(), None);
}

#[test]
fn a_host_that_fails_is_asked_again_later_and_later() {
    let remote = Remote {
        name: "gpu1".into(),
        cli: TmuxCli::new(crate::tmux::Endpoint::default()),
        reach: Mutex::new(Reach::default()),
    };
    let now = Instant::now();
    remote.begin(now).unwrap();
    // While a call is out, no second one.
    assert!(remote.begin(now).unwrap_err().starts_with("no answer for"));
    remote.end(&Err(TmuxError::Ssh("Connection refused".into())));
    let why = remote.begin(Instant::now()).unwrap_err();
    assert_eq!(why, "ssh: Connection refused");
    let first = remote.reach.lock().unwrap().retry_at.unwrap();
    remote.reach.lock().unwrap().retry_at = Some(Instant::now());
    remote.begin(Instant::now()).unwrap();
    remote.end(&Err(TmuxError::Ssh("Connection refused".into())));
    let second = remote.reach.lock().unwrap().retry_at.unwrap();
    assert!(second.duration_since(Instant::now()) > first.duration_since(now) / 2 * 3);
    // An answer ends it.
    remote.reach.lock().unwrap().retry_at = Some(Instant::now());
    remote.begin(Instant::now()).unwrap();
    remote.end(&Ok(Snapshot::default()));
    assert_eq!(remote.reach.lock().unwrap().failures, 0);
    remote.begin(Instant::now()).unwrap();
}

/// This machine's manual pool, and an auto pool on host gpu1 (as DESIGN §15 writes it).
struct TwoServers {
    here: crate::fake::FakeTmux,
    gpu1: crate::fake::FakeTmux,
}

impl Tmux for TwoServers {
    fn snapshot(&self) -> Result<Snapshot, TmuxError> {
        self.here.snapshot()
    }
    fn create(&self, launch: &Launch) -> Result<Created, TmuxError> {
        self.here.create(launch)
    }
    fn respawn(&self, pane_id: &str, launch: &Launch) -> Result<(), TmuxError> {
        self.here.respawn(pane_id, launch)
    }
    fn kill(&self, target: &Target) -> Result<(), TmuxError> {
        self.here.kill(target)
    }
    fn capture(&self, panes: &[String], lines: u32) -> Result<HashMap<String, String>, TmuxError> {
        self.here.capture(panes, lines)
    }
    fn switch_client(&self, tty: Option<&str>, target: &Target) -> Result<(), TmuxError> {
        self.here.switch_client(tty, target)
    }
    fn reap_lost_exits(&self, server_pid: u32) -> Result<(), TmuxError> {
        self.here.reap_lost_exits(server_pid)
    }
    fn interrupt(&self, pane_id: &str) -> Result<(), TmuxError> {
        self.here.interrupt(pane_id)
    }
    fn set_wake_hooks(&self, panes: &[String]) -> Result<(), TmuxError> {
        self.here.set_wake_hooks(panes)
    }
    fn version(&self) -> Result<String, TmuxError> {
        self.here.version()
    }
    fn on_host(&self, host: &str) -> Option<&dyn Tmux> {
        (host == "gpu1").then_some(&self.gpu1 as &dyn Tmux)
    }
}

#[tokio::test]
async fn an_op_runs_on_its_hosts_server_with_that_servers_own_ids() {
    use crate::fake::Call;
    use crate::jobs::{Done, OpJob, OpKind};
    let two = TwoServers {
        here: crate::fake::FakeTmux::new(),
        gpu1: crate::fake::FakeTmux::new(),
    };
    let theirs = two.gpu1.add_session("gpu-0");
    let job = |name: &str, host: Option<&str>, kind| OpJob {
        name: name.into(),
        kind,
        manual: false,
        host: host.map(str::to_string),
    };
    let launch = |name: &str| Launch {
        name: name.into(),
        ..Launch::default()
    };
    let jobs = vec![
        job("gpu-1", Some("gpu1"), OpKind::Create(launch("gpu-1"))),
        job("ccl-1", None, OpKind::Create(launch("ccl-1"))),
        job(
            "gpu-0",
            Some("gpu1"),
            OpKind::Respawn {
                pane_id: mark(&theirs.pane_id, "gpu1"),
                launch: launch("gpu-0"),
            },
        ),
        job("far", Some("nowhere"), OpKind::Create(launch("far"))),
    ];
    let results = crate::runner::execute(&two, jobs);
    let names: Vec<&str> = results.iter().map(|r| r.job.name.as_str()).collect();
    assert_eq!(names, ["gpu-1", "ccl-1", "gpu-0", "far"]);
    // gpu1's ids come back marked; this machine's as they are.
    let Ok(Done::Created(p)) = &results[0].outcome else {
        panic!("{:?}", results[0].outcome)
    };
    assert!(
        p.pane_id.ends_with("@gpu1") && p.session_id.ends_with("@gpu1"),
        "{p:?}"
    );
    let Ok(Done::Created(p)) = &results[1].outcome else {
        panic!("{:?}", results[1].outcome)
    };
    assert!(!p.pane_id.contains('@'));
    assert!(matches!(results[2].outcome, Ok(Done::Respawned)));
    assert!(results[3].outcome.is_err());
    let ops =
        |t: &crate::fake::FakeTmux| -> Vec<Call> { t.ops().into_iter().map(|(_, c)| c).collect() };
    assert_eq!(
        ops(&two.gpu1),
        [
            Call::Create("gpu-1".into()),
            Call::Respawn(theirs.pane_id.clone())
        ]
    );
    assert_eq!(ops(&two.here), [Call::Create("ccl-1".into())]);
}

#[test]
fn another_hosts_reason_is_short_and_an_old_tmux_there_is_refused() {
    let failed = TmuxError::Failed {
        args: "list-panes -a -F TSUP…".into(),
        message: "bash: line 1: tmux: command not found".into(),
    };
    assert_eq!(
        reason(&failed),
        "tmux: bash: line 1: tmux: command not found"
    );
    let mut snap = Snapshot::default();
    assert_eq!(too_old(&snap), None);
    snap.panes.push(pane("gpu-0", 1));
    assert_eq!(too_old(&snap), None);
    snap.panes[0].server_version = "3.1c".into();
    assert_eq!(
        too_old(&snap).as_deref(),
        Some("tmux 3.1c there is too old: 3.2 or newer is needed")
    );
}
