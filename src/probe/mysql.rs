//! MySQL / MariaDB (`mysql://`, `mariadb://`): the client/server protocol,
//! just far enough to tell "up" from "not yet", and the `--lock` connection.
//!
//! The server speaks first: a HandshakeV10 greeting (`0x0a`, MariaDB's
//! version starts `5.5.5-`) or an ERR packet instead of it. Every packet is a
//! 3-byte little-endian length, a sequence byte and the payload, read with the
//! [`net::MAX_FRAME`] cap.
//!
//! **Without credentials** the probe answers the greeting with a
//! HandshakeResponse for the user `preflight` and no password, and counts as
//! up: OK (an anonymous account let it in: it sends COM_QUIT), or ERR 1045
//! access denied, as `mysqladmin ping` does. It does not close after the
//! greeting: MariaDB counts a handshake left unanswered as a *handshake*
//! error toward `max_connect_errors` (after 100 in a row the client's host is
//! refused with 1129 until `FLUSH HOSTS`: the app's own host, since it runs in
//! the same container), whereas access denied is an *authentication* error
//! that does not block the host. Both raise `Aborted_connects`; nothing an
//! unauthenticated client does avoids that, and with the default
//! `log_warnings=2` MariaDB writes one "Access denied for user 'preflight'"
//! warning per try.
//!
//! 1040 too many connections: MariaDB keeps one slot above
//! `max_connections` for an admin, greets, authenticates, and only then
//! refuses an ordinary account with 1040. A probe with credentials sees that;
//! a probe without sees its own access denied first and calls the server up
//! (as `mysqladmin ping` does). Once the admin slot is taken too, the 1040
//! comes instead of the greeting, and every probe says "not yet".
//!
//! **With credentials** (a user, with or without a password) it logs in to
//! the database named by the path (mysql_native_password; caching_sha2_password
//! on its fast path; an AuthSwitchRequest to either), runs `SELECT 1`, and
//! leaves with COM_QUIT, so the server counts a clean session.
//!
//! | answer | meaning |
//! | --- | --- |
//! | greeting, then OK / `SELECT 1` row | ready |
//! | greeting, then 1045/1698 access denied without credentials | ready (up) |
//! | 1040 too many connections (before or after the greeting) | not yet |
//! | 1049 unknown database, 1044 no grant on it yet | not yet (an init script creates both) |
//! | any other server error (1053 shutting down...) | not yet, with its message |
//! | 1045/1698 access denied with credentials | fatal |
//! | 1129 host blocked, 1130 host not allowed | fatal: waiting never clears them (1129 needs `FLUSH HOSTS`) |
//! | caching_sha2_password full authentication, other plugins | fatal: needs TLS or RSA, not supported |
//! | closed before or during the handshake, not a greeting | protocol error |
//!
//! Deliberately not checked: TLS (never offered; a server with
//! `require_secure_transport` refuses the credential check), replication
//! state, whether InnoDB's buffer pool has been loaded, read-only mode.
//! `mysql_clear_password` is refused rather than sending a password in clear.

use ring::digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::Target;

use super::{ProbeError, net};

/// The user an unauthenticated probe names; it need not exist.
const PROBE_USER: &str = "preflight";

// Capability flags (protocol::CapabilityFlags).
const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_LONG_FLAG: u32 = 0x4;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_MULTI_RESULTS: u32 = 0x20000;
const CLIENT_PLUGIN_AUTH: u32 = 0x80000;

const COM_QUIT: u8 = 0x01;
const COM_QUERY: u8 = 0x03;

// Server error codes that decide something.
const ER_CON_COUNT_ERROR: u16 = 1040;
const ER_DBACCESS_DENIED_ERROR: u16 = 1044;
const ER_ACCESS_DENIED_ERROR: u16 = 1045;
const ER_BAD_DB_ERROR: u16 = 1049;
const ER_HOST_IS_BLOCKED: u16 = 1129;
const ER_HOST_NOT_PRIVILEGED: u16 = 1130;
/// Access denied, when the client sent no password.
const ER_ACCESS_DENIED_NO_PASSWORD_ERROR: u16 = 1698;

#[derive(Debug, Clone)]
pub struct Mysql {
    target: Target,
}

impl Mysql {
    pub fn new(target: &Target) -> Self {
        Mysql {
            target: target.clone(),
        }
    }

    /// One try: greeting, then a login (as `preflight` without credentials),
    /// then `SELECT 1` when credentials were given.
    pub async fn check(&self) -> Result<(), ProbeError> {
        let t = &self.target;
        let mut conn = Conn::open(t).await?;
        if !t.has_credentials() {
            let login = Login {
                user: PROBE_USER,
                password: "",
                database: "",
            };
            return match conn.login(&login).await {
                Ok(()) => {
                    conn.quit().await;
                    Ok(())
                }
                Err(Refusal::Server(e)) if access_denied(e.code) => Ok(()),
                // The server answered and wants a plugin we cannot speak: up.
                Err(Refusal::Unsupported(_)) => Ok(()),
                Err(r) => Err(r.into_probe_error()),
            };
        }
        conn.login(&Login::of(t))
            .await
            .map_err(Refusal::into_probe_error)?;
        let rows = conn
            .query("SELECT 1")
            .await
            .map_err(Refusal::into_probe_error)?;
        conn.quit().await;
        match rows.first().and_then(|r| r.first()) {
            Some(Some(v)) if v == "1" => Ok(()),
            other => Err(ProbeError::Protocol(format!(
                "SELECT 1 returned {other:?} instead of 1"
            ))),
        }
    }
}

/// A session-level lock (`--lock`) taken on its own connection: held until
/// the returned socket is dropped or closed, released by the server when the
/// connection goes away (also when preflight is killed). Waits for the lock
/// as long as the caller's future is polled; logs once when another holder is
/// seen. The socket is CLOEXEC, so it never leaks into a hook or the command.
///
/// `GET_LOCK` names are server-wide, not per database: the caller picks a
/// name that says which application it guards. The name travels as a hex
/// literal converted to utf8mb4, so no quote, backslash or `sql_mode` can
/// change its meaning.
pub async fn lock(target: &Target, name: &str) -> Result<std::net::TcpStream, ProbeError> {
    /// How long one `GET_LOCK` waits server-side before asking again; the
    /// caller bounds the total by dropping this future.
    const WAIT_SECONDS: u32 = 5;
    let mut conn = Conn::open(target).await?;
    conn.login(&Login::of(target))
        .await
        .map_err(Refusal::into_probe_error)?;
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let mut seconds = 0;
    loop {
        let sql = format!("SELECT GET_LOCK(CONVERT(X'{hex}' USING utf8mb4), {seconds})");
        let rows = conn.query(&sql).await.map_err(Refusal::into_probe_error)?;
        match rows.first().and_then(|r| r.first()) {
            Some(Some(v)) if v == "1" => break,
            Some(Some(v)) if v == "0" => {
                if seconds == 0 {
                    tracing::info!(
                        target = %target.redacted(),
                        lock = name,
                        "waiting for migration lock held by another replica"
                    );
                }
                seconds = WAIT_SECONDS;
            }
            other => {
                return Err(ProbeError::Protocol(format!(
                    "GET_LOCK returned {other:?} instead of 0 or 1"
                )));
            }
        }
    }
    tracing::debug!(lock = name, "migration lock taken");
    let std = conn
        .stream
        .into_std()
        .map_err(ProbeError::io("lock socket"))?;
    std.set_nonblocking(false)
        .map_err(ProbeError::io("lock socket"))?;
    Ok(std)
}

/// Who logs in, to which database.
struct Login<'a> {
    user: &'a str,
    password: &'a str,
    database: &'a str,
}

impl<'a> Login<'a> {
    fn of(t: &'a Target) -> Self {
        Login {
            user: t.user.as_deref().unwrap_or(""),
            password: t.password.as_ref().map_or("", |p| p.expose()),
            database: &t.path,
        }
    }
}

/// An ERR packet: code and message (SQLSTATE dropped).
#[derive(Debug)]
struct ServerError {
    code: u16,
    message: String,
}

/// Why a login or query did not go through, before deciding what it means.
enum Refusal {
    Server(ServerError),
    Unsupported(String),
    Probe(ProbeError),
}

impl From<ProbeError> for Refusal {
    fn from(e: ProbeError) -> Self {
        Refusal::Probe(e)
    }
}

impl Refusal {
    fn into_probe_error(self) -> ProbeError {
        match self {
            Refusal::Server(e) => classify(e),
            Refusal::Unsupported(m) => ProbeError::Fatal(m),
            Refusal::Probe(e) => e,
        }
    }
}

/// What a server error means for waiting (the table in the module doc).
fn classify(e: ServerError) -> ProbeError {
    let text = format!("{} (MySQL error {})", e.message, e.code);
    match e.code {
        code if access_denied(code) => ProbeError::Fatal(text),
        ER_HOST_IS_BLOCKED | ER_HOST_NOT_PRIVILEGED => ProbeError::Fatal(text),
        ER_CON_COUNT_ERROR | ER_BAD_DB_ERROR | ER_DBACCESS_DENIED_ERROR => {
            ProbeError::NotReady(text)
        }
        _ => ProbeError::NotReady(text),
    }
}

fn access_denied(code: u16) -> bool {
    code == ER_ACCESS_DENIED_ERROR || code == ER_ACCESS_DENIED_NO_PASSWORD_ERROR
}

/// One connection, past its greeting.
struct Conn {
    stream: TcpStream,
    /// The sequence number the next packet we write carries.
    seq: u8,
    greeting: Greeting,
}

#[derive(Debug)]
struct Greeting {
    capabilities: u32,
    scramble: Vec<u8>,
    plugin: String,
}

impl Conn {
    /// Connect and read the greeting; an ERR instead of it is classified.
    async fn open(t: &Target) -> Result<Conn, ProbeError> {
        let mut stream = net::connect(&t.host, t.port).await?;
        let (seq, payload) = read_packet(&mut stream, "the server greeting").await?;
        if payload.first() == Some(&0xff) {
            return Err(classify(parse_err(&payload)?));
        }
        let greeting = parse_greeting(&payload)?;
        Ok(Conn {
            stream,
            seq: seq.wrapping_add(1),
            greeting,
        })
    }

    async fn write(&mut self, payload: &[u8]) -> Result<(), ProbeError> {
        let len = payload.len() as u32;
        let mut packet = Vec::with_capacity(4 + payload.len());
        packet.extend_from_slice(&len.to_le_bytes()[..3]);
        packet.push(self.seq);
        packet.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.stream
            .write_all(&packet)
            .await
            .map_err(ProbeError::io("write"))
    }

    async fn read(&mut self, what: &str) -> Result<Vec<u8>, ProbeError> {
        let (seq, payload) = read_packet(&mut self.stream, what).await?;
        self.seq = seq.wrapping_add(1);
        Ok(payload)
    }

    /// HandshakeResponse41, then follow the server through AuthSwitchRequest
    /// and caching_sha2_password's AuthMoreData until OK or ERR.
    async fn login(&mut self, login: &Login<'_>) -> Result<(), Refusal> {
        let server = self.greeting.capabilities;
        if server & CLIENT_PROTOCOL_41 == 0 || server & CLIENT_SECURE_CONNECTION == 0 {
            return Err(ProbeError::Protocol(
                "the server does not speak protocol 4.1 (MySQL older than 4.1?)".into(),
            )
            .into());
        }
        let mut caps = CLIENT_LONG_PASSWORD
            | CLIENT_LONG_FLAG
            | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION
            | CLIENT_MULTI_RESULTS
            | (server & CLIENT_PLUGIN_AUTH);
        if !login.database.is_empty() {
            caps |= CLIENT_CONNECT_WITH_DB;
        }
        let mut plugin = self.greeting.plugin.clone();
        if plugin.is_empty() {
            plugin = "mysql_native_password".into();
        }
        let auth =
            scramble_for(&plugin, login.password, &self.greeting.scramble).unwrap_or_default();
        let mut p = Vec::with_capacity(64 + login.user.len() + login.database.len());
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&(16u32 << 20).to_le_bytes()); // max packet: 16 MiB
        p.push(45); // utf8mb4_general_ci
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(login.user.as_bytes());
        p.push(0);
        p.push(auth.len() as u8); // ≤ 32 bytes: one length byte
        p.extend_from_slice(&auth);
        if !login.database.is_empty() {
            p.extend_from_slice(login.database.as_bytes());
            p.push(0);
        }
        if caps & CLIENT_PLUGIN_AUTH != 0 {
            p.extend_from_slice(plugin.as_bytes());
            p.push(0);
        }
        self.write(&p).await?;

        // A bounded number of rounds: a peer cannot keep us switching forever.
        for _ in 0..4 {
            let reply = self.read("the answer to the login").await?;
            match reply.first() {
                Some(0x00) => return Ok(()),
                Some(0xff) => return Err(Refusal::Server(parse_err(&reply)?)),
                Some(0xfe) => {
                    // AuthSwitchRequest: plugin name NUL, then its challenge.
                    let body = &reply[1..];
                    let nul = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                    plugin = String::from_utf8_lossy(&body[..nul]).into_owned();
                    let data = body.get(nul + 1..).unwrap_or_default();
                    let challenge = data.strip_suffix(&[0]).unwrap_or(data);
                    match scramble_for(&plugin, login.password, challenge) {
                        Some(auth) => self.write(&auth).await?,
                        None => return Err(unsupported(&plugin)),
                    }
                }
                Some(0x01) if plugin == "caching_sha2_password" => match reply.get(1) {
                    // fast_auth_success: the OK packet follows.
                    Some(0x03) => continue,
                    Some(0x04) => {
                        return Err(Refusal::Unsupported(format!(
                            "caching_sha2_password asks for full authentication of '{}', which \
                             needs TLS or RSA (not supported); it succeeds on its fast path once \
                             the account has logged in since the server started, or use \
                             mysql_native_password",
                            login.user
                        )));
                    }
                    _ => return Err(garbage("caching_sha2_password data", &reply).into()),
                },
                _ => return Err(garbage("the answer to the login", &reply).into()),
            }
        }
        Err(ProbeError::Protocol("the login did not end after 4 rounds".into()).into())
    }

    /// COM_QUERY in the text protocol; the rows of the result set, each
    /// column as text or NULL.
    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Refusal> {
        self.seq = 0;
        let mut p = Vec::with_capacity(1 + sql.len());
        p.push(COM_QUERY);
        p.extend_from_slice(sql.as_bytes());
        self.write(&p).await?;
        let first = self.read("the query result").await?;
        match first.first() {
            Some(0xff) => return Err(Refusal::Server(parse_err(&first)?)),
            Some(0x00) => return Ok(Vec::new()),
            _ => {}
        }
        let columns =
            lenenc_int(&first, &mut 0).ok_or_else(|| garbage("the column count", &first))?;
        // Column definitions, then EOF (CLIENT_DEPRECATE_EOF is not asked for).
        for _ in 0..columns {
            self.read("a column definition").await?;
        }
        let eof = self.read("the end of the column definitions").await?;
        if eof.first() != Some(&0xfe) {
            return Err(garbage("the end of the column definitions", &eof).into());
        }
        let mut rows = Vec::new();
        loop {
            let row = self.read("a row").await?;
            match row.first() {
                Some(0xfe) if row.len() < 9 => return Ok(rows),
                Some(0xff) => return Err(Refusal::Server(parse_err(&row)?)),
                _ => {}
            }
            let mut at = 0;
            let mut values = Vec::new();
            for _ in 0..columns {
                if row.get(at) == Some(&0xfb) {
                    at += 1;
                    values.push(None);
                    continue;
                }
                let len = lenenc_int(&row, &mut at).ok_or_else(|| garbage("a row", &row))?;
                let end = at
                    .checked_add(len as usize)
                    .filter(|&e| e <= row.len())
                    .ok_or_else(|| garbage("a row", &row))?;
                values.push(Some(String::from_utf8_lossy(&row[at..end]).into_owned()));
                at = end;
            }
            rows.push(values);
        }
    }

    /// COM_QUIT, then wait for the server to close: a clean end of session
    /// (no "Aborted connection" on the server's side). Errors are moot here.
    async fn quit(mut self) {
        self.seq = 0;
        if self.write(&[COM_QUIT]).await.is_ok() {
            let mut sink = [0u8; 256];
            while let Ok(n) = self.stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// Read one packet: (sequence, payload).
async fn read_packet(stream: &mut TcpStream, what: &str) -> Result<(u8, Vec<u8>), ProbeError> {
    let header = net::read_exact(stream, 4, what).await.map_err(reset)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let payload = net::read_exact(stream, len, what).await.map_err(reset)?;
    Ok((header[3], payload))
}

/// A reset in the middle of the handshake is the peer hanging up, like EOF.
fn reset(e: ProbeError) -> ProbeError {
    match e {
        ProbeError::Io { err, .. } if err.kind() == std::io::ErrorKind::ConnectionReset => {
            ProbeError::Protocol("connection reset by the server".into())
        }
        e => e,
    }
}

/// ERR packet: `0xff`, code (2), optionally `#` + SQLSTATE (5), message.
fn parse_err(p: &[u8]) -> Result<ServerError, ProbeError> {
    if p.len() < 3 {
        return Err(garbage("an ERR packet", p));
    }
    let code = u16::from_le_bytes([p[1], p[2]]);
    let mut msg = &p[3..];
    if msg.first() == Some(&b'#') && msg.len() >= 6 {
        msg = &msg[6..];
    }
    Ok(ServerError {
        code,
        message: String::from_utf8_lossy(msg).trim().to_string(),
    })
}

/// HandshakeV10: protocol 10, version NUL, thread id (4), scramble part 1 (8),
/// filler, capabilities low (2), charset, status (2), capabilities high (2),
/// scramble length, reserved (10), scramble part 2, plugin name NUL.
fn parse_greeting(p: &[u8]) -> Result<Greeting, ProbeError> {
    if p.first() != Some(&0x0a) {
        return Err(garbage("the server greeting", p));
    }
    let short = || garbage("the server greeting (too short)", p);
    let nul = p[1..].iter().position(|&b| b == 0).ok_or_else(short)? + 1;
    let mut at = nul + 1 + 4;
    let part1 = p.get(at..at + 8).ok_or_else(short)?;
    at += 8 + 1;
    let low = p.get(at..at + 2).ok_or_else(short)?;
    let mut capabilities = u16::from_le_bytes([low[0], low[1]]) as u32;
    at += 2;
    let mut scramble = part1.to_vec();
    let mut plugin = String::new();
    // Servers older than 4.1 end here.
    if let Some(rest) = p.get(at + 3..at + 5) {
        capabilities |= (u16::from_le_bytes([rest[0], rest[1]]) as u32) << 16;
        let scramble_len = p.get(at + 5).copied().unwrap_or(0) as usize;
        at += 5 + 1 + 10;
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let len = scramble_len.saturating_sub(8).max(13);
            let part2 = p.get(at..(at + len).min(p.len())).unwrap_or_default();
            scramble.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
            at += len;
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 {
            let rest = p.get(at..).unwrap_or_default();
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            plugin = String::from_utf8_lossy(&rest[..end]).into_owned();
        }
    }
    Ok(Greeting {
        capabilities,
        scramble,
        plugin,
    })
}

/// Length-encoded integer at `*at`, advancing it.
fn lenenc_int(p: &[u8], at: &mut usize) -> Option<u64> {
    let first = *p.get(*at)?;
    let size = match first {
        0..=0xfa => {
            *at += 1;
            return Some(first as u64);
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        _ => return None,
    };
    let bytes = p.get(*at + 1..*at + 1 + size)?;
    *at += 1 + size;
    let mut v = [0u8; 8];
    v[..size].copy_from_slice(bytes);
    Some(u64::from_le_bytes(v))
}

/// The auth response `plugin` expects for `password` and the server's
/// challenge; None for a plugin preflight does not speak.
fn scramble_for(plugin: &str, password: &str, challenge: &[u8]) -> Option<Vec<u8>> {
    if password.is_empty() {
        return match plugin {
            "mysql_native_password" | "caching_sha2_password" => Some(Vec::new()),
            _ => None,
        };
    }
    let challenge = &challenge[..challenge.len().min(20)];
    match plugin {
        // SHA1(pw) XOR SHA1(challenge + SHA1(SHA1(pw)))
        "mysql_native_password" => {
            let alg = &digest::SHA1_FOR_LEGACY_USE_ONLY;
            let h1 = digest::digest(alg, password.as_bytes());
            let h2 = digest::digest(alg, h1.as_ref());
            let mut ctx = digest::Context::new(alg);
            ctx.update(challenge);
            ctx.update(h2.as_ref());
            Some(xor(h1.as_ref(), ctx.finish().as_ref()))
        }
        // SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + challenge)
        "caching_sha2_password" => {
            let alg = &digest::SHA256;
            let h1 = digest::digest(alg, password.as_bytes());
            let h2 = digest::digest(alg, h1.as_ref());
            let mut ctx = digest::Context::new(alg);
            ctx.update(h2.as_ref());
            ctx.update(challenge);
            Some(xor(h1.as_ref(), ctx.finish().as_ref()))
        }
        _ => None,
    }
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn unsupported(plugin: &str) -> Refusal {
    let why = if plugin == "mysql_clear_password" {
        " (it would send the password unencrypted)"
    } else {
        ""
    };
    Refusal::Unsupported(format!(
        "the server asks for the authentication plugin '{plugin}', which preflight does not \
         speak{why}; use mysql_native_password or caching_sha2_password"
    ))
}

/// A protocol error quoting the first bytes the peer sent.
fn garbage(what: &str, bytes: &[u8]) -> ProbeError {
    let shown: String = bytes
        .iter()
        .take(16)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    ProbeError::Protocol(format!("unexpected bytes in {what}: \"{shown}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_password_scramble_matches_the_reference_formula() {
        // Empty password: empty response, whatever the challenge.
        assert!(
            scramble_for("mysql_native_password", "", b"x")
                .unwrap()
                .is_empty()
        );
        let challenge = [7u8; 20];
        let a = scramble_for("mysql_native_password", "pw", &challenge).unwrap();
        let b = scramble_for("mysql_native_password", "pw", &[8u8; 20]).unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(
            scramble_for("caching_sha2_password", "pw", &challenge)
                .unwrap()
                .len(),
            32
        );
        assert!(scramble_for("client_ed25519", "pw", &challenge).is_none());
    }

    #[test]
    fn lenenc_ints_of_every_width() {
        let mut at = 0;
        assert_eq!(lenenc_int(&[0xfa], &mut at), Some(250));
        at = 0;
        assert_eq!(lenenc_int(&[0xfc, 0x01, 0x02], &mut at), Some(0x0201));
        assert_eq!(at, 3);
        at = 0;
        assert_eq!(lenenc_int(&[0xfd, 1, 0, 0], &mut at), Some(1));
        at = 0;
        assert_eq!(lenenc_int(&[0xfe, 1], &mut at), None);
        at = 0;
        assert_eq!(lenenc_int(&[0xff], &mut at), None);
    }

    #[test]
    fn err_packets_with_and_without_sqlstate() {
        let e = parse_err(b"\xff\x10\x04#08004Too many connections").unwrap();
        assert_eq!((e.code, e.message.as_str()), (1040, "Too many connections"));
        let e = parse_err(b"\xff\x6a\x04Host 'x' is not allowed").unwrap();
        assert_eq!(e.code, 1130);
        assert!(matches!(classify(e), ProbeError::Fatal(_)));
        assert!(parse_err(b"\xff").is_err());
    }
}
