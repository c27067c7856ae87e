//! Following a Kvrocks master as its replicas do, behind the same [`Sink`] as a Redis
//! master: a full copy from a checkpoint the master makes (`fetch`; read with a RocksDB
//! binding by `checkpoint`), then the write stream by sequence (`stream`). Positions are
//! Kvrocks sequence numbers: the sink sees them as offsets of the history
//! [`KVROCKS_HISTORY`], and every command carries the last sequence of its batch, so a
//! resume point is a batch boundary and `PSYNC <offset + 1>` continues from it.
//!
//! A dropped link reconnects with `PSYNC <next>`; a master whose WAL no longer holds that
//! sequence (`-ERR sequence out of range`) gets a new full copy only under
//! [`FullResyncPolicy::Accept`], else the run stops saying so.

mod conn;
mod fetch;
mod namespaces;
mod precheck;
mod stream;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use replicant_link::{after_failure, Failed, FullResyncPolicy, LinkError, LinkState, LinkStatus, Retry, Sink};
use replicant_net::Endpoint;
use replicant_repl::ReplId;

pub use namespaces::{Namespaces, Placement};

use crate::key::KeyLayout;
use crate::metadata::RedisType;

/// The history a Kvrocks master's sequence numbers belong to, as the writer and the
/// checkpoint name it (Kvrocks has no replication ID unless `use-rsid-psync` is on): the
/// hex of `kvrocks` padded with zeros.
pub const KVROCKS_HISTORY: ReplId = match ReplId::from_static(b"6b76726f636b7300000000000000000000000000") {
    Some(id) => id,
    None => ReplId::ZERO,
};

/// Where and how to follow a Kvrocks master.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KvrocksLink {
    /// The master, with its password (the default namespace's).
    pub master: Endpoint,
    /// The next sequence to ask for (a resume); `None` takes a full copy first.
    pub resume: Option<u64>,
    /// On a sequence the master's WAL no longer holds.
    pub full_resync: FullResyncPolicy,
    /// Which target database each namespace's keys go to.
    pub namespaces: Namespaces,
    /// Where checkpoints are fetched (a fresh directory under it per full copy, removed
    /// once read).
    pub work_dir: PathBuf,
    /// Silence after which a connection counts as dropped (heartbeats come every ~2 s).
    pub timeout: Duration,
    /// Whether keys carry slot ids (`cluster-enabled yes` on the master).
    pub layout: KeyLayout,
    /// First pause before reconnecting; doubles up to 10 s.
    pub backoff: Duration,
    /// Types whose keys are not copied (e.g. JSON and bloom filters for a target without
    /// the modules): their snapshot keys and the stream's commands on them are left out,
    /// and counted.
    pub skip_types: Vec<RedisType>,
}

impl KvrocksLink {
    /// Follows `master` with default settings.
    pub fn new(master: Endpoint, work_dir: PathBuf) -> Self {
        KvrocksLink {
            master,
            resume: None,
            full_resync: FullResyncPolicy::Stop,
            namespaces: Namespaces::default(),
            work_dir,
            timeout: Duration::from_secs(60),
            layout: KeyLayout::STANDALONE,
            backoff: Duration::from_millis(100),
            skip_types: Vec::new(),
        }
    }
}

/// Follows the master until `shutdown` resolves or a final error.
pub async fn run<S: Sink>(
    cfg: KvrocksLink,
    sink: &mut S,
    status: Arc<LinkStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LinkError> {
    tokio::pin!(shutdown);
    status.set_replid(Some(KVROCKS_HISTORY.to_string()));
    let mut cfg = cfg;
    if let Some(cluster) = conn::cluster_enabled(&cfg.master, cfg.timeout).await {
        cfg.layout = if cluster { KeyLayout::CLUSTER } else { KeyLayout::STANDALONE };
    }
    match precheck::MasterFacts::read(&cfg.master, cfg.timeout).await {
        Ok(facts) => facts.report(),
        Err(e) => tracing::warn!(error = %e, "Cannot read the Kvrocks master's INFO and WAL settings."),
    }
    let mut next = cfg.resume;
    let mut pause = cfg.backoff;
    let mut delivered = false;
    loop {
        status.set_state(LinkState::Connecting);
        let outcome = tokio::select! {
            outcome = session(&cfg, &mut next, &mut delivered, sink, &status) => outcome,
            () = &mut shutdown => {
                status.set_state(LinkState::Stopped);
                return Ok(());
            }
        };
        let Err(err) = outcome else { continue };
        let failed = Failed { resumable: next.is_some(), delivered, full_resync: cfg.full_resync, master: "Kvrocks" };
        if after_failure(err, failed, &status, &mut pause, shutdown.as_mut()).await? == Retry::Stopped {
            return Ok(());
        }
    }
}

/// One attempt: a full copy when there is no sequence to continue from, then the stream.
async fn session<S: Sink>(
    cfg: &KvrocksLink,
    next: &mut Option<u64>,
    delivered: &mut bool,
    sink: &mut S,
    status: &Arc<LinkStatus>,
) -> Result<(), LinkError> {
    status.connections.fetch_add(1, Ordering::Relaxed);
    let from = match *next {
        Some(from) => from,
        None => {
            let last = full_copy(cfg, sink, status, false, delivered).await?;
            *next = Some(last + 1);
            last + 1
        }
    };
    let conn = match stream::psync(cfg, from).await? {
        stream::Psync::Accepted(conn) => conn,
        stream::Psync::OutOfRange(why) => {
            if cfg.full_resync == FullResyncPolicy::Stop {
                return Err(LinkError::FullResyncRefused {
                    replid: KVROCKS_HISTORY,
                    offset: from.saturating_sub(1),
                    why: "the Kvrocks master's WAL no longer holds that sequence",
                })
                .inspect_err(|_| tracing::warn!(reply = why, "PSYNC {from} refused."));
            }
            tracing::warn!(reply = why, "PSYNC {from} refused; taking a new full copy (sync.full_resync = accept).");
            let last = full_copy(cfg, sink, status, true, delivered).await?;
            *next = Some(last + 1);
            return Ok(());
        }
    };
    if from > 0 && !*delivered {
        sink.resumed(KVROCKS_HISTORY, from - 1, false).map_err(LinkError::Sink)?;
        status.partial_syncs.fetch_add(1, Ordering::Relaxed);
    }
    status.set_state(LinkState::Streaming);
    let mut at = from;
    let result = stream::follow(cfg, conn, &mut at, sink, status).await;
    *next = Some(at);
    *delivered = false;
    result
}

/// Fetches a checkpoint, delivers it as a snapshot and removes it; its last sequence.
/// `delivered` turns true once the snapshot starts reaching the sink.
async fn full_copy<S: Sink>(
    cfg: &KvrocksLink,
    sink: &mut S,
    status: &Arc<LinkStatus>,
    restart: bool,
    delivered: &mut bool,
) -> Result<u64, LinkError> {
    status.set_state(LinkState::FullSync);
    status.full_syncs.fetch_add(1, Ordering::Relaxed);
    status.rdb_bytes.store(0, Ordering::Relaxed);
    let dir = cfg.work_dir.join(format!("kvrocks-checkpoint-{}", std::process::id()));
    if dir.exists() {
        tokio::fs::remove_dir_all(&dir).await?;
    }
    // A master that cannot say its size is not refused: the transfer then finds out.
    let size = precheck::MasterFacts::read(&cfg.master, cfg.timeout).await.ok().and_then(|f| f.db_size);
    replicant_link::check_free_space(&cfg.work_dir, size, "the master's checkpoint")?;
    let fetched = fetch::fetch_checkpoint(&cfg.master, cfg.timeout, &dir, status).await?;
    *delivered = true;
    let result = crate::checkpoint::deliver(&fetched, cfg, sink, status, restart).await;
    if let Err(e) = tokio::fs::remove_dir_all(&fetched).await {
        tracing::warn!(dir = %fetched.display(), error = %e, "Cannot remove the fetched checkpoint.");
    }
    result
}

/// A source error with its text.
pub(crate) fn source_error(text: String) -> LinkError {
    LinkError::Source(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kvrocks_history_is_a_valid_replication_id() {
        assert_ne!(KVROCKS_HISTORY, ReplId::ZERO);
        assert_eq!(KVROCKS_HISTORY.to_string(), "6b76726f636b7300000000000000000000000000");
    }
}
