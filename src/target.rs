//! What the user asked to wait for: one string → one [`Target`].
//!
//! Schemes, their default ports and the ports a bare `host:port` picks a
//! protocol by are looked up in the registry ([`crate::protocol`]). Parsing is pure
//! and strict: every bad value is a [`TargetError`] naming the value and what
//! was expected, and nothing is resolved here (names are resolved anew on
//! every try, by the probes).
//!
//! Grammar:
//!
//! ```text
//! host:port | [v6]:port                     bare: protocol from the port
//! tcp://host:port                           plain TCP connect, whatever the port
//! postgres[ql]://[user[:pass]@]host[:port][/db][?params]
//! mysql:// | mariadb://[user[:pass]@]host[:port][/db]
//! redis://[[user]:pass@]host[:port][/n]
//! amqp://[user[:pass]@]host[:port][/vhost]
//! http[s]://host[:port][/path][?query]
//! nats://[user:pass@|token@]host[:4222]
//! mqtt[s]://[user[:pass]@]host[:1883|8883]
//! mongodb://[user[:pass]@]host[:27017][/db]
//! kafka://host[:9092]
//! memcached://host[:11211]
//! unix:///path/to.sock
//! file:///path/to/file
//! any of them + #timeout=30s[&down&...]     preflight's own per-target options
//!                                           (see crate::expect)
//! ```
//!
//! The query belongs to the protocol (it is sent to an HTTP server; libpq-style
//! `?sslmode=` is accepted and ignored); preflight's own per-target options go
//! in the fragment, which no server ever sees.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::expect::{self, Expect, Family};
use crate::protocol;
pub use crate::protocol::Protocol;
use crate::secrets::Secret;

/// One thing to wait for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub protocol: Protocol,
    /// TLS from the first byte, as the scheme says (`https`).
    pub tls: bool,
    /// Host name or IP literal (IPv6 without brackets); empty for unix/file.
    pub host: String,
    /// 0 for unix/file.
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// Percent-decoded path without the leading `/` for database-like schemes
    /// (database, Redis db number, vhost); the raw path for http(s); the file
    /// system path for unix/file.
    pub path: String,
    /// The raw query string (without `?`), as given.
    pub query: String,
    /// Per-target wait timeout (`#timeout=`), overriding `--timeout`.
    pub timeout: Option<Duration>,
    /// The fragment's options that change what "ready" means (`#status=`,
    /// `#down`...): see [`crate::expect`].
    pub expect: Expect,
    /// https: a PEM file of extra CA certificates to trust besides the
    /// bundled roots (`PREFLIGHT_CA_FILE`, set by the config).
    pub ca_file: Option<std::path::PathBuf>,
    /// The target as written, with any password replaced by `***`.
    redacted: String,
}

impl Target {
    /// How the target is shown in every log line and error.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Does the user want an authenticated check (a user or password given)?
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() || self.password.is_some()
    }

    /// Set the password (from the environment or a secret file) if the URL had
    /// none.
    pub fn set_password_if_missing(&mut self, password: Secret) {
        if self.password.is_none() {
            self.password = Some(password);
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Why a target string was refused. Its `Display` is the whole one-line
/// message, naming the (redacted) value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub value: String,
    pub expected: String,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid target '{}': {}", self.value, self.expected)
    }
}

impl std::error::Error for TargetError {}

/// Parse one target.
pub fn parse(input: &str) -> Result<Target, TargetError> {
    let (without_fragment, fragment) = match input.split_once('#') {
        Some((a, b)) => (a, Some(b)),
        None => (input, None),
    };
    let redacted = redact(input);
    let err = |expected: String| TargetError {
        value: redacted.clone(),
        expected,
    };
    if input.trim().is_empty() {
        return Err(err(
            "expected host:port or a URL such as postgres://db:5432".into(),
        ));
    }

    let mut target = match without_fragment.split_once("://") {
        Some((scheme, rest)) => {
            let Some(row) = protocol::scheme(scheme) else {
                return Err(err(format!(
                    "unknown scheme '{scheme}', expected one of: {} (for a plain TCP \
                     check, write tcp://host:port)",
                    known_schemes()
                )));
            };
            let mut target = parse_url(row, rest).map_err(&err)?;
            if target.protocol == Protocol::Nats && target.password.is_none() {
                // nats://TOKEN@host: a user-info without ':' is a token.
                target.password = target.user.take().map(Secret::new);
            }
            target
        }
        None => {
            if without_fragment.contains('/') || without_fragment.contains('@') {
                return Err(err(format!(
                    "expected host:port or scheme://... (known schemes: {})",
                    known_schemes()
                )));
            }
            let (host, port) = parse_host_port(without_fragment, None).map_err(&err)?;
            let protocol = protocol::for_bare_port(port).map_or(Protocol::Tcp, |s| s.protocol);
            Target {
                protocol,
                tls: false,
                host,
                port,
                user: None,
                password: None,
                path: String::new(),
                query: String::new(),
                timeout: None,
                expect: Expect::default(),
                ca_file: None,
                redacted: String::new(),
            }
        }
    };
    if let Some(fragment) = fragment {
        parse_options(&mut target, fragment).map_err(&err)?;
    }
    target.redacted = redacted;
    Ok(target)
}

fn known_schemes() -> String {
    protocol::scheme_names()
}

fn parse_url(row: &protocol::Scheme, rest: &str) -> Result<Target, String> {
    let (kind, default_port) = (row.protocol, row.default_port);
    if matches!(kind, Protocol::Unix | Protocol::File) {
        // unix:///run/x.sock: the authority must be empty, the path absolute.
        let path = rest.split(['?']).next().unwrap_or("");
        if !path.starts_with('/') {
            return Err("expected an absolute path after the scheme, like unix:///run/app.sock or file:///tmp/ready".into());
        }
        let path = decode(path)?;
        return Ok(Target {
            protocol: kind,
            tls: row.tls,
            host: String::new(),
            port: 0,
            user: None,
            password: None,
            path,
            query: String::new(),
            timeout: None,
            expect: Expect::default(),
            ca_file: None,
            redacted: String::new(),
        });
    }

    let (authority, path_and_query) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (name, pass) = match u.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (u, None),
            };
            let name = decode(name)?;
            let user = if name.is_empty() { None } else { Some(name) };
            let password = match pass {
                Some(p) => Some(Secret::new(decode(p)?)),
                None => None,
            };
            (user, password)
        }
    };
    let (host, port) = parse_host_port(hostport, default_port)?;
    let (raw_path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q.to_string()),
        None => (path_and_query, String::new()),
    };
    let path = match kind {
        Protocol::Http => {
            if raw_path.is_empty() {
                "/".to_string()
            } else {
                raw_path.to_string()
            }
        }
        _ => decode(raw_path.trim_start_matches('/'))?,
    };
    if kind == Protocol::Redis && !path.is_empty() && path.parse::<u32>().is_err() {
        return Err(format!(
            "expected a database number after the host, like redis://cache:6379/0, not '/{path}'"
        ));
    }
    Ok(Target {
        protocol: kind,
        tls: row.tls,
        host,
        port,
        user,
        password,
        path,
        query,
        timeout: None,
        expect: Expect::default(),
        ca_file: None,
        redacted: String::new(),
    })
}

/// `host:port`, `[v6]:port`, or just `host` when the scheme has a default port.
fn parse_host_port(s: &str, default_port: Option<u16>) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("expected ']' to close the IPv6 address, like [::1]:5432".into());
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{v6}' is not an IPv6 address"));
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err("expected ':port' after the IPv6 address, like [::1]:5432".into()),
        };
        (v6.to_string(), port)
    } else {
        if s.matches(':').count() > 1 {
            return Err("an IPv6 address must be in brackets, like [::1]:5432".into());
        }
        match s.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("expected a host name or address before the port".into());
    }
    if !host.contains(':')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!("'{host}' is not a valid host name"));
    }
    let port = match port {
        Some(p) => parse_port(p)?,
        None => default_port.ok_or_else(|| {
            "expected a port, like host:5432 (no default port for this scheme)".to_string()
        })?,
    };
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port '{p}' is not a number from 1 to 65535"));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("port '{p}' is out of range, expected 1 to 65535")),
    }
}

/// `#timeout=30s&status=204`: `timeout` here, the rest in [`Expect::set`].
fn parse_options(target: &mut Target, fragment: &str) -> Result<(), String> {
    let family = match target.protocol {
        Protocol::Http => Family::Http,
        Protocol::Mongodb => Family::Mongodb,
        _ => Family::Other,
    };
    for pair in fragment.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (pair, None),
        };
        if key == "timeout" {
            let value = value.ok_or("option 'timeout' needs a value, like timeout=30s")?;
            target.timeout =
                Some(crate::values::parse_duration(value).map_err(|e| format!("timeout: {e}"))?);
        } else if !target.expect.set(family, key, value)? {
            return Err(format!(
                "unknown option '{key}' (known here: {})",
                Expect::known(family)
            ));
        }
    }
    Ok(())
}

fn decode(s: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("'{s}' is not valid UTF-8 once percent-decoded"))
}

/// The input with the password of the userinfo (and any password-like query
/// value) replaced by `***`.
pub fn redact(input: &str) -> String {
    let mut out = input.to_string();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = &out[auth_start..auth_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(auth_start + colon + 1..auth_start + at, "***");
            } else if out[..scheme_end].eq_ignore_ascii_case("nats") {
                // nats://TOKEN@host
                out.replace_range(auth_start..auth_start + at, "***");
            }
        }
    }
    let fragment = out.find('#').map(|i| {
        let f = out.split_off(i);
        format!("#{}", expect::redact_fragment(&f[1..]))
    });
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out + fragment.as_deref().unwrap_or("")
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "auth"]
        .iter()
        .any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Target {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn bad(s: &str) -> String {
        parse(s).expect_err(s).to_string()
    }

    #[test]
    fn bare_host_port_picks_the_protocol_by_well_known_port() {
        assert_eq!(ok("db:5432").protocol, Protocol::Postgres);
        assert_eq!(ok("db:3306").protocol, Protocol::Mysql);
        assert_eq!(ok("cache:6379").protocol, Protocol::Redis);
        assert_eq!(ok("mq:5672").protocol, Protocol::Amqp);
        assert_eq!(ok("web:8080").protocol, Protocol::Tcp);
        assert_eq!(ok("tcp://db:5432").protocol, Protocol::Tcp);
    }

    #[test]
    fn urls_get_default_ports_and_credentials() {
        let t = ok("postgres://app:s%40cret@db/appdb");
        assert_eq!((t.host.as_str(), t.port), ("db", 5432));
        assert_eq!(t.user.as_deref(), Some("app"));
        assert_eq!(t.password.as_ref().map(|p| p.expose()), Some("s@cret"));
        assert_eq!(t.path, "appdb");
        assert_eq!(t.redacted(), "postgres://app:***@db/appdb");
        assert_eq!(ok("mariadb://x").port, 3306);
        assert_eq!(ok("redis://:pw@r/2").password.unwrap().expose(), "pw");
        assert_eq!(ok("https://h/health?x=1").path, "/health");
        assert_eq!(ok("https://h/health?x=1").query, "x=1");
        assert_eq!(ok("http://h").path, "/");
        assert_eq!(ok("unix:///run/a.sock").path, "/run/a.sock");
        assert_eq!(ok("file:///tmp/ready").protocol, Protocol::File);
        let https = ok("HTTPS://h");
        assert_eq!(
            (https.protocol, https.tls, https.port),
            (Protocol::Http, true, 443)
        );
        assert!(!ok("http://h").tls);
    }

    #[test]
    fn ipv6_literals_need_brackets() {
        let t = ok("[::1]:5432");
        assert_eq!(
            (t.host.as_str(), t.port, t.protocol),
            ("::1", 5432, Protocol::Postgres)
        );
        assert_eq!(ok("postgres://[::1]").port, 5432);
        assert!(bad("::1:5432").contains("brackets"));
        assert!(bad("[::zz]:5432").contains("not an IPv6"));
        assert!(bad("[::1:5432").contains("']'"));
    }

    #[test]
    fn bad_targets_name_the_value_and_what_was_expected() {
        assert!(bad("db").contains("expected a port"));
        assert!(bad("tcp://db").contains("expected a port"));
        assert!(bad("db:0").contains("out of range"));
        assert!(bad("db:65536").contains("out of range"));
        assert!(bad("db:http").contains("not a number"));
        let e = bad("mongo://db:27017");
        assert!(e.contains("'mongo'") && e.contains("postgres"), "{e}");
        assert!(bad("").contains("expected host:port"));
        assert!(bad("unix://relative.sock").contains("absolute path"));
        assert!(bad("redis://r/abc").contains("database number"));
        assert!(bad("db:5432#timeout=soon").contains("timeout"));
        assert!(bad("db:5432#bogus=1").contains("unknown option"));
    }

    #[test]
    fn a_password_never_appears_in_an_error() {
        let e = bad("postgres://app:hunter2@db:99999/x");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("app:***@db"), "{e}");
        assert_eq!(
            redact("http://h/x?token=abc&a=1"),
            "http://h/x?token=***&a=1"
        );
    }

    #[test]
    fn fragment_options_are_preflights_own() {
        let t = ok("http://h:8080/ready#timeout=5s&status=204");
        assert_eq!(t.timeout, Some(Duration::from_secs(5)));
        assert!(t.expect.status_ok(204) && !t.expect.status_ok(200));
        assert_eq!(t.path, "/ready");
    }
}
