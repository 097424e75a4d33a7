//! Fake peers for the waiting tests, all on `127.0.0.1:0`, and a handle on a
//! running preflight that reads its stderr line by line, so a test can wait
//! for "try 1: connection refused" before it opens a port (a handshake, not a
//! sleep).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a test waits for something that should happen in milliseconds,
/// before it calls it a hang.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A port that is bound but not listening: connections are refused until
/// [`ClosedPort::listen`], and nobody else can take it meanwhile.
pub struct ClosedPort {
    fd: Option<OwnedFd>,
    pub port: u16,
}

#[allow(unsafe_code)]
impl ClosedPort {
    pub fn new() -> ClosedPort {
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // sockaddr structs are fully initialised and sized as passed.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::bind(
                fd.as_raw_fd(),
                &addr as *const _ as *const libc::sockaddr,
                len,
            );
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            let mut len = len;
            let rc = libc::getsockname(
                fd.as_raw_fd(),
                &mut addr as *mut _ as *mut libc::sockaddr,
                &mut len,
            );
            assert_eq!(rc, 0, "getsockname: {}", std::io::Error::last_os_error());
            ClosedPort {
                fd: Some(fd),
                port: u16::from_be(addr.sin_port),
            }
        }
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Start listening (connections are accepted by the kernel from now on).
    pub fn listen(&mut self) -> TcpListener {
        let fd = self.fd.take().expect("listen once");
        // SAFETY: listen(2) on a bound socket we own.
        let rc = unsafe { libc::listen(fd.as_raw_fd(), 128) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        TcpListener::from(fd)
    }
}

/// A listener whose accept queue is full, so the kernel drops every new SYN:
/// a connect to it hangs, like one to a firewalled port. Keep the returned
/// value alive for as long as the port must stay a black hole.
pub struct BlackHole {
    listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl BlackHole {
    #[allow(unsafe_code)]
    pub fn new() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) again on our own listening socket only lowers its
        // backlog: 0 means one queued connection fills it.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen: {}", std::io::Error::last_os_error());
        let addr = listener.local_addr().unwrap();
        let queued = (0..2)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
            .collect();
        let hole = BlackHole {
            listener,
            _queued: queued,
        };
        assert!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
            "the accept queue of {addr} should be full"
        );
        hole
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.listener.local_addr().unwrap())
    }
}

/// A running preflight, its stderr read line by line on a thread.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    pub stderr: Vec<String>,
    started: Instant,
}

impl Running {
    /// Spawn `cmd` with stderr piped (stdout is left as the test set it).
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn preflight");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            stderr: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Read stderr until a line contains `needle`; panic after [`PATIENCE`]
    /// or when stderr ends first.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {needle:?} in {PATIENCE:?}: {:#?}",
                        self.stderr
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("stderr ended without {needle:?}: {:#?}", self.stderr)
                }
            }
        }
    }

    /// Is it still running?
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the exit (killing it after [`PATIENCE`]), read the rest of
    /// stderr; returns the status and how long it ran since spawn.
    pub fn finish(&mut self) -> (ExitStatus, Duration) {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after {PATIENCE:?}: {:#?}", self.stderr);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let took = self.started.elapsed();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        (status, took)
    }

    /// All of stderr read so far, one string.
    pub fn stderr(&self) -> String {
        self.stderr.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
