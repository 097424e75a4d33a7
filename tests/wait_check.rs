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
