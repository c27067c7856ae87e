//! A fetched dump delivered as a snapshot: [`crate::dump`] reads it on a blocking thread
//! and hands over pieces of commands through a bounded channel, so memory stays at a few
//! pieces whatever the dump holds; every command carries the position the stream then
//! continues from.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use replicant_link::{LinkError, LinkStatus, Sink};
use replicant_repl::CommandBuf;
use tokio::sync::mpsc;

use super::source_error;
use crate::dump::{read_dump, DumpFormat, DumpLayout, DumpPiece};

/// Pieces in flight between the reading thread and the writer.
const CHANNEL_PIECES: usize = 4;

/// Delivers the dump in `dir` (of database `db`) to `sink` at position `at`.
pub(super) async fn deliver<S: Sink>(
    dir: &Path,
    db: u64,
    at: u64,
    sink: &mut S,
    status: &Arc<LinkStatus>,
) -> Result<(), LinkError> {
    let (tx, mut rx) = mpsc::channel::<DumpPiece>(CHANNEL_PIECES);
    let owned = dir.to_path_buf();
    let now_ms = super::session::now_ms();
    let reader = tokio::task::spawn_blocking(move || {
        let layout = DumpLayout::new(db, DumpFormat::detect(&owned)?);
        read_dump(&owned, &layout, now_ms, |piece| tx.blocking_send(piece).is_ok())
    });
    let mut command = CommandBuf::new();
    while let Some(piece) = rx.recv().await {
        for args in &piece.commands {
            command.set(args);
            sink.command(&command.command(at, db)).map_err(LinkError::Sink)?;
        }
        sink.ready().await.map_err(LinkError::Sink)?;
        status.rdb_keys.fetch_add(piece.keys, Ordering::Relaxed);
        for skipped in &piece.skipped {
            tracing::warn!(key = %String::from_utf8_lossy(&skipped.key), reason = ?skipped.reason, "A key of the dump is left out.");
        }
    }
    let summary = reader
        .await
        .map_err(|e| source_error(format!("the dump reader stopped: {e}")))?
        .map_err(|e| source_error(format!("the dump in {}: {e}", dir.display())))?;
    tracing::info!(summary = ?summary, "The dump is copied.");
    Ok(())
}
