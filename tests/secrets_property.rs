//! No password appears in any output, for any input: a property test over
//! generated URLs (a small deterministic generator, no dependency). Every
//! printable ASCII character (and some non-ASCII) may appear in the user and
//! the password, unencoded or percent-encoded, followed by valid and invalid
//! hosts, ports, paths, queries and fragments. Each URL goes through the
//! binary (`check`, so one try) at trace level, as text and as JSON, and as
//! a list in PREFLIGHT_WAIT; stdout and stderr must not hold the password.

use std::process::Output;

use crate::support::preflight;

/// xorshift64*: the same cases on every run (the seed is printed on failure).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    /// 10 to 20 characters: printable ASCII, space, a few non-ASCII; always
    /// starting with a marker no message would contain by chance.
    fn password(&mut self) -> String {
        let mut s = String::from("Zq");
        let extra = ['é', '€', 'ß'];
        for _ in 0..(8 + self.next() % 11) {
            let c = match self.next() % 20 {
                0 => *self.pick(&extra),
                _ => (b' ' + (self.next() % 95) as u8) as char,
            };
            s.push(c);
        }
        s
    }
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = preflight();
    cmd.args(args)
        .env_remove("PREFLIGHT_WAIT")
        .env("PREFLIGHT_LOG", "trace")
        .envs(envs.iter().copied());
    cmd.output().expect("run preflight")
}

#[test]
fn no_password_appears_in_any_output_for_generated_urls() {
    let seed = 0x9e37_79b9_7f4a_7c15;
    let mut g = Gen(seed);
    let schemes = [
        "postgres",
        "postgresql+psycopg2",
        "mysql",
        "redis",
        "rediss",
        "amqp",
        "amqps",
        "http",
        "https",
        "nats",
        "mqtt",
    ];
    // Hosts and ports that parse, and ones that do not (closed port 1:
    // a refused connection, fast).
    let hosts = [
        "127.0.0.1:1",
        "localhost:1",
        "[::1]:1",
        "127.0.0.1:99999",
        "127.0.0.1:x",
        "bad host:1",
        "",
        "127.0.0.1:1:2",
        "[::zz]:1",
    ];
    let tails = [
        "",
        "/db",
        "/db?sslmode=require",
        "/0?ssl_cert_reqs=maybe",
        "/db?sslmode=bogus",
        "#timeout=soon",
        "/db#timeout=1s",
        "?verify=verify_none",
    ];
    for case in 0..120 {
        let password = g.password();
        let user = *g.pick(&["app", "", "u@x", "a b"]);
        let shown_pw = if g.next() % 2 == 0 {
            password.clone()
        } else {
            encode(&password)
        };
        let url = format!(
            "{}://{}:{}@{}{}",
            g.pick(&schemes),
            user,
            shown_pw,
            g.pick(&hosts),
            g.pick(&tails)
        );
        let list = format!("redis:1, {url} ,tcp://127.0.0.1:1");
        let runs = [
            run(&["check", "--try-timeout", "1s", &url], &[]),
            run(
                &["check", "--try-timeout", "1s", "--log-format", "json", &url],
                &[],
            ),
            run(
                &["check", "--try-timeout", "1s"],
                &[("PREFLIGHT_WAIT", &list)],
            ),
            run(
                &["check", "--try-timeout", "1s", "env:URL"],
                &[("URL", &url)],
            ),
        ];
        for out in runs {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for secret in [&password, &shown_pw] {
                assert!(
                    !text.contains(secret.as_str()),
                    "case {case} (seed {seed:#x}): the password {secret:?} of {url:?} was printed:\n{text}"
                );
            }
            // JSON escapes some characters: look for the escaped form too.
            let json = serde_json::to_string(&password).unwrap();
            assert!(
                !text.contains(&json[1..json.len() - 1]),
                "case {case}: {text}"
            );
        }
    }
}
