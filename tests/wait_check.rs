//! `preflight check`: one try at each target, at once: 0 if all are ready
//! now, 1 naming each one that is not.

use std::time::Duration;

use crate::support::peers::{BlackHole, ClosedPort};
use crate::support::{As, Bounded, Run, preflight};

#[test]
fn check_exits_0_when_all_are_ready_and_1_naming_those_that_are_not() {
    let (closed, mut open) = (ClosedPort::new(), ClosedPort::new());
    let _l = open.listen();

    let out = preflight().args(["check", &open.url()]).bounded_output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = preflight()
        .args(["check", &open.url(), &closed.url()])
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is not ready: connect: connection refused",
            closed.url()
        )),
        "{stderr}"
    );
}

#[test]
fn check_gives_each_target_one_try_bounded_by_the_try_timeout() {
    let hole = BlackHole::new();
    let mut cmd = preflight();
    cmd.args(["check", &hole.url(), "--try-timeout", "300ms"]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    let (status, took) = waiter.finish();
    assert_eq!(status.code(), Some(1), "{}", waiter.stderr());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(waiter.stderr().contains("deadline"), "{}", waiter.stderr());
}

#[test]
fn check_help_lists_no_waiting_options_and_check_warns_when_given_them() {
    let help = |args: &[&str]| {
        let out = preflight().args(args).bounded_output();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let check = help(&["check", "--help"]);
    assert!(check.contains("--try-timeout"), "{check}");
    assert!(!check.contains("--timeout"), "{check}");
    assert!(!check.contains("--on-timeout"), "{check}");
    for args in [&["wait", "--help"][..], &["--help"]] {
        let text = help(args);
        assert!(text.contains("--timeout <DURATION>"), "{args:?}: {text}");
        assert!(text.contains("--on-timeout"), "{args:?}: {text}");
    }

    // Given anyway (a HEALTHCHECK written before): the check still runs,
    // and one line says the option does nothing.
    let mut open = ClosedPort::new();
    let _l = open.listen();
    for args in [
        vec!["check", "--timeout", "5s", "--on-timeout", "continue"],
        vec!["--timeout", "5s", "check"],
    ] {
        let out = preflight().args(&args).arg(open.url()).bounded_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--timeout does nothing here (the try's deadline is --try-timeout)"),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            stderr.contains("--on-timeout does nothing"),
            args.contains(&"--on-timeout"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn wait_takes_its_timeout_after_the_subcommand_or_before_it() {
    let closed = ClosedPort::new();
    for args in [
        vec!["wait", "--timeout", "300ms"],
        vec!["--timeout", "300ms", "wait"],
        vec!["--timeout", "60s", "wait", "--timeout", "300ms"],
    ] {
        let out = preflight().args(&args).arg(closed.url()).bounded_output();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(124), "{args:?}: {stderr}");
        assert!(stderr.contains("(timeout 300ms)"), "{args:?}: {stderr}");
    }
    let out = preflight()
        .args(["wait", "--timeout", "300ms", "--on-timeout", "continue"])
        .arg(closed.url())
        .bounded_output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
