//! `[state]`: where checkpoints (replication id and acknowledged offset) are kept so
//! that a restart resumes with `PSYNC`, and how often they are written.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::check::Problems;

/// Bounds of `state.checkpoint_interval_ms`.
pub const CHECKPOINT_INTERVAL_MS: (u64, u64) = (10, 3_600_000);

/// `[state]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct State {
    /// Directory for checkpoints; `None` (default): no checkpoint, no resume.
    pub dir: Option<PathBuf>,
    /// Milliseconds between checkpoints (default 1000, 10..=3 600 000).
    pub checkpoint_interval_ms: u64,
    /// Apply nothing twice after a crash: streamed batches become transactions with a
    /// marker key per sender on the target (default true; in effect with `dir`, on a
    /// standalone target, and with `writer.strict_key_order` off).
    pub exactly_once: bool,
}

impl Default for State {
    fn default() -> Self {
        State { dir: None, checkpoint_interval_ms: 1000, exactly_once: true }
    }
}

impl State {
    /// `checkpoint_interval_ms` as a duration.
    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_millis(self.checkpoint_interval_ms)
    }

    pub(crate) fn check(&self, out: &mut Problems) {
        out.path_not_empty("state.dir", self.dir.as_deref());
        let (min, max) = CHECKPOINT_INTERVAL_MS;
        out.range("state.checkpoint_interval_ms", self.checkpoint_interval_ms, min, max);
    }
}
