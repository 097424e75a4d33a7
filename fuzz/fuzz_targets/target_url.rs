//! The target/URL parser on arbitrary text: it never panics, and a password
//! written in a URL's user-info never appears in the parser's error, in the
//! target as shown (`redacted`), or in its `Debug` form.
//!
//! Input: `PASSWORD \n REST`. The URL tried is `SCHEME://user:PASSWORD@REST`
//! (SCHEME picked by the input's length among the registry's names); the
//! whole input is also parsed as a target as it is.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = preflight::target::parse(text);
    let _ = preflight::target::redact(text);

    let Some((password, rest)) = text.split_once('\n') else {
        return;
    };
    // A password that can only be a password: long, with a digit and a
    // capital (no word of an error message looks like it), none of the
    // characters that end the user-info, found nowhere else in the URL.
    let plain = password.len() >= 6
        && password.bytes().any(|b| b.is_ascii_digit())
        && password.bytes().any(|b| b.is_ascii_uppercase())
        && password
            .chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && !"@/?#".contains(c));
    if !plain || rest.contains(password) || "user".contains(password) {
        return;
    }
    let names: Vec<&str> = preflight::protocol::SCHEMES
        .iter()
        .flat_map(|s| s.names.iter().copied())
        .collect();
    let scheme = names[data.len() % names.len()];
    if scheme.contains(password) {
        return;
    }
    let url = format!("{scheme}://user:{password}@{rest}");
    match preflight::target::parse(&url) {
        Err(e) => assert!(!e.to_string().contains(password), "{url:?} -> {e}"),
        Ok(t) => {
            assert!(
                !t.redacted().contains(password),
                "{url:?} -> {}",
                t.redacted()
            );
            let debug = format!("{t:?}");
            assert!(!debug.contains(password), "{url:?} -> {debug}");
        }
    }
});
