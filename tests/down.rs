//! `#down`: waiting until a target is *not* ready (a port released, a file
//! removed), through the probe and through the binary.

use crate::support::probe::{check, not_ready};
use crate::support::{TempDir, expect_one_line, preflight};

#[tokio::test]
async fn a_port_is_down_once_released() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}#down", listener.local_addr().unwrap());
    let m = not_ready(check(&url).await);
    assert!(m.contains("still up"), "{m}");
    drop(listener);
    check(&url).await.unwrap();
    // `down=false` is the plain probe.
    assert!(check(&url.replace("#down", "#down=false")).await.is_err());
}

#[test]
fn wait_ends_when_the_file_is_removed() {
    let dir = TempDir::new();
    let lock = dir.join("app.lock");
    std::fs::write(&lock, "").unwrap();
    let target = format!("file://{}#down", lock.display());
    let mut child = preflight()
        .args(["wait", &target, "--timeout", "30s"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Still there: the wait goes on (a check says not ready).
    let out = preflight().args(["check", &target]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("still up"));
    std::fs::remove_file(&lock).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn down_takes_no_other_value() {
    let stderr = expect_one_line(2, preflight().args(["check", "tcp://h:1#down=maybe"]));
    assert!(stderr.contains("'maybe'"), "{stderr}");
}
