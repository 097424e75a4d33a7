//! The AMQP probe against the machine's RabbitMQ (127.0.0.1:5672,
//! guest/guest), a RabbitMQ node of the test's own (its own node name,
//! ports, directories and cookie; slow to boot, so one test), and fake peers.

use std::process::Command;
use std::time::{Duration, Instant};

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::time::timeout;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::pki::Pki;
use crate::support::probe::{check, check_with_ca, fatal};
use crate::support::server::Server;
use crate::support::{TempDir, free_port, listening};

const SHARED: &str = "127.0.0.1:5672";

#[tokio::test]
async fn ready_answers_connection_start() {
    require!(listening(SHARED), "no RabbitMQ on {SHARED}");
    check(&format!("amqp://{SHARED}")).await.unwrap();
    check(SHARED).await.unwrap();
}

#[tokio::test]
async fn with_credentials_it_opens_the_vhost() {
    require!(listening(SHARED), "no RabbitMQ on {SHARED}");
    check(&format!("amqp://guest:guest@{SHARED}"))
        .await
        .unwrap();
    check(&format!("amqp://guest:guest@{SHARED}/%2f"))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_password_is_fatal() {
    require!(listening(SHARED), "no RabbitMQ on {SHARED}");
    let e = fatal(check(&format!("amqp://guest:wrong@{SHARED}")).await);
    assert!(e.contains("403"), "{e}");
}

#[tokio::test]
async fn a_missing_vhost_is_not_ready() {
    require!(listening(SHARED), "no RabbitMQ on {SHARED}");
    match check(&format!(
        "amqp://guest:guest@{SHARED}/preflight-no-such-vhost"
    ))
    .await
    {
        Err(ProbeError::NotReady(m)) => assert!(m.contains("530"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A RabbitMQ node of the test's own on the shared fixture, sharing nothing
/// with the machine's node but epmd.
struct RabbitMq {
    server: Server,
}

impl RabbitMq {
    const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    fn start() -> RabbitMq {
        let mut server = Server::new("rabbitmq-server");
        let (port, dist) = (server.port, free_port());
        let dir = server.dir.to_path_buf();
        std::fs::write(dir.join("enabled_plugins"), "[].").unwrap();
        std::fs::write(dir.join("env.conf"), "").unwrap();
        let d = |name: &str| dir.join(name);
        let mut cmd = Command::new(Self::SERVER);
        cmd.current_dir(&dir)
            .env("HOME", &dir)
            .env("RABBITMQ_CONF_ENV_FILE", d("env.conf"))
            .env("RABBITMQ_NODENAME", format!("preflight{port}@localhost"))
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", d("mnesia"))
            .env("RABBITMQ_LOG_BASE", d("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d("rabbitmq"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d("advanced.config"))
            .env("RABBITMQ_PID_FILE", d("pid"));
        server.spawn(cmd);
        RabbitMq { server }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    /// Signal the whole node (the BEAM may outlive the script that started
    /// it) and wait for it to be gone.
    fn stop(&mut self, signal: i32) {
        self.server.stop(signal);
    }
}

/// The broker is refused while it boots, then answers at once; stopped, it
/// is refused again.
#[tokio::test]
async fn a_broker_started_then_stopped_mid_wait() {
    require!(
        std::path::Path::new(RabbitMq::SERVER).exists(),
        "rabbitmq-server not installed"
    );
    let mut node = RabbitMq::start();
    let url = format!("amqp://guest:guest@127.0.0.1:{}", node.port());
    let mut seen = Vec::new();
    let started = Instant::now();
    loop {
        let r = check(&url).await;
        let ok = r.is_ok();
        seen.push(r.map_err(|e| e.to_string()));
        if ok {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "never ready: {:?}\n{}",
            seen.last(),
            node.server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen[0].as_ref().is_err_and(|e| e.contains("refused")),
        "{:?}",
        seen[0]
    );
    eprintln!(
        "rabbitmq ready after {:?}, {} tries",
        started.elapsed(),
        seen.len()
    );
    node.stop(libc::SIGTERM);
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
}

// ---- fake peers ----

/// A frame: type, channel, size, payload, 0xCE.
fn frame(kind: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&channel.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(0xce);
    f
}

/// A minimal Connection.Start.
fn start_frame() -> Vec<u8> {
    let mut p = vec![0, 10, 0, 10, 0, 9];
    p.extend_from_slice(&0u32.to_be_bytes()); // empty server-properties
    p.extend_from_slice(&5u32.to_be_bytes());
    p.extend_from_slice(b"PLAIN");
    p.extend_from_slice(&5u32.to_be_bytes());
    p.extend_from_slice(b"en_US");
    frame(1, 0, &p)
}

async fn fake_check(peer: Peer, creds: bool) -> Result<(), ProbeError> {
    fake::check("amqp", if creds { "u:p@" } else { "" }, peer).await
}

#[tokio::test]
async fn a_fake_connection_start_is_ready() {
    fake_check(Peer::ReplyThenClose(start_frame()), false)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_silent_peer_leaves_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("amqp").await;
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let mut bad_end = start_frame();
    *bad_end.last_mut().unwrap() = 0;
    let mut huge = vec![1, 0, 0];
    huge.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let tune_first = frame(1, 0, &[0, 10, 0, 30, 0, 0, 0, 0, 0x10, 0, 0, 0]);
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(b"AMQP\x00\x01\x00\x00".to_vec()),
        Peer::ReplyThenClose(bad_end),
        Peer::Send(huge),
        Peer::ReplyThenClose(tune_first),
        Peer::ReplyThenClose(frame(3, 0, b"body")),
        Peer::ReplyThenClose(start_frame()[..9].to_vec()),
    ];
    fake::assert_protocol_errors("amqp", peers).await;
    // With credentials: Connection.Start, then gone before Tune.
    let r = fake_check(Peer::ReplyThenClose(start_frame()), true).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

#[tokio::test]
async fn a_version_mismatch_names_the_offered_version() {
    match fake_check(
        Peer::ReplyThenClose(b"AMQP\x00\x01\x00\x00".to_vec()),
        false,
    )
    .await
    {
        Err(ProbeError::Protocol(m)) => assert!(m.contains("0-1-0-0"), "{m}"),
        other => panic!("{other:?}"),
    }
}

// ---- amqps:// against a TLS-wrapped fake broker ----

#[tokio::test]
async fn amqps_verifies_the_broker_certificate() {
    let pki = Pki::new();
    let wrong = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let wrong_ca = wrong.ca_file_in(dir.path(), "wrong.pem");
    let (addr, _) = fake::start_tls(
        pki.server(&["localhost"], false),
        Peer::ReplyThenClose(start_frame()),
    )
    .await;
    let port = addr.port();
    // Positive controls: PREFLIGHT_CA_FILE, ?cacertfile=, ?verify=verify_none.
    check_with_ca(&format!("amqps://localhost:{port}"), Some(&ca))
        .await
        .unwrap();
    check_with_ca(
        &format!("amqps://localhost:{port}?cacertfile={}", ca.display()),
        None,
    )
    .await
    .unwrap();
    check_with_ca(
        &format!("amqps://127.0.0.1:{port}?verify=verify_none"),
        None,
    )
    .await
    .unwrap();
    let e = fatal(check_with_ca(&format!("amqps://localhost:{port}"), None).await);
    assert!(e.contains("unknown issuer"), "{e}");
    let e = fatal(check_with_ca(&format!("amqps://localhost:{port}"), Some(&wrong_ca)).await);
    assert!(e.contains("unknown issuer"), "{e}");
    let e = fatal(check_with_ca(&format!("amqps://127.0.0.1:{port}"), Some(&ca)).await);
    assert!(e.contains("name mismatch"), "{e}");
    // The default port of amqps:// is 5671.
    assert_eq!(parse("amqps://mq").unwrap().port, 5671);
}

#[tokio::test]
async fn amqps_sends_the_password_only_inside_tls() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    // Over TLS the password reaches the broker exactly (PLAIN: \0user\0pass).
    let (tls_addr, over_tls) = fake::start_tls(
        pki.server(&["localhost"], false),
        Peer::ReplyThenListen(start_frame()),
    )
    .await;
    let url = format!("amqps://app:p%40ss%20w@localhost:{}/", tls_addr.port());
    let mut t = parse(&url).unwrap();
    t.ca_file = Some(ca);
    let _ = timeout(Duration::from_secs(1), Probe::new(&t).check()).await;
    assert!(
        over_tls.contains(b"\0app\0p@ss w"),
        "{:?}",
        over_tls.bytes()
    );
    // A broker without TLS never sees it.
    let (plain_addr, plain) = fake::start_recorded(Peer::ReplyThenListen(start_frame())).await;
    let r = check_with_ca(
        &format!("amqps://app:p%40ss%20w@{plain_addr}/?verify=verify_none"),
        None,
    )
    .await;
    assert!(r.is_err(), "{r:?}");
    assert!(!plain.contains(b"p@ss w"));
    assert!(!plain.bytes().is_empty(), "the fake saw nothing at all");
}
