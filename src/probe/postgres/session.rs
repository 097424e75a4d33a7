//! A PostgreSQL session: from the StartupMessage through authentication
//! (cleartext, MD5, SCRAM-SHA-256 with the server's signature checked) to
//! ReadyForQuery, then simple queries, then Terminate.
//!
//! Owns the state machine of the login and what its errors mean for waiting
//! ([`login_error`]); the bytes are [`super::wire`]'s, the password
//! arithmetic [`super::scram`]'s. Every loop reads at most
//! [`MAX_MESSAGES`] messages, each at most `net::MAX_FRAME` bytes: a peer
//! that talks for ever ends the try, it cannot grow preflight's memory.
//! Used by the probe and by `--lock` (`crate::lock::postgres`).

use crate::params::TlsMode;
use crate::target::Target;

use super::super::ProbeError;
use super::super::tls::Stream;
use super::DEFAULT_USER;
use super::connect::Connector;
use super::scram::{Scram, md5_password};
use super::wire::{
    self, MAX_MESSAGES, ServerError, auth_code, cstrings, first_column, message, not_postgres,
    read_message, send, startup_message, too_many_messages,
};

/// A logged-in session: authenticated, past ReadyForQuery.
pub(crate) struct Session {
    pub(crate) stream: Stream,
    /// `server_version_num`-style (150020), from the `server_version`
    /// ParameterStatus; 0 if unknown.
    pub(crate) server_version: u32,
}

impl Session {
    pub(crate) async fn login(
        target: &Target,
        connector: &Connector,
    ) -> Result<Session, ProbeError> {
        let stream = connector.connect(target).await?;
        let plain = matches!(stream, Stream::Plain(_));
        match Session::login_on(stream, target).await {
            // sslmode=allow: a pg_hba that refuses plain connections
            // (`hostnossl ... reject`, or only `hostssl` lines) answers
            // 28000; libpq then tries again over TLS.
            Err(ProbeError::Fatal(m))
                if plain && connector.mode == TlsMode::Allow && m.ends_with("(28000)") =>
            {
                Session::login_on(connector.connect_tls(target).await?, target).await
            }
            other => other,
        }
    }

    async fn login_on(mut stream: Stream, target: &Target) -> Result<Session, ProbeError> {
        let user = target.user.as_deref().unwrap_or(DEFAULT_USER);
        let database = if target.path.is_empty() {
            user
        } else {
            &target.path
        };
        let password = target.password.as_ref().map(|p| p.expose());
        send(&mut stream, &startup_message(user, Some(database))).await?;
        authenticate(&mut stream, user, password).await?;
        let server_version = match finish_startup(&mut stream).await {
            Ok(v) => v,
            Err(StartupEnd::Server(e)) => return Err(login_error(e)),
            Err(StartupEnd::Probe(e)) => return Err(e),
        };
        Ok(Session {
            stream,
            server_version,
        })
    }

    /// Run one simple query; the first column of its first row, if any.
    pub(crate) async fn query(&mut self, sql: &str) -> Result<Option<String>, ProbeError> {
        self.query_or_refusal(sql).await?.map_err(query_error)
    }

    /// [`Session::query`], with the server's error as it was sent, for a
    /// caller that decides by its SQLSTATE (`--lock`: 55P03 lock timeout).
    pub(crate) async fn query_or_refusal(
        &mut self,
        sql: &str,
    ) -> Result<Result<Option<String>, ServerError>, ProbeError> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        send(&mut self.stream, &message(b'Q', &body)).await?;
        let mut first = None;
        let mut error = None;
        // A query may legitimately wait long (pg_advisory_lock); only the
        // number of messages is bounded, not time.
        for _ in 0..MAX_MESSAGES {
            let (kind, body) = read_message(&mut self.stream).await?;
            match kind {
                b'D' if first.is_none() => first = Some(first_column(&body)?),
                b'E' => error = Some(ServerError::parse(&body)),
                b'Z' => {
                    return Ok(match error {
                        Some(e) => Err(e),
                        None => Ok(first.flatten()),
                    });
                }
                // RowDescription, more rows, CommandComplete, notices,
                // parameter changes, EmptyQueryResponse.
                b'T' | b'D' | b'C' | b'N' | b'S' | b'I' | b'A' => {}
                other => {
                    return Err(ProbeError::Protocol(format!(
                        "unexpected message {} in a query's answer",
                        wire::tag(other)
                    )));
                }
            }
        }
        Err(too_many_messages())
    }

    pub(crate) async fn terminate(mut self) {
        wire::terminate(&mut self.stream).await;
    }
}

/// Answer the server's authentication requests until AuthenticationOk.
async fn authenticate(
    stream: &mut Stream,
    user: &str,
    password: Option<&str>,
) -> Result<(), ProbeError> {
    let need_password = || {
        password.ok_or_else(|| {
            ProbeError::Fatal(format!(
                "the server asks for a password for user \"{user}\" and none was given \
                 (in the URL or PGPASSWORD)"
            ))
        })
    };
    let mut scram: Option<Scram> = None;
    for _ in 0..MAX_MESSAGES {
        let (kind, body) = read_message(stream).await?;
        match kind {
            b'R' => {}
            b'E' => return Err(login_error(ServerError::parse(&body))),
            b'N' | b'v' => continue,
            other => return Err(not_postgres(other)),
        }
        let code = auth_code(&body)?;
        let data = &body[4..];
        match code {
            0 => {
                if scram.as_ref().is_some_and(|s| !s.verified) {
                    return Err(ProbeError::Fatal(
                        "the server ended SCRAM authentication without proving it knows \
                         the password: refusing it"
                            .into(),
                    ));
                }
                return Ok(());
            }
            3 => {
                let mut body = need_password()?.as_bytes().to_vec();
                body.push(0);
                send(stream, &message(b'p', &body)).await?;
            }
            5 => {
                let salt = data.get(..4).ok_or_else(|| {
                    ProbeError::Protocol("MD5 authentication request without a salt".into())
                })?;
                let mut body = md5_password(user, need_password()?, salt).into_bytes();
                body.push(0);
                send(stream, &message(b'p', &body)).await?;
            }
            10 => {
                let mechanisms = cstrings(data);
                if !mechanisms.iter().any(|m| m == "SCRAM-SHA-256") {
                    return Err(ProbeError::Fatal(format!(
                        "the server offers SASL mechanisms {mechanisms:?}; preflight speaks \
                         SCRAM-SHA-256 only"
                    )));
                }
                let s = Scram::new(need_password()?)?;
                let first = s.client_first();
                let mut body = b"SCRAM-SHA-256\0".to_vec();
                body.extend_from_slice(&(first.len() as u32).to_be_bytes());
                body.extend_from_slice(first.as_bytes());
                send(stream, &message(b'p', &body)).await?;
                scram = Some(s);
            }
            11 => {
                let s = scram.as_mut().ok_or_else(|| {
                    ProbeError::Protocol("SASLContinue before SASL started".into())
                })?;
                let reply = s.client_final(data)?;
                send(stream, &message(b'p', reply.as_bytes())).await?;
            }
            12 => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| ProbeError::Protocol("SASLFinal before SASL started".into()))?;
                s.verify_server(data)?;
            }
            7..=9 => {
                return Err(ProbeError::Fatal(
                    "the server asks for GSSAPI/SSPI authentication, which preflight does not \
                     speak"
                        .into(),
                ));
            }
            2 | 6 => {
                return Err(ProbeError::Fatal(
                    "the server asks for Kerberos V5/SCM credentials authentication, which \
                     preflight does not speak"
                        .into(),
                ));
            }
            other => {
                return Err(ProbeError::Protocol(format!(
                    "unknown authentication request {other}"
                )));
            }
        }
    }
    Err(too_many_messages())
}

/// How reading up to ReadyForQuery ended when it did not reach it.
pub(super) enum StartupEnd {
    /// The server refused the session after authentication (role or database
    /// missing, 57P03 late in startup).
    Server(ServerError),
    Probe(ProbeError),
}

impl From<ProbeError> for StartupEnd {
    fn from(e: ProbeError) -> Self {
        StartupEnd::Probe(e)
    }
}

/// After AuthenticationOk: parameter statuses, the backend key, then
/// ReadyForQuery. Returns the server version (0 if not announced).
pub(super) async fn finish_startup(stream: &mut Stream) -> Result<u32, StartupEnd> {
    let mut version = 0;
    for _ in 0..MAX_MESSAGES {
        let (kind, body) = read_message(stream).await?;
        match kind {
            b'Z' => return Ok(version),
            b'E' => return Err(StartupEnd::Server(ServerError::parse(&body))),
            b'S' => {
                let kv = cstrings(&body);
                if let [k, v, ..] = kv.as_slice()
                    && k == "server_version"
                {
                    version = parse_server_version(v);
                }
            }
            b'K' | b'N' => {}
            other => return Err(StartupEnd::Probe(not_postgres(other))),
        }
    }
    Err(StartupEnd::Probe(too_many_messages()))
}

/// An error before the session exists, for a probe that wants to log in.
fn login_error(e: ServerError) -> ProbeError {
    match e.code.as_str() {
        "28P01" | "28000" => ProbeError::Fatal(e.to_string()),
        "08P01" => ProbeError::Protocol(e.to_string()),
        // 57P03, 53300, 3D000 and whatever else a later server may say while
        // it starts: not yet.
        _ => ProbeError::NotReady(e.to_string()),
    }
}

/// An error answering a query: not yet (the server is shutting down,
/// recovery conflict...), with its words.
fn query_error(e: ServerError) -> ProbeError {
    ProbeError::NotReady(e.to_string())
}

/// `15.20 (Debian 15.20-0+deb12u1)` → 150020; `9.6.24` → 90624.
fn parse_server_version(v: &str) -> u32 {
    let nums: Vec<u32> = v
        .split(|c: char| !c.is_ascii_digit())
        .take_while(|s| !s.is_empty())
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums.as_slice() {
        [major, minor, ..] if *major >= 10 => major * 10000 + minor,
        [major, minor, patch, ..] => major * 10000 + minor * 100 + patch,
        [major, minor] => major * 10000 + minor * 100,
        [major] => major * 10000,
        [] => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_errors_tell_fatal_from_not_yet() {
        assert!(matches!(
            login_error(ServerError::parse(b"C28P01\0Mno\0\0")),
            ProbeError::Fatal(_)
        ));
        assert!(matches!(
            login_error(ServerError::parse(b"C3D000\0Mno db\0\0")),
            ProbeError::NotReady(_)
        ));
    }

    #[test]
    fn server_versions_parse_old_and_new_style() {
        assert_eq!(
            parse_server_version("15.20 (Debian 15.20-0+deb12u1)"),
            150020
        );
        assert_eq!(parse_server_version("9.6.24"), 90624);
        assert_eq!(parse_server_version("14beta1"), 140000);
        assert_eq!(parse_server_version(""), 0);
    }
}
