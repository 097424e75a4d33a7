//! MQTT (`mqtt://`, and `mqtts://` over TLS): MQTT 3.1.1, one CONNECT.
//!
//! Sends a CONNECT packet (protocol `MQTT` level 4, clean session, keep-alive
//! 10 s, client id `preflight-<pid>-<n>`, the user name and password when
//! given) and reads the 4-byte CONNACK `20 02 flags code`. On code 0 it sends
//! DISCONNECT `e0 00` and closes: the broker logs a clean disconnect.
//! `mqtts://` does the same over TLS (see [`super::tls`]: bundled roots plus
//! `PREFLIGHT_CA_FILE`, certificate problems fatal).
//!
//! | CONNACK code | meaning |
//! | --- | --- |
//! | 0 accepted | ready |
//! | 3 server unavailable | not yet |
//! | 4 bad user name or password, 5 not authorized, with credentials | fatal |
//! | 5 not authorized, without credentials | up: the broker serves clients that have them (`allow_anonymous false`; Mosquitto answers 5, measured), said once |
//! | 1 protocol level refused, 2 client id refused | fatal |
//! | another packet, a length other than 2, EOF | protocol error |
//!
//! Deliberately not checked: MQTT 5 (a 5.0 broker accepts 3.1.1), subscribe
//! or publish rights, WebSocket transports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::target::Target;

use super::tls::{self, Options, Tls};
use super::{ProbeError, net};

const CONNACK: u8 = 0x20;
const DISCONNECT: [u8; 2] = [0xe0, 0x00];

#[derive(Debug, Clone)]
pub struct Mqtt {
    target: Target,
    tls: Option<Tls>,
    /// "up, but credentials would make it exact" is said once per target.
    told_up: Arc<AtomicBool>,
}

impl Mqtt {
    pub fn new(target: &Target) -> Self {
        let tls = target.tls.then(|| {
            let options = Options {
                extra_ca: target.ca_file.clone(),
                ..Options::default()
            };
            Tls::with_options(&target.host, &options)
        });
        Mqtt {
            target: target.clone(),
            tls,
            told_up: Arc::new(AtomicBool::new(false)),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let stream = tls::connect(&self.target.host, self.target.port, self.tls.as_ref()).await?;
        self.exchange(stream).await
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut s: S,
    ) -> Result<(), ProbeError> {
        let t = &self.target;
        s.write_all(&connect_packet(t))
            .await
            .map_err(|e| net::io_error(e, "mqtt", "sending CONNECT"))?;
        let ack = net::read_exact(&mut s, 4, "CONNACK").await.map_err(reset)?;
        if ack[0] != CONNACK || ack[1] != 2 {
            return Err(ProbeError::Protocol(format!(
                "expected CONNACK (20 02 ..), got {:02x} {:02x}",
                ack[0], ack[1]
            )));
        }
        match ack[3] {
            0 => {
                let _ = s.write_all(&DISCONNECT).await;
                let _ = s.shutdown().await;
                Ok(())
            }
            3 => Err(ProbeError::NotReady("CONNACK 3: server unavailable".into())),
            5 if !t.has_credentials() => {
                if !self.told_up.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        target = %t.redacted(),
                        "the MQTT broker refuses anonymous clients: counting its CONNACK 5 as \
                         up; give the credentials in the URL to check that they are accepted"
                    );
                }
                Ok(())
            }
            code => Err(ProbeError::Fatal(format!(
                "the MQTT broker refused the connection: CONNACK {code}, {}",
                match code {
                    1 => "unacceptable protocol version (3.1.1)",
                    2 => "client identifier rejected",
                    4 => "bad user name or password",
                    5 => "not authorized",
                    _ => "unknown return code",
                }
            ))),
        }
    }
}

/// The CONNECT packet: carries the password, so it is never logged.
fn connect_packet(t: &Target) -> Vec<u8> {
    static N: AtomicU32 = AtomicU32::new(0);
    let client_id = format!(
        "preflight-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut flags = 0x02; // clean session
    let mut body = Vec::new();
    put_str(&mut body, b"MQTT");
    body.push(4); // protocol level: 3.1.1
    let flags_at = body.len();
    body.push(0);
    body.extend_from_slice(&10u16.to_be_bytes()); // keep-alive
    put_str(&mut body, client_id.as_bytes());
    // A password alone is sent with an empty user name: 3.1.1 needs one.
    if let Some(user) = t.user.as_deref().or(t.password.as_ref().map(|_| "")) {
        flags |= 0x80;
        put_str(&mut body, user.as_bytes());
    }
    if let Some(password) = &t.password {
        flags |= 0x40;
        put_str(&mut body, password.expose().as_bytes());
    }
    body[flags_at] = flags;
    let mut packet = vec![0x10];
    // Remaining length: 7 bits a byte, least significant first.
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        packet.push(byte);
        if len == 0 {
            break;
        }
    }
    packet.extend_from_slice(&body);
    packet
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    let s = &s[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// A reset is the peer hanging up, like EOF: a protocol error.
fn reset(e: ProbeError) -> ProbeError {
    match e {
        ProbeError::Io { err, .. } => net::io_error(err, "mqtt", "reading CONNACK"),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_carries_the_credentials_in_3_1_1_layout() {
        let t = crate::target::parse("mqtt://u:pw@broker").unwrap();
        let p = connect_packet(&t);
        assert_eq!(p[0], 0x10);
        assert_eq!(p[1] as usize, p.len() - 2);
        assert_eq!(&p[2..9], b"\x00\x04MQTT\x04");
        assert_eq!(p[9], 0x80 | 0x40 | 0x02);
        assert!(p.ends_with(b"\x00\x01u\x00\x02pw"));
        let anonymous = connect_packet(&crate::target::parse("mqtt://broker").unwrap());
        assert_eq!(anonymous[9], 0x02);
    }
}
