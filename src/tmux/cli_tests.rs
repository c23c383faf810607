//! Tests of the tmux client: versions, base arguments, ssh's failures in words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn versions() {
    assert_eq!(parse_version("tmux 3.3a"), Some((3, 3)));
    assert_eq!(parse_version("tmux 3.2"), Some((3, 2)));
    assert_eq!(parse_version("tmux 3.1c\n"), Some((3, 1)));
    assert_eq!(parse_version("tmux next-3.4"), Some((3, 4)));
    assert_eq!(parse_version("tmux 3.5-rc2"), Some((3, 5)));
    assert_eq!(parse_version("tmux master"), Some((u32::MAX, 0)));
    assert_eq!(parse_version("tmux"), None);
    assert_eq!(parse_version("screen 4.0"), None);
    // As `#{version}` prints it, without the program's name.
    assert_eq!(check_version_text("3.3a").unwrap(), "3.3a");
    assert_eq!(check_version_text("tmux 3.4\n").unwrap(), "3.4");
    assert_eq!(check_version_text("next-3.6").unwrap(), "next-3.6");
    assert!(matches!(
        check_version_text("3.1c"),
        Err(TmuxError::TooOld { found }) if found == "3.1c"
    ));
    assert!(matches!(
        check_version_text("x"),
        Err(TmuxError::BadOutput(_))
    ));
}

#[test]
fn ssh_says_why_in_its_last_line() {
    assert_eq!(
        ssh_failure(
            "Warning: Permanently added '[h]:22'\nssh: connect to host h port 22: Connection refused\n"
        ),
        "connect to host h port 22: Connection refused"
    );
    assert_eq!(ssh_failure("\n"), "ssh failed without a message");
    assert_eq!(
        ssh_failure("root@h: Permission denied (publickey)."),
        "root@h: Permission denied (publickey)."
    );
}

#[test]
fn base_args() {
    let cli = TmuxCli::new(Endpoint {
        socket_name: Some("s".into()),
        socket_path: None,
    })
    .with_config_file("/dev/null");
    assert_eq!(cli.base_args(), ["-u", "-L", "s", "-f", "/dev/null"]);
    let cli = TmuxCli::new(Endpoint {
        socket_name: Some("s".into()),
        socket_path: Some("/tmp/x".into()),
    });
    assert_eq!(cli.base_args(), ["-u", "-S", "/tmp/x"]);
    assert_eq!(TmuxCli::new(Endpoint::default()).base_args(), ["-u"]);
}
