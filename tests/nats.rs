//! The NATS probe against the machine's NATS (127.0.0.1:4222), nats-server
//! instances of the test's own (user/password and token auth), and fake
//! peers.

use std::time::Duration;

use preflight::probe::ProbeError;
use preflight::target::parse;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::instance::Instance;
use crate::support::probe::{self, check, fatal, not_ready};
use crate::support::{expect_exit, have_program, listening, preflight};

const SHARED: &str = "127.0.0.1:4222";

/// A nats-server of the test's own, with `auth` arguments.
fn nats(auth: &[&str]) -> Instance {
    let auth: Vec<String> = auth.iter().map(|s| s.to_string()).collect();
    Instance::new("nats-server", move |port, _| {
        let mut args: Vec<String> = ["-a", "127.0.0.1", "-p", &port.to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(auth);
        args
    })
}

fn started(auth: &[&str]) -> Instance {
    nats(auth).up()
}

#[tokio::test]
async fn the_shared_server_answers_pong() {
    require!(listening(SHARED), "no NATS on {SHARED}");
    check(&format!("nats://{SHARED}")).await.unwrap();
    // A bare host:port on 4222 is NATS: a fake there would fail it.
    assert_eq!(probe::kind(SHARED), "Nats");
    check(SHARED).await.unwrap();
}

#[tokio::test]
async fn user_and_password_right_wrong_and_absent() {
    require!(have_program("nats-server"), "nats-server not installed");
    let n = started(&["--user", "app", "--pass", "s3cret"]);
    let a = n.addr();
    check(&format!("nats://app:s3cret@{a}")).await.unwrap();
    let shown = fatal(check(&format!("nats://app:hunter2@{a}")).await);
    assert!(shown.contains("Authorization Violation"), "{shown}");
    assert!(!shown.contains("hunter2"), "the password leaked: {shown}");
    // Without credentials the INFO says auth_required: up.
    check(&format!("nats://{a}")).await.unwrap();
}

#[tokio::test]
async fn a_token_right_and_wrong() {
    require!(have_program("nats-server"), "nats-server not installed");
    let n = started(&["--auth", "t0ken"]);
    let a = n.addr();
    check(&format!("nats://t0ken@{a}")).await.unwrap();
    let r = check(&format!("nats://wrong@{a}")).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    assert_eq!(
        parse(&format!("nats://t0ken@{a}")).unwrap().redacted(),
        format!("nats://***@{a}")
    );
}

#[tokio::test]
async fn a_server_started_after_probing_began_is_noticed() {
    require!(have_program("nats-server"), "nats-server not installed");
    let mut n = nats(&[]);
    let url = format!("nats://{}", n.addr());
    probe::noticed_once_started(&url, Duration::from_secs(20), || n.spawn_once()).await;
}

/// Through the binary: a wrong password ends the wait at once (exit 1) with
/// the server's reason, and the password appears nowhere.
#[test]
fn wrong_credentials_end_the_wait_with_the_reason_and_no_secret() {
    require!(have_program("nats-server"), "nats-server not installed");
    let n = started(&["--user", "app", "--pass", "s3cret"]);
    let url = format!("nats://app:hunter2@{}", n.addr());
    let stderr = expect_exit(1, preflight().args(["wait", &url, "--timeout", "30s"]));
    assert!(stderr.contains("Authorization Violation"), "{stderr}");
    assert!(stderr.contains("app:***@"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// ---- fake peers ----

#[tokio::test]
async fn not_yet_states_are_retried_and_auth_errors_are_fatal() {
    let info = b"INFO {\"server_id\":\"x\",\"auth_required\":true}\r\n";
    let with = |tail: &[u8]| {
        let mut v = info.to_vec();
        v.extend_from_slice(tail);
        v
    };
    let peer = Peer::Send(with(b"-ERR 'maximum connections exceeded'\r\n"));
    let m = not_ready(fake::check("nats", "u:p@", peer).await);
    assert!(m.contains("maximum connections"), "{m}");
    let peer = Peer::Send(with(b"-ERR 'Authorization Violation'\r\n"));
    let r = fake::check("nats", "u:p@", peer).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    // A PING of the server's is answered, +OK skipped, then PONG.
    let peer = Peer::Send(with(b"+OK\r\nPING\r\nPONG\r\n"));
    fake::check("nats", "u:p@", peer).await.unwrap();
    let peer = Peer::Send(b"INFO {\"tls_required\":true}\r\n".to_vec());
    let r = fake::check("nats", "", peer).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let peers = [
        Peer::CloseAtOnce,
        Peer::SendThenClose(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
        Peer::SendThenClose(b"INFO {not json\r\n".to_vec()),
        Peer::SendThenClose(b"INFO {}\r\nWHAT\r\n".to_vec()),
        Peer::Send(vec![b'I'; 200_000]),
        Peer::SendThenClose(b"INFO {}\r\n".to_vec()),
    ];
    fake::assert_protocol_errors("nats", peers).await;
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("nats").await;
    fake::assert_trickling_peer_leaves_the_try_pending("nats", b"INFO {\"a\":1}\r\n").await;
}
