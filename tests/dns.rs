//! The dns probe: the system resolver (/etc/hosts names), and a fake DNS
//! server on UDP (`server=`) answering NXDOMAIN, then SRV records; bad
//! values.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use crate::support::probe::{check, not_ready};
use crate::support::{expect_one_line, preflight};

#[tokio::test]
async fn a_name_resolves_as_the_app_would_resolve_it() {
    check("dns://localhost").await.unwrap();
    check("dns://localhost?type=A&address=127.0.0.1")
        .await
        .unwrap();
    let m = not_ready(check("dns://localhost?type=A&address=127.0.0.2").await);
    assert!(m.contains("resolves to 127.0.0.1"), "{m}");
    let r = check("dns://no-such-name.invalid").await;
    assert!(
        matches!(r, Err(ProbeError::NameNotResolved { .. })),
        "{r:?}"
    );
}

/// What the fake DNS server answers to the n-th query.
#[derive(Clone, Copy)]
enum Answer {
    NxDomain,
    Srv,
    Garbage,
    Silence,
}

/// A DNS server on 127.0.0.1 (UDP) answering `answers[n]` (the last one
/// repeated) with the query's id and question.
async fn dns_server(answers: Vec<Answer>) -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((len, from)) = sock.recv_from(&mut buf).await {
            let q = &buf[..len];
            let i = n.fetch_add(1, Ordering::Relaxed).min(answers.len() - 1);
            let mut r = q.to_vec();
            r[2] = 0x81;
            match answers[i] {
                Answer::NxDomain => r[3] = 0x83,
                Answer::Srv => {
                    r[3] = 0x80;
                    r[7] = 1;
                    // name: pointer to the question; SRV IN, TTL 60.
                    r.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60]);
                    let target = b"\x02db\x04test\x00";
                    r.extend_from_slice(&((6 + target.len()) as u16).to_be_bytes());
                    r.extend_from_slice(&[0, 10, 0, 5, 0x15, 0x38]); // port 5432
                    r.extend_from_slice(target);
                }
                Answer::Garbage => r = vec![q[0], q[1], 0x81],
                Answer::Silence => continue,
            }
            let _ = sock.send_to(&r, from).await;
        }
    });
    addr.to_string()
}

#[tokio::test]
async fn srv_records_appear_late_and_the_address_must_match() {
    let server = dns_server(vec![Answer::NxDomain, Answer::Srv]).await;
    let url = format!("dns://_pg._tcp.db.test?type=SRV&server={server}");
    let m = not_ready(check(&url).await);
    assert!(m.contains("no SRV record"), "{m}");
    check(&url).await.unwrap();
    check(&format!("{url}&address=db.test:5432")).await.unwrap();
    let m = not_ready(check(&format!("{url}&address=other.test")).await);
    assert!(m.contains("db.test:5432"), "{m}");
}

#[tokio::test]
async fn garbage_is_a_protocol_error_and_silence_is_left_to_the_deadline() {
    let server = dns_server(vec![Answer::Garbage]).await;
    let r = check(&format!("dns://x.test?type=SRV&server={server}")).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    let server = dns_server(vec![Answer::Silence]).await;
    let probe = Probe::new(&parse(&format!("dns://x.test?type=A&server={server}")).unwrap());
    assert!(
        timeout(Duration::from_millis(300), probe.check())
            .await
            .is_err(),
        "a silent DNS server must leave the try pending"
    );
}

#[test]
fn bad_dns_targets_exit_2_with_one_line() {
    for (target, says) in [
        ("dns://db?type=MX", "'MX'"),
        ("dns://db:53", "not a DNS name"),
        ("dns://db?server=nope", "'nope'"),
        ("dns://db?type=A&address=::1", "IPv4"),
        ("dns://db?color=red", "unknown dns option"),
    ] {
        let stderr = expect_one_line(2, preflight().args(["check", target]));
        assert!(stderr.contains(says), "{target}: {stderr}");
    }
}
