//! `--lock`: one replica at a time runs the hooks.
//!
//! N replicas that start together each take the same session-level lock on
//! the database (`pg_advisory_lock`, MySQL's `GET_LOCK`: see [`postgres`]
//! and [`mysql`]) before their hooks and
//! release it when the hooks are done, so their migrations run one after
//! another and the later ones find nothing to do. The lock lives in one
//! connection: if preflight is killed, the server drops it with the socket.
//!
//! This module schedules and watches; the SQL of each database is in its
//! own file. It takes the lock after waiting succeeded, under the wait's
//! `--timeout`, each try bounded like a probe's (`--try-timeout` for the
//! login, that plus one [`ROUND`] for each round of waiting for another
//! holder: a server that stops answering cannot hang it), retries while the
//! database cannot be reached (the lock's database need not be among the
//! `--wait` targets), and gives up at once on a terminating signal.
//!
//! While the hooks run, [`Held`] watches the lock's connection from a thread
//! of its own (TCP keepalive on, so a peer that vanished is noticed too).
//! When the server closes it (`pg_terminate_backend`, `KILL`, a restart, a
//! timeout) the lock is gone and another replica may start migrating: the
//! running hook is stopped as a timeout stops it (TERM, `--grace`, KILL), no
//! further hook or command starts, and preflight fails with one line saying
//! so (the orchestrator starts the container again, and it migrates alone).
//! The socket is close-on-exec, so no hook or command ever holds it.

pub mod mysql;
pub mod postgres;

use std::future::Future;
use std::io::Read;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::init::Stop;
use crate::probe::ProbeError;
use crate::target::{Protocol, Target};

/// How long the server waits for a held lock in one round before it says
/// "not yet" (`lock_timeout`, `GET_LOCK`'s timeout); the next round follows
/// at once.
pub const ROUND: Duration = Duration::from_secs(5);

/// Can `--lock` use this protocol?
pub fn supports(protocol: Protocol) -> bool {
    matches!(protocol, Protocol::Postgres | Protocol::Mysql)
}

/// `fut` within `limit`, or [`ProbeError::Timeout`].
async fn bounded<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, ProbeError>>,
) -> Result<T, ProbeError> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

/// Pause between two tries when the database cannot be reached: short first,
/// doubling up to a cap.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// How often a replica waiting for the lock says so (at most this apart).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// The reason while the server is reachable and the lock is simply taken.
pub const HELD: &str = "another replica holds it";
const MAX_RETRY: Duration = Duration::from_secs(2);

/// Why no lock was taken.
#[derive(Debug)]
pub enum LockError {
    /// The timeout passed; the last reason, if a try failed.
    TimedOut(Option<String>),
    /// Taking it can never work as configured (wrong password...).
    Failed(String),
    /// A terminating signal arrived: its number.
    Interrupted(i32),
}

/// Take the lock `name` on `target` (postgres or mysql), waiting as long as
/// another replica holds it, within `timeout` (None: for ever), each try
/// within `try_timeout` (see the module doc).
pub async fn acquire(
    target: &Target,
    name: &str,
    timeout: Option<Duration>,
    try_timeout: Duration,
    interrupt: impl Future<Output = i32>,
) -> Result<TcpStream, LockError> {
    // The last reason, for the progress lines and the timeout's message: a
    // try's failure, or HELD once a backend waits in the server's queue.
    let last: Mutex<Option<String>> = Mutex::new(None);
    let attempt = async {
        let mut pause = FIRST_RETRY;
        loop {
            let result = match target.protocol {
                Protocol::Postgres => postgres::lock(target, name, try_timeout, &last).await,
                Protocol::Mysql => mysql::lock(target, name, try_timeout, &last).await,
                _ => Err(ProbeError::Fatal(format!(
                    "{target} is not a postgres:// or mysql:// URL"
                ))),
            };
            match result {
                Ok(socket) => return Ok(socket),
                Err(e) if e.is_retryable() => {
                    debug!("cannot take the lock on {target} yet: {e}");
                    note(&last, &e.to_string());
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_RETRY);
                }
                Err(e) => return Err(LockError::Failed(e.to_string())),
            }
        }
    };
    // Ends at `timeout` (`--lock-timeout`; None: never), saying every
    // PROGRESS_EVERY who holds things up and for how long.
    let deadline = async {
        let start = tokio::time::Instant::now();
        let end = timeout.filter(|t| !t.is_zero()).map(|t| start + t);
        let mut next = start + PROGRESS_EVERY;
        loop {
            if let Some(end) = end.filter(|e| *e <= next) {
                tokio::time::sleep_until(end).await;
                return;
            }
            tokio::time::sleep_until(next).await;
            let why = last
                .lock()
                .map(|l| l.clone())
                .unwrap_or_default()
                .unwrap_or_else(|| "no answer from the server yet".into());
            info!(
                "still waiting for lock '{name}' on {target} after {}s: {why}",
                (next - start).as_secs()
            );
            next += PROGRESS_EVERY;
        }
    };
    info!("taking lock '{name}' on {target}");
    tokio::select! {
        result = attempt => result,
        () = deadline => Err(LockError::TimedOut(last.lock().ok().and_then(|mut l| l.take()))),
        sig = interrupt => Err(LockError::Interrupted(sig)),
    }
}

/// Remember why the lock is not taken yet (a try's failure, or [`HELD`]).
pub fn note(reason: &Mutex<Option<String>>, why: &str) {
    if let Ok(mut r) = reason.lock() {
        *r = Some(why.to_string());
    }
}

/// The socket that holds a lock, handed over: blocking again (the watcher
/// reads it with `poll`), with TCP keepalive, so a holder whose server
/// vanished without a word is noticed in about 25 s (Linux: 10 s idle, then
/// 3 probes 5 s apart) instead of the kernel's 2 h.
fn holding(stream: crate::probe::tls::Stream) -> Result<TcpStream, ProbeError> {
    use nix::sys::socket::{setsockopt, sockopt};
    let unix = matches!(stream, crate::probe::tls::Stream::Unix(_));
    // From here on the socket is only held and watched: a TLS session is
    // kept as its descriptor (nothing is read or written on it again), a
    // unix socket too (it is a `TcpStream` only by type).
    let socket = TcpStream::from(
        stream
            .into_socket()
            .map_err(ProbeError::io("lock socket"))?,
    );
    if unix {
        return Ok(socket);
    }
    let set = || -> nix::Result<()> {
        setsockopt(&socket, sockopt::KeepAlive, &true)?;
        #[cfg(target_os = "linux")]
        {
            setsockopt(&socket, sockopt::TcpKeepIdle, &10)?;
            setsockopt(&socket, sockopt::TcpKeepInterval, &5)?;
            setsockopt(&socket, sockopt::TcpKeepCount, &3)?;
        }
        Ok(())
    };
    if let Err(e) = set() {
        warn!("lock socket: cannot turn on TCP keepalive: {e}");
    }
    Ok(socket)
}

/// The lock, held while the hooks run: its connection, watched by a thread
/// (see the module doc).
pub struct Held {
    socket: TcpStream,
    /// Dropping our end wakes the watcher and ends it.
    quit: Option<UnixStream>,
    watcher: Option<std::thread::JoinHandle<()>>,
    /// Why the connection was lost, once it was.
    lost: Arc<Mutex<Option<String>>>,
}

impl Held {
    /// Watch `socket`: if the server closes it, log `what` was lost and ask
    /// `stop` to end the running hook. Without a watcher thread (none could
    /// be started) the lock is still held, only not watched.
    pub fn watch(socket: TcpStream, what: String, stop: Stop) -> Held {
        let lost = Arc::new(Mutex::new(None));
        let started = (|| -> std::io::Result<_> {
            let (quit, quitted) = UnixStream::pair()?;
            let watched = socket.try_clone()?;
            let lost = lost.clone();
            let watcher = std::thread::Builder::new()
                .name("lock-watch".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    if let Some(reason) = watch(&watched, &quitted) {
                        warn!("{what}: connection lost ({reason}); stopping the hooks");
                        *lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
                        stop.request();
                    }
                })?;
            Ok((quit, watcher))
        })();
        let (quit, watcher) = match started {
            Ok((q, w)) => (Some(q), Some(w)),
            Err(e) => {
                warn!(
                    "cannot watch the lock's connection: {}",
                    crate::describe::io_error(&e)
                );
                (None, None)
            }
        };
        Held {
            socket,
            quit,
            watcher,
            lost,
        }
    }

    /// Stop watching and close the connection: the server releases the
    /// lock. Err(why) if the connection had been lost meanwhile.
    pub fn release(mut self) -> Result<(), String> {
        drop(self.quit.take());
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
        drop(self.socket);
        match self.lost.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

/// Wait until the server closes `socket` (Some(why)) or `quit` is closed
/// (None). Whatever the server sends meanwhile (a notice) is read and
/// dropped, a buffer at a time.
fn watch(socket: &TcpStream, quit: &UnixStream) -> Option<String> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut buf = [0u8; 1024];
    loop {
        let mut fds = [
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(quit.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Some(format!("cannot watch it: {e}")),
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return None;
        }
        let events = fds[0].revents().unwrap_or(PollFlags::empty());
        if events.is_empty() {
            continue;
        }
        match (&*socket).read(&mut buf) {
            Ok(0) => return Some("the server closed the connection".into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Some(crate::describe::io_error(&e)),
        }
    }
}
