//! How the master is read (`source.mode`): as a replica (`SYNC`/`PSYNC`, then the write
//! stream), or by scanning its keys (`SCAN`, `DUMP`/`PTTL`) for masters that refuse to
//! have replicas, with the scan's knobs (`[source.scan]`).

use serde::Deserialize;

use crate::check::Problems;
use crate::choice::choices;
use crate::endpoint::Source;

/// Bounds of `source.scan.count`.
pub const SCAN_COUNT: (u32, u32) = (1, 100_000);
/// Bounds of `source.scan.pipeline`.
pub const SCAN_PIPELINE: (u32, u32) = (1, 100_000);

/// `source.mode`: how the master is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SourceMode {
    /// As a replica: a snapshot by `SYNC`/`PSYNC`, then the write stream (default).
    #[default]
    Replica,
    /// By `SCAN`, each key copied with `DUMP`/`PTTL`, then `RESTORE` (or rebuilt commands)
    /// on the target; the copy then ends. For masters that refuse `SYNC`/`PSYNC`. Writes
    /// made during the scan may be missing.
    Scan,
}

choices!(SourceMode { Replica = "replica", Scan = "scan" });

/// `[source.scan]`: used with `source.mode = "scan"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Scan {
    /// The `COUNT` hint of each `SCAN` (default 1000, 1..=100 000).
    pub count: u32,
    /// Keys whose `DUMP`/`PTTL` are in flight at once (default 256, 1..=100 000).
    pub pipeline: u32,
    /// Commands sent to the source per second at most (`SCAN`, `DUMP` and the expiry
    /// query each count); 0: no limit.
    pub max_ops: u64,
}

impl Default for Scan {
    fn default() -> Self {
        Scan { count: 1000, pipeline: 256, max_ops: 0 }
    }
}

impl Scan {
    pub(crate) fn check(&self, out: &mut Problems) {
        out.range("source.scan.count", self.count, SCAN_COUNT.0, SCAN_COUNT.1);
        out.range("source.scan.pipeline", self.pipeline, SCAN_PIPELINE.0, SCAN_PIPELINE.1);
    }
}

/// The rules of `source.mode = "scan"`: a scan reads one server at a known address,
/// `source.url`. (Any `source.kind` may be scanned: Kvrocks and Pika answer `SCAN`, `DUMP`
/// and `PTTL` over RESP too.)
pub(crate) fn check_mode(source: &Source, out: &mut Problems) {
    if source.mode != SourceMode::Scan {
        return;
    }
    if source.url.is_none() {
        out.push(
            "source.url",
            "required with source.mode = \"scan\": a scan reads the server at this address \
             (source.rdb_file, source.sentinel and REPLICAOF cannot stand for it)",
        );
    }
    if !source.sentinel.is_empty() {
        out.push(
            "source.sentinel",
            "set with source.mode = \"scan\": a scan reads the server at source.url, not a master named by Sentinels",
        );
    }
}
