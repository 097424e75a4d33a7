//! Waiting ends at the deadline: exit 124 with a summary naming each target
//! that is not ready and why, or the command anyway with `--on-timeout
//! continue`. A try in flight cannot stretch the deadline.

use std::time::Duration;

use crate::support::peers::{BlackHole, ClosedPort};
use crate::support::{As, Bounded, Run, expect_exit, preflight};

#[test]
fn timing_out_exits_124_and_names_each_target_and_its_reason() {
    let (closed, mut open) = (ClosedPort::new(), ClosedPort::new());
    let _l = open.listen();
    let stderr = expect_exit(
        124,
        preflight()
            .args(["wait", &closed.url(), &open.url(), "name.invalid:80"])
            .args(["--timeout", "1s"]),
    );
    assert!(
        stderr.contains(&format!(
            "timed out waiting for {}: connect: connection refused",
            closed.url()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(&format!("timed out waiting for {}", open.url())));
    assert!(
        stderr.contains(&format!("{} is ready", open.url())),
        "{stderr}"
    );
}

#[test]
fn an_unresolvable_name_is_not_yet_and_reported_as_such() {
    let out = preflight()
        .args(["wait", "tcp://name.invalid:80", "--timeout", "1s"])
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(124),
        "retried until the timeout: {stderr}"
    );
    let summary = stderr
        .lines()
        .find(|l| l.contains("timed out waiting for tcp://name.invalid:80"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(summary.contains("does not resolve"), "{summary}");
    assert!(!summary.contains("refused"), "{summary}");
}

#[test]
fn on_timeout_continue_runs_the_command_anyway() {
    let closed = ClosedPort::new();
    let out = preflight()
        .args(["--wait", &closed.url(), "--timeout", "300ms"])
        .args(["--on-timeout", "continue", "--", "echo", "ran"])
        .bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    assert!(stderr.contains("timed out waiting for"), "{stderr}");
}

#[test]
fn without_continue_the_command_does_not_run() {
    let closed = ClosedPort::new();
    let out = preflight()
        .args(["--wait", &closed.url(), "--timeout", "300ms"])
        .args(["--", "echo", "ran"])
        .bounded_output();
    assert_eq!(out.status.code(), Some(124));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_per_target_timeout_overrides_the_global_one() {
    let closed = ClosedPort::new();
    let mut cmd = preflight();
    cmd.args(["wait", &format!("{}#timeout=300ms", closed.url())])
        .args(["--timeout", "60s"]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    let (status, took) = waiter.finish();
    assert_eq!(status.code(), Some(124), "{}", waiter.stderr());
    assert!(
        took < Duration::from_secs(30),
        "ran {took:?}: the 60s timeout won"
    );
}

#[test]
fn the_timeout_cuts_a_try_in_flight() {
    // A connect to a full accept queue hangs; the try's own deadline is
    // 60 s, the wait's 1 s: the wait must end at 1 s.
    let hole = BlackHole::new();
    let mut cmd = preflight();
    cmd.args([
        "wait",
        &hole.url(),
        "--timeout",
        "1s",
        "--try-timeout",
        "60s",
    ]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    let (status, took) = waiter.finish();
    assert_eq!(status.code(), Some(124), "{}", waiter.stderr());
    assert!(took < Duration::from_secs(15), "ran {took:?}");
    assert!(
        waiter.stderr().contains("no answer before the timeout"),
        "{}",
        waiter.stderr()
    );
}

#[test]
fn a_try_that_hangs_ends_at_the_try_timeout_and_is_tried_again() {
    let hole = BlackHole::new();
    let mut cmd = preflight();
    cmd.args([
        "-v",
        "wait",
        &hole.url(),
        "--timeout",
        "2s",
        "--try-timeout",
        "300ms",
    ]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    let line = waiter.expect("try 2: no answer within 300ms");
    assert!(line.contains(&hole.url()), "{line}");
    let (status, _) = waiter.finish();
    assert_eq!(status.code(), Some(124));
    assert!(
        waiter.stderr().contains(&format!(
            "timed out waiting for {}: no answer within 300ms",
            hole.url()
        )),
        "{}",
        waiter.stderr()
    );
}
