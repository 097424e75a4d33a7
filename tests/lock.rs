//! `--lock`: replicas that start together run their hooks one at a time,
//! against the real PostgreSQL (127.0.0.1:5432, trust, user postgres) and
//! MariaDB (127.0.0.1:3306, root without a password); the lock's socket never
//! reaches a hook or the command. Needs the init core and the postgres/mysql
//! lock functions.

use std::collections::HashMap;
use std::fs;
use std::process::Stdio;

use crate::require;
use crate::support::{Bounded, TempDir, expect_exit_output, listening, preflight};

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL: &str = "mysql://root@127.0.0.1:3306";

/// A lock name no other test run shares.
fn lock_name(what: &str) -> String {
    format!("preflight-test-{what}-{}", std::process::id())
}

/// Three preflights at once, each with a hook that logs its start and end
/// (nanoseconds) around a pause: the hooks never overlap, all three commands
/// start.
fn three_replicas_run_their_hooks_one_at_a_time(url: &str, what: &str) {
    let dir = TempDir::new();
    let log = dir.join("log");
    let log = log.to_str().unwrap();
    let hook = format!(
        "sh -c 'echo start $$ $(date +%s%N) >> {log}; sleep 0.3; echo end $$ $(date +%s%N) >> {log}'"
    );
    let command = format!("echo command >> {log}");
    let name = lock_name(what);
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            preflight()
                .args(["--lock", url, "--lock-name", &name, "--timeout", "30s"])
                .args(["--hook", &hook, "--", "sh", "-c", &command])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for replica in replicas {
        let out = replica.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let text = fs::read_to_string(dir.join("log")).unwrap();
    let mut starts: HashMap<&str, u128> = HashMap::new();
    let mut spans: Vec<(u128, u128)> = Vec::new();
    let mut commands = 0;
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["start", pid, t] => {
                starts.insert(pid, t.parse().unwrap());
            }
            ["end", pid, t] => spans.push((starts[pid], t.parse().unwrap())),
            ["command"] => commands += 1,
            _ => panic!("unexpected line {line:?} in {text}"),
        }
    }
    assert_eq!(spans.len(), 3, "{text}");
    assert_eq!(commands, 3, "every replica's command starts: {text}");
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "hooks overlap: one ran {:?}, the next started at {}\n{text}",
            pair[0],
            pair[1].0
        );
    }
}

#[test]
fn postgres_replicas_run_their_hooks_one_at_a_time() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    three_replicas_run_their_hooks_one_at_a_time(POSTGRES, "pg");
}

#[test]
fn mysql_replicas_run_their_hooks_one_at_a_time() {
    require!(listening("127.0.0.1:3306"), "no MariaDB on 127.0.0.1:3306");
    three_replicas_run_their_hooks_one_at_a_time(MYSQL, "mysql");
}

/// The descriptors `ls -l /proc/self/fd` shows when run by `sh`, by number.
fn fds_seen(stdout: &str) -> Vec<u32> {
    stdout
        .lines()
        .filter(|l| l.contains(" -> "))
        .map(|line| {
            line.split(" -> ")
                .next()
                .and_then(|l| l.split_whitespace().last())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected ls line {line:?}"))
        })
        .collect()
}

/// The descriptors a hook and the command see are those any child of the
/// test sees (0, 1, 2, what the test runner itself passes down, and the one
/// `ls` opens to read the directory): no socket, nothing of preflight's.
fn the_lock_socket_never_leaks(url: &str) {
    let listing = "echo; ls -l /proc/self/fd";
    let baseline = std::process::Command::new("sh")
        .args(["-c", listing])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let inherited = fds_seen(&String::from_utf8_lossy(&baseline.stdout));
    let out = preflight()
        .args(["--lock", url, "--lock-name", &lock_name("fd")])
        .args(["--hook", "sh -c 'echo hook; ls -l /proc/self/fd'"])
        .args(["--", "sh", "-c", "echo command; ls -l /proc/self/fd"])
        .stdin(Stdio::null())
        .bounded_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("hook") && stdout.contains("command"),
        "{stdout}"
    );
    assert!(!stdout.contains("socket:"), "a socket leaked:\n{stdout}");
    for fd in fds_seen(&stdout) {
        assert!(
            inherited.contains(&fd),
            "descriptor {fd} leaked (a plain child sees only {inherited:?}):\n{stdout}"
        );
    }
}

#[test]
fn the_postgres_lock_socket_never_reaches_a_hook_or_the_command() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    the_lock_socket_never_leaks(POSTGRES);
}

#[test]
fn the_mysql_lock_socket_never_reaches_a_hook_or_the_command() {
    require!(listening("127.0.0.1:3306"), "no MariaDB on 127.0.0.1:3306");
    the_lock_socket_never_leaks(MYSQL);
}

/// `PREFLIGHT_LOCK_FILE` (a URL with a password, as a secret) counts when
/// `--secrets-from-files` covers `PREFLIGHT_LOCK`, and only then; the
/// password never shows, and the file variable does not reach the hook.
#[test]
fn the_lock_url_can_come_from_preflight_lock_file() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    let dir = TempDir::new();
    let file = dir.join("lock-url");
    // Trust on the shared server: the password is never asked for.
    fs::write(
        &file,
        "postgres://postgres:n0t-pr1nted@127.0.0.1:5432/postgres\n",
    )
    .unwrap();
    let name = lock_name("from-file");
    let hook = "sh -c 'echo \"hook [${PREFLIGHT_LOCK_FILE-unset}]\"'";
    let run = |switch: &[&str]| {
        preflight()
            .args(switch)
            .args(["--lock-name", &name, "--hook", hook])
            .env("PREFLIGHT_LOCK_FILE", &file)
            .bounded_output()
    };
    let out = run(&["--secrets-from-files", "PREFLIGHT_LOCK"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "lock '{name}' taken on postgres://postgres:***@127.0.0.1:5432/postgres"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("lock '{name}' released")),
        "{stderr}"
    );
    assert!(!stderr.contains("n0t-pr1nted"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hook [unset]\n");

    // Off (the default): the file variable is just a variable.
    let out = run(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("lock '"), "{stderr}");
}

/// Take the lock `name` on `url` with a hook that says `started`, then
/// sleeps long and would say `finished`; once it started, `kill_holder`
/// ends the lock's connection on the server's side. The hook must be
/// stopped (TERM, --grace, KILL), the command never start, and preflight
/// fail with a line naming the lost lock.
fn losing_the_lock_stops_the_hooks(url: &str, name: &str, kill_holder: impl FnOnce()) {
    let mut cmd = preflight();
    cmd.args(["--lock", url, "--lock-name", name, "--grace", "1s"])
        .args(["--hook", "sh -c 'echo started; sleep 30; echo finished'"])
        .args(["--", "echo", "command"]);
    let mut run = crate::support::Run::spawn(crate::support::As::Plain, cmd);
    assert_eq!(run.line(), "started");
    kill_holder();
    let (status, _) = run.finish();
    let rest = run.rest();
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        rest.is_empty(),
        "the hook went on or the command ran: {rest:?}"
    );
    assert!(
        stderr.contains(&format!("lock '{name}' was lost while the hooks ran")),
        "{stderr}"
    );
    assert!(!stderr.contains("released"), "{stderr}");
}

#[test]
fn a_postgres_lock_terminated_by_the_server_stops_the_hooks() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    require!(crate::support::have_program("psql"), "no psql on PATH");
    let name = lock_name("pg-lost");
    let key = preflight::lock::postgres::lock_key(&name);
    losing_the_lock_stops_the_hooks(POSTGRES, &name, || {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE query LIKE '%advisory_lock({key})%' AND pid <> pg_backend_pid()"
        );
        let out = std::process::Command::new("psql")
            .args(["-X", "-At", "-c", &sql, POSTGRES])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "1",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

#[test]
fn a_mysql_lock_killed_by_the_server_stops_the_hooks() {
    require!(listening("127.0.0.1:3306"), "no MariaDB on 127.0.0.1:3306");
    let client = ["mariadb", "mysql"]
        .into_iter()
        .find(|p| crate::support::have_program(p));
    require!(client.is_some(), "no mariadb/mysql client on PATH");
    let client = client.unwrap();
    let name = lock_name("my-lost");
    losing_the_lock_stops_the_hooks(MYSQL, &name, || {
        let sql = |q: &str| {
            let out = std::process::Command::new(client)
                .args(["-uroot", "-h127.0.0.1", "-P3306", "-N", "-e", q])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{q}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let holder = sql(&format!("SELECT IS_USED_LOCK('{name}')"));
        assert!(holder.parse::<u64>().is_ok(), "holder {holder:?}");
        sql(&format!("KILL {holder}"));
    });
}

/// A replica that holds the lock for a while (its hook touches `ready` once
/// the lock is taken, then sleeps), for the waiting tests below.
fn holder(name: &str, dir: &std::path::Path, seconds: f32) -> std::process::Child {
    let ready = dir.join("ready");
    let child = preflight()
        .args(["--lock", POSTGRES, "--lock-name", name])
        .args([
            "--hook",
            &format!("sh -c 'touch {}; sleep {seconds}'", ready.display()),
            "--",
            "true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ready.exists() {
        assert!(
            std::time::Instant::now() < until,
            "the holder never got the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

#[test]
fn lock_timeout_ends_the_wait_for_the_lock_naming_the_holder() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    let dir = TempDir::new();
    let name = lock_name("lock-timeout");
    let mut holder = holder(&name, dir.path(), 4.0);
    let out = preflight()
        .args([
            "--lock",
            POSTGRES,
            "--lock-name",
            &name,
            "--lock-timeout",
            "1s",
        ])
        .args(["--timeout", "60s", "--", "echo", "command ran"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(out.stdout.is_empty(), "the command must not run");
    assert!(
        stderr.contains(&format!(
            "timed out after 1s (--lock-timeout) taking lock '{name}' on {POSTGRES}: another replica holds it"
        )),
        "{stderr}"
    );
    assert!(holder.wait().unwrap().success());
}

#[test]
fn the_dependency_timeout_does_not_bound_the_lock_and_the_wait_is_reported() {
    require!(
        listening("127.0.0.1:5432"),
        "no PostgreSQL on 127.0.0.1:5432"
    );
    let dir = TempDir::new();
    let name = lock_name("no-lock-limit");
    // Held for longer than one progress period (10 s) and than --timeout.
    let mut holder = holder(&name, dir.path(), 11.5);
    let (out, stderr) = expect_exit_output(
        0,
        preflight()
            .args(["--lock", POSTGRES, "--lock-name", &name, "--timeout", "1s"])
            .args(["--", "echo", "command ran"]),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "command ran\n");
    assert!(
        stderr.contains(&format!(
            "still waiting for lock '{name}' on {POSTGRES} after 10s: another replica holds it"
        )),
        "{stderr}"
    );
    assert!(holder.wait().unwrap().success());
}
