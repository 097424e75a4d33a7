//! The MongoDB probe against a fake mongod written from the wire protocol's
//! documentation (OP_MSG, BSON by hand), in each state the probe must tell
//! apart, and against hostile peers.

use preflight::probe::ProbeError;
use preflight::target::parse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::fake::{self, Peer};
use crate::support::free_port;
use crate::support::probe::{self, check, not_ready};

/// What the fake server is.
#[derive(Clone, Debug)]
struct Mongod {
    /// Before 4.4.2 `hello` is "no such command" (59).
    knows_hello: bool,
    /// Some((code, codeName, errmsg)): answer ok: 0.
    error: Option<(i32, &'static str, &'static str)>,
    writable_primary: bool,
    set_name: Option<&'static str>,
}

const UP: Mongod = Mongod {
    knows_hello: true,
    error: None,
    writable_primary: true,
    set_name: None,
};

enum V {
    Double(f64),
    Int(i32),
    Bool(bool),
    Str(&'static str),
}

fn bson(fields: &[(&str, V)]) -> Vec<u8> {
    let mut d = Vec::new();
    for (name, v) in fields {
        let (kind, bytes) = match v {
            V::Double(f) => (1u8, f.to_le_bytes().to_vec()),
            V::Int(i) => (0x10, i.to_le_bytes().to_vec()),
            V::Bool(b) => (0x08, vec![*b as u8]),
            V::Str(s) => {
                let mut b = ((s.len() + 1) as i32).to_le_bytes().to_vec();
                b.extend_from_slice(s.as_bytes());
                b.push(0);
                (0x02, b)
            }
        };
        d.push(kind);
        d.extend_from_slice(name.as_bytes());
        d.push(0);
        d.extend_from_slice(&bytes);
    }
    d.push(0);
    let mut doc = ((d.len() + 4) as i32).to_le_bytes().to_vec();
    doc.extend_from_slice(&d);
    doc
}

async fn start(m: Mongod) -> String {
    format!("mongodb://{}", fake::serve_on(0, m, connection).await)
}

async fn connection(mut sock: TcpStream, m: Mongod) {
    loop {
        let mut header = [0; 16];
        if sock.read_exact(&mut header).await.is_err() {
            return;
        }
        let len = i32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        assert_eq!(i32::from_le_bytes(header[12..].try_into().unwrap()), 2013);
        let mut body = vec![0; len - 16];
        sock.read_exact(&mut body).await.unwrap();
        // flags (4), kind 0, the document: its first element's name.
        let doc = &body[5..];
        assert_eq!(doc[4], 0x10, "the command is {{name: 1}}");
        let end = doc[5..].iter().position(|&b| b == 0).unwrap();
        let command = std::str::from_utf8(&doc[5..5 + end]).unwrap();
        let reply = match (command, &m) {
            (
                "hello",
                Mongod {
                    knows_hello: false, ..
                },
            ) => bson(&[
                ("ok", V::Double(0.0)),
                ("errmsg", V::Str("no such command: 'hello'")),
                ("code", V::Int(59)),
                ("codeName", V::Str("CommandNotFound")),
            ]),
            (
                _,
                Mongod {
                    error: Some((code, name, msg)),
                    ..
                },
            ) => bson(&[
                ("ok", V::Double(0.0)),
                ("errmsg", V::Str(msg)),
                ("code", V::Int(*code)),
                ("codeName", V::Str(name)),
            ]),
            ("hello" | "isMaster", _) => {
                let primary = if command == "hello" {
                    "isWritablePrimary"
                } else {
                    "ismaster"
                };
                let mut fields = vec![
                    (primary, V::Bool(m.writable_primary)),
                    ("maxWireVersion", V::Int(17)),
                ];
                if let Some(set) = m.set_name {
                    fields.push(("setName", V::Str(set)));
                }
                fields.push(("ok", V::Double(1.0)));
                bson(&fields)
            }
            (other, _) => panic!("unexpected command {other}"),
        };
        let mut msg = ((16 + 5 + reply.len()) as i32).to_le_bytes().to_vec();
        msg.extend_from_slice(&7i32.to_le_bytes());
        msg.extend_from_slice(&header[4..8]); // responseTo: the request id
        msg.extend_from_slice(&2013i32.to_le_bytes());
        msg.extend_from_slice(&[0, 0, 0, 0, 0]);
        msg.extend_from_slice(&reply);
        if sock.write_all(&msg).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn hello_ok_is_ready_and_old_servers_get_ismaster() {
    check(&start(UP).await).await.unwrap();
    let old = Mongod {
        knows_hello: false,
        ..UP
    };
    check(&start(old.clone()).await).await.unwrap();
    let old_secondary = Mongod {
        writable_primary: false,
        ..old
    };
    let r = check(&format!("{}#primary=true", start(old_secondary).await)).await;
    assert!(matches!(r, Err(ProbeError::NotReady(_))), "{r:?}");
}

#[tokio::test]
async fn primary_true_waits_for_a_writable_primary() {
    let secondary = Mongod {
        writable_primary: false,
        set_name: Some("rs0"),
        ..UP
    };
    let url = start(secondary).await;
    // Without the option, any member that answers is ready.
    check(&url).await.unwrap();
    let m = not_ready(check(&format!("{url}#primary=true")).await);
    assert!(m.contains("rs0"), "{m}");
    check(&format!("{}#primary=true", start(UP).await))
        .await
        .unwrap();
}

#[tokio::test]
async fn ok_0_is_not_yet_with_the_servers_words() {
    let m = Mongod {
        error: Some((91, "ShutdownInProgress", "The server is in quiesce mode")),
        ..UP
    };
    let m = not_ready(check(&start(m).await).await);
    assert!(
        m.contains("quiesce") && m.contains("ShutdownInProgress"),
        "{m}"
    );
}

#[tokio::test]
async fn a_server_that_starts_late_is_noticed_and_27017_is_mongodb() {
    let port = free_port();
    let url = format!("mongodb://app:s3cret@127.0.0.1:{port}/app");
    let r = check(&url).await;
    assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
    fake::serve_on(port, UP, connection).await;
    check(&url).await.unwrap();
    assert_eq!(probe::kind("db:27017"), "Mongodb");
}

#[tokio::test]
async fn misbehaving_peers_are_protocol_errors() {
    let header = |len: i32, opcode: i32| {
        [
            len.to_le_bytes(),
            1i32.to_le_bytes(),
            1i32.to_le_bytes(),
            opcode.to_le_bytes(),
        ]
        .concat()
    };
    let mut bad_bson = header(16 + 5 + 9, 2013);
    bad_bson.extend_from_slice(&[0, 0, 0, 0, 0, 9, 0, 0, 0, 0x42, b'x', 0, 0, 0]);
    let peers = [
        Peer::CloseAtOnce,
        Peer::ReplyThenClose(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Peer::ReplyThenClose(header(i32::MAX, 2013)),
        Peer::ReplyThenClose(header(8, 2013)),
        Peer::ReplyThenClose(header(40, 1)),
        Peer::ReplyThenClose(bad_bson),
        Peer::ReplyThenClose(header(100, 2013)),
    ];
    fake::assert_protocol_errors("mongodb", peers).await;
}

#[tokio::test]
async fn silent_and_trickling_peers_leave_the_deadline_to_the_caller() {
    fake::assert_silent_peer_leaves_the_try_pending("mongodb").await;
    let header = [
        200i32.to_le_bytes(),
        1i32.to_le_bytes(),
        1i32.to_le_bytes(),
        2013i32.to_le_bytes(),
    ]
    .concat();
    fake::assert_trickling_peer_leaves_the_try_pending("mongodb", &header).await;
}

#[test]
fn primary_is_an_option_of_mongodb_only() {
    let e = parse("redis://r#primary=true").unwrap_err().to_string();
    assert!(e.contains("mongodb"), "{e}");
    let e = parse("mongodb://db#primary=yes").unwrap_err().to_string();
    assert!(e.contains("'yes'"), "{e}");
}
