//! Shared pieces of every network probe: resolving anew and connecting to
//! every address a name has, reading with a cap, and the one way each of
//! these is told: a peer hanging up ([`hung_up`]), bytes a peer sent
//! ([`shown`]), an I/O error ([`describe`]); and [`Lookups`], which tells a
//! try cut short while the name server had not answered.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

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

tokio::task_local! {
    /// The name the current try waits on the name server for, if any.
    static PENDING: Rc<RefCell<Option<String>>>;
}

/// What a try was looking up when its deadline cut it short. In a Docker
/// network with `internal: true` the name server never answers for a
/// service that does not exist yet, so without this the reason would read
/// as if the server itself were silent.
#[derive(Default)]
pub struct Lookups(Rc<RefCell<Option<String>>>);

impl Lookups {
    /// Run one try, noting the lookups [`resolve`] starts in it.
    pub async fn watch<F: Future>(&self, try_: F) -> F::Output {
        *self.0.borrow_mut() = None;
        PENDING.scope(self.0.clone(), try_).await
    }

    /// The error of a try that ran out of time (`within`): a name still
    /// without an answer, or [`ProbeError::Timeout`].
    pub fn timed_out(&self, within: Duration) -> ProbeError {
        match self.0.borrow_mut().take() {
            Some(host) => ProbeError::NameNotResolved {
                host,
                detail: format!(
                    "no answer from the name server within {}",
                    humantime::format_duration(within)
                ),
            },
            None => ProbeError::Timeout,
        }
    }
}

/// Note that `host` is being looked up (`Some`) or has been (`None`).
fn pending(host: Option<&str>) {
    let _ = PENDING.try_with(|p| *p.borrow_mut() = host.map(str::to_string));
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
    pending(Some(host));
    let found = lookup(host, port).await;
    pending(None);
    match found {
        Ok(addrs) if addrs.is_empty() => Err(not_resolved("no addresses".into())),
        Ok(addrs) => Ok(addrs),
        Err(e) => Err(not_resolved(e)),
    }
}

/// The most name lookups in flight at once, all targets together.
pub const MAX_LOOKUPS: usize = 8;

/// What one lookup gave: the addresses, or why not.
type Answer = Option<Result<Vec<SocketAddr>, String>>;

/// Lookups in flight: host, port, and where their answer will appear.
static IN_FLIGHT: std::sync::Mutex<Vec<(String, u16, tokio::sync::watch::Receiver<Answer>)>> =
    std::sync::Mutex::new(Vec::new());

/// Look `host` up with the system's resolver (`getaddrinfo`: /etc/hosts,
/// DNS, as every program in the container does), on a small thread of its
/// own, since the call blocks and cannot be cancelled. A resolver that never
/// answers must not pile up threads: a try whose name is still being looked
/// up waits for that lookup rather than starting another (one per name),
/// and no more than [`MAX_LOOKUPS`] run at once (a try beyond that is "not
/// yet"). A try that ends (its deadline, the wait over) leaves at most its
/// lookup thread behind, which ends with the resolver's own timeout.
async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let mut answer = {
        let mut in_flight = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, rx)) = in_flight.iter().find(|(h, p, _)| h == host && *p == port) {
            rx.clone()
        } else if in_flight.len() >= MAX_LOOKUPS {
            return Err(format!(
                "{MAX_LOOKUPS} name lookups already in flight (a resolver that does not answer?)"
            ));
        } else {
            let (tx, rx) = tokio::sync::watch::channel(None);
            let name = (host.to_string(), port);
            let started = std::thread::Builder::new()
                .name("lookup".into())
                .stack_size(128 * 1024)
                .spawn(move || {
                    use std::net::ToSocketAddrs;
                    let addrs = (name.0.as_str(), name.1)
                        .to_socket_addrs()
                        .map(Iterator::collect)
                        .map_err(|e| {
                            e.to_string()
                                .trim_start_matches("failed to lookup address information: ")
                                .to_string()
                        });
                    IN_FLIGHT
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|(h, p, _)| (h, *p) != (&name.0, name.1));
                    let _ = tx.send(Some(addrs));
                });
            if let Err(e) = started {
                return Err(format!("cannot start a lookup: {e}"));
            }
            in_flight.push((host.to_string(), port, rx.clone()));
            rx
        }
    };
    match answer.wait_for(Option::is_some).await {
        Ok(a) => a.clone().unwrap_or_else(|| Err("no answer".into())),
        Err(_) => Err("the lookup ended without an answer".into()),
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
        Err(e) if hung_up(&e) => Err(ProbeError::Protocol(format!(
            "connection closed before {what}"
        ))),
        Err(e) => Err(ProbeError::Io {
            about: "read",
            err: e,
        }),
    }
}

/// At most this many characters of a peer's text go into one error or log
/// line ([`shown`]).
pub const MAX_SHOWN: usize = 200;

/// Did the peer hang up? EOF, reset, aborted, broken pipe: the other side
/// closed (a proxy with nothing behind it, a server going away), which a
/// probe reports as a protocol answer, not as an I/O failure of its own.
pub fn hung_up(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// An I/O error of `about` (a short static name) while `doing` something:
/// the peer hanging up is [`ProbeError::Protocol`] ("connection closed by the
/// server while `doing`"), anything else [`ProbeError::Io`].
pub fn io_error(err: io::Error, about: &'static str, doing: &str) -> ProbeError {
    if hung_up(&err) {
        ProbeError::Protocol(format!("connection closed by the server while {doing}"))
    } else {
        ProbeError::Io { about, err }
    }
}

/// Bytes a peer sent, fit for one line of a log: text as UTF-8 (invalid
/// bytes as `\xNN`), control characters escaped (`\n`, `\x1b`), so a
/// server cannot forge log lines or drive a terminal, and cut after
/// [`MAX_SHOWN`] characters (`...` says so). The one printer of peer bytes.
pub fn shown(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut count = 0;
    for chunk in bytes.utf8_chunks() {
        let invalid = chunk.invalid().iter().map(|&b| Err(b));
        for piece in chunk.valid().chars().map(Ok).chain(invalid) {
            if count == MAX_SHOWN {
                out.push_str("...");
                return out;
            }
            count += 1;
            match piece {
                Ok('\n') => out.push_str("\\n"),
                Ok('\r') => out.push_str("\\r"),
                Ok('\t') => out.push_str("\\t"),
                Ok(c) if c.is_control() => {
                    let n = c as u32;
                    if n < 0x100 {
                        out.push_str(&format!("\\x{n:02x}"));
                    } else {
                        out.push_str(&format!("\\u{{{n:x}}}"));
                    }
                }
                Ok(c) => out.push(c),
                Err(b) => out.push_str(&format!("\\x{b:02x}")),
            }
        }
    }
    out
}

/// The one I/O-error describer (a leaf, used outside the probes too).
pub use crate::describe::io_error as describe;

/// A stream read line by line (a line ends with LF; a CR before it is
/// dropped), each line at most [`MAX_FRAME`] bytes: the line protocols
/// (NATS, memcached) read through this.
pub struct Lines<S> {
    pub stream: S,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
}

impl<S: AsyncRead + Unpin> Lines<S> {
    pub fn new(stream: S) -> Self {
        Lines {
            stream,
            buf: Vec::new(),
        }
    }

    /// The next line without its line end. EOF or a reset before it is a
    /// protocol error naming `what`.
    pub async fn line(&mut self, what: &str) -> Result<Vec<u8>, ProbeError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i;
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            scanned = self.buf.len();
            if self.buf.len() > MAX_FRAME {
                return Err(ProbeError::Protocol(format!(
                    "{what}: a line longer than {MAX_FRAME} bytes"
                )));
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| io_error(e, "read", &format!("reading {what}")))?;
            if n == 0 {
                return Err(ProbeError::Protocol(format!(
                    "connection closed before {what}"
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_cannot_forge_lines_or_flood_the_log() {
        assert_eq!(shown(b"too many\nINFO forged"), "too many\\nINFO forged");
        assert_eq!(
            shown(b"\x1b[31mred\r\t\xff\x00"),
            "\\x1b[31mred\\r\\t\\xff\\x00"
        );
        assert_eq!(shown("café ü".as_bytes()), "café ü");
        let long = shown(&[b'a'; 1000]);
        assert_eq!(long.len(), MAX_SHOWN + 3);
        assert!(long.ends_with("..."));
        assert!(!shown(&[b'\n'; 1000]).contains('\n'));
    }

    #[test]
    fn a_peer_hanging_up_is_a_protocol_answer() {
        for kind in [io::ErrorKind::ConnectionReset, io::ErrorKind::UnexpectedEof] {
            let e = io_error(kind.into(), "read", "reading the greeting");
            assert!(matches!(e, ProbeError::Protocol(_)), "{e}");
        }
        let e = io_error(io::ErrorKind::PermissionDenied.into(), "read", "reading");
        assert!(matches!(e, ProbeError::Io { .. }), "{e}");
    }

    /// Run a try that looks `db` up (the lookup ends when `ended`), then
    /// hangs: true when its deadline cut it short.
    async fn cut(lookups: &Lookups, ended: bool) -> bool {
        let try_ = lookups.watch(async move {
            pending(Some("db"));
            if ended {
                pending(None);
            }
            std::future::pending::<()>().await
        });
        tokio::time::timeout(Duration::from_millis(20), try_)
            .await
            .is_err()
    }

    /// A try whose deadline comes while the name server has not answered
    /// says so, naming the name; one cut short after its lookup ended is a
    /// plain timeout.
    #[tokio::test(flavor = "current_thread")]
    async fn a_try_cut_short_in_a_lookup_names_the_name() {
        let lookups = Lookups::default();
        assert!(cut(&lookups, false).await);
        assert_eq!(
            lookups.timed_out(Duration::from_secs(2)).to_string(),
            "name 'db' does not resolve yet (no answer from the name server within 2s)"
        );
        let lookups = Lookups::default();
        assert!(cut(&lookups, true).await);
        assert!(matches!(
            lookups.timed_out(Duration::from_secs(2)),
            ProbeError::Timeout
        ));
    }
}
