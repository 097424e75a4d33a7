//! Signal names and sets. (Forwarding lists: not written yet.)

/// Parse a signal: a name with or without `SIG` (`TERM`, `SIGTERM`, any case),
/// a number (`15`), or a real-time one (`RTMIN`, `RTMIN+3`, `RTMAX-1`).
/// `0` is accepted (for `--rewrite X:0`, which drops X).
pub fn parse(s: &str) -> Result<i32, String> {
    let bad = || format!("'{s}' is not a signal name or number, like TERM, SIGQUIT, 15 or RTMIN+1");
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (0..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('+')
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMIN() + off;
        return if n <= libc::SIGRTMAX() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix('-')
                .and_then(|n| n.parse::<i32>().ok())
                .ok_or_else(bad)?
        };
        let n = libc::SIGRTMAX() - off;
        return if n >= libc::SIGRTMIN() {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let full = format!("SIG{name}");
    full.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| bad())
}

/// Block every signal preflight handles, in the calling (main) thread, before
/// any other thread exists: threads inherit the mask, so signals stay pending
/// until preflight takes them. (Not written yet.)
pub fn block_all() {}

/// Resolves with the number of the first terminating signal (TERM, INT, HUP,
/// QUIT) that arrives; other signals are taken and dropped. Must be polled
/// inside a tokio runtime. (Not written yet.)
pub async fn terminating() -> i32 {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_realtime_signals_parse() {
        assert_eq!(parse("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse("sigquit"), Ok(libc::SIGQUIT));
        assert_eq!(parse("15"), Ok(15));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("RTMIN+2"), Ok(libc::SIGRTMIN() + 2));
        assert_eq!(parse("SIGRTMAX"), Ok(libc::SIGRTMAX()));
        assert!(parse("NOPE").unwrap_err().contains("'NOPE'"));
        assert!(parse("99").is_err());
    }
}
