//! `--lock` on MySQL / MariaDB: `GET_LOCK(name)`, taken on a connection of
//! its own (logged in with the URL's credentials) and released by the
//! server when that connection ends, also when preflight is killed.
//!
//! `GET_LOCK` names are server-wide, not per database: the caller picks a
//! name that says which application it guards. The name travels as a hex
//! literal converted to utf8mb4, so no quote, backslash or `sql_mode` can
//! change its meaning.
//!
//! The session must outlive the hooks: its `wait_timeout` (the server ends
//! an idle connection after it, 8 hours by default but often lowered) goes to
//! the maximum, and the statement time limits (`max_statement_time` on
//! MariaDB, `max_execution_time` on MySQL; each server refuses the other's
//! name, which is fine) to none. Waiting for another holder goes in rounds of
//! [`ROUND`] (`GET_LOCK`'s own timeout), each bounded on our side too.

use std::time::Duration;

use super::{ROUND, bounded};
use crate::probe::ProbeError;
use crate::probe::mysql::conn::{Conn, Login, Refusal, shown_value};
use crate::target::Target;

/// The longest `wait_timeout` both servers accept: a year.
const MAX_WAIT_TIMEOUT: u32 = 31_536_000;

/// Take the lock: login, session settings and the first try within
/// `try_timeout`, then rounds of waiting for another holder, each within
/// `try_timeout` + [`ROUND`]. The returned socket holds the lock; it is
/// CLOEXEC, so it never leaks into a hook or the command.
pub async fn lock(
    target: &Target,
    name: &str,
    try_timeout: Duration,
    reason: &std::sync::Mutex<Option<String>>,
) -> Result<std::net::TcpStream, ProbeError> {
    let mut conn = bounded(try_timeout, async {
        let mut conn = Conn::open(target, &crate::probe::mysql::conn::Ssl::new(target)).await?;
        conn.login(&Login::of(target))
            .await
            .map_err(Refusal::into_probe_error)?;
        conn.query(&format!(
            "SET SESSION wait_timeout = {MAX_WAIT_TIMEOUT}, \
             interactive_timeout = {MAX_WAIT_TIMEOUT}"
        ))
        .await
        .map_err(Refusal::into_probe_error)?;
        for limit in ["max_statement_time", "max_execution_time"] {
            match conn.query(&format!("SET SESSION {limit} = 0")).await {
                Ok(_) | Err(Refusal::Server(_)) => {}
                Err(e) => return Err(e.into_probe_error()),
            }
        }
        Ok(conn)
    })
    .await?;
    let hex = crate::describe::hex(name.as_bytes());
    let mut seconds = 0;
    loop {
        let sql = format!("SELECT GET_LOCK(CONVERT(X'{hex}' USING utf8mb4), {seconds})");
        let limit = try_timeout + Duration::from_secs(seconds);
        let value = bounded(limit, async {
            conn.query(&sql).await.map_err(Refusal::into_probe_error)
        })
        .await?;
        match value {
            Some(Some(v)) if v == "1" => break,
            Some(Some(v)) if v == "0" => {
                if seconds == 0 {
                    tracing::info!(
                        target = %target.redacted(),
                        lock = name,
                        "waiting for migration lock held by another replica"
                    );
                    super::note(reason, super::HELD);
                }
                seconds = ROUND.as_secs();
            }
            other => {
                return Err(ProbeError::Protocol(format!(
                    "GET_LOCK returned {} instead of 0 or 1",
                    shown_value(&other)
                )));
            }
        }
    }
    tracing::debug!(lock = name, "migration lock taken");
    super::holding(conn.stream)
}
