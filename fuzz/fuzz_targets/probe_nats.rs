//! The NATS probe against arbitrary server bytes: without credentials (an
//! INFO with auth_required is up), or with a user and password, which sends
//! CONNECT and PING (first input byte odd; the rest is what the server
//! sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flag, bytes)) = data.split_first() else {
        return;
    };
    let login = flag & 1 == 1;
    peer::probe_against(
        |a| {
            if login {
                format!("nats://u:pw@{a}")
            } else {
                format!("nats://{a}")
            }
        },
        bytes,
    );
});
