//! The TLS client every probe shares (src/probe/tls.rs), against fake TLS
//! servers with certificates made for the test: each verify mode accepts what
//! it must and refuses what it must, naming why; CA files replace the bundled
//! roots; client certificates are sent; nothing secret is printed.

use std::time::Duration;

use preflight::probe::ProbeError;
use preflight::probe::tls::{Options, Roots, Tls, Verify};
use tokio::net::TcpStream;

use crate::support::TempDir;
use crate::support::fake::{Peer, start_tls};
use crate::support::pki::{Pki, SERVER_NAMES, self_signed_server};
use crate::support::probe::fatal;

/// One handshake with `host` (the name checked) at `addr`.
async fn handshake(
    host: &str,
    addr: std::net::SocketAddr,
    options: &Options,
) -> Result<(), ProbeError> {
    let tls = Tls::with_options(host, options);
    tls.usable()?;
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), tls.handshake(tcp))
        .await
        .expect("a handshake with a local fake ends quickly")
        .map(drop)
}

fn options(verify: Verify, roots: Roots) -> Options {
    Options {
        verify,
        roots,
        ..Options::default()
    }
}

/// `verify`, trusting only the certificates in the file `ca`.
fn trusting(verify: Verify, ca: &std::path::Path) -> Options {
    options(verify, Roots::File(ca.to_path_buf()))
}

#[tokio::test]
async fn full_verification_accepts_the_right_ca_and_name_only() {
    let pki = Pki::new();
    let wrong = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let wrong_ca = wrong.ca_file_in(dir.path(), "wrong.pem");
    let (addr, _) = start_tls(pki.server(SERVER_NAMES, false), Peer::Silent).await;

    // Positive controls: by name and by IP literal.
    let good = trusting(Verify::Full, &ca);
    handshake("localhost", addr, &good).await.unwrap();
    handshake("127.0.0.1", addr, &good).await.unwrap();

    let e = fatal(handshake("localhost", addr, &trusting(Verify::Full, &wrong_ca)).await);
    assert!(e.contains("unknown issuer"), "{e}");
    let e = fatal(handshake("db.internal", addr, &good).await);
    assert!(
        e.contains("name mismatch") && e.contains("db.internal"),
        "{e}"
    );
    // The bundled roots do not know a private CA.
    let e = fatal(handshake("localhost", addr, &Options::default()).await);
    assert!(e.contains("unknown issuer"), "{e}");
}

#[tokio::test]
async fn ca_verification_ignores_the_name_but_not_the_issuer_or_dates() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let (addr, _) = start_tls(pki.server(&["db.internal"], false), Peer::Silent).await;
    handshake("localhost", addr, &trusting(Verify::Ca, &ca))
        .await
        .unwrap();
    // Same certificate, full verification: the name is what differs.
    let e = fatal(handshake("localhost", addr, &trusting(Verify::Full, &ca)).await);
    assert!(e.contains("name mismatch"), "{e}");

    let (self_signed, _) = start_tls(self_signed_server(), Peer::Silent).await;
    let e = fatal(handshake("localhost", self_signed, &trusting(Verify::Ca, &ca)).await);
    assert!(e.contains("unknown issuer"), "{e}");

    let (expired, _) = start_tls(pki.server(SERVER_NAMES, true), Peer::Silent).await;
    let e = fatal(handshake("localhost", expired, &trusting(Verify::Ca, &ca)).await);
    assert!(e.starts_with("TLS: certificate expired"), "{e}");
}

#[tokio::test]
async fn no_verification_accepts_any_certificate_and_reads_no_ca_file() {
    let (addr, _) = start_tls(self_signed_server(), Peer::Silent).await;
    let missing = std::path::PathBuf::from("/nonexistent/ca.pem");
    handshake("db.internal", addr, &trusting(Verify::None, &missing))
        .await
        .unwrap();
    // Control: the same missing file is an error where it is used.
    let e = fatal(handshake("db.internal", addr, &trusting(Verify::Ca, &missing)).await);
    assert!(e.contains("cannot read CA file /nonexistent/ca.pem"), "{e}");
}

#[tokio::test]
async fn preflight_ca_file_is_trusted_beside_the_bundled_roots_and_a_ca_file() {
    let pki = Pki::new();
    let other = Pki::new();
    let dir = TempDir::new();
    let extra = pki.ca_file(&dir);
    let other_ca = other.ca_file_in(dir.path(), "other.pem");
    let (addr, _) = start_tls(pki.server(SERVER_NAMES, false), Peer::Silent).await;
    for roots in [Roots::Bundled, Roots::System, Roots::File(other_ca.clone())] {
        let with_extra = Options {
            extra_ca: Some(extra.clone()),
            ..options(Verify::Full, roots.clone())
        };
        handshake("localhost", addr, &with_extra)
            .await
            .unwrap_or_else(|e| panic!("{roots:?}: {e}"));
        // Control: without it, the private CA is unknown.
        let e = fatal(handshake("localhost", addr, &options(Verify::Full, roots)).await);
        assert!(e.contains("unknown issuer"), "{e}");
    }
}

#[tokio::test]
async fn a_client_certificate_is_sent_when_given() {
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let (cert, key) = pki.issue(&["app"], false).write(dir.path(), "client");
    let (addr, _) = start_tls(
        pki.server_requiring_client_cert(),
        Peer::ReplyThenClose(b"ok".to_vec()),
    )
    .await;

    // With TLS 1.3 the server checks the client's certificate after the
    // client's handshake is done: read an answer to see the verdict.
    async fn exchange(addr: std::net::SocketAddr, options: &Options) -> Result<Vec<u8>, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tls = Tls::with_options("localhost", options);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut s = tls.handshake(tcp).await.map_err(|e| e.to_string())?;
        s.write_all(b"hi").await.map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.map_err(|e| e.to_string())?;
        Ok(got)
    }
    let with_cert = Options {
        client_cert: Some((cert, key.clone())),
        ..options(Verify::Full, Roots::File(ca.clone()))
    };
    assert_eq!(exchange(addr, &with_cert).await.unwrap(), b"ok");
    let without = trusting(Verify::Full, &ca);
    assert!(exchange(addr, &without).await.is_err());

    // A key file that is not a key is named, its contents are not printed.
    std::fs::write(
        &key,
        "-----BEGIN NOTHING-----\nc2VjcmV0\n-----END NOTHING-----\n",
    )
    .unwrap();
    let e = Tls::with_options("localhost", &with_cert)
        .usable()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("client key") && e.contains(&*key.to_string_lossy()),
        "{e}"
    );
    assert!(!e.contains("c2VjcmV0"), "{e}");
}
