//! (Postgres probe: not written yet.)

use crate::target::Target;

use super::ProbeError;

#[derive(Debug, Clone)]
pub struct Postgres {
    target: Target,
}

impl Postgres {
    pub fn new(target: &Target) -> Self {
        Postgres {
            target: target.clone(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let _ = &self.target;
        todo!("postgres probe")
    }
}

/// A session-level lock (`--lock`) taken on its own connection: held until
/// the returned socket is dropped or closed, released by the server when the
/// connection goes away (also when preflight is killed). Waits for the lock
/// as long as the caller's future is polled; logs once when another holder is
/// seen. The socket is CLOEXEC, so it never leaks into a hook or the command.
pub async fn lock(target: &Target, name: &str) -> Result<std::net::TcpStream, ProbeError> {
    let _ = (target, name);
    todo!("postgres lock")
}
