//! The one TLS client of every probe (https, PostgreSQL, MySQL, Redis, AMQP):
//! rustls with the `ring` provider, TLS 1.3 and 1.2, SNI from the target's
//! host name when it is a DNS name.
//!
//! Each protocol turns its own spelling (`sslmode=verify-ca`,
//! `ssl-mode=VERIFY_IDENTITY`, `rediss://`, `?verify=verify_none`...) into
//! one [`Options`]; this file owns what those options mean:
//!
//! | [`Verify`] | the server's certificate must |
//! |---|---|
//! | `None` | nothing: encryption only (libpq `require`, MySQL `REQUIRED`) |
//! | `Ca` | chain to a trusted CA, be in date; any host name (`verify-ca`) |
//! | `Full` | as `Ca`, and name the host we connected to (`verify-full`) |
//!
//! Trust ([`Roots`]): by default the Mozilla roots compiled in (webpki-roots,
//! since `FROM scratch` and distroless images have no CA files), plus every
//! certificate in the PEM file named by `PREFLIGHT_CA_FILE` (for in-cluster
//! services signed by a private CA). A protocol's own CA file
//! (`sslrootcert=`, `ssl-ca=`...) *replaces* the bundled roots, as it does
//! for libpq and the mysql client (public roots plus no host name check would
//! let any public certificate through); `PREFLIGHT_CA_FILE` is still trusted
//! beside it. `system` (libpq's `sslrootcert=system`) is the system's CA
//! bundle when one is found, the bundled roots otherwise. Files are read
//! once, when the probe is built; a file that cannot be read or holds no
//! certificate makes every try [`ProbeError::Fatal`], naming the file.
//!
//! A client certificate and key (PEM) are sent when asked for.
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
//! No message names a secret: only file paths, host names and the
//! certificate's own names appear.
//!
//! Deliberately not done: revocation checks (CRL, OCSP).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{ProbeError, net};

/// The variable naming a PEM file of extra CA certificates to trust.
pub const CA_FILE_VAR: &str = "PREFLIGHT_CA_FILE";

/// What is checked of the server's certificate (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    None,
    Ca,
    Full,
}

/// Which CAs are trusted (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Roots {
    /// The bundled Mozilla roots.
    #[default]
    Bundled,
    /// The certificates in this PEM file only.
    File(PathBuf),
    /// The system's CA bundle (the bundled roots where there is none).
    System,
}

/// Everything one target asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub verify: Verify,
    pub roots: Roots,
    /// `PREFLIGHT_CA_FILE`: trusted beside `roots`.
    pub extra_ca: Option<PathBuf>,
    /// A client certificate (chain) and its key, both PEM files.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// ALPN protocols to offer (`http/1.1` for https); none by default.
    pub alpn: Vec<Vec<u8>>,
}

impl Default for Options {
    /// Verified as a browser does, trusting the bundled roots.
    fn default() -> Options {
        Options {
            verify: Verify::Full,
            roots: Roots::Bundled,
            extra_ca: None,
            client_cert: None,
            alpn: Vec::new(),
        }
    }
}

/// A client for one host: its configuration is built once, each try only
/// does the handshake.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Why no handshake can ever succeed (a bad CA file, a host name that
    /// cannot be a certificate name), reported on every try.
    setup: Result<(Arc<ClientConfig>, ServerName<'static>), String>,
}

impl Tls {
    /// For `host` (a DNS name or an IP literal), verified fully against the
    /// bundled roots and the certificates in `extra_ca`, offering
    /// `http/1.1` (the https probe).
    pub fn new(host: &str, extra_ca: Option<&Path>) -> Tls {
        Tls::with_options(
            host,
            &Options {
                extra_ca: extra_ca.map(Path::to_path_buf),
                alpn: vec![b"http/1.1".to_vec()],
                ..Options::default()
            },
        )
    }

    /// For `host`, as `options` say.
    pub fn with_options(host: &str, options: &Options) -> Tls {
        Tls {
            setup: config(options).and_then(|config| {
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

/// The client for a target whose scheme speaks TLS from the first byte
/// (`rediss://`, `amqps://`), with its parameters and `PREFLIGHT_CA_FILE`;
/// None for a plain scheme.
pub fn for_scheme(target: &crate::target::Target) -> Option<Tls> {
    if !target.tls {
        return None;
    }
    let params = &target.params.tls;
    let mode = params.effective_mode(target.protocol, true);
    Some(Tls::with_options(
        &target.host,
        &params.scheme_options(mode, target.ca_file.clone()),
    ))
}

/// Connect to `host:port` ([`net::connect`]) and, with `tls`, handshake at
/// once.
pub async fn connect(host: &str, port: u16, tls: Option<&Tls>) -> Result<Stream, ProbeError> {
    if let Some(tls) = tls {
        tls.usable()?;
    }
    let tcp = net::connect(host, port).await?;
    match tls {
        None => Ok(Stream::Plain(tcp)),
        Some(tls) => Ok(Stream::Tls(Box::new(tls.handshake(tcp).await?))),
    }
}

/// A connection that is plain TCP or TLS over TCP: what the database probes
/// read and write, whichever their mode.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// A unix socket (PostgreSQL's socket directory): never TLS.
    Unix(tokio::net::UnixStream),
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Upgrade a plain connection (after the protocol's own "let us speak
    /// TLS" exchange).
    pub async fn upgrade(self, tls: &Tls) -> Result<Stream, ProbeError> {
        match self {
            Stream::Plain(tcp) => Ok(Stream::Tls(Box::new(tls.handshake(tcp).await?))),
            other => Ok(other),
        }
    }

    /// The socket underneath, for a lock that only needs to keep its
    /// session open: nothing is read or written on it again, so dropping
    /// the TLS state (without close_notify) is fine. Blocking, CLOEXEC.
    pub fn into_socket(self) -> io::Result<std::os::fd::OwnedFd> {
        let fd: std::os::fd::OwnedFd = match self {
            Stream::Plain(tcp) => tcp.into_std()?.into(),
            Stream::Tls(tls) => tls.into_inner().0.into_std()?.into(),
            Stream::Unix(unix) => unix.into_std()?.into(),
        };
        // Back to blocking: the runtime that polled it is going away.
        let std = std::net::TcpStream::from(fd);
        std.set_nonblocking(false)?;
        Ok(std.into())
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Where the system keeps its CA bundle, by distribution; `SSL_CERT_FILE`
/// first, as OpenSSL reads it.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

fn config(options: &Options) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match &options.roots {
        // Nothing is verified: no file needs reading.
        _ if options.verify == Verify::None => {}
        Roots::Bundled => roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        Roots::File(path) => add_ca_file(&mut roots, path, "CA file")?,
        Roots::System => {
            let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
            let bundle = from_env
                .into_iter()
                .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
                .find(|p| p.is_file());
            match bundle {
                // A system bundle may hold a certificate webpki cannot
                // parse: skip it rather than refuse them all.
                Some(path) => {
                    for cert in CertificateDer::pem_file_iter(&path)
                        .map_err(|e| pem_error(&path, "system CA file", e))?
                        .flatten()
                    {
                        let _ = roots.add(cert);
                    }
                }
                None => roots.roots = webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }
        }
    }
    if let Some(path) = options
        .extra_ca
        .as_ref()
        .filter(|_| options.verify != Verify::None)
    {
        add_ca_file(&mut roots, path, CA_FILE_VAR)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match options.verify {
        Verify::Full => builder.with_root_certificates(roots),
        Verify::Ca | Verify::None => {
            let webpki = match options.verify {
                Verify::Ca => Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| format!("TLS: {e}"))?,
                ),
                _ => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { webpki, provider }))
        }
    };
    let mut config = match &options.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pem_error(cert, "client certificate", e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error(cert, "client certificate", e))?;
            if chain.is_empty() {
                return Err(format!(
                    "TLS: client certificate {} holds no PEM CERTIFICATE block",
                    cert.display()
                ));
            }
            // The key's contents never reach a message: only its path.
            let private =
                PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, "client key", e))?;
            builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| format!("TLS: client certificate {}: {e}", cert.display()))?
        }
    };
    config.alpn_protocols = options.alpn.clone();
    Ok(Arc::new(config))
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path, what: &str) -> Result<(), String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, what, e))?;
    let mut added = 0;
    for cert in certs {
        let cert = cert.map_err(|e| pem_error(path, what, e))?;
        roots
            .add(cert)
            .map_err(|e| format!("TLS: {what} {shown}: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!(
            "TLS: {what} {shown} holds no PEM CERTIFICATE block"
        ));
    }
    Ok(())
}

fn pem_error(path: &Path, what: &str, e: pem::Error) -> String {
    let shown = path.display();
    match e {
        pem::Error::Io(e) => format!("TLS: cannot read {what} {shown}: {}", net::describe(&e)),
        pem::Error::NoItemsFound => format!("TLS: {what} {shown} holds no PEM block of that kind"),
        // Parse errors name the PEM structure, never its contents.
        e => format!("TLS: {what} {shown}: {e}"),
    }
}

/// `Verify::Ca` (the chain is checked, the name is not) and `Verify::None`
/// (nothing is). The handshake's signatures are always checked: they prove
/// the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct Lenient {
    /// The chain checker (`Verify::Ca`); None checks nothing.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        // webpki checks the chain (issuer, dates) before the name, so a name
        // error means the chain was good.
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
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
        None if super::net::hung_up(&err) => {
            ProbeError::Protocol("connection closed during the TLS handshake".into())
        }
        None => ProbeError::Io {
            about: "TLS handshake",
            err,
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
        CertificateError::NotValidForName => "not valid for this host name (name mismatch)".into(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "not valid for {:?} (name mismatch): it names {}",
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
