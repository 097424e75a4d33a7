//! The PostgreSQL probe against real servers (the machine's shared one, and
//! throw-away instances started here in every state that matters: starting,
//! in crash recovery, a standby that refuses, shutting down, stopped) and
//! against small fake peers that misbehave.
//!
//! Own instances run as the `postgres` OS user on a free port with their
//! data, socket and log in a temp dir, on the shared server fixture; [`Pg`]'s
//! `Drop` stops them as `pg_ctl -m immediate` would and removes the dir,
//! also when a test fails.
//! The shared server at 127.0.0.1:5432 is only ever connected to.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use preflight::probe::{Probe, ProbeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::require;
use crate::support::TempDir;
use crate::support::pki::Pki;
use crate::support::probe::not_ready;
use crate::support::server::Server;
use crate::support::{Bounded, expect_exit, have_program, listening, preflight};

const SHARED: &str = "127.0.0.1:5432";

// ---------------------------------------------------------------- helpers

fn probe(url: &str) -> Probe {
    Probe::new(&preflight::target::parse(url).expect(url))
}

/// One try, bounded as `wait/` bounds it.
async fn try_once(p: &Probe) -> Result<(), ProbeError> {
    match tokio::time::timeout(Duration::from_secs(3), p.check()).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::Timeout),
    }
}

/// A short label for an outcome, to assert order.
fn label(r: &Result<(), ProbeError>) -> String {
    match r {
        Ok(()) => "ready".into(),
        Err(ProbeError::Connect(_)) => "refused".into(),
        Err(ProbeError::NotReady(m)) => format!("not ready: {m}"),
        Err(e) => format!("other: {e}"),
    }
}

/// Try every 20 ms until ready (or `limit`); the distinct outcomes in order.
async fn until_ready(p: &Probe, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut seen: Vec<String> = Vec::new();
    loop {
        let r = try_once(p).await;
        let l = label(&r);
        if seen.last() != Some(&l) {
            seen.push(l);
        }
        if r.is_ok() {
            return seen;
        }
        assert!(
            r.as_ref().unwrap_err().is_retryable(),
            "not retryable: {seen:?}"
        );
        assert!(start.elapsed() < limit, "never ready: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The PostgreSQL server binaries, newest version first.
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The server binaries for an instance of the test's own; None (the test
/// skipped, or failed under CI: see `support::skip`) when it cannot run here.
fn own_bin() -> Option<PathBuf> {
    can_run_own().map_err(|e| crate::support::skip(&e)).ok()
}

/// Can this test start its own PostgreSQL? (binaries, and the `postgres`
/// user when running as root, which postgres refuses to run as).
fn can_run_own() -> Result<PathBuf, String> {
    let bin = pg_bin().ok_or("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")?;
    if is_root()
        && nix::unistd::User::from_name("postgres")
            .ok()
            .flatten()
            .is_none()
    {
        return Err("running as root and there is no 'postgres' user to run postgres as".into());
    }
    Ok(bin)
}

/// A throw-away PostgreSQL instance on the shared fixture: `postgres -D`
/// runs as the fixture's child (no pg_ctl daemon), so stopping it is a
/// signal to its group, as `pg_ctl stop -m` sends one.
struct Pg {
    bin: PathBuf,
    server: Server,
}

impl Pg {
    /// initdb (trust for the unix socket and 127.0.0.1, unless `hba` says
    /// otherwise for 127.0.0.1), plus `conf` lines. Not started.
    fn init(bin: &Path, conf: &[&str], hba: &[&str]) -> Pg {
        let server = Server::new("postgres");
        if is_root() {
            server.dir.chown_to("postgres");
        }
        let pg = Pg {
            bin: bin.to_path_buf(),
            server,
        };
        run_ok(pg.as_postgres("initdb").args([
            "-D",
            pg.data().to_str().unwrap(),
            "--auth=trust",
            "--no-sync",
            "-U",
            "postgres",
        ]));
        let mut lines = vec![
            format!("port = {}", pg.server.port),
            "listen_addresses = '127.0.0.1'".into(),
            format!("unix_socket_directories = '{}'", pg.dir().display()),
            "fsync = off".into(),
        ];
        lines.extend(conf.iter().map(|s| s.to_string()));
        pg.append("postgresql.conf", &lines.join("\n"));
        if !hba.is_empty() {
            let mut text = String::from("local all all trust\n");
            for line in hba {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(pg.data().join("pg_hba.conf"), text).unwrap();
        }
        pg
    }

    /// A standby with `hot_standby = off` and nothing to stream from: in
    /// recovery, refusing connections with 57P03, for ever. Started.
    fn standby_without_primary(bin: &Path) -> Pg {
        let mut pg = Pg::init(bin, &["hot_standby = off"], &[]);
        let signal = pg.data().join("standby.signal");
        std::fs::write(&signal, "").unwrap();
        if is_root() {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(&signal));
        }
        pg.start();
        pg
    }

    fn dir(&self) -> &Path {
        &self.server.dir
    }

    fn data(&self) -> PathBuf {
        self.dir().join("data")
    }

    fn log(&self) -> String {
        self.server.log()
    }

    fn addr(&self) -> String {
        self.server.addr()
    }

    fn append(&self, file: &str, text: &str) {
        let path = self.data().join(file);
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        writeln!(f, "\n{text}").unwrap();
    }

    fn as_postgres(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Start and wait until the postmaster says it is ready (or, for a
    /// standby, in standby): what `pg_ctl -w start` waits for, the status
    /// line of `postmaster.pid`.
    fn start(&mut self) {
        self.start_no_wait();
        let pid_file = self.data().join("postmaster.pid");
        self.server.wait_until("ready", |_| {
            std::fs::read_to_string(&pid_file).is_ok_and(|s| {
                s.lines()
                    .nth(7)
                    .is_some_and(|l| matches!(l.trim(), "ready" | "standby"))
            })
        });
    }

    /// Start without waiting: the probe is to find out.
    fn start_no_wait(&mut self) {
        let mut cmd = self.as_postgres("postgres");
        cmd.arg("-D").arg(self.data());
        self.server.spawn(cmd);
    }

    /// Stop as `pg_ctl stop -m MODE` does (TERM, INT or QUIT to the
    /// postmaster); with `wait`, until every process is gone.
    fn stop(&mut self, mode: &str, wait: bool) {
        let sig = match mode {
            "smart" => libc::SIGTERM,
            "fast" => libc::SIGINT,
            "immediate" => libc::SIGQUIT,
            _ => panic!("no shutdown mode {mode}"),
        };
        if wait {
            self.server.stop(sig);
        } else {
            self.server.signal(sig);
        }
    }

    /// psql over the unix socket (always trust), as superuser.
    fn psql(&self, db: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", "postgres"])
            .arg("-h")
            .arg(self.dir())
            .args(["-p", &self.server.port.to_string(), "-d", db, "-c", sql])
            .output()
            .unwrap()
    }

    fn sql(&self, sql: &str) -> String {
        let out = self.psql("postgres", sql);
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // An immediate shutdown still removes the shared memory; the
        // fixture then kills whatever is left and removes the directory.
        self.server.stop(libc::SIGQUIT);
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// psql over TCP, as a client application would run it.
fn psql_tcp(bin: &Path, url: &str) -> Output {
    Command::new(bin.join("psql"))
        .args(["-X", "-At", "-c", "select 1", url])
        .output()
        .unwrap()
}

/// A raw trust session as `postgres` (startup, read to ReadyForQuery), held
/// open by the caller.
fn hold_session(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut body = 196608u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0postgres\0database\0postgres\0\0");
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).unwrap();
    loop {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        let len = u32::from_be_bytes(head[1..].try_into().unwrap()) as usize;
        let mut rest = vec![0; len - 4];
        s.read_exact(&mut rest).unwrap();
        assert_ne!(head[0], b'E', "{}", String::from_utf8_lossy(&rest));
        if head[0] == b'Z' {
            return s;
        }
    }
}

/// Lines of a server log at WARNING or worse, or about bad packets.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            [
                "ERROR:",
                "FATAL:",
                "WARNING:",
                "incomplete startup",
                "unexpected EOF",
                "could not receive",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect()
}

// ---------------------------------------------------- the shared server

#[tokio::test]
async fn shared_server_is_ready_without_credentials() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    let r = try_once(&probe("postgres://127.0.0.1:5432")).await;
    assert!(r.is_ok(), "{r:?}");
    // A bare host:port on 5432 is the same probe.
    assert!(try_once(&probe(SHARED)).await.is_ok());
}

/// `postgresql://`, libpq's other spelling, is the same probe: ready on
/// PostgreSQL, and not on a port where something else answers (a plain
/// connect would call Redis ready).
#[test]
fn postgresql_scheme_is_the_postgres_probe() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    let url = "postgresql://postgres@127.0.0.1:5432/postgres";
    let stderr = expect_exit(0, preflight().args(["check", url]));
    assert!(stderr.contains(&format!("{url} is ready")), "{stderr}");
    require!(listening("127.0.0.1:6379"), "no Redis on 127.0.0.1:6379");
    let redis = "postgresql://127.0.0.1:6379";
    expect_exit(1, preflight().args(["check", redis, "--try-timeout", "5s"]));
}

#[tokio::test]
async fn shared_server_trust_login_runs_select_1() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    let r = try_once(&probe("postgres://postgres@127.0.0.1:5432/postgres")).await;
    assert!(r.is_ok(), "{r:?}");
    // Without a path the database is the user name, as libpq: "postgres".
    let r = try_once(&probe("postgres://postgres@127.0.0.1:5432")).await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn missing_database_is_not_ready_with_the_servers_words() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    let r = try_once(&probe(
        "postgres://postgres@127.0.0.1:5432/preflight_no_such_db",
    ))
    .await;
    let m = not_ready(r);
    assert!(m.contains("3D000"), "{m}");
    // Without credentials the database is not checked (pg_isready).
    assert!(
        try_once(&probe("postgres://127.0.0.1:5432/preflight_no_such_db"))
            .await
            .is_ok()
    );
}

// ------------------------------------------------------ own instances

#[tokio::test]
async fn password_logins_md5_scram_cleartext_right_is_ready_wrong_is_fatal() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(
        &bin,
        &[],
        &[
            "host all md5user 127.0.0.1/32 md5",
            "host all plainuser 127.0.0.1/32 password",
            "host all all 127.0.0.1/32 scram-sha-256",
        ],
    );
    pg.start();
    pg.sql("SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5 p@ss'");
    pg.sql("CREATE ROLE scramuser LOGIN PASSWORD 's3cr:t/@x'");
    pg.sql("CREATE ROLE plainuser LOGIN PASSWORD 'plain'");
    pg.sql("CREATE DATABASE app OWNER scramuser");
    assert!(
        pg.sql("SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'md5user'") == "t"
    );
    let port = pg.server.port;
    for (user, pass, db) in [
        ("md5user", "md5%20p%40ss", "postgres"),
        ("scramuser", "s3cr%3At%2F%40x", "app"),
        ("plainuser", "plain", "postgres"),
    ] {
        let right = format!("postgres://{user}:{pass}@127.0.0.1:{port}/{db}");
        let r = try_once(&probe(&right)).await;
        assert!(r.is_ok(), "{user}: {r:?}");

        let wrong = format!("postgres://{user}:wrong-hunter2@127.0.0.1:{port}/{db}");
        let r = try_once(&probe(&wrong)).await;
        match &r {
            Err(e @ ProbeError::Fatal(m)) => {
                assert!(m.contains("28P01"), "{user}: {m}");
                assert!(!e.is_retryable());
                assert!(!m.contains("hunter2"), "{m}");
            }
            other => panic!("{user}: {other:?}"),
        }
        // No password at all, but the server asks for one: fatal too.
        let r = try_once(&probe(&format!("postgres://{user}@127.0.0.1:{port}/{db}"))).await;
        assert!(matches!(r, Err(ProbeError::Fatal(_))), "{user}: {r:?}");
    }
    // Without credentials the server is up, whatever its auth (pg_isready):
    // scram asks for a password even for roles that do not exist.
    assert!(
        try_once(&probe(&format!("postgres://127.0.0.1:{port}")))
            .await
            .is_ok()
    );
    // The target displays redacted.
    let t = preflight::target::parse(&format!("postgres://scramuser:s3cr@127.0.0.1:{port}/app"))
        .unwrap();
    assert_eq!(
        t.to_string(),
        format!("postgres://scramuser:***@127.0.0.1:{port}/app")
    );
}

#[tokio::test]
async fn probes_leave_no_complaint_in_the_server_log() {
    let Some(bin) = own_bin() else { return };
    // scram on 127.0.0.1: the probe closes at the password request.
    let mut pg = Pg::init(&bin, &[], &["host all all 127.0.0.1/32 scram-sha-256"]);
    pg.start();
    pg.sql("CREATE ROLE app LOGIN PASSWORD 'pw'");
    // trust (initdb's default): the probe logs in and sends Terminate.
    let mut trust = Pg::init(&bin, &[], &[]);
    trust.start();
    for _ in 0..20 {
        try_once(&probe(&format!("postgres://{}", pg.addr())))
            .await
            .unwrap();
        try_once(&probe(&format!("postgres://app:pw@{}/postgres", pg.addr())))
            .await
            .unwrap();
        try_once(&probe(&format!("postgres://{}", trust.addr())))
            .await
            .unwrap();
        try_once(&probe(&format!(
            "postgres://postgres@{}/postgres",
            trust.addr()
        )))
        .await
        .unwrap();
    }
    // Let the backends write whatever they would.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for server in [&pg, &trust] {
        let log = server.log();
        assert!(complaints(&log).is_empty(), "{log}");
    }
    // The check sees what wait-for-it causes: a lone newline.
    let mut s = TcpStream::connect(pg.addr()).unwrap();
    s.write_all(b"\n").unwrap();
    drop(s);
    let start = Instant::now();
    while !pg.log().contains("incomplete startup packet") {
        assert!(start.elapsed() < Duration::from_secs(5), "{}", pg.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn server_started_after_the_probe_began_is_detected() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(&bin, &[], &[]);
    let p = probe(&format!("postgres://{}", pg.addr()));
    assert!(matches!(try_once(&p).await, Err(ProbeError::Connect(_))));
    let (seen, ()) = tokio::join!(until_ready(&p, Duration::from_secs(30)), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        pg.start_no_wait();
    });
    eprintln!("outcomes in order: {seen:?}");
    assert_eq!(
        seen.first().map(String::as_str),
        Some("refused"),
        "{seen:?}"
    );
    assert_eq!(seen.last().map(String::as_str), Some("ready"), "{seen:?}");
    // Between them, only "not yet" answers (starting up), never an error.
    for s in &seen[1..seen.len() - 1] {
        assert!(
            s.starts_with("not ready: the database system is"),
            "{seen:?}"
        );
    }
}

#[tokio::test]
async fn standby_with_hot_standby_off_stays_not_ready_with_the_servers_message() {
    let Some(bin) = own_bin() else { return };
    let pg = Pg::standby_without_primary(&bin);
    for url in [
        format!("postgres://{}", pg.addr()),
        format!("postgres://postgres@{}/postgres", pg.addr()),
    ] {
        let p = probe(&url);
        for _ in 0..5 {
            match try_once(&p).await {
                Err(ProbeError::NotReady(m)) => {
                    assert!(m.contains("57P03"), "{m}");
                    assert!(m.contains("Hot standby mode is disabled"), "{m}");
                }
                other => panic!("{url}: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn too_many_clients_is_not_ready_then_ready_when_a_slot_frees() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(
        &bin,
        &["max_connections = 2", "superuser_reserved_connections = 0"],
        &[],
    );
    pg.start();
    let a = hold_session(&pg.addr());
    let _b = hold_session(&pg.addr());
    let p = probe(&format!("postgres://{}", pg.addr()));
    let m = not_ready(try_once(&p).await);
    assert!(m.contains("53300"), "{m}");
    drop(a);
    let seen = until_ready(&p, Duration::from_secs(10)).await;
    assert_eq!(seen.last().map(String::as_str), Some("ready"));
}

#[tokio::test]
async fn server_stopped_mid_wait_is_shutting_down_then_refused() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(&bin, &[], &[]);
    pg.start();
    let p = probe(&format!("postgres://{}", pg.addr()));
    assert!(try_once(&p).await.is_ok());
    // A smart shutdown waits for this session: meanwhile the server says so.
    let session = hold_session(&pg.addr());
    pg.stop("smart", false);
    let start = Instant::now();
    loop {
        match try_once(&p).await {
            Ok(()) => {
                assert!(start.elapsed() < Duration::from_secs(5), "still ready");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(ProbeError::NotReady(m)) => {
                assert!(m.contains("shutting down") && m.contains("57P03"), "{m}");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    drop(session);
    let start = Instant::now();
    loop {
        match try_once(&p).await {
            Err(ProbeError::Connect(_)) => break,
            Err(ProbeError::NotReady(_)) => {}
            // Closed while answering: also not ready, never "ready".
            Err(ProbeError::Protocol(_)) | Err(ProbeError::Io { .. }) => {}
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Load a server with writes, crash it (`pg_ctl -m immediate`: no checkpoint)
/// and restart it without waiting. Returns when the restart was issued.
fn crash_under_load(pg: &mut Pg) {
    pg.sql("CREATE TABLE t (id int, v text)");
    pg.sql("INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 1500000) g");
    pg.stop("immediate", true);
}

fn crash_conf() -> [&'static str; 3] {
    [
        "max_wal_size = '8GB'",
        "checkpoint_timeout = '1h'",
        "shared_buffers = '32MB'",
    ]
}

#[tokio::test]
async fn crash_recovery_tcp_opens_early_the_probe_waits_until_a_query_succeeds() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(&bin, &crash_conf(), &[]);
    pg.start();
    crash_under_load(&mut pg);
    let url = format!("postgres://postgres@{}/postgres", pg.addr());
    let p = probe(&url);

    let t0 = Instant::now();
    pg.start_no_wait();
    // What a TCP-only wait does: fire at the first accepted connection, then
    // run the app's first query.
    while TcpStream::connect(pg.addr()).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    let tcp_open = t0.elapsed();
    let early = psql_tcp(&bin, &url);
    let early_err = String::from_utf8_lossy(&early.stderr).to_string();

    let seen = until_ready(&p, Duration::from_secs(60)).await;
    let ready = t0.elapsed();
    let after = psql_tcp(&bin, &url);
    eprintln!(
        "crash recovery: TCP open at {tcp_open:?}, probe ready at {ready:?} \
         (window {:?}); outcomes {seen:?}; psql at TCP open: {early_err:?}",
        ready - tcp_open
    );
    assert!(
        after.status.success() && String::from_utf8_lossy(&after.stdout).trim() == "1",
        "first query after the probe: {}",
        String::from_utf8_lossy(&after.stderr)
    );
    assert!(
        !early.status.success(),
        "recovery was too quick to show the gap: TCP-only psql already worked"
    );
    assert!(
        early_err.contains("starting up") || early_err.contains("not yet accepting"),
        "{early_err}"
    );
    assert!(
        seen.iter().any(|s| s.contains("57P03")),
        "the probe saw no recovery: {seen:?}"
    );
}

#[test]
fn preflight_wait_then_first_query_succeeds_after_crash_recovery() {
    let Some(bin) = own_bin() else { return };
    let mut pg = Pg::init(&bin, &crash_conf(), &[]);
    pg.start();
    crash_under_load(&mut pg);
    let url = format!("postgres://postgres@{}/postgres", pg.addr());
    pg.start_no_wait();
    let t0 = Instant::now();
    let out = preflight()
        .args(["wait", "--timeout", "60s", &url])
        .bounded_output();
    let waited = t0.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let first = psql_tcp(&bin, &url);
    eprintln!("preflight wait returned after {waited:?}");
    assert!(
        first.status.success(),
        "first query after preflight wait: {}",
        String::from_utf8_lossy(&first.stderr)
    );
}

#[test]
fn preflight_wait_on_a_refusing_standby_times_out_with_the_servers_reason() {
    let Some(bin) = own_bin() else { return };
    let pg = Pg::standby_without_primary(&bin);
    let url = format!("postgres://{}", pg.addr());
    let stderr = expect_exit(124, preflight().args(["wait", "--timeout", "2s", &url]));
    assert!(stderr.contains("Hot standby mode is disabled"), "{stderr}");
}

// ------------------------------------------------------------- --lock

#[tokio::test]
async fn lock_is_granted_to_the_second_only_after_the_first_socket_is_dropped() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    // A name of its own, so parallel runs of other tests cannot interfere.
    let name = format!("preflight-test-{}", std::process::id());
    let first = shared_lock(&name).await.unwrap();

    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let second = tokio::spawn({
        let name = name.clone();
        async move {
            let got = shared_lock(&name).await;
            let _ = tx.send(Instant::now());
            got
        }
    });
    // The second waits while the first holds the lock.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(rx.try_recv().is_err(), "granted while the first holds it");
    let released = Instant::now();
    drop(first);
    let granted = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .unwrap()
        .unwrap();
    assert!(granted >= released);
    let second = second.await.unwrap().unwrap();
    // The socket is blocking and still holds the lock: a third cannot take it.
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    let fl = OFlag::from_bits_truncate(fcntl(&second, FcntlArg::F_GETFL).unwrap());
    assert!(
        !fl.contains(OFlag::O_NONBLOCK),
        "the lock socket must be blocking"
    );
    let fd = FdFlag::from_bits_truncate(fcntl(&second, FcntlArg::F_GETFD).unwrap());
    assert!(
        fd.contains(FdFlag::FD_CLOEXEC),
        "the lock socket must not leak into hooks"
    );
    let key = preflight::lock::postgres::lock_key(&name);
    if let Some(holders) = advisory_lock_backends(key, true) {
        assert_eq!(holders, "1");
    }
    drop(second);
}

/// How many backends of the shared server hold (`granted`) or wait for the
/// advisory lock `key`, as psql counts them; None if psql cannot run.
fn advisory_lock_backends(key: i64, granted: bool) -> Option<String> {
    let not = if granted { "" } else { "NOT " };
    let out = Command::new("psql")
        .args([
            "-X",
            "-At",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
        ])
        .arg(format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND {not}granted \
             AND ((classid::bigint << 32) | objid::bigint) = ({key}::bigint)"
        ))
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Backends of the shared server blocked on the advisory lock `key`.
fn lock_waiters(key: i64) -> String {
    advisory_lock_backends(key, false).expect("run psql")
}

/// The PostgreSQL `--lock NAME` on the shared server, as wait/ takes it.
async fn shared_lock(name: &str) -> Result<std::net::TcpStream, ProbeError> {
    let target = preflight::target::parse("postgres://postgres@127.0.0.1:5432/postgres").unwrap();
    preflight::lock::postgres::lock(&target, name, Duration::from_secs(10), &Default::default())
        .await
}

#[tokio::test]
async fn a_lock_waiter_that_gives_up_leaves_no_backend_queued_for_the_lock() {
    require!(listening(SHARED), "no PostgreSQL listening on {SHARED}");
    require!(have_program("psql"), "no psql on PATH");
    let name = format!("preflight-test-abandon-{}", std::process::id());
    let key = preflight::lock::postgres::lock_key(&name);
    let held = shared_lock(&name).await.unwrap();
    // A second lock call queues behind the first; wait/ drops a future
    // whose deadline passed: here once the server shows it queued (a
    // handshake: under load a fixed delay may end before it even connects).
    let waiter = tokio::spawn({
        let name = name.clone();
        async move { shared_lock(&name).await }
    });
    let start = Instant::now();
    while lock_waiters(key) != "1" {
        assert!(!waiter.is_finished(), "got a lock that is held");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the waiter was never queued"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    waiter.abort();
    assert!(waiter.await.unwrap_err().is_cancelled());
    // The abandoned backend notices its client is gone
    // (client_connection_check_interval) and leaves the queue, instead of
    // being granted the lock later for a dead session.
    let start = Instant::now();
    while lock_waiters(key) != "0" {
        assert!(start.elapsed() < Duration::from_secs(10), "still queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "abandoned lock waiter left the queue after {:?}",
        start.elapsed()
    );
    drop(held);
}

// ---------------------------------------------------------- fake peers

/// A fake server on port 0 that runs `serve` on its first connection.
async fn fake<F, Fut>(serve: F) -> String
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((s, _)) = listener.accept().await {
            serve(s).await;
        }
    });
    addr.to_string()
}

/// Read one StartupMessage (length-prefixed) from the probe.
async fn read_startup(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    loop {
        let len = s.read_u32().await.unwrap() as usize;
        let mut body = vec![0; len - 4];
        s.read_exact(&mut body).await.unwrap();
        // sslmode=prefer (the default) asks for TLS first: a server
        // without TLS answers 'N' and reads the StartupMessage next.
        if body == [0x04, 0xd2, 0x16, 0x2f] {
            s.write_all(b"N").await.unwrap();
            continue;
        }
        return body;
    }
}

/// Read one typed message from the probe.
async fn read_msg(s: &mut tokio::net::TcpStream) -> (u8, Vec<u8>) {
    let kind = s.read_u8().await.unwrap();
    let len = s.read_u32().await.unwrap() as usize;
    let mut body = vec![0; len - 4];
    s.read_exact(&mut body).await.unwrap();
    (kind, body)
}

fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// Run one try against a fake; it must end within 2 s.
async fn against(addr: &str, creds: bool) -> Result<(), ProbeError> {
    let url = if creds {
        format!("postgres://app:pw@{addr}/app")
    } else {
        format!("postgres://{addr}")
    };
    tokio::time::timeout(Duration::from_secs(2), probe(&url).check())
        .await
        .expect("the probe hung")
}

#[tokio::test]
async fn fake_peer_silent_after_accept_keeps_the_try_pending_until_the_deadline() {
    let addr = fake(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    // The probe itself has no deadline; wait/ drops it. It must be pending,
    // not spinning or failing, and dropping it must be fine.
    let r = tokio::time::timeout(
        Duration::from_millis(300),
        probe(&format!("postgres://{addr}")).check(),
    )
    .await;
    assert!(r.is_err(), "{r:?}");
}

#[tokio::test]
async fn fake_peer_closing_at_once_is_a_protocol_error() {
    // docker-proxy with nothing behind the published port.
    for creds in [false, true] {
        let addr = fake(|s| async move { drop(s) }).await;
        let r = against(&addr, creds).await;
        assert!(
            matches!(r, Err(ProbeError::Protocol(_)) | Err(ProbeError::Io { .. })),
            "{r:?}"
        );
        assert!(r.unwrap_err().is_retryable());
    }
}

#[tokio::test]
async fn fake_peer_sending_garbage_is_a_protocol_error() {
    for creds in [false, true] {
        let addr = fake(|mut s| async move {
            let _ = read_startup(&mut s).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        })
        .await;
        let r = against(&addr, creds).await;
        assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    }
    // A server that speaks first (SSH, MySQL) is not PostgreSQL either.
    let addr = fake(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    let r = against(&addr, false).await;
    assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
}

#[tokio::test]
async fn fake_peer_announcing_2gb_is_a_protocol_error_not_an_allocation() {
    for kind in [b'E', b'R'] {
        for creds in [false, true] {
            let addr = fake(move |mut s| async move {
                let _ = read_startup(&mut s).await;
                let mut m = vec![kind];
                m.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
                let _ = s.write_all(&m).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            })
            .await;
            match against(&addr, creds).await {
                Err(ProbeError::Protocol(m)) => assert!(m.contains("more than"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn fake_peer_closing_mid_handshake_is_a_protocol_error() {
    // Half a message, then close.
    for creds in [false, true] {
        let addr = fake(|mut s| async move {
            let _ = read_startup(&mut s).await;
            let _ = s.write_all(&msg(b'R', &10u32.to_be_bytes())[..6]).await;
        })
        .await;
        let r = against(&addr, creds).await;
        assert!(matches!(r, Err(ProbeError::Protocol(_))), "{r:?}");
    }
    // A whole SASL request, then close when the client answers.
    let addr = fake(|mut s| async move {
        let _ = read_startup(&mut s).await;
        let mut body = 10u32.to_be_bytes().to_vec();
        body.extend_from_slice(b"SCRAM-SHA-256\0\0");
        let _ = s.write_all(&msg(b'R', &body)).await;
        let _ = read_msg(&mut s).await;
    })
    .await;
    let r = against(&addr, true).await;
    assert!(
        matches!(r, Err(ProbeError::Protocol(_)) | Err(ProbeError::Io { .. })),
        "{r:?}"
    );
}

/// A fake SCRAM server that does not know the password: it plays along and
/// then either sends a made-up signature or skips the final message.
async fn scram_impostor(send_final: bool) -> Result<(), ProbeError> {
    let addr = fake(move |mut s| async move {
        let _ = read_startup(&mut s).await;
        let mut body = 10u32.to_be_bytes().to_vec();
        body.extend_from_slice(b"SCRAM-SHA-256\0\0");
        s.write_all(&msg(b'R', &body)).await.unwrap();
        let (_, first) = read_msg(&mut s).await;
        let text = String::from_utf8_lossy(&first).to_string();
        let nonce = text.rsplit("r=").next().unwrap().to_string();
        let mut body = 11u32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("r={nonce}server,s=c2FsdA==,i=4096").as_bytes());
        s.write_all(&msg(b'R', &body)).await.unwrap();
        let _ = read_msg(&mut s).await;
        if send_final {
            let mut body = 12u32.to_be_bytes().to_vec();
            body.extend_from_slice(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            s.write_all(&msg(b'R', &body)).await.unwrap();
        }
        s.write_all(&msg(b'R', &0u32.to_be_bytes())).await.unwrap();
        let _ = s.write_all(&msg(b'Z', b"I")).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
    .await;
    against(&addr, true).await
}

#[tokio::test]
async fn scram_server_with_a_wrong_signature_is_refused() {
    let r = scram_impostor(true).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
}

#[tokio::test]
async fn scram_server_skipping_its_signature_is_refused() {
    let r = scram_impostor(false).await;
    assert!(matches!(r, Err(ProbeError::Fatal(_))), "{r:?}");
}

#[tokio::test]
async fn fake_peer_answering_57p03_is_not_ready_and_other_errors_are_up() {
    for (code, ready) in [
        ("57P03", false),
        ("53300", false),
        ("28000", true),
        ("3D000", true),
    ] {
        let addr = fake(move |mut s| async move {
            let _ = read_startup(&mut s).await;
            let body = format!("SFATAL\0C{code}\0Mthe message\0\0");
            let _ = s.write_all(&msg(b'E', body.as_bytes())).await;
        })
        .await;
        let r = against(&addr, false).await;
        assert_eq!(r.is_ok(), ready, "{code}: {r:?}");
        if let Err(ProbeError::NotReady(m)) = r {
            assert_eq!(m, format!("the message ({code})"));
        }
    }
}

#[test]
fn the_lock_outlives_the_servers_idle_session_timeout_while_the_hooks_run() {
    let Some(bin) = own_bin() else { return };
    // The server ends any session idle for 1 s; the lock's session is idle
    // for as long as the hooks run.
    let mut pg = Pg::init(&bin, &["idle_session_timeout = '1s'"], &[]);
    pg.start();
    let url = format!("postgres://postgres@{}/postgres", pg.addr());
    let mut cmd = preflight();
    cmd.args([
        "--lock",
        &url,
        "--hook",
        "sh -c 'echo started; read line; true'",
    ])
    .args(["--", "echo", "command"]);
    let mut run = crate::support::Run::spawn(crate::support::As::Plain, cmd);
    assert_eq!(run.line(), "started");
    // Well past the server's timeout, the lock is still held.
    std::thread::sleep(Duration::from_millis(2500));
    let held = pg.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted");
    run.close_stdin();
    let (status, _) = run.finish();
    assert_eq!(held, "1", "the lock went with the idle session");
    assert_eq!(status.code(), Some(0), "{}", run.stderr());
    assert_eq!(run.rest(), ["command"]);
}

// ---------------------------------------------------------------- TLS

/// A server that only accepts TLS from 127.0.0.1 (`hostnossl ... reject`),
/// with a certificate for `localhost` signed by `pki`, asking `app` for a
/// SCRAM password and `certuser` for a client certificate. Started.
fn tls_only(bin: &Path, pki: &Pki) -> Pg {
    let mut pg = Pg::init(
        bin,
        &[
            "ssl = on",
            "ssl_cert_file = 'server.crt'",
            "ssl_key_file = 'server.key'",
            "ssl_ca_file = 'ca.pem'",
        ],
        &[
            "hostnossl all all 0.0.0.0/0 reject",
            "hostssl all certuser 127.0.0.1/32 cert",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
        ],
    );
    let data = pg.data();
    pki.issue(&["localhost"], false).write(&data, "server");
    pki.ca_file_in(&data, "ca.pem");
    std::fs::set_permissions(
        data.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    if is_root() {
        for f in ["server.crt", "server.key", "ca.pem"] {
            run_ok(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(data.join(f)),
            );
        }
    }
    pg.start();
    pg.sql("CREATE ROLE app LOGIN PASSWORD 'p@ss w/rd'");
    pg.sql("CREATE ROLE certuser LOGIN");
    pg
}

#[tokio::test]
async fn sslmode_against_a_tls_only_server() {
    let Some(bin) = own_bin() else { return };
    let pki = Pki::new();
    let wrong = Pki::new();
    let pg = tls_only(&bin, &pki);
    let dir = TempDir::new();
    let ca = pki.ca_file(&dir);
    let wrong_ca = wrong.ca_file_in(dir.path(), "wrong.pem");
    let port = pg.server.port;
    let app = |host: &str, query: &str| {
        format!("postgres://app:p%40ss%20w%2Frd@{host}:{port}/postgres?{query}")
    };
    // Positive controls: every mode that may use TLS gets in.
    for query in [
        String::new(),
        "sslmode=prefer".into(),
        "sslmode=allow".into(),
        "sslmode=require".into(),
        format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    ] {
        let r = try_once(&probe(&app("localhost", &query))).await;
        assert!(r.is_ok(), "{query}: {r:?}");
    }
    // verify-ca ignores the name; verify-full does not.
    let ca_only = format!("sslmode=verify-ca&sslrootcert={}", ca.display());
    try_once(&probe(&app("127.0.0.1", &ca_only))).await.unwrap();
    let full = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let e = try_once(&probe(&app("127.0.0.1", &full)))
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Fatal(_)), "{e:?}");
    assert!(e.to_string().contains("name mismatch"), "{e}");
    // The wrong CA, or none (the bundled roots): unknown issuer.
    for query in [
        format!("sslmode=verify-full&sslrootcert={}", wrong_ca.display()),
        "sslmode=verify-full".to_string(),
        format!("sslmode=require&sslrootcert={}", wrong_ca.display()),
    ] {
        let e = try_once(&probe(&app("localhost", &query)))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("unknown issuer"), "{query}: {e}");
    }
    // disable: the server refuses the plain connection, naming encryption.
    let e = try_once(&probe(&app("localhost", "sslmode=disable")))
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Fatal(_)), "{e:?}");
    assert!(e.to_string().contains("no encryption"), "{e}");
    assert!(!e.to_string().contains("p@ss"), "{e}");
    // Without credentials, pg_isready's verdict over TLS too.
    try_once(&probe(&format!(
        "postgres://localhost:{port}?sslmode=require"
    )))
    .await
    .unwrap();
    // A client certificate (sslcert/sslkey) logs certuser in; without: fatal.
    let (cert, key) = pki.issue(&["certuser"], false).write(dir.path(), "client");
    let with_cert = format!(
        "postgres://certuser@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        ca.display(),
        cert.display(),
        key.display()
    );
    try_once(&probe(&with_cert)).await.unwrap();
    let without = format!("postgres://certuser@localhost:{port}/postgres?sslmode=require");
    assert!(try_once(&probe(&without)).await.is_err());
    // The unix socket (never TLS, trusted there).
    let socket_dir: String = pg.dir().display().to_string().replace('/', "%2F");
    try_once(&probe(&format!(
        "postgres://postgres@{socket_dir}:{port}/postgres"
    )))
    .await
    .unwrap();
    // libpq's query spelling: host, port, user and dbname as parameters (the
    // socket's name holds the port; a role that does not exist is refused).
    let dir = pg.dir().display().to_string();
    let query = |extra: &str| format!("postgres:///?host={dir}&port={port}{extra}");
    try_once(&probe(&query("&user=postgres&dbname=postgres")))
        .await
        .unwrap();
    let e = try_once(&probe(&query("&user=no_such_role&dbname=postgres")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no_such_role"), "{e}");
    let elsewhere = format!("postgres:///postgres?host={dir}&user=postgres");
    assert!(
        try_once(&probe(&elsewhere)).await.is_err(),
        "port 5432 has no socket in {dir}"
    );
}

#[tokio::test]
async fn require_sends_nothing_in_cleartext_to_a_server_without_tls() {
    // A server that answers the SSLRequest with 'N' and records every byte.
    let (addr, seen) = crate::support::fake::start_recorded(
        crate::support::fake::Peer::ReplyThenListen(b"N".to_vec()),
    )
    .await;
    for mode in ["require", "verify-ca", "verify-full"] {
        let url = format!("postgres://app:s3cr3t-pw@{addr}/app?sslmode={mode}");
        let e = try_once(&probe(&url)).await.unwrap_err();
        assert!(matches!(e, ProbeError::Fatal(_)), "{mode}: {e:?}");
        assert!(e.to_string().contains("does not offer TLS"), "{e}");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Only SSLRequests (8 bytes each): no user, no password.
    let bytes = seen.bytes();
    assert_eq!(bytes.len(), 3 * 8, "{bytes:?}");
    assert!(!seen.contains(b"app"));
    // Control: prefer goes on in cleartext, so the recording would show it.
    let url = format!("postgres://app:s3cr3t-pw@{addr}/app?sslmode=prefer");
    let _ = tokio::time::timeout(Duration::from_millis(500), probe(&url).check()).await;
    assert!(seen.contains(b"app"), "{:?}", seen.bytes());
}
