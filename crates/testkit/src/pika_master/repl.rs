//! The master's replication state, shared by the InnerMessage connections and the cron
//! thread under one lock: per database its binlog and its slave nodes (Pika's
//! `SyncMasterDB`, `SlaveNode`, `SyncWindow`: `src/pika_rm.cc`, `src/pika_slave_node.cc`),
//! the replicas that did MetaSync (`PikaServer::slaves_`), which connection each replica's
//! binlog goes to (`ReplServerUpdateClientConnMap`), and what the mock recorded.
//!
//! Streaming, as Pika does it: the first BinlogSync (`first_send`) points a node's reader at
//! its start and reads up to `sync-window-size` items into batches of up to 100
//! (`kBinlogSendBatchNum`); every good ACK frees its items from the window and reads more;
//! new writes are read only for nodes with nothing unacknowledged (`WakeUpSlaveBinlogSync`);
//! a node with nothing unacknowledged gets an empty BinlogSync after 2 s without a send, and
//! a node not heard from for 20 s is removed (`CheckSyncTimeout`), its connection left open.
//!
//! ACKs are checked twice: strictly (the range must be exactly one batch sent and not yet
//! acknowledged: start = its first item's `binlog_offset`, end = its last item's filenum
//! and offset), which records an [`AckError`] but goes on; and as Pika does
//! (`SyncWindow::Update`: both ends must be items in the window), which also closes the
//! connection when it fails, as Pika's `conn->NotifyClose()`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use replicant_pika::proto::inner::{inner_response, InnerResponse, Slot, StatusCode, Type};
use replicant_pika::{BinlogPos, LogOffset};

use super::binlog::Binlog;

/// A BinlogSync range a replica acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRange {
    /// The database.
    pub db: String,
    /// The replica, `ip:port` as it declared itself.
    pub replica: String,
    /// The session id the ACK carried.
    pub session_id: i32,
    /// `ack_range_start`.
    pub start: LogOffset,
    /// `ack_range_end`.
    pub end: LogOffset,
}

impl fmt::Display for AckRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} session {}: {} .. {}", self.replica, self.db, self.session_id, self.start, self.end)
    }
}

/// An ACK that does not match a batch the mock sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckError {
    /// The ACK.
    pub ack: AckRange,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ACK {}: {}", self.ack, self.reason)
    }
}

/// A ping that answered the mock's keepalive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepaliveAnswer {
    /// The database.
    pub db: String,
    /// The replica, `ip:port`.
    pub replica: String,
    /// How long after the keepalive it came.
    pub after: Duration,
}

/// A slave node removed because the replica was silent too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The database.
    pub db: String,
    /// The replica, `ip:port`.
    pub replica: String,
    /// How long it had been silent.
    pub silent_for: Duration,
}

/// What the mock recorded about its replicas.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub(crate) acks: Vec<AckRange>,
    pub(crate) ack_errors: Vec<AckError>,
    pub(crate) keepalives_sent: u64,
    pub(crate) keepalive_answers: Vec<KeepaliveAnswer>,
    pub(crate) unanswered_keepalives: u64,
    pub(crate) dropped: Vec<Dropped>,
    pub(crate) dbsync: u64,
}

/// `SlaveState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlaveState {
    /// `kSlaveNotSync`.
    Idle,
    DbSync,
    BinlogSync,
}

/// A slave node's binlog reader and sync window.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// Index of the next item to read.
    next: usize,
    /// The ends of the items sent and not yet released, with their acked flag.
    window: VecDeque<(BinlogPos, bool)>,
    /// Batches sent and not acknowledged: first and last item's end.
    batches: VecDeque<(BinlogPos, BinlogPos)>,
}

/// One replica of one database (`SlaveNode`).
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) ip: String,
    pub(crate) port: i32,
    pub(crate) session_id: i32,
    pub(crate) state: SlaveState,
    pub(crate) sent: LogOffset,
    pub(crate) acked: LogOffset,
    stream: Stream,
    last_send: Instant,
    last_recv: Instant,
    keepalive_sent: Option<Instant>,
}

impl Node {
    pub(crate) fn new(ip: &str, port: i32, session_id: i32, now: Instant) -> Node {
        Node {
            ip: ip.to_owned(),
            port,
            session_id,
            state: SlaveState::Idle,
            sent: LogOffset::ZERO,
            acked: LogOffset::ZERO,
            stream: Stream::default(),
            last_send: now,
            last_recv: now,
            keepalive_sent: None,
        }
    }

    pub(crate) fn ip_port(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub(crate) fn caught_up(&self) -> bool {
        self.sent.pos == self.acked.pos
    }
}

/// One database (`SyncMasterDB`).
#[derive(Debug)]
pub(crate) struct Db {
    pub(crate) name: String,
    pub(crate) binlog: Binlog,
    pub(crate) next_session: i32,
    pub(crate) nodes: Vec<Node>,
}

impl Db {
    pub(crate) fn node_mut(&mut self, ip: &str, port: i32) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.ip == ip && n.port == port)
    }
}

/// How a node streams.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) batch: usize,
    pub(crate) window: usize,
    pub(crate) keepalive: Duration,
    pub(crate) timeout: Duration,
}

/// Everything under the replication lock.
#[derive(Debug)]
pub(crate) struct Repl {
    pub(crate) dbs: Vec<Db>,
    /// Replicas that did MetaSync: `ip:port` and their connection.
    pub(crate) slaves: Vec<(String, u64)>,
    /// Where each replica's binlog goes: `ip:port` → connection.
    pub(crate) conn_of: BTreeMap<String, u64>,
    pub(crate) records: Records,
    /// Frames to send, in order: connection and bytes.
    pub(crate) outbox: Vec<(u64, Vec<u8>)>,
    /// Log lines to add.
    pub(crate) notes: Vec<String>,
}

impl Repl {
    pub(crate) fn db_mut(&mut self, name: &str) -> Option<&mut Db> {
        self.dbs.iter_mut().find(|db| db.name == name)
    }

    /// Queues `response` for the connection `ip_port`'s binlog goes to.
    fn send_to(&mut self, ip_port: &str, response: &InnerResponse) {
        if let Some(conn) = self.conn_of.get(ip_port) {
            self.outbox.push((*conn, super::wire::encode_inner_response(response)));
        }
    }

    /// A node starts streaming from `start` (`ActivateSlaveBinlogSync`); `Err` when the
    /// reader cannot seek there (Pika closes the connection).
    pub(crate) fn activate(
        &mut self,
        db: usize,
        (ip, port): (&str, i32),
        start: LogOffset,
        pace: Pace,
        now: Instant,
    ) -> Result<(), String> {
        let Some(Db { name, binlog, nodes, .. }) = self.dbs.get_mut(db) else { return Err("no such db".into()) };
        let Some(node) = nodes.iter_mut().find(|n| n.ip == ip && n.port == port) else {
            return Err("no slave node".into());
        };
        if binlog.check(start.pos) != super::binlog::Check::Ok {
            return Err(format!("the binlog reader cannot seek to {}", start.pos));
        }
        node.state = SlaveState::BinlogSync;
        node.sent = start;
        node.acked = start;
        node.stream = Stream { next: binlog.first_from(start.pos), ..Stream::default() };
        let batches = read_batches(name, binlog, node, pace, now);
        let ip_port = node.ip_port();
        for batch in &batches {
            self.send_to(&ip_port, batch);
        }
        Ok(())
    }

    /// Handles an ACK of a streaming node: records it, checks it, frees the window and
    /// reads more. `Err` when Pika would close the connection.
    pub(crate) fn ack(
        &mut self,
        db: usize,
        ack: AckRange,
        (ip, port): (&str, i32),
        pace: Pace,
        now: Instant,
    ) -> Result<(), String> {
        let Some(Db { name, binlog, nodes, .. }) = self.dbs.get_mut(db) else { return Err("no such db".into()) };
        let Some(node) = nodes.iter_mut().find(|n| n.ip == ip && n.port == port) else {
            return Err("no slave node".into());
        };
        self.records.acks.push(ack.clone());
        let (start, end) = (ack.start.pos, ack.end.pos);
        let mut problems = Vec::new();
        if let Some(at) = node.stream.batches.iter().position(|b| *b == (start, end)) {
            node.stream.batches.remove(at);
        } else {
            let sent: Vec<String> = node.stream.batches.iter().map(|(a, b)| format!("{a}..{b}")).collect();
            problems.push(format!("not a batch sent and unacknowledged ([{}])", sent.join(", ")));
            node.stream.batches.retain(|(first, last)| *first < start || *last > end);
        }
        let window = &mut node.stream.window;
        let from = window.iter().position(|(p, _)| *p == start);
        let to = window.iter().position(|(p, _)| *p == end).filter(|to| from.is_some_and(|from| from <= *to));
        let range = match (node.state, from, to) {
            (SlaveState::BinlogSync, Some(from), Some(to)) => Some((from, to)),
            (SlaveState::BinlogSync, ..) => {
                problems.push("not in the sync window: Pika closes the connection".to_owned());
                None
            }
            _ => {
                problems.push("the node is not streaming: Pika closes the connection".to_owned());
                None
            }
        };
        if !problems.is_empty() {
            self.records.ack_errors.push(AckError { ack, reason: problems.join("; ") });
        }
        let Some((from, to)) = range else { return Err(problems.join("; ")) };
        for item in window.range_mut(from..=to) {
            item.1 = true;
        }
        while let Some((pos, true)) = window.front().copied() {
            node.acked = LogOffset { pos, ..node.acked };
            window.pop_front();
        }
        let batches = read_batches(name, binlog, node, pace, now);
        let ip_port = node.ip_port();
        for batch in &batches {
            self.send_to(&ip_port, batch);
        }
        Ok(())
    }

    /// New items were written: nodes with nothing unacknowledged read them
    /// (`WakeUpSlaveBinlogSync`).
    pub(crate) fn wake_up(&mut self, pace: Pace, now: Instant) {
        let mut out = Vec::new();
        for Db { name, binlog, nodes, .. } in &mut self.dbs {
            for node in nodes.iter_mut().filter(|n| n.state == SlaveState::BinlogSync && n.caught_up()) {
                for batch in read_batches(name, binlog, node, pace, now) {
                    out.push((node.ip_port(), batch));
                }
            }
        }
        for (ip_port, batch) in out {
            self.send_to(&ip_port, &batch);
        }
    }

    /// The timers (`CheckSyncTimeout`): removes silent nodes, pings idle ones.
    pub(crate) fn tick(&mut self, pace: Pace, now: Instant) {
        let mut keepalives = Vec::new();
        for Db { name, nodes, .. } in &mut self.dbs {
            let mut silent = Vec::new();
            for (at, node) in nodes.iter_mut().enumerate() {
                let quiet = now.saturating_duration_since(node.last_recv);
                if quiet > pace.timeout {
                    silent.push(at);
                    let dropped = Dropped { db: name.clone(), replica: node.ip_port(), silent_for: quiet };
                    self.notes.push(format!("{} {name}: silent for {quiet:?}, slave node removed", node.ip_port()));
                    self.records.dropped.push(dropped);
                } else if now.saturating_duration_since(node.last_send) > pace.keepalive && node.caught_up() {
                    if node.keepalive_sent.is_some() {
                        self.records.unanswered_keepalives += 1;
                        self.notes.push(format!("{} {name}: previous keepalive unanswered", node.ip_port()));
                    }
                    node.keepalive_sent = Some(now);
                    node.last_send = now;
                    self.records.keepalives_sent += 1;
                    keepalives.push((node.ip_port(), keepalive(name, node.session_id)));
                }
            }
            for at in silent.into_iter().rev() {
                nodes.remove(at);
            }
        }
        for (ip_port, response) in keepalives {
            self.send_to(&ip_port, &response);
        }
    }

    /// A BinlogSync request of `node` passed the session check (`SetLastRecvTime`).
    pub(crate) fn heard_from(&mut self, db: usize, (ip, port): (&str, i32), now: Instant) {
        if let Some(node) = self.dbs.get_mut(db).and_then(|d| d.node_mut(ip, port)) {
            node.last_recv = now;
        }
    }

    /// A ping (all-zero range): records it as the answer to an outstanding keepalive.
    pub(crate) fn ping(&mut self, db: usize, (ip, port): (&str, i32), now: Instant) -> bool {
        let Some(Db { name, nodes, .. }) = self.dbs.get_mut(db) else { return false };
        let Some(node) = nodes.iter_mut().find(|n| n.ip == ip && n.port == port) else { return false };
        let Some(sent) = node.keepalive_sent.take() else { return false };
        let answer = KeepaliveAnswer { db: name.clone(), replica: node.ip_port(), after: now - sent };
        self.records.keepalive_answers.push(answer);
        true
    }

    /// Connection `conn` closed (`DeleteSlave` and `ReplServerRemoveClientConn`): the
    /// replica that did MetaSync on it loses its nodes in every database.
    pub(crate) fn lost_connection(&mut self, conn: u64) {
        self.conn_of.retain(|_, c| *c != conn);
        let gone: Vec<String> = self.slaves.iter().filter(|(_, c)| *c == conn).map(|(s, _)| s.clone()).collect();
        self.slaves.retain(|(_, c)| *c != conn);
        for ip_port in gone {
            for db in &mut self.dbs {
                let before = db.nodes.len();
                db.nodes.retain(|n| n.ip_port() != ip_port);
                if db.nodes.len() != before {
                    self.notes.push(format!("{ip_port} {}: connection closed, slave node removed", db.name));
                }
            }
        }
    }

    /// Replicas with at least one database streaming.
    pub(crate) fn streaming_replicas(&self) -> usize {
        let mut replicas: Vec<String> = self
            .dbs
            .iter()
            .flat_map(|db| db.nodes.iter().filter(|n| n.state == SlaveState::BinlogSync).map(Node::ip_port))
            .collect();
        replicas.sort();
        replicas.dedup();
        replicas.len()
    }
}

/// Reads what the window has room for into batches (`ReadBinlogFileToWq`, then
/// `ConsumeWriteQueue`'s batches of up to `pace.batch` items).
fn read_batches(db: &str, binlog: &Binlog, node: &mut Node, pace: Pace, now: Instant) -> Vec<InnerResponse> {
    let room = pace.window.saturating_sub(node.stream.window.len());
    let items = binlog.items().get(node.stream.next..).unwrap_or_default();
    let items = items.get(..room.min(items.len())).unwrap_or_default();
    let mut out = Vec::new();
    for chunk in items.chunks(pace.batch.max(1)) {
        let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else { continue };
        node.stream.batches.push_back((first.end.pos, last.end.pos));
        node.stream.window.extend(chunk.iter().map(|it| (it.end.pos, false)));
        node.sent = last.end;
        let binlog_sync = chunk
            .iter()
            .map(|it| inner_response::BinlogSync {
                slot: slot(db),
                binlog_offset: it.end.to_proto(),
                binlog: it.bytes.clone().into(),
                session_id: node.session_id,
            })
            .collect();
        out.push(InnerResponse { binlog_sync, ..response(Type::BinlogSync) });
    }
    if !items.is_empty() {
        node.stream.next += items.len();
        node.last_send = now;
    }
    out
}

/// An empty BinlogSync: offsets all zero, term and index set (`BuildBinlogOffset` of a
/// default `LogOffset`), as the capture shows.
pub(crate) fn keepalive(db: &str, session_id: i32) -> InnerResponse {
    let item = inner_response::BinlogSync {
        slot: slot(db),
        binlog_offset: LogOffset::ZERO.to_proto(),
        binlog: Vec::new().into(),
        session_id,
    };
    InnerResponse { binlog_sync: vec![item], ..response(Type::BinlogSync) }
}

/// `{db_name, slot_id: 0}`.
pub(crate) fn slot(db: &str) -> Slot {
    Slot { db_name: db.to_owned(), slot_id: 0 }
}

/// An OK response of `kind` with nothing else set.
pub(crate) fn response(kind: Type) -> InnerResponse {
    InnerResponse { r#type: kind as i32, code: StatusCode::Ok as i32, ..InnerResponse::default() }
}
