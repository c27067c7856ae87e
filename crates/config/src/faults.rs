//! How the daemon rides out faults: the silence after which a link to the master or the
//! target counts as dropped (`source.timeout_ms`, `target.timeout_ms`), how a lost target
//! is retried (`[target.retry]`), and the Sentinels that name the master
//! (`source.sentinel`, `source.master_name`; the same for the target).

use std::time::Duration;

use replicant_net::Endpoint;
use serde::Deserialize;

use crate::check::Problems;

/// Bounds of `source.timeout_ms` and `target.timeout_ms`.
pub const TIMEOUT_MS: (u64, u64) = (1_000, 3_600_000);
/// Bounds of `target.retry.max_delay_ms`.
pub const RETRY_MAX_DELAY_MS: (u64, u64) = (100, 600_000);
/// The default silence timeout, as Redis's `repl-timeout`.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

/// `[target.retry]`: a target that cannot be reached, or drops its connections, is tried
/// again after a pause that doubles up to `max_delay_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Retry {
    /// Attempts in a row before the job stops; 0 (default) = forever.
    pub attempts: u32,
    /// Longest pause between attempts (default 10 000 ms, 100..=600 000).
    pub max_delay_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 0, max_delay_ms: 10_000 }
    }
}

impl Retry {
    /// The longest pause.
    pub fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }

    /// The attempts allowed in a row, `None` for forever.
    pub fn max_attempts(&self) -> Option<u32> {
        Some(self.attempts).filter(|&n| n > 0)
    }

    pub(crate) fn check(&self, out: &mut Problems) {
        let (lo, hi) = RETRY_MAX_DELAY_MS;
        out.range("target.retry.max_delay_ms", self.max_delay_ms, lo, hi);
    }
}

/// Checks a `*.timeout_ms`.
pub(crate) fn check_timeout(field: &str, ms: u64, out: &mut Problems) {
    let (lo, hi) = TIMEOUT_MS;
    out.range(field, ms, lo, hi);
}

/// The Sentinels of `source.sentinel`: `host:port` or a `redis://` / `rediss://` URL (with
/// the Sentinel's credentials); `None` for an entry that does not parse.
pub fn sentinel_endpoints(entries: &[String]) -> Vec<Option<Endpoint>> {
    entries
        .iter()
        .map(|e| {
            let url = if e.contains("://") { e.clone() } else { format!("redis://{e}") };
            Endpoint::parse(&url).ok()
        })
        .collect()
}

/// Checks `<section>.sentinel` against `<section>.master_name`. (`<section>.url` may come
/// with them: its credentials and scheme are the master's; the Sentinels name its host and
/// port.)
pub(crate) fn check_sentinel(section: &str, sentinel: &[String], master_name: Option<&str>, out: &mut Problems) {
    for (i, parsed) in sentinel_endpoints(sentinel).iter().enumerate() {
        if parsed.is_none() {
            out.push(format!("{section}.sentinel[{i}]"), "not host:port or a redis:// or rediss:// URL");
        }
    }
    out.not_empty(&format!("{section}.master_name"), master_name);
    match (sentinel.is_empty(), master_name.is_some()) {
        (false, false) => out.push(format!("{section}.master_name"), format!("required with {section}.sentinel")),
        (true, true) => out.push(format!("{section}.sentinel"), format!("required with {section}.master_name")),
        _ => {}
    }
}
