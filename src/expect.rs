//! Preflight's own per-target options that change what "ready" means, from
//! the target's fragment (`http://es:9200/_cluster/health#json=status:green|yellow`).
//! Parsing is pure and strict: a bad value is an error naming it and what
//! was expected; which options a scheme takes is checked here too.
//!
//! | option | targets | meaning |
//! | --- | --- | --- |
//! | `down` (or `down=true`) | all | ready when the target is *not* ready: refused, gone, not resolving, answering "not yet" |
//! | `status=200,204,3xx` | http(s) | the statuses (and classes) that count; default 2xx |
//! | `body=TEXT` | http(s) | the body holds TEXT (percent-decoded); repeatable, all must hold |
//! | `match=REGEX` | http(s) | the body matches the small regex of [`crate::pattern`] |
//! | `json=PATH:V1\|V2` | http(s) | the JSON body has one of the values at PATH (`status:green\|yellow`, `nodes.0.up:true`) |
//! | `header=Name:value` | http(s) | sends the header; `header=Authorization:$VAR` takes the value from preflight's environment variable VAR. Values are secret: shown as `***` |
//! | `primary=true` | mongodb | only a writable primary is ready |
//!
//! `dns://name` takes its own options in the query, since they say what to
//! ask: `type=A|AAAA|SRV`, `address=` (an IP, or an SRV target `host[:port]`)
//! that must be among the answers, `server=ip[:port]` to ask instead of the
//! system's resolver ([`dns_query`]).
//!
//! The body is read only when `body`, `match` or `json` asks for it, and
//! at most [`crate::probe::net::MAX_FRAME`] bytes of it.

use crate::pattern::Pattern;
use crate::secrets::Secret;

/// What the fragment asked for (beyond `timeout`, which [`crate::target`]
/// keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    pub down: bool,
    pub primary: bool,
    /// Empty: any 2xx.
    pub status: Vec<Status>,
    pub body: Vec<String>,
    pub matches: Vec<(String, Pattern)>,
    pub json: Vec<JsonRule>,
    pub headers: Vec<Header>,
    /// dns: what to ask (from the query).
    pub dns: Option<DnsQuery>,
}

/// What a `dns://` target asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsQuery {
    pub kind: DnsType,
    pub address: Option<String>,
    pub server: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DnsType {
    /// Any address, as the system resolver gives them.
    #[default]
    Any,
    A,
    Aaaa,
    Srv,
}

impl DnsType {
    /// The record type on the wire (`Any` asks for A).
    pub fn code(self) -> u16 {
        match self {
            DnsType::Any | DnsType::A => 1,
            DnsType::Aaaa => 28,
            DnsType::Srv => 33,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DnsType::Any => "address",
            DnsType::A => "A",
            DnsType::Aaaa => "AAAA",
            DnsType::Srv => "SRV",
        }
    }
}

/// `type=A|AAAA|SRV&address=...&server=ip[:port]`.
pub fn dns_query(query: &str) -> Result<DnsQuery, String> {
    let mut q = DnsQuery::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' must be key=value (type, address, server)"))?;
        let value = decode(value)?;
        match key {
            "type" => {
                q.kind = match value.to_ascii_uppercase().as_str() {
                    "A" => DnsType::A,
                    "AAAA" => DnsType::Aaaa,
                    "SRV" => DnsType::Srv,
                    _ => return Err(format!("type '{value}' is not A, AAAA or SRV")),
                }
            }
            "address" => q.address = Some(value),
            "server" => {
                let addr = value
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| value.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
                    .map_err(|_| {
                        format!("server '{value}' is not an IP address with an optional :port")
                    })?;
                q.server = Some(addr);
            }
            _ => {
                return Err(format!(
                    "unknown dns option '{key}' (known: type, address, server)"
                ));
            }
        }
    }
    if let Some(a) = &q.address {
        let ip = a.parse::<std::net::IpAddr>();
        let fits = match q.kind {
            DnsType::A => ip.is_ok_and(|ip| ip.is_ipv4()),
            DnsType::Aaaa => ip.is_ok_and(|ip| ip.is_ipv6()),
            DnsType::Any => ip.is_ok(),
            DnsType::Srv => !a.is_empty(),
        };
        if !fits {
            return Err(format!(
                "address '{a}' is not {} answer",
                match q.kind {
                    DnsType::Srv => "an SRV",
                    DnsType::A => "an IPv4 (type=A)",
                    DnsType::Aaaa => "an IPv6 (type=AAAA)",
                    DnsType::Any => "an IP",
                }
            ));
        }
    }
    Ok(q)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Code(u16),
    /// `3xx`: the hundreds digit.
    Class(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonRule {
    pub path: String,
    /// One of these, compared with the value as text (strings unquoted).
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: HeaderValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Literal(Secret),
    /// `$VAR`: the configuration fills `value` from the environment.
    Env {
        var: String,
        value: Option<Secret>,
    },
}

/// Which family of options a target's scheme takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Http,
    Mongodb,
    Other,
}

impl Expect {
    /// Does the body have to be read?
    pub fn needs_body(&self) -> bool {
        !self.body.is_empty() || !self.matches.is_empty() || !self.json.is_empty()
    }

    /// Does `code` count as ready?
    pub fn status_ok(&self, code: u16) -> bool {
        if self.status.is_empty() {
            return (200..300).contains(&code);
        }
        self.status.iter().any(|s| match *s {
            Status::Code(c) => c == code,
            Status::Class(h) => code / 100 == h,
        })
    }

    /// The statuses asked for, as written (`200, 3xx`).
    pub fn status_text(&self) -> String {
        self.status
            .iter()
            .map(|s| match s {
                Status::Code(c) => c.to_string(),
                Status::Class(h) => format!("{h}xx"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Take one `key[=value]` of the fragment. Ok(false): not an option of
    /// this module (the caller knows `timeout`, or says "unknown").
    pub fn set(&mut self, family: Family, key: &str, value: Option<&str>) -> Result<bool, String> {
        let need = || value.ok_or_else(|| format!("option '{key}' needs a value ({key}=...)"));
        let only = |f: Family, what: &str| {
            if family == f {
                Ok(())
            } else {
                Err(format!("option '{key}' is for {what} targets only"))
            }
        };
        match key {
            "down" => {
                self.down = match value {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(v) => return Err(format!("down '{v}' is not true or false")),
                };
            }
            "primary" => {
                only(Family::Mongodb, "mongodb://")?;
                self.primary = match need()? {
                    "true" => true,
                    "false" => false,
                    v => return Err(format!("primary '{v}' is not true or false")),
                };
            }
            "status" => {
                only(Family::Http, "http(s)://")?;
                for item in need()?.split(',') {
                    self.status.push(status(item)?);
                }
            }
            "body" => {
                only(Family::Http, "http(s)://")?;
                self.body.push(decode(need()?)?);
            }
            "match" => {
                only(Family::Http, "http(s)://")?;
                let src = decode(need()?)?;
                let p = Pattern::new(&src).map_err(|e| format!("match '{src}': {e}"))?;
                self.matches.push((src, p));
            }
            "json" => {
                only(Family::Http, "http(s)://")?;
                let v = decode(need()?)?;
                let (path, values) = v.split_once(':').ok_or_else(|| {
                    format!(
                        "json '{v}' must be PATH:VALUE[|VALUE...], like json=status:green|yellow"
                    )
                })?;
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(format!(
                        "json path '{path}' must be keys joined by dots, like status or nodes.0.name"
                    ));
                }
                self.json.push(JsonRule {
                    path: path.to_string(),
                    values: values.split('|').map(str::to_string).collect(),
                });
            }
            "header" => {
                only(Family::Http, "http(s)://")?;
                let v = decode(need()?)?;
                let (name, val) = v.split_once(':').ok_or_else(|| {
                    "header must be Name:value or Name:$VAR, like header=Authorization:$ES_AUTH"
                        .to_string()
                })?;
                let name = name.trim();
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                {
                    return Err(format!("header name '{name}' is not an HTTP header name"));
                }
                let val = val.trim();
                let value = match val.strip_prefix('$') {
                    Some(var) if is_var_name(var) => HeaderValue::Env {
                        var: var.to_string(),
                        value: None,
                    },
                    _ => {
                        if val.bytes().any(|b| b == b'\r' || b == b'\n') {
                            return Err(format!("header {name}: a value cannot hold a line break"));
                        }
                        HeaderValue::Literal(Secret::new(val))
                    }
                };
                self.headers.push(Header {
                    name: name.to_string(),
                    value,
                });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The options this family takes, for "unknown option" messages.
    pub fn known(family: Family) -> &'static str {
        match family {
            Family::Http => "timeout, down, status, body, match, json, header",
            Family::Mongodb => "timeout, down, primary",
            Family::Other => "timeout, down",
        }
    }
}

fn status(item: &str) -> Result<Status, String> {
    let bad =
        || format!("status '{item}' is not an HTTP status from 100 to 599 or a class like 2xx");
    let b = item.as_bytes();
    if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && item[1..].eq_ignore_ascii_case("xx") {
        return Ok(Status::Class(u16::from(b[0] - b'0')));
    }
    item.parse::<u16>()
        .ok()
        .filter(|c| (100..=599).contains(c))
        .map(Status::Code)
        .ok_or_else(bad)
}

fn is_var_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("'{s}' is not valid UTF-8 once percent-decoded"))
}

/// The fragment with every literal header value replaced by `***`
/// (`$VAR` names stay: they are not secret).
pub fn redact_fragment(fragment: &str) -> String {
    fragment
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("header", v)) => {
                let decoded = decode(v).unwrap_or_default();
                match decoded.split_once(':') {
                    Some((name, val)) if !val.trim().starts_with('$') => {
                        format!("header={name}:***")
                    }
                    Some(_) => pair.to_string(),
                    None => "header=***".to_string(),
                }
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(family: Family, key: &str, value: &str) -> Result<Expect, String> {
        let mut e = Expect::default();
        e.set(family, key, Some(value))?;
        Ok(e)
    }

    #[test]
    fn statuses_and_classes() {
        let e = set(Family::Http, "status", "200,204,3xx").unwrap();
        assert!(e.status_ok(204) && e.status_ok(301) && !e.status_ok(201) && !e.status_ok(404));
        assert!(Expect::default().status_ok(201) && !Expect::default().status_ok(301));
        assert_eq!(e.status_text(), "200,204,3xx");
        assert!(
            set(Family::Http, "status", "6xx")
                .unwrap_err()
                .contains("'6xx'")
        );
        assert!(set(Family::Http, "status", "20").is_err());
    }

    #[test]
    fn options_belong_to_their_schemes() {
        assert!(
            set(Family::Other, "status", "200")
                .unwrap_err()
                .contains("http(s)")
        );
        assert!(
            set(Family::Http, "primary", "true")
                .unwrap_err()
                .contains("mongodb")
        );
        assert!(set(Family::Mongodb, "primary", "true").unwrap().primary);
        let mut e = Expect::default();
        assert!(e.set(Family::Other, "down", None).unwrap() && e.down);
        assert!(!e.set(Family::Other, "bogus", Some("1")).unwrap());
    }

    #[test]
    fn json_body_match_and_headers() {
        let e = set(Family::Http, "json", "status:green|yellow").unwrap();
        assert_eq!(e.json[0].path, "status");
        assert_eq!(e.json[0].values, ["green", "yellow"]);
        assert!(set(Family::Http, "json", "status").is_err());
        assert!(
            set(Family::Http, "match", "(x)")
                .unwrap_err()
                .contains("groups")
        );
        assert_eq!(
            set(Family::Http, "body", "all%20good").unwrap().body,
            ["all good"]
        );
        let e = set(Family::Http, "header", "Authorization:$ES_AUTH").unwrap();
        assert_eq!(
            e.headers[0].value,
            HeaderValue::Env {
                var: "ES_AUTH".into(),
                value: None
            }
        );
        assert!(set(Family::Http, "header", "Bad Name:x").is_err());
        assert!(set(Family::Http, "header", "X:a%0d%0aEvil: 1").is_err());
    }

    #[test]
    fn literal_header_values_are_redacted() {
        assert_eq!(
            redact_fragment("timeout=5s&header=Authorization:Bearer%20abc&header=X:$V"),
            "timeout=5s&header=Authorization:***&header=X:$V"
        );
    }
}
