//! How preflight writes a few things in its lines, each in one place: an
//! I/O error, bytes as hex. A leaf: it imports nothing of preflight.
//! (A signal's name is `init::signals::Name`, a child's end
//! `init::describe`: both belong to the init core.)

use std::io;

/// A short human description of an I/O error, without Rust's `(os error N)`:
/// `connection refused`, `No such file or directory`.
pub fn io_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".into(),
        io::ErrorKind::TimedOut => "timed out".into(),
        io::ErrorKind::UnexpectedEof => "connection closed".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_without_os_error_numbers() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(io_error(&e), "No such file or directory");
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(io_error(&e), "connection refused");
    }

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(b""), "");
    }
}
