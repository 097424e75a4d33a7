//! The MQTT probe against arbitrary server bytes: anonymous, or with a user
//! and password (first input byte odd; the rest is what the broker sends).

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
                format!("mqtt://u:pw@{a}")
            } else {
                format!("mqtt://{a}")
            }
        },
        bytes,
    );
});
