//! Driving preflight with the testkit, as a plain process or as PID 1 of a
//! new PID namespace (`unshare --pid --fork --mount-proc`). Lines come
//! through a reader thread so a missing one fails the test after a bound
//! instead of hanging it; dropping a [`Run`] kills the whole tree.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::support;

/// How long a test waits for a line or an exit before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The testkit binary (tests/testkit/main.rs).
pub fn testkit() -> String {
    env!("CARGO_BIN_EXE_preflight-testkit").to_string()
}

/// Preflight as a plain process, or as PID 1 of its own PID namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    Plain,
    Pid1,
}

/// Both ways, if `unshare` works here (else the test is skipped or, under
/// CI, fails: see `support::skip`).
pub fn both() -> Vec<As> {
    if support::have_unshare() {
        vec![As::Plain, As::Pid1]
    } else {
        support::skip("unshare --pid --fork does not work here: PID 1 half skipped");
        vec![As::Plain]
    }
}

/// The command line that runs preflight with `args`.
pub fn command(how: As, args: &[&str]) -> Command {
    let mut c = match how {
        As::Plain => Command::new(support::bin()),
        As::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc"])
                .arg(support::bin());
            c
        }
    };
    c.args(args);
    c
}

/// A running preflight with its stdout read line by line.
pub struct Run {
    pub how: As,
    child: Option<Child>,
    lines: Receiver<String>,
}

impl Run {
    /// Start preflight with `args`; stdin is a pipe kept open (EOF ends
    /// `wait-stdin`), stdout is read here, stderr is inherited.
    pub fn start(how: As, args: &[&str]) -> Run {
        let mut c = command(how, args);
        let child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start preflight");
        Run::from_child(how, child)
    }

    pub fn from_child(how: As, mut child: Child) -> Run {
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            how,
            child: Some(child),
            lines: rx,
        }
    }

    /// The next line, or panic after [`PATIENCE`].
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => panic!("no line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed, no line"),
        }
    }

    /// The next line, or None once stdout is closed; panic after [`PATIENCE`].
    pub fn next_line(&self) -> Option<String> {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Timeout) => panic!("no line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Wait for `ready <pid>`; the pid (as seen inside its namespace).
    pub fn ready(&self) -> i32 {
        let l = self.line();
        l.strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected `ready <pid>`, got {l:?}"))
    }

    /// Every line still to come, until stdout closes (after the exit).
    pub fn rest(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(PATIENCE) {
            out.push(l);
        }
        out
    }

    /// preflight's pid as seen from here (under unshare: unshare's child).
    pub fn preflight_pid(&self) -> i32 {
        let outer = self.child.as_ref().unwrap().id() as i32;
        match self.how {
            As::Plain => outer,
            As::Pid1 => {
                let deadline = Instant::now() + PATIENCE;
                loop {
                    if let Some(&pid) = children(outer).first() {
                        return pid;
                    }
                    assert!(Instant::now() < deadline, "unshare has no child");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Send `sig` to preflight.
    pub fn signal(&self, sig: i32) {
        kill(self.preflight_pid(), sig);
    }

    /// Kill the whole tree now (as dropping does); the lines already
    /// written stay readable with [`Run::rest`].
    pub fn kill_tree(&self) {
        let Some(child) = self.child.as_ref() else {
            return;
        };
        match self.how {
            As::Pid1 => {
                for pid in children(child.id() as i32) {
                    kill(pid, libc::SIGKILL);
                }
            }
            As::Plain => kill_tree(child.id() as i32),
        }
    }

    /// Close preflight's stdin (ends a `wait-stdin` child).
    pub fn close_stdin(&mut self) {
        drop(self.child.as_mut().unwrap().stdin.take());
    }

    /// Wait for the exit, or panic after [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        wait_bounded(self.child.as_mut().unwrap())
    }

    /// The exit code (preflight never dies of a signal here).
    pub fn code(&mut self) -> i32 {
        let st = self.wait();
        st.code()
            .unwrap_or_else(|| panic!("preflight itself died: {st:?}"))
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            match self.how {
                // PID 1 gone: the kernel kills the whole namespace.
                As::Pid1 => {
                    for pid in children(child.id() as i32) {
                        kill(pid, libc::SIGKILL);
                    }
                }
                As::Plain => kill_tree(child.id() as i32),
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wait for `child` to exit, polling, for at most [`PATIENCE`].
pub fn wait_bounded(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "still running after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Send any signal number, real-time ones too (nix's `Signal` stops at 31).
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: kill takes plain integers and touches no memory.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Direct children of `pid`, every thread's.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

/// SIGKILL `pid` and every descendant, children first being found from the
/// top (a killed parent's children are re-parented, so list before killing).
pub fn kill_tree(pid: i32) {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children(all[i]);
        all.extend(kids);
        i += 1;
    }
    for p in all.into_iter().rev() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Is `pid` alive (and not a zombie)?
pub fn alive(pid: i32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// The state letter of `pid` from /proc/PID/stat (`R`, `S`, `Z`...).
pub fn state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: comm may hold spaces and parentheses.
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The parent of `pid`.
pub fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "preflight-test-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
