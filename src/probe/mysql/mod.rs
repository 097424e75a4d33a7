//! MySQL / MariaDB (`mysql://`, `mariadb://`): the client/server protocol,
//! just far enough to tell "up" from "not yet".
//!
//! The server speaks first: a HandshakeV10 greeting (`0x0a`, MariaDB's
//! version starts `5.5.5-`) or an ERR packet instead of it. Every packet is a
//! 3-byte little-endian length, a sequence byte and the payload, read with the
//! [`net::MAX_FRAME`] cap.
//!
//! **Without credentials** the probe answers the greeting with a
//! HandshakeResponse for the user `preflight` and no password, and counts as
//! up: OK (an anonymous account let it in: it sends COM_QUIT), or ERR 1045
//! access denied, as `mysqladmin ping` does. It does not close after the
//! greeting: MariaDB counts a handshake left unanswered as a *handshake*
//! error toward `max_connect_errors` (after 100 in a row the client's host is
//! refused with 1129 until `FLUSH HOSTS`: the app's own host, since it runs in
//! the same container), whereas access denied is an *authentication* error
//! that does not block the host. Both raise `Aborted_connects`; nothing an
//! unauthenticated client does avoids that, and with the default
//! `log_warnings=2` MariaDB writes one "Access denied for user 'preflight'"
//! warning per try.
//!
//! 1040 too many connections: MariaDB keeps one slot above
//! `max_connections` for an admin, greets, authenticates, and only then
//! refuses an ordinary account with 1040. A probe with credentials sees that;
//! a probe without sees its own access denied first and calls the server up
//! (as `mysqladmin ping` does). Once the admin slot is taken too, the 1040
//! comes instead of the greeting, and every probe says "not yet".
//!
//! **With credentials** (a user, with or without a password) it logs in to
//! the database named by the path (mysql_native_password; caching_sha2_password
//! on its fast path; an AuthSwitchRequest to either), runs `SELECT 1`, and
//! leaves with COM_QUIT, so the server counts a clean session.
//!
//! | answer | meaning |
//! | --- | --- |
//! | greeting, then OK / `SELECT 1` row | ready |
//! | greeting, then 1045/1698 access denied without credentials | ready (up) |
//! | 1040 too many connections (before or after the greeting) | not yet |
//! | 1049 unknown database, 1044 no grant on it yet | not yet (an init script creates both) |
//! | any other server error (1053 shutting down...) | not yet, with its message |
//! | 1045/1698 access denied with credentials | fatal |
//! | 1129 host blocked, 1130 host not allowed | fatal: waiting never clears them (1129 needs `FLUSH HOSTS`) |
//! | caching_sha2_password full authentication without TLS, other plugins | fatal: needs TLS or RSA (RSA not supported) |
//! | closed before or during the handshake, not a greeting | protocol error |
//!
//! **TLS** as the mysql client's `ssl-mode` says (default `PREFERRED`;
//! `DISABLED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`, with `ssl-ca`,
//! `ssl-cert`, `ssl-key`; see [`crate::params`]): after the greeting, an SSL
//! request and the handshake, then the login inside TLS, where
//! caching_sha2_password's full authentication sends the password. A mode
//! that requires TLS against a greeting without `CLIENT_SSL` is fatal before
//! anything is sent.
//!
//! Deliberately not checked: replication state, whether InnoDB's buffer pool has been loaded, read-only mode.
//! `mysql_clear_password` is refused rather than sending a password in clear.
//!
//! # Layout
//!
//! This file decides (the table above); [`conn`] walks a connection from
//! the greeting through the login to queries and COM_QUIT (also for
//! `--lock`, in `crate::lock`); [`scramble`] holds the password arithmetic;
//! [`wire`] the packet codec.

pub(crate) mod conn;
pub(crate) mod scramble;
pub(crate) mod wire;

use crate::target::Target;

use super::ProbeError;
use conn::{Conn, Login, Refusal};
use wire::ServerError;

/// The user an unauthenticated probe names; it need not exist.
const PROBE_USER: &str = "preflight";

// Server error codes that decide something.
const ER_CON_COUNT_ERROR: u16 = 1040;
const ER_DBACCESS_DENIED_ERROR: u16 = 1044;
const ER_ACCESS_DENIED_ERROR: u16 = 1045;
const ER_BAD_DB_ERROR: u16 = 1049;
const ER_HOST_IS_BLOCKED: u16 = 1129;
const ER_HOST_NOT_PRIVILEGED: u16 = 1130;
/// Access denied, when the client sent no password.
const ER_ACCESS_DENIED_NO_PASSWORD_ERROR: u16 = 1698;

#[derive(Debug, Clone)]
pub struct Mysql {
    target: Target,
    /// ssl-mode and its TLS client, built once.
    ssl: conn::Ssl,
}

impl Mysql {
    pub fn new(target: &Target) -> Self {
        Mysql {
            target: target.clone(),
            ssl: conn::Ssl::new(target),
        }
    }

    /// One try: greeting, then a login (as `preflight` without credentials),
    /// then `SELECT 1` when credentials were given.
    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        let mut conn = Conn::open(t, &self.ssl).await?;
        if !t.has_credentials() {
            let login = Login {
                user: PROBE_USER,
                password: "",
                database: "",
            };
            return match conn.login(&login).await {
                Ok(()) => {
                    conn.quit().await;
                    Ok(())
                }
                Err(Refusal::Server(e)) if access_denied(e.code) => Ok(()),
                // The server answered and wants a plugin we cannot speak: up.
                Err(Refusal::Unsupported(_)) => Ok(()),
                Err(r) => Err(r.into_probe_error()),
            };
        }
        conn.login(&Login::of(t)).await.map_err(|r| {
            match (r.into_probe_error(), conn.stream.is_tls()) {
                // The likeliest cause with TLS turned off by hand.
                (ProbeError::Fatal(m), false) if self.ssl.disabled() => ProbeError::Fatal(format!(
                    "{m}; sent without TLS (ssl-mode=DISABLED): does the server require \
                     secure transport?"
                )),
                (e, _) => e,
            }
        })?;
        let value = conn
            .query("SELECT 1")
            .await
            .map_err(Refusal::into_probe_error)?;
        conn.quit().await;
        match value {
            Some(Some(v)) if v == "1" => Ok(()),
            other => Err(ProbeError::Protocol(format!(
                "SELECT 1 returned {} instead of 1",
                conn::shown_value(&other)
            ))),
        }
    }
}

/// What a server error means for waiting (the table in the module doc).
fn classify(e: ServerError) -> ProbeError {
    let text = format!("{} (MySQL error {})", e.message, e.code);
    match e.code {
        code if access_denied(code) => ProbeError::Fatal(text),
        ER_HOST_IS_BLOCKED | ER_HOST_NOT_PRIVILEGED => ProbeError::Fatal(text),
        ER_CON_COUNT_ERROR | ER_BAD_DB_ERROR | ER_DBACCESS_DENIED_ERROR => {
            ProbeError::NotReady(text)
        }
        _ => ProbeError::NotReady(text),
    }
}

fn access_denied(code: u16) -> bool {
    code == ER_ACCESS_DENIED_ERROR || code == ER_ACCESS_DENIED_NO_PASSWORD_ERROR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_are_fatal_and_full_servers_not_yet() {
        let e = wire::parse_err(b"\xff\x6a\x04Host 'x' is not allowed").unwrap();
        assert!(matches!(classify(e), ProbeError::Fatal(_)));
        let e = wire::parse_err(b"\xff\x10\x04#08004Too many connections").unwrap();
        assert!(matches!(classify(e), ProbeError::NotReady(_)));
    }
}
