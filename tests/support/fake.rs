//! Fake peers for misbehaviour tests: a listener on `127.0.0.1:0` that treats
//! every connection it accepts the same way, so a retrying test sees the same
//! peer each try. Lives as long as the test's runtime.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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

/// Start a fake peer; its address.
pub async fn start(peer: Peer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let peer = peer.clone();
            tokio::spawn(async move {
                match peer {
                    Peer::Silent => hold(sock).await,
                    Peer::CloseAtOnce => drop(sock),
                    Peer::Send(bytes) => {
                        let _ = sock.write_all(&bytes).await;
                        hold(sock).await
                    }
                    Peer::SendThenClose(bytes) => {
                        let _ = sock.write_all(&bytes).await;
                    }
                    Peer::ReplyThenClose(bytes) => {
                        let mut buf = [0u8; 1024];
                        let _ = sock.read(&mut buf).await;
                        let _ = sock.write_all(&bytes).await;
                    }
                }
            });
        }
    });
    addr
}

async fn hold(sock: tokio::net::TcpStream) {
    tokio::time::sleep(Duration::from_secs(60)).await;
    drop(sock);
}
