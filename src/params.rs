//! The query parameters of a target URL that preflight understands, in each
//! ecosystem's own spelling, turned into one [`TlsParams`] per target.
//!
//! | scheme | parameters |
//! |---|---|
//! | postgres | `sslmode` (`disable` `allow` `prefer` `require` `verify-ca` `verify-full`), `sslrootcert` (a path or `system`), `sslcert`, `sslkey`, `host` (a socket directory), `port`, `user`, `dbname` |
//! | mysql | `ssl-mode` (`DISABLED` `PREFERRED` `REQUIRED` `VERIFY_CA` `VERIFY_IDENTITY`, any case), `ssl-ca`, `ssl-cert`, `ssl-key` (also spelt with `_` or without the dash, as Rails and SQLAlchemy write them) |
//! | rediss | `ssl_cert_reqs` (`none` `required`), `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile` |
//! | amqps | `verify` (`verify_none` `verify_peer`), `cacertfile`, `certfile`, `keyfile` |
//!
//! Every mode is placed on one ladder, [`TlsMode`], from "never" to "the
//! certificate names this host"; what each rung means on the wire belongs to
//! the probe (libpq's SSLRequest, MySQL's SSL request packet, TLS from the
//! first byte for `rediss://` and `amqps://`).
//!
//! Parsing is pure: a known parameter with a bad value is an error naming it
//! and what was expected (exit 2); an unknown one is kept in
//! [`Params::ignored`] for one debug line, since URLs copied from an app's
//! settings carry the driver's other options (`connect_timeout`,
//! `application_name`, `pool_size`...).

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::probe::tls::{Options, Roots, Verify};
use crate::protocol::Protocol;

/// How much TLS a target asks for, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsMode {
    /// Never TLS.
    Disable,
    /// Plain first; TLS only if the server refuses plain (libpq `allow`).
    Allow,
    /// TLS when the server offers it, else plain (libpq `prefer`, MySQL
    /// `PREFERRED`); the certificate is not checked.
    Prefer,
    /// TLS or nothing; the certificate is not checked (unless a CA file is
    /// given: then as [`TlsMode::VerifyCa`], as libpq does).
    Require,
    /// TLS; the certificate chains to a trusted CA.
    VerifyCa,
    /// TLS; the certificate chains to a trusted CA and names the host.
    VerifyFull,
}

impl TlsMode {
    /// Can this mode send anything without TLS?
    pub fn allows_plain(self) -> bool {
        self <= TlsMode::Prefer
    }
}

/// The TLS wishes of one target, as written (None: not said, so the
/// environment or the protocol's default decides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsParams {
    pub mode: Option<TlsMode>,
    /// The CA file (`sslrootcert=`, `ssl-ca=`...), or `system`.
    pub roots: Option<Roots>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsParams {
    /// The mode in force for `protocol` when TLS comes from the scheme
    /// (`tls_scheme`: `rediss`, `amqps`, `https`) or is negotiated.
    pub fn effective_mode(&self, protocol: Protocol, tls_scheme: bool) -> TlsMode {
        let default = match protocol {
            _ if tls_scheme => TlsMode::VerifyFull,
            Protocol::Postgres | Protocol::Mysql => TlsMode::Prefer,
            _ => TlsMode::Disable,
        };
        let mode = self.mode.unwrap_or(match self.roots {
            // libpq: sslrootcert=system makes verify-full the default.
            Some(Roots::System) => TlsMode::VerifyFull,
            _ => default,
        });
        if !tls_scheme && !matches!(protocol, Protocol::Postgres | Protocol::Mysql) {
            return TlsMode::Disable;
        }
        mode
    }

    /// The client options for this mode: what is verified and against what.
    /// `extra_ca` is `PREFLIGHT_CA_FILE`. libpq's rule (the MySQL client's
    /// too): with a root certificate file, `require` verifies the chain.
    pub fn options(&self, mode: TlsMode, extra_ca: Option<PathBuf>) -> Options {
        self.build(mode, extra_ca, true)
    }

    /// For schemes that speak TLS from the first byte (`rediss://`,
    /// `amqps://`): `ssl_cert_reqs=none` / `verify=verify_none` verify
    /// nothing, a CA file given or not, as redis-py and RabbitMQ read them.
    pub fn scheme_options(&self, mode: TlsMode, extra_ca: Option<PathBuf>) -> Options {
        self.build(mode, extra_ca, false)
    }

    fn build(&self, mode: TlsMode, extra_ca: Option<PathBuf>, ca_verifies: bool) -> Options {
        let verify = match mode {
            TlsMode::VerifyFull => Verify::Full,
            TlsMode::VerifyCa => Verify::Ca,
            TlsMode::Require if ca_verifies && matches!(self.roots, Some(Roots::File(_))) => {
                Verify::Ca
            }
            _ => Verify::None,
        };
        Options {
            verify,
            roots: self.roots.clone().unwrap_or_default(),
            extra_ca,
            client_cert: self.cert.clone().zip(self.key.clone()),
            alpn: Vec::new(),
        }
    }
}

/// What a target's query said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub tls: TlsParams,
    /// PostgreSQL `?host=`: a socket directory (starts with `/`) or a host
    /// name that replaces the URL's.
    pub host: Option<String>,
    /// PostgreSQL `?port=`, `?user=`, `?dbname=` (libpq reads the query
    /// after the authority: these win over the URL's own).
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    /// Parameter names preflight does not use (logged once at debug).
    pub ignored: Vec<String>,
}

/// Parse `query` (without `?`) for `protocol`. Errors name the parameter,
/// its value and what was expected; values are file paths and modes, never
/// secrets (a `password=` parameter is ignored and never echoed).
pub fn parse(protocol: Protocol, query: &str) -> Result<Params, String> {
    let mut params = Params::default();
    if !matches!(
        protocol,
        Protocol::Postgres | Protocol::Mysql | Protocol::Redis | Protocol::Amqp
    ) {
        // Sent to the server as it is (http), or not used.
        return Ok(params);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key);
        let value = decode(raw_value);
        // ssl-mode, ssl_mode and sslmode are one key.
        let norm: String = key
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect();
        let bad = |expected: &str| format!("parameter {key}='{value}': expected {expected}");
        let path = |what: &str| -> Result<PathBuf, String> {
            if value.is_empty() {
                Err(format!("parameter {key}: expected the path of {what}"))
            } else {
                Ok(PathBuf::from(&value))
            }
        };
        let tls = &mut params.tls;
        match (protocol, norm.as_str()) {
            (Protocol::Postgres, "sslmode") => {
                tls.mode = Some(postgres_mode(&value).ok_or_else(|| {
                    bad("one of disable, allow, prefer, require, verify-ca, verify-full")
                })?)
            }
            (Protocol::Postgres, "sslrootcert") if value == "system" => {
                tls.roots = Some(Roots::System)
            }
            (Protocol::Postgres, "sslrootcert")
            | (Protocol::Mysql, "sslca")
            | (Protocol::Redis, "sslcacerts")
            | (Protocol::Amqp, "cacertfile") => {
                tls.roots = Some(Roots::File(path("a PEM file of CA certificates")?))
            }
            (Protocol::Postgres | Protocol::Mysql, "sslcert")
            | (Protocol::Redis, "sslcertfile")
            | (Protocol::Amqp, "certfile") => tls.cert = Some(path("a PEM client certificate")?),
            (Protocol::Postgres | Protocol::Mysql, "sslkey")
            | (Protocol::Redis, "sslkeyfile")
            | (Protocol::Amqp, "keyfile") => tls.key = Some(path("a PEM private key")?),
            (Protocol::Postgres, "host") => {
                if value.is_empty() {
                    return Err(format!(
                        "parameter {key}: expected a socket directory or a host name"
                    ));
                }
                params.host = Some(value.clone())
            }
            (Protocol::Postgres, "port") => {
                params.port = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| bad("a port number from 1 to 65535"))?,
                )
            }
            (Protocol::Postgres, "user") if !value.is_empty() => params.user = Some(value.clone()),
            (Protocol::Postgres, "dbname") if !value.is_empty() => {
                params.dbname = Some(value.clone())
            }
            (Protocol::Mysql, "sslmode") => {
                tls.mode = Some(mysql_mode(&value).ok_or_else(|| {
                    bad("one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY")
                })?)
            }
            (Protocol::Redis, "sslcertreqs") => {
                tls.mode = Some(match value.to_ascii_lowercase().as_str() {
                    "none" | "cert_none" => TlsMode::Require,
                    "required" | "cert_required" => TlsMode::VerifyFull,
                    _ => return Err(bad("none or required")),
                })
            }
            (Protocol::Amqp, "verify") => {
                tls.mode = Some(match value.as_str() {
                    "verify_none" => TlsMode::Require,
                    "verify_peer" => TlsMode::VerifyFull,
                    _ => return Err(bad("verify_none or verify_peer")),
                })
            }
            _ => params.ignored.push(key),
        }
    }
    if params.tls.cert.is_some() != params.tls.key.is_some() {
        return Err("a client certificate needs both its certificate and its key parameter".into());
    }
    if params.tls.roots == Some(Roots::System)
        && params.tls.mode.is_some_and(|m| m != TlsMode::VerifyFull)
    {
        return Err(
            "parameter sslrootcert=system: expected sslmode=verify-full (or no sslmode), as libpq"
                .into(),
        );
    }
    Ok(params)
}

/// libpq's `sslmode` values (and `PGSSLMODE`'s).
pub fn postgres_mode(value: &str) -> Option<TlsMode> {
    Some(match value {
        "disable" => TlsMode::Disable,
        "allow" => TlsMode::Allow,
        "prefer" => TlsMode::Prefer,
        "require" => TlsMode::Require,
        "verify-ca" => TlsMode::VerifyCa,
        "verify-full" => TlsMode::VerifyFull,
        _ => return None,
    })
}

/// The mysql client's `--ssl-mode` values, in any case, `-` or `_`.
pub fn mysql_mode(value: &str) -> Option<TlsMode> {
    Some(
        match value.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => TlsMode::Disable,
            "PREFERRED" => TlsMode::Prefer,
            "REQUIRED" => TlsMode::Require,
            "VERIFY_CA" => TlsMode::VerifyCa,
            "VERIFY_IDENTITY" => TlsMode::VerifyFull,
            _ => return None,
        },
    )
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ecosystem_spells_its_modes_its_own_way() {
        let pg = |q| parse(Protocol::Postgres, q).unwrap().tls.mode;
        assert_eq!(pg("sslmode=verify-full"), Some(TlsMode::VerifyFull));
        assert_eq!(pg("sslmode=allow"), Some(TlsMode::Allow));
        assert_eq!(pg(""), None);
        let my = |q| parse(Protocol::Mysql, q).unwrap().tls.mode;
        assert_eq!(my("ssl-mode=verify_identity"), Some(TlsMode::VerifyFull));
        assert_eq!(my("ssl_mode=Required"), Some(TlsMode::Require));
        assert_eq!(my("sslmode=DISABLED"), Some(TlsMode::Disable));
        let redis = parse(Protocol::Redis, "ssl_cert_reqs=none&ssl_ca_certs=/ca.pem").unwrap();
        assert_eq!(redis.tls.mode, Some(TlsMode::Require));
        assert_eq!(redis.tls.roots, Some(Roots::File("/ca.pem".into())));
        let amqp = parse(Protocol::Amqp, "verify=verify_none&cacertfile=/c.pem").unwrap();
        assert_eq!(amqp.tls.mode, Some(TlsMode::Require));
    }

    #[test]
    fn a_known_parameter_with_a_bad_value_is_named_an_unknown_one_kept_aside() {
        let e = parse(Protocol::Postgres, "sslmode=required").unwrap_err();
        assert!(
            e.contains("sslmode='required'") && e.contains("verify-full"),
            "{e}"
        );
        let e = parse(Protocol::Mysql, "ssl-mode=on").unwrap_err();
        assert!(
            e.contains("ssl-mode='on'") && e.contains("VERIFY_IDENTITY"),
            "{e}"
        );
        let e = parse(Protocol::Redis, "ssl_cert_reqs=maybe").unwrap_err();
        assert!(e.contains("ssl_cert_reqs"), "{e}");
        let e = parse(Protocol::Amqp, "verify=yes").unwrap_err();
        assert!(e.contains("verify_none"), "{e}");
        assert!(parse(Protocol::Postgres, "sslcert=/c.pem").is_err());
        assert!(parse(Protocol::Postgres, "sslrootcert=system&sslmode=require").is_err());
        let p = parse(
            Protocol::Postgres,
            "connect_timeout=5&password=hunter2&sslmode=disable",
        )
        .unwrap();
        assert_eq!(p.ignored, ["connect_timeout", "password"]);
        // Positive control for the spellings refused above.
        assert!(parse(Protocol::Postgres, "sslrootcert=system&sslmode=verify-full").is_ok());
    }

    #[test]
    fn modes_map_onto_what_is_verified() {
        let none = TlsParams::default();
        assert_eq!(
            none.effective_mode(Protocol::Postgres, false),
            TlsMode::Prefer
        );
        assert_eq!(
            none.effective_mode(Protocol::Redis, true),
            TlsMode::VerifyFull
        );
        assert_eq!(
            none.effective_mode(Protocol::Redis, false),
            TlsMode::Disable
        );
        assert_eq!(none.options(TlsMode::Require, None).verify, Verify::None);
        let with_ca = TlsParams {
            roots: Some(Roots::File("/ca.pem".into())),
            ..TlsParams::default()
        };
        assert_eq!(with_ca.options(TlsMode::Require, None).verify, Verify::Ca);
        // rediss://...?ssl_cert_reqs=none&ssl_ca_certs=...: none is none.
        assert_eq!(
            with_ca.scheme_options(TlsMode::Require, None).verify,
            Verify::None
        );
        assert_eq!(
            with_ca.scheme_options(TlsMode::VerifyFull, None).verify,
            Verify::Full
        );
        assert_eq!(
            with_ca.options(TlsMode::VerifyFull, None).verify,
            Verify::Full
        );
        let system = TlsParams {
            roots: Some(Roots::System),
            ..TlsParams::default()
        };
        assert_eq!(
            system.effective_mode(Protocol::Postgres, false),
            TlsMode::VerifyFull
        );
    }
}
