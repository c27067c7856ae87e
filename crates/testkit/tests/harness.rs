//! End-to-end checks of the testkit against a real redis-server.
//!
//! Needs `redis-server` on PATH (or `REPLICANT_REDIS_SERVER`); missing it
//! is a test failure, never a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::panic::{catch_unwind, UnwindSafe};
use std::time::Duration;

use replicant_testkit::fill::{fill_everything, fill_hash_field_ttls, fill_mixed, fill_strings};
use replicant_testkit::{assert_same, snapshot, wait_until_same, Data, RedisServer, Snapshot};

fn panic_message(f: impl FnOnce() + UnwindSafe) -> String {
    let payload = catch_unwind(f).expect_err("expected a panic");
    if let Some(text) = payload.downcast_ref::<String>() {
        return text.clone();
    }
    payload.downcast_ref::<&str>().map(ToString::to_string).unwrap_or_default()
}

fn filled_source() -> (RedisServer, Snapshot) {
    let source = RedisServer::start();
    fill_everything(&mut source.conn());
    let snap = snapshot(&mut source.conn());
    (source, snap)
}

#[test]
fn everything_snapshot_is_complete_and_stable() {
    let (source, snap) = filled_source();
    let empty = RedisServer::start();
    assert!(snap.len() > 50, "{snap:?}");
    for db in [0, 1, 5, 15] {
        assert!(snap.keys_in_db(db) > 0, "db {db} empty: {snap:?}");
    }
    assert_eq!(snap.keys_in_db(2), 0);
    assert_same(&snap, &snapshot(&mut source.conn()));
    assert_eq!(snap, snapshot(&mut source.conn()));

    let empty_snap = snapshot(&mut empty.conn());
    assert!(empty_snap.is_empty());
    let report = panic_message(|| assert_same(&snap, &empty_snap));
    assert!(report.contains("missing in target"), "{report}");
    assert!(report.contains(&format!("source has {} keys, target has 0 keys", snap.len())), "{report}");
    assert!(report.lines().count() < 30, "report not bounded:\n{report}");
}

#[test]
fn everything_covers_types_and_encodings() {
    let (source, snap) = filled_source();
    let entry = |key: &str| snap.get(0, key.as_bytes()).unwrap_or_else(|| panic!("no {key}"));
    assert_eq!(entry("str:binary").data, Data::String(b"a\r\nb\0c\xff\xfe\x80\r\n\0"[..].into()));
    assert!(snap.get(0, b"key:\0\r\n\xff binary name").is_some());
    assert!(matches!(&entry("list:large").data, Data::List(items) if items.len() == 20_000));
    assert!(entry("ttl:ms").expire_at_ms > 0);
    assert_eq!(entry("str:short").expire_at_ms, -1);
    assert_eq!(source.cli(&["OBJECT", "ENCODING", "set:int64"]), "intset");
    assert_eq!(source.cli(&["OBJECT", "ENCODING", "zset:large"]), "skiplist");
    assert_eq!(source.cli(&["OBJECT", "ENCODING", "hash:large"]), "hashtable");
    assert!(snap.get(0, b"list:plain").is_some(), "DEBUG should be enabled");
    assert!(source.cli(&["FUNCTION", "LIST"]).contains("mylib"));

    let Data::Stream(stream) = &entry("stream:big").data else { panic!("stream:big not a stream") };
    assert_eq!(stream.entries.len() as i64, stream.length);
    assert_eq!(stream.groups.len(), 2);
    let g1 = &stream.groups[0];
    assert_eq!(g1.consumers.len(), 3, "{g1:?}");
    assert_eq!(g1.pel.len(), 110, "100 + 50 delivered, 40 acked");
    assert!(g1.pel.iter().any(|p| p.delivery_count == 3));
    let Data::Stream(emptied) = &entry("stream:emptied").data else { panic!("not a stream") };
    assert_eq!((emptied.length, emptied.groups.len()), (0, 1));
}

#[test]
fn snapshot_survives_rdb_reload_and_replication() {
    let (source, snap) = filled_source();
    source.cli(&["DEBUG", "RELOAD"]);
    assert_same(&snap, &snapshot(&mut source.conn()));

    let port = source.port().to_string();
    let replica = RedisServer::builder().args(["--replicaof", "127.0.0.1", &port]).start();
    wait_until_same(&snap, &mut replica.conn(), Duration::from_secs(20));
    source.cli(&["WAIT", "1", "10000"]);
    assert_same(&snap, &snapshot(&mut replica.conn()));
}

#[test]
fn diff_names_what_differs() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    for cmd in [&["SET", "same", "1"][..], &["SET", "changed", "abc"], &["SET", "retyped", "x"], &["SET", "ttl", "x"]] {
        redis::cmd(cmd[0]).arg(&cmd[1..]).exec(&mut conn).unwrap();
    }
    let before = snapshot(&mut conn);
    redis::cmd("SET").arg("changed").arg("abd").exec(&mut conn).unwrap();
    redis::cmd("DEL").arg("retyped").exec(&mut conn).unwrap();
    redis::cmd("RPUSH").arg("retyped").arg("x").exec(&mut conn).unwrap();
    redis::cmd("PEXPIRE").arg("ttl").arg(100_000).exec(&mut conn).unwrap();
    redis::cmd("SET").arg(&b"new\r\n"[..]).arg("x").exec(&mut conn).unwrap();
    let after = snapshot(&mut conn);
    let report = panic_message(|| assert_same(&before, &after));
    assert!(report.contains("4 keys differ"), "{report}");
    assert!(report.contains("first difference at byte 2"), "{report}");
    assert!(report.contains("type string vs list"), "{report}");
    assert!(report.contains("ttl (expire at ms) -1 vs"), "{report}");
    assert!(report.contains(r#""new\r\n": extra in target"#), "{report}");
}

#[test]
fn diff_explains_streams() {
    let server = RedisServer::start();
    let run = |args: &[&str]| server.cli(args);
    run(&["XADD", "s", "1-1", "f", "v"]);
    run(&["XADD", "s", "1-2", "f", "v"]);
    run(&["XGROUP", "CREATE", "s", "g", "0"]);
    let before = snapshot(&mut server.conn());
    run(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">"]);
    let after = snapshot(&mut server.conn());
    let report = panic_message(|| assert_same(&before, &after));
    assert!(report.contains(r#"group b"g": last-delivered-id 0-0 vs 1-1"#), "{report}");
    assert!(report.contains("pel 0 vs 1 elements"), "{report}");
}

#[test]
fn bulk_fills_and_field_ttls() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    fill_strings(&mut conn, 700, 64);
    fill_mixed(&mut conn, 1200);
    let snap = snapshot(&mut conn);
    assert_eq!(snap.len(), 1900);
    let with_ttl = snap.iter().filter(|(_, _, e)| e.expire_at_ms > 0).count();
    assert_eq!(with_ttl, 120);

    let filled = fill_hash_field_ttls(&mut conn);
    let snap = snapshot(&mut conn);
    match snap.get(0, b"hfe:large").map(|e| &e.data) {
        Some(Data::Hash(fields)) => {
            assert!(fields.iter().filter(|f| f.expire_at_ms > 0).count() == 100)
        }
        None => assert!(!filled, "fill_hash_field_ttls said true but wrote nothing"),
        Some(other) => panic!("hfe:large is {other:?}"),
    }
}

#[test]
fn save_writes_an_rdb_file() {
    let server = RedisServer::start();
    fill_mixed(&mut server.conn(), 100);
    let path = server.save();
    assert_eq!(path, server.rdb_path());
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"REDIS"), "not an RDB: {:?}", &bytes[..bytes.len().min(16)]);
}

#[test]
fn server_basics() {
    let server = RedisServer::start();
    assert_eq!(server.cli(&["PING"]), "PONG");
    assert_eq!(server.addr(), format!("127.0.0.1:{}", server.port()));
    assert_eq!(server.url(), format!("redis://{}", server.addr()));
    assert!(server.version() >= (7, 0, 0), "{:?}", server.version());
    assert!(server.log().contains("Ready to accept connections"), "{}", server.log());
    assert!(server.dir().is_dir());
}

#[test]
fn extra_args_reach_the_server() {
    let server = RedisServer::builder().arg("--repl-diskless-sync", "no").arg("--databases", "4").start();
    assert_eq!(server.cli(&["CONFIG", "GET", "repl-diskless-sync"]), "repl-diskless-sync\nno");
    assert_eq!(server.cli(&["CONFIG", "GET", "databases"]), "databases\n4");
}

#[test]
fn missing_binary_fails_loudly() {
    let message = panic_message(|| drop(RedisServer::builder().binary("/nonexistent/redis-server").start()));
    assert!(message.contains("cannot run redis server binary"), "{message}");
}

#[test]
fn bad_config_fails_with_log() {
    let message = panic_message(|| drop(RedisServer::builder().arg("--no-such-option", "1").start()));
    assert!(message.contains("failed to start"), "{message}");
    assert!(message.contains("no-such-option"), "{message}");
}

#[test]
fn panicking_with_a_live_server_does_not_abort() {
    let message = panic_message(|| {
        let _server = RedisServer::start();
        panic!("deliberate");
    });
    assert_eq!(message, "deliberate");
}
