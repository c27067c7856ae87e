//! What one migration job shows to the rest of the process: the master it follows, the
//! link's and the writer's live figures, and how it ended.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use replicant_link::LinkStatus;
use replicant_pipeline::WriterProgress;
use replicant_scan::ScanStats;

/// The live state of one job.
#[derive(Debug)]
pub(crate) struct JobStatus {
    /// The master followed now (it changes when Sentinels announce a failover): host,
    /// port, and the address checkpoints name it by (`host:port`, or the file).
    master: Mutex<(String, u16, String)>,
    pub(crate) link: Arc<LinkStatus>,
    /// The current session's writer, once connected.
    writer: Mutex<Option<Arc<WriterProgress>>>,
    /// A scan-mode copy's figures, once it started.
    scan: Mutex<Option<Arc<ScanStats>>>,
    /// Times the target was lost and tried again.
    pub(crate) target_retries: AtomicU64,
    /// Commands applied and errors skipped by the writers of earlier sessions.
    applied_before: AtomicU64,
    skipped_before: AtomicU64,
    last_target_error: Mutex<Option<String>>,
    /// Fatal errors (0 or 1) plus target errors tolerated by `skip_errors` are added at
    /// read time; this counts the job's own.
    pub(crate) errors: AtomicU64,
    /// Keys the master said it held before the snapshot (`INFO keyspace`); 0 when unknown.
    pub(crate) expected_keys: AtomicU64,
    /// During a full sync, what the master buffers for replicant (its offset's growth since
    /// `FULLRESYNC`); 0 otherwise or when unknown.
    pub(crate) output_buffer_bytes: AtomicU64,
    /// The master's hard `client-output-buffer-limit` for replicas; 0 when none or unknown.
    pub(crate) output_buffer_limit: AtomicU64,
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
    /// The target was lost; waiting before trying again.
    TargetBackoff,
    /// Finished: `None` when stopped cleanly, else the error.
    Ended(Option<String>),
}

impl JobStatus {
    pub(crate) fn new(host: &str, port: u16, addr: String) -> Self {
        JobStatus {
            master: Mutex::new((host.to_string(), port, addr)),
            link: Arc::default(),
            writer: Mutex::new(None),
            scan: Mutex::new(None),
            target_retries: AtomicU64::new(0),
            applied_before: AtomicU64::new(0),
            skipped_before: AtomicU64::new(0),
            last_target_error: Mutex::new(None),
            errors: AtomicU64::new(0),
            expected_keys: AtomicU64::new(0),
            output_buffer_bytes: AtomicU64::new(0),
            output_buffer_limit: AtomicU64::new(0),
            stage: Mutex::new(Stage::Precheck),
            started: Instant::now(),
        }
    }

    pub(crate) fn set_stage(&self, stage: Stage) {
        if let Ok(mut s) = self.stage.lock() {
            *s = stage;
        }
    }

    /// The master's host and port (the file and 0 for a file).
    pub(crate) fn master(&self) -> (String, u16) {
        self.master.lock().map(|m| (m.0.clone(), m.1)).unwrap_or_default()
    }

    /// The master as checkpoints name it.
    pub(crate) fn master_addr(&self) -> String {
        self.master.lock().map(|m| m.2.clone()).unwrap_or_default()
    }

    pub(crate) fn set_master(&self, endpoint: &replicant_net::Endpoint) {
        if let Ok(mut m) = self.master.lock() {
            *m = (endpoint.host.clone(), endpoint.port, endpoint.addr());
        }
    }

    /// The current session's writer figures.
    pub(crate) fn writer(&self) -> Option<Arc<WriterProgress>> {
        self.writer.lock().ok().and_then(|w| w.clone())
    }

    /// Shows a scan-mode copy's figures.
    pub(crate) fn set_scan(&self, stats: Arc<ScanStats>) {
        if let Ok(mut s) = self.scan.lock() {
            *s = Some(stats);
        }
    }

    /// A scan-mode copy's figures, if this job scans.
    pub(crate) fn scan(&self) -> Option<Arc<ScanStats>> {
        self.scan.lock().ok().and_then(|s| s.clone())
    }

    /// Shows a new session's writer from now on; what the last one applied and skipped
    /// stays counted.
    pub(crate) fn set_writer(&self, progress: Arc<WriterProgress>) {
        let (applied, skipped) = self.current_figures();
        self.applied_before.fetch_add(applied, Ordering::Relaxed);
        self.skipped_before.fetch_add(skipped, Ordering::Relaxed);
        if let Ok(mut w) = self.writer.lock() {
            *w = Some(progress);
        }
    }

    /// The last error a lost target gave.
    pub(crate) fn last_target_error(&self) -> Option<String> {
        self.last_target_error.lock().ok().and_then(|e| e.clone())
    }

    pub(crate) fn set_last_target_error(&self, error: String) {
        if let Ok(mut e) = self.last_target_error.lock() {
            *e = Some(error);
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
            Stage::TargetBackoff => "backoff",
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
        self.writer().and_then(|w| w.applied_now()).unwrap_or(0)
    }

    /// Bytes received and not yet applied. Before the snapshot is applied on the target it
    /// also counts the snapshot bytes still to come, and is never 0: `lag_bytes:0` means
    /// caught up.
    pub(crate) fn lag_bytes(&self) -> u64 {
        let behind = self.received().saturating_sub(self.applied());
        if self.writer().is_some_and(|w| w.snapshot_applied()) {
            return behind;
        }
        let size = self.link.rdb_size.load(Ordering::Relaxed);
        let got = self.link.rdb_bytes.load(Ordering::Relaxed);
        (behind + size.saturating_sub(got)).max(1)
    }

    /// How far the snapshot is, in the best unit known: keys against what the master said
    /// it held, else bytes against the announced size (a disk-based sync, a file), else
    /// no total. A count past its estimate has no total either: never a bar that is full
    /// while the snapshot goes on.
    pub(crate) fn snapshot_progress(&self) -> SnapshotProgress {
        let keys = self.link.rdb_keys.load(Ordering::Relaxed);
        let bytes = self.link.rdb_bytes.load(Ordering::Relaxed);
        let expected = self.expected_keys.load(Ordering::Relaxed);
        let size = self.link.rdb_size.load(Ordering::Relaxed);
        let total = if expected > keys {
            Total::Keys(expected)
        } else if size > bytes {
            Total::Bytes(size)
        } else {
            Total::Unknown
        };
        SnapshotProgress { keys, bytes, size, total }
    }

    /// Commands the target acknowledged, and error replies tolerated.
    pub(crate) fn target_figures(&self) -> (u64, u64) {
        let (applied, skipped) = self.current_figures();
        (applied + self.applied_before.load(Ordering::Relaxed), skipped + self.skipped_before.load(Ordering::Relaxed))
    }

    /// The current session's figures alone.
    fn current_figures(&self) -> (u64, u64) {
        let Some(w) = self.writer() else { return (0, 0) };
        w.shards().iter().fold((0, 0), |(a, s), f| (a + f.applied, s + f.skipped))
    }

    /// Every error seen: fatal ones, tolerated target errors, and lost links.
    pub(crate) fn error_count(&self) -> u64 {
        let reconnects = self.link.connections.load(Ordering::Relaxed).saturating_sub(1);
        self.errors.load(Ordering::Relaxed) + self.target_figures().1 + reconnects
    }
}

/// A snapshot's figures, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotProgress {
    /// Keys read so far.
    pub(crate) keys: u64,
    /// Bytes read so far.
    pub(crate) bytes: u64,
    /// The snapshot's announced size; 0 when unknown.
    pub(crate) size: u64,
    /// What the keys or bytes are heading for.
    pub(crate) total: Total,
}

/// The total a snapshot's progress is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Total {
    /// This many keys (the master's own count).
    Keys(u64),
    /// This many bytes (the announced size).
    Bytes(u64),
    /// Nothing known: show counts and rates only.
    Unknown,
}
