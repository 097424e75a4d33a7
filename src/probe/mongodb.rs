//! MongoDB (`mongodb://`): one `hello` command as OP_MSG.
//!
//! Sends an OP_MSG (opcode 2013, no flags, one body section) holding the
//! BSON document `{hello: 1, $db: "admin"}`, and reads the reply's header
//! (its length capped at [`net::MAX_FRAME`]) and body document. A server
//! older than 4.4.2 does not know `hello` (error 59, CommandNotFound): the
//! probe then asks the same with `{isMaster: 1}`, once. Servers before 3.6
//! (no OP_MSG at all) are not supported.
//!
//! | reply | meaning |
//! | --- | --- |
//! | `ok: 1` | ready; with `#primary=true`, only when `isWritablePrimary` (`ismaster`) is true too |
//! | `ok: 1`, not writable primary, `#primary=true` | not yet: a replica set member still syncing, electing, or a secondary |
//! | `ok: 0` (shutting down, interrupted...) | not yet, with `errmsg` and `codeName` |
//! | another opcode, a length over the cap, bad BSON, EOF | protocol error |
//!
//! Credentials in the URL are not used: `hello` needs none, and the probe
//! does not log in (no SCRAM); it says so once.
//!
//! Deliberately not checked: authentication, `mongodb+srv://` (a DNS SRV
//! lookup), that the database in the path exists, OP_COMPRESSED.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::target::Target;

use super::{ProbeError, net};

const OP_MSG: i32 = 2013;
const COMMAND_NOT_FOUND: i32 = 59;

#[derive(Debug, Clone)]
pub struct Mongodb {
    target: Target,
    /// "credentials are not used" is said once per target.
    told_no_login: Arc<AtomicBool>,
}

impl Mongodb {
    pub fn new(target: &Target) -> Self {
        Mongodb {
            target: target.clone(),
            told_no_login: Arc::new(AtomicBool::new(false)),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        if t.has_credentials() && !self.told_no_login.swap(true, Ordering::Relaxed) {
            tracing::info!(
                target = %t.redacted(),
                "mongodb: the credentials are not checked, only that the server answers hello"
            );
        }
        let mut s = net::connect(&t.host, t.port).await?;
        let mut reply = command(&mut s, "hello").await?;
        if reply.ok != Some(true) && reply.code == Some(COMMAND_NOT_FOUND) {
            reply = command(&mut s, "isMaster").await?;
        }
        match reply.ok {
            Some(true) => {}
            Some(false) => {
                return Err(ProbeError::NotReady(format!(
                    "mongodb: {} ({})",
                    reply.errmsg.as_deref().unwrap_or("ok: 0"),
                    reply.code_name.as_deref().unwrap_or("no code name")
                )));
            }
            None => {
                return Err(ProbeError::Protocol(
                    "the reply to hello has no 'ok' field".into(),
                ));
            }
        }
        if t.expect.primary && !reply.writable_primary {
            return Err(ProbeError::NotReady(match reply.set_name {
                Some(set) => format!("not the writable primary of replica set '{set}' yet"),
                None => "not a writable primary yet".into(),
            }));
        }
        Ok(())
    }
}

/// What the probe reads from a `hello` reply.
#[derive(Debug, Default, PartialEq)]
struct Reply {
    ok: Option<bool>,
    writable_primary: bool,
    errmsg: Option<String>,
    code: Option<i32>,
    code_name: Option<String>,
    set_name: Option<String>,
}

/// Send `{name: 1, $db: "admin"}` and read the reply.
async fn command(s: &mut TcpStream, name: &str) -> Result<Reply, ProbeError> {
    static REQUEST_ID: AtomicI32 = AtomicI32::new(1);
    let mut doc = Vec::new();
    doc.push(0x10); // int32
    cstring(&mut doc, name);
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02); // string
    cstring(&mut doc, "$db");
    doc.extend_from_slice(&6i32.to_le_bytes());
    cstring(&mut doc, "admin");
    doc.push(0);
    let doc_len = (doc.len() + 4) as i32;

    let mut msg = Vec::with_capacity(64);
    let len = 16 + 4 + 1 + doc_len;
    msg.extend_from_slice(&len.to_le_bytes());
    msg.extend_from_slice(&REQUEST_ID.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    msg.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    msg.extend_from_slice(&OP_MSG.to_le_bytes());
    msg.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    msg.push(0); // section kind 0: the body
    msg.extend_from_slice(&doc_len.to_le_bytes());
    msg.extend_from_slice(&doc);
    s.write_all(&msg)
        .await
        .map_err(|e| net::io_error(e, "mongodb", &format!("sending {name}")))?;

    let what = "the reply to hello";
    let header = net::read_exact(s, 16, what).await.map_err(reset)?;
    let int =
        |i: usize| i32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, opcode) = (int(0), int(12));
    if opcode != OP_MSG {
        return Err(ProbeError::Protocol(format!(
            "{what}: opcode {opcode}, expected OP_MSG (2013): not MongoDB 3.6 or later?"
        )));
    }
    let body_len = usize::try_from(len)
        .unwrap_or(0)
        .checked_sub(16)
        .ok_or_else(|| ProbeError::Protocol(format!("{what}: a message length of {len}")))?;
    let body = net::read_exact(s, body_len, what).await.map_err(reset)?;
    // flagBits (4), then sections; the body (kind 0) is the one we need.
    match body.get(4) {
        Some(0) => parse_reply(&body[5..]),
        _ => Err(ProbeError::Protocol(format!(
            "{what}: no body section first"
        ))),
    }
}

fn cstring(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn reset(e: ProbeError) -> ProbeError {
    match e {
        ProbeError::Io { err, .. } => net::io_error(err, "mongodb", "reading the reply to hello"),
        e => e,
    }
}

/// The top-level fields of one BSON document that the probe cares about;
/// every other element is skipped by its type's size.
fn parse_reply(doc: &[u8]) -> Result<Reply, ProbeError> {
    let bad = |why: &str| ProbeError::Protocol(format!("the reply to hello is not BSON: {why}"));
    let declared = doc
        .get(..4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("too short"))?;
    let end = usize::try_from(declared)
        .ok()
        .filter(|&n| n >= 5 && n <= doc.len())
        .ok_or_else(|| bad("a document length out of bounds"))?;
    let doc = &doc[..end];
    let mut reply = Reply::default();
    let mut pos = 4;
    loop {
        let kind = *doc.get(pos).ok_or_else(|| bad("no terminating byte"))?;
        pos += 1;
        if kind == 0 {
            return Ok(reply);
        }
        let name_len = doc[pos..]
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad("an unterminated name"))?;
        let name = &doc[pos..pos + name_len];
        pos += name_len + 1;
        let rest = &doc[pos..];
        let i32_at = |i: usize| {
            rest.get(i..i + 4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| bad("cut short"))
        };
        let size = match kind {
            0x01 | 0x09 | 0x11 | 0x12 => 8,
            0x02 | 0x0d | 0x0e => 4 + usize::try_from(i32_at(0)?).map_err(|_| bad("length"))?,
            0x03 | 0x04 | 0x0f => usize::try_from(i32_at(0)?).map_err(|_| bad("length"))?,
            0x05 => 5 + usize::try_from(i32_at(0)?).map_err(|_| bad("length"))?,
            0x06 | 0x0a | 0x7f | 0xff => 0,
            0x07 => 12,
            0x08 => 1,
            0x0b => {
                let a = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| bad("regex"))?;
                let b = rest[a + 1..]
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| bad("regex"))?;
                a + b + 2
            }
            0x0c => 4 + usize::try_from(i32_at(0)?).map_err(|_| bad("length"))? + 12,
            0x10 => 4,
            0x13 => 16,
            other => return Err(bad(&format!("element type {other:#x}"))),
        };
        let value = rest
            .get(..size)
            .ok_or_else(|| bad("an element past the end"))?;
        let truthy = match kind {
            0x01 => f64::from_le_bytes(value.try_into().unwrap_or_default()) != 0.0,
            0x08 => value[0] != 0,
            0x10 => i32_at(0)? != 0,
            0x12 => value.iter().any(|&b| b != 0),
            _ => false,
        };
        let string = || {
            (kind == 0x02 && size >= 5)
                .then(|| String::from_utf8_lossy(&value[4..size - 1]).into_owned())
        };
        match name {
            b"ok" => reply.ok = Some(truthy),
            b"isWritablePrimary" | b"ismaster" => reply.writable_primary |= truthy,
            b"errmsg" => reply.errmsg = string(),
            b"codeName" => reply.code_name = string(),
            b"setName" => reply.set_name = string(),
            b"code" if kind == 0x10 => reply.code = Some(i32_at(0)?),
            _ => {}
        }
        pos += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document built by hand: {ok: 1.0, isWritablePrimary: true,
    /// setName: "rs0", n: {a: 1}}.
    #[test]
    fn the_fields_that_matter_are_read_and_others_skipped() {
        let mut d = Vec::new();
        d.push(0x01);
        cstring(&mut d, "ok");
        d.extend_from_slice(&1.0f64.to_le_bytes());
        d.push(0x03);
        cstring(&mut d, "n");
        d.extend_from_slice(&[12, 0, 0, 0, 0x10, b'a', 0, 1, 0, 0, 0, 0]);
        d.push(0x08);
        cstring(&mut d, "isWritablePrimary");
        d.push(1);
        d.push(0x02);
        cstring(&mut d, "setName");
        d.extend_from_slice(&4i32.to_le_bytes());
        cstring(&mut d, "rs0");
        d.push(0);
        let mut doc = ((d.len() + 4) as i32).to_le_bytes().to_vec();
        doc.extend_from_slice(&d);
        let r = parse_reply(&doc).unwrap();
        assert_eq!(r.ok, Some(true));
        assert!(r.writable_primary);
        assert_eq!(r.set_name.as_deref(), Some("rs0"));
        // Cut anywhere: an error, never a panic.
        for n in 0..doc.len() {
            let mut cut = doc[..n].to_vec();
            if n >= 4 {
                cut[..4].copy_from_slice(&(n as i32).to_le_bytes());
            }
            assert!(parse_reply(&cut).is_err(), "{n}");
        }
    }
}
