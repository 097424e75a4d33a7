//! What the user asked to wait for: one string → one [`Target`].
//!
//! Schemes, their default ports and the ports a bare `host:port` picks a
//! protocol by are looked up in the registry ([`crate::protocol`]). Parsing is pure
//! and strict: every bad value is a [`BadValue`] naming the value and what
//! was expected, and nothing is resolved here (names are resolved anew on
//! every try, by the probes).
//!
//! Grammar:
//!
//! ```text
//! host:port | [v6]:port                     bare: protocol from the port
//! tcp://host:port                           plain TCP connect, whatever the port
//! postgres[ql]://[user[:pass]@]host[:port][/db][?params]   (and postgres:///db?host=/socket/dir)
//! mysql:// | mariadb://[user[:pass]@]host[:port][/db][?params]
//! redis[s]://[[user]:pass@]host[:port][/n][?params]
//! amqp[s]://[user[:pass]@]host[:port][/vhost][?params]
//! http[s]://host[:port][/path][?query]
//! nats://[user:pass@|token@]host[:4222]
//! mqtt[s]://[user[:pass]@]host[:1883|8883]
//! mongodb://[user[:pass]@]host[:27017][/db]
//! kafka://host[:9092]
//! memcached://host[:11211]
//! grpc[s]://host:port[/service]
//! dns://name[?type=A|AAAA|SRV&address=..&server=ip]
//! unix:///path/to.sock
//! file:///path/to/file
//! any of them + #timeout=30s[&down&...]     preflight's own per-target options
//!                                           (see crate::expect)
//! ```
//!
//! Framework spellings of the schemes (`postgresql+psycopg2`, `mysql2`,
//! `pyamqp`...) are rows of the registry. The user-info ends at the *last*
//! `@` a host follows, so a password may hold any character unencoded, or be
//! percent-encoded; it never appears in any message ([`redact`], and errors
//! quote nothing from between the scheme and the last `@`).
//!
//! The query belongs to the protocol: sent to an HTTP server; for the
//! databases and brokers, read by [`crate::params`] (TLS modes and files);
//! preflight's own per-target options go in the fragment, which no server
//! ever sees.

use std::fmt;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::expect::{self, Expect, Family};
use crate::params::{self, Params};
use crate::protocol;
pub use crate::protocol::Protocol;
use crate::secrets::Secret;
use crate::values::BadValue;

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
    /// A PEM file of extra CA certificates every TLS connection trusts
    /// besides the bundled roots (`PREFLIGHT_CA_FILE`, set by the config).
    pub ca_file: Option<std::path::PathBuf>,
    /// What the query said that preflight understands (TLS modes and files,
    /// a PostgreSQL socket directory), see [`crate::params`].
    pub params: Params,
    /// The target as written, with any password replaced by `***`.
    redacted: String,
}

impl Target {
    /// `host:port` for `protocol` and nothing else said: no TLS, user,
    /// path, query or options. [`parse`] fills in `redacted`.
    fn bare(protocol: Protocol, host: String, port: u16) -> Target {
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
            params: Params::default(),
            redacted: String::new(),
        }
    }

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

/// Parse one target. A refusal is a [`BadValue`] naming the (redacted) value
/// and what was expected: `invalid target 'db': expected a port...`.
pub fn parse(input: &str) -> Result<Target, BadValue> {
    // The fragment starts at the first `#` after the user-info: a password
    // may hold a `#`.
    let after_userinfo = userinfo_span(input).map_or(0, |(_, at)| at);
    let (without_fragment, fragment) = match input[after_userinfo..].find('#') {
        Some(i) => (
            &input[..after_userinfo + i],
            Some(&input[after_userinfo + i + 1..]),
        ),
        None => (input, None),
    };
    let redacted = redact(input);
    let err = |expected: String| {
        BadValue::new(format!(
            "invalid target '{redacted}': {}",
            scrub(expected, input)
        ))
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
            Target::bare(protocol, host, port)
        }
    };
    if let Some(fragment) = fragment {
        parse_options(&mut target, fragment).map_err(&err)?;
    }
    target.redacted = redacted;
    Ok(target)
}

/// Hide, in an error's explanation, every quoted value that does not come
/// from the scheme or from after the input's last `@`: whatever lies between
/// them may be (part of) a password, however the parse went.
fn scrub(expected: String, input: &str) -> String {
    let Some(at) = input.rfind('@') else {
        return expected;
    };
    let scheme_end = input.find("://").map_or(0, |i| i + 3).min(at);
    // The whole password first: a quote inside it would shift the quoted
    // pieces below (found by fuzz/target_url). Which `@` ends the user-info
    // depends on the scheme's parse, so every candidate is hidden: from the
    // first `:` to each `@`, longest first.
    let mut expected = expected;
    if let Some(colon) = input[scheme_end..at].find(':') {
        let start = scheme_end + colon + 1;
        let ends: Vec<usize> = input[start..=at]
            .match_indices('@')
            .map(|(i, _)| start + i)
            .collect();
        for &end in ends.iter().rev() {
            let password = &input[start..end];
            if !password.is_empty() {
                expected = expected.replace(password, "***");
            }
        }
    }
    let safe = |v: &str| input[..scheme_end].contains(v) || input[at + 1..].contains(v);
    let mut out = String::new();
    let mut parts = expected.split('\'');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    // Odd pieces are inside quotes.
    for (i, part) in parts.enumerate() {
        out.push('\'');
        if i % 2 == 0 && !safe(part) {
            out.push_str("***");
        } else {
            out.push_str(part);
        }
    }
    out
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
            tls: row.tls,
            path,
            ..Target::bare(kind, String::new(), 0)
        });
    }

    if kind == Protocol::Dns {
        // dns://name?type=SRV: a name, no port, the query is the question.
        let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
        let name = name.trim_end_matches('/');
        if name.contains('@') {
            // Never quote what may be a user-info.
            return Err(
                "a dns:// target takes no user or password, expected dns://name[?type=A|AAAA|SRV]"
                    .into(),
            );
        }
        if name.is_empty()
            || name.contains(['@', '/', ':'])
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!(
                "'{name}' is not a DNS name, expected dns://name[?type=A|AAAA|SRV]"
            ));
        }
        let mut expect = Expect::default();
        expect.dns = Some(expect::dns_query(query)?);
        return Ok(Target {
            query: query.to_string(),
            expect,
            ..Target::bare(kind, name.to_string(), 0)
        });
    }

    // The user-info ends at the last `@` a host follows: a password may
    // hold any character, `@`, `/`, `?` and `#` included.
    let (userinfo, after) = match userinfo_end(rest) {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (hostport, path_and_query) = match after.find(['/', '?']) {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (name, pass) = match u.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (u, None),
            };
            let name = decode(name)
                .map_err(|_| "the user name is not valid UTF-8 once percent-decoded".to_string())?;
            let user = if name.is_empty() { None } else { Some(name) };
            let password = match pass {
                // Never quote the password, not even in an error.
                Some(p) => Some(Secret::new(decode(p).map_err(|_| {
                    "the password is not valid UTF-8 once percent-decoded".to_string()
                })?)),
                None => None,
            };
            (user, password)
        }
    };
    let (raw_path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q.to_string()),
        None => (path_and_query, String::new()),
    };
    let params = params::parse(kind, &query)?;
    // PostgreSQL over a unix socket: `postgres:///db?host=/run/postgresql`
    // or the directory percent-encoded as the host.
    let (raw_host, raw_port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (hostport, None),
    };
    let decoded_host = decode(raw_host).unwrap_or_default();
    let (host, port) = if kind == Protocol::Postgres
        && (decoded_host.starts_with('/')
            || (hostport.is_empty() && params.host.as_deref().is_some_and(|h| h.starts_with('/'))))
    {
        let dir = match &params.host {
            Some(h) if h.starts_with('/') => h.clone(),
            _ => decoded_host,
        };
        let port = match raw_port {
            Some(p) => parse_port(p)?,
            None => default_port.unwrap_or(5432),
        };
        (dir, port)
    } else if kind == Protocol::Postgres && hostport.is_empty() && params.host.is_some() {
        let host = params.host.clone().unwrap_or_default();
        parse_host_port(&host, default_port)?
    } else {
        parse_host_port(hostport, default_port)?
    };
    let port = params.port.unwrap_or(port);
    let user = params.user.clone().or(user);
    let path = match kind {
        Protocol::Postgres if params.dbname.is_some() => params.dbname.clone().unwrap_or_default(),
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
        tls: row.tls,
        user,
        password,
        path,
        query,
        params,
        ..Target::bare(kind, host, port)
    })
}

/// Where the user-info of `rest` (what follows `scheme://`) ends: the last
/// `@` that a plausible `host[:port]` follows, up to the end or `/`, `?`,
/// `#`. An `@` inside a query value must then be written `%40`.
fn userinfo_end(rest: &str) -> Option<usize> {
    rest.match_indices('@')
        .map(|(i, _)| i)
        .rev()
        .find(|&i| looks_like_host(&rest[i + 1..]))
}

fn looks_like_host(s: &str) -> bool {
    let end = s.find(['/', '?', '#']).unwrap_or(s.len());
    let hostport = &s[..end];
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, "")) => (h, ""),
            Some((h, after)) => match after.strip_prefix(':') {
                Some(p) => (h, p),
                None => return false,
            },
            None => return false,
        },
        None => hostport.split_once(':').unwrap_or((hostport, "")),
    };
    host.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%' | ':'))
        && port.bytes().all(|b| b.is_ascii_digit())
}

/// The user-info of a URL: (where it starts, where its `@` is).
fn userinfo_span(input: &str) -> Option<(usize, usize)> {
    let start = input.find("://")? + 3;
    let at = userinfo_end(&input[start..])?;
    Some((start, start + at))
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

/// The input with the password of the user-info (and any password-like query
/// value) replaced by `***`. Where no host can be told apart, everything up
/// to the last `@` is hidden: better too much than a secret.
pub fn redact(input: &str) -> String {
    let mut out = input.to_string();
    let mut query_from = 0;
    if let Some((start, at)) = userinfo_span(input) {
        let userinfo = &input[start..at];
        if let Some(colon) = userinfo.find(':') {
            out.replace_range(start + colon + 1..at, "***");
            query_from = start + colon + 4;
        } else if input[..start - 3].eq_ignore_ascii_case("nats") {
            // nats://TOKEN@host
            out.replace_range(start..at, "***");
            query_from = start + 3;
        }
    } else if let Some(at) = input.rfind('@') {
        let start = input.find("://").map_or(0, |i| i + 3);
        if start <= at {
            out.replace_range(start..at, "***");
            query_from = start + 3;
        }
    }
    let fragment = out[query_from..].find('#').map(|i| {
        let f = out.split_off(query_from + i);
        format!("#{}", expect::redact_fragment(&f[1..]))
    });
    if let Some(q) = out[query_from..].find('?').map(|i| i + query_from) {
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

/// Split a list of targets on whitespace and commas, except inside a URL's
/// user-info: `postgres://app:pa,ss word@db/app` stays one target. A piece
/// that holds an `@` without a `scheme://` before it can only be the rest of
/// the previous URL's password, so it is joined back, with its separators.
pub fn split_targets(s: &str) -> Vec<String> {
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
        let sep = c.is_whitespace() || c == ',';
        match (start, sep) {
            (None, false) => start = Some(i),
            (Some(b), true) => {
                pieces.push((b, i));
                start = None;
            }
            _ => {}
        }
    }
    let is_url = |p: &str| p.contains("://");
    let continues = |p: &str| p.find('@').is_some_and(|at| !p[..at].contains("://"));
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let (b, mut e) = pieces[i];
        let mut next = i + 1;
        if is_url(&s[b..e]) {
            // Up to the last piece that can only be the rest of a password,
            // before the next URL.
            let mut j = i + 1;
            while j < pieces.len() && !is_url(&s[pieces[j].0..pieces[j].1]) {
                if continues(&s[pieces[j].0..pieces[j].1]) {
                    e = pieces[j].1;
                    next = j + 1;
                }
                j += 1;
            }
        }
        out.push((b, e));
        i = next;
    }
    out.into_iter().map(|(b, e)| s[b..e].to_string()).collect()
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
        for (bare, protocol) in [
            ("nats:4222", Protocol::Nats),
            ("broker:1883", Protocol::Mqtt),
            ("db:27017", Protocol::Mongodb),
            ("kafka:9092", Protocol::Kafka),
            ("cache:11211", Protocol::Memcached),
        ] {
            assert_eq!(ok(bare).protocol, protocol, "{bare}");
        }
        assert!(ok("mqtts://b").tls && ok("mqtts://b").port == 8883);
        assert!(ok("grpcs://g/app.Orders").tls && ok("grpcs://g/app.Orders").path == "app.Orders");
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
        assert!(e.contains("write tcp://host:port"), "{e}");
        assert!(bad("").contains("expected host:port"));
        assert!(bad("unix://relative.sock").contains("absolute path"));
        assert!(bad("redis://r/abc").contains("database number"));
        assert!(bad("db:5432#timeout=soon").contains("timeout"));
        assert!(bad("db:5432#bogus=1").contains("unknown option"));
    }

    #[test]
    fn a_password_with_a_quote_never_appears_in_an_error() {
        let e = bad("mysql://user:'s;Cr1zrr0a@_ ");
        assert!(!e.contains("Cr1zrr0a"), "{e}");
    }

    #[test]
    fn a_password_followed_by_another_at_never_appears_in_an_error() {
        // Found by fuzz/target_url: after `user:PASSWORD@` comes no host but
        // a query holding a second `@`; dns:// quoted the whole user-info.
        let password = "'+aes3crJJJetpw";
        for scheme in protocol::SCHEMES.iter().flat_map(|s| s.names.iter()) {
            let url = format!("{scheme}://user:{password}@?c:/:[6t@\0/\0");
            match parse(&url) {
                Err(e) => assert!(!e.to_string().contains("aes3cr"), "{url} -> {e}"),
                Ok(t) => {
                    assert!(!t.redacted().contains("aes3cr"), "{url} -> {t}");
                    assert!(!format!("{t:?}").contains("aes3cr"), "{url} -> {t:?}");
                }
            }
        }
        assert!(bad("dns://user:pw@name").contains("takes no user or password"));
    }

    #[test]
    fn libpq_query_parameters_name_the_port_user_and_database() {
        let t = ok("postgres:///?host=/run/postgresql&port=5433&user=app&dbname=shop");
        assert_eq!((t.host.as_str(), t.port), ("/run/postgresql", 5433));
        assert_eq!((t.user.as_deref(), t.path.as_str()), (Some("app"), "shop"));
        // The query wins over the authority, as libpq reads it.
        let t = ok("postgres://u@db:5432/a?port=6543&user=v&dbname=b");
        assert_eq!((t.host.as_str(), t.port), ("db", 6543));
        assert_eq!((t.user.as_deref(), t.path.as_str()), (Some("v"), "b"));
        for port in ["x", "0", "70000", ""] {
            let e = bad(&format!("postgres://db/a?port={port}"));
            assert!(e.contains(&format!("port='{port}'")), "{e}");
        }
        // Other schemes leave them alone (sent as they are, or ignored).
        assert_eq!(ok("mysql://db/a?port=1").port, 3306);
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

    #[test]
    fn a_password_may_hold_any_character_unencoded_or_encoded() {
        for pw in [
            "pa/ss", "p@ss", "p#ss", "p?ss", "pa:ss", "p a,s;s", "@/?#:", "x%zz",
        ] {
            let t = ok(&format!("postgres://app:{pw}@db:5433/app#timeout=5s"));
            assert_eq!(t.password.as_ref().unwrap().expose(), pw);
            assert_eq!(
                (t.host.as_str(), t.port, t.path.as_str()),
                ("db", 5433, "app")
            );
            assert_eq!(t.timeout, Some(Duration::from_secs(5)));
            assert_eq!(t.redacted(), "postgres://app:***@db:5433/app#timeout=5s");
        }
        let t = ok("mysql://app:p%40ss%2Fw%23rd@db/shop");
        assert_eq!(t.password.unwrap().expose(), "p@ss/w#rd");
    }

    #[test]
    fn framework_spellings_of_schemes_are_accepted() {
        for (url, protocol, port, tls) in [
            (
                "postgresql+psycopg2://u:p@db/x",
                Protocol::Postgres,
                5432,
                false,
            ),
            ("postgresql+asyncpg://db/x", Protocol::Postgres, 5432, false),
            ("postgres+psycopg://db/x", Protocol::Postgres, 5432, false),
            ("postgis://db/x", Protocol::Postgres, 5432, false),
            ("mysql+pymysql://db/x", Protocol::Mysql, 3306, false),
            ("mysql+mysqldb://db/x", Protocol::Mysql, 3306, false),
            ("mysql2://db/x", Protocol::Mysql, 3306, false),
            ("pyamqp://guest:guest@mq//", Protocol::Amqp, 5672, false),
            ("rediss://cache", Protocol::Redis, 6379, true),
            ("amqps://mq", Protocol::Amqp, 5671, true),
        ] {
            let t = ok(url);
            assert_eq!((t.protocol, t.port, t.tls), (protocol, port, tls), "{url}");
        }
    }

    #[test]
    fn postgres_over_a_unix_socket() {
        let t = ok("postgres:///app?host=/var/run/postgresql");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("/var/run/postgresql", 5432, "app")
        );
        let t = ok("postgres://%2Fvar%2Frun%2Fpostgresql:5433/app");
        assert_eq!((t.host.as_str(), t.port), ("/var/run/postgresql", 5433));
        let t = ok("postgres:///app?host=db");
        assert_eq!(t.host, "db");
        // Control: without a host anywhere, still an error.
        assert!(bad("postgres:///app").contains("host"));
    }

    #[test]
    fn a_known_parameter_with_a_bad_value_is_refused_naming_it() {
        let e = bad("postgres://app:pw@db/app?sslmode=on");
        assert!(
            e.contains("sslmode='on'") && e.contains("verify-full"),
            "{e}"
        );
        let t = ok("postgres://db/app?sslmode=verify-full&connect_timeout=3");
        assert_eq!(t.params.tls.mode, Some(crate::params::TlsMode::VerifyFull));
        assert_eq!(t.params.ignored, ["connect_timeout"]);
    }

    #[test]
    fn lists_split_on_separators_but_never_inside_a_password() {
        assert_eq!(split_targets("a:1, b:2 c:3"), ["a:1", "b:2", "c:3"]);
        assert_eq!(
            split_targets("postgres://app:pa,ss@127.0.0.1/app redis:6379"),
            ["postgres://app:pa,ss@127.0.0.1/app", "redis:6379"]
        );
        assert_eq!(
            split_targets("db:1,postgres://app:a b, c@d@db/x,mysql://u:p@m"),
            ["db:1", "postgres://app:a b, c@d@db/x", "mysql://u:p@m"]
        );
    }

    #[test]
    fn no_part_of_a_password_appears_when_the_host_is_invalid() {
        for input in [
            "postgres://app:pa/ss@d b:5432/x",
            "postgres://app:pa:ss@db:99999/x",
            "app:hunter2@db:5432",
            "postgres://app:hunter2@",
            "mysql://app:hunter2@db:port",
            "postgres://app:pw%ff@db/x",
        ] {
            let e = parse(input).expect_err(input).to_string();
            for leak in ["pa/ss", "ss@", "hunter2", "pw%ff", "pa:ss"] {
                assert!(!e.contains(leak), "{input}: {e}");
            }
        }
    }
}
