//! `--user USER[:GROUP]` → the ids the hooks and the command run as.
//! (Not written yet.)

use std::path::PathBuf;

/// Who the child becomes, resolved before anything starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// `HOME` for the child, from the passwd entry.
    pub home: Option<PathBuf>,
}

/// Resolve `USER[:GROUP]` (names or numeric ids).
pub fn resolve(spec: &str) -> Result<Credentials, String> {
    let _ = spec;
    todo!("user")
}
