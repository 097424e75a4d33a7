//! [`Server`]: a real server of the test's own (MariaDB, Redis, PostgreSQL,
//! RabbitMQ): a fresh directory, a free port, the process in its own process
//! group with its output in `log`, and on drop the whole group killed and
//! the directory removed, also when the test fails. Each kind only says how
//! to initialise and start its program; spawning, waiting and teardown live
//! here once.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

use super::{TempDir, free_port, listening};

/// How long a server may take to start (MariaDB's bootstrap, RabbitMQ's
/// BEAM: seconds on a busy machine).
pub const START_PATIENCE: Duration = Duration::from_secs(90);

pub struct Server {
    /// What it is, for messages.
    name: &'static str,
    pub dir: TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Server {
    /// A directory and a port; nothing runs yet. Servers that cannot bind
    /// port 0 themselves get a port that was free a moment ago.
    pub fn new(name: &'static str) -> Server {
        Server {
            name,
            dir: TempDir::new(),
            port: free_port(),
            child: None,
        }
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file the server's stdout and stderr go to (`server.log`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Start `cmd` as the server, in its own process group, output appended
    /// to [`Server::log_path`]. Not waiting: see [`Server::wait_until`].
    pub fn spawn(&mut self, mut cmd: Command) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the server log");
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {cmd:?}: {e}", self.name));
        self.child = Some(child);
    }

    /// Poll `ready` until true; panic with the log after
    /// [`START_PATIENCE`], or at once if the server exited.
    pub fn wait_until(&mut self, what: &str, ready: impl Fn(&Server) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "{} exited ({status}) before {what}:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                started.elapsed() < START_PATIENCE,
                "{} not {what} after {START_PATIENCE:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until it accepts TCP connections on its port.
    pub fn wait_listening(&mut self) {
        self.wait_until("listening", |s| listening(&s.addr()));
    }

    /// Is the process we started still running?
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().is_ok_and(|s| s.is_none()))
    }

    /// The pid of the process we started (the group's leader).
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// Send `sig` to the whole group; not waiting.
    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            killpg(pid, sig);
        }
    }

    /// Send `sig` to the whole group, wait for the process we started, then
    /// (bounded) for the rest of the group; SIGKILL whatever is left. `sig`
    /// says how to stop: TERM as `docker stop` does, KILL to crash it.
    pub fn stop(&mut self, sig: i32) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id() as i32;
        killpg(group, sig);
        let _ = child.wait();
        let started = Instant::now();
        while group_alive(group) && started.elapsed() < START_PATIENCE {
            std::thread::sleep(Duration::from_millis(20));
        }
        killpg(group, libc::SIGKILL);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(libc::SIGKILL);
    }
}

fn killpg(group: i32, sig: i32) {
    // An empty group is fine.
    // SAFETY: killpg takes plain integers and touches no memory.
    let _ = unsafe { libc::killpg(group, sig) };
}

/// Does anything of the process group remain?
fn group_alive(group: i32) -> bool {
    // SAFETY: signal 0 only checks; plain integers.
    unsafe { libc::killpg(group, 0) == 0 }
}
