//! What the link delivers to: the pipeline (or a test).

use std::future::Future;

use replicant_rdb::Event as RdbEvent;
use replicant_repl::{Command, ReplId};

pub use crate::error::SinkError;

/// Receives, in order, everything the master sends.
pub trait Sink: Send {
    /// A snapshot starts. `restart` is true when an earlier snapshot or stream of this
    /// run was already delivered (only under `FullResyncPolicy::Accept`).
    fn full_sync(&mut self, replid: Option<ReplId>, offset: u64, restart: bool) -> Result<(), SinkError>;

    /// One event of the snapshot.
    fn rdb_event(&mut self, event: &RdbEvent<'_>) -> Result<(), SinkError>;

    /// The snapshot is complete; commands from `offset` on follow.
    fn snapshot_done(&mut self, offset: u64) -> Result<(), SinkError>;

    /// The link was re-established with a partial resync.
    fn resumed(&mut self, replid: ReplId, offset: u64, replid_changed: bool) -> Result<(), SinkError>;

    /// A command of the live stream (including `PING`, `REPLCONF` and `SELECT`; see
    /// [`Command::is_link_control`]).
    fn command(&mut self, command: &Command<'_>) -> Result<(), SinkError>;

    /// Resolves when the sink can take more; awaited between reads from the master.
    fn ready(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The offset up to which everything delivered has been applied, if tracked; the
    /// link reports it to the master in `REPLCONF ACK`.
    fn committed(&self) -> Option<u64> {
        None
    }
}
