//! What every integration test shares: the built binary, and the rule for
//! tests that need something from the machine (a real server, `unshare`):
//! skip with a printed reason on a user's machine, fail when
//! `PREFLIGHT_TEST_REQUIRE_SERVERS=1` (CI sets it).
//!
//! One home for each kind of help:
//!
//! - [`run`]: the one way to drive preflight (one-shot or live, plain or
//!   PID 1), bounded by one patience;
//! - [`probe`]: one try of a probe from the test process, bounded;
//! - [`server`]: the one fixture for a real server of the test's own;
//! - [`TempDir`]: the one temporary directory;
//! - [`peers`] (a port refused, a black hole) and [`fake`] (peers that answer
//!   wrong) for misbehaviour; [`pki`] for certificates;
//! - [`process`]: processes seen through /proc, and teardown.

#![allow(dead_code)]

pub mod closed_port;
pub mod fake;
pub mod instance;
pub mod peers;
pub mod pki;
pub mod probe;
pub mod process;
pub mod run;
pub mod server;

pub use run::{
    As, Bounded, Run, both, command, expect_exit, expect_exit_output, expect_one_line,
    fails_before_anything_starts, preflight, testkit,
};

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The preflight binary under test: cargo's build of this test run, or the
/// one `PREFLIGHT_TEST_BIN` names (CI runs the tests that drive the
/// executable again against the shipped musl build: `.ci/run`).
pub fn bin() -> PathBuf {
    match std::env::var_os("PREFLIGHT_TEST_BIN") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "PREFLIGHT_TEST_BIN={}: expected a preflight executable",
                path.display()
            );
            path
        }
        _ => PathBuf::from(env!("CARGO_BIN_EXE_preflight")),
    }
}

/// Must tests that need a server or `unshare` run (CI), rather than skip?
pub fn required() -> bool {
    std::env::var("PREFLIGHT_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// Skip the calling test with `reason`, or fail it when skipping is not
/// allowed. Use as `return skip("...")` or through [`require!`].
pub fn skip(reason: &str) {
    if required() {
        panic!("PREFLIGHT_TEST_REQUIRE_SERVERS=1 but {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// `require!(condition, "reason")`: skip (or fail under CI) unless condition.
#[macro_export]
macro_rules! require {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            $crate::support::skip(&format!($($reason)+));
            return;
        }
    };
}

/// Does `unshare --pid --fork --mount-proc` work here (root, no seccomp wall)?
pub fn have_unshare() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Is something accepting TCP connections at `addr`?
pub fn listening(addr: &str) -> bool {
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        return false;
    };
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Is a program on PATH?
pub fn have_program(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A port that was free a moment ago, for servers that cannot bind port 0
/// themselves (postgres, redis-server...). Fake peers bind `127.0.0.1:0`.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A fresh empty directory under the temp dir, removed when dropped (also
/// when the test fails). Unique per test process and call.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("preflight-test-{}-{n}", std::process::id()));
        // A leftover of an earlier run that had our pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    /// Let `user` own the directory (servers that refuse to run as root
    /// run as their own user and write here).
    pub fn chown_to(&self, user: &str) {
        let status = Command::new("chown")
            .arg(format!("{user}:"))
            .arg(&self.0)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown {user} {}", self.0.display());
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
