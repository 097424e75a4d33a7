//! HTTP and HTTPS: one `GET` answered with 2xx (or the status asked for with
//! `#status=`) = ready.
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
//! ```
//!
//! over TLS for `https://` (see [`super::tls`]: bundled roots plus
//! `PREFLIGHT_CA_FILE`, certificate problems are fatal). Reads the status line
//! and the headers, at most [`net::MAX_FRAME`] bytes in all, and closes
//! without reading the body. Interim `1xx` responses are skipped.
//!
//! - 2xx, or exactly `#status=N` when given: ready.
//! - Any other status: [`ProbeError::NotReady`], "HTTP 503 Service
//!   Unavailable". A redirect (3xx) is not followed, and is not ready unless
//!   asked for (`#status=302`): the reason names where it points.
//! - Nothing, or not HTTP (a proxy that accepts and closes, garbage), or
//!   headers over the cap: [`ProbeError::Protocol`].
//!
//! Deliberately not checked: the body, HTTP/2, cookies, authentication.

use std::fmt::Write;
use std::io;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::secrets::Secret;
use crate::target::Target;

use super::tls::Tls;
use super::{ProbeError, net};

#[derive(Debug, Clone)]
pub struct Http {
    host: String,
    port: u16,
    /// The status that counts as ready; None: any 2xx.
    status: Option<u16>,
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
            status: target.status,
            request: request(target, https),
            tls,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        if let Some(tls) = &self.tls {
            tls.usable()?;
        }
        let tcp = net::connect(&self.host, self.port).await?;
        let (status, reason, location) = match &self.tls {
            None => self.exchange(tcp).await?,
            Some(tls) => self.exchange(tls.handshake(tcp).await?).await?,
        };
        let ready = match self.status {
            Some(want) => status == want,
            None => (200..300).contains(&status),
        };
        if ready {
            return Ok(());
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
        } else if let Some(want) = self.status {
            let _ = write!(why, ", expected {want}");
        }
        Err(ProbeError::NotReady(why))
    }

    /// Send the request, read the head of the response: (status, reason,
    /// Location header).
    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
    ) -> Result<(u16, String, Option<String>), ProbeError> {
        if let Err(e) = send(&mut stream, self.request.expose().as_bytes()).await {
            return Err(closed_early(e, "sending the request"));
        }
        let mut buf = Vec::with_capacity(1024);
        // Where the response being read starts (after any 1xx ones).
        let mut start = 0;
        loop {
            if let Some(end) = head_end(&buf[start..]) {
                let head = parse_head(&buf[start..start + end])?;
                if (100..200).contains(&head.0) && self.status != Some(head.0) {
                    start += end;
                    continue;
                }
                return Ok(head);
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
                    Some(_) => parse_head(&buf[start..]),
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
    let mut request = format!(
        "GET {target_uri} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: preflight/{}\r\n\
         Accept: */*\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    );
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
