//! A terminating signal while waiting ends the wait at once with 128+N, and
//! nothing is started.

use std::time::Duration;

use crate::support::preflight;
use crate::wait_peers::{ClosedPort, Running};

#[test]
fn a_terminating_signal_while_waiting_exits_128_plus_n_and_starts_nothing() {
    for (sig, name) in [
        (libc::SIGTERM, "TERM"),
        (libc::SIGINT, "INT"),
        (libc::SIGHUP, "HUP"),
    ] {
        let closed = ClosedPort::new();
        let marker = std::env::temp_dir().join(format!(
            "preflight-wait-signal-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&marker);
        let mut cmd = preflight();
        cmd.args(["--wait", &closed.url(), "--timeout", "60s", "--", "touch"])
            .arg(&marker);
        let mut waiter = Running::spawn(cmd);
        // Printed after preflight blocked its signals: from here on a signal
        // is taken, not fatal.
        waiter.expect("waiting for");
        let sent = std::time::Instant::now();
        nix_kill(waiter.child.id(), sig);
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

#[allow(unsafe_code)]
fn nix_kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory effects; pid is our own live child.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0);
}
