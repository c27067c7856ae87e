//! The writer: a [`Sink`] for the replication link. Snapshot events become commands
//! through the converter; live commands are routed by key slot; both are dispatched to
//! `shards` pipelined senders so that each key's writes stay in order, while commands
//! that span slots run as barriers. The sync side of the sink only queues work (bounded by
//! one read from the master); `ready` dispatches it, so a slow target slows the reading.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use replicant_convert::{CommandInfo, Commands, ConvertConfig, Converter, TargetProfile};
use replicant_link::{Sink, SinkError};
use replicant_net::Endpoint;
use replicant_rdb::Event as RdbEvent;
use replicant_repl::{Command, ReplId, ResumePoint};
use replicant_target::{Connection, Policy, Timeouts};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::limit::{Limiter, RateLimit};
use crate::marker::{AppliedMarks, Mark};
use crate::shard::{self, Failure, Msg, Progress};
use crate::topology::Topology;
use crate::WriterError;

mod reroute;
mod snapshot;
mod stream;
mod work;

use stream::Transaction;
use work::{Work, WorkQueue};

/// A sender's batch is also handed over once it holds this many bytes, so that batches of
/// big values stay small in memory.
const BATCH_MAX_BYTES: usize = 1 << 20;

/// Writer settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WriterConfig {
    /// Number of senders, each with its own connection. Default: 8.
    pub shards: usize,
    /// Commands in flight per connection. Default: 1024.
    pub window: usize,
    /// A sender's batch is handed over at this many commands. Default: 256.
    pub batch_commands: usize,
    /// Forward `PUBLISH` from the stream. Default: no.
    pub forward_publish: bool,
    /// Snapshot conversion (mode, expired keys, db remapping). The target profile is read
    /// from the target.
    pub convert: ConvertConfig,
    /// Commands and bytes per second sent to the target, at most. Default: unlimited.
    pub rate: RateLimit,
    /// Error replies starting with one of these words are logged and counted instead of
    /// stopping the run (e.g. `BUSYKEY`). Default: none.
    pub skip_errors: Vec<String>,
    /// Never two writes to one key in flight on a connection: when a command fails, no
    /// later write to its key was sent. Costs a round trip per repeated write to a hot key.
    /// Default: off.
    pub strict_key_order: bool,
    /// Send each streamed batch as a transaction with a marker key per sender
    /// (`replicant:applied:N`), so that a resume after a crash applies nothing twice
    /// ([`Writer::resume_exactly`]). Turned off, with a warning, on a cluster target.
    /// Default: off.
    pub exactly_once: bool,
    /// While commands are in flight on a connection, the longest the target may go
    /// without sending a reply byte or taking a byte written to it; then the writer stops
    /// with [`replicant_target::TargetError::Timeout`] (retryable). A slow target that
    /// keeps answering never trips it. Default: 60 s; zero: no limit.
    pub reply_timeout: Duration,
    /// How long connecting to the target (TCP, TLS, `AUTH`, `PING`) may take. Default:
    /// 10 s; zero: no limit.
    pub connect_timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            shards: 8,
            window: 1024,
            batch_commands: 256,
            forward_publish: false,
            convert: ConvertConfig::default(),
            rate: RateLimit::none(),
            skip_errors: Vec::new(),
            strict_key_order: false,
            exactly_once: false,
            reply_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl WriterConfig {
    /// The connections' time limits.
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts::new(self.connect_timeout, self.reply_timeout)
    }
}

/// The writer's progress, readable from other tasks.
#[derive(Debug, Default)]
pub struct WriterProgress {
    /// The committed source offset (valid once `streaming` is set).
    pub committed: AtomicU64,
    /// Whether the snapshot was fully dispatched and offsets are meaningful.
    pub streaming: AtomicBool,
    /// Offset the stream continues from after the snapshot.
    pub snapshot_offset: AtomicU64,
    /// Offset of the last work handed to the senders whole (published after each dispatch).
    dispatched: AtomicU64,
    /// Where a new process may continue the stream: everything before it is applied.
    resume: Mutex<Option<ResumePoint>>,
    shards: Mutex<Vec<Arc<Progress>>>,
}

/// One sender's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShardFigures {
    /// Commands the target acknowledged.
    pub applied: u64,
    /// Commands sent and not yet answered.
    pub in_flight: u64,
    /// Error replies tolerated by `skip_errors`.
    pub skipped: u64,
}

impl WriterProgress {
    /// Whether the snapshot is applied on the target (every command acknowledged).
    pub fn snapshot_applied(&self) -> bool {
        self.streaming.load(Ordering::Relaxed)
            && self.committed.load(Ordering::Relaxed) >= self.snapshot_offset.load(Ordering::Relaxed)
    }

    /// The latest resume point whose commands the target has all acknowledged: what a
    /// checkpoint stores. `None` until the snapshot is applied.
    pub fn resume_point(&self) -> Option<ResumePoint> {
        self.resume.lock().ok().and_then(|g| *g)
    }

    fn set_resume_point(&self, at: ResumePoint) {
        if let Ok(mut g) = self.resume.lock() {
            *g = Some(at);
        }
    }

    /// The offset up to which the target has acknowledged everything, read now (the
    /// committed offset, without waiting for the link to ask). `None` before the stream.
    pub fn applied_now(&self) -> Option<u64> {
        if !self.streaming.load(Ordering::Acquire) {
            return None;
        }
        // Dispatched first: every batch with commands up to it was counted as sent before
        // it was published, so a sender seen idle afterwards has them applied.
        let dispatched = self.dispatched.load(Ordering::Acquire);
        let shards = self.shards.lock().map(|s| s.clone()).unwrap_or_default();
        let busy = shards.iter().filter_map(|p| {
            let acked_batches = p.batches_acked.load(Ordering::Acquire);
            let busy = acked_batches < p.batches_sent.load(Ordering::Acquire);
            busy.then(|| p.acked.load(Ordering::Acquire))
        });
        Some(busy.fold(dispatched, u64::min))
    }

    /// Each sender's figures, in order.
    pub fn shards(&self) -> Vec<ShardFigures> {
        let shards = self.shards.lock().map(|s| s.clone()).unwrap_or_default();
        shards
            .iter()
            .map(|p| {
                let applied = p.commands.load(Ordering::Relaxed);
                ShardFigures {
                    applied,
                    in_flight: p.sent_commands.load(Ordering::Relaxed).saturating_sub(applied),
                    skipped: p.skipped.load(Ordering::Relaxed),
                }
            })
            .collect()
    }
}

struct Shard {
    tx: mpsc::Sender<Msg>,
    progress: Arc<Progress>,
    pending: Commands,
    /// Source offset after the last pending command.
    pending_offset: u64,
    /// Database the connection will be in once its pending commands ran.
    db: Option<u64>,
    /// Commands up to this offset are already applied (from this sender's marker).
    skip_through: Option<u64>,
    /// The dispatched offset when `pending` got its first command: everything of this
    /// sender up to it was in batches already handed over.
    floor: u64,
}

impl Shard {
    /// Readies the pending batch for commands of database `db`: records the dispatched
    /// offset as its floor if it is empty, and selects `db` first unless the connection
    /// will be in it already (or the target is a cluster, which has database 0 only).
    fn prepare(&mut self, db: u64, cluster: bool, dispatched: u64) {
        if self.pending.is_empty() {
            self.floor = dispatched;
        }
        if !cluster && self.db != Some(db) {
            self.pending.begin_keyless("SELECT", 2, db).uint(db);
            self.db = Some(db);
        }
    }
}

/// Why a key of database `db` cannot be written to a cluster target.
fn not_in_cluster(db: u64) -> WriterError {
    WriterError::Cluster {
        what: format!("a key of database {db}"),
        why: "a cluster has database 0 only; write every database into it with /0 in the target URL",
    }
}

/// Writes a source's snapshot and stream to a target through sharded senders.
pub struct Writer {
    cfg: WriterConfig,
    shards: Vec<Shard>,
    tasks: Vec<JoinHandle<()>>,
    failure: Failure,
    converter: Converter,
    work: WorkQueue,
    /// The transaction being collected (`MULTI` seen, `EXEC` not yet).
    tx: Option<Transaction>,
    /// Offset the snapshot continues from, and where the stream is.
    offset: u64,
    /// Offset of the last work dispatched.
    dispatched: u64,
    /// Whether the snapshot was dispatched whole (committed offsets mean something).
    streaming: bool,
    target: TargetProfile,
    progress: Arc<WriterProgress>,
    limiter: Limiter,
    topology: Topology,
    /// Every database written into this one (from the target URL's `/db`).
    db_map: Option<u64>,
    /// The target, for the exactly-once markers and slot-map refreshes.
    target_endpoint: Endpoint,
    /// How the senders' connections treat replies.
    policy: Policy,
    /// The master's replication ID, once known.
    replid: Option<ReplId>,
    /// The source database of the last command queued.
    stream_db: u64,
    /// Offset after the last command that writes to the target (or the snapshot's end).
    data_end: u64,
    /// The senders of the snapshot key being converted: its slot's, and its node's first.
    key_senders: (usize, usize),
    /// Where the stream's database changed: (offset, new database), oldest first; the
    /// first entry is the database at or before the committed offset.
    db_marks: VecDeque<(u64, u64)>,
    /// Where the stream started after this writer's full sync.
    stream_start: Option<ResumePoint>,
}

impl Writer {
    /// Connects the senders to the target.
    pub async fn connect(target: &Endpoint, mut cfg: WriterConfig) -> Result<Writer, WriterError> {
        cfg.shards = cfg.shards.max(1);
        let mut probe = Connection::connect_with(target, cfg.window, cfg.timeouts()).await?;
        let info = probe.query(&[b"INFO", b"server"]).await?.text();
        let profile = TargetProfile::from_info(&info).unwrap_or_else(TargetProfile::latest);
        let topology = Topology::discover(target, &mut probe, cfg.shards).await?;
        drop(probe);
        let db_map = target.db.or(cfg.convert.db);
        if topology.is_cluster() && cfg.exactly_once {
            tracing::warn!(
                "Exactly-once batches need a standalone target (a batch spans hash slots); \
                 after a crash, writes in flight may be applied again."
            );
            cfg.exactly_once = false;
        }
        let mut convert = cfg.convert.clone().target(profile).db(db_map);
        convert.select = false;
        let limiter = Limiter::new(cfg.rate);
        let failure: Failure = Arc::default();
        let policy = Policy::new(cfg.skip_errors.clone(), cfg.strict_key_order).follow_redirects(topology.is_cluster());
        let (shards, tasks) = spawn_senders(&topology, &cfg, &policy, &failure).await?;
        let progress = Arc::new(WriterProgress {
            shards: Mutex::new(shards.iter().map(|s: &Shard| s.progress.clone()).collect()),
            ..WriterProgress::default()
        });
        Ok(Writer {
            policy,
            target_endpoint: target.clone(),
            replid: None,
            stream_db: 0,
            data_end: 0,
            key_senders: (0, 0),
            db_marks: VecDeque::from([(0, 0)]),
            stream_start: None,
            topology,
            db_map,
            converter: Converter::new(convert),
            cfg,
            shards,
            tasks,
            failure,
            work: WorkQueue::default(),
            tx: None,
            offset: 0,
            dispatched: 0,
            streaming: false,
            target: profile,
            progress,
            limiter,
        })
    }

    /// Continues a stream applied up to `at` by an earlier process: offsets are meaningful
    /// from the start, and the stream is in `at.db`. Call before the link starts.
    pub fn resume_from(&mut self, at: ResumePoint) {
        self.replid = Some(at.replid);
        self.offset = at.offset;
        self.data_end = at.offset;
        self.dispatched = at.offset;
        self.progress.dispatched.store(at.offset, Ordering::Release);
        self.streaming = true;
        self.stream_db = at.db;
        self.db_marks = VecDeque::from([(at.offset, at.db)]);
        self.progress.snapshot_offset.store(at.offset, Ordering::Relaxed);
        self.progress.committed.store(at.offset, Ordering::Relaxed);
        self.progress.streaming.store(true, Ordering::Relaxed);
        self.progress.set_resume_point(at);
    }

    /// Continues like [`Writer::resume_from`], and with `exactly_once` reads each sender's
    /// marker from the target so that commands it already applied are skipped. After a lost
    /// target, `applied` is what the senders before had acknowledged: where the target holds
    /// less (it lost writes, or it is a replica promoted in a failover), the stream is
    /// resumed from further back, at the oldest marker it holds (see `marker::plan`).
    /// Returns where the stream resumes (ask the master from there) and how many senders
    /// had a marker.
    pub async fn resume_exactly(
        &mut self,
        at: ResumePoint,
        applied: Option<&AppliedMarks>,
    ) -> Result<(ResumePoint, usize), WriterError> {
        if !self.cfg.exactly_once {
            self.resume_from(at);
            return Ok((at, 0));
        }
        let (target, db, senders) = (&self.target_endpoint, self.marker_db(), self.shards.len());
        let found = crate::marker::read(target, self.cfg.timeouts(), db, senders).await?;
        let (from, skips) = crate::marker::plan(at, &found, applied)?;
        self.resume_from(from);
        for (shard, skip) in self.shards.iter_mut().zip(skips) {
            shard.skip_through = skip;
        }
        Ok((from, found.iter().flatten().count()))
    }

    /// The markers this writer's senders had acknowledged, and where its stream started:
    /// what a target that comes back after a loss must still hold.
    pub fn applied_marks(&self) -> AppliedMarks {
        let marks = match (self.replid, self.cfg.exactly_once) {
            (Some(replid), true) => self
                .shards
                .iter()
                .map(|s| {
                    // The database is the target's marker's to say (see `marker::plan`).
                    let offset = s.progress.marked.load(Ordering::Acquire);
                    (offset > 0).then_some(Mark { replid, offset, db: None })
                })
                .collect(),
            _ => vec![None; self.shards.len()],
        };
        AppliedMarks { marks, stream_start: self.stream_start }
    }

    /// Whether streamed batches carry exactly-once markers.
    pub fn exactly_once(&self) -> bool {
        self.cfg.exactly_once
    }

    /// Deletes the exactly-once markers; call after [`Writer::finish`] at a clean stop.
    pub async fn clear_markers(&self) -> Result<(), WriterError> {
        if !self.cfg.exactly_once {
            return Ok(());
        }
        crate::marker::clear(&self.target_endpoint, self.cfg.timeouts(), self.marker_db(), self.shards.len()).await
    }

    fn marker_db(&self) -> u64 {
        self.db_map.unwrap_or(0)
    }

    /// Progress figures shared with other tasks.
    pub fn progress(&self) -> Arc<WriterProgress> {
        self.progress.clone()
    }

    /// The target's servers: the one server, or every master of a cluster.
    pub fn nodes(&self) -> Vec<Endpoint> {
        let mut nodes: Vec<Endpoint> = Vec::new();
        for e in self.topology.endpoints() {
            if !nodes.contains(e) {
                nodes.push(e.clone());
            }
        }
        nodes
    }

    /// Whether the target is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.topology.is_cluster()
    }

    /// The target's profile (family and version).
    pub fn target(&self) -> TargetProfile {
        self.target
    }

    /// Conversion counters.
    pub fn convert_stats(&self) -> replicant_convert::Stats {
        self.converter.stats()
    }

    /// Commands the target acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.shards.iter().map(|s| s.progress.commands.load(Ordering::Relaxed)).sum()
    }

    /// Dispatches everything queued and waits until the target acknowledged all of it.
    pub async fn finish(&mut self) -> Result<(), WriterError> {
        self.dispatch().await?;
        self.drain_all().await
    }

    /// Stops the senders after they sent what they have.
    pub async fn close(mut self) -> Result<(), WriterError> {
        let result = self.finish().await;
        self.shards.clear();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        result.and(self.take_failure().map_or(Ok(()), Err))
    }

    fn take_failure(&self) -> Option<WriterError> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// Why a sender is gone.
    fn failed(&self) -> WriterError {
        self.failure.lock().map_or_else(|_| WriterError::stopped(), |mut f| f.gone())
    }

    /// Hands queued work to the senders, in order.
    async fn dispatch(&mut self) -> Result<(), WriterError> {
        if let Some(e) = self.take_failure() {
            return Err(e);
        }
        self.forget_old_db_marks();
        if self.shards.iter().any(|s| s.progress.has_redirects()) {
            self.follow_redirects().await?;
        }
        while let Some(work) = self.work.pop() {
            match work {
                Work::Routed(cmds, offset) => {
                    for (info, bytes) in cmds.iter() {
                        if info.keyed {
                            // Awaited only when a batch is full: most commands stage synchronously.
                            let i = self.sender_for(info);
                            if self.batch_full(i, info.offset)? {
                                self.send_pending(i).await?;
                            }
                            self.append(i, info, cmds.note_of(info), bytes, info.offset)?;
                        } else {
                            let mut one = Commands::new();
                            one.push_encoded(info, cmds.note_of(info), bytes);
                            self.broadcast(one, info.offset).await?;
                        }
                    }
                    self.dispatched = offset;
                    self.work.recycle(cmds);
                }
                Work::Barrier(cmds, offset) => {
                    self.barrier(cmds, offset).await?;
                    self.dispatched = offset;
                }
                Work::Broadcast(cmds, offset) => {
                    self.broadcast(cmds, offset).await?;
                    self.dispatched = offset;
                }
                Work::SnapshotDone(offset) => {
                    // Wait for the snapshot: the stream's offsets start here (after a second
                    // full sync they may be lower than the last stream's).
                    self.drain_all().await?;
                    for shard in &self.shards {
                        shard.progress.acked.store(offset, Ordering::Relaxed);
                    }
                    self.dispatched = offset;
                    self.streaming = true;
                    self.stream_start = self.replid.map(|replid| ResumePoint::new(replid, offset));
                    self.progress.snapshot_offset.store(offset, Ordering::Relaxed);
                    self.progress.dispatched.store(offset, Ordering::Release);
                    self.progress.streaming.store(true, Ordering::Release);
                }
            }
        }
        self.flush_pending().await?;
        self.progress.dispatched.store(self.dispatched, Ordering::Release);
        Ok(())
    }

    /// The sender for a keyed command: its slot's, except that during a snapshot every
    /// key rebuilt with several commands goes to its node's first sender, so the target
    /// builds one big value at a time instead of several interleaved (snapshot keys are
    /// distinct, and the stream starts after the snapshot was drained).
    fn sender_for(&self, info: &CommandInfo) -> usize {
        if info.bulk && !self.streaming {
            self.topology.head_for(info.slot)
        } else {
            self.topology.sender_for(info.slot)
        }
    }

    /// Drops the database marks before the committed offset, keeping the one in force there.
    fn forget_old_db_marks(&mut self) {
        // The resume point may lie before the committed offset (see `resume_offset`).
        let committed = self.progress.committed.load(Ordering::Relaxed).min(self.data_end);
        while self.db_marks.get(1).is_some_and(|(at, _)| *at <= committed) {
            self.db_marks.pop_front();
        }
    }

    /// Adds a command to a sender's pending batch, selecting its database first. While
    /// streaming, a full batch is handed over only between source commands, so a batch's
    /// offset covers every command of it and none of the next.
    async fn stage(
        &mut self,
        i: usize,
        info: &CommandInfo,
        note: &[u8],
        bytes: &[u8],
        offset: u64,
    ) -> Result<(), WriterError> {
        if self.batch_full(i, offset)? {
            self.send_pending(i).await?;
        }
        self.append(i, info, note, bytes, offset)
    }

    /// Whether sender `i`'s pending batch must be handed over before a command of source
    /// offset `offset` joins it.
    fn batch_full(&self, i: usize, offset: u64) -> Result<bool, WriterError> {
        let Some(shard) = self.shards.get(i) else { return Err(WriterError::stopped()) };
        let boundary = !self.streaming || offset != shard.pending_offset;
        let size = shard.pending.len() >= self.cfg.batch_commands || shard.pending.byte_len() >= BATCH_MAX_BYTES;
        Ok(size && boundary)
    }

    /// The synchronous half of [`Writer::stage`]: appends to the pending batch, which the
    /// caller made sure has room.
    fn append(
        &mut self,
        i: usize,
        info: &CommandInfo,
        note: &[u8],
        bytes: &[u8],
        offset: u64,
    ) -> Result<(), WriterError> {
        let cluster = self.topology.is_cluster();
        if cluster && info.db != 0 {
            return Err(not_in_cluster(info.db));
        }
        let (streaming, dispatched) = (self.streaming, self.dispatched);
        let Some(shard) = self.shards.get_mut(i) else { return Err(WriterError::stopped()) };
        if streaming && shard.skip_through.is_some_and(|through| offset <= through) {
            return Ok(());
        }
        shard.prepare(info.db, cluster, dispatched);
        shard.pending.push_encoded(info, note, bytes);
        shard.pending_offset = offset;
        Ok(())
    }

    async fn send_pending(&mut self, i: usize) -> Result<(), WriterError> {
        let (commands, offset) = {
            let Some(shard) = self.shards.get_mut(i) else { return Err(WriterError::stopped()) };
            if shard.pending.is_empty() {
                return Ok(());
            }
            // The next batch is likely about the size of this one: allocate it once.
            let (bytes, commands) = (shard.pending.byte_len(), shard.pending.len());
            let next = Commands::with_capacity(bytes + bytes / 2, commands + commands / 2 + 1);
            (std::mem::replace(&mut shard.pending, next), shard.pending_offset)
        };
        self.limiter.take(commands.len(), commands.byte_len()).await;
        let Some(shard) = self.shards.get(i) else { return Err(WriterError::stopped()) };
        let p = &shard.progress;
        if p.batches_acked.load(Ordering::Relaxed) == p.batches_sent.load(Ordering::Relaxed) {
            // An idle sender has everything up to its floor applied; without this its
            // acknowledged offset would be as old as its last batch.
            p.acked.fetch_max(shard.floor, Ordering::Relaxed);
        }
        p.batches_sent.fetch_add(1, Ordering::Release);
        let marker = match self.replid {
            Some(replid) if self.streaming && self.cfg.exactly_once => {
                let stream_db = db_at(&self.db_marks, offset);
                Some(crate::marker::marker(self.marker_db(), i, replid, offset, self.shards.len(), stream_db))
            }
            _ => None,
        };
        if shard.tx.send(Msg::Batch { commands, offset, marker }).await.is_err() {
            return Err(self.failed());
        }
        Ok(())
    }

    async fn flush_pending(&mut self) -> Result<(), WriterError> {
        for i in 0..self.shards.len() {
            self.send_pending(i).await?;
        }
        Ok(())
    }

    /// Waits until every sender's commands were acknowledged, commands a cluster
    /// redirected included.
    async fn drain_all(&mut self) -> Result<(), WriterError> {
        self.drain_senders().await?;
        if self.shards.iter().any(|s| s.progress.has_redirects()) {
            self.follow_redirects().await?;
        }
        Ok(())
    }

    /// Waits until every sender's connection has no command unanswered.
    async fn drain_senders(&mut self) -> Result<(), WriterError> {
        self.flush_pending().await?;
        let mut waits = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let (done, wait) = oneshot::channel();
            if shard.tx.send(Msg::Flush(done)).await.is_err() {
                return Err(self.failed());
            }
            waits.push(wait);
        }
        for wait in waits {
            if wait.await.is_err() {
                return Err(self.failed());
            }
        }
        match self.take_failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs commands alone: every sender drained, then the commands on the first sender,
    /// then drained again.
    async fn barrier(&mut self, cmds: Commands, offset: u64) -> Result<(), WriterError> {
        self.drain_all().await?;
        for (info, bytes) in cmds.iter() {
            self.stage(0, info, cmds.note_of(info), bytes, offset).await?;
        }
        self.drain_all().await
    }

    /// Runs keyless server-wide commands alone, on every node of a cluster.
    async fn broadcast(&mut self, cmds: Commands, offset: u64) -> Result<(), WriterError> {
        self.drain_all().await?;
        let heads = self.topology.node_heads().to_vec();
        for i in heads {
            for (info, bytes) in cmds.iter() {
                self.stage(i, info, cmds.note_of(info), bytes, offset).await?;
            }
        }
        self.drain_all().await
    }
}

/// Connects one sender per endpoint of `topology` and starts its task.
async fn spawn_senders(
    topology: &Topology,
    cfg: &WriterConfig,
    policy: &Policy,
    failure: &Failure,
) -> Result<(Vec<Shard>, Vec<JoinHandle<()>>), WriterError> {
    let mut shards = Vec::with_capacity(topology.endpoints().len());
    let mut tasks = Vec::with_capacity(topology.endpoints().len());
    for endpoint in topology.endpoints() {
        let conn = Connection::connect_with(endpoint, cfg.window, cfg.timeouts()).await?.with_policy(policy.clone());
        let (tx, rx) = mpsc::channel(4);
        let progress = Arc::new(Progress::default());
        tasks.push(tokio::spawn(shard::run(conn, rx, progress.clone(), failure.clone())));
        shards.push(Shard {
            tx,
            progress,
            pending: Commands::new(),
            pending_offset: 0,
            db: None,
            skip_through: None,
            floor: 0,
        });
    }
    Ok((shards, tasks))
}

/// Where a new link may continue when everything up to `committed` is applied: once every
/// command that writes is applied, the end of the last one (`data_end`). What follows it
/// (`PING`s, `REPLCONF`, `SELECT`, unforwarded `PUBLISH`es: a Sentinel's hello messages)
/// is received again harmlessly, and a replica promoted in a failover, which may not have
/// got those trailing commands of its old master, can still continue the history there.
fn resume_offset(committed: u64, data_end: u64) -> u64 {
    if committed >= data_end {
        data_end
    } else {
        committed
    }
}

/// The stream's database at `offset`, from the marks where it changed.
fn db_at(marks: &VecDeque<(u64, u64)>, offset: u64) -> u64 {
    marks.iter().take_while(|(at, _)| *at <= offset).last().or(marks.front()).map_or(0, |(_, db)| *db)
}

impl Sink for Writer {
    fn full_sync(&mut self, replid: Option<ReplId>, offset: u64, restart: bool) -> Result<(), SinkError> {
        if restart {
            // Everything before is applied before the new snapshot starts: its keys may
            // go to other senders than they did (see `sender_for`).
            self.work.push(Work::Barrier(Commands::new(), offset));
        }
        self.offset = offset;
        self.replid = replid;
        self.stream_db = 0;
        self.db_marks = VecDeque::from([(offset, 0)]);
        for shard in &mut self.shards {
            shard.skip_through = None;
        }
        self.streaming = false;
        self.progress.streaming.store(false, Ordering::Release);
        if let Ok(mut g) = self.progress.resume.lock() {
            *g = None;
        }
        Ok(())
    }

    fn rdb_event(&mut self, event: &RdbEvent<'_>) -> Result<(), SinkError> {
        let offset = self.offset;
        if let RdbEvent::Key(key) = event {
            let slot = replicant_convert::key_slot(key.key);
            self.key_senders = (self.topology.sender_for(slot), self.topology.head_for(slot));
        }
        if self.converts_directly(event) {
            return self.convert_directly(event, offset).map_err(|e| Box::new(e) as SinkError);
        }
        let out = self.work.routed(offset);
        let from = out.len();
        self.converter.event(event, out)?;
        out.stamp_from(from, offset);
        Ok(())
    }

    fn snapshot_done(&mut self, offset: u64) -> Result<(), SinkError> {
        self.offset = offset;
        self.data_end = offset;
        self.work.push(Work::SnapshotDone(offset));
        Ok(())
    }

    fn resumed(&mut self, replid: ReplId, offset: u64, _changed: bool) -> Result<(), SinkError> {
        self.offset = offset;
        self.replid = Some(replid);
        self.tx = None;
        Ok(())
    }

    fn command(&mut self, command: &Command<'_>) -> Result<(), SinkError> {
        self.queue_command(command).map_err(|e| Box::new(e) as SinkError)
    }

    async fn ready(&mut self) -> Result<(), SinkError> {
        self.dispatch().await.map_err(|e| Box::new(e) as SinkError)
    }

    fn committed(&self) -> Option<u64> {
        if !self.streaming {
            return None;
        }
        let committed = self.progress.applied_now()?;
        self.progress.committed.store(committed, Ordering::Relaxed);
        if let Some(replid) = self.replid {
            let offset = resume_offset(committed, self.data_end);
            let db = db_at(&self.db_marks, offset);
            self.progress.set_resume_point(ResumePoint { replid, offset, db });
        }
        Some(committed)
    }
}
