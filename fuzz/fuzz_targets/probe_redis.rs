//! The Redis probe against arbitrary server bytes: PING, or AUTH, SELECT
//! and PING (first input byte odd;
//! the rest is what the server sends).

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
                format!("redis://u:pw@{a}/1")
            } else {
                format!("redis://{a}")
            }
        },
        bytes,
    );
});
