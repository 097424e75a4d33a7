//! `--lock` on PostgreSQL: a session-level advisory lock,
//! `pg_advisory_lock(key)` with `key` = [`lock_key`]`(name)`, taken on a
//! connection of its own (logged in as the probe does, `postgres` without a
//! user in the URL) and released by the server when that connection ends,
//! also when preflight is killed.
//!
//! The session must outlive the hooks, so the server's own timeouts are
//! turned off for it (`statement_timeout`, `idle_in_transaction_session_timeout`,
//! and from PostgreSQL 14 `idle_session_timeout`, which would otherwise end an
//! idle lock holder in the middle of a migration). Waiting for another holder
//! goes in rounds of [`super::ROUND`] (`lock_timeout`), each bounded on our
//! side too: a server that stops answering ends the try instead of hanging it.

use std::time::Duration;

use tracing::{debug, info};

use super::{ROUND, bounded};
use crate::probe::ProbeError;
use crate::probe::postgres::session::Session;
use crate::target::Target;

/// SQLSTATE lock_not_available: `lock_timeout` passed, another round.
const LOCK_NOT_AVAILABLE: &str = "55P03";

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
    let key = lock_key(name);
    let connector = crate::probe::postgres::connect::Connector::new(target);
    let mut session = bounded(try_timeout, async {
        let mut session = Session::login(target, &connector).await?;
        session.query(&settings(session.server_version)).await?;
        Ok(session)
    })
    .await?;
    let got = bounded(
        try_timeout,
        session.query(&format!("SELECT pg_try_advisory_lock({key})")),
    )
    .await?;
    if got.as_deref() != Some("t") {
        info!(
            target = %target,
            key,
            "waiting for migration lock held by another replica"
        );
        super::note(reason, super::HELD);
        let wait = format!("SELECT pg_advisory_lock({key})");
        loop {
            match bounded(try_timeout + ROUND, session.query_or_refusal(&wait)).await? {
                Ok(_) => break,
                Err(e) if e.code == LOCK_NOT_AVAILABLE => debug!(key, "still held: another round"),
                Err(e) => return Err(ProbeError::NotReady(e.to_string())),
            }
        }
    }
    debug!(target = %target, key, "migration lock taken");
    super::holding(session.stream)
}

/// The session settings of the lock's connection, in one round trip.
fn settings(server_version: u32) -> String {
    let mut sql = format!(
        "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0; \
         SET lock_timeout = '{}s'",
        ROUND.as_secs()
    );
    if server_version >= 140000 {
        // A waiter that gives up (timeout, TERM) just closes its socket, but a
        // backend blocked on a lock only notices that when
        // client_connection_check_interval is set; without it the lock is
        // granted to a dead session, which releases it at once.
        sql.push_str("; SET idle_session_timeout = 0; SET client_connection_check_interval = '1s'");
    }
    sql
}

/// The advisory-lock key for a lock name: the first 8 bytes of
/// SHA-256(name), big-endian, as a signed 64-bit integer. Stable across
/// preflight versions, platforms and replicas (unlike `std`'s hasher); a
/// clash with an application's own advisory keys has odds of 2^-64.
pub fn lock_key(name: &str) -> i64 {
    let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable() {
        // The key replicas of every preflight version agree on: pinned.
        assert_eq!(lock_key("preflight"), 8035861847964016320);
        assert_ne!(lock_key("a"), lock_key("b"));
    }

    #[test]
    fn the_session_turns_off_every_server_timeout_it_knows() {
        let old = settings(130000);
        assert!(old.contains("statement_timeout = 0"), "{old}");
        assert!(!old.contains("idle_session_timeout"), "{old}");
        let new = settings(150020);
        assert!(new.contains("idle_session_timeout = 0"), "{new}");
        assert!(new.contains("lock_timeout = '5s'"), "{new}");
    }
}
