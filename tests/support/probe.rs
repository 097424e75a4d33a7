//! One try of a probe from inside the test process, bounded so that a hang
//! fails the test instead of the suite: by URL ([`check`]), by parsed target
//! ([`check_target`]) or trusting a CA file ([`check_with_ca`]); and the
//! checks every protocol module makes of a probe's outcome.

use std::path::Path;
use std::time::{Duration, Instant};

use preflight::probe::{Probe, ProbeError};
use preflight::target::{Target, parse};
use tokio::time::timeout;

/// How long one try may take before the test calls it a hang.
pub const TRY_PATIENCE: Duration = Duration::from_secs(10);

/// `url` parsed; a URL the test got wrong fails it, naming the URL.
pub fn target(url: &str) -> Target {
    parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// One try at `target`, bounded by [`TRY_PATIENCE`].
pub async fn check_target(target: &Target) -> Result<(), ProbeError> {
    timeout(TRY_PATIENCE, Probe::new(target).check())
        .await
        .unwrap_or_else(|_| panic!("{target}: the probe hung"))
}

/// One try at `url`, bounded by [`TRY_PATIENCE`].
pub async fn check(url: &str) -> Result<(), ProbeError> {
    check_target(&target(url)).await
}

/// One try at `url`, trusting `ca` as PREFLIGHT_CA_FILE would.
pub async fn check_with_ca(url: &str, ca: Option<&Path>) -> Result<(), ProbeError> {
    let mut t = target(url);
    t.ca_file = ca.map(Path::to_path_buf);
    check_target(&t).await
}

/// The message of a fatal error; anything else fails the test.
pub fn fatal(r: Result<(), ProbeError>) -> String {
    match r {
        Err(e @ ProbeError::Fatal(_)) => e.to_string(),
        other => panic!("expected a fatal error, got {other:?}"),
    }
}

/// The message of a not-ready answer; anything else fails the test.
pub fn not_ready(r: Result<(), ProbeError>) -> String {
    match r {
        Err(ProbeError::NotReady(m)) => m,
        other => panic!("expected not ready, got {other:?}"),
    }
}

/// Which probe serves `url` (its Debug name: "Kafka", "Nats"...).
pub fn kind(url: &str) -> String {
    let probe = format!("{:?}", Probe::new(&target(url)));
    probe.split('(').next().unwrap_or_default().to_string()
}

/// Probe `url` over and over, calling `start` after each failed try (it
/// starts the server once, late): the first try must be refused, and the
/// probe must see the server up within `patience`.
pub async fn noticed_once_started(url: &str, patience: Duration, mut start: impl FnMut()) {
    let mut seen = Vec::new();
    let began = Instant::now();
    loop {
        let res = check(url).await;
        let ok = res.is_ok();
        seen.push(res.map_err(|e| e.to_string()));
        if ok {
            break;
        }
        start();
        assert!(began.elapsed() < patience, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        seen[0].as_ref().is_err_and(|e| e.contains("refused")),
        "{seen:?}"
    );
}
