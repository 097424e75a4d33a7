//! The memcached probe against memcached instances of the test's own and
//! fake peers.

use std::time::Duration;

use preflight::probe::ProbeError;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::have_program;
use crate::support::instance::Instance;
use crate::support::probe::{self, check};

fn memcached() -> Instance {
    Instance::new("memcached", |port, _| {
        [
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-u",
            "root",
            "-m",
            "8",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    })
}

#[tokio::test]
async fn a_server_started_after_probing_began_answers_version() {
    require!(have_program("memcached"), "memcached not installed");
    let mut m = memcached();
    let url = format!("memcached://{}", m.addr());
    probe::noticed_once_started(&url, Duration::from_secs(20), || m.spawn_once()).await;
    // Stopped: refused again, not hung.
    m.kill();
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
}

#[test]
fn a_bare_host_port_on_11211_is_memcached() {
    assert_eq!(probe::kind("cache:11211"), "Memcached");
}

#[tokio::test]
async fn replies_are_classified() {
    let reply = |bytes: &[u8]| fake::check("memcached", "", Peer::ReplyThenClose(bytes.to_vec()));
    assert!(reply(b"VERSION 1.6.18\r\n").await.is_ok());
    let r = reply(b"SERVER_ERROR out of memory\r\n").await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    let r = reply(b"ERROR\r\n").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    for garbage in [&b"HTTP/1.1 400 Bad Request\r\n"[..], b"VERSION", b""] {
        let r = reply(garbage).await;
        assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    }
    let r = fake::check("memcached", "", Peer::Send(vec![b'V'; 200_000])).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("memcached").await;
    fake::assert_trickling_peer_leaves_the_try_pending(
        "memcached",
        b"VERSION 1.6.18 and then a long tail, one byte at a time\r\n",
    )
    .await;
}
