//! Opening a PostgreSQL connection as libpq's `sslmode` says.
//!
//! | sslmode | on the wire |
//! |---|---|
//! | `disable` | plain |
//! | `allow` | plain; a login refused with 28000 (a `hostssl`-only pg_hba) is tried again over TLS |
//! | `prefer` (default) | `SSLRequest`; `S`: TLS, certificate not checked; `N`: plain on the same connection; a failed handshake: plain on a new one |
//! | `require` | `SSLRequest`; `S`: TLS, not checked (checked against `sslrootcert` when one is given, as libpq); `N`: [`ProbeError::Fatal`] "the server does not offer TLS" |
//! | `verify-ca` | as `require`, the chain checked against `sslrootcert` (default: the bundled roots) and `PREFLIGHT_CA_FILE` |
//! | `verify-full` | as `verify-ca`, and the certificate must name the host |
//!
//! With `require` and stricter, nothing follows the `SSLRequest` in
//! cleartext: no StartupMessage (it names the user), no password. A unix
//! socket (`?host=/run/postgresql`) is never TLS, as with libpq.

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::params::TlsMode;
use crate::probe::tls::{Stream, Tls};
use crate::target::Target;

use super::super::{ProbeError, net};

/// SSLRequest: length 8, code 1234.5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// How one target connects: built once, used by every try.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    pub(crate) mode: TlsMode,
    tls: Tls,
}

impl Connector {
    pub(crate) fn new(target: &Target) -> Connector {
        let params = &target.params.tls;
        let mode = params.effective_mode(target.protocol, false);
        Connector {
            mode,
            tls: Tls::with_options(&target.host, &params.options(mode, target.ca_file.clone())),
        }
    }

    /// A connection ready for the StartupMessage, TLS or not as the mode
    /// says (see the module doc).
    pub(crate) async fn connect(&self, target: &Target) -> Result<Stream, ProbeError> {
        if target.host.starts_with('/') {
            let path = format!("{}/.s.PGSQL.{}", target.host, target.port);
            return UnixStream::connect(&path)
                .await
                .map(Stream::Unix)
                .map_err(ProbeError::Connect);
        }
        match self.mode {
            TlsMode::Disable | TlsMode::Allow => self.plain(target).await,
            TlsMode::Prefer => match self.negotiate(target).await {
                Err(e @ ProbeError::Fatal(_)) => {
                    tracing::debug!("sslmode=prefer: TLS failed ({e}), trying without");
                    self.plain(target).await
                }
                other => other,
            },
            _ => {
                self.tls.usable()?;
                self.negotiate(target).await
            }
        }
    }

    /// `allow`: after a plain login was refused, the same over TLS.
    pub(crate) async fn connect_tls(&self, target: &Target) -> Result<Stream, ProbeError> {
        self.negotiate(target).await
    }

    async fn plain(&self, target: &Target) -> Result<Stream, ProbeError> {
        Ok(Stream::Plain(
            net::connect(&target.host, target.port).await?,
        ))
    }

    /// SSLRequest, then the handshake on `S`.
    async fn negotiate(&self, target: &Target) -> Result<Stream, ProbeError> {
        let mut tcp = net::connect(&target.host, target.port).await?;
        tcp.write_all(&SSL_REQUEST)
            .await
            .map_err(|e| net::io_error(e, "postgres", "sending SSLRequest"))?;
        let answer = net::read_exact(&mut tcp, 1, "the answer to SSLRequest").await?;
        match answer[0] {
            b'S' => Stream::Plain(tcp).upgrade(&self.tls).await,
            b'N' if self.mode.allows_plain() => Ok(Stream::Plain(tcp)),
            b'N' => Err(ProbeError::Fatal(format!(
                "the server does not offer TLS, and sslmode={} requires it (nothing was sent \
                 in cleartext; use sslmode=prefer or disable to allow a plain connection)",
                libpq_name(self.mode)
            ))),
            // A server before 7.0, or not PostgreSQL: an ErrorResponse or noise.
            other => Err(super::wire::not_postgres(other)),
        }
    }
}

fn libpq_name(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Disable => "disable",
        TlsMode::Allow => "allow",
        TlsMode::Prefer => "prefer",
        TlsMode::Require => "require",
        TlsMode::VerifyCa => "verify-ca",
        TlsMode::VerifyFull => "verify-full",
    }
}
