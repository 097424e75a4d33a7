//! `--lock`: one replica at a time runs the hooks.
//!
//! N replicas that start together each take the same session-level lock on
//! the database (`pg_advisory_lock`, MySQL's `GET_LOCK`: see [`postgres`]
//! and [`mysql`]) before their hooks and
//! release it when the hooks are done, so their migrations run one after
//! another and the later ones find nothing to do. The lock lives in one
//! connection: if preflight is killed, the server drops it with the socket.
//!
//! This module only schedules: it takes the lock after waiting succeeded,
//! under the wait's `--timeout`, retries while the database cannot be reached
//! (the lock's database need not be among the `--wait` targets), and gives up
//! at once on a terminating signal. The caller holds the returned socket
//! while the hooks run and drops it before the command starts; the socket is
//! close-on-exec, so no hook or command ever holds it.

pub mod mysql;
pub mod postgres;

use std::cell::RefCell;
use std::future::Future;
use std::net::TcpStream;
use std::time::Duration;

use tracing::{debug, info};

use crate::probe::ProbeError;
use crate::target::{Protocol, Target};

/// Pause between two tries when the database cannot be reached: short first,
/// doubling up to a cap.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// Why no lock was taken.
#[derive(Debug)]
pub enum LockError {
    /// The timeout passed; the last reason, if a try failed.
    TimedOut(Option<String>),
    /// Taking it can never work as configured (wrong password...).
    Failed(String),
    /// A terminating signal arrived: its number.
    Interrupted(i32),
}

/// Take the lock `name` on `target` (postgres or mysql), waiting as long as
/// another replica holds it, within `timeout` (None: for ever).
pub async fn acquire(
    target: &Target,
    name: &str,
    timeout: Option<Duration>,
    interrupt: impl Future<Output = i32>,
) -> Result<TcpStream, LockError> {
    // The last reason, for the timeout's message.
    let last: RefCell<Option<String>> = RefCell::new(None);
    let attempt = async {
        let mut pause = FIRST_RETRY;
        loop {
            let result = match target.protocol {
                Protocol::Postgres => postgres::lock(target, name).await,
                Protocol::Mysql => mysql::lock(target, name).await,
                _ => Err(ProbeError::Fatal(format!(
                    "{target} is not a postgres:// or mysql:// URL"
                ))),
            };
            match result {
                Ok(socket) => return Ok(socket),
                Err(e) if e.is_retryable() => {
                    debug!("cannot take the lock on {target} yet: {e}");
                    *last.borrow_mut() = Some(e.to_string());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY);
                }
                Err(e) => return Err(LockError::Failed(e.to_string())),
            }
        }
    };
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    info!("taking lock '{name}' on {target}");
    tokio::select! {
        result = attempt => result,
        () = deadline => Err(LockError::TimedOut(last.borrow_mut().take())),
        sig = interrupt => Err(LockError::Interrupted(sig)),
    }
}
