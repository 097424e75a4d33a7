//! `--log-prefix`: each line a program writes, on the stream it came on,
//! as `NAME | line`, written whole in one go. Lines are never split (a
//! partial line waits for its end) nor merged (a last line without its
//! newline gets one when the pipe closes). One bound: a line longer than
//! [`MAX_LINE`] is written as it is when it reaches it, so that a program
//! that never writes a newline cannot make preflight's memory grow without
//! end.

use std::io::Write;

/// The longest line kept whole.
pub const MAX_LINE: usize = 1 << 20;

/// One program's stdout or stderr, between reads.
#[derive(Debug)]
pub struct Lines {
    prefix: Vec<u8>,
    to_stderr: bool,
    partial: Vec<u8>,
}

impl Lines {
    pub fn new(name: &str, to_stderr: bool) -> Lines {
        Lines {
            prefix: format!("{name} | ").into_bytes(),
            to_stderr,
            partial: Vec::new(),
        }
    }

    /// What was read: every complete line goes out now, the rest waits.
    pub fn feed(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|b| *b == b'\n') {
            let (line, rest) = data.split_at(i + 1);
            self.emit(line);
            data = rest;
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() >= MAX_LINE {
            let mut long = std::mem::take(&mut self.partial);
            long.push(b'\n');
            self.write(&long);
        }
    }

    /// The pipe closed: a last line without its newline goes out with one.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let mut last = std::mem::take(&mut self.partial);
            last.push(b'\n');
            self.write(&last);
        }
    }

    fn emit(&mut self, line: &[u8]) {
        if self.partial.is_empty() {
            self.write(line);
        } else {
            let mut whole = std::mem::take(&mut self.partial);
            whole.extend_from_slice(line);
            self.write(&whole);
        }
    }

    /// `NAME | ` and the line in one buffer, written with one `write_all`
    /// (std's stderr is unbuffered; stdout's line buffer is flushed here).
    fn write(&self, line: &[u8]) {
        let mut buf = Vec::with_capacity(self.prefix.len() + line.len());
        buf.extend_from_slice(&self.prefix);
        buf.extend_from_slice(line);
        // A closed stdout or stderr: nothing to do about it, and no reason
        // to stop supervising.
        if self.to_stderr {
            let _ = std::io::stderr().lock().write_all(&buf);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf);
            let _ = out.flush();
        }
    }
}
