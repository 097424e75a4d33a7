//! Shared pieces of every network probe: resolving anew and connecting to
//! every address a name has, reading with a cap, describing errors.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::ProbeError;

/// No frame, packet or line a probe reads may be longer than this: a peer
/// that announces 2 GB gets a protocol error, not an allocation.
pub const MAX_FRAME: usize = 64 * 1024;

/// Resolve `host` (every try: names appear late in compose and Kubernetes)
/// and connect to every address it has at once; the first to accept wins.
/// IP literals skip the resolver.
pub async fn connect(host: &str, port: u16) -> Result<TcpStream, ProbeError> {
    let addrs = resolve(host, port).await?;
    let mut tries = JoinSet::new();
    for addr in addrs {
        tries.spawn(async move { TcpStream::connect(addr).await });
    }
    let mut last = None;
    while let Some(joined) = tries.join_next().await {
        match joined {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = Some(e),
            Err(e) => last = Some(io::Error::other(e.to_string())),
        }
    }
    Err(ProbeError::Connect(last.unwrap_or_else(|| {
        io::Error::other("no address to connect to")
    })))
}

/// Every address of `host:port`; a name that does not resolve is
/// [`ProbeError::NameNotResolved`].
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ProbeError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let not_resolved = |detail: String| ProbeError::NameNotResolved {
        host: host.to_string(),
        detail,
    };
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(not_resolved("no addresses".into()))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(not_resolved(
            e.to_string()
                .trim_start_matches("failed to lookup address information: ")
                .to_string(),
        )),
    }
}

/// Read exactly `n` bytes (n ≤ [`MAX_FRAME`]); EOF first is a protocol error
/// naming what was expected.
pub async fn read_exact<R: AsyncRead + Unpin>(
    r: &mut R,
    n: usize,
    what: &str,
) -> Result<Vec<u8>, ProbeError> {
    if n > MAX_FRAME {
        return Err(ProbeError::Protocol(format!(
            "{what} announces {n} bytes, more than the {MAX_FRAME} allowed"
        )));
    }
    let mut buf = vec![0; n];
    match r.read_exact(&mut buf).await {
        Ok(_) => Ok(buf),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(ProbeError::Protocol(format!(
            "connection closed before {what}"
        ))),
        Err(e) => Err(ProbeError::Io {
            about: "read",
            err: e,
        }),
    }
}

/// A short human description of an I/O error, without Rust's `(os error N)`.
pub fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "connection closed".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
