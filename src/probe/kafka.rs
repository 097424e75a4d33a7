//! Kafka (`kafka://`): ApiVersions, then Metadata when the broker has it.
//!
//! Every request and response is a 4-byte big-endian size and that many
//! bytes; a response over [`net::MAX_FRAME`] is a protocol error.
//!
//! 1. `ApiVersions` v0 (key 18; header: key, version, correlation id, client
//!    id `preflight`). An answer with error code 0 means the broker serves
//!    requests; another code is not yet. Every broker since 0.10 answers v0.
//! 2. If the broker lists `Metadata` (key 3) at a version from 4 to 8 (the
//!    last layout before flexible versions; the response starts alike in
//!    all of them), `Metadata` for no topics: ready when it names at least
//!    one broker and a controller (id ≠ −1). A broker that has not joined
//!    the cluster yet, or a KRaft quorum without an elected controller, is
//!    not yet. A broker that closes the connection here (a SASL listener
//!    refuses Metadata before authentication) has answered ApiVersions:
//!    ready.
//!
//! | answer | meaning |
//! | --- | --- |
//! | ApiVersions error 0, Metadata with brokers and a controller | ready |
//! | ApiVersions error ≠ 0, Metadata without a broker or controller | not yet |
//! | a wrong correlation id, a size over the cap, EOF before ApiVersions | protocol error |
//!
//! Deliberately not checked: topics and their leaders, SASL and TLS
//! listeners, that the other brokers listed are reachable.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::target::Target;

use super::{ProbeError, net};

const API_VERSIONS: i16 = 18;
const METADATA: i16 = 3;
const CLIENT_ID: &[u8] = b"preflight";

#[derive(Debug, Clone)]
pub struct Kafka {
    host: String,
    port: u16,
}

impl Kafka {
    pub fn new(target: &Target) -> Self {
        Kafka {
            host: target.host.clone(),
            port: target.port,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let mut s = net::connect(&self.host, self.port).await?;
        let mut r = call(&mut s, API_VERSIONS, 0, 1, &[], "ApiVersions").await?;
        let error = r.i16()?;
        if error != 0 {
            return Err(ProbeError::NotReady(format!(
                "ApiVersions answered with Kafka error code {error}"
            )));
        }
        let mut metadata = None;
        for _ in 0..r.count()? {
            let (key, min, max) = (r.i16()?, r.i16()?, r.i16()?);
            if key == METADATA && min <= 8 && max >= 4 {
                metadata = Some(max.min(8));
            }
        }
        let Some(version) = metadata else {
            return Ok(());
        };
        // No topics (an empty array), no auto-creation, no ACL operations.
        let body: &[u8] = if version >= 8 {
            &[0, 0, 0, 0, 0, 0, 0]
        } else {
            &[0, 0, 0, 0, 0]
        };
        let mut r = match call(&mut s, METADATA, version, 2, body, "Metadata").await {
            Ok(r) => r,
            Err(ProbeError::Protocol(m)) if m.starts_with("connection closed") => {
                tracing::debug!("Metadata refused after ApiVersions (a SASL listener?): {m}");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        r.i32()?; // throttle time
        let brokers = r.count()?;
        for _ in 0..brokers {
            r.i32()?; // node id
            r.string()?; // host
            r.i32()?; // port
            r.string()?; // rack
        }
        r.string()?; // cluster id
        let controller = r.i32()?;
        if brokers == 0 {
            return Err(ProbeError::NotReady("Metadata lists no broker yet".into()));
        }
        if controller < 0 {
            return Err(ProbeError::NotReady(
                "Metadata names no controller yet".into(),
            ));
        }
        Ok(())
    }
}

/// Send one request (header v1) and read its response, checking the
/// correlation id; the reader is left at the response body.
async fn call(
    s: &mut TcpStream,
    key: i16,
    version: i16,
    correlation: i32,
    body: &[u8],
    what: &'static str,
) -> Result<Reader, ProbeError> {
    let mut req = Vec::with_capacity(32 + body.len());
    req.extend_from_slice(&[0; 4]);
    req.extend_from_slice(&key.to_be_bytes());
    req.extend_from_slice(&version.to_be_bytes());
    req.extend_from_slice(&correlation.to_be_bytes());
    req.extend_from_slice(&(CLIENT_ID.len() as i16).to_be_bytes());
    req.extend_from_slice(CLIENT_ID);
    req.extend_from_slice(body);
    let size = (req.len() - 4) as u32;
    req[..4].copy_from_slice(&size.to_be_bytes());
    s.write_all(&req)
        .await
        .map_err(|e| net::io_error(e, "kafka", &format!("sending {what}")))?;
    let size = net::read_exact(s, 4, what).await.map_err(reset(what))?;
    let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
    let bytes = net::read_exact(s, size, what).await.map_err(reset(what))?;
    let mut r = Reader {
        bytes,
        pos: 0,
        what: what.to_string(),
    };
    let got = r.i32()?;
    if got != correlation {
        return Err(ProbeError::Protocol(format!(
            "{what}: correlation id {got}, expected {correlation} (not Kafka?)"
        )));
    }
    Ok(r)
}

fn reset(what: &'static str) -> impl Fn(ProbeError) -> ProbeError {
    move |e| match e {
        ProbeError::Io { err, .. } => net::io_error(err, "kafka", &format!("reading {what}")),
        e => e,
    }
}

/// Big-endian fields of one response, each read checked against its end.
struct Reader {
    bytes: Vec<u8>,
    pos: usize,
    what: String,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&[u8], ProbeError> {
        let end = self.pos.saturating_add(n);
        let slice = self.bytes.get(self.pos..end).ok_or_else(|| {
            ProbeError::Protocol(format!("{}: the response is cut short", self.what))
        })?;
        self.pos = end;
        Ok(slice)
    }

    fn i16(&mut self) -> Result<i16, ProbeError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, ProbeError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array length: −1 (null) counts as empty; one larger than what is
    /// left cannot be true.
    fn count(&mut self) -> Result<usize, ProbeError> {
        let n = self.i32()?;
        let n = usize::try_from(n).unwrap_or(0);
        if n > self.bytes.len() - self.pos {
            return Err(ProbeError::Protocol(format!(
                "{}: an array of {n} items in a {}-byte response",
                self.what,
                self.bytes.len()
            )));
        }
        Ok(n)
    }

    /// A (nullable) string, skipped.
    fn string(&mut self) -> Result<(), ProbeError> {
        let n = self.i16()?;
        if n > 0 {
            self.take(n as usize)?;
        }
        Ok(())
    }
}
