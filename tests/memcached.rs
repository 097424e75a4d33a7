//! The memcached probe against memcached instances of the test's own and
//! fake peers.

use std::time::{Duration, Instant};

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::time::timeout;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::have_program;
use crate::support::instance::Instance;

async fn check(url: &str) -> Result<(), ProbeError> {
    let probe = Probe::new(&parse(url).unwrap_or_else(|e| panic!("{url}: {e}")));
    timeout(Duration::from_secs(10), probe.check())
        .await
        .unwrap_or_else(|_| panic!("{url}: the probe hung"))
}

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
    let mut seen = Vec::new();
    let began = Instant::now();
    loop {
        let res = check(&url).await;
        let ok = res.is_ok();
        seen.push(res.map_err(|e| e.to_string()));
        if ok {
            break;
        }
        if !m.started() {
            m.spawn();
        }
        assert!(began.elapsed() < Duration::from_secs(20), "{seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        seen[0].as_ref().is_err_and(|e| e.contains("refused")),
        "{seen:?}"
    );
    // Stopped: refused again, not hung.
    m.kill();
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
}

#[test]
fn a_bare_host_port_on_11211_is_memcached() {
    let t = parse("cache:11211").unwrap();
    assert_eq!(
        format!("{:?}", Probe::new(&t)).split('(').next(),
        Some("Memcached")
    );
}

#[tokio::test]
async fn replies_are_classified() {
    let reply = |bytes: &[u8]| {
        let bytes = bytes.to_vec();
        async move {
            let addr = fake::start(Peer::ReplyThenClose(bytes)).await;
            check(&format!("memcached://{addr}")).await
        }
    };
    assert!(reply(b"VERSION 1.6.18\r\n").await.is_ok());
    let r = reply(b"SERVER_ERROR out of memory\r\n").await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    let r = reply(b"ERROR\r\n").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    for garbage in [&b"HTTP/1.1 400 Bad Request\r\n"[..], b"VERSION", b""] {
        let r = reply(garbage).await;
        assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    }
    let addr = fake::start(Peer::Send(vec![b'V'; 200_000])).await;
    let r = check(&format!("memcached://{addr}")).await;
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
