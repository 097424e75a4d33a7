//! Processes seen from the outside, through /proc and kill(2): what the init
//! tests observe (alive, zombie, parent) and how teardown kills a tree.

use std::time::{Duration, Instant};

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

/// SIGKILL `pid` and every descendant, found from the top before killing
/// (a killed parent's children are re-parented).
pub fn kill_tree(pid: i32) {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let kids = children(all[i]);
        all.extend(kids);
        i += 1;
    }
    for p in all.into_iter().rev() {
        // Already gone is fine.
        // SAFETY: kill takes plain integers and touches no memory.
        let _ = unsafe { libc::kill(p, libc::SIGKILL) };
    }
}

/// Is `pid` alive (and not a zombie)?
pub fn alive(pid: i32) -> bool {
    state(pid).is_some_and(|s| s != 'Z' && s != 'X')
}

/// Wait until `pid` is gone or a zombie; false if it still lives after
/// `patience`.
pub fn gone_within(pid: i32, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
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
