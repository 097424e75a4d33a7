//! DNS (`dns://name`): the name resolves.
//!
//! Without `?type=` or with `type=A` / `type=AAAA`, the name is looked up as
//! the app will look it up, through the system resolver (`getaddrinfo`:
//! `/etc/hosts`, search domains, nsswitch); `A` keeps IPv4 answers, `AAAA`
//! IPv6 ones. With `type=SRV` (or `server=` for any type) the probe sends
//! one DNS query of its own over UDP (RD set, id random, the reply capped
//! at 4 KiB and checked against the query's id and question count) to the
//! `server=` given, else the first `nameserver` of `/etc/resolv.conf`;
//! the name is taken as absolute (no search list).
//!
//! | answer | meaning |
//! | --- | --- |
//! | at least one record of the type (and `address=` among them when given) | ready |
//! | no such name, no record of the type, SERVFAIL, the name not resolving | not yet |
//! | records, but not `address=` | not yet, naming what it resolves to |
//! | a reply that is not DNS, cut short, or for another query | protocol error |
//!
//! `address=` is an IP for A/AAAA, and for SRV a `host` or `host:port`
//! (the record's target, without the final dot).
//!
//! Deliberately not done: TCP fallback for truncated replies (the records in
//! the truncated part are ignored), DNSSEC, EDNS.

use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

use crate::expect::{DnsQuery, DnsType};
use crate::target::Target;

use super::{ProbeError, net};

const MAX_REPLY: usize = 4096;

#[derive(Debug, Clone)]
pub struct Dns {
    name: String,
    query: DnsQuery,
}

impl Dns {
    pub fn new(target: &Target) -> Self {
        Dns {
            name: target.host.clone(),
            query: target.expect.dns.clone().unwrap_or_default(),
        }
    }

    pub async fn check(&self) -> Result<(), ProbeError> {
        let q = &self.query;
        let found: Vec<String> = if q.kind == DnsType::Srv || q.server.is_some() {
            let server = match q.server {
                Some(s) => s,
                None => system_nameserver()?,
            };
            ask(server, &self.name, q.kind).await?
        } else {
            let addrs = net::resolve(&self.name, 0).await?;
            addrs
                .iter()
                .map(SocketAddr::ip)
                .filter(|ip| match q.kind {
                    DnsType::A => ip.is_ipv4(),
                    DnsType::Aaaa => ip.is_ipv6(),
                    _ => true,
                })
                .map(|ip| ip.to_string())
                .collect()
        };
        if found.is_empty() {
            return Err(ProbeError::NotReady(format!(
                "{} has no {} record yet",
                self.name,
                q.kind.name()
            )));
        }
        match &q.address {
            Some(want) if !found.iter().any(|f| matches(f, want)) => Err(ProbeError::NotReady(
                format!("{} resolves to {}, not {want}", self.name, found.join(", ")),
            )),
            _ => Ok(()),
        }
    }
}

/// `found` (an IP, or an SRV `host:port`) is what `want` names.
fn matches(found: &str, want: &str) -> bool {
    if let (Ok(a), Ok(b)) = (found.parse::<IpAddr>(), want.parse::<IpAddr>()) {
        return a == b;
    }
    found.eq_ignore_ascii_case(want)
        || found
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case(want))
}

/// The first `nameserver` of `/etc/resolv.conf`.
fn system_nameserver() -> Result<SocketAddr, ProbeError> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| {
        ProbeError::NotReady(format!(
            "cannot read /etc/resolv.conf: {}",
            net::describe(&e)
        ))
    })?;
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| ProbeError::NotReady("no nameserver in /etc/resolv.conf".into()))
}

/// One query of `kind` for `name` to `server`: the answers, as text.
async fn ask(server: SocketAddr, name: &str, kind: DnsType) -> Result<Vec<String>, ProbeError> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = UdpSocket::bind(local)
        .await
        .map_err(ProbeError::io("dns socket"))?;
    sock.connect(server).await.map_err(ProbeError::Connect)?;
    let mut id = [0u8; 2];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| ProbeError::Fatal("no randomness for a DNS query id".into()))?;
    let query = encode(u16::from_be_bytes(id), name, kind.code())?;
    sock.send(&query).await.map_err(ProbeError::Connect)?;
    let mut buf = vec![0; MAX_REPLY];
    loop {
        // A refused port shows as ECONNREFUSED on the connected socket.
        let n = sock.recv(&mut buf).await.map_err(ProbeError::Connect)?;
        let reply = &buf[..n];
        // Not ours (a late reply to an earlier try): keep waiting.
        if reply.len() < 2 || reply[..2] != id {
            continue;
        }
        return decode(reply, kind);
    }
}

fn encode(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, ProbeError> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; 1 question
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(ProbeError::Fatal(format!(
                "'{name}' is not a DNS name (a label is empty or longer than 63)"
            )));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    Ok(q)
}

/// The records of `kind` in a reply: IPs for A/AAAA, `host:port` for SRV.
fn decode(reply: &[u8], kind: DnsType) -> Result<Vec<String>, ProbeError> {
    let bad = |why: &str| ProbeError::Protocol(format!("DNS reply: {why}"));
    if reply.len() < 12 {
        return Err(bad("shorter than its header"));
    }
    let u16_at = |i: usize| -> Result<u16, ProbeError> {
        reply
            .get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| bad("cut short"))
    };
    let flags = u16_at(2)?;
    if flags & 0x8000 == 0 {
        return Err(bad("not a response"));
    }
    match flags & 0x000f {
        0 => {}
        3 => return Ok(Vec::new()), // NXDOMAIN
        code => {
            return Err(ProbeError::NotReady(format!(
                "the DNS server answered rcode {code}{}",
                if code == 2 { " (SERVFAIL)" } else { "" }
            )));
        }
    }
    if u16_at(4)? != 1 {
        return Err(bad("not one question"));
    }
    let answers = u16_at(6)?;
    let mut pos = skip_name(reply, 12)? + 4;
    let mut out = Vec::new();
    for _ in 0..answers {
        pos = skip_name(reply, pos)?;
        let rtype = u16_at(pos)?;
        let len = u16_at(pos + 8)? as usize;
        let data = pos + 10;
        let rdata = reply
            .get(data..data + len)
            .ok_or_else(|| bad("a record past the end"))?;
        if rtype == kind.code() {
            match (kind, len) {
                (DnsType::A, 4) => out
                    .push(IpAddr::from(<[u8; 4]>::try_from(rdata).unwrap_or_default()).to_string()),
                (DnsType::Aaaa, 16) => out.push(
                    IpAddr::from(<[u8; 16]>::try_from(rdata).unwrap_or_default()).to_string(),
                ),
                (DnsType::Srv, 7..) => {
                    let port = u16_at(data + 4)?;
                    let target = read_name(reply, data + 6)?;
                    out.push(format!("{target}:{port}"));
                }
                _ => return Err(bad("a record of the wrong size")),
            }
        }
        pos = data + len;
    }
    Ok(out)
}

/// Past the name at `pos` (labels, or a compression pointer).
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, ProbeError> {
    loop {
        let len = *msg
            .get(pos)
            .ok_or_else(|| ProbeError::Protocol("DNS reply: a name past the end".into()))?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => return Ok(pos + 2),
            l => pos += 1 + l as usize,
        }
    }
}

/// The name at `pos`, following compression pointers (at most 32 jumps,
/// so a loop of pointers ends).
fn read_name(msg: &[u8], mut pos: usize) -> Result<String, ProbeError> {
    let bad = || ProbeError::Protocol("DNS reply: a bad name".into());
    let mut labels = Vec::new();
    for _ in 0..128 {
        let len = *msg.get(pos).ok_or_else(bad)?;
        if len == 0 {
            return Ok(labels.join("."));
        }
        if len & 0xc0 == 0xc0 {
            let low = *msg.get(pos + 1).ok_or_else(bad)?;
            pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
            continue;
        }
        let label = msg.get(pos + 1..pos + 1 + len as usize).ok_or_else(bad)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        pos += 1 + len as usize;
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_and_a_compressed_srv_answer() {
        let q = encode(0x1234, "_db._tcp.example.", DnsType::Srv.code()).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert!(q.ends_with(b"\x03_db\x04_tcp\x07example\x00\x00\x21\x00\x01"));
        let mut r = q.clone();
        r[2] = 0x81;
        r[7] = 1; // one answer
        r.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 11]);
        r.extend_from_slice(&[0, 1, 0, 1, 0x15, 0x38]); // prio, weight, port 5432
        r.extend_from_slice(b"\x02db\xc0\x15"); // db + pointer to "example"
        assert_eq!(decode(&r, DnsType::Srv).unwrap(), ["db.example:5432"]);
        // A pointer loop ends.
        let mut looped = r.clone();
        let at = looped.len() - 2;
        looped[at + 1] = at as u8 - 3;
        assert!(decode(&looped, DnsType::Srv).is_err());
        assert!(matches("db.example:5432", "db.example"));
        assert!(matches("::1", "0:0::1"));
    }
}
