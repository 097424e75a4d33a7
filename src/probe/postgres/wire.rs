//! The PostgreSQL message codec: frontend messages built whole (nothing is
//! ever sent half-written, so the server never logs "incomplete startup
//! packet"), backend messages read with the `net::MAX_FRAME` cap, and the
//! fields of an ErrorResponse ([`ServerError`]). No decisions: what a message
//! means is [`super::session`]'s and the probe's business.

use tokio::io::AsyncWriteExt;

use super::super::ProbeError;
use super::super::net::{self, MAX_FRAME};
use super::super::tls::Stream;

/// Protocol 3.0.
const PROTOCOL_VERSION: u32 = 3 << 16;

/// Messages read between two points of interest (notices, parameter
/// statuses): a peer streaming endless small messages ends the try.
pub(super) const MAX_MESSAGES: usize = 1000;

/// The fields of an ErrorResponse that a reason needs.
#[derive(Debug, Default)]
pub(crate) struct ServerError {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) detail: String,
}

impl ServerError {
    pub(crate) fn parse(body: &[u8]) -> ServerError {
        let mut e = ServerError::default();
        for field in body.split(|&b| b == 0) {
            let Some((&tag, value)) = field.split_first() else {
                continue;
            };
            let value = net::shown(value);
            match tag {
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = value,
                _ => {}
            }
        }
        if e.message.is_empty() {
            e.message = "error without a message".into();
        }
        e
    }
}

impl std::fmt::Display for ServerError {
    /// `the database system is not accepting connections: Hot standby mode
    /// is disabled. (57P03)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if !self.code.is_empty() {
            write!(f, " ({})", self.code)?;
        }
        Ok(())
    }
}

pub(super) fn startup_message(user: &str, database: Option<&str>) -> Vec<u8> {
    let mut body = PROTOCOL_VERSION.to_be_bytes().to_vec();
    let mut param = |k: &str, v: &str| {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    };
    param("user", user);
    if let Some(db) = database {
        param("database", db);
    }
    param("application_name", "preflight");
    param("client_encoding", "UTF8");
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// A typed frontend message: type byte, length (itself included), body.
pub(super) fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(kind);
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Write a whole message at once: never leave the server a partial packet.
pub(super) async fn send(stream: &mut Stream, bytes: &[u8]) -> Result<(), ProbeError> {
    stream
        .write_all(bytes)
        .await
        .map_err(ProbeError::io("send"))
}

/// Terminate, then close. Errors do not matter any more.
pub(super) async fn terminate(stream: &mut Stream) {
    let _ = stream.write_all(&message(b'X', &[])).await;
    let _ = stream.shutdown().await;
}

/// One backend message: type byte and body, the body capped at
/// [`MAX_FRAME`].
pub(super) async fn read_message(stream: &mut Stream) -> Result<(u8, Vec<u8>), ProbeError> {
    let head = net::read_exact(stream, 5, "the server's answer").await?;
    let kind = head[0];
    if !kind.is_ascii_alphabetic() {
        return Err(not_postgres(kind));
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len < 4 {
        return Err(ProbeError::Protocol(format!(
            "message {} with a length of {len}",
            tag(kind)
        )));
    }
    if len - 4 > MAX_FRAME {
        return Err(ProbeError::Protocol(format!(
            "message {} announces {len} bytes, more than the {MAX_FRAME} allowed",
            tag(kind)
        )));
    }
    let body = net::read_exact(stream, len - 4, "the end of a message").await?;
    Ok((kind, body))
}

pub(super) fn auth_code(body: &[u8]) -> Result<u32, ProbeError> {
    body.get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| ProbeError::Protocol("authentication request without a code".into()))
}

/// NUL-terminated strings up to the first empty one.
pub(super) fn cstrings(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0)
        .take_while(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// The first column of a DataRow (None for SQL NULL).
pub(super) fn first_column(body: &[u8]) -> Result<Option<String>, ProbeError> {
    let bad = || ProbeError::Protocol("malformed DataRow".into());
    let count = body.get(..2).ok_or_else(bad)?;
    if u16::from_be_bytes([count[0], count[1]]) == 0 {
        return Ok(None);
    }
    let len = body.get(2..6).ok_or_else(bad)?;
    let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    if len < 0 {
        return Ok(None);
    }
    let value = body.get(6..6 + len as usize).ok_or_else(bad)?;
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

pub(super) fn not_postgres(kind: u8) -> ProbeError {
    ProbeError::Protocol(format!(
        "not a PostgreSQL answer (message type {})",
        tag(kind)
    ))
}

pub(super) fn too_many_messages() -> ProbeError {
    ProbeError::Protocol(format!(
        "more than {MAX_MESSAGES} messages without the expected one"
    ))
}

/// A message type byte for an error: `'E'`, `'\x00'`.
pub(super) fn tag(b: u8) -> String {
    format!("'{}'", net::shown(&[b]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_responses_read_as_one_line() {
        let body = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is not accepting connections\0DHot standby mode is disabled.\0\0";
        assert_eq!(
            ServerError::parse(body).to_string(),
            "the database system is not accepting connections: Hot standby mode is disabled. (57P03)"
        );
        let forged = ServerError::parse(b"C28P01\0Mno\nINFO preflight: ready\0\0");
        assert!(!forged.to_string().contains('\n'), "{forged}");
    }

    #[test]
    fn startup_message_is_length_prefixed_and_terminated() {
        let m = startup_message("postgres", None);
        assert_eq!(
            u32::from_be_bytes(m[..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(&m[4..8], &PROTOCOL_VERSION.to_be_bytes());
        assert!(m.ends_with(b"\0\0"));
    }
}
