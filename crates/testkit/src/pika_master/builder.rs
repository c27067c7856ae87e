//! [`MockPikaBuilder`]: the settings of a [`MockPika`] and its start: three listeners on
//! free loopback ports `P`, `P + 2000`, `P + 10001`, each database's binlog written, the
//! acceptor and cron threads started.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use replicant_pika::{BinlogPos, LogOffset};

use super::binlog::{Binlog, DEFAULT_BINLOG_FILE_SIZE};
use super::repl::{self, Db, Pace, Repl};
use super::rsync::{Dump, Faults};
use super::{
    accept_loop, cron_loop, info, Generation, MockPika, Settings, Shared, DEFAULT_BATCH, DEFAULT_KEEPALIVE,
    DEFAULT_REPLICA_TIMEOUT, DEFAULT_WINDOW, REPL_PORT_SHIFT, RSYNC_PORT_SHIFT,
};

/// The `pika_version` of a mock that plays a 3.5.x master without being given a version.
pub const V35_VERSION: &str = "3.5.5";

/// The binlog a database starts with.
#[derive(Debug, Clone, Default)]
struct BinlogSpec {
    /// First position and the logic id before it.
    start: Option<(BinlogPos, u64)>,
    /// Items to write (RESP commands).
    commands: Vec<Vec<u8>>,
    /// Items encoded elsewhere, with their ends.
    captured: Vec<(Vec<u8>, LogOffset)>,
    purge_before: Option<BinlogPos>,
}

/// The settings of a [`MockPika`] before it starts.
#[derive(Debug, Clone)]
pub struct MockPikaBuilder {
    requirepass: Option<String>,
    databases: usize,
    db_instance_num: i32,
    run_id: String,
    replication_id: String,
    version: Option<String>,
    pace: Pace,
    binlog_file_size: u64,
    exec_time: Option<u32>,
    binlogs: BTreeMap<String, BinlogSpec>,
    dumps: BTreeMap<String, Dump>,
    faults: Faults,
    info_template: Option<String>,
    config: Vec<(String, String)>,
}

impl Default for MockPikaBuilder {
    fn default() -> Self {
        MockPikaBuilder {
            requirepass: None,
            databases: 1,
            db_instance_num: 3,
            run_id: "6d6f636b70696b6172756e69646d6f636b70696b".into(),
            replication_id: "6d6f636b2d7265706c69636174696f6e2d69642d70696b6134".into(),
            version: None,
            pace: Pace {
                batch: DEFAULT_BATCH,
                window: DEFAULT_WINDOW,
                keepalive: DEFAULT_KEEPALIVE,
                timeout: DEFAULT_REPLICA_TIMEOUT,
            },
            binlog_file_size: DEFAULT_BINLOG_FILE_SIZE,
            exec_time: None,
            binlogs: BTreeMap::new(),
            dumps: BTreeMap::new(),
            faults: Faults::default(),
            info_template: None,
            config: Vec::new(),
        }
    }
}

impl MockPikaBuilder {
    /// Requires this password: `AUTH` on the client port, `auth` in MetaSync.
    pub fn requirepass(mut self, password: &str) -> Self {
        self.requirepass = Some(password.to_owned());
        self
    }

    /// The number of databases, `db0` … (default 1).
    pub fn databases(mut self, count: usize) -> Self {
        self.databases = count;
        self
    }

    /// RocksDB instances per database, announced in MetaSync (default 3).
    pub fn db_instance_num(mut self, count: i32) -> Self {
        self.db_instance_num = count;
        self
    }

    /// The run id (MetaSync, `INFO`; default 40 hex digits spelling `mockpikarunid…`).
    pub fn run_id(mut self, id: &str) -> Self {
        self.run_id = id.to_owned();
        self
    }

    /// The replication id (MetaSync, `INFO`; default 50 hex digits, as Pika makes them).
    pub fn replication_id(mut self, id: &str) -> Self {
        self.replication_id = id.to_owned();
        self
    }

    /// What `INFO` says as `pika_version` (default: the template's, `4.0.0` as a real
    /// 4.0.1 build says). A version starting `3.` makes the mock a Pika 3.5.x master: its
    /// MetaSync answer has no `db_instance_num` and its RsyncService lists a dump directory
    /// as 3.5.x does (`strings/`, `hashes/`, `lists/`, `zsets/`, `sets/`, then `info`).
    /// Without a version, a [dump directory](Self::dump_dir) in 3.5's layout (`strings/`,
    /// no `0/`) does the same, and `INFO` says [`V35_VERSION`].
    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_owned());
        self
    }

    /// Items per BinlogSync response (default 100).
    pub fn batch_size(mut self, items: usize) -> Self {
        self.pace.batch = items.max(1);
        self
    }

    /// Unacknowledged items per replica (default 9000).
    pub fn window_size(mut self, items: usize) -> Self {
        self.pace.window = items.max(1);
        self
    }

    /// Idle time after which a replica gets an empty BinlogSync (default 2 s).
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.pace.keepalive = every;
        self
    }

    /// Silence after which a replica's slave node is removed (default 20 s).
    pub fn replica_timeout(mut self, after: Duration) -> Self {
        self.pace.timeout = after;
        self
    }

    /// `binlog-file-size`: a file is rolled once it is larger (default 100 MiB).
    pub fn binlog_file_size(mut self, bytes: u64) -> Self {
        self.binlog_file_size = bytes;
        self
    }

    /// The `exec_time` written in items (default: the time of the write).
    pub fn exec_time(mut self, unix_secs: u32) -> Self {
        self.exec_time = Some(unix_secs);
        self
    }

    /// Where `db`'s binlog starts (default `0:0`) and the logic id before its first item
    /// (default 0). Positions before `pos` count as purged.
    pub fn binlog_start(mut self, db: &str, pos: BinlogPos, last_logic_id: u64) -> Self {
        self.binlogs.entry(db.to_owned()).or_default().start = Some((pos, last_logic_id));
        self
    }

    /// Items `db`'s binlog holds at start, each a command (its arguments).
    pub fn binlog<C, A>(mut self, db: &str, commands: impl IntoIterator<Item = C>) -> Self
    where
        C: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let spec = self.binlogs.entry(db.to_owned()).or_default();
        spec.commands.extend(commands.into_iter().map(resp));
        self
    }

    /// TrySync before `pos` gets `kSyncPointBePurged`.
    pub fn purge_before(mut self, db: &str, pos: BinlogPos) -> Self {
        self.binlogs.entry(db.to_owned()).or_default().purge_before = Some(pos);
        self
    }

    /// `db0`'s dump: a directory with `info` and instance directories `0/`, `1/`, … (4.x)
    /// or type directories `strings/`, `hashes/`, … (3.5), as
    /// [`PikaDump`](crate::pika_dump::PikaDump) writes them.
    pub fn dump_dir(self, path: impl Into<PathBuf>) -> Self {
        self.dump_dir_for("db0", path)
    }

    /// `db`'s dump directory.
    pub fn dump_dir_for(mut self, db: &str, path: impl Into<PathBuf>) -> Self {
        self.dumps.insert(db.to_owned(), Dump::Dir(path.into()));
        self
    }

    /// The next file chunk carries another snapshot UUID.
    pub fn corrupt_uuid_once(mut self) -> Self {
        self.faults.corrupt_uuid = true;
        self
    }

    /// The RsyncService connection is cut in the chunk that takes the file bytes served
    /// past `bytes` (once).
    pub fn cut_transfer_after(mut self, bytes: u64) -> Self {
        self.faults.cut_after = Some(bytes);
        self
    }

    /// The next `count` meta requests get `kErr` (the bgsave is still running).
    pub fn meta_not_ready(mut self, count: u32) -> Self {
        self.faults.meta_not_ready = count;
        self
    }

    /// The `INFO` template (a raw `INFO` text, LF or CRLF): its Server section and any
    /// section the mock does not build itself.
    pub fn info_template(mut self, text: &str) -> Self {
        self.info_template = Some(text.to_owned());
        self
    }

    /// Sets a field `CONFIG GET` reports (replacing a built-in one of that name).
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.config.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The capture's binlog items and dump (see [`capture::builder`]).
    pub(super) fn captured(
        mut self,
        items: Vec<(Vec<u8>, LogOffset)>,
        uuid: String,
        files: Vec<(String, Vec<u8>)>,
    ) -> Self {
        self.binlogs.entry("db0".to_owned()).or_default().captured = items;
        self.dumps.insert("db0".to_owned(), Dump::Memory { uuid, files });
        self
    }

    /// Listens on `P`, `P + 2000` and `P + 10001` for a free `P` and starts serving.
    /// Panics on a binlog or dump for a database it does not have.
    pub fn start(self) -> MockPika {
        let (port, listeners) = bind_ports();
        let dbs: Vec<String> = (0..self.databases).map(|n| format!("db{n}")).collect();
        for db in self.binlogs.keys().chain(self.dumps.keys()) {
            assert!(dbs.contains(db), "the mock has databases {dbs:?}, not {db}");
        }
        let exec_time = self.exec_time.unwrap_or_else(unix_now);
        let repl_dbs = dbs
            .iter()
            .map(|name| {
                let spec = self.binlogs.get(name).cloned().unwrap_or_default();
                let (begin, logic) = spec.start.unwrap_or_default();
                let mut binlog = Binlog::new(begin, logic, self.binlog_file_size);
                for (bytes, end) in spec.captured {
                    binlog.append_encoded(bytes, end).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                for command in &spec.commands {
                    binlog.append(command, exec_time);
                }
                if let Some(pos) = spec.purge_before {
                    binlog.purge_before(pos);
                }
                Db { name: name.clone(), binlog, next_session: 0, nodes: Vec::new() }
            })
            .collect();
        let generation = match self.version.as_deref() {
            Some(version) if version.starts_with("3.") => Generation::V35,
            Some(_) => Generation::V4,
            None if self.dumps.values().any(Dump::is_v35_dir) => Generation::V35,
            None => Generation::V4,
        };
        let version = match generation {
            Generation::V35 => Some(self.version.unwrap_or_else(|| V35_VERSION.to_owned())),
            Generation::V4 => self.version,
        };
        let settings = Settings {
            host: "127.0.0.1".into(),
            requirepass: self.requirepass.filter(|p| !p.is_empty()),
            dbs,
            generation,
            db_instance_num: self.db_instance_num,
            run_id: self.run_id,
            replication_id: self.replication_id,
            version,
            pace: self.pace,
            binlog_file_size: self.binlog_file_size,
            exec_time: self.exec_time,
            info: info::Template::new(self.info_template.as_deref()),
            config: self.config,
        };
        let repl = Repl {
            dbs: repl_dbs,
            slaves: Vec::new(),
            conn_of: BTreeMap::new(),
            records: repl::Records::default(),
            outbox: Vec::new(),
            notes: Vec::new(),
        };
        let shared = Arc::new(Shared {
            port,
            started: Instant::now(),
            stop: AtomicBool::new(false),
            settings,
            repl: Mutex::new(repl),
            dumps: self.dumps,
            faults: Mutex::new(self.faults),
            next_conn: AtomicU64::new(1),
            conns: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        shared.note(format!("listening on 127.0.0.1:{port}, +{REPL_PORT_SHIFT} and +{RSYNC_PORT_SHIFT}"));
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&s, &listeners));
        let s = shared.clone();
        let cron = std::thread::spawn(move || cron_loop(&s));
        MockPika { port, shared, threads: vec![acceptor, cron] }
    }
}

/// Binds `P` on loopback with `P + 2000` and `P + 10001` free too, retrying other ports.
fn bind_ports() -> (u16, [TcpListener; 3]) {
    for _ in 0..200 {
        let Ok(client) = TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(port) = client.local_addr().map(|a| a.port()) else { continue };
        let (Some(repl), Some(rsync)) = (port.checked_add(REPL_PORT_SHIFT), port.checked_add(RSYNC_PORT_SHIFT)) else {
            continue;
        };
        let (Ok(inner), Ok(files)) = (TcpListener::bind(("127.0.0.1", repl)), TcpListener::bind(("127.0.0.1", rsync)))
        else {
            continue;
        };
        let listeners = [client, inner, files];
        if listeners.iter().all(|l| l.set_nonblocking(true).is_ok()) {
            return (port, listeners);
        }
    }
    panic!("no free loopback port P with P + {REPL_PORT_SHIFT} and P + {RSYNC_PORT_SHIFT} free after 200 tries");
}

pub(super) fn unix_now() -> u32 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// A command as the RESP array Pika writes in a binlog item (`Cmd::ToRedisProtocol`).
pub(super) fn resp<A: AsRef<[u8]>>(args: impl IntoIterator<Item = A>) -> Vec<u8> {
    let args: Vec<A> = args.into_iter().collect();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in &args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
