//! The write stream: `PSYNC <next sequence>` on the client port, `+OK`, then one bulk per
//! RocksDB WriteBatch and `ping` heartbeats (`FeedSlaveThread::loop` in Kvrocks'
//! `src/cluster/replication.cc`; no acknowledgement flows back). Each batch is decoded,
//! converted to Redis commands and handed to the sink at the batch's last sequence, so a
//! resume point is always a batch boundary.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use replicant_link::{LinkError, LinkStatus, Sink};
use replicant_repl::CommandBuf;

use super::conn::Conn;
use super::namespaces::Placement;
use super::{source_error, KvrocksLink};
use crate::convert::{convert_with, Options};
use crate::frame::Frame;
use crate::update::Update;

/// How often the committed offset is taken while the stream is idle (Kvrocks sends no
/// acknowledgement request; this is the writer's side only).
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// How a `PSYNC` was answered.
pub(crate) enum Psync {
    /// `+OK`: the stream follows on this connection.
    Accepted(Conn),
    /// The master's WAL no longer holds the sequence (`-ERR sequence out of range`).
    OutOfRange(String),
}

/// Asks for the stream from sequence `next`.
pub(crate) async fn psync(cfg: &KvrocksLink, next: u64) -> Result<Psync, LinkError> {
    let mut conn = Conn::open(&cfg.master, cfg.timeout).await?;
    conn.send(&[b"PSYNC", next.to_string().as_bytes()]).await?;
    let reply = conn.line().await?;
    match reply.strip_prefix(b"-") {
        None if reply == b"+OK" => Ok(Psync::Accepted(conn)),
        Some(error) if error.windows(12).any(|w| w == b"out of range") => {
            Ok(Psync::OutOfRange(String::from_utf8_lossy(error).into_owned()))
        }
        _ => {
            let text = String::from_utf8_lossy(&reply).into_owned();
            Err(source_error(format!("{} answered PSYNC {next} with {text:?}", conn.addr())))
        }
    }
}

/// Follows the stream on `conn` until it breaks; `next` moves past every batch delivered.
pub(crate) async fn follow<S: Sink>(
    cfg: &KvrocksLink,
    mut conn: Conn,
    next: &mut u64,
    sink: &mut S,
    status: &Arc<LinkStatus>,
) -> Result<(), LinkError> {
    let mut command = CommandBuf::new();
    let mut tick = tokio::time::interval(COMMIT_EVERY);
    let mut heard = tokio::time::Instant::now();
    loop {
        let Some((frame, used)) = Frame::load(&conn.buf).map_err(|e| at_sequence(*next, e))? else {
            sink.ready().await.map_err(LinkError::Sink)?;
            // The committed offset moves as the target acknowledges, batches or not: it is
            // what the checkpoint stores and what says the snapshot is applied.
            let _ = sink.committed();
            tokio::select! {
                read = conn.read_more() => {
                    read?;
                    heard = tokio::time::Instant::now();
                }
                _ = tick.tick() => {
                    if heard.elapsed() > conn.timeout() {
                        return Err(conn.silent());
                    }
                }
            }
            continue;
        };
        match frame {
            Frame::Ping => {}
            Frame::Batch(rep) => {
                // A batch of LogData alone (a command that changed nothing) takes no sequence.
                *next = deliver(cfg, rep, *next, sink, &mut command)?;
                status.offset.store(next.saturating_sub(1), Ordering::Relaxed);
            }
            Frame::Simple(line) | Frame::Error(line) => {
                let text = String::from_utf8_lossy(line).into_owned();
                return Err(source_error(format!("{} sent {text:?} in the stream at sequence {next}", conn.addr())));
            }
        }
        let _ = conn.buf.split_to(used);
    }
}

/// Decodes one batch, checks it starts at `expected`, and hands its commands to the sink at
/// its last sequence; the sequence after it (its own, for a batch that holds no record).
fn deliver<S: Sink>(
    cfg: &KvrocksLink,
    rep: &[u8],
    expected: u64,
    sink: &mut S,
    command: &mut CommandBuf,
) -> Result<u64, LinkError> {
    let update = Update::decode(rep, cfg.layout).map_err(|e| at_sequence(expected, e))?;
    let first = update.sequence;
    if first != expected {
        return Err(source_error(format!(
            "the master sent the batch of sequence {first} where {expected} was next: a gap or an overlap in its \
             WAL stream"
        )));
    }
    let next = update.next_sequence().max(first);
    let last = next.saturating_sub(1);
    let mut update = update;
    if !cfg.skip_types.is_empty() {
        // A command on a key of a skipped type names the type in its LogData.
        let skipped = |g: &crate::update::Group<'_>| {
            g.log
                .as_ref()
                .and_then(crate::LogData::as_redis)
                .and_then(|l| l.redis_type())
                .is_some_and(|t| cfg.skip_types.contains(&t))
        };
        update.groups.retain(|g| !skipped(g));
    }
    // PUBLISH goes on as a command: the writer forwards it only under --forward-publish,
    // as it does a Redis master's.
    let converted = convert_with(&update, Options::default().with_publish(true));
    if let Some(skipped) = converted.skipped.first() {
        return Err(source_error(format!(
            "the batch of sequence {first} holds a record replicant cannot convert yet ({} at byte {} of the \
             batch); nothing of it was applied",
            skipped.what, skipped.offset
        )));
    }
    for cmd in &converted.commands {
        let Placement::Db(db) = cfg.namespaces.place(cmd.namespace).map_err(|e| LinkError::Source(Box::new(e)))? else {
            continue;
        };
        command.set(&cmd.args);
        sink.command(&command.command(last, db)).map_err(LinkError::Sink)?;
    }
    Ok(next)
}

fn at_sequence(sequence: u64, e: crate::KvrocksError) -> LinkError {
    source_error(format!("the WriteBatch of sequence {sequence}: {e}"))
}
