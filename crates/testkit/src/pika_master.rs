//! [`MockPika`]: an in-process stand-in for an OpenAtomFoundation Pika 4.0.1 master, as
//! the real server talks to a replica (Pika cannot be installed here), for end-to-end tests
//! of a tool that poses as its replica. Given a `3.` [version](MockPikaBuilder::version) or
//! a dump in Pika 3.5's layout it plays a 3.5.x master instead, where 3.5.5's source
//! differs: MetaSync without `db_instance_num`, dumps listed in 3.5's type directories.
//!
//! It listens on three loopback ports, one thread per connection:
//!
//! * the client port `P` (RESP): `AUTH`, `PING`, `SELECT`, `QUIT`, `INFO [section]`
//!   (`pika_version`, `role`, `ReplicationID`, `connected_slaves`,
//!   `db0:binlog_offset=<filenum> <offset>,safety_purge=…`, …) and `CONFIG GET <glob>`
//!   (`client`);
//! * InnerMessage on `P + 2000` (`inner`): MetaSync (`masterauth` checked against the
//!   [requirepass](MockPikaBuilder::requirepass); `Slave AlreadyExist` for a replica
//!   already connected), DBSync (the dump is on RsyncService), TrySync from a position
//!   (`kOk` at an item boundary the binlog holds, `kSyncPointBePurged` before the purge
//!   point, `kSyncPointLarger` past the end, `kError` elsewhere), then BinlogSync streaming
//!   with Pika's sync window, keepalives and 20 s timeout, every ACK checked against the
//!   batches sent (`repl`); RemoveSlaveNode;
//! * RsyncService on `P + 10001` (`rsync`): the dump's file list (4.x's instance
//!   directories or 3.5's type directories) and UUID, its files by chunks, and faults to
//!   arm.
//!
//! The binlog of each database (`binlog`) holds items encoded with Pika's 34-byte header
//! at the positions a real master's binlog files would give them; [`MockPika::push_items`]
//! appends writes and streams them to the replicas at once, [`MockPika::push_tampered`]
//! items whose encoding a test changed (a corrupt header).
//!
//! [`MockPika::from_capture`] replays the shared capture of a real Pika 4.0.1 master
//! ([`capture`]): its MetaSync reply, its binlog items from `0:5462` to `0:8030`, its dump
//! and its `INFO`. Everything received is logged ([`MockPika::requests`], [`MockPika::log`]),
//! and so are the ACKs ([`MockPika::acks`], [`MockPika::ack_errors`]), keepalive answers and
//! replicas dropped; the log is printed when a test panics while the mock is alive.
//! Dropping it closes every connection and joins every thread.
//!
//! Files: this one owns the mock's handle, its shared state and threads; `builder` the
//! settings and the start; `wire` the framing,
//! `md5` the snapshot UUID, `binlog` the binlog layout, `repl` the replication state
//! (nodes, sync window, ACK checks, timers), `inner`/`rsync`/`client` one connection of
//! each port, `info` the `INFO` text, `capture` the captures, `tests` the tests.
//!
//! ```no_run
//! use std::time::Duration;
//! use replicant_testkit::MockPika;
//!
//! let master = MockPika::builder().keepalive(Duration::from_millis(200)).start();
//! master.push_items("db0", [["SET", "k", "v"]]);
//! // ... point the code under test at master.addr() (it finds port + 2000 and + 10001) ...
//! master.wait_for_replicas(1, Duration::from_secs(10));
//! assert!(master.ack_errors().is_empty(), "{}", master.log());
//! ```

use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod binlog;
mod builder;
pub mod capture;
mod client;
mod info;
mod inner;
mod md5;
mod repl;
mod rsync;
mod wire;

#[cfg(test)]
mod tests;

use replicant_pika::{BinlogPos, LogOffset};

pub use binlog::DEFAULT_BINLOG_FILE_SIZE;
pub use builder::{MockPikaBuilder, V35_VERSION};
pub use capture::{pika_capture, pika_captures_dir, CAPTURES_ENV};
pub use repl::{AckError, AckRange, Dropped, KeepaliveAnswer};

use builder::{resp, unix_now};
use repl::{Pace, Repl};
use rsync::{Dump, Faults, Layout};

/// The longest a mock thread waits in a socket call before it looks at its flags again.
pub const POLL: Duration = Duration::from_millis(20);
/// The InnerMessage port's offset from the client port (`kPortShiftReplServer`).
pub const REPL_PORT_SHIFT: u16 = 2000;
/// The RsyncService port's offset from the client port (`kPortShiftRsync2`).
pub const RSYNC_PORT_SHIFT: u16 = 10001;
/// Idle time before a keepalive (`kSendKeepAliveTimeout`).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(2);
/// Silence before a replica is dropped (`kRecvKeepAliveTimeout`).
pub const DEFAULT_REPLICA_TIMEOUT: Duration = Duration::from_secs(20);
/// Items per BinlogSync response (`kBinlogSendBatchNum`).
pub const DEFAULT_BATCH: usize = 100;
/// Unacknowledged items per replica (`sync-window-size` in the default pika.conf).
pub const DEFAULT_WINDOW: usize = 9000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which Pika the mock plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    /// 4.x (4.0.1, the default): MetaSync announces `db_instance_num`, the RsyncService
    /// lists instance directories.
    V4,
    /// 3.5.x (a `3.` [version](MockPikaBuilder::version), or a dump directory in 3.5's
    /// layout): MetaSync without `db_instance_num`, the RsyncService lists 3.5's type
    /// directories.
    V35,
}

/// The mock's fixed settings.
#[derive(Debug)]
pub(crate) struct Settings {
    host: String,
    requirepass: Option<String>,
    dbs: Vec<String>,
    generation: Generation,
    db_instance_num: i32,
    run_id: String,
    replication_id: String,
    version: Option<String>,
    pace: Pace,
    binlog_file_size: u64,
    exec_time: Option<u32>,
    info: info::Template,
    config: Vec<(String, String)>,
}

impl Settings {
    /// How the RsyncService lists a dump directory.
    fn layout(&self) -> Layout {
        match self.generation {
            Generation::V4 => Layout::V4 { instances: self.db_instance_num },
            Generation::V35 => Layout::V35,
        }
    }
}

/// Which port a connection came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Client,
    Inner,
    Rsync,
}

/// One accepted connection.
pub(crate) struct Conn {
    id: u64,
    port: Port,
    stream: TcpStream,
    closed: AtomicBool,
    /// Frames queued for an InnerMessage connection's thread to send.
    out: Mutex<Vec<Vec<u8>>>,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn take_output(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *lock(&self.out))
    }
}

/// State shared by the mock's threads. Locks are taken in the order `repl`, `conns`,
/// a connection's `out`; `log`, `requests` and `faults` alone.
pub(crate) struct Shared {
    port: u16,
    started: Instant,
    stop: AtomicBool,
    settings: Settings,
    repl: Mutex<Repl>,
    dumps: BTreeMap<String, Dump>,
    faults: Mutex<Faults>,
    next_conn: AtomicU64,
    conns: Mutex<Vec<Arc<Conn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    requests: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Adds a line to the log, with the time since the mock started.
    fn note(&self, what: String) {
        let line = format!("+{:.3}s {what}", self.started.elapsed().as_secs_f64());
        lock(&self.log).push(line);
    }

    fn request(&self, line: String) {
        lock(&self.requests).push(line);
    }

    /// Moves the frames and notes `repl` gathered to their connections and the log.
    fn dispatch(&self, repl: &mut Repl) {
        let outbox = std::mem::take(&mut repl.outbox);
        if !outbox.is_empty() {
            let conns = lock(&self.conns);
            for (id, frame) in outbox {
                if let Some(conn) = conns.iter().find(|c| c.id == id && !c.is_closed()) {
                    lock(&conn.out).push(frame);
                }
            }
        }
        for note in std::mem::take(&mut repl.notes) {
            self.note(note);
        }
    }

    fn accept(self: &Arc<Self>, port: Port, stream: TcpStream, peer: SocketAddr) {
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst);
        let Ok(handle) = stream.try_clone() else { return };
        let conn =
            Arc::new(Conn { id, port, stream: handle, closed: AtomicBool::new(false), out: Mutex::new(Vec::new()) });
        self.note(format!("{port:?} conn {id}: accepted from {peer}"));
        lock(&self.conns).push(conn.clone());
        let shared = self.clone();
        let thread = std::thread::spawn(move || {
            match port {
                Port::Client => client::serve(&shared, &conn, stream),
                Port::Inner => inner::serve(&shared, &conn, stream),
                Port::Rsync => rsync::serve(&shared, &conn, stream),
            }
            conn.close();
            lock(&shared.conns).retain(|c| c.id != conn.id);
            shared.note(format!("{port:?} conn {}: closed", conn.id));
        });
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
    }
}

fn accept_loop(shared: &Arc<Shared>, listeners: &[TcpListener; 3]) {
    let ports = [Port::Client, Port::Inner, Port::Rsync];
    while !shared.stopped() {
        let mut idle = true;
        for (listener, port) in listeners.iter().zip(ports) {
            if let Ok((stream, peer)) = listener.accept() {
                idle = false;
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                shared.accept(port, stream, peer);
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Pika's auxiliary thread: keepalives and timeouts (`CheckSyncTimeout`), every [`POLL`].
fn cron_loop(shared: &Arc<Shared>) {
    while !shared.stopped() {
        std::thread::sleep(POLL);
        let mut repl = lock(&shared.repl);
        repl.tick(shared.settings.pace, Instant::now());
        shared.dispatch(&mut repl);
    }
}

/// A mock Pika 4.0.1 master; see the [module documentation](self).
pub struct MockPika {
    port: u16,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl MockPika {
    /// The settings, to change before [`MockPikaBuilder::start`].
    pub fn builder() -> MockPikaBuilder {
        MockPikaBuilder::default()
    }

    /// The settings that replay a capture case, read in place: `case` is a case folder's
    /// name under [`pika_captures_dir`] (`v4.0.1`) or a path. See [`capture::builder`].
    pub fn from_capture(case: impl AsRef<Path>) -> MockPikaBuilder {
        capture::builder(case.as_ref())
    }

    /// The client port `P`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<P>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The InnerMessage port, `P + 2000`.
    pub fn repl_port(&self) -> u16 {
        self.port + REPL_PORT_SHIFT
    }

    /// The RsyncService port, `P + 10001`.
    pub fn rsync_port(&self) -> u16 {
        self.port + RSYNC_PORT_SHIFT
    }

    /// Writes commands (each its arguments, e.g. `["SET", "k", "v"]`) to `db`'s binlog as
    /// one write each, and streams them to the replicas that have nothing unacknowledged.
    /// Returns each item's end: its BinlogSync `binlog_offset`. Panics on an unknown `db`.
    pub fn push_items<C, A>(&self, db: &str, commands: impl IntoIterator<Item = C>) -> Vec<LogOffset>
    where
        C: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.push_resp(db, commands.into_iter().map(resp).collect())
    }

    /// As [`push_items`](Self::push_items), with each item's content given as RESP bytes
    /// (e.g. a `padding` item).
    pub fn push_resp(&self, db: &str, contents: Vec<Vec<u8>>) -> Vec<LogOffset> {
        self.push_tampered(db, contents, |_, _| {})
    }

    /// As [`push_resp`](Self::push_resp), with each item's encoding (34-byte header and
    /// content) handed to `tamper` with the item's index in `contents` before it is written:
    /// items a real master never sends, such as a header of another type than `TypeFirst`
    /// (byte 0) or a content length (bytes 30..34) that disagrees with the bytes. Each
    /// item's position follows the bytes as changed; its logic id is the next one whatever
    /// the header says.
    pub fn push_tampered(
        &self,
        db: &str,
        contents: Vec<Vec<u8>>,
        mut tamper: impl FnMut(usize, &mut Vec<u8>),
    ) -> Vec<LogOffset> {
        let exec_time = self.shared.settings.exec_time.unwrap_or_else(unix_now);
        let mut repl = lock(&self.shared.repl);
        let Some(binlog) = repl.db_mut(db).map(|d| &mut d.binlog) else { panic!("the mock has no database {db}") };
        let ends: Vec<LogOffset> = contents
            .iter()
            .enumerate()
            .map(|(index, c)| binlog.append_with(c, exec_time, |bytes| tamper(index, bytes)))
            .collect();
        if let Some(last) = ends.last() {
            repl.notes.push(format!("{db}: {} item(s) written, binlog end {last}", ends.len()));
        }
        repl.wake_up(self.shared.settings.pace, Instant::now());
        self.shared.dispatch(&mut repl);
        ends
    }

    /// `db`'s binlog end, with the last item's logic id.
    pub fn binlog_end(&self, db: &str) -> LogOffset {
        let mut repl = lock(&self.shared.repl);
        repl.db_mut(db).map(|d| d.binlog.end()).unwrap_or_else(|| panic!("the mock has no database {db}"))
    }

    /// TrySync before `pos` gets `kSyncPointBePurged` from now on.
    pub fn purge_before(&self, db: &str, pos: BinlogPos) {
        let mut repl = lock(&self.shared.repl);
        repl.db_mut(db).unwrap_or_else(|| panic!("the mock has no database {db}")).binlog.purge_before(pos);
        repl.notes.push(format!("{db}: purged before {pos}"));
        self.shared.dispatch(&mut repl);
    }

    /// Closes every InnerMessage connection, as a network cut would (the replicas lose
    /// their slave nodes). New connections are served.
    pub fn cut_replicas(&self) {
        let conns: Vec<Arc<Conn>> =
            lock(&self.shared.conns).iter().filter(|c| c.port == Port::Inner).cloned().collect();
        self.shared.note(format!("cut {} InnerMessage connection(s)", conns.len()));
        for conn in conns {
            conn.close();
        }
    }

    /// The next file chunk served carries another snapshot UUID.
    pub fn corrupt_uuid_once(&self) {
        lock(&self.shared.faults).corrupt_uuid = true;
    }

    /// Cuts the RsyncService connection in the chunk that takes the file bytes served (on
    /// every connection, from the start) past `bytes`; once.
    pub fn cut_transfer_after(&self, bytes: u64) {
        lock(&self.shared.faults).cut_after = Some(bytes);
    }

    /// The next `count` meta requests get `kErr`, as while a bgsave runs.
    pub fn meta_not_ready(&self, count: u32) {
        lock(&self.shared.faults).meta_not_ready = count;
    }

    /// File bytes the RsyncService served so far.
    pub fn rsync_bytes_served(&self) -> u64 {
        lock(&self.shared.faults).served
    }

    /// Every request received on the three ports, in order, as a line of text:
    /// `INFO replication`, `MetaSync 127.0.0.1:19521`, `TrySync db0 0:5462 from …`,
    /// `BinlogSync db0 ack 0:5533 (term 0, index 57) .. 0:5533 (term 0, index 1) session 0
    /// from …`, `RsyncFile db0 reader 1 0/000022.sst offset 0 count 4194304`, …
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// Every ACK range received (pings and first sends left out), in order.
    pub fn acks(&self) -> Vec<AckRange> {
        lock(&self.shared.repl).records.acks.clone()
    }

    /// The ACKs that did not match a batch sent.
    pub fn ack_errors(&self) -> Vec<AckError> {
        lock(&self.shared.repl).records.ack_errors.clone()
    }

    /// Keepalives sent.
    pub fn keepalives_sent(&self) -> u64 {
        lock(&self.shared.repl).records.keepalives_sent
    }

    /// The pings that answered a keepalive.
    pub fn keepalive_answers(&self) -> Vec<KeepaliveAnswer> {
        lock(&self.shared.repl).records.keepalive_answers.clone()
    }

    /// Keepalives still unanswered when the next one was due.
    pub fn unanswered_keepalives(&self) -> u64 {
        lock(&self.shared.repl).records.unanswered_keepalives
    }

    /// The slave nodes removed for silence.
    pub fn dropped(&self) -> Vec<Dropped> {
        lock(&self.shared.repl).records.dropped.clone()
    }

    /// DBSync requests received.
    pub fn dbsync_count(&self) -> u64 {
        lock(&self.shared.repl).records.dbsync
    }

    /// Replicas streaming (at least one database past its first BinlogSync).
    pub fn replicas(&self) -> usize {
        lock(&self.shared.repl).streaming_replicas()
    }

    /// Waits until `count` replicas stream; panics with the log after `timeout`.
    pub fn wait_for_replicas(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.replicas() != count {
            assert!(
                Instant::now() < deadline,
                "{} replicas, not {count}, after {timeout:?}\n{}",
                self.replicas(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the mock did, one line per event, with times since it started.
    pub fn log(&self) -> String {
        lock(&self.shared.log).join("\n")
    }
}

impl Drop for MockPika {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- mock Pika on port {} ---\n{}", self.port, self.log());
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        for conn in lock(&self.shared.conns).iter() {
            conn.close();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}
