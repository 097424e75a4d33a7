//! HPACK (RFC 7541), as much as one gRPC call needs: the request's header
//! block written as literals without indexing (no Huffman, nothing for the
//! server to remember), and a full decoder for the server's blocks (static
//! and dynamic table, Huffman strings, size updates), because a server may
//! use any of it.
//!
//! The Huffman code is canonical (codes of one length are consecutive, in
//! symbol order), so the table is only each symbol's code length
//! ([`CODE_LENGTHS`], from RFC 7541 Appendix B); decoding walks the lengths.
//!
//! Limits: the dynamic table stays within the 4096 bytes HTTP/2 allows by
//! default (a larger size update is an error), a decoded block within
//! [`super::super::net::MAX_FRAME`] bytes of names and values.

use super::super::net::MAX_FRAME;

/// The static table's names (RFC 7541 Appendix A), index 1 first. Values
/// only where a server may index them whole: methods, paths, schemes,
/// statuses, accept-encoding.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// The length in bits of each symbol's Huffman code, 0..=255 then EOS.
const CODE_LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    30,
];

/// The dynamic table's size limit: HTTP/2's default, which we never raise.
const TABLE_MAX: usize = 4096;

/// Append a header field as a literal without indexing, new name, no
/// Huffman (`0000 0000`, name, value).
pub fn encode_literal(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(0);
    for s in [name, value] {
        integer(out, 0, 7, s.len());
        out.extend_from_slice(s.as_bytes());
    }
}

/// An HPACK integer with an `n`-bit prefix after the bits in `first`.
fn integer(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// One header field: (name, value), as bytes.
pub type Field = (Vec<u8>, Vec<u8>);

/// The decoding side of one connection.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Newest first.
    table: Vec<Field>,
    size: usize,
    max: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Decoder {
            max: TABLE_MAX,
            ..Decoder::default()
        }
    }

    /// Every (name, value) of one complete header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, String> {
        let mut r = Reader { b: block, pos: 0 };
        let mut fields = Vec::new();
        let mut total = 0;
        while r.pos < block.len() {
            let first = block[r.pos];
            let field = if first & 0x80 != 0 {
                let i = r.int(7)?;
                self.get(i)?
            } else if first & 0xe0 == 0x20 {
                let size = r.int(5)?;
                if size > TABLE_MAX {
                    return Err(format!("a dynamic table of {size} bytes"));
                }
                self.max = size;
                self.evict(0);
                continue;
            } else {
                let (prefix, index) = if first & 0x40 != 0 {
                    (6, true)
                } else {
                    (4, false)
                };
                let i = r.int(prefix)?;
                let name = if i == 0 { r.string()? } else { self.get(i)?.0 };
                let value = r.string()?;
                if index {
                    self.add(name.clone(), value.clone());
                }
                (name, value)
            };
            total += field.0.len() + field.1.len();
            if total > MAX_FRAME {
                return Err("a header block over the cap".into());
            }
            fields.push(field);
        }
        Ok(fields)
    }

    fn get(&self, i: usize) -> Result<Field, String> {
        match i {
            1..=61 => {
                let (n, v) = STATIC[i - 1];
                Ok((n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            }
            _ => self
                .table
                .get(i.wrapping_sub(62))
                .cloned()
                .ok_or_else(|| format!("index {i} is in no table")),
        }
    }

    fn add(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = name.len() + value.len() + 32;
        self.evict(size);
        if size <= self.max {
            self.size += size;
            self.table.insert(0, (name, value));
        }
    }

    /// Drop the oldest entries until `room` more bytes fit.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max {
            match self.table.pop() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.b.get(self.pos).ok_or("a header block cut short")?;
        self.pos += 1;
        Ok(b)
    }

    fn int(&mut self, n: u32) -> Result<usize, String> {
        let max = (1usize << n) - 1;
        let mut v = usize::from(self.byte()?) & max;
        if v < max {
            return Ok(v);
        }
        for shift in (0..28).step_by(7) {
            let b = self.byte()?;
            v += usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("an integer too large".into())
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let huffman = self.b.get(self.pos).is_some_and(|b| b & 0x80 != 0);
        let len = self.int(7)?;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.b.len());
        let raw = &self.b[self.pos..end.ok_or("a string past the block's end")?];
        self.pos += len;
        if huffman {
            huffman_decode(raw)
        } else {
            Ok(raw.to_vec())
        }
    }
}

/// Decode a Huffman-coded string: canonical codes, walked length by length.
fn huffman_decode(raw: &[u8]) -> Result<Vec<u8>, String> {
    // first[l]: the first code of length l; symbols sorted by (length, symbol).
    let mut sorted: Vec<u16> = (0..257).collect();
    sorted.sort_by_key(|&s| (CODE_LENGTHS[s as usize], s));
    let mut first = [0u32; 31];
    let mut count = [0u32; 31];
    let mut offset = [0usize; 31];
    for &s in &sorted {
        count[CODE_LENGTHS[s as usize] as usize] += 1;
    }
    let (mut code, mut index) = (0u32, 0usize);
    for len in 1..31 {
        first[len] = code;
        offset[len] = index;
        code = (code + count[len]) << 1;
        index += count[len] as usize;
    }
    let mut out = Vec::with_capacity(raw.len() * 8 / 5);
    let (mut acc, mut len, mut ones) = (0u32, 0usize, true);
    for byte in raw {
        for bit in (0..8).rev() {
            let b = u32::from(byte >> bit & 1);
            acc = acc << 1 | b;
            ones &= b == 1;
            len += 1;
            if len > 30 {
                return Err("a Huffman code longer than 30 bits".into());
            }
            let rel = acc.wrapping_sub(first[len]);
            if acc >= first[len] && rel < count[len] {
                let sym = sorted[offset[len] + rel as usize];
                if sym == 256 {
                    return Err("EOS inside a Huffman string".into());
                }
                out.push(sym as u8);
                (acc, len, ones) = (0, 0, true);
            }
        }
    }
    // What is left must be padding: fewer than 8 bits, all ones.
    if len > 7 || !ones {
        return Err("bad Huffman padding".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7541 C.4.1: "www.example.com" Huffman-coded.
    #[test]
    fn huffman_example_of_the_rfc() {
        let raw = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(huffman_decode(&raw).unwrap(), b"www.example.com");
        assert!(huffman_decode(&[0x00]).is_err(), "zeros are not padding");
    }

    /// RFC 7541 C.6.1: a response with Huffman strings and indexing.
    #[test]
    fn response_example_of_the_rfc() {
        let block: Vec<u8> = [
            "4882 6402 5885 aec3 771a 4b61 96d0 7abe",
            "9410 54d4 44a8 2005 9504 0b81 66e0 82a6",
            "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8",
            "e9ae 82ae 43d3",
        ]
        .concat()
        .split_whitespace()
        .flat_map(|w| {
            (0..w.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&w[i..i + 2], 16).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
        let mut d = Decoder::new();
        let fields = d.decode(&block).unwrap();
        let text: Vec<(String, String)> = fields
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        assert_eq!(text[0], (":status".into(), "302".into()));
        assert_eq!(
            text[3],
            ("location".into(), "https://www.example.com".into())
        );
        assert_eq!(d.size, 222);
        // The next response refers to the table.
        assert_eq!(
            d.decode(&[0x48, 0x83, 0x64, 0x0e, 0xff, 0xc1]).unwrap()[1].0,
            b"cache-control"
        );
    }

    #[test]
    fn literals_round_trip_and_hostile_blocks_are_errors() {
        let mut out = Vec::new();
        encode_literal(&mut out, ":path", &"/x".repeat(100));
        let fields = Decoder::new().decode(&out).unwrap();
        assert_eq!(fields[0].1.len(), 200);
        assert!(
            Decoder::new()
                .decode(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
                .is_err()
        );
        assert!(
            Decoder::new().decode(&[0xbe]).is_err(),
            "index 62, empty table"
        );
        assert!(Decoder::new().decode(&[0x00, 0x7f, 0x80]).is_err());
        assert!(
            Decoder::new().decode(&[0x3f, 0xe2, 0x1f]).is_err(),
            "table of 4097"
        );
        assert!(
            Decoder::new().decode(&[0x3f, 0xe1, 0x1f]).is_ok(),
            "table of 4096"
        );
    }
}
