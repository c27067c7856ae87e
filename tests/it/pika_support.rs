//! What the Pika daemon tests share (`pika_types`, `pika_v35`): [`Both`], which writes each
//! key into a Pika dump (`replicant_testkit::pika_dump`) and, as Redis commands, into a
//! reference Redis; the keys of every type both layouts hold ([`every_type`]) and those only
//! 3.5 has ([`v35_only`]); a mock master serving a dump ([`master_with`]); a daemon
//! following it into a real Redis ([`Run`]); binlog items with the commands they stand for
//! ([`Item`], [`push`]); and the comparison of the target with the reference
//! ([`differences`]).

use std::path::Path;
use std::time::Duration;

use redis::Connection;
use replicant_pika::link::pack;
use replicant_pika::{BinlogPos, LogOffset};
use replicant_testkit::pika_dump::encode::DataType;
use replicant_testkit::pika_dump::{Expiry, Generation, PikaDump, StreamEntries};
use replicant_testkit::{diff_report, free_port, snapshot, MockPika, MockPikaBuilder, RedisServer};

use crate::process::{admin, caught_up, field, info, wait_for, Daemon};

/// 2033-05-18 in ms: a far expiry 3.5 can hold (i32 seconds).
pub(crate) const FAR35: u64 = 2_000_000_000_000;
/// Members of the big collections: more than one command of the chunked copy holds (512).
const BIG: usize = 2500;
/// Where the dump's `info` says the binlog goes on, and the logic id before it.
pub(crate) const INFO_POS: BinlogPos = BinlogPos::new(3, 70_000);
pub(crate) const INFO_LOGIC_ID: u64 = 4321;
/// Exact scores of every kind.
const SCORES: [(f64, &[u8]); 9] = [
    (-3.25, b"neg"),
    (0.1, b"tenth"),
    (1e300, b"huge"),
    (5e-324, b"tiny"),
    (0.0, b"zero"),
    (f64::INFINITY, b"inf"),
    (f64::NEG_INFINITY, b"-inf"),
    (2.5, b"a"),
    (2.5, b"b"),
];

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

pub(crate) fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

/// Writes each key into the Pika dump and, as Redis commands, into the Redis that holds
/// what the target must end with.
pub(crate) struct Both {
    pub(crate) dump: PikaDump,
    pub(crate) want: Connection,
    /// The dump is 3.5's: expiries in whole seconds.
    pub(crate) v35: bool,
}

impl Both {
    pub(crate) fn run(&mut self, args: Vec<Vec<u8>>) {
        let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(a.as_slice());
        }
        cmd.exec(&mut self.want).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&args.concat())));
    }

    /// The expiry the dump keeps: 3.5 drops the ms.
    fn expire(&mut self, key: &[u8], expiry: Expiry) {
        let at = match expiry {
            Expiry::None => return,
            Expiry::At(ms) if self.v35 => ms / 1000 * 1000,
            Expiry::At(ms) => ms,
            Expiry::AtSecs(secs) => secs * 1000,
        };
        assert!(at > now_ms(), "a live key's expiry must be ahead");
        self.run(args(&[b"PEXPIREAT", key, at.to_string().as_bytes()]));
    }

    pub(crate) fn string(&mut self, key: &[u8], value: &[u8], expiry: Expiry) {
        self.dump.string(key, value, expiry);
        self.run(args(&[b"SET", key, value]));
        self.expire(key, expiry);
    }

    pub(crate) fn hash(&mut self, key: &[u8], fields: &[(&[u8], &[u8])], expiry: Expiry) {
        self.dump.hash(key, fields, expiry);
        let mut cmd = args(&[b"HSET", key]);
        cmd.extend(fields.iter().flat_map(|(f, v)| [f.to_vec(), v.to_vec()]));
        self.run(cmd);
        self.expire(key, expiry);
    }

    pub(crate) fn set(&mut self, key: &[u8], members: &[&[u8]], expiry: Expiry) {
        self.dump.set(key, members, expiry);
        self.run([&[&b"SADD"[..], key][..], members].concat().iter().map(|m| m.to_vec()).collect());
        self.expire(key, expiry);
    }

    pub(crate) fn zset(&mut self, key: &[u8], members: &[(f64, &[u8])], expiry: Expiry) {
        self.dump.zset(key, members, expiry);
        let mut cmd = args(&[b"ZADD", key]);
        cmd.extend(members.iter().flat_map(|(s, m)| [format!("{s:?}").into_bytes(), m.to_vec()]));
        self.run(cmd);
        self.expire(key, expiry);
    }

    pub(crate) fn list(&mut self, key: &[u8], elements: &[&[u8]], expiry: Expiry) {
        self.dump.list(key, elements, expiry);
        self.run([&[&b"RPUSH"[..], key][..], elements].concat().iter().map(|m| m.to_vec()).collect());
        self.expire(key, expiry);
    }

    /// A stream: its entries, last id, entries added and max deleted id (`XSETID`).
    pub(crate) fn stream(
        &mut self,
        key: &[u8],
        entries: StreamEntries,
        last: (u64, u64),
        added: u64,
        deleted: (u64, u64),
    ) {
        for ((ms, seq), fields) in &entries {
            let mut cmd = args(&[b"XADD", key, format!("{ms}-{seq}").as_bytes()]);
            cmd.extend(fields.iter().flat_map(|(f, v)| [f.clone(), v.clone()]));
            self.run(cmd);
        }
        let (last_id, max_deleted) = (format!("{}-{}", last.0, last.1), format!("{}-{}", deleted.0, deleted.1));
        let added_text = added.to_string();
        let words: [&[u8]; 7] = [
            b"XSETID",
            key,
            last_id.as_bytes(),
            b"ENTRIESADDED",
            added_text.as_bytes(),
            b"MAXDELETEDID",
            max_deleted.as_bytes(),
        ];
        self.run(args(&words));
        self.dump.stream(key, entries, last, added, deleted);
    }
}

fn numbered(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{prefix}{i:05}").into_bytes()).collect()
}

fn refs(items: &[Vec<u8>]) -> Vec<&[u8]> {
    items.iter().map(Vec::as_slice).collect()
}

fn entries() -> StreamEntries {
    vec![
        ((1, 0), vec![(b"f".to_vec(), b"a".to_vec())]),
        ((1, 1), vec![(b"f".to_vec(), b"b".to_vec()), (b"g".to_vec(), b"\0".to_vec())]),
        ((5, 0), vec![(b"".to_vec(), b"".to_vec())]),
    ]
}

/// Keys of every type written the same way in both layouts; `far` is a far expiry.
pub(crate) fn every_type(b: &mut Both, far: u64) {
    b.string(b"s", b"v", Expiry::None);
    b.string(b"s:bin\0\xff", b"\0\x01\xfe\xff bin\r\n", Expiry::None);
    b.string(b"s:empty", b"", Expiry::None);
    b.string(b"s:ms", b"t", Expiry::At(far + 123));
    b.string(b"s:secs", b"old", Expiry::AtSecs(far / 1000 + 7));
    // Written twice: the first version's rows stay behind, stale.
    b.dump.hash(b"h", &[(b"a", b"1"), (b"b", b"2")], Expiry::None);
    b.hash(b"h", &[(b"c", b"3"), (b"\0", b""), (b"f", b"x y")], Expiry::At(far));
    b.set(b"set", &[b"m1", b"m2", b"\0", b""], Expiry::None);
    b.zset(b"z", &SCORES, Expiry::AtSecs(far / 1000 + 9));
    b.dump.list(b"l", &[b"stale1", b"stale2", b"stale3"], Expiry::None);
    b.list(b"l", &[b"a", b"b", b"", b"c"], Expiry::None);
    b.list(b"l:one", &[b"only"], Expiry::None);
    b.stream(b"st", entries(), (7, 3), 5, (6, 0));
    gone(&mut b.dump);
    big_keys(b, far);
}

/// Keys that must not arrive: expired (in ms and in seconds) and emptied ones.
fn gone(d: &mut PikaDump) {
    d.string(b"gone:s", b"x", Expiry::At(1_000));
    d.string(b"gone:secs", b"x", Expiry::AtSecs(1));
    d.hash(b"gone:h", &[(b"f", b"v")], Expiry::At(1_000));
    d.set(b"gone:set", &[b"m"], Expiry::AtSecs(1));
    d.zset(b"gone:z", &[(1.0, b"m")], Expiry::At(1_000));
    d.list(b"gone:l", &[b"a", b"b"], Expiry::AtSecs(1));
    d.set(b"del:set", &[b"x"], Expiry::None);
    d.emptied(b"del:set", DataType::Sets);
    d.list(b"del:l", &[b"x", b"y"], Expiry::None);
    d.emptied(b"del:l", DataType::Lists);
}

/// Collections copied in several commands.
fn big_keys(b: &mut Both, far: u64) {
    let (fields, values) = (numbered("f", BIG + 500), numbered("v", BIG + 500));
    let pairs: Vec<(&[u8], &[u8])> = fields.iter().zip(&values).map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
    b.hash(b"big:h", &pairs, Expiry::None);
    b.list(b"big:l", &refs(&numbered("e", BIG)), Expiry::At(far + 1));
    let members = numbered("m", BIG);
    let scored: Vec<(f64, &[u8])> =
        members.iter().enumerate().map(|(i, m)| (i as f64 / 7.0 - 50.0, m.as_slice())).collect();
    b.zset(b"big:z", &scored, Expiry::At(far + 2));
    b.set(b"big:set", &refs(&numbered("s", BIG - 300)), Expiry::None);
}

/// What only 3.5 has: names live as several types at once (`TYPE` reports the first of
/// string, hash, list, zset, set), HyperLogLogs as plain strings.
pub(crate) fn v35_only(b: &mut Both) {
    b.string(b"dup", b"the string", Expiry::None);
    b.dump.hash(b"dup", &[(b"f", b"v")], Expiry::None);
    b.dump.list(b"dup", &[b"x"], Expiry::None);
    b.dump.hash(b"dup2", &[(b"f", b"v")], Expiry::AtSecs(1));
    b.set(b"dup2", &[b"live"], Expiry::None);
    b.dump.set(b"dup3", &[b"s"], Expiry::None);
    b.zset(b"dup3", &[(1.5, b"z")], Expiry::None);
    b.dump.list(b"dup4", &[b"x"], Expiry::None);
    b.dump.emptied(b"dup4", DataType::Lists);
    b.set(b"dup4", &[b"left"], Expiry::None);
    b.dump.hyperloglog(b"hll", b"HYLL");
    b.run(args(&[b"SET", b"hll", b"HYLL"]));
    let mut registers = vec![0u8; 1 << 17];
    registers[77] = 3;
    b.dump.hyperloglog(b"hll:pika", &registers);
}

/// A 3.5 dump of every type (and what only 3.5 has) in `dir`, with the same data in
/// `want`; the caller adds to it and finishes it.
pub(crate) fn v35_every_type(dir: &Path, want: &RedisServer) -> Both {
    let dump = PikaDump::create(dir, Generation::V35).unwrap();
    let mut b = Both { dump, want: want.conn(), v35: true };
    every_type(&mut b, FAR35);
    b.string(b"s:ms35", b"ms dropped", Expiry::At(FAR35 + 999));
    v35_only(&mut b);
    b
}

pub(crate) fn master(dump: &Path) -> MockPika {
    master_with(dump, |b| b)
}

pub(crate) fn master_with(dump: &Path, faults: impl FnOnce(MockPikaBuilder) -> MockPikaBuilder) -> MockPika {
    let builder = MockPika::builder()
        .dump_dir(dump)
        .binlog_start("db0", INFO_POS, INFO_LOGIC_ID)
        .keepalive(Duration::from_millis(500));
    faults(builder).start()
}

pub(crate) fn follow(master: &MockPika, target: &RedisServer, state: &Path, admin_port: u16) -> Daemon {
    follow_url(&format!("redis://{}", master.addr()), target, state, admin_port)
}

/// A daemon following the Pika master at `src` (a URL, with a database to follow one of
/// several) into `target`, with a state directory and an admin port.
pub(crate) fn follow_url(src: &str, target: &RedisServer, state: &Path, admin_port: u16) -> Daemon {
    let dst = target.url();
    let admin_addr = format!("127.0.0.1:{admin_port}");
    #[rustfmt::skip]
    let args = [
        "sync", "--source", src, "--target", &dst, "--state-dir", state.to_str().unwrap(),
        "--admin", &admin_addr, "--progress", "never",
    ];
    Daemon::start(&args)
}

/// A running copy: the target, the daemon and its state directory.
pub(crate) struct Run {
    pub(crate) target: RedisServer,
    pub(crate) daemon: Daemon,
    pub(crate) admin_port: u16,
    pub(crate) state: tempfile::TempDir,
}

impl Run {
    pub(crate) fn start(master: &MockPika) -> Run {
        let target = RedisServer::start();
        let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
        let daemon = follow(master, &target, state.path(), admin_port);
        Run { target, daemon, admin_port, state }
    }

    pub(crate) fn restart(&mut self, master: &MockPika) {
        self.daemon = follow(master, &self.target, self.state.path(), self.admin_port);
    }

    /// Waits until the target acknowledged everything up to `pos`.
    pub(crate) fn wait_applied(&self, pos: BinlogPos) {
        let packed = pack(pos).unwrap();
        let mut conn = admin(self.admin_port);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let text = info(&mut conn, "replication");
            if caught_up(&text) && field(&text, "applied_offset") == Some(packed.to_string()) {
                return;
            }
            assert_ne!(field(&text, "phase").as_deref(), Some("failed"), "{text}\n{}", self.daemon.log());
            assert!(std::time::Instant::now() < deadline, "not applied up to {pos}:\n{text}\n{}", self.daemon.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the target holds what `want` holds; fails early on `phase:failed`.
    pub(crate) fn wait_same(&self, want: &RedisServer) {
        let mut conn = admin(self.admin_port);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while let Some(diff) = differences(want, &self.target) {
            let text = info(&mut conn, "replication");
            assert_ne!(field(&text, "phase").as_deref(), Some("failed"), "{text}\n{}", self.daemon.log());
            assert!(std::time::Instant::now() < deadline, "{diff}\n{text}\n{}", self.daemon.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for `phase:failed`; the `last_error`.
    pub(crate) fn wait_failed(&self) -> String {
        let mut conn = admin(self.admin_port);
        wait_for("phase:failed", Duration::from_secs(60), || {
            field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
        });
        assert!(!self.daemon.log().contains("panicked"), "{}", self.daemon.log());
        field(&info(&mut conn, "replication"), "last_error").unwrap()
    }
}

/// One binlog item as the master writes it (RESP), and the Redis commands it stands for.
pub(crate) struct Item {
    pub(crate) resp: Vec<u8>,
    pub(crate) want: Vec<Vec<String>>,
}

pub(crate) fn resp(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n{w}\r\n", w.len()).as_bytes());
    }
    out
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A command replayed as it is.
pub(crate) fn same(words: &[&str]) -> Item {
    Item { resp: resp(words), want: vec![strings(words)] }
}

/// A binlog form and the Redis commands it must end as (none: dropped).
pub(crate) fn becomes(binlog: &[&str], want: &[&[&str]]) -> Item {
    Item { resp: resp(binlog), want: want.iter().map(|w| strings(w)).collect() }
}

/// Bytes written as an item's content as they are.
pub(crate) fn raw(content: &[u8]) -> Item {
    Item { resp: content.to_vec(), want: Vec::new() }
}

/// Pushes the items to the master (one write) and their commands to the reference; their
/// ends.
pub(crate) fn push_all(master: &MockPika, want: &mut Connection, items: Vec<Item>) -> Vec<LogOffset> {
    push_all_tampered(master, want, items, |_, _| {})
}

/// As [`push_all`], with each item's encoding (34-byte header and content) handed to
/// `tamper` with its index first (`MockPika::push_tampered`).
pub(crate) fn push_all_tampered(
    master: &MockPika,
    want: &mut Connection,
    items: Vec<Item>,
    tamper: impl FnMut(usize, &mut Vec<u8>),
) -> Vec<LogOffset> {
    for cmd in items.iter().flat_map(|i| &i.want) {
        redis::cmd(&cmd[0]).arg(&cmd[1..]).exec(want).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    }
    master.push_tampered("db0", items.into_iter().map(|i| i.resp).collect(), tamper)
}

/// As [`push_all`]; the last end.
pub(crate) fn push(master: &MockPika, want: &mut Connection, items: Vec<Item>) -> LogOffset {
    *push_all(master, want, items).last().unwrap()
}

/// Writes that count on being applied once.
pub(crate) fn counted(tag: &str) -> Vec<Item> {
    vec![
        same(&["incr", "ctr"]),
        same(&["rpush", "rl", tag]),
        same(&["incrby", "ctr", "10"]),
        same(&["lpush", "rl", tag]),
        same(&["hincrby", "h", "n", "3"]),
        same(&["append", "s:secs", tag]),
    ]
}

/// The target's differences from `want`, the daemon's exactly-once markers left out.
pub(crate) fn differences(want: &RedisServer, target: &RedisServer) -> Option<String> {
    let mut image = snapshot(&mut target.conn());
    image.retain(|_, key| !key.starts_with(b"replicant:applied:"));
    diff_report(&snapshot(&mut want.conn()), &image)
}
