//! What "ready" means, one file per protocol.
//!
//! Every probe has the same shape: `pub struct X` built from a [`Target`], and
//! one `async fn check(&self) -> Result<(), ProbeError>` that makes exactly one
//! try: resolve the name anew, connect, speak just enough of the protocol to
//! tell "ready" from "not yet", and close politely. A probe never sleeps or
//! retries, and never sets its own overall deadline: `wait/` wraps every try
//! in one and drops the future when it passes. A probe must never allocate
//! from a length the peer sent without a cap ([`net::MAX_FRAME`]).
//!
//! Adding a protocol: one new file here, its variant and scheme row in the
//! registry ([`crate::protocol`]), and its line in the `probes!` list below,
//! which is the whole dispatch. Nothing in `wait/` changes.

pub mod amqp;
pub mod dns;
pub mod down;
pub mod file;
pub mod grpc;
pub mod http;
pub mod json;
pub mod kafka;
pub mod memcached;
pub mod mongodb;
pub mod mqtt;
pub mod mysql;
pub mod nats;
pub mod net;
pub mod postgres;
pub mod redis;
pub mod tcp;
pub mod tls;
pub mod unix;

use std::fmt;
use std::io;

use crate::target::{Protocol, Target};

/// Why one try did not find the target ready.
#[derive(Debug)]
pub enum ProbeError {
    /// The name does not resolve (yet): a compose or Kubernetes service whose
    /// container has not started. Not a failure, just "not yet".
    NameNotResolved { host: String, detail: String },
    /// Connecting failed: refused, unreachable, reset.
    Connect(io::Error),
    /// The server answered, and said "not yet": its own words (PostgreSQL
    /// 57P03 "the database system is starting up", Redis `-LOADING ...`).
    NotReady(String),
    /// The peer did not speak the protocol as expected: closed at once
    /// (docker-proxy with nothing behind it), garbage, a length over the cap.
    Protocol(String),
    /// An I/O error in the middle of the exchange.
    Io { about: &'static str, err: io::Error },
    /// Ready will never come as configured: wrong password, certificate
    /// rejected. Waiting stops for this target.
    Fatal(String),
    /// The try's deadline passed (set by `wait/`, not by the probe).
    Timeout,
}

impl ProbeError {
    /// Is another try worth it? Only [`ProbeError::Fatal`] says no.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ProbeError::Fatal(_))
    }

    pub fn io(about: &'static str) -> impl FnOnce(io::Error) -> ProbeError {
        move |err| ProbeError::Io { about, err }
    }
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NameNotResolved { host, detail } => {
                write!(f, "name '{host}' does not resolve yet ({detail})")
            }
            ProbeError::Connect(e) => write!(f, "connect: {}", net::describe(e)),
            ProbeError::NotReady(m) => write!(f, "not ready: {m}"),
            ProbeError::Protocol(m) => write!(f, "protocol: {m}"),
            ProbeError::Io { about, err } => write!(f, "{about}: {}", net::describe(err)),
            ProbeError::Fatal(m) => f.write_str(m),
            ProbeError::Timeout => f.write_str("no answer before the try's deadline"),
        }
    }
}

impl std::error::Error for ProbeError {}

/// Builds [`Probe`], the probe of one target, from one line per protocol:
/// `Variant => module::Type` where `Variant` is the [`Protocol`] it checks and
/// `Type` has `new(&Target)` and `async fn check(&self)`. The match on
/// [`Protocol`] is exhaustive, so a protocol without a line does not build.
macro_rules! probes {
    ($($variant:ident => $probe:ty),* $(,)?) => {
        /// The probe for one target: one arm per [`Protocol`], and
        /// [`down::Down`] around any of them for `#down`.
        #[derive(Debug, Clone)]
        pub enum Probe {
            $($variant($probe),)*
            Down(down::Down),
        }

        impl Probe {
            pub fn new(target: &Target) -> Probe {
                if !target.params.ignored.is_empty() {
                    tracing::debug!(
                        target = %target,
                        ignored = ?target.params.ignored,
                        "query parameters preflight does not use"
                    );
                }
                if target.expect.down {
                    return Probe::Down(down::Down::new(target));
                }
                Probe::of(target)
            }

            /// The protocol's own probe, whatever `#down` says.
            fn of(target: &Target) -> Probe {
                match target.protocol {
                    $(Protocol::$variant => Probe::$variant(<$probe>::new(target)),)*
                }
            }

            /// One try.
            pub async fn check(&self) -> Result<(), ProbeError> {
                match self {
                    $(Probe::$variant(p) => p.check().await,)*
                    Probe::Down(p) => p.check().await,
                }
            }
        }
    };
}

probes! {
    Tcp => tcp::Tcp,
    Postgres => postgres::Postgres,
    Mysql => mysql::Mysql,
    Redis => redis::Redis,
    Amqp => amqp::Amqp,
    Http => http::Http,
    Unix => unix::Unix,
    File => file::File,
    Nats => nats::Nats,
    Mqtt => mqtt::Mqtt,
    Mongodb => mongodb::Mongodb,
    Kafka => kafka::Kafka,
    Memcached => memcached::Memcached,
    Grpc => grpc::Grpc,
    Dns => dns::Dns,
}
