//! What `/proc` says about the processes preflight signals: its own
//! children, and the names behind a pid, a group or "everything" for the
//! one log line each KILL gets. Without `/proc` (not mounted, not Linux)
//! every answer is empty: nothing here is needed to supervise, only to see
//! re-parented children and to name what is killed.

use std::io;

use tracing::debug;

/// Our children (every thread's: an orphan goes to any live thread of its
/// reaper), from `/proc/self/task/*/children` (Linux ≥ 3.5, on by default).
/// Empty if /proc is not there.
pub fn children() -> Vec<i32> {
    let mut out = Vec::new();
    let tasks = match std::fs::read_dir("/proc/self/task") {
        Ok(t) => t,
        Err(e) => {
            debug!("cannot list children: {e}");
            return out;
        }
    };
    for task in tasks.flatten() {
        let path = task.path().join("children");
        match std::fs::read_to_string(&path) {
            Ok(s) => out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => debug!("cannot read {}: {e}", path.display()),
        }
    }
    out
}

/// At most this many processes are named in one line; the rest are counted.
const NAMED: usize = 8;

/// `12 (gunicorn), 15 (sleep)`: the live processes that `kill(pid)` for
/// each of `who` reaches (a pid; -N: group N; -1: every process but `me`),
/// but those in `named`, which gets the ones named now: a process still
/// dying from a first KILL is not named again. Empty when none is left (or
/// /proc cannot tell).
pub fn describe(who: &[i32], me: i32, named: &mut Vec<i32>) -> String {
    let mut hit: Vec<(i32, String)> = Vec::new();
    if who.iter().any(|w| *w < 0) {
        for p in all() {
            let reached = who.iter().any(|&w| match w {
                -1 => p.pid != me,
                w if w < 0 => p.pgrp == -w,
                w => p.pid == w,
            });
            if reached && p.state != 'Z' {
                hit.push((p.pid, p.comm));
            }
        }
    } else {
        for &pid in who {
            if let Some(p) = stat(pid).filter(|p| p.state != 'Z') {
                hit.push((p.pid, p.comm));
            }
        }
    }
    hit.sort();
    hit.dedup();
    hit.retain(|(pid, _)| !named.contains(pid));
    named.extend(hit.iter().map(|(pid, _)| *pid));
    let mut out: Vec<String> = hit
        .iter()
        .take(NAMED)
        .map(|(pid, comm)| format!("{pid} ({comm})"))
        .collect();
    if hit.len() > NAMED {
        out.push(format!("and {} more", hit.len() - NAMED));
    }
    out.join(", ")
}

/// One line of `/proc/PID/stat`, the fields used here.
struct Stat {
    pid: i32,
    comm: String,
    state: char,
    pgrp: i32,
}

fn stat(pid: i32) -> Option<Stat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ppid pgrp ...`: comm may hold spaces and parentheses.
    let (head, rest) = s.rsplit_once(") ")?;
    let comm = head.split_once(" (")?.1.to_string();
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some(Stat {
        pid,
        comm,
        state,
        pgrp,
    })
}

/// Every pid /proc lists (in preflight's PID namespace); empty without it.
pub fn pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

fn all() -> Vec<Stat> {
    pids().into_iter().filter_map(stat).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_named_by_pid_and_command() {
        let me = std::process::id() as i32;
        let mut named = Vec::new();
        let line = describe(&[me], 0, &mut named);
        assert!(line.starts_with(&format!("{me} (")), "{line}");
        assert_eq!(named, [me]);
        assert_eq!(describe(&[me], 0, &mut named), "", "named already");
        assert_eq!(describe(&[i32::MAX], 0, &mut named), "", "no such process");
    }
}
