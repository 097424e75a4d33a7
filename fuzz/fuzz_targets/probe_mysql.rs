//! The MySQL probe against arbitrary server bytes: the anonymous login, or
//! a login with credentials and `SELECT 1` (first input byte odd;
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
                format!("mysql://root:pw@{a}/app")
            } else {
                format!("mysql://{a}")
            }
        },
        bytes,
    );
});
