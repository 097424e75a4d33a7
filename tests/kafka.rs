//! The Kafka probe against a fake broker written from the protocol's
//! documentation (size-prefixed big-endian frames; ApiVersions v0, Metadata
//! v4–v8 for no topics), in each state the probe must tell apart, and
//! against hostile peers.

use preflight::probe::ProbeError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::fake::{self, Peer};
use crate::support::free_port;
use crate::support::probe::{self, check, not_ready};

/// What the fake broker answers.
#[derive(Clone, Debug)]
struct Broker {
    api_versions_error: i16,
    /// The Metadata versions it lists (None: not listed at all).
    metadata: Option<(i16, i16)>,
    brokers: u32,
    controller: i32,
    /// Close instead of answering Metadata (a SASL listener).
    close_on_metadata: bool,
}

const UP: Broker = Broker {
    api_versions_error: 0,
    metadata: Some((0, 12)),
    brokers: 1,
    controller: 1,
    close_on_metadata: false,
};

async fn start(broker: Broker) -> String {
    format!("kafka://{}", fake::serve_on(0, broker, connection).await)
}

/// One try against a fresh fake `broker`.
async fn against(broker: Broker) -> Result<(), ProbeError> {
    check(&start(broker).await).await
}

async fn connection(mut sock: TcpStream, b: Broker) {
    loop {
        let mut size = [0; 4];
        if sock.read_exact(&mut size).await.is_err() {
            return;
        }
        let mut req = vec![0; u32::from_be_bytes(size) as usize];
        if sock.read_exact(&mut req).await.is_err() {
            return;
        }
        let key = i16::from_be_bytes([req[0], req[1]]);
        let version = i16::from_be_bytes([req[2], req[3]]);
        let mut out = req[4..8].to_vec(); // correlation id
        match key {
            18 => {
                out.extend_from_slice(&b.api_versions_error.to_be_bytes());
                let mut apis = vec![(18i16, 0i16, 3i16)];
                if let Some((min, max)) = b.metadata {
                    apis.push((3, min, max));
                }
                out.extend_from_slice(&(apis.len() as i32).to_be_bytes());
                for (k, min, max) in apis {
                    for v in [k, min, max] {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
            3 if b.close_on_metadata => return,
            3 => {
                assert!((4..=8).contains(&version), "Metadata v{version}");
                out.extend_from_slice(&0i32.to_be_bytes()); // throttle
                out.extend_from_slice(&(b.brokers as i32).to_be_bytes());
                for id in 0..b.brokers as i32 {
                    out.extend_from_slice(&id.to_be_bytes());
                    out.extend_from_slice(&9i16.to_be_bytes());
                    out.extend_from_slice(b"localhost");
                    out.extend_from_slice(&9092i32.to_be_bytes());
                    out.extend_from_slice(&(-1i16).to_be_bytes()); // rack: null
                }
                out.extend_from_slice(&4i16.to_be_bytes());
                out.extend_from_slice(b"clus");
                out.extend_from_slice(&b.controller.to_be_bytes());
                out.extend_from_slice(&0i32.to_be_bytes()); // topics
                if version >= 8 {
                    out.extend_from_slice(&0i32.to_be_bytes());
                }
            }
            _ => return,
        }
        let mut frame = (out.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&out);
        if sock.write_all(&frame).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_broker_with_a_controller_is_ready() {
    for b in [
        UP,
        // Metadata up to v5 only, and ApiVersions without Metadata at all.
        Broker {
            metadata: Some((0, 5)),
            ..UP
        },
        Broker {
            metadata: None,
            controller: -1,
            ..UP
        },
        // A SASL listener refuses Metadata: ApiVersions was enough.
        Broker {
            close_on_metadata: true,
            ..UP
        },
    ] {
        against(b.clone())
            .await
            .unwrap_or_else(|e| panic!("{b:?}: {e:?}"));
    }
}

#[tokio::test]
async fn no_controller_no_broker_or_an_error_is_not_yet() {
    for (b, says) in [
        (
            Broker {
                controller: -1,
                ..UP
            },
            "controller",
        ),
        (Broker { brokers: 0, ..UP }, "no broker"),
        (
            Broker {
                api_versions_error: 35,
                ..UP
            },
            "35",
        ),
    ] {
        let m = not_ready(against(b).await);
        assert!(m.contains(says), "{says}: {m}");
    }
}

#[tokio::test]
async fn a_broker_that_starts_late_is_noticed() {
    let port = free_port();
    let url = format!("kafka://127.0.0.1:{port}");
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
    fake::serve_on(port, UP, connection).await;
    check(&url).await.unwrap();
    // A bare host:port on 9092 is Kafka.
    assert_eq!(probe::kind("broker:9092"), "Kafka");
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let huge = [&0x7fff_ffffu32.to_be_bytes()[..], &[0; 8]].concat();
    let wrong_correlation = [&6u32.to_be_bytes()[..], &[0, 0, 0, 9, 0, 0]].concat();
    let cut_short = [&6u32.to_be_bytes()[..], &[0, 0, 0, 1, 0, 0]].concat();
    let absurd_array = [&10u32.to_be_bytes()[..], &[0, 0, 0, 1, 0, 0, 0x7f, 0, 0, 0]].concat();
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(huge),
        Peer::ReplyThenClose(wrong_correlation),
        Peer::ReplyThenClose(cut_short[..8].to_vec()),
        Peer::ReplyThenClose(absurd_array),
    ];
    fake::assert_protocol_errors("kafka", peers).await;
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("kafka").await;
    fake::assert_trickling_peer_leaves_the_try_pending("kafka", &[0, 0, 0, 40, 0, 0, 0, 1]).await;
}
