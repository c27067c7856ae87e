//! The replica state machine: handshake (`PING`, `AUTH`, `REPLCONF`, `PSYNC` or `SYNC`),
//! the full-sync payload's framing (`$<len>` or `$EOF:<mark>`, with keepalive newlines),
//! then the command stream with exact offsets and `REPLCONF ACK`. It owns no socket and
//! reads no clock: the driver feeds it bytes and times, and sends what it asks to send.
//!
//! Follows the replica side of Redis's `replication.c` (`syncWithMaster`,
//! `slaveTryPartialResynchronization`, `readSyncBulkPayload`, `replicationSendAck`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::command::{self, Command, Parsed};
use crate::{ReplError, ReplId, ReplicaConfig, ResumePoint};

mod handshake;

/// What the front of the input turned out to be.
#[derive(Debug)]
pub enum Input<'a> {
    /// Nothing complete: read more from the master (the input must grow).
    NeedMore,
    /// This many bytes were handled (handshake replies, keepalives, the end mark).
    Consumed(usize),
    /// An event; drop `consumed` bytes after handling it.
    Event {
        /// What happened.
        event: Event<'a>,
        /// Bytes done with.
        consumed: usize,
    },
    /// Up to `len` bytes at the front of the input are RDB payload: give them to the RDB
    /// parser, then report with [`Replica::rdb_consumed`] and, at its end,
    /// [`Replica::rdb_done`].
    Rdb {
        /// Bytes of payload available at the front of the input.
        len: usize,
        /// Whether these are all the payload bytes the master announced (disk-based sync):
        /// an RDB parser that still wants more has found the payload cut short.
        last: bool,
    },
}

/// Something the driver must act on.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The master will send a full snapshot. `replid` is `None` after a `SYNC` fallback.
    FullResync {
        /// The master's replication ID.
        replid: Option<ReplId>,
        /// The offset the stream will continue from.
        offset: u64,
        /// Whether a partial resync had been asked for (and refused).
        partial_requested: bool,
    },
    /// The snapshot's framing is known: `size` for a disk-based sync, `None` diskless.
    RdbStart {
        /// Payload length, when announced.
        size: Option<u64>,
    },
    /// The master accepted a partial resync: the stream continues at `offset`.
    Continue {
        /// The master's replication ID (new after a failover).
        replid: ReplId,
        /// Offset of the last byte already received.
        offset: u64,
        /// Whether the master announced a different replication ID.
        replid_changed: bool,
    },
    /// A command of the live stream.
    Command(Command<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Ping,
    Auth,
    Port,
    Capa,
    Psync,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Ping => "PING",
            Step::Auth => "AUTH",
            Step::Port => "REPLCONF listening-port",
            Step::Capa => "REPLCONF capa",
            Step::Psync => "PSYNC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Reply(Step),
    Preamble,
    RdbLen { left: u64 },
    RdbMark { mark: [u8; 40] },
    Mark { mark: [u8; 40] },
    Skip { left: u64 },
    Stream,
    Failed,
}

/// Coarse state, for status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not connected yet, or the handshake is under way.
    Handshake,
    /// Receiving the snapshot.
    FullSync,
    /// Following the command stream.
    Streaming,
    /// The link failed.
    Failed,
}

const MAX_LINE: usize = 4096;
const MARK_LEN: usize = 40;

/// How often to ACK between the end of a snapshot and the stream's first command.
const FAST_ACK: Duration = Duration::from_millis(100);
/// For at most this long.
const FAST_ACK_WINDOW: Duration = Duration::from_secs(2);

/// The replica side of one replication link.
pub struct Replica {
    cfg: ReplicaConfig,
    phase: Phase,
    out: VecDeque<Vec<u8>>,
    replid: Option<ReplId>,
    /// Offset of the last stream byte processed.
    offset: u64,
    /// Offset the driver says is safely applied; reported in ACKs when set.
    committed: Option<u64>,
    db: u64,
    /// Offset and database just before the `MULTI` of a transaction whose `EXEC` (or
    /// `DISCARD`) has not arrived: a resume must start there.
    open_tx: Option<(u64, u64)>,
    partial_requested: bool,
    last_input: Option<Instant>,
    next_ack: Option<Instant>,
    /// Until the stream's first command (or this time), ACKs go every [`FAST_ACK`].
    fast_acks_until: Option<Instant>,
    args: Vec<(usize, usize)>,
    /// Bytes of this connection handled so far, for error messages.
    read: u64,
    /// Whether the command stream was reached on this connection.
    streamed: bool,
    /// Whether a snapshot started on this connection (it replaces any resume point).
    snapshot_started: bool,
}

impl Replica {
    /// A replica that will introduce itself with these settings.
    pub fn new(cfg: ReplicaConfig) -> Self {
        let (replid, offset, db) = match cfg.resume {
            Some(at) => (Some(at.replid), at.offset, at.db),
            None => (None, 0, 0),
        };
        Replica {
            cfg,
            phase: Phase::Idle,
            out: VecDeque::new(),
            replid,
            offset,
            committed: None,
            db,
            open_tx: None,
            partial_requested: false,
            last_input: None,
            next_ack: None,
            fast_acks_until: None,
            args: Vec::new(),
            read: 0,
            streamed: false,
            snapshot_started: false,
        }
    }

    /// The connection is up: starts the handshake.
    pub fn handle_connected(&mut self, now: Instant) {
        self.last_input = Some(now);
        self.read = 0;
        self.send(&[b"PING"]);
        self.phase = Phase::Reply(Step::Ping);
    }

    /// Bytes arrived from the master (for the silence timeout).
    pub fn handle_received(&mut self, now: Instant) {
        self.last_input = Some(now);
    }

    /// Time passed: sends a periodic ACK when due; fails after too long a silence.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ReplError> {
        if let Some(last) = self.last_input {
            let silent = now.saturating_duration_since(last);
            if silent >= self.cfg.timeout && self.phase != Phase::Idle {
                self.phase = Phase::Failed;
                return Err(ReplError::Timeout { secs: silent.as_secs() });
            }
        }
        if self.phase == Phase::Stream && self.next_ack.is_some_and(|t| now >= t) {
            self.send_ack(now);
        }
        Ok(())
    }

    /// When [`Replica::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let silence = self.last_input.map(|t| t + self.cfg.timeout);
        match (silence, self.next_ack.filter(|_| self.phase == Phase::Stream)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next bytes to send to the master.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The master's replication ID, once known.
    pub fn replid(&self) -> Option<ReplId> {
        self.replid
    }

    /// Offset of the last stream byte processed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where a new connection of this process should resume: the replication ID, the
    /// offset of the last byte handed to the driver and the database selected there. Inside
    /// a `MULTI` block it is the point before `MULTI`, so the transaction comes again whole.
    /// `None` until the stream started (a snapshot cut short cannot be resumed).
    pub fn resume_point(&self) -> Option<ResumePoint> {
        let streaming = self.phase == Phase::Stream || (self.phase == Phase::Failed && self.streamed);
        if !streaming {
            return self.cfg.resume.filter(|_| !self.snapshot_started);
        }
        let (offset, db) = self.open_tx.unwrap_or((self.offset, self.db));
        self.replid.map(|replid| ResumePoint { replid, offset, db })
    }

    /// The offset the driver said is applied (what ACKs report), if any.
    pub fn committed(&self) -> Option<u64> {
        self.committed
    }

    /// Coarse state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Idle | Phase::Reply(_) => State::Handshake,
            Phase::Preamble
            | Phase::RdbLen { .. }
            | Phase::RdbMark { .. }
            | Phase::Mark { .. }
            | Phase::Skip { .. } => State::FullSync,
            Phase::Stream => State::Streaming,
            Phase::Failed => State::Failed,
        }
    }

    /// The offset up to which the driver has applied everything; ACKs report it.
    pub fn set_committed(&mut self, offset: u64) {
        self.committed = Some(offset);
    }

    /// Reports that the RDB parser consumed `n` payload bytes.
    pub fn rdb_consumed(&mut self, n: usize) {
        self.read += n as u64;
        if let Phase::RdbLen { left } = &mut self.phase {
            *left = left.saturating_sub(n as u64);
        }
    }

    /// Reports that the RDB parser reached the end of the snapshot.
    pub fn rdb_done(&mut self, now: Instant) -> Result<(), ReplError> {
        match self.phase {
            Phase::RdbLen { left: 0 } => self.start_stream(now),
            Phase::RdbLen { left } => self.phase = Phase::Skip { left },
            Phase::RdbMark { mark } => self.phase = Phase::Mark { mark },
            _ => return Err(ReplError::Misuse("rdb_done outside of the snapshot")),
        }
        Ok(())
    }

    /// Looks at the front of the input (bytes received and not yet consumed).
    pub fn handle_input<'a>(&'a mut self, input: &'a [u8], now: Instant) -> Result<Input<'a>, ReplError> {
        if self.phase == Phase::Stream {
            return self.command(input, now);
        }
        let result = self.dispatch(input, now);
        if result.is_err() {
            self.phase = Phase::Failed;
        }
        result
    }

    fn dispatch<'a>(&mut self, input: &'a [u8], now: Instant) -> Result<Input<'a>, ReplError> {
        match self.phase {
            Phase::Idle => Err(ReplError::Misuse("input before handle_connected")),
            Phase::Failed => Err(ReplError::Misuse("input after a failure")),
            Phase::Reply(step) => self.reply(step, input),
            Phase::Preamble => self.preamble(input),
            Phase::RdbLen { left } => Ok(match input.len().min(usize::try_from(left).unwrap_or(usize::MAX)) {
                0 => Input::NeedMore,
                len => Input::Rdb { len, last: len as u64 == left },
            }),
            Phase::RdbMark { .. } => {
                Ok(if input.is_empty() { Input::NeedMore } else { Input::Rdb { len: input.len(), last: false } })
            }
            Phase::Mark { mark } => self.end_mark(input, mark, now),
            Phase::Skip { left } => {
                let n = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - n as u64;
                if left == 0 {
                    self.start_stream(now);
                } else {
                    self.phase = Phase::Skip { left };
                }
                Ok(if n == 0 && left > 0 { Input::NeedMore } else { self.consumed(n) })
            }
            Phase::Stream => Err(ReplError::Misuse("stream input in the control path")),
        }
    }

    fn consumed(&mut self, n: usize) -> Input<'static> {
        self.read += n as u64;
        Input::Consumed(n)
    }

    /// Keepalive newlines, then `$<len>` or `$EOF:<mark>`.
    fn preamble<'a>(&mut self, input: &'a [u8]) -> Result<Input<'a>, ReplError> {
        if input.first() == Some(&b'\n') {
            return Ok(self.consumed(1));
        }
        let Some((line, used)) = self.line(input)? else { return Ok(Input::NeedMore) };
        let at = self.read;
        self.read += used as u64;
        if let Some(err) = line.strip_prefix(b"-") {
            return Err(ReplError::Aborted { line: String::from_utf8_lossy(err).into_owned() });
        }
        let bad =
            || ReplError::Protocol { what: format!("bad snapshot preamble {:?}", line.escape_ascii().to_string()), at };
        let spec = line.strip_prefix(b"$").ok_or_else(bad)?;
        let size = if let Some(mark) = spec.strip_prefix(b"EOF:") {
            let mark: [u8; MARK_LEN] = mark.try_into().map_err(|_| bad())?;
            self.phase = Phase::RdbMark { mark };
            None
        } else {
            let len = std::str::from_utf8(spec).ok().and_then(|s| s.parse::<u64>().ok()).filter(|n| *n > 0);
            let len = len.ok_or_else(bad)?;
            self.phase = Phase::RdbLen { left: len };
            Some(len)
        };
        Ok(Input::Event { event: Event::RdbStart { size }, consumed: used })
    }

    /// The 40-byte mark that ends a diskless snapshot.
    fn end_mark<'a>(&mut self, input: &'a [u8], mark: [u8; MARK_LEN], now: Instant) -> Result<Input<'a>, ReplError> {
        let Some(found) = input.get(..MARK_LEN) else { return Ok(Input::NeedMore) };
        if found != mark {
            return Err(ReplError::Protocol {
                what: format!("the snapshot does not end with its mark (found {:?})", found.escape_ascii().to_string()),
                at: self.read,
            });
        }
        self.start_stream(now);
        Ok(self.consumed(MARK_LEN))
    }

    fn start_stream(&mut self, now: Instant) {
        self.phase = Phase::Stream;
        self.streamed = true;
        // The first ACK puts the replica online; after a diskless sync the master waits
        // for it before streaming (`repl_start_cmd_stream_on_ack`). An ACK that arrives
        // before the master has reaped its snapshot child is not counted, and the stream
        // would wait for the next one: so ACK often until the stream starts.
        self.fast_acks_until = Some(now + FAST_ACK_WINDOW);
        self.send_ack(now);
    }

    /// One command of the live stream.
    fn command<'a>(&'a mut self, input: &'a [u8], now: Instant) -> Result<Input<'a>, ReplError> {
        let size = match command::parse(input, &mut self.args, self.cfg.max_command_bytes) {
            Ok(Parsed::Complete(size)) => size,
            Ok(Parsed::Incomplete(needed)) if needed > self.cfg.max_command_bytes + MAX_LINE => {
                self.phase = Phase::Failed;
                return Err(ReplError::TooLarge {
                    what: "command",
                    len: needed as u64,
                    limit: self.cfg.max_command_bytes,
                });
            }
            Ok(Parsed::Incomplete(_)) => return Ok(Input::NeedMore),
            Err(what) => {
                self.phase = Phase::Failed;
                return Err(ReplError::Protocol { what, at: self.read });
            }
        };
        let before = (self.offset, self.db);
        self.fast_acks_until = None;
        self.offset += size as u64;
        self.read += size as u64;
        let (select, getack) = {
            let cmd = Command::new(input, &self.args, self.offset, self.db, size);
            if cmd.is("MULTI") {
                self.open_tx = Some(before);
            } else if cmd.is("EXEC") || cmd.is("DISCARD") {
                self.open_tx = None;
            }
            let select = if cmd.is("SELECT") {
                cmd.arg(1).and_then(|a| std::str::from_utf8(a).ok()?.parse::<u64>().ok())
            } else {
                None
            };
            let getack = cmd.is("REPLCONF") && cmd.arg(1).is_some_and(|a| a.eq_ignore_ascii_case(b"GETACK"));
            (select, getack)
        };
        if let Some(db) = select {
            self.db = db;
        }
        if getack {
            self.send_ack(now);
        }
        let cmd = Command::new(input, &self.args, self.offset, self.db, size);
        Ok(Input::Event { event: Event::Command(cmd), consumed: size })
    }

    fn send_ack(&mut self, now: Instant) {
        let offset = self.committed.unwrap_or(self.offset);
        let mut buf = itoa::Buffer::new();
        let text = buf.format(offset).as_bytes().to_vec();
        self.send(&[b"REPLCONF", b"ACK", &text]);
        let fast = self.fast_acks_until.is_some_and(|until| now < until);
        let interval = if fast { FAST_ACK.min(self.cfg.ack_interval) } else { self.cfg.ack_interval };
        self.next_ack = Some(now + interval);
    }

    fn send(&mut self, args: &[&[u8]]) {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        let mut buf = itoa::Buffer::new();
        out.push(b'*');
        out.extend_from_slice(buf.format(args.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        for a in args {
            out.push(b'$');
            out.extend_from_slice(buf.format(a.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.out.push_back(out);
    }

    /// A `\r\n`-terminated line at the front: its text and the bytes it used.
    fn line<'a>(&self, input: &'a [u8]) -> Result<Option<(&'a [u8], usize)>, ReplError> {
        match input.iter().take(MAX_LINE).position(|b| *b == b'\n') {
            Some(nl) => {
                let text = input.get(..nl).unwrap_or_default();
                Ok(Some((text.strip_suffix(b"\r").unwrap_or(text), nl + 1)))
            }
            None if input.len() >= MAX_LINE => {
                Err(ReplError::TooLarge { what: "line", len: input.len() as u64, limit: MAX_LINE })
            }
            None => Ok(None),
        }
    }
}
