//! AMQP 0-9-1 (`amqp://`, and `amqps://` over TLS), as RabbitMQ speaks it.
//!
//! `amqps://` (port 5671) speaks TLS from the first byte and verifies the
//! certificate against the bundled roots and `PREFLIGHT_CA_FILE` by default;
//! RabbitMQ's URI parameters `?verify=verify_none`, `?cacertfile=PATH`,
//! `?certfile=&keyfile=` change that (see [`crate::params`]).
//!
//! Sends the protocol header `AMQP\x00\x00\x09\x01` and reads one frame
//! (type, channel, size, payload, frame-end `0xCE`; the size capped at
//! [`net::MAX_FRAME`]). `Connection.Start` (a method frame on channel 0,
//! class 10, method 10) means the broker is up: RabbitMQ opens its listener
//! only at the end of its boot, so this is close to ready. A protocol header
//! in reply means the server wants another AMQP version; that, and anything
//! else, is a protocol error.
//!
//! **Without credentials** that is all: it closes after `Connection.Start`.
//! RabbitMQ 3.10 logs each such try ("accepting AMQP connection" at info,
//! "client unexpectedly closed TCP connection" at warning); there is no
//! quieter way out before authenticating (a `Connection.Close` in that state
//! is logged as an error, "unexpected method in connection state starting").
//! A probe with credentials leaves only info lines.
//!
//! **With credentials** (`amqp://user:pass@host/vhost`; the vhost is the
//! percent-decoded path, `/` when there is none) it logs in and opens the
//! vhost, then closes the connection properly:
//! `Start-Ok` (PLAIN, with the `authentication_failure_close` capability so
//! that a refusal is explained), `Tune` → `Tune-Ok` (heartbeats off),
//! `Open` → `Open-Ok` = ready, then `Close` / `Close-Ok`. A `Connection.Close`
//! from the broker instead:
//!
//! | reply code | meaning |
//! | --- | --- |
//! | 403 ACCESS_REFUSED (wrong user or password) | fatal |
//! | 530 NOT_ALLOWED (the vhost does not exist yet, or no permission on it yet) | not yet: a definitions import creates both |
//! | any other | not yet, with its text |
//!
//! Deliberately not checked: memory and disk alarms (`connection.blocked`
//! only concerns publishers), queues, the management API, mechanisms other
//! than PLAIN (EXTERNAL with a client certificate).

use tokio::io::AsyncWriteExt;

use crate::target::Target;

use super::tls::{self, Stream, Tls};
use super::{ProbeError, net};

const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xce;
/// Heartbeats skipped while waiting for one method: a peer that sends only
/// heartbeats ends the try.
const MAX_HEARTBEATS: usize = 100;

const CONNECTION: u16 = 10;
const START: u16 = 10;
const START_OK: u16 = 11;
const TUNE: u16 = 30;
const TUNE_OK: u16 = 31;
const OPEN: u16 = 40;
const OPEN_OK: u16 = 41;
const CLOSE: u16 = 50;
const CLOSE_OK: u16 = 51;

const ACCESS_REFUSED: u16 = 403;

#[derive(Debug, Clone)]
pub struct Amqp {
    target: Target,
    /// `amqps://`: the TLS client, built once.
    tls: Option<Tls>,
}

impl Amqp {
    pub fn new(target: &Target) -> Self {
        Amqp {
            target: target.clone(),
            tls: tls::for_scheme(target),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        let mut stream = tls::connect(&t.host, t.port, self.tls.as_ref()).await?;
        stream
            .write_all(PROTOCOL_HEADER)
            .await
            .map_err(|e| net::io_error(e, "amqp", "sending the protocol header"))?;
        let (method, _) = read_method(&mut stream, "Connection.Start").await?;
        if method != (CONNECTION, START) {
            return Err(ProbeError::Protocol(format!(
                "expected Connection.Start, got method {}.{}",
                method.0, method.1
            )));
        }
        if t.has_credentials() {
            login(&mut stream, t).await?;
        }
        Ok(())
    }
}

/// Start-Ok, Tune-Ok, Open; on Open-Ok a clean Close.
async fn login(stream: &mut Stream, t: &Target) -> Result<(), ProbeError> {
    let user = t.user.as_deref().unwrap_or("guest");
    let password = t.password.as_ref().map_or("", |p| p.expose());
    let vhost = if t.path.is_empty() { "/" } else { &t.path };

    let mut args = Vec::new();
    let mut capabilities = Vec::new();
    put_shortstr(&mut capabilities, "authentication_failure_close");
    capabilities.extend_from_slice(b"t\x01");
    let mut properties = Vec::new();
    put_shortstr(&mut properties, "product");
    properties.push(b'S');
    put_longstr(&mut properties, b"preflight");
    put_shortstr(&mut properties, "capabilities");
    properties.push(b'F');
    put_longstr(&mut properties, &capabilities);
    put_longstr(&mut args, &properties);
    put_shortstr(&mut args, "PLAIN");
    put_longstr(&mut args, format!("\0{user}\0{password}").as_bytes());
    put_shortstr(&mut args, "en_US");
    write_method(stream, START_OK, &args).await?;

    let (method, args) = read_method(stream, "Connection.Tune").await?;
    match method {
        (CONNECTION, TUNE) => {}
        (CONNECTION, CLOSE) => return Err(refused(stream, &args, vhost).await),
        _ => return Err(unexpected("Connection.Tune", method)),
    }
    let [c0, c1, f0, f1, f2, f3, ..] = args[..] else {
        return Err(ProbeError::Protocol("Connection.Tune is too short".into()));
    };
    let frame_max = match u32::from_be_bytes([f0, f1, f2, f3]) {
        0 => net::MAX_FRAME as u32,
        n => n.min(net::MAX_FRAME as u32),
    };
    let mut tune_ok = vec![c0, c1];
    tune_ok.extend_from_slice(&frame_max.to_be_bytes());
    tune_ok.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats
    write_method(stream, TUNE_OK, &tune_ok).await?;

    let mut open = Vec::new();
    put_shortstr(&mut open, vhost);
    put_shortstr(&mut open, "");
    open.push(0);
    write_method(stream, OPEN, &open).await?;

    let (method, args) = read_method(stream, "Connection.Open-Ok").await?;
    match method {
        (CONNECTION, OPEN_OK) => {}
        (CONNECTION, CLOSE) => return Err(refused(stream, &args, vhost).await),
        _ => return Err(unexpected("Connection.Open-Ok", method)),
    }
    // Leave as a client should: Close, then wait for Close-Ok.
    let mut close = 200u16.to_be_bytes().to_vec();
    put_shortstr(&mut close, "preflight: ready");
    close.extend_from_slice(&[0, 0, 0, 0]);
    write_method(stream, CLOSE, &close).await?;
    for _ in 0..8 {
        let (method, _) = read_method(stream, "Connection.Close-Ok").await?;
        if method == (CONNECTION, CLOSE_OK) {
            break;
        }
    }
    Ok(())
}

/// The broker closed the connection: answer Close-Ok and say why.
async fn refused(stream: &mut Stream, args: &[u8], vhost: &str) -> ProbeError {
    let _ = write_method(stream, CLOSE_OK, &[]).await;
    let code = args
        .get(..2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let text = args
        .get(2)
        .and_then(|&n| args.get(3..3 + n as usize))
        .map(net::shown)
        .unwrap_or_default();
    let message = format!("{text} (AMQP {code}, vhost '{vhost}')");
    if code == ACCESS_REFUSED {
        ProbeError::Fatal(message)
    } else {
        ProbeError::NotReady(message)
    }
}

fn unexpected(what: &str, method: (u16, u16)) -> ProbeError {
    ProbeError::Protocol(format!(
        "expected {what}, got method {}.{}",
        method.0, method.1
    ))
}

/// The next method frame on channel 0: ((class, method), arguments).
/// Heartbeats are skipped.
async fn read_method(stream: &mut Stream, what: &str) -> Result<((u16, u16), Vec<u8>), ProbeError> {
    for _ in 0..MAX_HEARTBEATS {
        let (kind, payload) = read_frame(stream, what).await?;
        if kind == FRAME_HEARTBEAT {
            continue;
        }
        if kind != FRAME_METHOD || payload.len() < 4 {
            return Err(ProbeError::Protocol(format!(
                "expected a method frame ({what}), got frame type {kind}"
            )));
        }
        let class = u16::from_be_bytes([payload[0], payload[1]]);
        let method = u16::from_be_bytes([payload[2], payload[3]]);
        return Ok(((class, method), payload[4..].to_vec()));
    }
    Err(ProbeError::Protocol(format!(
        "more than {MAX_HEARTBEATS} heartbeats while expecting {what}"
    )))
}

/// One frame on channel 0: (type, payload).
async fn read_frame(stream: &mut Stream, what: &str) -> Result<(u8, Vec<u8>), ProbeError> {
    let header = net::read_exact(stream, 7, what).await?;
    if &header[..4] == b"AMQP" {
        let rest = net::read_exact(stream, 1, what).await.unwrap_or_default();
        let version: Vec<String> = header[4..]
            .iter()
            .chain(&rest)
            .map(|b| b.to_string())
            .collect();
        return Err(ProbeError::Protocol(format!(
            "the server refused AMQP 0-9-1 and offers {}",
            version.join("-")
        )));
    }
    let channel = u16::from_be_bytes([header[1], header[2]]);
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]) as usize;
    if channel != 0 {
        return Err(ProbeError::Protocol(format!(
            "a frame on channel {channel} before any channel was opened"
        )));
    }
    // Payload and frame-end together; read_exact caps the size.
    let mut payload = net::read_exact(stream, size.saturating_add(1), what).await?;
    if payload.pop() != Some(FRAME_END) {
        return Err(ProbeError::Protocol(format!(
            "{what}: the frame does not end with 0xCE (not AMQP?)"
        )));
    }
    Ok((header[0], payload))
}

async fn write_method(stream: &mut Stream, method: u16, args: &[u8]) -> Result<(), ProbeError> {
    let size = (4 + args.len()) as u32;
    let mut frame = vec![FRAME_METHOD, 0, 0];
    frame.extend_from_slice(&size.to_be_bytes());
    frame.extend_from_slice(&CONNECTION.to_be_bytes());
    frame.extend_from_slice(&method.to_be_bytes());
    frame.extend_from_slice(args);
    frame.push(FRAME_END);
    stream
        .write_all(&frame)
        .await
        .map_err(|e| net::io_error(e, "amqp", "sending a method frame"))
}

fn put_shortstr(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn put_longstr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}
