//! The full sync's transfer: `_fetch_meta` makes the master take a RocksDB checkpoint and
//! list its files, then `_fetch_file` streams them, as Kvrocks' own replicas fetch them
//! (`fetchFiles` in `src/cluster/replication.cc`). Files are written to a fresh directory as
//! their bytes arrive (memory stays at one read buffer, whatever their size), each checked
//! against the size the master announced.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use replicant_link::{LinkError, LinkStatus};
use replicant_net::Endpoint;
use tokio::io::AsyncWriteExt;

use super::conn::Conn;
use super::source_error;
use crate::transfer::{parse_meta, FileEvent, FileReceiver, MetaReply};

/// Fetches the master's checkpoint into `dir` (created; must not exist) and returns it.
pub(crate) async fn fetch_checkpoint(
    master: &Endpoint,
    timeout: std::time::Duration,
    dir: &Path,
    status: &Arc<LinkStatus>,
) -> Result<PathBuf, LinkError> {
    let files = fetch_meta(master, timeout).await?;
    tokio::fs::create_dir_all(dir).await?;
    tracing::info!(files = files.len(), dir = %dir.display(), "The master made a checkpoint; fetching its files.");
    let mut conn = Conn::open(master, timeout).await?;
    let list = files.join(",");
    conn.send(&[b"_fetch_file", list.as_bytes()]).await?;
    let mut rx = FileReceiver::new(files.len());
    let mut file: Option<(tokio::fs::File, u64)> = None;
    while !rx.is_done() {
        let Some((event, used)) = rx.feed(&conn.buf).map_err(|e| LinkError::Source(Box::new(e)))? else {
            conn.fill().await.map_err(|e| cut_short(&files, rx.current(), &file, e))?;
            continue;
        };
        match event {
            FileEvent::Start { index, size } => {
                let name = files.get(index).map_or("?", String::as_str);
                let created = tokio::fs::File::create(dir.join(name)).await?;
                file = Some((created, size));
            }
            FileEvent::Data(bytes) => {
                if let Some((f, left)) = file.as_mut() {
                    f.write_all(bytes).await?;
                    *left = left.saturating_sub(bytes.len() as u64);
                }
                status.rdb_bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            FileEvent::End => {
                if let Some((mut f, _)) = file.take() {
                    f.flush().await?;
                    f.sync_all().await?;
                }
            }
        }
        let _ = conn.buf.split_to(used);
    }
    Ok(dir.to_path_buf())
}

/// Asks for a checkpoint; its file names.
async fn fetch_meta(master: &Endpoint, timeout: std::time::Duration) -> Result<Vec<String>, LinkError> {
    let mut conn = Conn::open(master, timeout).await?;
    conn.send(&[b"_fetch_meta"]).await?;
    loop {
        if let Some((reply, _)) = parse_meta(&conn.buf).map_err(|e| LinkError::Source(Box::new(e)))? {
            return match reply {
                MetaReply::Files(files) if !files.is_empty() => Ok(files),
                MetaReply::Files(_) => Err(source_error(format!("{} listed no checkpoint file", conn.addr()))),
                MetaReply::Error(why) => {
                    Err(source_error(format!("{} could not make a checkpoint: {why}", conn.addr())))
                }
            };
        }
        conn.fill().await?;
    }
}

/// The transfer of file `index` broke: the error, naming the file and how much of it was
/// missing. Still retryable (a new full copy is fetched), but what and where are said.
fn cut_short(files: &[String], index: usize, open: &Option<(tokio::fs::File, u64)>, cause: LinkError) -> LinkError {
    let name = files.get(index).map_or("(after the last file)", String::as_str);
    let missing = open.as_ref().map_or(String::new(), |(_, left)| format!(", {left} bytes of it missing"));
    let kind = match &cause {
        LinkError::Io(e) => e.kind(),
        _ => std::io::ErrorKind::UnexpectedEof,
    };
    LinkError::Io(std::io::Error::new(
        kind,
        format!(
            "the transfer of checkpoint file {name} (file {} of {}) was cut short{missing}: {cause}",
            index + 1,
            files.len()
        ),
    ))
}
