//! The MQTT probe against the machine's Mosquitto (127.0.0.1:1883),
//! mosquitto instances of the test's own (password file, TLS listener), and
//! fake peers.

use std::time::Duration;

use preflight::probe::ProbeError;
use preflight::target::parse;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::instance::Instance;
use crate::support::pki::Pki;
use crate::support::probe::{self, check, check_target, fatal};
use crate::support::{expect_exit, have_program, listening, preflight};

const SHARED: &str = "127.0.0.1:1883";

/// A mosquitto of the test's own: anonymous clients refused, user `app`
/// with password `s3cret`; `extra` lines added to its configuration.
fn mosquitto(extra: &str) -> Instance {
    let extra = extra.to_string();
    Instance::new("mosquitto", move |port, dir| {
        let passwd = dir.join("passwd");
        let status = std::process::Command::new("mosquitto_passwd")
            .args(["-b", "-c", passwd.to_str().unwrap(), "app", "s3cret"])
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "user root\nlistener {port} 127.0.0.1\nallow_anonymous false\n\
                 password_file {}\n{extra}",
                passwd.display()
            ),
        )
        .unwrap();
        vec!["-c".into(), conf.to_str().unwrap().into()]
    })
}

fn available() -> bool {
    have_program("mosquitto") && have_program("mosquitto_passwd")
}

#[tokio::test]
async fn the_shared_broker_accepts() {
    require!(listening(SHARED), "no Mosquitto on {SHARED}");
    check(&format!("mqtt://{SHARED}")).await.unwrap();
    check(SHARED).await.unwrap();
}

#[tokio::test]
async fn credentials_right_wrong_and_absent() {
    require!(available(), "mosquitto not installed");
    let m = mosquitto("").up();
    let a = m.addr();
    check(&format!("mqtt://app:s3cret@{a}")).await.unwrap();
    let shown = fatal(check(&format!("mqtt://app:hunter2@{a}")).await);
    assert!(shown.contains("CONNACK 5"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    // Anonymous refused with 5: the broker is up.
    check(&format!("mqtt://{a}")).await.unwrap();
}

#[tokio::test]
async fn a_broker_started_after_probing_began_is_noticed() {
    require!(available(), "mosquitto not installed");
    let mut m = mosquitto("");
    let url = format!("mqtt://app:s3cret@{}", m.addr());
    probe::noticed_once_started(&url, Duration::from_secs(20), || m.spawn_once()).await;
}

#[tokio::test]
async fn mqtts_with_a_certificate_from_the_ca_file() {
    require!(available(), "mosquitto not installed");
    let pki = Pki::new();
    let dir = crate::support::TempDir::new();
    let (cert_file, key_file) = pki.issue(&["localhost"], false).write(&dir, "server");
    let m = mosquitto(&format!(
        "certfile {}\nkeyfile {}\n",
        cert_file.display(),
        key_file.display()
    ))
    .up();
    let url = format!("mqtts://app:s3cret@localhost:{}", m.port());
    let mut target = parse(&url).unwrap();
    // Not trusted without the CA file: fatal, and says how to fix it.
    let e = fatal(check_target(&target).await);
    assert!(e.contains("PREFLIGHT_CA_FILE"), "{e}");
    target.ca_file = Some(pki.ca_file(&dir));
    check_target(&target).await.unwrap();
}

#[test]
fn wrong_credentials_end_the_wait_with_the_reason_and_no_secret() {
    require!(available(), "mosquitto not installed");
    let m = mosquitto("").up();
    let url = format!("mqtt://app:hunter2@{}", m.addr());
    let stderr = expect_exit(1, preflight().args(["wait", &url, "--timeout", "30s"]));
    assert!(stderr.contains("not authorized"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// ---- fake peers ----

async fn connack(code: u8, url_auth: &str) -> Result<(), ProbeError> {
    let peer = Peer::ReplyThenClose(vec![0x20, 0x02, 0x00, code]);
    fake::check("mqtt", url_auth, peer).await
}

#[tokio::test]
async fn connack_codes_are_classified() {
    assert!(connack(0, "").await.is_ok());
    let r = connack(3, "u:p@").await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
    let r = connack(4, "u:p@").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    let r = connack(5, "u:p@").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
    assert!(connack(5, "").await.is_ok());
    let r = connack(1, "").await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(vec![0x20, 0x02]),
        Peer::ReplyThenClose(vec![0x20, 0xff, 0xff, 0xff, 0x7f]),
    ];
    fake::assert_protocol_errors("mqtt", peers).await;
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("mqtt").await;
    fake::assert_trickling_peer_leaves_the_try_pending("mqtt", &[0x20, 0x02, 0x00]).await;
}
