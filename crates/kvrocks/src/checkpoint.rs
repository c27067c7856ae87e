//! A fetched checkpoint delivered as a snapshot: opened with a RocksDB binding (its live
//! WAL files replayed), every key read in key order and written as commands.
//! (Being built: the RocksDB binding is being chosen; until then a full copy stops here.)

use std::path::Path;
use std::sync::Arc;

use replicant_link::{LinkError, LinkStatus, Sink};

use crate::source::KvrocksLink;

/// Delivers the checkpoint in `dir` to `sink` as a snapshot; its last sequence.
pub(crate) async fn deliver<S: Sink>(
    dir: &Path,
    _cfg: &KvrocksLink,
    _sink: &mut S,
    _status: &Arc<LinkStatus>,
    _restart: bool,
) -> Result<u64, LinkError> {
    Err(crate::source::source_error(format!(
        "the checkpoint in {} cannot be read yet: start from a sequence (a resume) instead",
        dir.display()
    )))
}
