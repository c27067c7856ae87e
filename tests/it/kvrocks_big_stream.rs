//! A Kvrocks checkpoint holding streams far past the checkpoint reader's whole-key limit
//! (1,024 rows), written by the test with `replicant_testkit::kvrocks_checkpoint`: 5,000
//! entries (three deleted, the last among them), two consumer groups with consumers and
//! pending entries, and an expiry; and a stream of 1,100 groups and no entry. The mock
//! master serves the checkpoint, the daemon copies it into a real Redis in chunks, and the
//! target is compared with what the test wrote: length, every entry, the stream's ids,
//! groups, consumers, pending entries with their owners, delivery counts and times, expiry.

use std::collections::HashMap;
use std::time::Duration;

use redis::{Connection, Value};
use replicant_testkit::kvrocks_checkpoint::{
    Encoding, EntrySpec, Expiry, GroupSpec, KvrocksCheckpoint, Layout, PendingSpec, StreamId, StreamSpec,
    DEFAULT_NAMESPACE,
};
use replicant_testkit::{free_port, MockKvrocks, RedisServer};

use crate::kvrocks::{follow as daemon, wait_applied};

const DEFAULT: &str = DEFAULT_NAMESPACE;
/// 2100-01-01 plus 123 ms.
const FUTURE: u64 = 4_102_444_800_123;
/// The first entry's time.
const T0: u64 = 1_700_000_000_000;
/// Entries written (more than four times the rows the checkpoint reader takes whole).
const ENTRIES: usize = 5000;
/// Entries deleted after they were all added, by index: the last one among them.
const DELETED: [usize; 3] = [100, 2500, ENTRIES - 1];
/// Groups of the stream that has no entry.
const MANY_GROUPS: usize = 1100;
/// Entries per `XRANGE` when reading the target back.
const XRANGE_COUNT: usize = 700;

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

fn id((ms, seq): StreamId) -> String {
    format!("{ms}-{seq}")
}

/// The id of entry `i`: four entries per millisecond, sequences 0 to 3.
fn entry_id(i: usize) -> StreamId {
    (T0 + i as u64 / 4, i as u64 % 4)
}

/// Entry `i`'s fields: every seventh has three, one of them binary.
fn entry_fields(i: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut fields = vec![(b"f".to_vec(), format!("v{i}").into_bytes())];
    if i.is_multiple_of(7) {
        fields.push((b"bin".to_vec(), vec![0, 0xff, b'\r', b'\n', i as u8]));
        fields.push((b"empty".to_vec(), Vec::new()));
    }
    fields
}

/// The big stream. `g1` delivered up to entry 3000 and has 500 pending entries between
/// c1 and c2 (carol has none); `group:two` never counted what it read, and has 11 pending
/// entries plus one on an entry deleted since (Redis' `XCLAIM` leaves that one out: the
/// documented limit).
fn big_stream(delivered_at: u64) -> StreamSpec {
    let entries = (0..ENTRIES).map(|i| EntrySpec { id: entry_id(i), fields: entry_fields(i) }).collect();
    let pending = |i: usize, consumer: &str, k: u64| PendingSpec {
        id: entry_id(i),
        consumer: consumer.into(),
        delivery_ms: delivered_at - k * 997,
        delivery_count: 1 + k % 5,
    };
    let live = (2000..3000).step_by(2).filter(|i| !DELETED.contains(i));
    let g1_pending = live.enumerate().map(|(k, i)| pending(i, if k % 2 == 0 { "c1" } else { "c2" }, k as u64));
    let g1 = GroupSpec {
        name: b"g1".to_vec(),
        last_delivered: entry_id(3000),
        entries_read: 3001,
        consumers: vec![b"c1".to_vec(), b"c2".to_vec(), b"carol".to_vec()],
        pending: g1_pending.collect(),
    };
    let mut g2_pending: Vec<PendingSpec> =
        (0..=10).map(|i| pending(i, if i % 2 == 0 { "alice" } else { "bob" }, 3 + i as u64)).collect();
    g2_pending.push(pending(100, "bob", 1));
    let g2 = GroupSpec {
        name: b"group:two".to_vec(),
        last_delivered: entry_id(120),
        entries_read: -1,
        consumers: vec![b"alice".to_vec(), b"bob".to_vec()],
        pending: g2_pending,
    };
    StreamSpec { entries, deleted: DELETED.iter().map(|i| entry_id(*i)).collect(), groups: vec![g1, g2] }
}

/// A stream with no entry and many groups: its first command is an `XGROUP CREATE … MKSTREAM`.
fn groups_only() -> StreamSpec {
    let group = |i: usize| GroupSpec {
        name: format!("grp{i:04}").into_bytes(),
        last_delivered: (0, 0),
        entries_read: 0,
        ..GroupSpec::default()
    };
    StreamSpec { groups: (0..MANY_GROUPS).map(group).collect(), ..StreamSpec::default() }
}

#[test]
fn a_big_stream_with_groups_is_copied_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    let delivered_at = now_ms() - 3_600_000;
    let spec = big_stream(delivered_at);
    cp.stream(DEFAULT, "big:st", &spec, Expiry::At(FUTURE), Encoding::New);
    let many = groups_only();
    cp.stream(DEFAULT, "big:groups", &many, Expiry::None, Encoding::New);
    cp.string(DEFAULT, "z:after", "copied after the streams", Expiry::None, Encoding::New);
    let (files, sequence) = cp.finish().unwrap();
    let master = master(&cp, files, sequence);
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let daemon = daemon(&master, &target, state.path(), admin_port);
    wait_applied(admin_port, sequence, &daemon);
    let mut conn = target.conn();

    check_entries(&mut conn, &spec);
    let info: HashMap<String, Value> = query(&mut conn, &["XINFO", "STREAM", "big:st"]);
    let last = entry_id(ENTRIES - 1);
    assert_eq!(text(&info["length"]), (ENTRIES - DELETED.len()).to_string());
    assert_eq!(text(&info["last-generated-id"]), id(last));
    assert_eq!(text(&info["entries-added"]), ENTRIES.to_string());
    assert_eq!(text(&info["max-deleted-entry-id"]), id(last));
    assert_eq!(text(&info["groups"]), "2");
    let pexpiretime: i64 = query(&mut conn, &["PEXPIRETIME", "big:st"]);
    assert_eq!(pexpiretime, FUTURE as i64);

    let groups: Vec<HashMap<String, Value>> = query(&mut conn, &["XINFO", "GROUPS", "big:st"]);
    assert_eq!(groups.len(), 2);
    for (g, got) in spec.groups.iter().zip(&groups) {
        let name = String::from_utf8(g.name.clone()).unwrap();
        let pending: Vec<&PendingSpec> = g.pending.iter().filter(|p| !spec.deleted.contains(&p.id)).collect();
        assert_eq!(text(&got["name"]), name);
        assert_eq!(text(&got["last-delivered-id"]), id(g.last_delivered));
        let entries_read = if g.entries_read < 0 { "nil".to_owned() } else { g.entries_read.to_string() };
        assert_eq!(text(&got["entries-read"]), entries_read, "{name}");
        assert_eq!(text(&got["consumers"]), g.consumers.len().to_string(), "{name}");
        assert_eq!(text(&got["pending"]), pending.len().to_string(), "{name}");
        check_pending(&mut conn, &name, &pending);
        check_consumers(&mut conn, &name, g, &pending);
    }

    let info: HashMap<String, Value> = query(&mut conn, &["XINFO", "STREAM", "big:groups"]);
    assert_eq!((text(&info["length"]), text(&info["groups"])), ("0".to_owned(), MANY_GROUPS.to_string()));
    let groups: Vec<HashMap<String, Value>> = query(&mut conn, &["XINFO", "GROUPS", "big:groups"]);
    let mut names: Vec<String> = groups.iter().map(|g| text(&g["name"])).collect();
    names.sort();
    let want: Vec<String> = many.groups.iter().map(|g| String::from_utf8(g.name.clone()).unwrap()).collect();
    assert_eq!(names, want);
    assert!(groups.iter().all(|g| text(&g["entries-read"]) == "0" && text(&g["last-delivered-id"]) == "0-0"));
    let ttl: i64 = query(&mut conn, &["PTTL", "big:groups"]);
    assert_eq!(ttl, -1);
    let after: String = query(&mut conn, &["GET", "z:after"]);
    assert_eq!(after, "copied after the streams");
}

/// `XLEN` and every entry, read back with `XRANGE` in chunks.
fn check_entries(conn: &mut Connection, spec: &StreamSpec) {
    let want: Vec<(String, Vec<Vec<u8>>)> = spec
        .entries
        .iter()
        .filter(|e| !spec.deleted.contains(&e.id))
        .map(|e| (id(e.id), e.fields.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect()))
        .collect();
    let len: usize = query(conn, &["XLEN", "big:st"]);
    assert_eq!(len, want.len());
    let mut got: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let count = XRANGE_COUNT.to_string();
        let chunk: Vec<(String, Vec<Vec<u8>>)> = query(conn, &["XRANGE", "big:st", &start, "+", "COUNT", &count]);
        let done = chunk.len() < XRANGE_COUNT;
        if let Some((last, _)) = chunk.last() {
            start = format!("({last}");
        }
        got.extend(chunk);
        if done {
            break;
        }
    }
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
}

/// `XPENDING` of a group: each entry's id, owner, delivery count and idle time (from the
/// delivery time written).
fn check_pending(conn: &mut Connection, group: &str, pending: &[&PendingSpec]) {
    let before = now_ms();
    let got: Vec<(String, String, u64, u64)> = query(conn, &["XPENDING", "big:st", group, "-", "+", "100000"]);
    let after = now_ms();
    let mut want = pending.to_vec();
    want.sort_by_key(|p| p.id);
    assert_eq!(got.len(), want.len(), "{group}");
    for ((gid, consumer, idle, count), p) in got.iter().zip(&want) {
        assert_eq!(
            (gid.as_str(), consumer.as_bytes(), *count),
            (id(p.id).as_str(), &p.consumer[..], p.delivery_count),
            "{group}"
        );
        let idle_range = (before - p.delivery_ms).saturating_sub(1000)..=(after - p.delivery_ms) + 1000;
        assert!(idle_range.contains(idle), "{group} {gid}: idle {idle}, want {idle_range:?}");
    }
}

/// `XINFO CONSUMERS` of a group: every consumer with its number of pending entries.
fn check_consumers(conn: &mut Connection, group: &str, g: &GroupSpec, pending: &[&PendingSpec]) {
    let got: Vec<HashMap<String, Value>> = query(conn, &["XINFO", "CONSUMERS", "big:st", group]);
    let mut got: Vec<(String, String)> = got.iter().map(|c| (text(&c["name"]), text(&c["pending"]))).collect();
    got.sort();
    let mut want: Vec<(String, String)> = g
        .consumers
        .iter()
        .map(|c| {
            let mine = pending.iter().filter(|p| &p.consumer == c).count();
            (String::from_utf8(c.clone()).unwrap(), mine.to_string())
        })
        .collect();
    want.sort();
    assert_eq!(got, want, "{group}");
}

fn query<T: redis::FromRedisValue>(conn: &mut Connection, words: &[&str]) -> T {
    let mut cmd = redis::cmd(words[0]);
    for w in &words[1..] {
        cmd.arg(*w);
    }
    cmd.query(conn).unwrap_or_else(|e| panic!("{words:?}: {e}"))
}

/// A reply as text: integers and strings as they read, nil as `nil`.
fn text(value: &Value) -> String {
    match value {
        Value::Nil => "nil".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The mock master serving the checkpoint.
fn master(cp: &KvrocksCheckpoint, files: Vec<String>, sequence: u64) -> MockKvrocks {
    MockKvrocks::builder()
        .password("adminpass")
        .checkpoint_dir(cp.checkpoint_dir())
        .checkpoint_files(files)
        .sequence(sequence)
        .heartbeat(Duration::from_millis(200))
        .start()
}
