//! The TLS client of `https://` probes: rustls with the `ring` provider,
//! TLS 1.3 and 1.2, SNI from the target's host name, ALPN `http/1.1`.
//!
//! Trust: the Mozilla roots compiled in (webpki-roots), since `FROM scratch`
//! and distroless images have no CA files to read; plus, for in-cluster
//! services signed by a private CA, every certificate in the PEM file named
//! by `PREFLIGHT_CA_FILE` (added to the roots, not replacing them). The file
//! is read once, when the probe is built; a file that cannot be read or
//! holds no certificate makes every try [`ProbeError::Fatal`], naming it.
//!
//! What a failed handshake means:
//!
//! - the certificate is rejected (unknown issuer, expired, not valid for the
//!   name...): [`ProbeError::Fatal`], "TLS: certificate ...": waiting will not
//!   fix it;
//! - the server shares no protocol version or cipher suite with us: Fatal too;
//! - the peer closes, resets or sends something that is not TLS (a proxy with
//!   nothing behind it, a plain-HTTP port, a server still starting):
//!   [`ProbeError::Protocol`], retried; an alert from the server is too.
//!
//! Deliberately not done: client certificates, revocation checks, the
//! system's CA files.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{ProbeError, net};

/// The variable naming a PEM file of extra CA certificates to trust.
pub const CA_FILE_VAR: &str = "PREFLIGHT_CA_FILE";

/// A client for one host: its configuration is built once, each try only
/// does the handshake.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Why no handshake can ever succeed (a bad CA file, a host name that
    /// cannot be a certificate name), reported on every try.
    setup: Result<(Arc<ClientConfig>, ServerName<'static>), String>,
}

impl Tls {
    /// For `host` (a DNS name or an IP literal), trusting the bundled roots
    /// and the certificates in `extra_ca`.
    pub fn new(host: &str, extra_ca: Option<&Path>) -> Tls {
        Tls {
            setup: config(extra_ca).and_then(|config| {
                let name = ServerName::try_from(host.to_string()).map_err(|_| {
                    format!("TLS: '{host}' cannot be checked against a certificate")
                })?;
                Ok((config, name))
            }),
        }
    }

    /// Can a handshake succeed at all? Checked before connecting, so a bad
    /// CA file is reported as such, whatever the server's state.
    pub fn usable(&self) -> Result<(), ProbeError> {
        match &self.setup {
            Ok(_) => Ok(()),
            Err(e) => Err(ProbeError::Fatal(e.clone())),
        }
    }

    /// Handshake over `tcp`.
    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, ProbeError> {
        let (config, name) = self
            .setup
            .as_ref()
            .map_err(|e| ProbeError::Fatal(e.clone()))?;
        TlsConnector::from(config.clone())
            .connect(name.clone(), tcp)
            .await
            .map_err(handshake_error)
    }
}

fn config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let shown = path.display();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| match e {
            pem::Error::Io(e) => format!(
                "TLS: cannot read {CA_FILE_VAR} {shown}: {}",
                net::describe(&e)
            ),
            e => format!("TLS: {CA_FILE_VAR} {shown}: {e}"),
        })?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("TLS: {CA_FILE_VAR} {shown}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("TLS: {CA_FILE_VAR} {shown}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "TLS: {CA_FILE_VAR} {shown} holds no PEM CERTIFICATE block"
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn handshake_error(err: io::Error) -> ProbeError {
    let tls = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(cert)) => {
            ProbeError::Fatal(format!("TLS: certificate {}", certificate(cert)))
        }
        Some(e @ rustls::Error::PeerIncompatible(_)) => ProbeError::Fatal(format!("TLS: {e}")),
        Some(rustls::Error::AlertReceived(alert)) => {
            ProbeError::Protocol(format!("TLS: the server refused the handshake ({alert:?})"))
        }
        Some(e @ rustls::Error::InvalidMessage(_)) => ProbeError::Protocol(format!(
            "TLS handshake: the peer does not speak TLS, a plain-HTTP port? ({e})"
        )),
        Some(e) => ProbeError::Protocol(format!("TLS handshake: {e}")),
        None => match err.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => {
                ProbeError::Protocol("connection closed during the TLS handshake".into())
            }
            _ => ProbeError::Io {
                about: "TLS handshake",
                err,
            },
        },
    }
}

/// "certificate ..." in words a user can act on.
fn certificate(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => format!(
            "not trusted: unknown issuer (self-signed or a private CA? add the CA to {CA_FILE_VAR})"
        ),
        CertificateError::Expired => "expired".into(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("expired on {}", date(not_after))
        }
        CertificateError::NotValidYet => "not valid yet (is the clock right?)".into(),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "not valid before {} (is the clock right?)",
            date(not_before)
        ),
        CertificateError::NotValidForName => "not valid for this host name".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "not valid for {:?}: it names {}",
            expected.to_str(),
            if presented.is_empty() {
                "no host at all".to_string()
            } else {
                presented
                    .iter()
                    .map(|name| unwrap_debug(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        CertificateError::BadSignature => "has a bad signature".into(),
        CertificateError::Revoked => "revoked".into(),
        other => format!("rejected: {other}"),
    }
}

fn date(t: &UnixTime) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs());
    humantime::format_rfc3339_seconds(t).to_string()
}

/// rustls shows a certificate's names as `DnsName("db")`: keep `db`.
fn unwrap_debug(name: &str) -> &str {
    name.split_once("(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"))
        .unwrap_or(name)
}
