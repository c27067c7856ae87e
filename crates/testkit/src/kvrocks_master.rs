//! [`MockKvrocks`]: an in-process stand-in for an Apache Kvrocks 2.10.1 master, byte for
//! byte as the real server talks to a replica (Kvrocks cannot be installed here).
//!
//! It listens on `127.0.0.1:<free port>`, one thread per connection, and answers what a
//! replica sends (`src/commands/cmd_replication.cc`, `src/server/redis_connection.cc`):
//!
//! * `AUTH <password|namespace token>` → `+OK`, or `-ERR Invalid password`; before it
//!   (when a password is set) every known command but `AUTH`/`HELLO` gets
//!   `-NOAUTH Authentication required.`; an unknown command gets
//!   ``-ERR unknown command `X`, with args beginning with: `a`, `b` `` even before AUTH.
//! * `PING`, `QUIT`, `SELECT`, `HELLO`, `INFO [section]` (the capture's `info.txt`, or a
//!   built-in text, with live sequence and replica fields), `CONFIG GET <name|*>` (exact
//!   names only, as 2.10.1: no glob), `NAMESPACE GET <*|ns>`.
//! * `_db_name` → the raw line `change.me.db\r\n`; `replconf listening-port <p>
//!   [ip-address <ip>]` → `+OK`.
//! * `_fetch_meta` → the raw line `name1,name2,...\r\n` (the checkpoint's files), then
//!   close; `_fetch_file a,b` → per file `<size>\r\n` + its bytes, then close (a missing
//!   file closes at that point).
//! * `PSYNC <seq>` (or `PSYNC <replid16> <seq>`, the replid unchecked as with the default
//!   `use-rsid-psync no`): at `latest + 1` or at the first sequence of a batch still held,
//!   `+OK\r\n` then every batch from there as `$<len>\r\n<rep>\r\n`, batches pushed later,
//!   and `$4\r\nping\r\n` every [heartbeat](MockKvrocksBuilder::heartbeat) while idle;
//!   otherwise `-ERR sequence out of range, please use fullsync`. Nothing is read back.
//!
//! The sequence the master reports (`INFO` `sequence`/`master_repl_offset`, and what
//! `PSYNC` takes as latest) is the last sequence of its batches, or the checkpoint's
//! [sequence](MockKvrocksBuilder::sequence) when no batch is later: a master whose WAL
//! already holds the batches written since the checkpoint.
//!
//! [`MockKvrocks::from_capture`] loads a case of the shared Kvrocks captures in place
//! (see [`capture`]). Every request and what the mock did are logged
//! ([`MockKvrocks::requests`], [`MockKvrocks::log`]); the log is printed when a test
//! panics while the mock is alive. Dropping it closes every connection and joins every
//! thread.
//!
//! ```no_run
//! use replicant_testkit::MockKvrocks;
//!
//! let master = MockKvrocks::from_capture("v2.10.1-types").start();
//! // ... point the code under test at master.addr() with password adminpass ...
//! assert!(master.requests().contains(&"PSYNC 99".to_owned()));
//! ```

use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod capture;
pub mod dataset;
mod feed;
mod info;
mod request;
mod session;
mod wal;

pub use capture::{kvrocks_capture, kvrocks_captures_dir, CAPTURES_ENV};

use wal::{Batch, Wal};

/// The longest a mock thread waits in a socket call before it looks at its flags again.
pub const POLL: Duration = Duration::from_millis(20);
/// Kvrocks' heartbeat on an idle PSYNC stream: 1000 idle loops of 2 ms.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The settings of a [`MockKvrocks`] before it starts.
#[derive(Debug, Clone)]
pub struct MockKvrocksBuilder {
    password: Option<String>,
    tokens: BTreeMap<String, String>,
    checkpoint_dir: Option<PathBuf>,
    checkpoint_files: Option<Vec<String>>,
    sequence: u64,
    batches: Vec<Vec<u8>>,
    heartbeat: Duration,
    info_template: Option<String>,
    config: BTreeMap<String, String>,
}

impl Default for MockKvrocksBuilder {
    fn default() -> Self {
        MockKvrocksBuilder {
            password: None,
            tokens: BTreeMap::new(),
            checkpoint_dir: None,
            checkpoint_files: None,
            sequence: 0,
            batches: Vec::new(),
            heartbeat: DEFAULT_HEARTBEAT,
            info_template: None,
            config: BTreeMap::new(),
        }
    }
}

impl MockKvrocksBuilder {
    /// Requires this password (`requirepass`): `AUTH` with it makes an admin connection.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Adds a namespace: `AUTH <token>` selects `namespace` (a non-admin connection).
    pub fn namespace_token(mut self, namespace: &str, token: &str) -> Self {
        self.tokens.insert(token.to_owned(), namespace.to_owned());
        self
    }

    /// The checkpoint `_fetch_meta` lists and `_fetch_file` serves: the files of `dir`,
    /// in the order the directory lists them (as Kvrocks lists its checkpoint), unless
    /// [`checkpoint_files`](Self::checkpoint_files) gives the order.
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// The names `_fetch_meta` lists, in this order (files of the checkpoint dir).
    pub fn checkpoint_files(mut self, names: Vec<String>) -> Self {
        self.checkpoint_files = Some(names);
        self
    }

    /// The checkpoint's sequence (default 0): the latest sequence while no batch is later.
    pub fn sequence(mut self, seq: u64) -> Self {
        self.sequence = seq;
        self
    }

    /// The WriteBatch reps the WAL holds, oldest first; each starts with its header
    /// (sequence u64 LE, count u32 LE). Panics at start on a rep shorter than that.
    pub fn batches(mut self, reps: Vec<Vec<u8>>) -> Self {
        self.batches = reps;
        self
    }

    /// How often an idle PSYNC stream gets `$4\r\nping\r\n` (default 2 s, as Kvrocks).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// The `INFO` text (a raw `INFO` body, LF or CRLF); live fields are rewritten.
    pub fn info_template(mut self, text: &str) -> Self {
        self.info_template = Some(text.to_owned());
        self
    }

    /// Sets a field `CONFIG GET` reports (and `db-name`, which `_db_name` answers).
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.config.insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }

    /// Listens on a free loopback port and starts serving.
    pub fn start(self) -> MockKvrocks {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock Kvrocks on loopback");
        let port = listener.local_addr().expect("the mock Kvrocks' address").port();
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let shared = Arc::new(Shared::new(self, port));
        shared.note(format!("listening on 127.0.0.1:{port}"));
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&s, &listener));
        MockKvrocks { port, shared, acceptor: Some(acceptor) }
    }
}

/// The default `CONFIG GET` fields (Kvrocks' defaults, `src/config/config.cc`).
fn default_config(password: Option<&str>, port: u16) -> BTreeMap<String, String> {
    let fields = [
        ("cluster-enabled", "no"),
        ("db-name", "change.me.db"),
        ("masterauth", ""),
        ("max-replication-mb", "0"),
        ("repl-namespace-enabled", "no"),
        ("requirepass", password.unwrap_or("")),
        ("resp3-enabled", "no"),
        ("rocksdb.wal_size_limit_mb", "16384"),
        ("rocksdb.wal_ttl_seconds", "10800"),
        ("rocksdb.write_buffer_size", "64"),
        ("slave-read-only", "yes"),
        ("use-rsid-psync", "no"),
    ];
    let mut config: BTreeMap<String, String> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    config.insert("port".to_owned(), port.to_string());
    config
}

/// One accepted connection.
pub(crate) struct Conn {
    id: u64,
    peer: SocketAddr,
    stream: TcpStream,
    closed: AtomicBool,
    /// Set once PSYNC made it a replica feed.
    feeding: AtomicBool,
    /// The next sequence a feed sends.
    next_seq: AtomicU64,
    /// `replconf listening-port` / `ip-address`.
    announce: Mutex<(u16, Option<String>)>,
}

impl Conn {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Counters `INFO` reports.
#[derive(Default)]
struct Stats {
    /// `_fetch_meta` requests (Kvrocks' `sync_full`).
    sync_full: AtomicU64,
    /// `_fetch_meta` requests answered with a file list.
    fetch_meta_served: AtomicU64,
    /// `_fetch_file` requests.
    fetch_file: AtomicU64,
    sync_partial_ok: AtomicU64,
    sync_partial_err: AtomicU64,
}

/// State shared by the mock's threads.
pub(crate) struct Shared {
    port: u16,
    started: Instant,
    stop: AtomicBool,
    password: Option<String>,
    /// Namespace tokens: token → namespace.
    tokens: Mutex<BTreeMap<String, String>>,
    checkpoint_dir: Option<PathBuf>,
    checkpoint_files: Option<Vec<String>>,
    heartbeat: Duration,
    info_template: String,
    config: Mutex<BTreeMap<String, String>>,
    wal: Mutex<Wal>,
    /// Notified when a batch is pushed, replicas are cut, or the mock stops.
    wal_changed: Condvar,
    stats: Stats,
    next_conn: AtomicU64,
    conns: Mutex<Vec<Arc<Conn>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    requests: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
}

impl Shared {
    fn new(b: MockKvrocksBuilder, port: u16) -> Shared {
        let mut config = default_config(b.password.as_deref(), port);
        config.extend(b.config);
        let batches = b.batches.into_iter().map(Batch::new).collect();
        Shared {
            port,
            started: Instant::now(),
            stop: AtomicBool::new(false),
            password: b.password,
            tokens: Mutex::new(b.tokens),
            checkpoint_dir: b.checkpoint_dir,
            checkpoint_files: b.checkpoint_files,
            heartbeat: b.heartbeat,
            info_template: info::template(b.info_template.as_deref()),
            config: Mutex::new(config),
            wal: Mutex::new(Wal { checkpoint_seq: b.sequence, batches, purged_before: 0 }),
            wal_changed: Condvar::new(),
            stats: Stats::default(),
            next_conn: AtomicU64::new(1),
            conns: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Adds a line to the log, with the time since the mock started.
    fn note(&self, what: String) {
        let line = format!("+{:.3}s {what}", self.started.elapsed().as_secs_f64());
        lock(&self.log).push(line);
    }

    fn accept(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let id = self.next_conn.fetch_add(1, Ordering::SeqCst);
        let Ok(handle) = stream.try_clone() else { return };
        let conn = Arc::new(Conn {
            id,
            peer,
            stream: handle,
            closed: AtomicBool::new(false),
            feeding: AtomicBool::new(false),
            next_seq: AtomicU64::new(0),
            announce: Mutex::new((0, None)),
        });
        self.note(format!("conn {id}: accepted from {peer}"));
        lock(&self.conns).push(conn.clone());
        let shared = self.clone();
        let thread = std::thread::spawn(move || {
            session::serve(&shared, &conn, stream);
            conn.close();
            lock(&shared.conns).retain(|c| c.id != conn.id);
            shared.note(format!("conn {}: closed", conn.id));
        });
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
    }

    /// The checkpoint's file names, in the order `_fetch_meta` lists them.
    fn checkpoint_listing(&self) -> Option<Vec<String>> {
        if let Some(names) = &self.checkpoint_files {
            return Some(names.clone());
        }
        let entries = std::fs::read_dir(self.checkpoint_dir.as_ref()?).ok()?;
        Some(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
    }

    /// A checkpoint file's path, if the checkpoint holds it.
    fn checkpoint_file(&self, name: &str) -> Option<PathBuf> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return None;
        }
        let path = self.checkpoint_dir.as_ref()?.join(name);
        path.is_file().then_some(path)
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    while !shared.stopped() {
        match listener.accept() {
            Ok((stream, peer)) => {
                let _ = stream.set_nonblocking(false);
                shared.accept(stream, peer);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A mock Kvrocks 2.10.1 master; see the [module documentation](self).
pub struct MockKvrocks {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl MockKvrocks {
    /// The settings, to change before [`MockKvrocksBuilder::start`].
    pub fn builder() -> MockKvrocksBuilder {
        MockKvrocksBuilder::default()
    }

    /// The settings of a capture case, read in place: `case` is a case folder's name
    /// under [`kvrocks_captures_dir`] (e.g. `v2.10.1-types`) or a path. See
    /// [`capture::builder`].
    pub fn from_capture(case: impl AsRef<Path>) -> MockKvrocksBuilder {
        capture::builder(case.as_ref())
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Appends a WriteBatch rep to the WAL; connected PSYNC streams send it at once.
    /// Panics when `rep` is shorter than a WriteBatch header. A batch that does not
    /// follow the previous one makes feeds that reach it close their connection, as a
    /// WAL gap does in Kvrocks.
    pub fn push_batch(&self, rep: impl Into<Vec<u8>>) {
        let batch = Batch::new(rep.into());
        self.shared.note(format!("push batch seq {} count {}", batch.seq, batch.count));
        lock(&self.shared.wal).batches.push(batch);
        self.shared.wal_changed.notify_all();
    }

    /// Closes every PSYNC connection, as a network cut would. New connections are served.
    pub fn cut_replicas(&self) {
        let feeds: Vec<Arc<Conn>> =
            lock(&self.shared.conns).iter().filter(|c| c.feeding.load(Ordering::SeqCst)).cloned().collect();
        self.shared.note(format!("cut {} replica connection(s)", feeds.len()));
        for c in &feeds {
            c.close();
        }
        self.shared.wal_changed.notify_all();
    }

    /// Forgets the batches below `seq`: a later `PSYNC` below it gets
    /// `-ERR sequence out of range, please use fullsync`.
    pub fn purge_before(&self, seq: u64) {
        self.shared.note(format!("purge batches before seq {seq}"));
        lock(&self.shared.wal).purged_before = seq;
    }

    /// Every command received, in order: its arguments joined by spaces (bytes that are
    /// not UTF-8 shown lossily), e.g. `PSYNC 99`, `_fetch_file a,b`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// How many full syncs were served: `_fetch_meta` requests answered with a file list.
    pub fn fetch_count(&self) -> u64 {
        self.shared.stats.fetch_meta_served.load(Ordering::SeqCst)
    }

    /// How many `_fetch_file` requests were received.
    pub fn fetch_file_count(&self) -> u64 {
        self.shared.stats.fetch_file.load(Ordering::SeqCst)
    }

    /// The latest sequence: what `INFO` reports as `sequence`.
    pub fn latest_sequence(&self) -> u64 {
        lock(&self.shared.wal).latest()
    }

    /// PSYNC connections being fed now.
    pub fn replicas(&self) -> usize {
        lock(&self.shared.conns).iter().filter(|c| c.feeding.load(Ordering::SeqCst) && !c.is_closed()).count()
    }

    /// Waits until `count` PSYNC connections are being fed; panics with the log after
    /// `timeout`.
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

impl Drop for MockKvrocks {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- mock Kvrocks on port {} ---\n{}", self.port, self.log());
        }
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wal_changed.notify_all();
        for c in lock(&self.shared.conns).iter() {
            c.close();
        }
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}
