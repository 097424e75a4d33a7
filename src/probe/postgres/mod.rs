//! PostgreSQL: is the server accepting connections, and (with credentials)
//! can this user run a query in this database?
//!
//! # On the wire
//!
//! First TLS as `sslmode` says ([`connect`]: libpq's six modes, default
//! `prefer`; a unix socket directory for `?host=/run/postgresql`), then a
//! StartupMessage (protocol 3.0) with `user`, `database` (when
//! the URL names one), `application_name=preflight` and
//! `client_encoding=UTF8`. The postmaster checks its own state (starting up,
//! in recovery, shutting down, full) before any authentication, so its first
//! answer already tells "not yet" from "up".
//!
//! **Without credentials** (`postgres://db:5432`) the probe decides as
//! `pg_isready` (libpq `internal_ping`) does, and never authenticates:
//!
//! | first answer | means |
//! |---|---|
//! | `R` AuthenticationRequest, any code (0 = trust OK) | ready |
//! | `E` SQLSTATE 57P03 (starting up, recovery, shutting down, hot standby off) | [`ProbeError::NotReady`], the server's words |
//! | `E` SQLSTATE 53300 (too many clients) | [`ProbeError::NotReady`] |
//! | `E` any other SQLSTATE (unknown role or database, no pg_hba entry) | ready: the server is running, it just does not like us |
//! | EOF, other bytes, a length over [`MAX_FRAME`] | [`ProbeError::Protocol`] (docker-proxy with nothing behind it, not PostgreSQL) |
//!
//! The user name sent is `postgres`, the role that exists in almost every
//! cluster. Log noise, per try: none when the server asks for a password
//! (the probe closes right after the request, as psql does when it has to
//! prompt; the server exits quietly, and even an unknown role is not looked up
//! before the password); none under `trust` when `postgres` exists (the probe
//! reads up to ReadyForQuery and sends Terminate). Under `trust` *without* a
//! `postgres` role (the official image with `POSTGRES_USER=app` and
//! `POSTGRES_HOST_AUTH_METHOD=trust`) the server logs `FATAL: role "postgres"
//! does not exist` per try: name the user in the URL (`postgres://app@db`),
//! which makes the check an authenticated one, and the noise goes away.
//!
//! **With credentials** (a user or a password in the URL or `PGPASSWORD`) the
//! probe logs in (cleartext, MD5, SCRAM-SHA-256 including the check of the
//! server's signature) and runs `SELECT 1` (simple query) in the database from
//! the URL path, by default the user name (as libpq). Ready when the query
//! returns. SQLSTATE 57P03, 53300 and 3D000 (database does not exist yet) are
//! [`ProbeError::NotReady`]; 28P01 and 28000 (wrong password, no pg_hba
//! entry), an authentication method preflight does not speak, or a server that
//! cannot prove it knows the password are [`ProbeError::Fatal`]: no retry
//! fixes them. Any other error is [`ProbeError::NotReady`] with its SQLSTATE.
//!
//! Every exchange ends politely: Terminate (`X`) once a session exists, a
//! plain close while authentication is pending (the protocol allows nothing
//! else there: an `X` in place of a password is logged as a protocol error).
//! Nothing is ever sent half-written, so the server never logs
//! "incomplete startup packet".
//!
//! # Deliberately not checked
//!
//! - With `sslmode=disable` against a server that only accepts TLS, the
//!   answer is 28000 "no pg_hba.conf entry ... no encryption": up without
//!   credentials, [`ProbeError::Fatal`] (naming the encryption) with them.
//! - Whether the server is a primary: a hot standby that accepts read-only
//!   logins is ready (check `pg_is_in_recovery()` in a hook if it matters).
//! - Behind PgBouncer, only PgBouncer is probed unless credentials make it
//!   open a backend connection for `SELECT 1`.
//! - SASLprep: the password is used as given; passwords that SASLprep would
//!   change (some non-ASCII ones) fail SCRAM.
//!
//! # Layout
//!
//! This file decides (the `pg_isready` verdict, and what a logged-in
//! check needs); [`connect`] opens the socket and negotiates TLS; [`session`] walks a connection from the StartupMessage to
//! ReadyForQuery and runs queries (also for `--lock`, in `crate::lock`);
//! [`scram`] holds the password arithmetic; [`wire`] the message codec.

pub(crate) mod connect;
pub(crate) mod scram;
pub(crate) mod session;
pub(crate) mod wire;

use tracing::debug;

use crate::target::Target;

use super::ProbeError;
use connect::Connector;
use session::{Session, StartupEnd};
use wire::{MAX_MESSAGES, ServerError};

/// The role sent when the URL names none (see the module doc for the
/// log-noise trade-off).
const DEFAULT_USER: &str = "postgres";

#[derive(Debug, Clone)]
pub struct Postgres {
    target: Target,
    /// sslmode and its TLS client, built once.
    connector: Connector,
}

impl Postgres {
    pub fn new(target: &Target) -> Self {
        Postgres {
            target: target.clone(),
            connector: Connector::new(target),
        }
    }

    /// One try: see the module doc for what counts as ready.
    pub async fn check(&self) -> Result<(), ProbeError> {
        if self.target.has_credentials() {
            let mut session = Session::login(&self.target, &self.connector).await?;
            session.query("SELECT 1").await?;
            session.terminate().await;
            Ok(())
        } else {
            ping(&self.target, &self.connector).await
        }
    }
}

/// `pg_isready`: the first answer to a StartupMessage, no authentication.
async fn ping(target: &Target, connector: &Connector) -> Result<(), ProbeError> {
    let mut stream = connector.connect(target).await?;
    let database = (!target.path.is_empty()).then_some(target.path.as_str());
    wire::send(&mut stream, &wire::startup_message(DEFAULT_USER, database)).await?;
    for _ in 0..MAX_MESSAGES {
        let (kind, body) = wire::read_message(&mut stream).await?;
        match kind {
            b'R' => {
                let code = wire::auth_code(&body)?;
                if code != 0 {
                    // The server waits for a password: closing now is what
                    // psql does before prompting, and logs nothing.
                    debug!(code, "authentication requested: up");
                    return Ok(());
                }
                // Trust: a session is starting. Read to ReadyForQuery and say
                // goodbye, so the server logs no "unexpected EOF".
                return match session::finish_startup(&mut stream).await {
                    Ok(_) => {
                        wire::terminate(&mut stream).await;
                        Ok(())
                    }
                    Err(StartupEnd::Server(e)) => ping_verdict(e),
                    Err(StartupEnd::Probe(e)) => Err(e),
                };
            }
            b'E' => return ping_verdict(ServerError::parse(&body)),
            // A notice, or NegotiateProtocolVersion: keep reading.
            b'N' | b'v' => {}
            other => return Err(wire::not_postgres(other)),
        }
    }
    Err(wire::too_many_messages())
}

/// libpq's `internal_ping`: only "cannot connect now" and "too many clients"
/// mean not yet; any other error means the server is up.
fn ping_verdict(e: ServerError) -> Result<(), ProbeError> {
    match e.code.as_str() {
        "57P03" | "53300" => Err(ProbeError::NotReady(e.to_string())),
        _ => {
            debug!(error = %e, "the server answered with an error: up");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ping_verdict_is_pg_isready_s() {
        let body = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is not accepting connections\0DHot standby mode is disabled.\0\0";
        assert!(ping_verdict(ServerError::parse(body)).is_err());
        assert!(ping_verdict(ServerError::parse(b"C53300\0Mtoo many\0\0")).is_err());
        assert!(ping_verdict(ServerError::parse(b"C28P01\0Mno\0\0")).is_ok());
    }
}
