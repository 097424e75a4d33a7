//! Certificates made for a test (rcgen): a private CA, server certificates it
//! signs (for `localhost` and `127.0.0.1`, another name, expired), client
//! certificates, and an unrelated "wrong" CA. Written as PEM files for real
//! servers (PostgreSQL `ssl_cert_file`, MariaDB `--ssl-cert`, Redis
//! `--tls-cert-file`) and for preflight (`PREFLIGHT_CA_FILE`, `sslrootcert=`),
//! or handed to a rustls server for fake peers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::TempDir;

/// The names every test server certificate carries.
pub const SERVER_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// A private CA and certificates it signs, all made for the test.
pub struct Pki {
    ca: Issuer<'static, KeyPair>,
    pub ca_cert: CertificateDer<'static>,
    pub ca_pem: String,
}

/// A certificate and its key, as PEM and DER.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl Issued {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone().into())
    }

    /// Write `NAME.crt` and `NAME.key` in `dir`; their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Each CA its own name: a "wrong CA" with the same name would be
        // taken for the issuer and fail on the signature instead.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.distinguished_name.push(
            DnType::CommonName,
            format!("preflight test CA {} {n}", std::process::id()),
        );
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_cert: cert.der().clone(),
            ca_pem: cert.pem(),
            ca: Issuer::new(params, key),
        }
    }

    /// Write the CA certificate as a PEM file in `dir` (for
    /// PREFLIGHT_CA_FILE, `sslrootcert=`, `ssl-ca=`...).
    pub fn ca_file(&self, dir: &TempDir) -> PathBuf {
        self.ca_file_in(dir.path(), "ca.pem")
    }

    pub fn ca_file_in(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }

    /// A certificate for `names` (DNS names or IP literals), signed by this
    /// CA; `expired` puts its validity in 2000.
    pub fn issue(&self, names: &[&str], expired: bool) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if let Some(first) = names.first() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain: vec![cert.der().clone(), self.ca_cert.clone()],
            key_der: key.serialize_der(),
        }
    }

    /// A rustls server configuration for `names`, signed by this CA.
    pub fn server(&self, names: &[&str], expired: bool) -> ServerConfig {
        let issued = self.issue(names, expired);
        server_config(issued.chain.clone(), issued.key())
    }

    /// A rustls server configuration for [`SERVER_NAMES`] that demands a
    /// client certificate signed by this CA.
    pub fn server_requiring_client_cert(&self) -> ServerConfig {
        let issued = self.issue(SERVER_NAMES, false);
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(issued.chain.clone(), issued.key())
            .unwrap()
    }
}

/// A server configuration with a self-signed certificate for `localhost`.
pub fn self_signed_server() -> ServerConfig {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    server_config(
        vec![cert.der().clone()],
        PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap()
}
