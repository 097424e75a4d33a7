//! Name lookups that never answer: one in flight per target and a bounded
//! number in all, whatever the number of targets and tries. The resolver is
//! made silent in a mount namespace of the test's own (`unshare --mount`, a
//! resolv.conf pointing at a UDP socket the test holds and never reads).

use std::net::UdpSocket;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TempDir, bin};

/// Threads of process `pid` now (0 once it is gone).
fn threads(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What a silent resolver needs kept while preflight runs: the socket that
/// takes every query and answers none, and the directory of the resolv.conf
/// naming it.
struct Silent {
    _socket: UdpSocket,
    _dir: TempDir,
}

/// Preflight run with `args` (`{targets}` stands for `count` names no
/// resolver answers) in a mount namespace of its own whose resolv.conf names
/// a "DNS server" at `ip`:53 that never answers; the resolver gives up after
/// `timeout_s`. The child (`unshare`, which execs preflight) and what to
/// hold while it runs. None: skipped.
fn under_a_silent_resolver(
    ip: &str,
    timeout_s: u32,
    count: usize,
    args: &str,
    stderr: Stdio,
) -> Option<(Child, Silent)> {
    if !(nix::unistd::geteuid().is_root() && crate::support::have_program("unshare")) {
        crate::support::skip("needs root and unshare for a private resolv.conf");
        return None;
    }
    let silent = match UdpSocket::bind((ip, 53)) {
        Ok(s) => s,
        Err(e) => {
            crate::support::skip(&format!("cannot bind {ip}:53: {e}"));
            return None;
        }
    };
    let dir = TempDir::new();
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("nameserver {ip}\noptions timeout:{timeout_s} attempts:1\n"),
    )
    .unwrap();
    let targets: Vec<String> = (0..count)
        .map(|i| format!("host{i}.silent.test:80"))
        .collect();
    let script = format!(
        "mount --bind {} /etc/resolv.conf && exec {} {}",
        conf.display(),
        bin().display(),
        args.replace("{targets}", &targets.join(" "))
    );
    let child = std::process::Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    Some((
        child,
        Silent {
            _socket: silent,
            _dir: dir,
        },
    ))
}

#[test]
fn lookups_that_never_answer_do_not_pile_up_threads() {
    let args = "wait --timeout 4s --try-timeout 200ms {targets}";
    let Some((mut child, silent)) =
        under_a_silent_resolver("127.0.0.77", 30, 60, args, Stdio::piped())
    else {
        return;
    };
    let pid = child.id();
    let started = Instant::now();
    let mut most = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        most = most.max(threads(pid));
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "preflight hung"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("host0.silent.test"), "{stderr}");
    eprintln!("most threads at once: {most}");
    // The main thread and at most MAX_LOOKUPS lookups.
    let ceiling = 1 + preflight::probe::net::MAX_LOOKUPS + 2;
    assert!(
        most <= ceiling,
        "{most} threads at once, expected at most {ceiling}"
    );
    drop(silent);
}

#[test]
fn lookups_left_behind_by_the_wait_end_with_the_resolvers_own_timeout() {
    // The resolver gives up after 2 s: a lookup stuck at the wait's end must
    // not outlive it by much, while the command runs under preflight.
    let args = "--wait {targets} --timeout 1s --try-timeout 200ms --on-timeout continue -- sleep 8";
    let Some((mut child, silent)) =
        under_a_silent_resolver("127.0.0.78", 2, 20, args, Stdio::null())
    else {
        return;
    };
    let pid = child.id();
    let started = Instant::now();
    let mut at_wait_end = 0;
    let mut last = usize::MAX;
    while started.elapsed() < Duration::from_millis(6500) {
        let n = threads(pid);
        if started.elapsed() < Duration::from_millis(1500) {
            at_wait_end = at_wait_end.max(n);
        }
        last = n;
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("threads: {at_wait_end} while waiting, {last} once the resolver gave up");
    // The lookups were really stuck when the wait ended (the test would
    // prove nothing otherwise)...
    assert!(at_wait_end > 1, "{at_wait_end} threads while waiting");
    // ...and none is left once the resolver's timeout has passed: PID 1
    // supervises the command on its main thread alone.
    assert_eq!(last, 1, "threads left after the resolver's timeout");
    drop(silent);
}
