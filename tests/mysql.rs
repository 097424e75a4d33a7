//! The MySQL/MariaDB probe and `--lock` against the machine's MariaDB
//! (127.0.0.1:3306, root without password), against MariaDB instances of the
//! test's own (started on a free port, removed on drop), and against fake
//! peers that misbehave.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use preflight::lock::mysql;
use preflight::probe::{Probe, ProbeError};
use preflight::target::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::require;
use crate::support::fake::{self, Peer};
use crate::support::pki::Pki;
use crate::support::probe::{self, check, not_ready, target};
use crate::support::server::Server;
use crate::support::{Bounded, TempDir, have_program, listening, preflight};

const SHARED: &str = "127.0.0.1:3306";

/// Run the shared server's client as root.
fn shared_sql(sql: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-h127.0.0.1", "-P3306", "-uroot", "-N", "-B", "-e", sql])
        .output()
        .expect("run mariadb");
    assert!(out.status.success(), "{sql}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn shared_available() -> bool {
    listening(SHARED) && have_program("mariadb")
}

/// A MariaDB server of the test's own on the shared fixture: a fresh data
/// directory and a free port; killed and removed on drop.
struct MariaDb {
    server: Server,
    args: Vec<String>,
}

impl MariaDb {
    fn available() -> bool {
        have_program("mariadbd") && have_program("mariadb-install-db") && have_program("mariadb")
    }

    /// Initialise a data directory; the server is not started yet.
    fn init(extra: &[&str]) -> MariaDb {
        let server = Server::new("mariadbd");
        let dir = server.dir.display().to_string();
        let root = nix::unistd::geteuid().is_root();
        if root {
            server.dir.chown_to("mysql");
        }
        let mut args: Vec<String> = vec![
            format!("--datadir={dir}/data"),
            "--innodb-log-file-size=4M".into(),
            "--innodb-buffer-pool-size=8M".into(),
            // Its own temporary files: bootstraps running side by side in a
            // shared /tmp trip over each other's `#sql-temptable-*`.
            format!("--tmpdir={dir}"),
        ];
        if root {
            args.push("--user=mysql".into());
        }
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .args(&args)
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .unwrap();
        assert!(out.status.success(), "mariadb-install-db: {out:?}");
        args.extend([
            format!("--port={}", server.port),
            "--bind-address=127.0.0.1".into(),
            format!("--socket={dir}/sock"),
            format!("--pid-file={dir}/pid"),
            "--skip-log-bin".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        MariaDb { server, args }
    }

    fn addr(&self) -> String {
        self.server.addr()
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    /// Its unix socket.
    fn socket(&self) -> String {
        format!("{}/sock", self.server.dir.display())
    }

    /// Start the server (not waiting for it).
    fn spawn(&mut self) {
        let mut cmd = Command::new("mariadbd");
        cmd.arg("--no-defaults").args(&self.args);
        self.server.spawn(cmd);
    }

    /// Start it and wait until it accepts connections.
    fn start(extra: &[&str]) -> MariaDb {
        let mut db = MariaDb::init(extra);
        db.spawn();
        db.wait_listening();
        db
    }

    fn wait_listening(&mut self) {
        self.server.wait_listening();
    }

    /// SQL as root through the unix socket.
    fn sql(&self, sql: &str) -> String {
        let out = Command::new("mariadb")
            .arg(format!("--socket={}", self.socket()))
            .args(["-uroot", "-N", "-B", "-e", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// SIGTERM, as `docker stop` does, and wait for it to exit.
    fn stop(&mut self) {
        self.server.stop(libc::SIGTERM);
    }
}

// ---- the shared server ----

#[tokio::test]
async fn ready_without_credentials() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    check(&format!("mysql://{SHARED}")).await.unwrap();
    // A bare host:port on 3306 speaks the protocol too.
    check(SHARED).await.unwrap();
}

#[tokio::test]
async fn ready_with_credentials_runs_select_1_in_the_database() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    check(&format!("mysql://root@{SHARED}/test")).await.unwrap();
    check(&format!("mariadb://root@{SHARED}")).await.unwrap();
}

#[tokio::test]
async fn missing_database_is_not_ready() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    match check(&format!("mysql://root@{SHARED}/preflight_no_such_db")).await {
        Err(ProbeError::NotReady(m)) => assert!(m.contains("1049"), "{m}"),
        other => panic!("expected NotReady(1049), got {other:?}"),
    }
}

/// A throwaway account on the shared server, dropped even if the test fails.
struct ThrowawayUser(String);

impl ThrowawayUser {
    fn create(password: &str) -> ThrowawayUser {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        // One per test, also when tests run at once.
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("preflight_t{}_{n}", std::process::id());
        shared_sql(&format!(
            "DROP USER IF EXISTS '{name}'@'127.0.0.1'; \
             CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
             GRANT USAGE ON *.* TO '{name}'@'127.0.0.1'; \
             GRANT SELECT ON test.* TO '{name}'@'127.0.0.1'"
        ));
        ThrowawayUser(name)
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        let _ = Command::new("mariadb")
            .args(["-h127.0.0.1", "-uroot", "-e"])
            .arg(format!("DROP USER IF EXISTS '{}'@'127.0.0.1'", self.0))
            .status();
    }
}

#[tokio::test]
async fn native_password_login_and_wrong_password_is_fatal() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    let user = ThrowawayUser::create("s3cret");
    let u = &user.0;
    check(&format!("mysql://{u}:s3cret@{SHARED}/test"))
        .await
        .unwrap();
    match check(&format!("mysql://{u}:wrong@{SHARED}/test")).await {
        Err(e @ ProbeError::Fatal(_)) => {
            assert!(!e.is_retryable());
            assert!(e.to_string().contains("1045"), "{e}");
        }
        other => panic!("expected Fatal(1045), got {other:?}"),
    }
    // Without credentials the same access-denied answer means "up".
    check(&format!("mysql://{SHARED}")).await.unwrap();
}

/// A URL that names a user but no password takes it from `MYSQL_PWD`, or
/// from the file `MYSQL_PWD_FILE` names (one trailing newline dropped);
/// it never shows in the output.
#[test]
fn mysql_pwd_or_its_file_gives_the_password_a_url_leaves_out() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    let user = ThrowawayUser::create("s3cret pw");
    let url = format!("mysql://{}@{SHARED}/test", user.0);
    let dir = TempDir::new();
    let file = dir.join("pwd");
    std::fs::write(&file, "s3cret pw\n").unwrap();
    let file = file.to_str().unwrap();
    let check = |env: &[(&str, &str)]| {
        let out = preflight()
            .args(["check", &url])
            .envs(env.iter().copied())
            .bounded_output();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("s3cret"), "{stderr}");
        (out.status.code(), stderr)
    };
    let (code, stderr) = check(&[("MYSQL_PWD", "s3cret pw")]);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = check(&[("MYSQL_PWD_FILE", file)]);
    assert_eq!(code, Some(0), "{stderr}");
    // Without it, or wrong, the account is refused.
    for env in [&[][..], &[("MYSQL_PWD", "s3cret")][..]] {
        let (code, stderr) = check(env);
        assert_eq!(code, Some(1), "{env:?}: {stderr}");
        assert!(stderr.contains("1045"), "{env:?}: {stderr}");
    }
}

// ---- --lock ----

#[tokio::test]
async fn lock_is_held_until_its_socket_is_dropped() {
    require!(shared_available(), "no MariaDB on {SHARED}");
    let t = target(&format!("mysql://root@{SHARED}/test"));
    // Quotes and backslashes must reach GET_LOCK as they are.
    let name = format!("pre'flight\\test \"{}\"", std::process::id());
    let first = timeout(
        Duration::from_secs(10),
        mysql::lock(&t, &name, Duration::from_secs(10), &Default::default()),
    )
    .await
    .expect("first lock hung")
    .unwrap();
    assert!(first.take_error().unwrap().is_none());
    // Held under exactly that name, as another client spells it.
    let literal = name.replace('\\', "\\\\").replace('\'', "\\'");
    let holder = shared_sql(&format!("SELECT IS_USED_LOCK('{literal}')"));
    assert_ne!(holder, "NULL", "the lock is not held under its name");
    // Blocking, and closed on exec: it never leaks into a hook or the command.
    let fdinfo = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(&first)
    ))
    .unwrap();
    let flags = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    assert_ne!(flags & libc::O_CLOEXEC as u32, 0, "not CLOEXEC: {flags:o}");
    assert_eq!(
        flags & libc::O_NONBLOCK as u32,
        0,
        "still non-blocking: {flags:o}"
    );

    let t2 = t.clone();
    let name2 = name.clone();
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let second = tokio::spawn(async move {
        let sock = mysql::lock(&t2, &name2, Duration::from_secs(10), &Default::default()).await;
        let _ = tx.send(());
        sock
    });
    // While the first holds it, the second waits.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        rx.try_recv().is_err(),
        "second locker got the lock too early"
    );
    drop(first);
    let second = timeout(Duration::from_secs(10), second)
        .await
        .expect("second locker not woken by the release")
        .unwrap()
        .unwrap();
    drop(second);
}

// ---- a MariaDB of our own ----

#[tokio::test]
async fn server_started_after_probing_began_is_noticed() {
    require!(
        MariaDb::available(),
        "mariadbd/mariadb-install-db not installed"
    );
    let mut db = MariaDb::init(&[]);
    let url = format!("mysql://root@{}", db.addr());
    let mut spawned = false;
    probe::noticed_once_started(&url, Duration::from_secs(60), || {
        if !spawned {
            db.spawn();
            spawned = true;
        }
    })
    .await;
}

#[tokio::test]
async fn server_stopped_mid_wait_is_reported_not_hung() {
    require!(
        MariaDb::available(),
        "mariadbd/mariadb-install-db not installed"
    );
    let mut db = MariaDb::start(&[]);
    let url = format!("mysql://root@{}/not_created_yet", db.addr());
    assert!(matches!(check(&url).await, Err(ProbeError::NotReady(_))));
    db.stop();
    match check(&url).await {
        Err(ProbeError::Connect(_)) => {}
        other => panic!("expected a refused connect, got {other:?}"),
    }
    // Created later: the wait goes on and passes (the 1049 case resolved).
    db.spawn();
    db.wait_listening();
    db.sql("CREATE DATABASE not_created_yet");
    check(&url).await.unwrap();
}

/// Client processes holding connections (each with its stdout, kept open),
/// killed on drop.
struct Holders(Vec<(Child, BufReader<ChildStdout>)>);

impl Holders {
    /// Start `n` sessions sleeping as `user`, one at a time, each one in
    /// before the next: it prints `in` first (a handshake, not a guess from
    /// timing); one refused because a slot had not been freed yet (the
    /// server frees it a moment after a client leaves) exits instead, and is
    /// started again.
    fn hold(&mut self, db: &MariaDb, user: &str, password: &str, n: usize) {
        let spawn = || {
            Command::new("mariadb")
                .arg(format!("--socket={}", db.socket()))
                .arg(format!("-u{user}"))
                .args((!password.is_empty()).then(|| format!("-p{password}")))
                .args(["--connect-timeout=10", "--unbuffered", "-N", "-B"])
                .args(["-e", "SELECT 'in'; SELECT SLEEP(120)"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        for _ in 0..n {
            let started = Instant::now();
            loop {
                let mut client = spawn();
                let mut out = BufReader::new(client.stdout.take().unwrap());
                let mut line = String::new();
                // Ends with `in`, or at EOF when refused.
                let _ = out.read_line(&mut line);
                if line.trim() == "in" {
                    self.0.push((client, out));
                    break;
                }
                let _ = client.wait();
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "a {user} session never got in"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        for (c, _) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// MariaDB's smallest `max_connections` is 10, plus one slot for an admin.
#[tokio::test]
async fn too_many_connections_is_not_ready() {
    require!(
        MariaDb::available(),
        "mariadbd/mariadb-install-db not installed"
    );
    let db = MariaDb::start(&["--max-connections=10"]);
    db.sql("CREATE USER app@'%' IDENTIFIED BY 'pw'");
    let app = format!("mysql://app:pw@{}", db.addr());
    let anonymous = format!("mysql://{}", db.addr());
    check(&app).await.unwrap();
    // Fill the ordinary slots one session at a time until the app's probe
    // is refused (10 less whatever MariaDB keeps for itself).
    let mut holders = Holders(Vec::new());
    let refused = loop {
        holders.hold(&db, "app", "pw", 1);
        match check(&app).await {
            Ok(()) if holders.0.len() < 12 => continue,
            r => break r,
        }
    };
    // Full for ordinary accounts: greeted, then refused after the login.
    let m = not_ready(refused);
    assert!(m.contains("1040"), "{m}");
    // Without credentials the access check comes first: "up", as mysqladmin
    // ping says (documented). The admin slot may still be held a moment by
    // the last client that left (the refused probe, the count query).
    let started = Instant::now();
    while let Err(e) = check(&anonymous).await {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "without credentials, expected up: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The admin slot taken too: 1040 comes instead of the greeting.
    holders.hold(&db, "root", "", 1);
    let started = Instant::now();
    let full = loop {
        let r = check(&anonymous).await;
        if r.is_err() || started.elapsed() > Duration::from_secs(10) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let m = not_ready(full);
    assert!(m.contains("1040"), "{m}");
    drop(holders);
    let started = Instant::now();
    while check(&app).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "slots not freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An address of this machine that is not loopback (MariaDB exempts
/// loopback from its host cache), if there is one.
fn non_loopback_ip() -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A probe that read the greeting and hung up would count as a handshake
/// error, and `max_connect_errors` of those in a row block the host (1129)
/// until `FLUSH HOSTS`. preflight answers instead, so many tries leave the
/// host cache's blocking count at zero.
#[tokio::test]
async fn probes_do_not_walk_the_host_toward_max_connect_errors() {
    require!(
        MariaDb::available(),
        "mariadbd/mariadb-install-db not installed"
    );
    let Some(ip) = non_loopback_ip() else {
        return crate::support::skip("no non-loopback address to reach the server from");
    };
    let mut db = MariaDb::init(&[
        "--max-connect-errors=3",
        "--performance-schema=ON",
        "--skip-name-resolve=OFF",
    ]);
    db.args.retain(|a| !a.starts_with("--bind-address"));
    db.args.push("--bind-address=0.0.0.0".into());
    db.spawn();
    db.wait_listening();
    db.sql("CREATE USER app@'%' IDENTIFIED BY 'pw'");
    let url = format!("mysql://{}", SocketAddr::new(ip, db.port()));
    for _ in 0..10 {
        check(&url).await.unwrap();
    }
    let blocking = db.sql(&format!(
        "SELECT SUM_CONNECT_ERRORS FROM performance_schema.host_cache WHERE IP = '{ip}'"
    ));
    assert!(blocking.is_empty() || blocking == "0", "{blocking}");

    // The behaviour it avoids: 3 greetings left unanswered block the host.
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(SocketAddr::new(ip, db.port()))
            .await
            .unwrap();
        let mut buf = [0u8; 128];
        let _ = s.read(&mut buf).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    match check(&url).await {
        Err(ProbeError::Fatal(m)) => assert!(m.contains("1129"), "{m}"),
        other => panic!("expected the host blocked (1129), got {other:?}"),
    }
}

// ---- fake peers ----

/// A MySQL packet: length, sequence, payload.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// A HandshakeV10 greeting offering `plugin`, with `scramble` (20 bytes).
fn greeting(plugin: &str, scramble: &[u8; 20]) -> Vec<u8> {
    let mut p = vec![0x0a];
    p.extend_from_slice(b"8.0.99-fake\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&scramble[..8]);
    p.push(0);
    let caps: u32 = 0x0200 | 0x8000 | 0x80000 | 0x8 | 0x1;
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&scramble[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    packet(0, &p)
}

async fn fake_check(peer: Peer, creds: bool) -> Result<(), ProbeError> {
    fake::check("mysql", if creds { "u:p@" } else { "" }, peer).await
}

#[tokio::test]
async fn a_silent_peer_leaves_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("mysql").await;
}

#[tokio::test]
async fn a_peer_closing_at_once_is_a_protocol_error() {
    let r = fake_check(Peer::CloseAtOnce, false).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

#[tokio::test]
async fn garbage_instead_of_a_greeting_is_a_protocol_error() {
    let r = fake_check(Peer::Send(packet(0, b"HTTP/1.1 400 Bad")), false).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    let r = fake_check(Peer::Send(b"SSH-2.0-OpenSSH_9\r\n".to_vec()), false).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

#[tokio::test]
async fn a_huge_packet_length_is_refused_without_allocating() {
    let r = fake_check(Peer::Send(vec![0xff, 0xff, 0xff, 0x00]), false).await;
    match r {
        Err(ProbeError::Protocol(m)) => assert!(m.contains("announces"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn err_packets_instead_of_the_greeting_are_classified() {
    let too_many = packet(0, b"\xff\x10\x04Too many connections");
    let m = not_ready(fake_check(Peer::Send(too_many), false).await);
    assert!(m.contains("Too many connections"), "{m}");
    let not_allowed = packet(0, b"\xff\x6a\x04Host '10.0.0.9' is not allowed to connect");
    let r = fake_check(Peer::Send(not_allowed), false).await;
    assert!(
        matches!(&r, Err(ProbeError::Fatal(m)) if m.contains("1130")),
        "{r:?}"
    );
}

#[tokio::test]
async fn closing_mid_handshake_is_a_protocol_error() {
    let g = greeting("mysql_native_password", &[1; 20]);
    // Greeting, then gone before answering the login.
    let r = fake_check(Peer::SendThenClose(g.clone()), true).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    // Half a greeting.
    let r = fake_check(Peer::SendThenClose(g[..20].to_vec()), false).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

/// A scripted server for the authentication paths MariaDB does not have:
/// caching_sha2_password's fast path and an AuthSwitchRequest to
/// mysql_native_password. Checks the client's scramble against `password`.
async fn scripted_server(switch: bool, full_auth: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let scramble = [0x2a; 20];
        s.write_all(&greeting("caching_sha2_password", &scramble))
            .await
            .unwrap();
        let login = read_packet(&mut s).await;
        let at = 32 + login[32..].iter().position(|&b| b == 0).unwrap() + 1;
        let len = login[at] as usize;
        let auth = login[at + 1..at + 1 + len].to_vec();
        let ok = packet(2, &[0, 0, 0, 2, 0, 0, 0]);
        if switch {
            let challenge = [0x17; 20];
            let mut req = vec![0xfe];
            req.extend_from_slice(b"mysql_native_password\0");
            req.extend_from_slice(&challenge);
            req.push(0);
            s.write_all(&packet(2, &req)).await.unwrap();
            let answer = read_packet(&mut s).await;
            assert_eq!(answer, native("pw", &challenge), "native scramble");
            s.write_all(&packet(4, &[0, 0, 0, 2, 0, 0, 0]))
                .await
                .unwrap();
        } else if full_auth {
            s.write_all(&packet(2, &[0x01, 0x04])).await.unwrap();
            let _ = read_packet(&mut s).await;
            return;
        } else {
            assert_eq!(auth, sha2("pw", &scramble), "caching_sha2 scramble");
            s.write_all(&packet(2, &[0x01, 0x03])).await.unwrap();
            s.write_all(&packet(3, &[0, 0, 0, 2, 0, 0, 0]))
                .await
                .unwrap();
        }
        drop(ok);
        // SELECT 1: one column, its definition, EOF, one row "1", EOF.
        let q = read_packet(&mut s).await;
        assert_eq!(q, b"\x03SELECT 1");
        let mut reply = packet(1, &[1]);
        reply.extend(packet(
            2,
            b"\x03def\0\0\0\x011\0\x0c\x3f\0\x01\0\0\0\x08\x81\0\0\0\0",
        ));
        reply.extend(packet(3, &[0xfe, 0, 0, 2, 0]));
        reply.extend(packet(4, b"\x011"));
        reply.extend(packet(5, &[0xfe, 0, 0, 2, 0]));
        s.write_all(&reply).await.unwrap();
        // COM_QUIT, then we close.
        assert_eq!(read_packet(&mut s).await, [1]);
    });
    addr
}

async fn read_packet(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut p = vec![0; u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize];
    s.read_exact(&mut p).await.unwrap();
    p
}

fn native(pw: &str, challenge: &[u8]) -> Vec<u8> {
    use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY as SHA1, digest};
    let h1 = digest(&SHA1, pw.as_bytes());
    let h2 = digest(&SHA1, h1.as_ref());
    let h3 = digest(&SHA1, &[challenge, h2.as_ref()].concat());
    h1.as_ref()
        .iter()
        .zip(h3.as_ref())
        .map(|(a, b)| a ^ b)
        .collect()
}

fn sha2(pw: &str, challenge: &[u8]) -> Vec<u8> {
    use ring::digest::{SHA256, digest};
    let h1 = digest(&SHA256, pw.as_bytes());
    let h2 = digest(&SHA256, h1.as_ref());
    let h3 = digest(&SHA256, &[h2.as_ref(), challenge].concat());
    h1.as_ref()
        .iter()
        .zip(h3.as_ref())
        .map(|(a, b)| a ^ b)
        .collect()
}

#[tokio::test]
async fn caching_sha2_fast_path_logs_in() {
    let addr = scripted_server(false, false).await;
    check(&format!("mysql://u:pw@{addr}")).await.unwrap();
}

#[tokio::test]
async fn auth_switch_to_native_password_logs_in() {
    let addr = scripted_server(true, false).await;
    check(&format!("mysql://u:pw@{addr}")).await.unwrap();
}

#[tokio::test]
async fn caching_sha2_full_authentication_is_fatal_and_says_why() {
    let addr = scripted_server(false, true).await;
    match check(&format!("mysql://u:pw@{addr}")).await {
        Err(ProbeError::Fatal(m)) => assert!(m.contains("full authentication"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Everything a polite server says to a client that logs in, runs `SELECT 1`
/// and quits: greeting, OK, the one-row result set, and an OK to COM_QUIT.
fn whole_session(quit_answer: &[u8]) -> Vec<u8> {
    let column =
        b"\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00";
    [
        greeting("mysql_native_password", &[1; 20]),
        packet(2, &[0, 0, 0, 2, 0, 0, 0]),
        packet(1, b"\x01"),
        packet(2, column),
        packet(3, b"\xfe\x00\x00\x02\x00"),
        packet(4, b"\x011"),
        packet(5, b"\xfe\x00\x00\x02\x00"),
        quit_answer.to_vec(),
    ]
    .concat()
}

#[tokio::test]
async fn a_server_that_answers_com_quit_and_stays_open_is_ready() {
    // Some proxies answer COM_QUIT with OK and keep the socket: the verdict
    // is known by then, so the probe does not wait for the close.
    let peer = Peer::Send(whole_session(&packet(1, &[0, 0, 0, 2, 0, 0, 0])));
    let r = timeout(Duration::from_secs(5), fake_check(peer, true)).await;
    assert!(matches!(r, Ok(Ok(()))), "{r:?}");
}

#[tokio::test]
async fn a_server_error_cannot_forge_log_lines() {
    let mut err = b"\xff\x51\x04#HY000boom\nINFO preflight: db is ready \x1b[2J".to_vec();
    err.extend(std::iter::repeat_n(b'x', 10_000));
    let r = fake_check(Peer::Send(packet(0, &err)), false).await;
    let Err(ProbeError::NotReady(m)) = r else {
        panic!("{r:?}")
    };
    assert!(!m.contains('\n') && !m.contains('\x1b'), "{m}");
    assert!(m.contains("boom\\nINFO"), "{m}");
    assert!(m.len() < 400, "{} characters", m.len());
}

// ---- TLS (ssl-mode) ----

#[tokio::test]
async fn ssl_mode_against_a_server_that_requires_secure_transport() {
    require!(
        MariaDb::available(),
        "MariaDB server binaries not installed"
    );
    let pki = Pki::new();
    let wrong = Pki::new();
    let certs = TempDir::new();
    let ca = pki.ca_file(&certs);
    let wrong_ca = wrong.ca_file_in(certs.path(), "wrong.pem");
    let (cert, key) = pki
        .issue(&["localhost"], false)
        .write(certs.path(), "server");
    std::fs::set_permissions(
        certs.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let db = MariaDb::start(&[
        "--require-secure-transport=ON",
        &format!("--ssl-cert={}", cert.display()),
        &format!("--ssl-key={}", key.display()),
        &format!("--ssl-ca={}", ca.display()),
    ]);
    db.sql("CREATE USER app@'%' IDENTIFIED BY 'p@ss w/rd'; GRANT ALL ON *.* TO app@'%'");
    let port = db.port();
    let app = |host: &str, query: &str| {
        format!("mysql://app:p%40ss%20w%2Frd@{host}:{port}/mysql?{query}")
    };
    // Positive controls: the modes that use TLS log in.
    for query in [
        String::new(),
        "ssl-mode=PREFERRED".into(),
        "ssl-mode=required".into(),
        format!("ssl-mode=VERIFY_CA&ssl-ca={}", ca.display()),
        format!("ssl_mode=verify_identity&ssl_ca={}", ca.display()),
    ] {
        let r = check(&app("localhost", &query)).await;
        assert!(r.is_ok(), "{query}: {r:?}");
    }
    check(&app(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_CA&ssl-ca={}", ca.display()),
    ))
    .await
    .unwrap();
    let e = check(&app(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca.display()),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("name mismatch"), "{e}");
    let e = check(&app(
        "localhost",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", wrong_ca.display()),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().contains("unknown issuer"), "{e}");
    // DISABLED against it: refused, and the reason names the transport.
    let e = check(&app("localhost", "ssl-mode=DISABLED"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Fatal(_)), "{e:?}");
    assert!(e.to_string().contains("without TLS"), "{e}");
    assert!(!e.to_string().contains("p@ss"), "{e}");
    // Without credentials: up over TLS too.
    check(&format!("mysql://localhost:{port}?ssl-mode=REQUIRED"))
        .await
        .unwrap();
}

#[tokio::test]
async fn required_sends_nothing_to_a_server_without_tls() {
    let (addr, seen) =
        fake::start_recorded(Peer::Send(greeting("mysql_native_password", &[7; 20]))).await;
    for mode in ["REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"] {
        let e = check(&format!("mysql://app:s3cr3t-pw@{addr}/db?ssl-mode={mode}"))
            .await
            .unwrap_err();
        assert!(matches!(e, ProbeError::Fatal(_)), "{mode}: {e:?}");
        assert!(e.to_string().contains("does not offer TLS"), "{e}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(seen.bytes().is_empty(), "{:?}", seen.bytes());
    // Control: PREFERRED goes on in cleartext, so the recording shows it.
    let url = format!("mysql://app:s3cr3t-pw@{addr}/db?ssl-mode=PREFERRED");
    let _ = timeout(
        Duration::from_millis(500),
        Probe::new(&parse(&url).unwrap()).check(),
    )
    .await;
    assert!(seen.contains(b"app"), "{:?}", seen.bytes());
}

#[tokio::test]
async fn caching_sha2_full_authentication_sends_the_password_over_tls_only() {
    use std::sync::Arc;
    let pki = Pki::new();
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(pki.server(&["localhost"], false)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        // A greeting that offers TLS (CLIENT_SSL, 0x800) and caching_sha2.
        let mut g = greeting("caching_sha2_password", &[7; 20]);
        g[4 + 1 + 12 + 4 + 8 + 1 + 1] |= 0x08;
        s.write_all(&g).await.unwrap();
        let mut ssl_request = [0u8; 36];
        s.read_exact(&mut ssl_request).await.unwrap();
        let mut tls = acceptor.accept(s).await.unwrap();
        let mut head = [0u8; 4];
        tls.read_exact(&mut head).await.unwrap();
        let mut response = vec![0; u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize];
        tls.read_exact(&mut response).await.unwrap();
        // "Perform full authentication": the password comes next.
        tls.write_all(&packet(2, &[0x01, 0x04])).await.unwrap();
        tls.read_exact(&mut head).await.unwrap();
        let mut password = vec![0; u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize];
        tls.read_exact(&mut password).await.unwrap();
        let _ = tx.send(password);
    });
    let url = format!(
        "mysql://app:p%40ss%20w@localhost:{port}/db?ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
        ca.display()
    );
    let _ = timeout(
        Duration::from_secs(5),
        Probe::new(&parse(&url).unwrap()).check(),
    )
    .await;
    assert_eq!(rx.await.unwrap(), b"p@ss w\0");
}
