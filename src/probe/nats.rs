//! NATS (`nats://`): the server speaks first.
//!
//! Reads the server's `INFO {json}` line, then sends
//!
//! ```text
//! CONNECT {"verbose":false,"pedantic":false,"name":"preflight",...,
//!          "user":..,"pass":..  |  "auth_token":..}\r\n
//! PING\r\n
//! ```
//!
//! and reads lines until `PONG` = ready (answering a `PING` of the server's,
//! skipping `+OK` and later `INFO` lines, at most [`MAX_LINES`]). Every line
//! is capped at [`net::MAX_FRAME`] bytes.
//!
//! `nats://user:pass@host` sends a user and password; `nats://token@host`
//! (a user-info without `:`) sends a token. Both are secrets, never shown.
//!
//! | the server says | meaning |
//! | --- | --- |
//! | `PONG` | ready |
//! | `INFO` with `auth_required`, no credentials given | up: the server serves clients that have them (as `pg_isready` counts an auth request); said once |
//! | `-ERR` about authorization or authentication | fatal (wrong user, password or token) |
//! | `INFO` with `tls_required` | fatal: a TLS-only server (not supported yet) |
//! | another `-ERR` (`maximum connections exceeded`...) | not yet, with its text |
//! | no `INFO` first, EOF, garbage | protocol error |
//!
//! Deliberately not checked: JetStream (`/healthz?js-enabled-only=true` on the
//! monitoring port is an `http://` target), cluster routes, NKEY and JWT
//! authentication.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::AsyncWriteExt;

use crate::target::Target;

use super::json::{self, Value};
use super::{ProbeError, net};

/// How many lines after `CONNECT` may come before `PONG`.
pub const MAX_LINES: usize = 16;

#[derive(Debug, Clone)]
pub struct Nats {
    target: Target,
    /// "up, but credentials would make it exact" is said once per target.
    told_up: Arc<AtomicBool>,
}

impl Nats {
    pub fn new(target: &Target) -> Self {
        Nats {
            target: target.clone(),
            told_up: Arc::new(AtomicBool::new(false)),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        let mut conn = net::Lines::new(net::connect(&t.host, t.port).await?);
        let info = conn.line("INFO").await?;
        let Some(info) = info.strip_prefix(b"INFO ") else {
            return Err(refusal(&info).unwrap_or_else(|| {
                ProbeError::Protocol(format!(
                    "expected INFO from a NATS server, got \"{}\"",
                    net::shown(&info)
                ))
            }));
        };
        let flag = |key| {
            json::at(info, key)
                .map(|v| v == Some(Value::Literal("true".into())))
                .map_err(|e| ProbeError::Protocol(format!("INFO: {e}")))
        };
        if flag("tls_required")? {
            return Err(ProbeError::Fatal(
                "the NATS server requires TLS (tls_required), which nats:// does not speak yet"
                    .into(),
            ));
        }
        if flag("auth_required")? && !t.has_credentials() {
            if !self.told_up.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    target = %t.redacted(),
                    "the NATS server requires authentication: counting its INFO as up; give \
                     the credentials in the URL to check that they are accepted"
                );
            }
            return Ok(());
        }
        conn.stream
            .write_all(connect(t).as_bytes())
            .await
            .map_err(|e| net::io_error(e, "nats", "sending CONNECT"))?;
        for _ in 0..MAX_LINES {
            let line = conn.line("PONG").await?;
            match &line[..] {
                b"PONG" => return Ok(()),
                b"PING" => conn
                    .stream
                    .write_all(b"PONG\r\n")
                    .await
                    .map_err(|e| net::io_error(e, "nats", "sending PONG"))?,
                b"+OK" => {}
                l if l.starts_with(b"INFO ") => {}
                other => {
                    return Err(refusal(other).unwrap_or_else(|| {
                        ProbeError::Protocol(format!(
                            "expected PONG, got \"{}\"",
                            net::shown(other)
                        ))
                    }));
                }
            }
        }
        Err(ProbeError::Protocol(format!(
            "no PONG within {MAX_LINES} lines"
        )))
    }
}

/// `CONNECT {...}\r\nPING\r\n`, with the credentials (so never logged).
fn connect(t: &Target) -> String {
    let mut options = format!(
        "{{\"verbose\":false,\"pedantic\":false,\"name\":\"preflight\",\"lang\":\"rust\",\
         \"version\":\"{}\",\"protocol\":1",
        env!("CARGO_PKG_VERSION")
    );
    match (&t.user, &t.password) {
        (Some(user), Some(pass)) => {
            options.push_str(&format!(
                ",\"user\":{},\"pass\":{}",
                json::quote(user),
                json::quote(pass.expose())
            ));
        }
        (None, Some(token)) => {
            options.push_str(&format!(",\"auth_token\":{}", json::quote(token.expose())));
        }
        (Some(user), None) => {
            options.push_str(&format!(",\"user\":{}", json::quote(user)));
        }
        (None, None) => {}
    }
    format!("CONNECT {options}}}\r\nPING\r\n")
}

/// A `-ERR '...'` line: fatal when it is about credentials.
fn refusal(line: &[u8]) -> Option<ProbeError> {
    let text = line.strip_prefix(b"-ERR")?;
    let text = String::from_utf8_lossy(text);
    let text = net::shown(text.trim().trim_matches('\'').as_bytes());
    let text = text.as_str();
    let lower = text.to_ascii_lowercase();
    Some(
        if lower.contains("authorization") || lower.contains("authentication") {
            ProbeError::Fatal(format!("NATS refused the credentials: {text}"))
        } else {
            ProbeError::NotReady(format!("NATS: {text}"))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_credentials_are_fatal_others_not_yet() {
        assert!(matches!(
            refusal(b"-ERR 'Authorization Violation'"),
            Some(ProbeError::Fatal(m)) if m.ends_with("Authorization Violation")
        ));
        assert!(matches!(
            refusal(b"-ERR 'maximum connections exceeded'"),
            Some(ProbeError::NotReady(_))
        ));
        assert!(refusal(b"+OK").is_none());
    }
}
