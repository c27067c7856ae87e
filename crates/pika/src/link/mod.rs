//! Following a Pika master over the network (tokio), behind the same [`Sink`] as a Redis or
//! Kvrocks master: the I/O driver around the sans-IO [`Session`](crate::Session) and
//! [`Transfer`](crate::Transfer). MetaSync on the master's port + 2000, then TrySync from a
//! saved position, or DBSync for a full copy (the dump fetched from port + 10001, read by
//! [`crate::dump`], delivered as a snapshot) followed by TrySync from the dump's position,
//! then the binlog, each item rewritten ([`crate::rewrite`]) and delivered at the position
//! after it. The session answers the master's keepalives and pings it while the writer or
//! the dump holds the driver up, so the master's 20 s liveness check never fires.
//!
//! Positions: a Pika binlog position `(filenum, offset)` is delivered to the sink as the
//! offset `filenum << 40 | offset` of the history [`PIKA_HISTORY`] ([`pack`], [`unpack`]):
//! monotonic, and a checkpoint's offset is the position TrySync continues from.
//!
//! One database per link, each with its own binlog and position: the master's only one,
//! or the one the source URL names (`redis://host:port/N` → `dbN`). A master with several
//! and none named is refused, saying to follow each with its own replicant.

mod conn;
mod copy;
mod fetch;
mod precheck;
mod session;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use replicant_link::{after_failure, Failed, FullResyncPolicy, LinkError, LinkState, LinkStatus, Retry, Sink};
use replicant_net::Endpoint;
use replicant_repl::ReplId;
use tokio::sync::watch;

use crate::position::BinlogPos;
use crate::rewrite::RewriteOptions;

/// The history a Pika master's binlog positions belong to, as the writer and the
/// checkpoint name it: the hex of `pika` padded with zeros.
pub const PIKA_HISTORY: ReplId = match ReplId::from_static(b"70696b6100000000000000000000000000000000") {
    Some(id) => id,
    None => ReplId::ZERO,
};

/// How long a stopping link waits for the master to confirm RemoveSlaveNode.
const DETACH_WAIT: Duration = Duration::from_secs(2);

/// Bits of a packed position that hold the byte offset (binlog files are far smaller).
const OFFSET_BITS: u32 = 40;

/// A binlog position as one offset: `filenum << 40 | offset`; `None` when the offset does
/// not fit in 40 bits.
pub fn pack(pos: BinlogPos) -> Option<u64> {
    (pos.offset < 1 << OFFSET_BITS).then(|| u64::from(pos.filenum) << OFFSET_BITS | pos.offset)
}

/// The binlog position a packed offset stands for.
pub fn unpack(packed: u64) -> BinlogPos {
    let filenum = u32::try_from(packed >> OFFSET_BITS).unwrap_or(u32::MAX);
    BinlogPos::new(filenum, packed & ((1 << OFFSET_BITS) - 1))
}

/// Where and how to follow a Pika master.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PikaLink {
    /// The master's client port, with its password (`requirepass`/`masterauth`).
    pub master: Endpoint,
    /// The packed position to continue from (a resume); `None` takes a full copy first.
    pub resume: Option<u64>,
    /// On a position the master's binlog no longer holds.
    pub full_resync: FullResyncPolicy,
    /// Where dumps are fetched (a fresh directory under it per full copy, removed once
    /// read).
    pub work_dir: PathBuf,
    /// Silence after which a connection counts as dropped.
    pub timeout: Duration,
    /// First pause before reconnecting; doubles up to 10 s.
    pub backoff: Duration,
    /// How binlog commands are rewritten.
    pub rewrite: RewriteOptions,
}

impl PikaLink {
    /// Follows `master` with default settings.
    pub fn new(master: Endpoint, work_dir: PathBuf) -> Self {
        PikaLink {
            master,
            resume: None,
            full_resync: FullResyncPolicy::Stop,
            work_dir,
            timeout: Duration::from_secs(60),
            backoff: Duration::from_millis(200),
            rewrite: RewriteOptions::default(),
        }
    }
}

/// Follows the master until `shutdown` resolves or a final error.
pub async fn run<S: Sink>(
    cfg: PikaLink,
    sink: &mut S,
    status: Arc<LinkStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LinkError> {
    tokio::pin!(shutdown);
    status.set_replid(Some(PIKA_HISTORY.to_string()));
    match precheck::MasterFacts::read(&cfg.master, cfg.timeout).await {
        Ok(facts) => {
            facts.report();
            if let Some(refusal) = facts.refusal() {
                status.set_state(LinkState::Stopped);
                return Err(source_error(refusal));
            }
        }
        Err(e) => tracing::warn!(error = %e, "Cannot read the Pika master's INFO and binlog settings."),
    }
    let mut next = cfg.resume;
    let (mut pause, mut delivered) = (cfg.backoff, false);
    let (stop, stopped) = watch::channel(false);
    loop {
        status.set_state(LinkState::Connecting);
        let outcome = {
            let attempt = session::run(&cfg, &mut next, &mut delivered, sink, &status, stopped.clone());
            tokio::pin!(attempt);
            tokio::select! {
                outcome = &mut attempt => outcome,
                () = &mut shutdown => {
                    // A streaming session detaches (RemoveSlaveNode) so that the master drops
                    // this replica now rather than after its 20 s timeout; one busy with a
                    // full copy or a slow target is simply dropped.
                    let _ = stop.send(true);
                    if let Ok(Err(e)) = tokio::time::timeout(DETACH_WAIT, attempt).await {
                        tracing::debug!(error = %e, "Detaching from the Pika master failed.");
                    }
                    status.set_state(LinkState::Stopped);
                    return Ok(());
                }
            }
        };
        let Err(err) = outcome else {
            status.set_state(LinkState::Stopped);
            return Ok(());
        };
        let failed = Failed { resumable: next.is_some(), delivered, full_resync: cfg.full_resync, master: "Pika" };
        if after_failure(err, failed, &status, &mut pause, shutdown.as_mut()).await? == Retry::Stopped {
            return Ok(());
        }
    }
}

/// A source error with its text (not retryable).
pub(crate) fn source_error(text: String) -> LinkError {
    LinkError::Source(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_pack_in_order_and_back() {
        let a = pack(BinlogPos::new(0, 5462)).unwrap();
        let b = pack(BinlogPos::new(1, 0)).unwrap();
        assert!(a < b);
        assert_eq!(unpack(b), BinlogPos::new(1, 0));
        assert_eq!(unpack(a), BinlogPos::new(0, 5462));
        assert_eq!(pack(BinlogPos::new(3, 1 << 40)), None);
        assert_eq!(PIKA_HISTORY.to_string(), "70696b6100000000000000000000000000000000");
    }
}
