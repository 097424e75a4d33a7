//! The probes that send nothing: tcp (connect), unix (connect), file (stat).
//! Fake peers bind port 0 or a fresh path; nothing leaves 127.0.0.1.

use preflight::probe::ProbeError;
use preflight::probe::file::File;
use preflight::probe::tcp::Tcp;
use preflight::probe::unix::Unix;
use preflight::target;

use crate::support::{TempDir, expect_exit, preflight};

fn tcp(s: &str) -> Tcp {
    Tcp::new(&target::parse(s).unwrap())
}

#[tokio::test]
async fn tcp_is_ready_when_the_port_accepts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tcp(&format!("tcp://{addr}")).check().await.unwrap();
    // The probe connected for real: the listener has it in its backlog.
    listener.accept().await.unwrap();
}

/// IPv6 as users write it: the address in brackets, through the binary.
#[test]
fn tcp_over_ipv6_is_ready_when_the_port_accepts_and_not_when_refused() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        return crate::support::skip("no IPv6 loopback here");
    };
    let port = listener.local_addr().unwrap().port();
    let url = format!("tcp://[::1]:{port}");
    let stderr = expect_exit(0, preflight().args(["check", &url]));
    assert!(stderr.contains(&format!("{url} is ready")), "{stderr}");
    drop(listener);
    let stderr = expect_exit(1, preflight().args(["check", &url]));
    assert!(stderr.contains("connection refused"), "{stderr}");
}

#[tokio::test]
async fn tcp_refused_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = tcp(&format!("tcp://127.0.0.1:{port}"))
        .check()
        .await
        .unwrap_err();
    assert!(matches!(err, ProbeError::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), "connect: connection refused");
}

#[tokio::test]
async fn tcp_name_that_does_not_resolve_is_not_yet_not_refused() {
    // .invalid never resolves (RFC 2606); the resolver answers locally.
    let err = tcp("tcp://no-such-host.invalid:80")
        .check()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProbeError::NameNotResolved { ref host, .. } if host == "no-such-host.invalid"),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("does not resolve"), "{err}");
}

#[tokio::test]
async fn unix_is_ready_when_the_socket_accepts() {
    let dir = TempDir::new();
    let path = dir.join("app.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let probe = Unix::new(&target::parse(&format!("unix://{}", path.display())).unwrap());
    probe.check().await.unwrap();
    listener.accept().await.unwrap();
}

#[tokio::test]
async fn unix_missing_socket_is_not_yet_naming_the_path() {
    let dir = TempDir::new();
    let path = dir.join("missing.sock");
    let probe = Unix::new(&target::parse(&format!("unix://{}", path.display())).unwrap());
    let err = probe.check().await.unwrap_err();
    assert!(matches!(err, ProbeError::NotReady(_)), "{err:?}");
    assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
}

#[tokio::test]
async fn unix_socket_left_behind_by_a_dead_server_is_refused() {
    let dir = TempDir::new();
    let path = dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let probe = Unix::new(&target::parse(&format!("unix://{}", path.display())).unwrap());
    let err = probe.check().await.unwrap_err();
    assert!(matches!(err, ProbeError::Connect(_)), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn file_is_ready_once_it_exists() {
    let dir = TempDir::new();
    let path = dir.join("ready");
    let probe = File::new(&target::parse(&format!("file://{}", path.display())).unwrap());
    let err = probe.check().await.unwrap_err();
    assert!(matches!(err, ProbeError::NotReady(_)), "{err:?}");
    assert!(err.to_string().contains("no such file"), "{err}");
    assert!(err.is_retryable());

    std::fs::write(&path, b"").unwrap();
    probe.check().await.unwrap();
}
