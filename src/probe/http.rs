//! HTTP and HTTPS: one `GET` answered with 2xx (or a status asked for with
//! `#status=200,204,3xx`), and the body as asked for = ready.
//!
//! Sends one HTTP/1.1 request, written by hand (no HTTP library: the binary
//! has a size budget):
//!
//! ```text
//! GET /path?query HTTP/1.1
//! Host: host[:port]            (the port only when it is not the default)
//! User-Agent: preflight/<version>
//! Accept: */*
//! Connection: close
//! Authorization: Basic ...     (only with http://user:pass@host/)
//! Name: value                  (each #header=Name:value or Name:$VAR)
//! ```
//!
//! over TLS for `https://` (see [`super::tls`]: bundled roots plus
//! `PREFLIGHT_CA_FILE`, certificate problems are fatal). Reads the status line
//! and the headers, at most [`net::MAX_FRAME`] bytes in all. Interim `1xx`
//! responses are skipped. Only when the fragment asks about the body
//! (`#body=`, `#match=`, `#json=`, see [`crate::expect`]) is the body read:
//! until the end of the response (`Content-Length`, chunked, or the close),
//! at most [`net::MAX_FRAME`] bytes of it; else it closes after the head.
//!
//! - A status that counts (2xx, or one of `#status=`) and every body
//!   expectation met: ready.
//! - Any other status: [`ProbeError::NotReady`], "HTTP 503 Service
//!   Unavailable". A redirect (3xx) is not followed, and is not ready unless
//!   asked for (`#status=302` or `3xx`): the reason names where it points.
//! - A body expectation not met (text missing, no match, the JSON value is
//!   another or missing, the body is not JSON): not ready, saying which and
//!   what was there (`json status is "red", expected green|yellow`).
//! - Nothing, or not HTTP (a proxy that accepts and closes, garbage), or
//!   headers over the cap: [`ProbeError::Protocol`].
//!
//! Header values (`#header=`) are secret: never in a log line or an error.
//!
//! Deliberately not checked: HTTP/2, cookies, redirects, content encodings.

use std::fmt::Write;
use std::io;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::expect::{Expect, HeaderValue};
use crate::secrets::Secret;
use crate::target::Target;

use super::json;

use super::tls::Tls;
use super::{ProbeError, net};

#[derive(Debug, Clone)]
pub struct Http {
    host: String,
    port: u16,
    /// Which statuses count, what the body must hold.
    expect: Expect,
    /// The whole request, built once; secret, as it may carry credentials.
    request: Secret,
    /// Some for https.
    tls: Option<Tls>,
}

impl Http {
    /// An `https://` target also trusts the CA certificates in the file named
    /// by `PREFLIGHT_CA_FILE`.
    pub fn new(target: &Target) -> Self {
        Http::with_ca_file(target, target.ca_file.as_deref())
    }

    /// Like [`Http::new`], with the extra CA file given rather than read from
    /// the environment.
    pub fn with_ca_file(target: &Target, extra_ca: Option<&Path>) -> Self {
        let https = target.tls;
        let tls = https.then(|| Tls::new(&target.host, extra_ca));
        Http {
            host: target.host.clone(),
            port: target.port,
            expect: target.expect.clone(),
            request: request(target, https),
            tls,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        if let Some(tls) = &self.tls {
            tls.usable()?;
        }
        let tcp = net::connect(&self.host, self.port).await?;
        let (status, reason, location, body) = match &self.tls {
            None => self.exchange(tcp).await?,
            Some(tls) => self.exchange(tls.handshake(tcp).await?).await?,
        };
        if self.expect.status_ok(status) {
            return match body {
                Some(body) => self.check_body(&body),
                None => Ok(()),
            };
        }
        let mut why = format!("HTTP {status}");
        if !reason.is_empty() {
            let _ = write!(why, " {reason}");
        }
        if (300..400).contains(&status) {
            why.push_str(", a redirect");
            if let Some(location) = location {
                let _ = write!(why, " to {location}");
            }
            let _ = write!(why, " (not followed; ask for it with #status={status})");
        } else if !self.expect.status.is_empty() {
            let _ = write!(why, ", expected {}", self.expect.status_text());
        }
        Err(ProbeError::NotReady(why))
    }

    /// Every `#body=`, `#match=` and `#json=` of the target, in that order;
    /// the first that fails is the reason.
    fn check_body(&self, body: &[u8]) -> Result<(), ProbeError> {
        let text = String::from_utf8_lossy(body);
        for want in &self.expect.body {
            if !text.contains(want.as_str()) {
                return Err(ProbeError::NotReady(format!(
                    "the body does not contain \"{want}\""
                )));
            }
        }
        for (src, pattern) in &self.expect.matches {
            match pattern.find(&text) {
                Some(true) => {}
                Some(false) => {
                    return Err(ProbeError::NotReady(format!(
                        "the body does not match /{src}/"
                    )));
                }
                None => {
                    return Err(ProbeError::NotReady(format!(
                        "/{src}/ took too many steps on this body: no match"
                    )));
                }
            }
        }
        for rule in &self.expect.json {
            let wanted = rule.values.join("|");
            let found = json::at(body, &rule.path).map_err(|e| {
                ProbeError::NotReady(format!(
                    "json {}: the body is {e} (it starts with \"{}\")",
                    rule.path,
                    net::shown(&body[..body.len().min(40)])
                ))
            })?;
            match found {
                Some(v) if rule.values.iter().any(|w| w == v.text()) => {}
                Some(v) => {
                    return Err(ProbeError::NotReady(format!(
                        "json {} is \"{}\", expected {wanted}",
                        rule.path,
                        net::shown(v.text().as_bytes())
                    )));
                }
                None => {
                    return Err(ProbeError::NotReady(format!(
                        "json {}: no such value in the body, expected {wanted}",
                        rule.path
                    )));
                }
            }
        }
        Ok(())
    }

    /// Send the request, read the head of the response: (status, reason,
    /// Location header).
    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
    ) -> Result<Response, ProbeError> {
        if let Err(e) = send(&mut stream, self.request.expose().as_bytes()).await {
            return Err(closed_early(e, "sending the request"));
        }
        let mut buf = Vec::with_capacity(1024);
        // Where the response being read starts (after any 1xx ones).
        let mut start = 0;
        loop {
            if let Some(end) = head_end(&buf[start..]) {
                let head = parse_head(&buf[start..start + end])?;
                if (100..200).contains(&head.0) && !self.expect.status_ok(head.0) {
                    start += end;
                    continue;
                }
                if !self.expect.needs_body() || !self.expect.status_ok(head.0) {
                    return Ok((head.0, head.1, head.2, None));
                }
                let framing = framing(&buf[start..start + end]);
                let mut body = buf.split_off(start + end);
                let body = read_body(&mut stream, &mut body, framing).await?;
                return Ok((head.0, head.1, head.2, Some(body)));
            }
            let pending = &buf[start..];
            let prefix = pending.len().min(5);
            if pending[..prefix] != b"HTTP/"[..prefix] {
                return Err(not_http(pending));
            }
            if buf.len() >= net::MAX_FRAME {
                return Err(ProbeError::Protocol(format!(
                    "response headers longer than {} bytes",
                    net::MAX_FRAME
                )));
            }
            let mut chunk = [0; 4096];
            let room = chunk.len().min(net::MAX_FRAME - buf.len());
            let n = match stream.read(&mut chunk[..room]).await {
                Ok(n) => n,
                Err(e) if buf.len() == start => return Err(closed_early(e, "reading")),
                Err(err) => return Err(ProbeError::Io { about: "read", err }),
            };
            if n == 0 {
                return match buf[start..].iter().position(|&b| b == b'\n') {
                    // A status line, then the end: lenient, decide on it.
                    Some(_) => {
                        let (status, reason, location) = parse_head(&buf[start..])?;
                        let body = self.expect.needs_body().then(Vec::new);
                        Ok((status, reason, location, body))
                    }
                    None if buf.len() == start => Err(ProbeError::Protocol(
                        "connection closed before any response".into(),
                    )),
                    None => Err(ProbeError::Protocol(
                        "connection closed in the middle of the status line".into(),
                    )),
                };
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Status, reason, Location header, and the body when it was asked for.
type Response = (u16, String, Option<String>, Option<Vec<u8>>);

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

fn framing(head: &[u8]) -> Framing {
    let mut framing = Framing::Close;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], String::from_utf8_lossy(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            return Framing::Chunked;
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if let Ok(n) = value.trim().parse() {
                framing = Framing::Length(n);
            }
        }
    }
    framing
}

/// The body, from what was read after the head (`buf`) on: until its length,
/// its last chunk or the close, and never more than [`net::MAX_FRAME`] bytes
/// (a longer body is cut there; the checks see its start).
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    framing: Framing,
) -> Result<Vec<u8>, ProbeError> {
    loop {
        let complete = match framing {
            Framing::Length(n) => buf.len() >= n,
            Framing::Chunked => dechunk(buf).1,
            Framing::Close => false,
        };
        if complete || buf.len() >= net::MAX_FRAME {
            break;
        }
        let mut chunk = [0; 4096];
        let room = chunk.len().min(net::MAX_FRAME - buf.len());
        match stream.read(&mut chunk[..room]).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // TLS peers often end without close_notify: what came counts.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(err) => return Err(ProbeError::Io { about: "read", err }),
        }
    }
    Ok(match framing {
        Framing::Length(n) => buf[..n.min(buf.len())].to_vec(),
        Framing::Chunked => dechunk(buf).0,
        Framing::Close => std::mem::take(buf),
    })
}

/// A chunked body's data so far, and whether the last chunk came.
fn dechunk(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(nl) = raw[pos..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&raw[pos..pos + nl]);
        let size = line.trim().split(';').next().unwrap_or("");
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return (out, true);
        };
        if size == 0 {
            return (out, true);
        }
        let start = pos + nl + 1;
        let end = start.saturating_add(size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        if end < start.saturating_add(size) || end + 2 > raw.len() {
            return (out, false);
        }
        pos = end + 2;
    }
    (out, false)
}

/// The request, with path and query as given but any byte that cannot stand
/// in a request line (space, control, non-ASCII) percent-encoded.
fn request(target: &Target, https: bool) -> Secret {
    let mut target_uri = escape(&target.path);
    if !target.query.is_empty() {
        target_uri.push('?');
        target_uri.push_str(&escape(&target.query));
    }
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let default_port = if https { 443 } else { 80 };
    let host = if target.port == default_port {
        host
    } else {
        format!("{host}:{}", target.port)
    };
    let mut request = format!("GET {target_uri} HTTP/1.1\r\n");
    // A #header= of the same name replaces a default one.
    let given = |name: &str| {
        target
            .expect
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    let agent = format!("preflight/{}", env!("CARGO_PKG_VERSION"));
    for (name, value) in [
        ("Host", host.as_str()),
        ("User-Agent", agent.as_str()),
        ("Accept", "*/*"),
    ] {
        if !given(name) {
            let _ = write!(request, "{name}: {value}\r\n");
        }
    }
    request.push_str("Connection: close\r\n");
    for h in &target.expect.headers {
        let value = match &h.value {
            HeaderValue::Literal(v) => v.expose(),
            HeaderValue::Env { value, .. } => value.as_ref().map_or("", |v| v.expose()),
        };
        let _ = write!(request, "{}: {value}\r\n", h.name);
    }
    if target.has_credentials() {
        let user = target.user.as_deref().unwrap_or_default();
        let password = target.password.as_ref().map_or("", |p| p.expose());
        let basic = STANDARD.encode(format!("{user}:{password}"));
        let _ = write!(request, "Authorization: Basic {basic}\r\n");
    }
    request.push_str("\r\n");
    Secret::new(request)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, request: &[u8]) -> io::Result<()> {
    stream.write_all(request).await?;
    stream.flush().await
}

/// A reset or EOF before any answer is the peer closing at once (a proxy
/// with nothing behind it), not an I/O failure of ours.
fn closed_early(err: io::Error, about: &'static str) -> ProbeError {
    if net::hung_up(&err) {
        ProbeError::Protocol("connection closed before any response".into())
    } else {
        ProbeError::Io { about, err }
    }
}

/// The length of the head (through the empty line), if all of it is there.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// `HTTP/1.x NNN reason`, and the Location header.
fn parse_head(head: &[u8]) -> Result<(u16, String, Option<String>), ProbeError> {
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let rest = status_line
        .strip_prefix(b"HTTP/1.")
        .filter(|r| r.len() >= 5 && r[0].is_ascii_digit() && r[1] == b' ')
        .map(|r| &r[2..])
        .ok_or_else(|| not_http(status_line))?;
    let (code, reason) = rest.split_at(3);
    if !code.iter().all(u8::is_ascii_digit) || !(reason.is_empty() || reason[0] == b' ') {
        return Err(not_http(status_line));
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let location = lines.find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|&b| b == b':')?);
        name.eq_ignore_ascii_case(b"location")
            .then(|| net::shown(&value[1..]).trim().to_string())
    });
    Ok((status, net::shown(reason).trim().to_string(), location))
}

fn not_http(start: &[u8]) -> ProbeError {
    ProbeError::Protocol(format!(
        "not an HTTP response: it starts with \"{}\"",
        net::shown(&start[..start.len().min(32)])
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_host_and_the_port_only_when_not_default() {
        let t = crate::target::parse("http://web:8080/health?x=a b").unwrap();
        let r = request(&t, false).expose().to_string();
        assert!(!r.contains("Authorization"), "{r}");
        assert!(
            r.starts_with("GET /health?x=a%20b HTTP/1.1\r\nHost: web:8080\r\n"),
            "{r}"
        );
        assert!(r.ends_with("Connection: close\r\n\r\n"), "{r}");
        let t = crate::target::parse("https://[::1]").unwrap();
        let r = request(&t, true).expose().to_string();
        assert!(r.starts_with("GET / HTTP/1.1\r\nHost: [::1]\r\n"), "{r}");
    }

    #[test]
    fn credentials_become_basic_auth_and_never_show_in_debug() {
        let t = crate::target::parse("http://admin:s3cret@web/").unwrap();
        let r = request(&t, false).expose().to_string();
        // base64("admin:s3cret")
        assert!(
            r.contains("\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\n\r\n"),
            "{r}"
        );
        let shown = format!("{:?}", Http::with_ca_file(&t, None));
        assert!(
            !shown.contains("YWRtaW46") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn the_head_gives_status_reason_and_location() {
        let head = b"HTTP/1.1 302 Found\r\nServer: x\r\nlocation: /login\r\n\r\n";
        assert_eq!(head_end(head), Some(head.len()));
        let (status, reason, location) = parse_head(head).unwrap();
        assert_eq!((status, reason.as_str()), (302, "Found"));
        assert_eq!(location.as_deref(), Some("/login"));
        assert_eq!(parse_head(b"HTTP/1.0 204\n\n").unwrap().0, 204);
        assert!(parse_head(b"HTTP/1.1 20x OK\r\n\r\n").is_err());
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }
}
