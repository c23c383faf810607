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
