//! HTTP expectations in the fragment (`#status=200,3xx`, `#body=`,
//! `#match=`, `#json=PATH:V1|V2`, `#header=Name:value|$VAR`) against fake
//! servers; an Elasticsearch-like `_cluster/health` going red → green
//! through the binary; header secrets never printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::support::fake::{self, Peer};
use crate::support::probe::{check, not_ready};
use crate::support::{expect_exit, preflight};

/// A server answering every request with `responses[i]` (the last one
/// repeated), sending each request head it saw on the channel.
async fn server(responses: Vec<Vec<u8>>) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let n = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let i = n.fetch_add(1, Ordering::Relaxed).min(responses.len() - 1);
            let response = responses[i].clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0; 1024];
                while !buf.ends_with(b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
                let _ = s.write_all(&response).await;
            });
        }
    });
    (format!("http://{addr}"), rx)
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn health(status: &str) -> Vec<u8> {
    response(
        "200 OK",
        &format!(r#"{{"cluster_name":"es","status":"{status}","number_of_nodes":1}}"#),
    )
}

#[tokio::test]
async fn status_lists_and_classes() {
    let (url, _) = server(vec![response("302 Found", "")]).await;
    check(&format!("{url}/#status=200,3xx")).await.unwrap();
    let r = check(&format!("{url}/#status=200,204")).await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    let (url, _) = server(vec![response("404 Not Found", "")]).await;
    let m = not_ready(check(&format!("{url}/#status=200,3xx")).await);
    assert!(m == "HTTP 404 Not Found, expected 200,3xx", "{m}");
    check(&format!("{url}/#status=4xx")).await.unwrap();
}

#[tokio::test]
async fn the_json_value_at_a_path_decides() {
    for (status, ready) in [("green", true), ("yellow", true), ("red", false)] {
        let (url, _) = server(vec![health(status)]).await;
        let r = check(&format!("{url}/_cluster/health#json=status:green|yellow")).await;
        assert_eq!(r.is_ok(), ready, "{status}: {r:?}");
        if !ready {
            assert!(
                matches!(&r, Err(ProbeError::NotReady(m)) if m == "json status is \"red\", expected green|yellow"),
                "{r:?}"
            );
        }
    }
    let (url, _) = server(vec![health("green")]).await;
    check(&format!("{url}/#json=number_of_nodes:1"))
        .await
        .unwrap();
    let m = not_ready(check(&format!("{url}/#json=nodes.0:1")).await);
    assert!(m.contains("no such value"), "{m}");
    let (url, _) = server(vec![response("200 OK", "<html>starting</html>")]).await;
    let m = not_ready(check(&format!("{url}/#json=status:green")).await);
    assert!(m.contains("not JSON"), "{m}");
}

#[tokio::test]
async fn body_text_and_match_on_every_framing() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nstatus\r\n4\r\n: up\r\n0\r\n\r\n".to_vec();
    let close_delimited = b"HTTP/1.0 200 OK\r\n\r\nstatus: up".to_vec();
    for r in [response("200 OK", "status: up"), chunked, close_delimited] {
        let (url, _) = server(vec![r]).await;
        check(&format!("{url}/#body=status:%20up")).await.unwrap();
        check(&format!("{url}/#match=^status:%20u[p]$|^never"))
            .await
            .unwrap();
        let m = not_ready(check(&format!("{url}/#body=down")).await);
        assert!(m == "the body does not contain \"down\"", "{m}");
        let r = check(&format!("{url}/#match=^up")).await;
        assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    }
    // Without a body expectation the status alone decides.
    let (url, _) = server(vec![response("200 OK", "whatever")]).await;
    check(&url).await.unwrap();
}

#[tokio::test]
async fn endless_and_trickling_bodies_are_bounded() {
    // A chunked body that never ends: the probe stops at its cap and
    // decides on what it has.
    let mut endless = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        endless.extend_from_slice(b"8\r\n[[[[[[[[\r\n");
    }
    let addr = fake::start(Peer::Send(endless)).await;
    let r = check(&format!("http://{addr}/#json=status:green")).await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    // A body one byte at a time: bounded by the caller's deadline.
    let addr = fake::start(Peer::Trickle(
        b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"green\" and on and on".to_vec(),
    ))
    .await;
    let probe = Probe::new(&parse(&format!("http://{addr}/#body=green")).unwrap());
    assert!(
        timeout(Duration::from_millis(300), probe.check())
            .await
            .is_err(),
        "a trickling body must leave the try pending"
    );
}

#[tokio::test]
async fn headers_are_sent_as_given() {
    let (url, mut requests) = server(vec![response("200 OK", "")]).await;
    check(&format!(
        "{url}/#header=Host:es.internal&header=X-Api-Key:k%26y"
    ))
    .await
    .unwrap();
    let request = requests.recv().await.unwrap();
    assert!(request.contains("\r\nHost: es.internal\r\n"), "{request}");
    assert_eq!(request.matches("Host:").count(), 1, "{request}");
    assert!(request.contains("\r\nX-Api-Key: k&y\r\n"), "{request}");
    assert_eq!(
        parse(&format!("{url}/#header=X-Api-Key:k%26y"))
            .unwrap()
            .redacted(),
        format!("{url}/#header=X-Api-Key:***")
    );
}

/// Through the binary: Elasticsearch red, then green; the Authorization
/// header comes from a variable and never shows, not even while red.
#[test]
fn elasticsearch_red_then_green_with_a_secret_header() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, mut requests) =
        rt.block_on(server(vec![health("red"), health("red"), health("green")]));
    let server_thread = std::thread::spawn(move || {
        rt.block_on(async {
            let mut seen = Vec::new();
            while let Ok(Some(r)) = timeout(Duration::from_secs(5), requests.recv()).await {
                seen.push(r);
            }
            seen
        })
    });
    let target =
        format!("{url}/_cluster/health#json=status:green|yellow&header=Authorization:$ES_AUTH");
    let stderr = expect_exit(
        0,
        preflight()
            .args(["-v", "wait", &target, "--timeout", "20s"])
            .env("ES_AUTH", "Basic c2VjcmV0"),
    );
    assert!(
        stderr.contains("\"red\""),
        "the red state was not reported: {stderr}"
    );
    assert!(!stderr.contains("c2VjcmV0"), "{stderr}");
    let seen = server_thread.join().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|r| r.contains("\r\nAuthorization: Basic c2VjcmV0\r\n")),
        "{seen:?}"
    );
}

#[test]
fn bad_expectations_and_an_unset_header_variable_exit_2_with_one_line() {
    for (target, env, says) in [
        ("http://h/#status=6xx", None, "'6xx'"),
        ("http://h/#json=status", None, "PATH:VALUE"),
        ("http://h/#match=(a", None, "groups"),
        ("redis://h#body=x", None, "http(s)"),
        (
            "http://h/#header=Authorization:$NOPE_NOT_SET",
            None,
            "$NOPE_NOT_SET",
        ),
        ("http://h/#header=X:$V", Some("a\nb"), "line break"),
    ] {
        let mut cmd = preflight();
        cmd.args(["check", target]).env_remove("NOPE_NOT_SET");
        if let Some(v) = env {
            cmd.env("V", v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{target}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{target}: {stderr}");
        assert!(stderr.contains(says), "{target}: {stderr}");
    }
}
