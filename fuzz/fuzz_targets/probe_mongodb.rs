//! The MongoDB probe against arbitrary server bytes: hello (and isMaster
//! after a CommandNotFound), any server or only a writable primary (first
//! input byte odd; the rest is what the server sends).

#![no_main]

#[path = "common/peer.rs"]
mod peer;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flag, bytes)) = data.split_first() else {
        return;
    };
    let primary = flag & 1 == 1;
    peer::probe_against(
        |a| {
            if primary {
                format!("mongodb://{a}#primary=true")
            } else {
                format!("mongodb://{a}")
            }
        },
        bytes,
    );
});
