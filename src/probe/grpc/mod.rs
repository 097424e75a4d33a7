//! gRPC (`grpc://`, and `grpcs://` over TLS with ALPN `h2`): the standard
//! health check, `grpc.health.v1.Health/Check`, answered `SERVING`.
//!
//! A hand-written HTTP/2 client for one stream (an h2 crate would cost more
//! than this whole file; see the README's sizes). It sends, in one write,
//! the connection preface, an empty SETTINGS frame, a HEADERS frame
//! (`POST /grpc.health.v1.Health/Check`, `content-type: application/grpc`,
//! `te: trailers`, as literals: see [`hpack`]) and a DATA frame ending the
//! stream with the `HealthCheckRequest` (`service` = the URL's path without
//! its `/`; none: the server as a whole). Then it reads frames, each at most
//! 16 384 bytes (the default it never raises), at most [`MAX_FRAMES`] of
//! them: SETTINGS are acknowledged, PINGs answered, the rest of the
//! connection's frames skipped, and stream 1's headers and data read until
//! the answer is known. It leaves with GOAWAY.
//!
//! | the server answers | meaning |
//! | --- | --- |
//! | a `HealthCheckResponse` with status `SERVING` (1) | ready |
//! | `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN` | not yet |
//! | `grpc-status` 5 NOT_FOUND (the service is not registered yet), 14 UNAVAILABLE, another code | not yet, with `grpc-message` |
//! | `grpc-status` 12 UNIMPLEMENTED (no health service), 16 UNAUTHENTICATED, 7 PERMISSION_DENIED | fatal |
//! | an HTTP status other than 200 (a proxy with no backend), RST_STREAM, GOAWAY | not yet |
//! | no SETTINGS first (not HTTP/2: an HTTP/1 port), a frame over the cap, bad HPACK | protocol error |
//!
//! Deliberately not done: `Watch`, compression, flow control beyond the
//! defaults (the answer is a few bytes), credentials.

pub mod hpack;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::target::Target;

use super::tls::{self, Options, Tls};
use super::{ProbeError, net};

/// How many frames one try reads before giving up on the answer.
pub const MAX_FRAMES: usize = 64;
/// HTTP/2's default SETTINGS_MAX_FRAME_SIZE, which we never raise.
const MAX_FRAME_SIZE: usize = 16_384;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const CONTINUATION: u8 = 9;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

#[derive(Debug, Clone)]
pub struct Grpc {
    host: String,
    port: u16,
    service: String,
    tls: Option<Tls>,
}

impl Grpc {
    pub fn new(target: &Target) -> Self {
        let tls = target.tls.then(|| {
            let options = Options {
                extra_ca: target.ca_file.clone(),
                alpn: vec![b"h2".to_vec()],
                ..Options::default()
            };
            Tls::with_options(&target.host, &options)
        });
        Grpc {
            host: target.host.clone(),
            port: target.port,
            service: target.path.clone(),
            tls,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let stream = tls::connect(&self.host, self.port, self.tls.as_ref()).await?;
        self.exchange(stream).await
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut s: S,
    ) -> Result<(), ProbeError> {
        s.write_all(&self.request())
            .await
            .map_err(|e| net::io_error(e, "grpc", "sending the health check"))?;
        let mut answer = Answer::default();
        let mut decoder = hpack::Decoder::new();
        let mut block: Option<(Vec<u8>, bool)> = None;
        for n in 0..MAX_FRAMES {
            let (kind, flags, stream, payload) = read_frame(&mut s).await?;
            if n == 0 && kind != SETTINGS {
                return Err(ProbeError::Protocol(
                    "the server's first frame is not SETTINGS: not HTTP/2 (an HTTP/1 port?)".into(),
                ));
            }
            let verdict = match (kind, stream) {
                (SETTINGS, 0) if flags & ACK == 0 => {
                    s.write_all(&frame(SETTINGS, ACK, 0, &[]))
                        .await
                        .map_err(|e| net::io_error(e, "grpc", "acknowledging SETTINGS"))?;
                    None
                }
                (PING, 0) if flags & ACK == 0 => {
                    s.write_all(&frame(PING, ACK, 0, &payload))
                        .await
                        .map_err(|e| net::io_error(e, "grpc", "answering PING"))?;
                    None
                }
                (GOAWAY, 0) => Some(Err(ProbeError::NotReady(format!(
                    "the server is going away (GOAWAY, error code {})",
                    be32(payload.get(4..8))
                )))),
                (RST_STREAM, 1) => Some(Err(ProbeError::NotReady(format!(
                    "the server reset the call (RST_STREAM, error code {})",
                    be32(payload.get(..4))
                )))),
                (HEADERS, 1) => {
                    let fragment = unpad(&payload, flags, true)?;
                    block = Some((fragment.to_vec(), flags & END_STREAM != 0));
                    if flags & END_HEADERS != 0 {
                        self.headers(&mut decoder, &mut answer, block.take())?
                    } else {
                        None
                    }
                }
                (CONTINUATION, 1) => {
                    let Some((mut b, end)) = block.take() else {
                        return Err(ProbeError::Protocol("CONTINUATION without HEADERS".into()));
                    };
                    if b.len() + payload.len() > net::MAX_FRAME {
                        return Err(ProbeError::Protocol("a header block over the cap".into()));
                    }
                    b.extend_from_slice(&payload);
                    block = Some((b, end));
                    if flags & END_HEADERS != 0 {
                        self.headers(&mut decoder, &mut answer, block.take())?
                    } else {
                        None
                    }
                }
                (DATA, 1) => {
                    answer
                        .message
                        .extend_from_slice(unpad(&payload, flags, false)?);
                    if answer.message.len() > net::MAX_FRAME {
                        return Err(ProbeError::Protocol("a response over the cap".into()));
                    }
                    match health(&answer.message)? {
                        // SERVING decides at once; anything else waits for
                        // the trailers, whose grpc-status goes first (a
                        // server may send an empty response with NOT_FOUND).
                        Some(Ok(())) => Some(Ok(())),
                        Some(Err(e)) => {
                            answer.health = Some(e);
                            (flags & END_STREAM != 0).then(|| answer.ended(&self.service))
                        }
                        None if flags & END_STREAM != 0 => Some(answer.ended(&self.service)),
                        None => None,
                    }
                }
                _ => None,
            };
            if let Some(verdict) = verdict {
                // Leave politely: GOAWAY, no error.
                let _ = s.write_all(&frame(GOAWAY, 0, 0, &[0; 8])).await;
                let _ = s.shutdown().await;
                return verdict;
            }
        }
        Err(ProbeError::Protocol(format!(
            "no answer to the health check within {MAX_FRAMES} frames"
        )))
    }

    /// A complete header block of stream 1: the response's headers, or its
    /// trailers (which end the call).
    fn headers(
        &self,
        decoder: &mut hpack::Decoder,
        answer: &mut Answer,
        block: Option<(Vec<u8>, bool)>,
    ) -> Result<Option<Result<(), ProbeError>>, ProbeError> {
        let Some((block, end)) = block else {
            return Ok(None);
        };
        let fields = decoder
            .decode(&block)
            .map_err(|e| ProbeError::Protocol(format!("HPACK: {e}")))?;
        for (name, value) in fields {
            let value = String::from_utf8_lossy(&value).into_owned();
            match &name[..] {
                b":status" => answer.status = Some(value),
                b"grpc-status" => answer.grpc_status = value.parse().ok(),
                b"grpc-message" => answer.grpc_message = Some(value),
                _ => {}
            }
        }
        if let Some(status) = answer.status.as_deref().filter(|s| *s != "200") {
            return Ok(Some(Err(ProbeError::NotReady(format!(
                "HTTP/2 status {} (not a gRPC answer: a proxy without a backend?)",
                net::shown(status.as_bytes())
            )))));
        }
        Ok(end.then(|| answer.ended(&self.service)))
    }

    /// Preface, SETTINGS, HEADERS, DATA.
    fn request(&self) -> Vec<u8> {
        let authority = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut block = Vec::new();
        for (name, value) in [
            (":method", "POST"),
            (":scheme", if self.tls.is_some() { "https" } else { "http" }),
            (":path", "/grpc.health.v1.Health/Check"),
            (":authority", &authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            (
                "user-agent",
                concat!("preflight/", env!("CARGO_PKG_VERSION")),
            ),
        ] {
            hpack::encode_literal(&mut block, name, value);
        }
        // HealthCheckRequest { string service = 1 }, in a gRPC message.
        let mut message = Vec::new();
        if !self.service.is_empty() {
            let service = &self.service.as_bytes()[..self.service.len().min(1000)];
            message.push(0x0a);
            let mut len = service.len();
            while len >= 0x80 {
                message.push((len as u8) | 0x80);
                len >>= 7;
            }
            message.push(len as u8);
            message.extend_from_slice(service);
        }
        let mut data = vec![0];
        data.extend_from_slice(&(message.len() as u32).to_be_bytes());
        data.extend_from_slice(&message);

        let mut out = PREFACE.to_vec();
        out.extend_from_slice(&frame(SETTINGS, 0, 0, &[]));
        out.extend_from_slice(&frame(HEADERS, END_HEADERS, 1, &block));
        out.extend_from_slice(&frame(DATA, END_STREAM, 1, &data));
        out
    }
}

/// What stream 1 said so far.
#[derive(Debug, Default)]
struct Answer {
    status: Option<String>,
    grpc_status: Option<u32>,
    grpc_message: Option<String>,
    message: Vec<u8>,
    /// The status in a complete response message other than SERVING.
    health: Option<ProbeError>,
}

impl Answer {
    /// The call ended: a non-zero `grpc-status` says why, else the status
    /// in the response message.
    fn ended(&mut self, service: &str) -> Result<(), ProbeError> {
        if matches!(self.grpc_status, Some(0) | None)
            && let Some(e) = self.health.take()
        {
            return Err(e);
        }
        let message = self
            .grpc_message
            .as_deref()
            .map(|m| format!(": {}", net::shown(m.as_bytes())))
            .unwrap_or_default();
        let shown = if service.is_empty() {
            "the server"
        } else {
            service
        };
        match self.grpc_status {
            Some(0) | None => Err(ProbeError::Protocol(
                "the health check ended without a response message".into(),
            )),
            Some(5) => Err(ProbeError::NotReady(format!(
                "the health service does not know {shown} yet (NOT_FOUND{message})"
            ))),
            Some(12) => Err(ProbeError::Fatal(format!(
                "the server has no health service: grpc.health.v1.Health/Check is UNIMPLEMENTED{message}"
            ))),
            Some(code @ (7 | 16)) => Err(ProbeError::Fatal(format!(
                "the health check was refused (grpc-status {code}{message})"
            ))),
            Some(code) => Err(ProbeError::NotReady(format!("gRPC status {code}{message}"))),
        }
    }
}

/// The verdict of a complete gRPC message holding a HealthCheckResponse;
/// None until the message is complete.
fn health(message: &[u8]) -> Result<Option<Result<(), ProbeError>>, ProbeError> {
    let Some(head) = message.get(..5) else {
        return Ok(None);
    };
    if head[0] != 0 {
        return Err(ProbeError::Protocol(
            "a compressed response, which was not asked for".into(),
        ));
    }
    let len = be32(Some(&head[1..5])) as usize;
    let Some(body) = message.get(5..5 + len) else {
        return Ok(None);
    };
    // HealthCheckResponse { ServingStatus status = 1 }: a varint; other
    // fields skipped. Absent: 0, UNKNOWN.
    let mut status = 0u64;
    let mut pos = 0;
    let bad = || ProbeError::Protocol("the health response is not protobuf".into());
    let varint = |pos: &mut usize| -> Result<u64, ProbeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *body.get(*pos).ok_or_else(bad)?;
            *pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad())
    };
    while pos < body.len() {
        let key = varint(&mut pos)?;
        match key & 7 {
            0 => {
                let v = varint(&mut pos)?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            1 => pos += 8,
            2 => {
                let n = varint(&mut pos)? as usize;
                pos = pos.saturating_add(n);
            }
            5 => pos += 4,
            _ => return Err(bad()),
        }
    }
    if pos > body.len() {
        return Err(bad());
    }
    Ok(Some(match status {
        1 => Ok(()),
        2 => Err(ProbeError::NotReady("NOT_SERVING".into())),
        3 => Err(ProbeError::NotReady("SERVICE_UNKNOWN".into())),
        0 => Err(ProbeError::NotReady("UNKNOWN".into())),
        other => Err(ProbeError::NotReady(format!("health status {other}"))),
    }))
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// One frame: (type, flags, stream, payload).
async fn read_frame<S: AsyncRead + Unpin>(s: &mut S) -> Result<(u8, u8, u32, Vec<u8>), ProbeError> {
    let what = "an HTTP/2 frame";
    let h = net::read_exact(s, 9, what).await.map_err(hang_up)?;
    let len = usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
    if len > MAX_FRAME_SIZE {
        return Err(ProbeError::Protocol(format!(
            "a frame of {len} bytes, over HTTP/2's {MAX_FRAME_SIZE} (not HTTP/2?)"
        )));
    }
    let stream = be32(Some(&h[5..9])) & 0x7fff_ffff;
    let payload = net::read_exact(s, len, what).await.map_err(hang_up)?;
    Ok((h[3], h[4], stream, payload))
}

fn hang_up(e: ProbeError) -> ProbeError {
    match e {
        ProbeError::Io { err, .. } => net::io_error(err, "grpc", "reading a frame"),
        e => e,
    }
}

/// HEADERS/DATA payload without padding (and a HEADERS priority block).
fn unpad(payload: &[u8], flags: u8, headers: bool) -> Result<&[u8], ProbeError> {
    let bad = || ProbeError::Protocol("a frame's padding is longer than the frame".into());
    let (mut start, mut end) = (0, payload.len());
    if flags & PADDED != 0 {
        let pad = usize::from(*payload.first().ok_or_else(bad)?);
        start = 1;
        end = end.checked_sub(pad).ok_or_else(bad)?;
    }
    if headers && flags & PRIORITY != 0 {
        start += 5;
    }
    payload.get(start..end).ok_or_else(bad)
}

fn be32(b: Option<&[u8]>) -> u32 {
    b.and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_messages() {
        let msg = |body: &[u8]| {
            let mut m = vec![0, 0, 0, 0, body.len() as u8];
            m.extend_from_slice(body);
            m
        };
        assert!(matches!(health(&msg(&[0x08, 0x01])), Ok(Some(Ok(())))));
        assert!(matches!(
            health(&msg(&[0x08, 0x02])),
            Ok(Some(Err(ProbeError::NotReady(_))))
        ));
        assert!(matches!(
            health(&msg(&[])),
            Ok(Some(Err(ProbeError::NotReady(_))))
        ));
        assert!(matches!(
            health(&msg(&[0x12, 0x01, 0x00, 0x08, 0x01])),
            Ok(Some(Ok(())))
        ));
        assert!(matches!(health(&msg(&[0x08, 0x01])[..6]), Ok(None)));
        assert!(health(&msg(&[0x12, 0x09])).is_err());
        assert!(health(&[1, 0, 0, 0, 0]).is_err());
    }
}
