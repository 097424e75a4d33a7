//! The MySQL packet codec: every packet is a 3-byte little-endian length, a
//! sequence byte and the payload, read with the `net::MAX_FRAME` cap; the
//! greeting, ERR packets ([`ServerError`]) and length-encoded integers are
//! parsed here. No decisions and no I/O beyond reading one packet.

use super::super::{ProbeError, net};
use super::conn::{CLIENT_PLUGIN_AUTH, CLIENT_SECURE_CONNECTION, Greeting};

/// An ERR packet: code and message (SQLSTATE dropped).
#[derive(Debug)]
pub(crate) struct ServerError {
    pub(crate) code: u16,
    pub(crate) message: String,
}

/// Read one packet: (sequence, payload).
pub(super) async fn read_packet(
    stream: &mut crate::probe::tls::Stream,
    what: &str,
) -> Result<(u8, Vec<u8>), ProbeError> {
    let header = net::read_exact(stream, 4, what).await?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let payload = net::read_exact(stream, len, what).await?;
    Ok((header[3], payload))
}

/// ERR packet: `0xff`, code (2), optionally `#` + SQLSTATE (5), message.
pub(super) fn parse_err(p: &[u8]) -> Result<ServerError, ProbeError> {
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
        message: net::shown(msg.trim_ascii()),
    })
}

/// HandshakeV10: protocol 10, version NUL, thread id (4), scramble part 1 (8),
/// filler, capabilities low (2), charset, status (2), capabilities high (2),
/// scramble length, reserved (10), scramble part 2, plugin name NUL.
pub(super) fn parse_greeting(p: &[u8]) -> Result<Greeting, ProbeError> {
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
pub(super) fn lenenc_int(p: &[u8], at: &mut usize) -> Option<u64> {
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

/// A protocol error quoting the first bytes the peer sent.
pub(super) fn garbage(what: &str, bytes: &[u8]) -> ProbeError {
    let shown = net::shown(&bytes[..bytes.len().min(16)]);
    ProbeError::Protocol(format!("unexpected bytes in {what}: \"{shown}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(parse_err(b"\xff").is_err());
    }
}
