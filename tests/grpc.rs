//! The gRPC probe against a real gRPC server (Python grpcio with the
//! standard health service, tests/grpc_health_server.py, installed by
//! .ci/install) switching NOT_SERVING → SERVING on a handshake, without a
//! health service, over TLS, and against fake peers.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use preflight::probe::ProbeError;
use preflight::target::parse;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::pki::Pki;
use crate::support::probe::{check, check_target, fatal, not_ready};
use crate::support::{TempDir, expect_exit, free_port, preflight};

fn have_grpcio() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_health.v1.health"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Python server, killed on drop.
struct GrpcServer {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl GrpcServer {
    fn start(mode: &str, tls: Option<(&std::path::Path, &std::path::Path)>) -> GrpcServer {
        GrpcServer::start_on(free_port(), mode, tls)
    }

    fn start_on(
        port: u16,
        mode: &str,
        tls: Option<(&std::path::Path, &std::path::Path)>,
    ) -> GrpcServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc_health_server.py");
        let mut cmd = Command::new("python3");
        cmd.args([script, &port.to_string(), mode]);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut s = GrpcServer {
            child,
            stdin,
            lines,
            port,
        };
        s.expect("listening");
        s
    }

    fn expect(&mut self, line: &str) {
        let got = self.lines.next().map(|l| l.unwrap());
        assert_eq!(got.as_deref(), Some(line), "the gRPC server said");
    }

    /// Switch every service to SERVING, and wait until it has.
    fn serve(&mut self) {
        writeln!(self.stdin, "serve").unwrap();
        self.expect("serving");
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn not_serving_is_waited_through_until_serving() {
    require!(
        have_grpcio(),
        "python3 grpcio / grpcio-health-checking not installed"
    );
    let mut server = GrpcServer::start("health", None);
    let url = format!("grpc://127.0.0.1:{}", server.port);
    let m = not_ready(check(&url).await);
    assert!(m == "NOT_SERVING", "{m}");
    let r = check(&format!("{url}/app.Orders")).await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    // A service the health service does not know: not yet, by name.
    let m = not_ready(check(&format!("{url}/app.Nope")).await);
    assert!(m.contains("app.Nope") && m.contains("NOT_FOUND"), "{m}");
    server.serve();
    check(&url).await.unwrap();
    check(&format!("{url}/app.Orders")).await.unwrap();
}

#[tokio::test]
async fn a_server_that_starts_late_is_noticed() {
    require!(
        have_grpcio(),
        "python3 grpcio / grpcio-health-checking not installed"
    );
    let port = free_port();
    let url = format!("grpc://127.0.0.1:{port}");
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
    // The server takes the port we probed.
    let mut server = GrpcServer::start_on(port, "health", None);
    server.serve();
    let began = Instant::now();
    while let Err(e) = check(&url).await {
        assert!(began.elapsed() < Duration::from_secs(20), "{e}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_server_without_a_health_service_ends_the_wait() {
    require!(
        have_grpcio(),
        "python3 grpcio / grpcio-health-checking not installed"
    );
    let server = GrpcServer::start("bare", None);
    let url = format!("grpc://127.0.0.1:{}", server.port);
    let stderr = expect_exit(1, preflight().args(["wait", &url, "--timeout", "30s"]));
    assert!(stderr.contains("UNIMPLEMENTED"), "{stderr}");
}

#[tokio::test]
async fn grpcs_with_a_certificate_from_the_ca_file() {
    require!(
        have_grpcio(),
        "python3 grpcio / grpcio-health-checking not installed"
    );
    let pki = Pki::new();
    let dir = TempDir::new();
    let (cert_file, key_file) = pki.issue(&["localhost"], false).write(&dir, "server");
    let mut server = GrpcServer::start("health", Some((&cert_file, &key_file)));
    server.serve();
    let mut target = parse(&format!("grpcs://localhost:{}", server.port)).unwrap();
    let e = fatal(check_target(&target).await);
    assert!(e.contains("PREFLIGHT_CA_FILE"), "{e}");
    target.ca_file = Some(pki.ca_file(&dir));
    check_target(&target).await.unwrap();
}

// ---- fake peers ----

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let huge = [0xff, 0xff, 0xff, 4, 0, 0, 0, 0, 0].to_vec();
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(huge),
        Peer::ReplyThenClose(vec![0, 0, 0, 4, 0, 0, 0, 0, 0]),
    ];
    fake::assert_protocol_errors("grpc", peers).await;
    // SETTINGS, then a HEADERS block that is not HPACK.
    let mut bad = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
    bad.extend_from_slice(&[0, 0, 1, 1, 4, 0, 0, 0, 1, 0xbe]);
    let r = fake::check("grpc", "", Peer::ReplyThenClose(bad)).await;
    assert!(
        matches!(&r, Err(ProbeError::Protocol(m)) if m.contains("HPACK")),
        "{r:?}"
    );
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("grpc").await;
    fake::assert_trickling_peer_leaves_the_try_pending(
        "grpc",
        &[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .await;
}
