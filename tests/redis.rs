//! The Redis probe against the machine's Redis (127.0.0.1:6379), against
//! redis-server instances of the test's own (free port, no persistence
//! unless the test saves, killed and removed on drop), and fake peers.

use std::process::Command;
use std::time::{Duration, Instant};

use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::time::timeout;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::instance::Instance;
use crate::support::pki::{Pki, SERVER_NAMES};
use crate::support::probe::{self, check, check_with_ca, fatal, not_ready};
use crate::support::{TempDir, expect_exit, have_program, listening, preflight};

const SHARED: &str = "127.0.0.1:6379";

fn available() -> bool {
    have_program("redis-server") && have_program("redis-cli")
}

/// A redis-server of the test's own, not started: its port on 127.0.0.1,
/// nothing saved unless the test says SAVE, then the arguments
/// `extra(port, dir)` gives.
fn redis_with(extra: impl FnOnce(u16, &TempDir) -> Vec<String>) -> Instance {
    Instance::new("redis-server", |port, dir| {
        let (port_arg, dir_arg) = (port.to_string(), dir.display().to_string());
        let base = [
            "--port",
            &port_arg,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            &dir_arg,
        ];
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(extra(port, dir));
        args
    })
}

/// [`redis_with`] these fixed `extra` arguments.
fn redis(extra: &[&str]) -> Instance {
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    redis_with(|_, _| extra)
}

/// `redis-cli ARGS` against `r`, authenticated with `password`; its output.
fn cli(r: &Instance, password: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-p", &r.port().to_string()]);
    if let Some(pw) = password {
        cmd.env("REDISCLI_AUTH", pw);
    }
    let out = cmd.args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// ---- the shared server ----

#[tokio::test]
async fn ready_answers_pong() {
    require!(listening(SHARED), "no Redis on {SHARED}");
    check(&format!("redis://{SHARED}")).await.unwrap();
    check(SHARED).await.unwrap();
    check(&format!("redis://{SHARED}/3")).await.unwrap();
}

/// IPv6 as users write it, through the binary: the shared Redis listens on
/// [::1] too.
#[test]
fn ready_over_ipv6() {
    require!(listening("[::1]:6379"), "no Redis on [::1]:6379");
    let stderr = expect_exit(0, preflight().args(["check", "redis://[::1]:6379/0"]));
    assert!(stderr.contains("redis://[::1]:6379/0 is ready"), "{stderr}");
}

#[tokio::test]
async fn a_database_out_of_range_is_fatal() {
    require!(listening(SHARED), "no Redis on {SHARED}");
    let e = fatal(check(&format!("redis://{SHARED}/999")).await);
    assert!(e.contains("out of range"), "{e}");
}

#[tokio::test]
async fn a_password_the_server_does_not_have_is_fatal() {
    require!(listening(SHARED), "no Redis on {SHARED}");
    let r = check(&format!("redis://:nope@{SHARED}")).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
}

// ---- instances of our own ----

#[tokio::test]
async fn passwords_right_wrong_and_absent() {
    require!(available(), "redis-server not installed");
    let r = redis(&["--requirepass", "s3cret"]).up();
    let a = r.addr();
    check(&format!("redis://:s3cret@{a}")).await.unwrap();
    check(&format!("redis://default:s3cret@{a}/1"))
        .await
        .unwrap();
    match check(&format!("redis://:wrong@{a}")).await {
        Err(e @ ProbeError::Fatal(_)) => {
            assert!(!e.is_retryable());
            assert!(e.to_string().contains("WRONGPASS"), "{e}");
            assert!(!e.to_string().contains("wrong"), "the password leaked: {e}");
        }
        other => panic!("{other:?}"),
    }
    // No password: -NOAUTH means up (documented: blind to -LOADING).
    check(&format!("redis://{a}")).await.unwrap();
}

#[tokio::test]
async fn server_started_after_probing_began_is_noticed() {
    require!(available(), "redis-server not installed");
    let mut r = redis(&[]);
    let url = format!("redis://{}", r.addr());
    probe::noticed_once_started(&url, Duration::from_secs(20), || r.spawn_once()).await;
}

#[tokio::test]
async fn server_stopped_mid_wait_is_reported_not_hung() {
    require!(available(), "redis-server not installed");
    let mut r = redis(&[]).up();
    let url = format!("redis://{}", r.addr());
    check(&url).await.unwrap();
    r.kill();
    let res = check(&url).await;
    assert!(matches!(res, Err(ProbeError::Connect(_))), "{res:?}");
}

/// A dataset big enough that loading it takes a while: the port is open,
/// PING answers -LOADING, and only a probe with the password can tell; one
/// without gets -NOAUTH throughout and counts the server as up.
#[tokio::test]
async fn loading_is_not_ready_and_noauth_hides_it() {
    require!(available(), "redis-server not installed");
    let mut r = redis(&["--requirepass", "pw", "--enable-debug-command", "yes"]).up();
    cli(&r, Some("pw"), &["DEBUG", "POPULATE", "2000000"]);
    cli(&r, Some("pw"), &["SAVE"]);
    r.kill();
    let with_pw = format!("redis://:pw@{}", r.addr());
    let without = format!("redis://{}", r.addr());
    r.spawn();
    // (elapsed, with password, without password), from the first answer on.
    let mut seen: Vec<(Duration, String, String)> = Vec::new();
    let started = Instant::now();
    loop {
        let a = check(&with_pw).await;
        let b = check(&without).await;
        let at = started.elapsed();
        if matches!(a, Err(ProbeError::Connect(_))) {
            assert!(at < Duration::from_secs(20), "never listened");
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let ready = a.is_ok();
        seen.push((at, format!("{a:?}"), format!("{b:?}")));
        if ready {
            break;
        }
        assert!(at < Duration::from_secs(60), "never loaded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let loading: Vec<_> = seen.iter().filter(|s| s.1.contains("LOADING")).collect();
    assert!(!loading.is_empty(), "never saw -LOADING: {seen:?}");
    assert!(seen[0].1.contains("NotReady(\"LOADING"), "{:?}", seen[0]);
    // While loading, the password-less probe already said "up".
    assert!(loading.iter().all(|s| s.2 == "Ok(())"), "{loading:?}");
    eprintln!(
        "LOADING window seen by the probe: {:?} .. {:?} ({} tries)",
        loading[0].0,
        loading.last().unwrap().0,
        loading.len()
    );
}

// ---- fake peers ----

#[tokio::test]
async fn a_silent_peer_leaves_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("redis").await;
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(b"+PON".to_vec()),
        Peer::Send(b"$99999999999\r\n".to_vec()),
        Peer::Send(vec![b'+'; 200_000]),
        Peer::ReplyThenClose(b"$10\r\nPONG".to_vec()),
    ];
    fake::assert_protocol_errors("redis", peers).await;
}

#[tokio::test]
async fn error_replies_are_classified() {
    let reply = |bytes: &[u8]| fake::check("redis", "", Peer::ReplyThenClose(bytes.to_vec()));
    let m = not_ready(reply(b"-BUSY Redis is busy running a script\r\n").await);
    assert!(m.starts_with("BUSY"), "{m}");
    let r = reply(b"-MASTERDOWN Link with MASTER is down\r\n").await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    let r = reply(b"-DENIED Redis is running in protected mode\r\n").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    let r = reply(b"$4\r\nPONG\r\n").await;
    assert!(r.is_ok(), "{r:?}");
}

// ---- TLS (rediss://) and ACL users ----

/// A redis-server of the test's own that speaks only TLS, with a
/// certificate for `names` signed by `pki`.
fn start_tls(pki: &Pki, names: &[&str]) -> Instance {
    redis_with(|port, dir| {
        let (cert, key) = pki.issue(names, false).write(dir.path(), "server");
        let ca = pki.ca_file_in(dir.path(), "ca.pem");
        let port = port.to_string();
        [
            "--port",
            "0",
            "--tls-port",
            &port,
            "--tls-cert-file",
            cert.to_str().unwrap(),
            "--tls-key-file",
            key.to_str().unwrap(),
            "--tls-ca-cert-file",
            ca.to_str().unwrap(),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "s3cret",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    })
    .up()
}

#[tokio::test]
async fn rediss_verifies_the_certificate_by_default() {
    require!(available(), "redis-server not installed");
    let pki = Pki::new();
    let wrong = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let wrong_ca = wrong.ca_file_in(dir.path(), "wrong.pem");
    let r = start_tls(&pki, &["localhost"]);
    let port = r.port();
    // Positive controls: the CA from PREFLIGHT_CA_FILE or ?ssl_ca_certs=.
    check_with_ca(&format!("rediss://:s3cret@localhost:{port}"), Some(&ca))
        .await
        .unwrap();
    check_with_ca(
        &format!(
            "rediss://:s3cret@localhost:{port}/1?ssl_ca_certs={}",
            ca.display()
        ),
        None,
    )
    .await
    .unwrap();
    // Without the CA, with the wrong one, for another name: refused, named.
    let e = fatal(check_with_ca(&format!("rediss://:s3cret@localhost:{port}"), None).await);
    assert!(e.contains("unknown issuer"), "{e}");
    let e = fatal(
        check_with_ca(
            &format!("rediss://:s3cret@localhost:{port}"),
            Some(&wrong_ca),
        )
        .await,
    );
    assert!(e.contains("unknown issuer"), "{e}");
    let e = fatal(check_with_ca(&format!("rediss://:s3cret@127.0.0.1:{port}"), Some(&ca)).await);
    assert!(
        e.contains("name mismatch") && e.contains("localhost"),
        "{e}"
    );
    assert!(!e.contains("s3cret"), "{e}");
    // ssl_cert_reqs=none: encrypted, not verified.
    check_with_ca(
        &format!("rediss://:s3cret@127.0.0.1:{port}?ssl_cert_reqs=none"),
        None,
    )
    .await
    .unwrap();
    let e = fatal(check_with_ca(&format!("rediss://:wrong@localhost:{port}"), Some(&ca)).await);
    assert!(e.contains("WRONGPASS"), "{e}");
}

#[tokio::test]
async fn plain_redis_against_a_tls_port_says_tls() {
    require!(available(), "redis-server not installed");
    let pki = Pki::new();
    let r = start_tls(&pki, SERVER_NAMES);
    let e = check(&format!("redis://:s3cret@{}", r.addr()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("rediss://"), "{e}");
    // Control: the same server over TLS.
    check(&format!("rediss://:s3cret@{}?ssl_cert_reqs=none", r.addr()))
        .await
        .unwrap();
}

#[tokio::test]
async fn rediss_sends_no_password_to_a_server_without_tls() {
    let (addr, seen) = fake::start_recorded(Peer::ReplyThenListen(b"+OK\r\n".to_vec())).await;
    let r = check(&format!("rediss://:s3cr3t-pw@{addr}?ssl_cert_reqs=none")).await;
    assert!(r.is_err(), "{r:?}");
    assert!(
        !seen.contains(b"s3cr3t-pw"),
        "the password went out in cleartext"
    );
    // Control: plain redis:// does send it, so the recording would show it.
    let plain = Probe::new(&parse(&format!("redis://:s3cr3t-pw@{addr}")).unwrap());
    let _ = timeout(Duration::from_secs(1), plain.check()).await;
    assert!(seen.contains(b"s3cr3t-pw"));
}

#[tokio::test]
async fn an_acl_user_logs_in_with_auth_user_password() {
    require!(available(), "redis-server not installed");
    let r = redis(&["--user", "app", "on", ">s3cret", "~*", "&*", "+@all"]).up();
    let a = r.addr();
    check(&format!("redis://app:s3cret@{a}")).await.unwrap();
    // The same password for another user, or no user: refused.
    let e = fatal(check(&format!("redis://other:s3cret@{a}")).await);
    assert!(e.contains("WRONGPASS"), "{e}");
    let e = fatal(check(&format!("redis://:s3cret@{a}")).await);
    assert!(e.contains("AUTH refused"), "{e}");
}

#[tokio::test]
async fn passwords_with_special_characters_reach_the_server_exactly() {
    for pw in ["p@ss", "pa/ss", "p#ss?", "a b,c", "x:y", "100%", "é€"] {
        let (addr, seen) = fake::start_recorded(Peer::ReplyThenListen(b"+OK\r\n".to_vec())).await;
        let encoded: String = pw.bytes().map(|b| format!("%{b:02X}")).collect();
        for url in [
            format!("redis://app:{pw}@{addr}"),
            format!("redis://app:{encoded}@{addr}"),
        ] {
            let _ = timeout(
                Duration::from_secs(2),
                Probe::new(&parse(&url).unwrap()).check(),
            )
            .await;
        }
        let auth = format!("*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n${}\r\n{pw}\r\n", pw.len());
        let bytes = seen.bytes();
        let count = bytes
            .windows(auth.len())
            .filter(|w| *w == auth.as_bytes())
            .count();
        assert_eq!(count, 2, "{pw}: {:?}", String::from_utf8_lossy(&bytes));
    }
}
