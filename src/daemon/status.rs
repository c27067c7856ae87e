//! What one migration job shows to the rest of the process: the master it follows, the
//! link's and the writer's live figures, and how it ended.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use replicant_link::LinkStatus;
use replicant_pipeline::WriterProgress;

/// The live state of one job.
#[derive(Debug)]
pub(crate) struct JobStatus {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) link: Arc<LinkStatus>,
    /// Set once the writer is connected.
    pub(crate) writer: OnceLock<Arc<WriterProgress>>,
    /// Fatal errors (0 or 1) plus target errors tolerated by `skip_errors` are added at
    /// read time; this counts the job's own.
    pub(crate) errors: AtomicU64,
    stage: Mutex<Stage>,
    pub(crate) started: Instant,
}

/// Where a job is, beyond the link's own state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Checking the target before writing.
    Precheck,
    /// The link runs (its state says more).
    Running,
    /// Finished: `None` when stopped cleanly, else the error.
    Ended(Option<String>),
}

impl JobStatus {
    pub(crate) fn new(host: &str, port: u16) -> Self {
        JobStatus {
            host: host.to_string(),
            port,
            link: Arc::default(),
            writer: OnceLock::new(),
            errors: AtomicU64::new(0),
            stage: Mutex::new(Stage::Precheck),
            started: Instant::now(),
        }
    }

    pub(crate) fn set_stage(&self, stage: Stage) {
        if let Ok(mut s) = self.stage.lock() {
            *s = stage;
        }
    }

    pub(crate) fn stage(&self) -> Stage {
        self.stage.lock().map(|s| s.clone()).unwrap_or(Stage::Running)
    }

    /// `connecting`, `full_sync`, `streaming`, `backoff`, `precheck`, `stopped` or `failed`.
    pub(crate) fn phase(&self) -> &'static str {
        match self.stage() {
            Stage::Precheck => "precheck",
            Stage::Ended(None) => "stopped",
            Stage::Ended(Some(_)) => "failed",
            Stage::Running => self.link.state().name(),
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        match self.stage() {
            Stage::Ended(e) => e,
            _ => None,
        }
    }

    /// Offset of the last byte received from the master.
    pub(crate) fn received(&self) -> u64 {
        self.link.offset.load(Ordering::Relaxed)
    }

    /// Offset up to which the target acknowledged everything (0 before the snapshot is applied).
    pub(crate) fn applied(&self) -> u64 {
        self.writer.get().and_then(|w| w.applied_now()).unwrap_or(0)
    }

    /// Bytes received and not yet applied. Before the snapshot is applied on the target it
    /// also counts the snapshot bytes still to come, and is never 0: `lag_bytes:0` means
    /// caught up.
    pub(crate) fn lag_bytes(&self) -> u64 {
        let behind = self.received().saturating_sub(self.applied());
        if self.writer.get().is_some_and(|w| w.snapshot_applied()) {
            return behind;
        }
        let size = self.link.rdb_size.load(Ordering::Relaxed);
        let got = self.link.rdb_bytes.load(Ordering::Relaxed);
        (behind + size.saturating_sub(got)).max(1)
    }

    /// Commands the target acknowledged, and error replies tolerated.
    pub(crate) fn target_figures(&self) -> (u64, u64) {
        let Some(w) = self.writer.get() else { return (0, 0) };
        w.shards().iter().fold((0, 0), |(a, s), f| (a + f.applied, s + f.skipped))
    }

    /// Every error seen: fatal ones, tolerated target errors, and lost links.
    pub(crate) fn error_count(&self) -> u64 {
        let reconnects = self.link.connections.load(Ordering::Relaxed).saturating_sub(1);
        self.errors.load(Ordering::Relaxed) + self.target_figures().1 + reconnects
    }
}
