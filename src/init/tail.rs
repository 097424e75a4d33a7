//! `--tail PATH`: what is appended to a file goes to preflight's stdout, as
//! `tail -F` does, for programs that only log to files.
//!
//! - A file that exists at start is read from its end; one that appears
//!   later (created, or renamed into place) from its beginning.
//! - Rotation: when the name points to another file (a new inode), what is
//!   left in the old one is copied first, then the new one from its start.
//! - Truncation (`> file`, `copytruncate`): the file got shorter than what
//!   was read: it is read again from its start. As with `tail -F`, a file
//!   truncated and written past its old length before preflight looks is
//!   not told from one that grew: it goes on from the old length.
//! - Only whole lines are written (a partial line waits for its end, or for
//!   the rotation), so they never merge with the programs' own lines.
//!
//! No polling: one inotify descriptor watches each file's directory (which
//! reports changes to the files in it too, whatever their inode); each
//! event makes preflight look at the files again. The directory must exist
//! when preflight starts; a file in a missing one is skipped with a warning.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tracing::{debug, warn};

/// The files being followed, and the one descriptor that says when to look.
pub struct Tails {
    inotify: Inotify,
    files: Vec<Followed>,
}

struct Followed {
    path: PathBuf,
    /// The file the name pointed to when last looked at.
    open: Option<(File, u64)>,
    /// Read so far in `open`.
    pos: u64,
    /// The end of a line not yet written.
    partial: Vec<u8>,
}

impl Tails {
    /// Start following `paths`; None if there is nothing to follow (no
    /// path, or inotify unavailable: a warning says so).
    pub fn new(paths: &[PathBuf]) -> Option<Tails> {
        if paths.is_empty() {
            return None;
        }
        let inotify = match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
            Ok(i) => i,
            Err(e) => {
                warn!("--tail: cannot watch files: {e}");
                return None;
            }
        };
        let mut files = Vec::new();
        for path in paths {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let flags = AddWatchFlags::IN_MODIFY
                | AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_CLOSE_WRITE;
            if let Err(e) = inotify.add_watch(dir, flags) {
                warn!(
                    "--tail {}: cannot watch its directory: {e}; not followed",
                    path.display()
                );
                continue;
            }
            let mut f = Followed {
                path: path.clone(),
                open: None,
                pos: 0,
                partial: Vec::new(),
            };
            // From the end, as tail does: what was there is old news.
            if let Ok(file) = File::open(path) {
                if let Ok(meta) = file.metadata() {
                    f.pos = meta.len();
                    f.open = Some((file, meta.ino()));
                }
            }
            files.push(f);
        }
        Some(Tails { inotify, files })
    }

    /// The descriptor to poll for reading.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }

    /// The descriptor is readable: take the events, copy what is new.
    pub fn on_ready(&mut self) {
        // The events only say "look again"; which file changed does not
        // matter (a rename gives the old name's inode a new name).
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
        }
        for f in &mut self.files {
            f.look();
        }
    }
}

impl Followed {
    fn look(&mut self) {
        let now = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.ino(), m.len()));
        let same =
            matches!((&self.open, now), (Some((_, ino)), Some((now_ino, _))) if *ino == now_ino);
        if !same {
            // Rotated, or gone: what the old file still had, first.
            if self.open.is_some() {
                self.copy();
                self.flush_partial();
                self.open = None;
            }
            if now.is_some() {
                if let Ok(file) = File::open(&self.path) {
                    if let Ok(meta) = file.metadata() {
                        debug!(path = %self.path.display(), "--tail: following a new file");
                        self.open = Some((file, meta.ino()));
                        self.pos = 0;
                    }
                }
            }
        } else if let Some((_, len)) = now {
            if len < self.pos {
                debug!(path = %self.path.display(), "--tail: truncated, from the start");
                self.pos = 0;
                self.partial.clear();
            }
        }
        self.copy();
    }

    /// Copy from `pos` to the end; whole lines only.
    fn copy(&mut self) {
        let Some((file, _)) = self.open.as_mut() else {
            return;
        };
        if file.seek(SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut buf = [0u8; 16 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.pos += n as u64;
                    self.partial.extend_from_slice(&buf[..n]);
                    if let Some(i) = self.partial.iter().rposition(|b| *b == b'\n') {
                        let rest = self.partial.split_off(i + 1);
                        write_out(&self.partial);
                        self.partial = rest;
                    }
                }
            }
        }
    }

    fn flush_partial(&mut self) {
        if !self.partial.is_empty() {
            let mut last = std::mem::take(&mut self.partial);
            last.push(b'\n');
            write_out(&last);
        }
    }
}

fn write_out(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes);
    let _ = out.flush();
}
