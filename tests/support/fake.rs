//! Fake peers for misbehaviour tests: a listener on `127.0.0.1:0` that treats
//! every connection it accepts the same way, so a retrying test sees the same
//! peer each try. Lives as long as the test's runtime. Every byte a fake
//! receives is kept ([`Recording`]), so a test can say what a client never
//! sent; [`start_tls`] wraps the same peers in TLS. A fake written for one
//! protocol (a Kafka broker, a mongod) is served by [`serve_on`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use preflight::probe::ProbeError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::probe;

/// Every byte the fake received, over all its connections, in order.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<Mutex<Vec<u8>>>);

impl Recording {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }

    /// Does `needle` appear anywhere in what was received?
    pub fn contains(&self, needle: &[u8]) -> bool {
        let bytes = self.bytes();
        !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle)
    }

    fn push(&self, bytes: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(bytes);
    }
}

/// What the fake peer does with each connection.
#[derive(Clone, Debug)]
pub enum Peer {
    /// Accept, then say nothing and keep the connection open.
    Silent,
    /// Accept and close at once (docker-proxy with nothing behind it).
    CloseAtOnce,
    /// Send these bytes first, then keep the connection open and silent.
    Send(Vec<u8>),
    /// Send these bytes first, then close.
    SendThenClose(Vec<u8>),
    /// Wait for the client's first bytes, answer with these, then close.
    ReplyThenClose(Vec<u8>),
    /// Wait for the client's first bytes, answer with these, then keep
    /// reading (and recording) whatever else the client sends.
    ReplyThenListen(Vec<u8>),
    /// Send these bytes one at a time, 20 ms apart, then hold the
    /// connection open and silent.
    Trickle(Vec<u8>),
}

/// A peer that accepts and never speaks must leave the try pending: the
/// deadline belongs to the caller (`wait/`), which drops the try.
pub async fn assert_silent_peer_leaves_the_try_pending(scheme: &str) {
    let addr = start(Peer::Silent).await;
    let target = preflight::target::parse(&format!("{scheme}://{addr}")).unwrap();
    let probe = preflight::probe::Probe::new(&target);
    let outcome = tokio::time::timeout(Duration::from_millis(300), probe.check()).await;
    assert!(outcome.is_err(), "{scheme}: a silent peer gave {outcome:?}");
}

/// A peer that answers one byte at a time must not make the try end on its
/// own (it is bounded by the caller's deadline) nor read past the caps.
pub async fn assert_trickling_peer_leaves_the_try_pending(scheme: &str, bytes: &[u8]) {
    let addr = start(Peer::Trickle(bytes.to_vec())).await;
    let target = preflight::target::parse(&format!("{scheme}://{addr}")).unwrap();
    let probe = preflight::probe::Probe::new(&target);
    let outcome = tokio::time::timeout(Duration::from_millis(300), probe.check()).await;
    assert!(
        outcome.is_err(),
        "{scheme}: a trickling peer gave {outcome:?}"
    );
}

/// One try of the `scheme` probe against a fresh fake `peer`, with the
/// user-info `auth` in its URL ("" for none, else "user:pass@").
pub async fn check(scheme: &str, auth: &str, peer: Peer) -> Result<(), ProbeError> {
    let addr = start(peer).await;
    probe::check(&format!("{scheme}://{auth}{addr}")).await
}

/// Each of `peers` is a protocol error to the `scheme` probe.
pub async fn assert_protocol_errors(scheme: &str, peers: impl IntoIterator<Item = Peer>) {
    for peer in peers {
        let r = check(scheme, "", peer.clone()).await;
        let peer: String = format!("{peer:?}").chars().take(60).collect();
        assert!(
            matches!(r, Err(ProbeError::Protocol(_))),
            "{scheme}: {peer}: {r:?}"
        );
    }
}

/// Serve a fake of the test's own on `127.0.0.1:port` (0: any free port):
/// each connection accepted goes to `conn` with a clone of `state`, on the
/// runtime. Its address.
pub async fn serve_on<S, F, Fut>(port: u16, state: S, conn: F) -> SocketAddr
where
    S: Clone + Send + 'static,
    F: Fn(TcpStream, S) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(conn(sock, state.clone()));
        }
    });
    addr
}

/// Start a fake peer; its address.
pub async fn start(peer: Peer) -> SocketAddr {
    start_recorded(peer).await.0
}

/// Start a fake peer; its address and what it receives.
pub async fn start_recorded(peer: Peer) -> (SocketAddr, Recording) {
    serve(peer, None).await
}

/// Start a fake peer behind TLS (`config` holds its certificate): the peer
/// behaviour starts once the handshake is done; a client that rejects the
/// certificate ends the connection there. What it receives, decrypted.
pub async fn start_tls(config: rustls::ServerConfig, peer: Peer) -> (SocketAddr, Recording) {
    serve(peer, Some(TlsAcceptor::from(Arc::new(config)))).await
}

async fn serve(peer: Peer, tls: Option<TlsAcceptor>) -> (SocketAddr, Recording) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recording = Recording::default();
    let log = recording.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let peer = peer.clone();
            let log = log.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => behave(sock, peer, log).await,
                    Some(acceptor) => {
                        if let Ok(sock) = acceptor.accept(sock).await {
                            behave(sock, peer, log).await
                        }
                    }
                }
            });
        }
    });
    (addr, recording)
}

async fn behave<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, peer: Peer, log: Recording) {
    match peer {
        Peer::Silent => hold(sock, log).await,
        Peer::CloseAtOnce => drop(sock),
        Peer::Send(bytes) => {
            let _ = sock.write_all(&bytes).await;
            hold(sock, log).await
        }
        Peer::SendThenClose(bytes) => {
            let _ = sock.write_all(&bytes).await;
            let _ = sock.shutdown().await;
        }
        Peer::ReplyThenClose(bytes) => {
            let mut buf = [0u8; 1024];
            if let Ok(n) = sock.read(&mut buf).await {
                log.push(&buf[..n]);
            }
            let _ = sock.write_all(&bytes).await;
            let _ = sock.shutdown().await;
        }
        Peer::Trickle(bytes) => {
            for b in bytes {
                if sock.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            hold(sock, log).await
        }
        Peer::ReplyThenListen(bytes) => {
            let mut buf = [0u8; 1024];
            if let Ok(n) = sock.read(&mut buf).await {
                log.push(&buf[..n]);
            }
            let _ = sock.write_all(&bytes).await;
            hold(sock, log).await
        }
    }
}

/// Keep the connection open for up to a minute, recording what arrives.
async fn hold<S: AsyncRead + Unpin>(mut sock: S, log: Recording) {
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock.read(&mut buf).await {
            if n == 0 {
                break;
            }
            log.push(&buf[..n]);
        }
    })
    .await;
}
