//! `--lock` on MySQL / MariaDB: `GET_LOCK(name)`, taken on a connection of
//! its own (logged in with the URL's credentials) and released by the
//! server when that connection ends, also when preflight is killed.

use crate::probe::ProbeError;
use crate::probe::mysql::conn::{Conn, Login, Refusal};
use crate::target::Target;

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
