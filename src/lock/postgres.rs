//! `--lock` on PostgreSQL: a session-level advisory lock,
//! `pg_advisory_lock(key)` with `key` = [`lock_key`]`(name)`, taken on a
//! connection of its own (logged in as the probe does, `postgres` without a
//! user in the URL) and released by the server when that connection ends,
//! also when preflight is killed.

use tracing::{debug, info};

use crate::probe::ProbeError;
use crate::probe::postgres::session::Session;
use crate::target::Target;

/// A session-level lock (`--lock`) taken on its own connection: held until
/// the returned socket is dropped or closed, released by the server when the
/// connection goes away (also when preflight is killed). Waits for the lock
/// as long as the caller's future is polled; logs once when another holder is
/// seen. The socket is CLOEXEC, so it never leaks into a hook or the command.
pub async fn lock(target: &Target, name: &str) -> Result<std::net::TcpStream, ProbeError> {
    let key = lock_key(name);
    let mut session = Session::login(target).await?;
    let got = session
        .query(&format!("SELECT pg_try_advisory_lock({key})"))
        .await?;
    if got.as_deref() != Some("t") {
        info!(
            target = %target,
            key,
            "waiting for migration lock held by another replica"
        );
        // A waiter that gives up (timeout, TERM) just closes its socket, but a
        // backend blocked on a lock only notices that when
        // client_connection_check_interval (PostgreSQL 14+) is set; without
        // it the lock is granted to a dead session, which releases it at once.
        if session.server_version >= 140000 {
            session
                .query("SET client_connection_check_interval = '1s'")
                .await?;
        }
        session
            .query(&format!("SELECT pg_advisory_lock({key})"))
            .await?;
    }
    debug!(target = %target, key, "migration lock taken");
    let std = session
        .stream
        .into_std()
        .map_err(ProbeError::io("lock socket"))?;
    std.set_nonblocking(false)
        .map_err(ProbeError::io("lock socket"))?;
    Ok(std)
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
}
