//! A terminating signal while waiting ends the wait at once with 128+N, and
//! nothing is started.

use std::process::Stdio;
use std::time::Duration;

use crate::support::peers::ClosedPort;
use crate::support::{As, Run, TempDir, preflight};

#[test]
fn a_terminating_signal_while_waiting_exits_128_plus_n_and_starts_nothing() {
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
    ] {
        let closed = ClosedPort::new();
        let dir = TempDir::new();
        let marker = dir.join("started");
        let mut cmd = preflight();
        cmd.args(["--wait", &closed.url(), "--timeout", "60s", "--", "touch"])
            .arg(&marker);
        let mut waiter = Run::spawn(As::Plain, cmd);
        // Printed after preflight blocked its signals: from here on a signal
        // is taken, not fatal.
        waiter.expect("waiting for");
        let sent = std::time::Instant::now();
        waiter.signal(sig);
        let (status, _) = waiter.finish();
        assert_eq!(
            status.code(),
            Some(128 + sig),
            "{name}: {}",
            waiter.stderr()
        );
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "{name}: not at once"
        );
        assert!(!marker.exists(), "{name}: the command was started");
    }
}

#[test]
fn term_during_wait_before_or_wait_after_exits_143_and_starts_nothing() {
    for (var, targets) in [("WAIT_BEFORE", &[][..]), ("WAIT_AFTER", &["file:///"][..])] {
        let dir = TempDir::new();
        let marker = dir.join("started");
        let mut cmd = preflight();
        for t in targets {
            cmd.args(["--wait", t]);
        }
        cmd.args(["--", "touch"]).arg(&marker).env(var, "60");
        let mut run = Run::spawn(As::Plain, cmd);
        run.expect(&format!("sleeping 60.0s ({var})"));
        run.signal(libc::SIGTERM);
        let (status, _) = run.finish();
        assert_eq!(
            status.code(),
            Some(128 + libc::SIGTERM),
            "{var}: {}",
            run.stderr()
        );
        assert!(!marker.exists(), "{var}: the command was started");
    }
}

#[test]
fn a_broken_stderr_does_not_keep_the_wait_from_ending() {
    // preflight's log lines go to a pipe nobody reads any more: each one
    // raises SIGPIPE on preflight itself, which must neither be logged in
    // turn (for ever) nor hold up the deadline.
    let closed = ClosedPort::new();
    let mut child = preflight()
        .args(["-v", "wait", &closed.url(), "--timeout", "300ms"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let mut run = Run::from_child(As::Plain, child);
    assert_eq!(run.code(), 124);
}

#[test]
fn another_signal_while_waiting_is_dropped_and_the_wait_goes_on() {
    // USR1 is taken and dropped (nothing runs yet to forward it to): the
    // wait neither ends on it nor stops keeping its deadline.
    let closed = ClosedPort::new();
    let dir = TempDir::new();
    let marker = dir.join("started");
    let mut cmd = preflight();
    cmd.args([
        "-v",
        "--wait",
        &closed.url(),
        "--timeout",
        "1s",
        "--",
        "touch",
    ])
    .arg(&marker);
    let mut run = Run::spawn(As::Plain, cmd);
    run.expect("waiting for");
    run.signal(libc::SIGUSR1);
    let (status, took) = run.finish();
    assert_eq!(status.code(), Some(124), "{}", run.stderr());
    // Said at debug level: it came from someone else, not from preflight.
    assert!(
        run.stderr()
            .contains("signal while waiting: nothing to forward it to, dropped"),
        "{}",
        run.stderr()
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(!marker.exists(), "the command was started");
}
