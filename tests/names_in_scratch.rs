//! Name resolution in a `FROM scratch`-like root: the static binary alone,
//! with only the /etc/hosts and /etc/resolv.conf an orchestrator writes
//! (no NSS modules, no libc on disk). Run with `chroot` as root; the network
//! is the machine's. The DNS server is a fake of the test's own on a
//! loopback address of its own (127.x.y.z:53), answering one name.
//!
//! Kubernetes writes `search <ns>.svc.cluster.local svc.cluster.local
//! cluster.local` and `options ndots:5`: a short name such as `db` must be
//! tried with each suffix until one answers. Compose and Swarm write
//! /etc/hosts entries and a resolver of their own; both are covered here
//! for the binary under test (`PREFLIGHT_TEST_BIN` runs these against the
//! shipped musl build as well). The real containers are in `docker/`'s tests.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::require;
use crate::support::{self, TempDir};

/// The name the fake DNS server knows, as Kubernetes would expand `db`.
const SERVICE: &str = "db.shop.svc.cluster.local";

/// A root holding only the binary under test and the given /etc files.
fn scratch_root(hosts: &str, resolv: &str) -> TempDir {
    let root = TempDir::new();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::copy(support::bin(), root.path().join("preflight")).unwrap();
    std::fs::write(root.path().join("etc/hosts"), hosts).unwrap();
    std::fs::write(root.path().join("etc/resolv.conf"), resolv).unwrap();
    root
}

/// `preflight ARGS` chrooted into `root`: (exit code, stderr).
fn run_in(root: &TempDir, args: &[&str]) -> (i32, String) {
    let out = Command::new("chroot")
        .arg(root.path())
        .arg("/preflight")
        .args(args)
        .output()
        .expect("run chroot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Can this test chroot (root) and bind port 53?
fn can_chroot() -> bool {
    support::have_program("chroot") && nix::unistd::geteuid().is_root()
}

#[test]
fn names_from_etc_hosts_resolve_with_nothing_else_on_disk() {
    require!(can_chroot(), "chroot as root is needed for an empty root");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = scratch_root(
        "127.0.0.1\tlocalhost\n127.0.0.1\tpostgres.compose-net db\n",
        // Nothing answers there: only /etc/hosts can.
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    let (code, stderr) = run_in(
        &root,
        &["wait", &format!("tcp://db:{port}"), "--timeout", "10s"],
    );
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run_in(&root, &["check", &format!("postgres.compose-net:{port}")]);
    // 5432 is not the port, so this is a TCP check; what matters is the name.
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_short_name_is_tried_with_each_search_domain_as_kubernetes_writes_them() {
    require!(can_chroot(), "chroot as root is needed for an empty root");
    let dns = FakeDns::start();
    let Some(dns) = dns else {
        return support::skip("cannot bind a loopback address on port 53");
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = scratch_root(
        "127.0.0.1\tlocalhost\n",
        &format!(
            "search shop.svc.cluster.local svc.cluster.local cluster.local\n\
             nameserver {}\noptions ndots:5\n",
            dns.addr
        ),
    );
    let (code, stderr) = run_in(
        &root,
        &["wait", &format!("tcp://db:{port}"), "--timeout", "10s"],
    );
    assert_eq!(code, 0, "{stderr}");
    let asked = dns.names();
    assert!(
        asked.iter().any(|n| n == SERVICE),
        "the resolver never asked for {SERVICE}: {asked:?}"
    );

    // A name no search domain completes is "not ready", with the name in
    // the reason, not a crash or a hang.
    let (code, stderr) = run_in(&root, &["check", &format!("tcp://nowhere:{port}")]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
}

/// A DNS server on UDP port 53 of a loopback address of its own: A for
/// [`SERVICE`] is 127.0.0.1; the same name has no other record; every other
/// name does not exist. It records each name asked.
struct FakeDns {
    addr: Ipv4Addr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeDns {
    fn start() -> Option<FakeDns> {
        // An address of 127/8 nobody else uses, so port 53 is free there.
        let pid = std::process::id();
        let addr = Ipv4Addr::new(127, 53, (pid >> 8) as u8, (pid as u8).max(2));
        let socket = UdpSocket::bind((addr, 53)).ok()?;
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, done) = (asked.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((name, reply)) = answer(&buf[..n]) {
                    log.lock().unwrap().push(name);
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Some(FakeDns {
            addr,
            asked,
            stop,
            thread: Some(thread),
        })
    }

    fn names(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The name asked in `query`, and the reply to it.
fn answer(query: &[u8]) -> Option<(String, Vec<u8>)> {
    if query.len() < 12 {
        return None;
    }
    // The question: labels from byte 12, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let name = labels.join(".");
    let known = name == SERVICE;
    let a = known && qtype == 1;
    let mut reply = Vec::with_capacity(question.len() + 28);
    reply.extend_from_slice(&query[..2]); // id
    // Response, recursion desired and available; NXDOMAIN for unknown names.
    reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]);
    reply.extend_from_slice(&[0, 1, 0, a as u8, 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if a {
        // The name (a pointer to the question's), A, IN, TTL 5, 127.0.0.1.
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 127, 0, 0, 1]);
    }
    Some((name, reply))
}
