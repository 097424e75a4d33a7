//! The http(s) probe against fake servers on 127.0.0.1:0: which statuses
//! count as ready, peers that misbehave, and TLS certificates (made here with
//! tests/support/pki.rs; trusted, self-signed, wrong name, expired).

use std::sync::Arc;
use std::time::Duration;

use preflight::probe::ProbeError;
use preflight::probe::http::Http;
use preflight::target;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::support::TempDir;
use crate::support::fake::{self, Peer};
use crate::support::pki::{Pki, self_signed_server};

/// Long enough for anything on 127.0.0.1; a probe that needs more hangs.
const PATIENCE: Duration = Duration::from_secs(10);

fn probe(target: &str) -> Http {
    https_probe(target, None)
}

/// Read a request head (through the empty line) from `s`.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A server that answers one request with `response` and closes; the
/// receiver gets the request head it saw.
async fn answer_once(response: &'static [u8]) -> (u16, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let request = read_request(&mut s).await;
        let _ = s.write_all(response).await;
        let _ = tx.send(request);
    });
    (port, rx)
}

async fn check(http: &Http) -> Result<(), ProbeError> {
    timeout(PATIENCE, http.check())
        .await
        .expect("the probe decides without waiting for a deadline")
}

/// The error of one try at `url`, trusting `ca`; a try that succeeds fails
/// the test.
async fn error_at(url: &str, ca: Option<&std::path::Path>) -> ProbeError {
    check(&https_probe(url, ca)).await.unwrap_err()
}

#[tokio::test]
async fn http_2xx_is_ready_and_the_request_is_one_plain_get() {
    let (port, request) = answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    check(&probe(&format!("http://127.0.0.1:{port}/health?deep=1")))
        .await
        .unwrap();
    let request = request.await.unwrap();
    assert!(
        request.starts_with(&format!(
            "GET /health?deep=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        )),
        "{request}"
    );
    assert!(request.contains("\r\nUser-Agent: preflight/"), "{request}");
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
}

#[tokio::test]
async fn http_503_is_not_ready_with_the_status_in_the_reason() {
    let (port, _) = answer_once(b"HTTP/1.1 503 Service Unavailable\r\n\r\n").await;
    let err = error_at(&format!("http://127.0.0.1:{port}/"), None).await;
    assert!(matches!(err, ProbeError::NotReady(_)), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), "not ready: HTTP 503 Service Unavailable");
}

#[tokio::test]
async fn http_status_option_asks_for_exactly_that_status() {
    let (port, _) = answer_once(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    check(&probe(&format!("http://127.0.0.1:{port}/#status=204")))
        .await
        .unwrap();

    let (port, _) = answer_once(b"HTTP/1.1 200 OK\r\n\r\n").await;
    let err = error_at(&format!("http://127.0.0.1:{port}/#status=204"), None).await;
    assert!(
        err.to_string().contains("HTTP 200 OK, expected 204"),
        "{err}"
    );
}

#[tokio::test]
async fn http_redirect_is_not_followed_and_not_ready_unless_asked_for() {
    let response = b"HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n";
    let (port, _) = answer_once(response).await;
    let err = error_at(&format!("http://127.0.0.1:{port}/"), None).await;
    assert!(matches!(err, ProbeError::NotReady(_)), "{err:?}");
    let err = err.to_string();
    assert!(
        err.contains("302 Found") && err.contains("to /login"),
        "{err}"
    );
    assert!(
        err.contains("not followed") && err.contains("#status=302"),
        "{err}"
    );

    let (port, _) = answer_once(response).await;
    check(&probe(&format!("http://127.0.0.1:{port}/#status=302")))
        .await
        .unwrap();
}

#[tokio::test]
async fn http_interim_1xx_responses_are_skipped() {
    let (port, _) = answer_once(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    )
    .await;
    check(&probe(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap();
}

#[tokio::test]
async fn http_peer_that_accepts_and_closes_at_once_is_a_protocol_error() {
    // docker-proxy publishing a port whose container is not up yet.
    let addr = fake::start(Peer::CloseAtOnce).await;
    for _ in 0..2 {
        let err = error_at(&format!("http://{addr}/"), None).await;
        assert!(matches!(err, ProbeError::Protocol(_)), "{err:?}");
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains("closed before any response"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn http_garbage_is_a_protocol_error_at_once() {
    // An SSH server, say: it speaks first and waits; the probe must not wait
    // for it to close.
    let addr = fake::start(Peer::Send(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec())).await;
    let err = error_at(&format!("http://{addr}/"), None).await;
    assert!(matches!(err, ProbeError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("not an HTTP response"), "{err}");
    assert!(err.to_string().contains("SSH-2.0"), "{err}");
}

#[tokio::test]
async fn http_endless_headers_stop_at_the_cap() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_request(&mut s).await;
        let mut sent = 0usize;
        if s.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
            return sent;
        }
        let header = format!("X-Filler: {}\r\n", "a".repeat(1000));
        // Bounded: 64 MiB, far past the cap, if the probe never stopped.
        while sent < 64 << 20 {
            if s.write_all(header.as_bytes()).await.is_err() {
                break;
            }
            sent += header.len();
        }
        sent
    });
    let err = error_at(&format!("http://127.0.0.1:{port}/"), None).await;
    assert!(matches!(err, ProbeError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("headers longer than"), "{err}");
    let sent = timeout(PATIENCE, sent).await.unwrap().unwrap();
    assert!(sent < 16 << 20, "the server could write {sent} bytes");
}

#[tokio::test]
async fn http_silent_peer_leaves_the_try_pending_until_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        read_request(&mut s).await;
        // Say nothing; report when the probe hangs up.
        let mut byte = [0];
        let _ = s.read(&mut byte).await;
        let _ = closed_tx.send(());
    });
    let http = probe(&format!("http://127.0.0.1:{port}/"));
    let outcome = timeout(Duration::from_millis(300), http.check()).await;
    assert!(outcome.is_err(), "expected a pending try, got {outcome:?}");
    // Dropping the try closed its connection.
    timeout(PATIENCE, closed_rx).await.unwrap().unwrap();
}

// ---- https ----

/// An https server on 127.0.0.1 that answers one request with `response`.
async fn https_once(config: ServerConfig, response: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // A client that rejects the certificate ends the handshake here.
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            read_request(&mut tls).await;
            let _ = write_and_close(&mut tls, response).await;
        }
    });
    port
}

async fn write_and_close<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.shutdown().await
}

fn https_probe(target: &str, ca: Option<&std::path::Path>) -> Http {
    Http::with_ca_file(&target::parse(target).unwrap(), ca)
}

#[tokio::test]
async fn https_is_ready_with_a_certificate_from_the_ca_file() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca_file = pki.ca_file(&dir);
    let port = https_once(
        pki.server(&["localhost"], false),
        b"HTTP/1.1 200 OK\r\n\r\n",
    )
    .await;
    check(&https_probe(
        &format!("https://localhost:{port}/ready"),
        Some(&ca_file),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn https_self_signed_certificate_is_fatal_and_says_so() {
    let port = https_once(self_signed_server(), b"HTTP/1.1 200 OK\r\n\r\n").await;
    let err = error_at(&format!("https://localhost:{port}/"), None).await;
    assert!(matches!(err, ProbeError::Fatal(_)), "{err:?}");
    assert!(!err.is_retryable());
    let err = err.to_string();
    assert!(err.starts_with("TLS: certificate not trusted"), "{err}");
    assert!(err.contains("PREFLIGHT_CA_FILE"), "{err}");
}

/// The fatal error of a try at `https://localhost:PORT/`, trusting the CA
/// that signed the server's certificate for `names` (`expired`).
async fn trusted_ca_but(names: &[&str], expired: bool) -> String {
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca_file = pki.ca_file(&dir);
    let port = https_once(pki.server(names, expired), b"").await;
    let err = error_at(&format!("https://localhost:{port}/"), Some(&ca_file)).await;
    assert!(matches!(err, ProbeError::Fatal(_)), "{err:?}");
    err.to_string()
}

#[tokio::test]
async fn https_certificate_for_another_name_is_fatal() {
    let err = trusted_ca_but(&["db.internal"], false).await;
    assert!(err.contains("not valid for \"localhost\""), "{err}");
    assert!(err.contains("db.internal"), "{err}");
}

#[tokio::test]
async fn https_expired_certificate_is_fatal() {
    let err = trusted_ca_but(&["localhost"], true).await;
    assert!(err.starts_with("TLS: certificate expired"), "{err}");
}

#[tokio::test]
async fn https_unreadable_ca_file_is_fatal_and_names_it() {
    let dir = TempDir::new();
    let missing = dir.join("missing.pem");
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    // The probe fails before connecting: nothing needs to listen.
    for (file, why) in [(&missing, "cannot read"), (&empty, "no PEM CERTIFICATE")] {
        let err = error_at("https://localhost:1/", Some(file)).await;
        assert!(matches!(err, ProbeError::Fatal(_)), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains(why) && err.contains(&*file.to_string_lossy()),
            "{err}"
        );
    }
}

#[tokio::test]
async fn https_peer_that_closes_during_the_handshake_is_retried() {
    let port = fake::start(Peer::CloseAtOnce).await.port();
    let err = error_at(&format!("https://localhost:{port}/"), None).await;
    assert!(matches!(err, ProbeError::Protocol(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("TLS handshake"), "{err}");
}

#[tokio::test]
async fn https_against_a_plain_http_port_is_a_retryable_protocol_error() {
    // A plain HTTP server answers the ClientHello with a 400 and closes.
    let addr = fake::start(Peer::SendThenClose(
        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
    ))
    .await;
    let err = error_at(&format!("https://{addr}/"), None).await;
    assert!(matches!(err, ProbeError::Protocol(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("TLS"), "{err}");
}
