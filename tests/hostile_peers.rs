//! Hostile peers, as one table: every protocol (and `--lock` on each
//! database) against a peer that says nothing, trickles, resets, sends
//! garbage, announces a huge length, or never stops sending. Each run of
//! the real binary must end by its deadline (exit 124 with the last reason,
//! well before the test's watchdog) with a peak resident memory (VmHWM,
//! measured by the testkit's `peak-rss`) under [`CEILING_KIB`], whatever the
//! peer sends.
//!
//! The peers are plain threads on `127.0.0.1:0`; a peer treats every
//! connection the same way, so each retry meets the same hostility. The
//! DNS peer is a UDP socket: there a behaviour is told in datagrams (see
//! [`serve_udp`]).
//!
//! `cargo test --test tests hostile_peers -- --nocapture` prints each run's
//! exit code and peak.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The memory ceiling of one preflight run against a hostile peer. A run
/// against a polite peer peaks at about 3 MiB (debug build); one that kept
/// what a peer streams reached gigabytes. The debug build's postgres runs
/// peaked within 8 KiB of 8 MiB, so that any code added to the binary (the
/// several-programs supervisor: +1.1 MB of debug binary) went over: 9 MiB.
const CEILING_KIB: u64 = 9 * 1024;

/// How long a run may take before the test calls it hung: far above the
/// `--timeout 2s` it is given.
const WATCHDOG: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Accept, then never send a byte.
    Silent,
    /// The endless stream, one byte every 20 ms.
    Trickle,
    /// Let the client speak, then reset the connection (close with its
    /// bytes unread: the kernel answers with RST).
    Reset,
    /// Random bytes, then silence.
    Garbage,
    /// A frame header announcing about 2 GB.
    HugeLength,
    /// A valid-looking stream that never ends, as fast as it is taken.
    Endless,
}

const BEHAVIOURS: [Behaviour; 6] = [
    Behaviour::Silent,
    Behaviour::Trickle,
    Behaviour::Reset,
    Behaviour::Garbage,
    Behaviour::HugeLength,
    Behaviour::Endless,
];

/// How one protocol is attacked.
struct Case {
    name: &'static str,
    /// A DNS server on UDP rather than a TCP peer.
    udp: bool,
    /// preflight's arguments for the peer at this address.
    args: fn(SocketAddr) -> Vec<String>,
    /// Does the client speak first (the peer waits for its bytes)?
    client_first: bool,
    /// What the peer sends first for `Trickle`, `HugeLength` and `Endless`:
    /// enough to bring the client to the part that is attacked.
    prefix: Vec<u8>,
    /// After the prefix, for `HugeLength`.
    huge: Vec<u8>,
    /// After the prefix, repeated for ever, for `Endless` and `Trickle`.
    unit: Vec<u8>,
}

impl Case {
    /// A TCP case.
    fn tcp(
        name: &'static str,
        args: fn(SocketAddr) -> Vec<String>,
        client_first: bool,
        prefix: Vec<u8>,
        huge: Vec<u8>,
        unit: Vec<u8>,
    ) -> Case {
        Case {
            name,
            udp: false,
            args,
            client_first,
            prefix,
            huge,
            unit,
        }
    }
}

fn wait(url: String) -> Vec<String> {
    ["wait", &url, "--timeout", "2s", "--try-timeout", "500ms"]
        .map(String::from)
        .to_vec()
}

fn lock(url: String) -> Vec<String> {
    [
        "--lock",
        &url,
        "--lock-timeout",
        "2s",
        "--try-timeout",
        "500ms",
        "--",
        "true",
    ]
    .map(String::from)
    .to_vec()
}

/// A PostgreSQL backend message.
fn pg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// A PostgreSQL peer that lets anyone in (trust) and is ready for queries.
fn pg_logged_in() -> Vec<u8> {
    [pg(b'R', &0u32.to_be_bytes()), pg(b'Z', b"I")].concat()
}

/// A MySQL packet.
fn my(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// A MariaDB greeting (protocol 4.1, mysql_native_password).
fn my_greeting() -> Vec<u8> {
    let mut g = vec![0x0a];
    g.extend_from_slice(b"5.5.5-10.11.0-MariaDB\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(b"abcdefgh\0");
    g.extend_from_slice(&0xf7ffu16.to_le_bytes()); // capabilities, low
    g.push(45);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&0x81bfu16.to_le_bytes()); // high: plugin auth, ...
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(b"ijklmnopqrst\0");
    g.extend_from_slice(b"mysql_native_password\0");
    my(0, &g)
}

/// A MySQL peer that accepts the login and answers the query with one
/// column: after this prefix, rows.
fn my_result_set() -> Vec<u8> {
    let column =
        b"\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00";
    [
        my_greeting(),
        my(2, b"\x00\x00\x00\x02\x00\x00\x00"),
        my(1, b"\x01"),
        my(2, column),
        my(3, b"\xfe\x00\x00\x02\x00"),
    ]
    .concat()
}

/// An HTTP/2 frame.
fn h2(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend_from_slice(&[kind, flags]);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A MongoDB OP_MSG reply holding `doc` (a BSON document).
fn op_msg(doc: &[u8]) -> Vec<u8> {
    let mut m = ((16 + 5 + doc.len()) as i32).to_le_bytes().to_vec();
    m.extend_from_slice(&7i32.to_le_bytes());
    m.extend_from_slice(&1i32.to_le_bytes());
    m.extend_from_slice(&2013i32.to_le_bytes());
    m.extend_from_slice(&[0; 5]);
    m.extend_from_slice(doc);
    m
}

/// `{ok: 0.0, code: 59}`: the server does not know `hello` (the probe asks
/// again with `isMaster`).
fn mongo_command_not_found() -> Vec<u8> {
    let mut d = vec![0x01];
    d.extend_from_slice(b"ok\0");
    d.extend_from_slice(&0f64.to_le_bytes());
    d.push(0x10);
    d.extend_from_slice(b"code\0");
    d.extend_from_slice(&59i32.to_le_bytes());
    d.push(0);
    let mut doc = ((d.len() + 4) as i32).to_le_bytes().to_vec();
    doc.extend_from_slice(&d);
    op_msg(&doc)
}

/// A NATS server's first line, no authentication.
const NATS_INFO: &[u8] = b"INFO {\"server_id\":\"NCGX\",\"version\":\"2.10.0\",\"proto\":1,\
    \"max_payload\":1048576}\r\n";

/// A DNS reply to nobody's query (id 0xbeef, which the peer never meets:
/// it answers only queries with another id) with one A record: the late
/// answer to an earlier try, to be ignored.
fn dns_stray_reply() -> Vec<u8> {
    let mut r = vec![0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    r.extend_from_slice(b"\x01x\x04test\x00\x00\x01\x00\x01");
    r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    r
}

fn cases() -> Vec<Case> {
    let amqp_heartbeat = b"\x08\x00\x00\x00\x00\x00\x00\xce".to_vec();
    vec![
        Case {
            udp: false,
            name: "postgres",
            args: |a| wait(format!("postgres://{a}")),
            client_first: true,
            prefix: Vec::new(),
            huge: b"R\x7f\xff\xff\xff".to_vec(),
            unit: pg(b'N', b"SNOTICE\0Mhello\0\0"),
        },
        Case {
            udp: false,
            name: "postgres with credentials",
            args: |a| wait(format!("postgres://app:pw@{a}/app")),
            client_first: true,
            prefix: pg_logged_in(),
            huge: b"D\x7f\xff\xff\xff".to_vec(),
            unit: pg(b'D', b"\x00\x01\x00\x00\x00\x011"),
        },
        Case {
            udp: false,
            name: "mysql",
            args: |a| wait(format!("mysql://root:pw@{a}/")),
            client_first: false,
            prefix: my_result_set(),
            huge: b"\xff\xff\xff\x04".to_vec(),
            unit: my(4, b"\x011"),
        },
        Case {
            udp: false,
            name: "redis",
            args: |a| wait(format!("redis://{a}")),
            client_first: true,
            prefix: b"+".to_vec(),
            huge: b"$2147483647\r\n".to_vec(),
            unit: b"PONGPONGPONGPONG".to_vec(),
        },
        Case {
            udp: false,
            name: "amqp",
            args: |a| wait(format!("amqp://{a}")),
            client_first: true,
            prefix: Vec::new(),
            huge: b"\x01\x00\x00\x7f\xff\xff\xff".to_vec(),
            unit: amqp_heartbeat,
        },
        Case {
            udp: false,
            name: "http",
            args: |a| wait(format!("http://{a}/")),
            client_first: true,
            prefix: b"HTTP/1.1 200 OK\r\n".to_vec(),
            huge: [b"X-Huge: ".to_vec(), vec![b'a'; 1 << 20]].concat(),
            unit: b"X-Again: and again\r\n".to_vec(),
        },
        Case {
            udp: false,
            name: "lock on postgres",
            args: |a| lock(format!("postgres://app:pw@{a}/app")),
            client_first: true,
            prefix: pg_logged_in(),
            huge: b"D\x7f\xff\xff\xff".to_vec(),
            unit: pg(b'D', b"\x00\x01\x00\x00\x00\x01f"),
        },
        Case {
            udp: false,
            name: "lock on mysql",
            args: |a| lock(format!("mysql://root:pw@{a}/")),
            client_first: false,
            prefix: my_result_set(),
            huge: b"\xff\xff\xff\x04".to_vec(),
            unit: my(4, b"\x010"),
        },
        Case::tcp(
            // An INFO line of 16 MB, or one that never ends.
            "nats",
            |a| wait(format!("nats://{a}")),
            false,
            b"INFO {\"server_id\":\"".to_vec(),
            vec![b'N'; 16 << 20],
            b"NCGXQIGIQGWUU2N7".to_vec(),
        ),
        Case::tcp(
            // Past INFO and CONNECT: a MSG of 2 GB, endless PINGs.
            "nats with credentials",
            |a| wait(format!("nats://app:pw@{a}")),
            false,
            NATS_INFO.to_vec(),
            b"MSG _INBOX.x 1 2147483647\r\n".to_vec(),
            b"PING\r\n".to_vec(),
        ),
        Case::tcp(
            // A CONNACK whose remaining length says 256 MB; PUBLISH packets.
            "mqtt",
            |a| wait(format!("mqtt://{a}")),
            true,
            Vec::new(),
            b"\x20\xff\xff\xff\x7f".to_vec(),
            b"\x30\x06\x00\x01tpong".to_vec(),
        ),
        Case::tcp(
            // TLS: a ServerHello announcing 16 MB, then a record of 64 KiB,
            // or records continuing it for ever.
            "mqtts",
            |a| wait(format!("mqtts://{a}")),
            true,
            b"\x16\x03\x03\x00\x04\x02\xff\xff\xff".to_vec(),
            b"\x16\x03\x03\xff\xff".to_vec(),
            [b"\x16\x03\x03\x3f\xfc".to_vec(), vec![0; 0x3ffc]].concat(),
        ),
        Case::tcp(
            // An OP_MSG header announcing 2 GB; endless CommandNotFound.
            "mongodb",
            |a| wait(format!("mongodb://{a}")),
            true,
            Vec::new(),
            b"\xff\xff\xff\x7f\x07\x00\x00\x00\x01\x00\x00\x00\xdd\x07\x00\x00".to_vec(),
            mongo_command_not_found(),
        ),
        Case::tcp(
            // A size prefix of 2 GB; a 64 KiB response that never comes to
            // the point.
            "kafka",
            |a| wait(format!("kafka://{a}")),
            true,
            Vec::new(),
            b"\x7f\xff\xff\xff".to_vec(),
            [b"\x00\x01\x00\x00".to_vec(), vec![0; 0x1_0000]].concat(),
        ),
        Case::tcp(
            // A VERSION line of 16 MB; STAT lines for ever.
            "memcached",
            |a| wait(format!("memcached://{a}")),
            true,
            Vec::new(),
            [b"VERSION ".to_vec(), vec![b'1'; 16 << 20]].concat(),
            b"STAT pid 1\r\n".to_vec(),
        ),
        Case::tcp(
            // After SETTINGS: a frame of 16 MB; PINGs for ever (each asks
            // for an answer).
            "grpc",
            |a| wait(format!("grpc://{a}")),
            true,
            h2(4, 0, 0, &[]),
            b"\xff\xff\xff\x00\x00\x00\x00\x00\x01".to_vec(),
            h2(6, 0, 0, b"pingping"),
        ),
        Case {
            name: "dns",
            udp: true,
            args: |a| wait(format!("dns://x.test?type=A&server={a}")),
            client_first: true,
            prefix: Vec::new(),
            huge: Vec::new(),
            unit: dns_stray_reply(),
        },
    ]
}

/// A hostile peer: serves every connection as `behaviour` says until dropped.
struct Peer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    udp: bool,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop (a UDP peer wakes by itself).
        if !self.udp {
            let _ = TcpStream::connect(self.addr);
        }
    }
}

fn serve(case: &Case, behaviour: Behaviour) -> Peer {
    if case.udp {
        return serve_udp(case.unit.clone(), behaviour);
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let script = Arc::new((
        case.client_first,
        case.prefix.clone(),
        case.huge.clone(),
        case.unit.clone(),
    ));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            if stopping.load(Ordering::Relaxed) {
                return;
            }
            let Ok(sock) = sock else { continue };
            let (stop, script) = (stopping.clone(), script.clone());
            std::thread::spawn(move || {
                let (client_first, prefix, huge, unit) = &*script;
                connection(sock, behaviour, *client_first, prefix, huge, unit, &stop)
            });
        }
    });
    Peer {
        addr,
        stop,
        udp: false,
    }
}

/// A hostile DNS server: a UDP socket answering queries as `behaviour`
/// says. `stray` is a reply to nobody's query (another id).
///
/// Silent: no answer. Trickle: one stray reply every 20 ms. Reset: the
/// socket closes after the first query, so that later ones meet ICMP port
/// unreachable (ECONNREFUSED). Garbage: random bytes after the query's id.
/// HugeLength: a reply to the query claiming 65 535 answers, the first of
/// 65 535 bytes. Endless: stray replies as fast as they go.
fn serve_udp(stray: Vec<u8>, behaviour: Behaviour) -> Peer {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    std::thread::spawn(move || {
        let mut query = [0u8; 512];
        let mut client = None;
        while !stopping.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut query) {
                let q = &query[..n];
                client = Some(from);
                match behaviour {
                    Behaviour::Reset => return,
                    Behaviour::Garbage => {
                        let mut junk = q[..2].to_vec();
                        let mut x: u32 = 0x1234_5678;
                        junk.extend((0..510).map(|_| {
                            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                            (x >> 24) as u8
                        }));
                        let _ = sock.send_to(&junk, from);
                    }
                    Behaviour::HugeLength => {
                        let mut r = q.to_vec();
                        r[2] = 0x81;
                        r[3] = 0x80;
                        r[6..8].copy_from_slice(&[0xff, 0xff]);
                        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0xff, 0xff]);
                        r.extend_from_slice(&[1, 2, 3, 4]);
                        let _ = sock.send_to(&r, from);
                    }
                    _ => {}
                }
            }
            match (behaviour, client) {
                (Behaviour::Trickle, Some(to)) => {
                    let _ = sock.send_to(&stray, to);
                }
                (Behaviour::Endless, Some(to)) => {
                    for _ in 0..1000 {
                        let _ = sock.send_to(&stray, to);
                    }
                }
                _ => {}
            }
        }
    });
    Peer {
        addr,
        stop,
        udp: true,
    }
}

fn connection(
    mut sock: TcpStream,
    behaviour: Behaviour,
    client_first: bool,
    prefix: &[u8],
    huge: &[u8],
    unit: &[u8],
    stop: &AtomicBool,
) {
    let hold = |stop: &AtomicBool| {
        let until = Instant::now() + Duration::from_secs(10);
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut first = [0u8; 4096];
    if behaviour == Behaviour::Silent {
        return hold(stop);
    }
    if behaviour == Behaviour::Reset {
        // Whoever speaks first, close once the client's bytes sit unread.
        if !client_first {
            let _ = sock.write_all(prefix);
        }
        let _ = sock.peek(&mut first);
        return drop(sock);
    }
    if client_first {
        let _ = sock.read(&mut first);
    }
    match behaviour {
        Behaviour::Garbage => {
            let mut x: u32 = 0x1234_5678;
            let junk: Vec<u8> = (0..4096)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            let _ = sock.write_all(&junk);
            hold(stop)
        }
        Behaviour::HugeLength => {
            let _ = sock.write_all(&[prefix, huge].concat());
            hold(stop)
        }
        Behaviour::Endless => {
            if sock.write_all(prefix).is_err() {
                return;
            }
            // Whole units, so that the stream stays valid block after block.
            let block = unit.repeat((64 * 1024usize).div_ceil(unit.len()));
            while !stop.load(Ordering::Relaxed) && sock.write_all(&block).is_ok() {}
        }
        Behaviour::Trickle => {
            for b in prefix.iter().chain(unit.iter().cycle()) {
                if stop.load(Ordering::Relaxed) || sock.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Behaviour::Silent | Behaviour::Reset => unreachable!(),
    }
}

/// What one run of preflight against one peer gave.
struct Outcome {
    code: Option<i32>,
    peak_kib: u64,
    stderr: String,
}

fn run(args: &[String]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight-testkit"))
        .args(["peak-rss", "--", env!("CARGO_BIN_EXE_preflight")])
        .args(args)
        .env("PREFLIGHT_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?}: still running after {WATCHDOG:?}: hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let peak_kib = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_kib "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak_rss_kib line in {stdout:?}"));
    Outcome {
        code: status.code(),
        peak_kib,
        stderr,
    }
}

#[test]
fn every_protocol_ends_by_its_deadline_within_a_memory_ceiling_whatever_the_peer_sends() {
    let mut runs = Vec::new();
    for case in cases() {
        for behaviour in BEHAVIOURS {
            let peer = serve(&case, behaviour);
            let args = (case.args)(peer.addr);
            let name = format!("{} / {behaviour:?}", case.name);
            runs.push(std::thread::spawn(move || {
                let outcome = run(&args);
                drop(peer);
                (name, outcome)
            }));
        }
    }
    let mut failures = Vec::new();
    for r in runs {
        let (name, o) = r.join().unwrap();
        // The last reason is named: the deadline of each try, or what the
        // peer did wrong.
        let reason = o
            .stderr
            .lines()
            .find_map(|l| l.split_once("timed out").map(|(_, rest)| rest))
            .and_then(|rest| rest.split_once(": "))
            .map(|(_, why)| why.to_string());
        eprintln!(
            "{name}: exit {:?}, peak {} KiB, {}",
            o.code,
            o.peak_kib,
            reason.as_deref().unwrap_or("no reason")
        );
        if o.code != Some(124) {
            failures.push(format!(
                "{name}: exit {:?}, expected 124\n{}",
                o.code, o.stderr
            ));
        }
        if reason.is_none() {
            failures.push(format!(
                "{name}: no reason on the timeout line\n{}",
                o.stderr
            ));
        }
        if o.peak_kib > CEILING_KIB {
            failures.push(format!(
                "{name}: peak {} KiB, over the {CEILING_KIB} KiB ceiling",
                o.peak_kib
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
