//! memcached (`memcached://`): the text protocol's `version`.
//!
//! Sends `version\r\n` and reads one line (capped at [`net::MAX_FRAME`]):
//!
//! | reply | meaning |
//! | --- | --- |
//! | `VERSION <v>` | ready |
//! | `SERVER_ERROR <text>` (out of memory, too many connections...) | not yet, with its text |
//! | `ERROR`, `CLIENT_ERROR`: a server that only speaks the binary protocol (SASL on) | fatal: it will never answer `version` |
//! | anything else, EOF | protocol error |
//!
//! Then it closes (`quit` would only add a round trip).
//!
//! Deliberately not checked: SASL authentication, the binary protocol, that
//! the cache holds anything.

use tokio::io::AsyncWriteExt;

use crate::target::Target;

use super::{ProbeError, net};

#[derive(Debug, Clone)]
pub struct Memcached {
    host: String,
    port: u16,
}

impl Memcached {
    pub fn new(target: &Target) -> Self {
        Memcached {
            host: target.host.clone(),
            port: target.port,
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let mut conn = net::Lines::new(net::connect(&self.host, self.port).await?);
        conn.stream
            .write_all(b"version\r\n")
            .await
            .map_err(|e| net::io_error(e, "memcached", "sending version"))?;
        let line = conn.line("the reply to version").await?;
        if line.starts_with(b"VERSION ") {
            return Ok(());
        }
        let shown = net::shown(&line);
        if line.starts_with(b"SERVER_ERROR") {
            Err(ProbeError::NotReady(format!("memcached: {shown}")))
        } else if line == b"ERROR" || line.starts_with(b"CLIENT_ERROR") {
            Err(ProbeError::Fatal(format!(
                "memcached refused the text protocol's version command ({shown}): binary \
                 protocol only (SASL)?"
            )))
        } else {
            Err(ProbeError::Protocol(format!(
                "expected VERSION from memcached, got \"{shown}\""
            )))
        }
    }
}
