//! An RDB file as a source: read in steps, parsed, and delivered to a [`Sink`] exactly as a
//! full sync from a master is (`full_sync`, every `rdb_event`, `snapshot_done`), with the
//! sink's `ready` awaited between reads so that a slow target slows the reading. The
//! buffer only ever holds what the parser has not consumed, as on the link.

use std::sync::atomic::Ordering;

use replicant_rdb::{Parser, ParserConfig};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::feed::{feed, Fed};
use crate::{LinkError, LinkState, LinkStatus, Sink};

/// An RDB to load: where its bytes come from and what to call it in messages.
pub struct RdbFile<R> {
    /// The file's bytes (a file, standard input, a pipe).
    pub reader: R,
    /// Its name in messages, e.g. the path or `<stdin>`.
    pub name: String,
    /// Its size when known (a regular file); shown as `rdb_size`.
    pub size: Option<u64>,
}

/// What loading a file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// Bytes of the RDB.
    pub rdb_bytes: u64,
    /// Bytes after the RDB's end, which were read and ignored.
    pub trailing: u64,
}

/// Reads `file` to its end, delivering its events to `sink` as snapshot events of offset 0,
/// and updates `status` as the link does during a full sync (`rdb_bytes`, `rdb_size`,
/// `rdb_keys`). Returns once the sink has taken everything (`ready` resolved after
/// `snapshot_done`); the caller then waits for the target to acknowledge it.
pub async fn load_rdb<R: AsyncRead + Unpin, S: Sink>(
    mut file: RdbFile<R>,
    parser: ParserConfig,
    read_size: usize,
    sink: &mut S,
    status: &LinkStatus,
) -> Result<Loaded, LinkError> {
    status.set_state(LinkState::FullSync);
    status.rdb_size.store(file.size.unwrap_or(0), Ordering::Relaxed);
    status.rdb_bytes.store(0, Ordering::Relaxed);
    status.full_syncs.fetch_add(1, Ordering::Relaxed);
    sink.full_sync(None, 0, false).map_err(LinkError::Sink)?;
    let mut parser = Parser::new(parser);
    let read_size = read_size.max(4096);
    let mut buf: Vec<u8> = Vec::with_capacity(read_size * 2);
    let mut start = 0;
    let mut eof = false;
    loop {
        let (used, outcome) =
            feed(&mut parser, buf.get(start..).unwrap_or_default(), sink, status).map_err(|e| match e {
                LinkError::Rdb(source) => LinkError::FileRdb { name: file.name.clone(), source },
                other => other,
            })?;
        start += used;
        status.rdb_bytes.fetch_add(used as u64, Ordering::Relaxed);
        match outcome {
            Fed::Ended => break,
            Fed::NeedMore(_) if eof => {
                let pending = buf.get(start..).unwrap_or_default();
                return Err(match parser.finish(pending) {
                    Err(source) => LinkError::FileRdb { name: file.name, source },
                    Ok(()) => LinkError::FileCut { name: file.name, received: parser.offset() + pending.len() as u64 },
                });
            }
            Fed::NeedMore(needed) => {
                sink.ready().await.map_err(LinkError::Sink)?;
                buf.drain(..start);
                start = 0;
                eof = fill(&mut file, &mut buf, needed, read_size).await?;
            }
        }
    }
    let rdb_bytes = parser.offset();
    let trailing = (buf.len() - start) as u64 + if eof { 0 } else { skip_rest(&mut file).await? };
    sink.snapshot_done(0).map_err(LinkError::Sink)?;
    sink.ready().await.map_err(LinkError::Sink)?;
    status.set_state(LinkState::Stopped);
    Ok(Loaded { rdb_bytes, trailing })
}

/// Reads until `buf` holds at least `needed` bytes or the input ends; `true` at the end.
async fn fill<R: AsyncRead + Unpin>(
    file: &mut RdbFile<R>,
    buf: &mut Vec<u8>,
    needed: usize,
    read_size: usize,
) -> Result<bool, LinkError> {
    buf.reserve(needed.saturating_sub(buf.len()).max(read_size));
    loop {
        let n = file
            .reader
            .read_buf(buf)
            .await
            .map_err(|source| LinkError::FileRead { name: file.name.clone(), source })?;
        if n == 0 {
            return Ok(true);
        }
        if buf.len() >= needed {
            return Ok(false);
        }
        buf.reserve(read_size);
    }
}

/// Reads what follows the RDB's end, counting it.
async fn skip_rest<R: AsyncRead + Unpin>(file: &mut RdbFile<R>) -> Result<u64, LinkError> {
    tokio::io::copy(&mut file.reader, &mut tokio::io::sink())
        .await
        .map_err(|source| LinkError::FileRead { name: file.name.clone(), source })
}
