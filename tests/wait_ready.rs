//! Waiting ends once every target is ready, and not before: the command
//! starts after the last one.

use crate::support::peers::ClosedPort;
use crate::support::{As, Run, TempDir, expect_exit_output, preflight};

#[test]
fn wait_succeeds_once_a_listener_appears() {
    let mut port = ClosedPort::new();
    let mut cmd = preflight();
    cmd.args(["-v", "wait", &port.url(), "--timeout", "30s"]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    waiter.expect("try 2: connect: connection refused");
    assert!(waiter.running(), "not ready while refused");

    let _listener = port.listen();
    let ready = waiter.expect("is ready after");
    assert!(
        ready.contains(&port.url()) && ready.contains("tries"),
        "{ready}"
    );
    let (status, _) = waiter.finish();
    assert_eq!(status.code(), Some(0), "{}", waiter.stderr());
}

#[test]
fn the_command_starts_only_after_every_target_is_ready() {
    let dir = TempDir::new();
    let marker = dir.join("started");
    let (mut a, mut b) = (ClosedPort::new(), ClosedPort::new());
    let mut cmd = preflight();
    cmd.args(["-v", "--wait", &a.url(), &b.url(), "--"]).args([
        "sh",
        "-c",
        &format!("echo started > {}", marker.display()),
    ]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    waiter.expect(&format!("{}: try 2", a.url()));
    waiter.expect(&format!("{}: try 2", b.url()));

    let _la = a.listen();
    waiter.expect(&format!("{} is ready", a.url()));
    // b is still refused: nothing may start. A few more tries of b prove
    // the wait went on after a was ready.
    waiter.expect(&format!("{}: try 6", b.url()));
    assert!(waiter.running());
    assert!(
        !marker.exists(),
        "the command started before every target was ready"
    );

    let _lb = b.listen();
    let (status, _) = waiter.finish();
    assert_eq!(status.code(), Some(0), "{}", waiter.stderr());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "started\n");
}

#[test]
fn targets_that_are_up_pass_at_once_with_one_try_each() {
    let (mut a, mut b) = (ClosedPort::new(), ClosedPort::new());
    let (_la, _lb) = (a.listen(), b.listen());
    let (out, stderr) = expect_exit_output(0, preflight().args(["wait", &a.url(), &b.url()]));
    assert_eq!(stderr.matches("(1 try)").count(), 2, "{stderr}");
    assert!(out.stdout.is_empty(), "stdout belongs to the child");
}

#[test]
fn a_still_waiting_line_comes_every_few_seconds_not_every_try() {
    let port = ClosedPort::new();
    let mut cmd = preflight();
    cmd.args(["wait", &port.url(), "--timeout", "6s"]);
    let mut waiter = Run::spawn(As::Plain, cmd);
    let line = waiter.expect("still waiting for");
    assert!(
        line.contains(&port.url()) && line.contains("connection refused"),
        "{line}"
    );
    let (status, _) = waiter.finish();
    assert_eq!(status.code(), Some(124));
    let stderr = waiter.stderr();
    // About 60 tries in 6 s, yet at info: one announcement, one progress
    // line, one summary.
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
}
