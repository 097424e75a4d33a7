//! One MySQL connection: the greeting, the login (HandshakeResponse41,
//! AuthSwitchRequest, caching_sha2_password's fast path), queries in the
//! text protocol, COM_QUIT. What the server's errors mean for waiting is
//! the probe's business ([`super::classify`]); this file only reports them
//! ([`Refusal`]). Used by the probe and by `--lock` (`crate::lock::mysql`).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::params::TlsMode;
use crate::probe::tls::{Stream, Tls};
use crate::target::Target;

use super::super::{ProbeError, net};
use super::scramble::scramble_for;
use super::wire::{ServerError, garbage, lenenc_int, parse_err, parse_greeting, read_packet};

// Capability flags (protocol::CapabilityFlags).
const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_LONG_FLAG: u32 = 0x4;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
pub(super) const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_MULTI_RESULTS: u32 = 0x20000;
pub(super) const CLIENT_PLUGIN_AUTH: u32 = 0x80000;

/// The most rows and columns a query's answer may have: preflight's own
/// queries return one row of one column.
pub(crate) const MAX_ROWS: usize = 1000;
pub(crate) const MAX_COLUMNS: u64 = 1000;

/// The longest a finished session waits for the server to acknowledge
/// COM_QUIT.
const QUIT_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

const COM_QUIT: u8 = 0x01;
const COM_QUERY: u8 = 0x03;

/// Who logs in, to which database.
pub(crate) struct Login<'a> {
    pub(crate) user: &'a str,
    pub(crate) password: &'a str,
    pub(crate) database: &'a str,
}

impl<'a> Login<'a> {
    pub(crate) fn of(t: &'a Target) -> Self {
        Login {
            user: t.user.as_deref().unwrap_or(""),
            password: t.password.as_ref().map_or("", |p| p.expose()),
            database: &t.path,
        }
    }
}

/// Why a login or query did not go through, before deciding what it means.
pub(crate) enum Refusal {
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
    pub(crate) fn into_probe_error(self) -> ProbeError {
        match self {
            Refusal::Server(e) => super::classify(e),
            Refusal::Unsupported(m) => ProbeError::Fatal(m),
            Refusal::Probe(e) => e,
        }
    }
}

/// The TLS wishes of one target (`ssl-mode`...), built once.
#[derive(Debug, Clone)]
pub(crate) struct Ssl {
    mode: TlsMode,
    tls: Tls,
}

impl Ssl {
    /// `ssl-mode=DISABLED`.
    pub(crate) fn disabled(&self) -> bool {
        self.mode == TlsMode::Disable
    }

    pub(crate) fn new(t: &Target) -> Ssl {
        let params = &t.params.tls;
        let mode = params.effective_mode(t.protocol, false);
        Ssl {
            mode,
            tls: Tls::with_options(&t.host, &params.options(mode, t.ca_file.clone())),
        }
    }
}

/// What every HandshakeResponse (and the SSL request) says it speaks.
fn base_caps(server: u32) -> u32 {
    CLIENT_LONG_PASSWORD
        | CLIENT_LONG_FLAG
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_MULTI_RESULTS
        | (server & CLIENT_PLUGIN_AUTH)
}

/// One connection, past its greeting.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    /// The sequence number the next packet we write carries.
    seq: u8,
    greeting: Greeting,
}

#[derive(Debug)]
pub(super) struct Greeting {
    pub(super) capabilities: u32,
    pub(super) scramble: Vec<u8>,
    pub(super) plugin: String,
}

impl Conn {
    /// Connect and read the greeting; an ERR instead of it is classified.
    /// With TLS as `ssl` says: after the greeting, the SSL request (the
    /// first 32 bytes of a HandshakeResponse, CLIENT_SSL set), then the
    /// handshake; nothing else is sent before it.
    pub(crate) async fn open(t: &Target, ssl: &Ssl) -> Result<Conn, ProbeError> {
        let mut stream = Stream::Plain(net::connect(&t.host, t.port).await?);
        let (seq, payload) = read_packet(&mut stream, "the server greeting").await?;
        if payload.first() == Some(&0xff) {
            return Err(super::classify(parse_err(&payload)?));
        }
        let greeting = parse_greeting(&payload)?;
        let mut seq = seq.wrapping_add(1);
        let offered = greeting.capabilities & CLIENT_SSL != 0;
        let wanted = match ssl.mode {
            TlsMode::Disable | TlsMode::Allow => false,
            TlsMode::Prefer => offered,
            _ if offered => true,
            _ => {
                return Err(ProbeError::Fatal(
                    "the server does not offer TLS, and ssl-mode requires it (nothing was sent; \
                     use ssl-mode=PREFERRED or DISABLED to allow a plain connection)"
                        .into(),
                ));
            }
        };
        if wanted {
            ssl.tls.usable()?;
            let mut p = vec![32, 0, 0, seq];
            p.extend_from_slice(&(base_caps(greeting.capabilities) | CLIENT_SSL).to_le_bytes());
            p.extend_from_slice(&(16u32 << 20).to_le_bytes());
            p.push(45);
            p.extend_from_slice(&[0; 23]);
            stream
                .write_all(&p)
                .await
                .map_err(ProbeError::io("write"))?;
            seq = seq.wrapping_add(1);
            stream = stream.upgrade(&ssl.tls).await?;
        }
        Ok(Conn {
            stream,
            seq,
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
    pub(crate) async fn login(&mut self, login: &Login<'_>) -> Result<(), Refusal> {
        let server = self.greeting.capabilities;
        if server & CLIENT_PROTOCOL_41 == 0 || server & CLIENT_SECURE_CONNECTION == 0 {
            return Err(ProbeError::Protocol(
                "the server does not speak protocol 4.1 (MySQL older than 4.1?)".into(),
            )
            .into());
        }
        let mut caps = base_caps(server);
        if self.stream.is_tls() {
            caps |= CLIENT_SSL;
        }
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
                    // Full authentication: over TLS the password itself,
                    // NUL-terminated (the channel protects it).
                    Some(0x04) if self.stream.is_tls() => {
                        let mut p = login.password.as_bytes().to_vec();
                        p.push(0);
                        self.write(&p).await?;
                    }
                    Some(0x04) => {
                        return Err(Refusal::Unsupported(format!(
                            "caching_sha2_password asks for full authentication of '{}', which \
                             needs TLS (ssl-mode) or RSA (not supported); it succeeds on its fast path once \
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

    /// COM_QUERY in the text protocol: the first column of the first row
    /// (None: no row; Some(None): SQL NULL). Every other row and column is
    /// read and dropped, at most [`MAX_ROWS`] rows of at most [`MAX_COLUMNS`]
    /// columns: a peer that streams rows for ever ends the try, it cannot
    /// grow preflight's memory.
    pub(crate) async fn query(&mut self, sql: &str) -> Result<Option<Option<String>>, Refusal> {
        self.seq = 0;
        let mut p = Vec::with_capacity(1 + sql.len());
        p.push(COM_QUERY);
        p.extend_from_slice(sql.as_bytes());
        self.write(&p).await?;
        let first = self.read("the query result").await?;
        match first.first() {
            Some(0xff) => return Err(Refusal::Server(parse_err(&first)?)),
            Some(0x00) => return Ok(None),
            _ => {}
        }
        let columns =
            lenenc_int(&first, &mut 0).ok_or_else(|| garbage("the column count", &first))?;
        if columns > MAX_COLUMNS {
            return Err(ProbeError::Protocol(format!(
                "a result of {columns} columns, more than the {MAX_COLUMNS} allowed"
            ))
            .into());
        }
        // Column definitions, then EOF (CLIENT_DEPRECATE_EOF is not asked for).
        for _ in 0..columns {
            self.read("a column definition").await?;
        }
        let eof = self.read("the end of the column definitions").await?;
        if eof.first() != Some(&0xfe) {
            return Err(garbage("the end of the column definitions", &eof).into());
        }
        let mut first_value = None;
        for _ in 0..=MAX_ROWS {
            let row = self.read("a row").await?;
            match row.first() {
                Some(0xfe) if row.len() < 9 => return Ok(first_value),
                Some(0xff) => return Err(Refusal::Server(parse_err(&row)?)),
                _ => {}
            }
            if first_value.is_some() || columns == 0 {
                continue;
            }
            if row.first() == Some(&0xfb) {
                first_value = Some(None);
                continue;
            }
            let mut at = 0;
            let len = lenenc_int(&row, &mut at).ok_or_else(|| garbage("a row", &row))?;
            let end = at
                .checked_add(usize::try_from(len).unwrap_or(usize::MAX))
                .filter(|&e| e <= row.len())
                .ok_or_else(|| garbage("a row", &row))?;
            first_value = Some(Some(String::from_utf8_lossy(&row[at..end]).into_owned()));
        }
        Err(ProbeError::Protocol(format!(
            "a result of more than {MAX_ROWS} rows: not the answer to {}",
            net::shown(sql.as_bytes())
        ))
        .into())
    }

    /// COM_QUIT, then wait for the server to close: a clean end of session
    /// (no "Aborted connection" on the server's side). Errors are moot here.
    ///
    /// The server's close, or any answer (some proxies answer OK and keep the
    /// socket open), ends the wait; so does [`QUIT_WAIT`]: the session is
    /// over either way, and the probe's verdict is already known.
    pub(crate) async fn quit(mut self) {
        self.seq = 0;
        if self.write(&[COM_QUIT]).await.is_ok() {
            let mut sink = [0u8; 256];
            let _ = tokio::time::timeout(QUIT_WAIT, self.stream.read(&mut sink)).await;
        }
    }
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

/// A query's first value as a log line shows it.
pub(crate) fn shown_value(v: &Option<Option<String>>) -> String {
    match v {
        None => "no row".into(),
        Some(None) => "NULL".into(),
        Some(Some(v)) => format!("'{}'", net::shown(v.as_bytes())),
    }
}
