//! `#down`: waiting until a target is *not* ready (a port released, a file
//! removed), through the probe and through the binary.

use std::time::Duration;

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::time::timeout;

use crate::support::{TempDir, preflight};

async fn check(url: &str) -> Result<(), ProbeError> {
    let probe = Probe::new(&parse(url).unwrap_or_else(|e| panic!("{url}: {e}")));
    timeout(Duration::from_secs(10), probe.check())
        .await
        .unwrap_or_else(|_| panic!("{url}: the probe hung"))
}

#[tokio::test]
async fn a_port_is_down_once_released() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}#down", listener.local_addr().unwrap());
    let r = check(&url).await;
    assert!(
        matches!(&r, Err(ProbeError::NotReady(m)) if m.contains("still up")),
        "{r:?}"
    );
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
    let out = preflight()
        .args(["check", "tcp://h:1#down=maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'maybe'"));
}
