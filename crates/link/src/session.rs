//! The driver: one loop per connection (`session`), and the reconnecting loop around it
//! (`run`). Snapshot bytes go from the socket buffer straight into the RDB parser; the
//! buffer only ever holds what the parser or the replica has not consumed yet.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use replicant_rdb::Parser;
use replicant_repl::{Event, Input, ReplError, ReplId, Replica, ResumePoint};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::Instant;

use crate::feed::{feed, Fed};
use crate::{FullResyncPolicy, LinkConfig, LinkError, LinkState, LinkStatus, Sink};

/// Follows the master until `shutdown` resolves (`Ok`) or a final error.
pub async fn run<S: Sink>(
    cfg: LinkConfig,
    sink: &mut S,
    status: Arc<LinkStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), LinkError> {
    tokio::pin!(shutdown);
    let mut link = Link { cfg, status, resume: None, delivered: false, streamed: false };
    link.resume = link.cfg.replica.resume;
    let mut failures = 0u32;
    let mut pause = link.cfg.backoff;
    loop {
        link.status.set_state(LinkState::Connecting);
        let outcome = tokio::select! {
            outcome = link.session(sink) => outcome,
            () = &mut shutdown => {
                link.status.set_state(LinkState::Stopped);
                return Ok(());
            }
        };
        let Err(err) = outcome else { continue };
        link.status.set_last_error(&err);
        if link.streamed {
            failures = 0;
            pause = link.cfg.backoff;
            link.streamed = false;
        }
        if !err.is_retryable() {
            link.status.set_state(LinkState::Stopped);
            return Err(err);
        }
        if link.resume.is_none() && link.delivered && link.cfg.full_resync == FullResyncPolicy::Stop {
            link.status.set_state(LinkState::Stopped);
            return Err(LinkError::SnapshotInterrupted { cause: Box::new(err) });
        }
        failures += 1;
        if link.cfg.max_attempts.is_some_and(|max| failures >= max) {
            link.status.set_state(LinkState::Stopped);
            return Err(LinkError::GaveUp { attempts: failures, last: Box::new(err) });
        }
        tracing::warn!(error = %err, retry_in_ms = pause.as_millis() as u64, "Replication link lost; reconnecting.");
        link.status.set_state(LinkState::Backoff);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = &mut shutdown => {
                link.status.set_state(LinkState::Stopped);
                return Ok(());
            }
        }
        pause = (pause * 2).min(link.cfg.max_backoff);
    }
}

struct Link {
    cfg: LinkConfig,
    status: Arc<LinkStatus>,
    /// Where the next connection resumes; `None` asks for a full sync.
    resume: Option<ResumePoint>,
    /// Whether anything was delivered to the sink in this run.
    delivered: bool,
    /// Whether the last session reached the command stream.
    streamed: bool,
}

/// The byte buffer of one connection: `buf[start..]` is received and not yet consumed.
struct Buffer {
    buf: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
    }

    /// Moves the pending bytes to the front and makes room for a read.
    fn make_room(&mut self, read_size: usize) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(read_size);
    }
}

impl Link {
    /// One connection: connect, handshake, snapshot or continue, stream. Returns only with
    /// an error (a closed connection is one).
    async fn session<S: Sink>(&mut self, sink: &mut S) -> Result<(), LinkError> {
        // A master that accepts and then says nothing (or a TLS handshake that stalls) is
        // as dead as a silent link: the same timeout applies.
        let limit = self.cfg.replica.timeout;
        let stream = tokio::time::timeout(limit, replicant_net::connect(&self.cfg.master))
            .await
            .map_err(|_| ReplError::Timeout { secs: limit.as_secs() })??;
        self.status.connections.fetch_add(1, Ordering::Relaxed);
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut replica = Replica::new(self.cfg.replica.clone().resume(self.resume));
        replica.handle_connected(Instant::now().into_std());
        let mut buf = Buffer { buf: Vec::with_capacity(self.cfg.read_size * 2), start: 0 };
        let mut parser: Option<Parser> = None;
        loop {
            self.process(&mut replica, &mut buf, &mut parser, sink)?;
            self.resume = replica.resume_point();
            if let Some(committed) = sink.committed() {
                replica.set_committed(committed);
            }
            sink.ready().await.map_err(LinkError::Sink)?;
            transmit(&mut replica, &mut wr, limit).await?;
            buf.make_room(self.cfg.read_size);
            wait_for_input(&mut replica, &mut rd, &mut buf).await?;
            transmit(&mut replica, &mut wr, limit).await?;
        }
    }

    /// Handles everything complete in the buffer.
    fn process<S: Sink>(
        &mut self,
        replica: &mut Replica,
        buf: &mut Buffer,
        parser: &mut Option<Parser>,
        sink: &mut S,
    ) -> Result<(), LinkError> {
        // One clock reading per batch of input, not per command.
        let now = Instant::now().into_std();
        loop {
            let (len, last) = match replica.handle_input(buf.pending(), now)? {
                Input::NeedMore => return Ok(()),
                Input::Consumed(n) => {
                    buf.consume(n);
                    continue;
                }
                Input::Event { event, consumed } => {
                    self.event(event, parser, sink)?;
                    buf.consume(consumed);
                    continue;
                }
                Input::Rdb { len, last } => (len, last),
            };
            let parser_ref =
                parser.as_mut().ok_or(replicant_repl::ReplError::Misuse("snapshot bytes before FULLRESYNC"))?;
            let region = buf.pending().get(..len).unwrap_or_default();
            let (used, ended) = feed_rdb(parser_ref, region, last, sink, &self.status)?;
            replica.rdb_consumed(used);
            buf.consume(used);
            self.status.rdb_bytes.fetch_add(used as u64, Ordering::Relaxed);
            if !ended {
                return Ok(());
            }
            *parser = None;
            replica.rdb_done(now)?;
            sink.snapshot_done(replica.offset()).map_err(LinkError::Sink)?;
            self.status.set_state(LinkState::Streaming);
            self.streamed = true;
        }
    }

    fn event<S: Sink>(&mut self, event: Event<'_>, parser: &mut Option<Parser>, sink: &mut S) -> Result<(), LinkError> {
        match event {
            Event::FullResync { replid, offset, partial_requested } => {
                if partial_requested && self.cfg.full_resync == FullResyncPolicy::Stop {
                    let (replid, offset) =
                        self.resume.map_or((replid.unwrap_or(ReplId::ZERO), offset), |at| (at.replid, at.offset));
                    return Err(LinkError::FullResyncRefused {
                        replid,
                        offset,
                        why: "the master answered FULLRESYNC: its backlog no longer holds that offset, or its history differs",
                    });
                }
                tracing::info!(replid = %replid.map(|r| r.to_string()).unwrap_or_default(), offset, "Full sync started.");
                sink.full_sync(replid, offset, self.delivered).map_err(LinkError::Sink)?;
                self.delivered = true;
                *parser = Some(Parser::new(self.cfg.parser.clone()));
                self.status.set_state(LinkState::FullSync);
                self.status.set_replid(replid.map(|r| r.to_string()));
                self.status.offset.store(offset, Ordering::Relaxed);
                self.status.rdb_bytes.store(0, Ordering::Relaxed);
                self.status.rdb_size.store(0, Ordering::Relaxed);
                self.status.full_syncs.fetch_add(1, Ordering::Relaxed);
            }
            Event::RdbStart { size } => {
                self.status.rdb_size.store(size.unwrap_or(0), Ordering::Relaxed);
            }
            Event::Continue { replid, offset, replid_changed } => {
                tracing::info!(%replid, offset, replid_changed, "Partial resync accepted.");
                sink.resumed(replid, offset, replid_changed).map_err(LinkError::Sink)?;
                self.delivered = true;
                self.streamed = true;
                self.status.set_state(LinkState::Streaming);
                self.status.set_replid(Some(replid.to_string()));
                self.status.partial_syncs.fetch_add(1, Ordering::Relaxed);
            }
            Event::Command(cmd) => {
                sink.command(&cmd).map_err(LinkError::Sink)?;
                self.status.commands.fetch_add(1, Ordering::Relaxed);
                self.status.offset.store(cmd.offset, Ordering::Relaxed);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Feeds snapshot bytes to the parser until it needs more or the RDB ends; returns the
/// bytes it consumed and whether the RDB ended. `last`: the region is all the snapshot
/// there is, so needing more is a snapshot cut short.
fn feed_rdb<S: Sink>(
    parser: &mut Parser,
    region: &[u8],
    last: bool,
    sink: &mut S,
    status: &LinkStatus,
) -> Result<(usize, bool), LinkError> {
    match feed(parser, region, sink, status)? {
        (used, Fed::Ended) => Ok((used, true)),
        (used, Fed::NeedMore(needed)) if last && needed > region.len() - used => {
            Err(LinkError::SnapshotCut { received: parser.offset() + (region.len() - used) as u64 })
        }
        (used, Fed::NeedMore(_)) => Ok((used, false)),
    }
}

/// Sends what the replica wants sent. A master that takes none of it for `limit` (its
/// side of a half-open link) ends the connection like a silent one.
async fn transmit<W: tokio::io::AsyncWrite>(
    replica: &mut Replica,
    wr: &mut WriteHalf<W>,
    limit: Duration,
) -> Result<(), LinkError> {
    while let Some(bytes) = replica.poll_transmit() {
        tokio::time::timeout(limit, wr.write_all(&bytes))
            .await
            .map_err(|_| ReplError::Timeout { secs: limit.as_secs() })??;
    }
    Ok(())
}

/// Reads more bytes, or handles the replica's timer.
///
/// Reading comes first: when the sink held the loop up (a slow target), bytes the master
/// sent meanwhile wait in the socket, and the master was not silent. A due timer is also
/// handled after a read, so that a busy stream does not hold back the ACKs.
async fn wait_for_input<R: tokio::io::AsyncRead>(
    replica: &mut Replica,
    rd: &mut ReadHalf<R>,
    buf: &mut Buffer,
) -> Result<(), LinkError> {
    let deadline = replica.poll_timeout().map(Instant::from_std);
    let far = Instant::now() + Duration::from_secs(3600);
    tokio::select! {
        biased;
        read = rd.read_buf(&mut buf.buf) => {
            if read? == 0 {
                return Err(LinkError::Closed);
            }
            let now = Instant::now();
            replica.handle_received(now.into_std());
            if deadline.is_some_and(|d| now >= d) {
                replica.handle_timeout(now.into_std())?;
            }
        }
        () = tokio::time::sleep_until(deadline.unwrap_or(far)) => {
            replica.handle_timeout(Instant::now().into_std())?;
        }
    }
    Ok(())
}
