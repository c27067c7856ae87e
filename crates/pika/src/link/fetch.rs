//! The full copy's transfer: after DBSync, the dump's files are fetched from the master's
//! RsyncService (port + 10001) as Pika's own replica fetches them (`rsync_client.cc`): the
//! file list and snapshot UUID first (asked again each second while the master is still
//! making the dump), then chunks of at most 4 MiB, each checked against the snapshot UUID
//! by [`Transfer`], written to disk as they arrive (memory stays at a chunk, whatever the
//! dump's size). The dump's `info` file names the binlog position the stream continues at.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use replicant_link::{LinkError, LinkStatus};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::conn::Framed;
use super::source_error;
use crate::proto::rsync::RsyncResponse;
use crate::rsync::{Chunk, DumpInfo, Progress, Transfer, TransferConfig};

/// Pause before asking again for a dump the master is still making (Pika's replica: 1 s).
const NOT_READY_PAUSE: Duration = Duration::from_secs(1);
/// How long the master may take to make the dump before the copy gives up.
const DUMP_PATIENCE: Duration = Duration::from_secs(3600);

/// Fetches `db`'s dump into `dir` (created; must not exist); the dump's `info`.
pub(crate) async fn fetch_dump(
    host: &str,
    rsync_port: u16,
    db: &str,
    dir: &Path,
    timeout: Duration,
    status: &Arc<LinkStatus>,
) -> Result<DumpInfo, LinkError> {
    let mut conn = Framed::connect(host, rsync_port, timeout).await?;
    tokio::fs::create_dir_all(dir).await?;
    let mut transfer = Transfer::new(TransferConfig::new(db));
    let started = tokio::time::Instant::now();
    while !transfer.is_done() {
        while let Some(request) = transfer.poll_request() {
            conn.send(&request).await?;
        }
        if transfer.is_done() {
            break;
        }
        let response: RsyncResponse = conn.next_within(timeout).await?;
        match transfer.handle_response(response).map_err(|e| refused(conn.addr(), e))? {
            Progress::NotReady if started.elapsed() > DUMP_PATIENCE => {
                return Err(source_error(format!(
                    "{} was still making the dump of {db} after {} s",
                    conn.addr(),
                    DUMP_PATIENCE.as_secs()
                )))
            }
            Progress::NotReady => {
                tokio::time::sleep(NOT_READY_PAUSE).await;
                transfer.retry_meta();
            }
            Progress::Meta { files, .. } => {
                tracing::info!(db, files = files.len(), dir = %dir.display(), "The master made a dump; fetching it.");
            }
            Progress::Chunk(chunk) => write_chunk(dir, &chunk, status).await?,
        }
    }
    transfer.dump_info().cloned().ok_or_else(|| source_error(format!("the dump of {db} came without its info file")))
}

/// A reply the transfer cannot use: a changed snapshot (the master made a new dump
/// meanwhile) is retried with a new DBSync, as Pika's replica does; the rest stop the job.
fn refused(addr: &str, e: crate::PikaError) -> LinkError {
    match e {
        crate::PikaError::SnapshotChanged { .. } => {
            LinkError::Io(std::io::Error::other(format!("{addr}: {e}; fetching the dump again")))
        }
        e => source_error(format!("{addr}: {e}")),
    }
}

/// Writes one chunk where it belongs (the name was checked by [`Transfer`]).
async fn write_chunk(dir: &Path, chunk: &Chunk, status: &Arc<LinkStatus>) -> Result<(), LinkError> {
    let path: PathBuf = dir.join(&chunk.file);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut file = tokio::fs::OpenOptions::new().create(true).write(true).truncate(false).open(&path).await?;
    file.seek(std::io::SeekFrom::Start(chunk.offset)).await?;
    file.write_all(&chunk.data).await?;
    if chunk.eof {
        file.sync_all().await?;
    }
    status.rdb_bytes.fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
    Ok(())
}
