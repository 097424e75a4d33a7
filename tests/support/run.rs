//! The one way tests drive preflight: [`preflight`] builds the command (as a
//! plain process or, with [`command`], as PID 1 of its own PID namespace),
//! then either [`Bounded::bounded_output`] runs it to the end, or
//! [`Run::spawn`] keeps a handle on it while it runs.
//!
//! Both are bounded by one [`PATIENCE`]: a hang fails the test with what was
//! read so far instead of hanging the suite. A [`Run`] reads stdout and
//! stderr line by line on threads, so a test waits for a line (`ready
//! <pid>` from the testkit, `try 2: ...` from the log) rather than sleeping;
//! dropping it kills the whole process tree.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::support::{self, process};

/// How long a test waits for a line or an exit before it calls it a hang.
/// Generous: the machine running the suite may be busy.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The testkit binary (tests/testkit/main.rs): the programs the init tests
/// run under preflight.
pub fn testkit() -> String {
    env!("CARGO_BIN_EXE_preflight-testkit").to_string()
}

/// Preflight as a plain process, or as PID 1 of its own PID namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    Plain,
    Pid1,
}

/// Both ways, if `unshare` works here (else the PID 1 half is skipped or,
/// under CI, fails: see `support::skip`).
pub fn both() -> Vec<As> {
    if support::have_unshare() {
        vec![As::Plain, As::Pid1]
    } else {
        support::skip("unshare --pid --fork does not work here: PID 1 half skipped");
        vec![As::Plain]
    }
}

/// A `Command` for preflight as a plain process.
pub fn preflight() -> Command {
    Command::new(support::bin())
}

/// The command line that runs preflight `how`, with `args`.
///
/// As PID 1, `unshare --kill-child` stands between: killing `unshare` (what
/// teardown does) makes the kernel kill preflight, which takes the whole
/// namespace with it. (Killing preflight itself instead makes `unshare`
/// re-raise SIGKILL on itself, which it cannot, and complain "sigprocmask
/// unblock failed" on the test's stderr.)
pub fn command(how: As, args: &[&str]) -> Command {
    let mut c = match how {
        As::Plain => preflight(),
        As::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
                .arg(support::bin());
            c
        }
    };
    c.args(args);
    c
}

/// Run a command to its end, bounded by [`PATIENCE`]: `Command::output`
/// that cannot hang the suite. Stdin is empty, as with `output`.
pub trait Bounded {
    fn bounded_output(&mut self) -> Output;
}

impl Bounded for Command {
    fn bounded_output(&mut self) -> Output {
        let mut child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {self:?}: {e}"));
        let read_all = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                buf
            })
        };
        let out = read_all(Box::new(child.stdout.take().unwrap()));
        let err = read_all(Box::new(child.stderr.take().unwrap()));
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                process::kill_tree(child.id() as i32);
                let _ = child.wait();
                let stderr = err.join().unwrap_or_default();
                panic!(
                    "{self:?} still running after {PATIENCE:?}; stderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Whatever the command left running still holds the pipes: wait for
        // their end no longer than for the exit.
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }
}

/// Run `cmd` to its end ([`Bounded`]) and expect exit `code`; its output
/// and its stderr as text.
pub fn expect_exit_output(code: i32, cmd: &mut Command) -> (Output, String) {
    let out = cmd.bounded_output();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{cmd:?}: {stderr}");
    (out, stderr)
}

/// Run `cmd` to its end ([`Bounded`]) and expect exit `code`; its stderr.
pub fn expect_exit(code: i32, cmd: &mut Command) -> String {
    expect_exit_output(code, cmd).1
}

/// Run `cmd` to its end and expect exit `code` with exactly one line on
/// stderr (bad input: 2 and one line naming the bad value); that line.
pub fn expect_one_line(code: i32, cmd: &mut Command) -> String {
    one_line(code, cmd).1
}

fn one_line(code: i32, cmd: &mut Command) -> (Output, String) {
    let (out, stderr) = expect_exit_output(code, cmd);
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{cmd:?}: one line expected: {stderr}"
    );
    (out, stderr)
}

/// Run preflight with `args` and `env` and expect `code`, exactly one line
/// on stderr, and nothing on stdout (stdout belongs to the child: nothing
/// ran); the line.
pub fn fails_before_anything_starts(code: i32, args: &[&str], env: &[(&str, &str)]) -> String {
    let (out, stderr) = one_line(code, preflight().args(args).envs(env.iter().copied()));
    assert!(
        out.stdout.is_empty(),
        "nothing may have run: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// A running preflight: its stdout and stderr read line by line.
pub struct Run {
    pub how: As,
    child: Option<Child>,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every stderr line read so far (by [`Run::expect`], [`Run::finish`]).
    pub stderr: Vec<String>,
    started: Instant,
}

/// Forward each line of `r` to a channel, on a thread.
fn lines(r: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = channel();
    if let Some(r) = r {
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

impl Run {
    /// Start preflight `how` with `args`. See [`Run::spawn`].
    pub fn start(how: As, args: &[&str]) -> Run {
        Run::spawn(how, command(how, args))
    }

    /// Start `cmd` (from [`preflight`] or [`command`], as `how` says): stdin
    /// is a pipe kept open (closing it ends the testkit's `wait-stdin`),
    /// stdout and stderr are read here.
    pub fn spawn(how: As, mut cmd: Command) -> Run {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        Run::from_child(how, child)
    }

    /// Take over a child the test spawned itself; its stdout and stderr are
    /// read if they are pipes.
    pub fn from_child(how: As, mut child: Child) -> Run {
        let out = lines(child.stdout.take());
        let err = lines(child.stderr.take());
        Run {
            how,
            child: Some(child),
            out,
            err,
            stderr: Vec::new(),
            started: Instant::now(),
        }
    }

    /// The next stdout line, or panic after [`PATIENCE`].
    pub fn line(&self) -> String {
        match self.out.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => panic!("no line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed, no line"),
        }
    }

    /// The next stdout line, or None once stdout is closed; panic after
    /// [`PATIENCE`].
    pub fn next_line(&self) -> Option<String> {
        match self.out.recv_timeout(PATIENCE) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Timeout) => panic!("no line within {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Wait for `ready <pid>` on stdout; the pid (as seen inside its
    /// namespace).
    pub fn ready(&self) -> i32 {
        let l = self.line();
        l.strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("expected `ready <pid>`, got {l:?}"))
    }

    /// Every stdout line still to come, until stdout closes (after the exit).
    pub fn rest(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.out.recv_timeout(PATIENCE) {
            out.push(l);
        }
        out
    }

    /// Read stderr until a line contains `needle`; that line. Panics after
    /// [`PATIENCE`] or when stderr ends first.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.err.recv_timeout(left) {
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

    /// All of stderr read so far, one string.
    pub fn stderr(&self) -> String {
        self.stderr.join("\n")
    }

    /// The stderr lines read so far that say what got KILL.
    pub fn kill_lines(&self) -> Vec<&String> {
        self.stderr
            .iter()
            .filter(|l| l.contains("sending KILL to"))
            .collect()
    }

    /// Is it still running?
    pub fn running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// The pid of what the test started (preflight, or `unshare` as PID 1).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// preflight's pid as seen from here (under unshare: unshare's child).
    pub fn preflight_pid(&self) -> i32 {
        let outer = self.pid();
        match self.how {
            As::Plain => outer,
            As::Pid1 => {
                let deadline = Instant::now() + PATIENCE;
                loop {
                    if let Some(&pid) = process::children(outer).first() {
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
        process::kill(self.preflight_pid(), sig);
    }

    /// Kill the whole tree now (as dropping does); the lines already
    /// written stay readable with [`Run::rest`].
    pub fn kill_tree(&self) {
        let Some(child) = self.child.as_ref() else {
            return;
        };
        match self.how {
            // `unshare --kill-child`: its death kills PID 1, and PID 1's
            // death the namespace.
            As::Pid1 => process::kill(child.id() as i32, libc::SIGKILL),
            As::Plain => process::kill_tree(child.id() as i32),
        }
    }

    /// Close preflight's stdin (ends a `wait-stdin` child).
    pub fn close_stdin(&mut self) {
        drop(self.child.as_mut().unwrap().stdin.take());
    }

    /// Wait for the exit, or panic after [`PATIENCE`].
    pub fn wait(&mut self) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st;
            }
            if Instant::now() > deadline {
                self.kill_tree();
                panic!("still running after {PATIENCE:?}: {:#?}", self.stderr);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit code (preflight never dies of a signal here).
    pub fn code(&mut self) -> i32 {
        let st = self.wait();
        st.code()
            .unwrap_or_else(|| panic!("preflight itself died: {st:?}"))
    }

    /// Wait for the exit (see [`Run::wait`]) and read the rest of stderr;
    /// the status and how long it ran since it was started.
    pub fn finish(&mut self) -> (ExitStatus, Duration) {
        let status = self.wait();
        let took = self.started.elapsed();
        while let Ok(line) = self.err.recv_timeout(PATIENCE) {
            self.stderr.push(line);
        }
        (status, took)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            self.child = Some(child);
            self.kill_tree();
            child = self.child.take().unwrap();
        }
        let _ = child.wait();
    }
}
