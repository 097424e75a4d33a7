//! Redis (`redis://`, and `rediss://` over TLS): RESP2, one command at a time.
//!
//! `rediss://` speaks TLS from the first byte and verifies the certificate
//! against the bundled roots and `PREFLIGHT_CA_FILE` by default, as redis-py
//! does; `?ssl_cert_reqs=none` skips the check, `?ssl_ca_certs=PATH` names the
//! CA, `?ssl_certfile=&ssl_keyfile=` a client certificate (see
//! [`crate::params`]). The password is only ever sent after the handshake.
//!
//! Sends, each as a RESP array and each only after the previous reply:
//! `AUTH [user] password` (ACL `AUTH user password` when the URL names a
//! user, `redis://user:pass@`) when a password was given (in the URL or from
//! `REDISCLI_AUTH`), `SELECT n` when the path names a database, then `PING`.
//! `+PONG` (or a `PONG` bulk string) is ready. Then it closes: every reply
//! has been read, so the close is a plain FIN (`QUIT` is deprecated since
//! Redis 7.2 in favour of just closing).
//!
//! | reply | meaning |
//! | --- | --- |
//! | `+PONG` | ready |
//! | `-LOADING`, `-BUSY`, `-MASTERDOWN`, `-CLUSTERDOWN`, `-TRYAGAIN` | not yet |
//! | `-NOAUTH` without a password | up: see below |
//! | `-WRONGPASS`, any other refusal of `AUTH` (no password configured...) | fatal |
//! | `-ERR ... DB index is out of range` (from `SELECT`) | fatal |
//! | `-DENIED` (protected mode refuses non-loopback clients) | fatal: waiting never helps |
//! | another `-ERR` | not yet, with its text |
//! | anything that is not RESP, EOF before a reply | protocol error |
//!
//! **Without the password the probe is blind to loading.** Redis checks
//! authentication before the loading gate, so a server that requires a
//! password answers `-NOAUTH` from the moment it listens, while it is still
//! loading its dataset (measured on Redis 7.0: 2 M keys gave ~3 s of
//! `-LOADING` to the probe with the password, all of it `-NOAUTH` to the
//! one without). `-NOAUTH` therefore
//! counts as up, as `redis-cli ping` does, and the probe says once, at
//! info, that exact readiness needs the password.
//!
//! Deliberately not checked: replication (`role`), cluster slot coverage
//! beyond `-CLUSTERDOWN`, persistence errors (`-MISCONF` only hits writes),
//! RESP3.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::target::Target;

use super::tls::{self, Stream, Tls};
use super::{ProbeError, net};

/// Said when a plain connection is closed on us: the classic cause is a
/// TLS-only port.
const TLS_HINT: &str = " (a TLS-only port? then write rediss://)";

/// Error prefixes that mean "the server is there but not serving yet".
const NOT_YET: &[&str] = &["LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"];

#[derive(Debug, Clone)]
pub struct Redis {
    target: Target,
    /// `rediss://`: the TLS client, built once.
    tls: Option<Tls>,
    /// The "-NOAUTH hides -LOADING" line is said once per target.
    told_blind: Arc<AtomicBool>,
}

/// One RESP2 reply, as far as the probe cares.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Error(String),
    Bulk(Option<Vec<u8>>),
    Integer(i64),
}

impl Redis {
    pub fn new(target: &Target) -> Self {
        Redis {
            target: target.clone(),
            tls: tls::for_scheme(target),
            told_blind: Arc::new(AtomicBool::new(false)),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        let mut conn = Conn {
            stream: tls::connect(&t.host, t.port, self.tls.as_ref()).await?,
            buf: Vec::new(),
        };
        if let Some(password) = &t.password {
            let mut auth = vec!["AUTH"];
            if let Some(user) = &t.user {
                auth.push(user);
            }
            auth.push(password.expose());
            match conn.call(&auth, "AUTH").await? {
                Reply::Simple(_) => {}
                // AUTH is served while loading; any refusal is the
                // configuration (wrong password, no password set, ACL users
                // on Redis 5), and stays so.
                Reply::Error(e) if !NOT_YET.iter().any(|p| e.starts_with(p)) => {
                    return Err(ProbeError::Fatal(format!("AUTH refused: {e}")));
                }
                other => return Err(unexpected("AUTH", other)),
            }
        }
        if !t.path.is_empty() {
            match conn.call(&["SELECT", &t.path], "SELECT").await? {
                Reply::Simple(_) => {}
                Reply::Error(e) if e.contains("out of range") => {
                    return Err(ProbeError::Fatal(format!("SELECT {}: {e}", t.path)));
                }
                other => return Err(unexpected("SELECT", other)),
            }
        }
        match conn.call(&["PING"], "PING").await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            Reply::Bulk(Some(b)) if b == b"PONG" => Ok(()),
            Reply::Error(e) if e.starts_with("NOAUTH") && t.password.is_none() => {
                if !self.told_blind.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        target = %t.redacted(),
                        "the server requires a password: counting -NOAUTH as up; without the \
                         password, preflight cannot see -LOADING (set it in the URL or REDISCLI_AUTH)"
                    );
                }
                Ok(())
            }
            other => Err(unexpected("PING", other)),
        }
    }
}

/// What a reply other than the expected one means (the module doc's table).
fn unexpected(command: &str, reply: Reply) -> ProbeError {
    match reply {
        Reply::Error(e) if NOT_YET.iter().any(|p| e.starts_with(p)) => ProbeError::NotReady(e),
        Reply::Error(e) if e.starts_with("DENIED") => ProbeError::Fatal(e),
        Reply::Error(e) => ProbeError::NotReady(format!("{command}: {e}")),
        other => ProbeError::Protocol(format!("unexpected reply to {command}: {other:?}")),
    }
}

struct Conn {
    stream: Stream,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
}

impl Conn {
    /// Send one command as a RESP array and read its reply.
    async fn call(&mut self, args: &[&str], what: &str) -> Result<Reply, ProbeError> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| with_hint(net::io_error(e, "redis", what), self.stream.is_tls()))?;
        self.reply(what).await
    }

    async fn reply(&mut self, what: &str) -> Result<Reply, ProbeError> {
        let line = self.line(what).await?;
        let (kind, rest) = match line.split_first() {
            Some((k, r)) => (*k, net::shown(r)),
            None => {
                return Err(ProbeError::Protocol(format!(
                    "empty line in reply to {what}"
                )));
            }
        };
        let number = || rest.parse::<i64>().map_err(|_| garbage(what, &line));
        match kind {
            b'+' => Ok(Reply::Simple(rest)),
            b'-' => Ok(Reply::Error(rest)),
            b':' => Ok(Reply::Integer(number()?)),
            b'$' => {
                let len = number()?;
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > net::MAX_FRAME {
                    return Err(ProbeError::Protocol(format!(
                        "the reply to {what} announces {len} bytes, more than the {} allowed",
                        net::MAX_FRAME
                    )));
                }
                let mut body = self.take(len + 2, what).await?;
                body.truncate(len);
                Ok(Reply::Bulk(Some(body)))
            }
            _ => Err(garbage(what, &line)),
        }
    }

    /// One line without its CRLF, at most [`net::MAX_FRAME`] long.
    async fn line(&mut self, what: &str) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > net::MAX_FRAME {
                return Err(ProbeError::Protocol(format!(
                    "the reply to {what} is a line longer than {} bytes",
                    net::MAX_FRAME
                )));
            }
            self.fill(what).await?;
        }
    }

    /// Exactly `n` bytes (n ≤ MAX_FRAME + 2).
    async fn take(&mut self, n: usize, what: &str) -> Result<Vec<u8>, ProbeError> {
        while self.buf.len() < n {
            self.fill(what).await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn fill(&mut self, what: &str) -> Result<(), ProbeError> {
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| with_hint(net::io_error(e, "redis", what), self.stream.is_tls()))?;
        if n == 0 {
            return Err(ProbeError::Protocol(format!(
                "connection closed before the reply to {what}{}",
                if self.stream.is_tls() { "" } else { TLS_HINT }
            )));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// A reset or broken pipe is the peer hanging up (docker-proxy with nothing
/// behind it): a protocol error like EOF; other errors stay I/O errors.
/// A plain connection the server hung up on: add the classic cause.
fn with_hint(e: ProbeError, tls: bool) -> ProbeError {
    match e {
        ProbeError::Protocol(m) if !tls => ProbeError::Protocol(format!("{m}{TLS_HINT}")),
        e => e,
    }
}

fn garbage(what: &str, line: &[u8]) -> ProbeError {
    let shown = net::shown(&line[..line.len().min(40)]);
    ProbeError::Protocol(format!("not a RESP reply to {what}: \"{shown}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_yet_and_fatal_replies() {
        let e = |s: &str| unexpected("PING", Reply::Error(s.into()));
        assert!(matches!(
            e("LOADING Redis is loading"),
            ProbeError::NotReady(_)
        ));
        assert!(matches!(
            e("BUSY Redis is busy running a script"),
            ProbeError::NotReady(_)
        ));
        assert!(matches!(
            e("MASTERDOWN Link with MASTER is down"),
            ProbeError::NotReady(_)
        ));
        assert!(matches!(
            e("DENIED Redis is running in protected mode"),
            ProbeError::Fatal(_)
        ));
        assert!(matches!(
            unexpected("PING", Reply::Integer(1)),
            ProbeError::Protocol(_)
        ));
    }
}
