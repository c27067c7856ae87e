//! A Pika 3.5.x master followed by the daemon. The test writes a dump in 3.5's layout with
//! the RocksDB binding (`replicant_testkit::pika_dump`: one RocksDB per type, names live as
//! several types at once, expiries in whole seconds, expired and emptied keys, stale rows,
//! big collections), the mock master plays a 3.5.5 master serving it (its RsyncService
//! lists `strings/`, `hashes/`, `lists/`, `zsets/`, `sets/` and `info`, never `streams/`;
//! its MetaSync has no `db_instance_num`), and the daemon copies it into a real Redis, then
//! follows binlog items in the forms 3.5.5 writes (`pksetexat` in seconds, with 0 for no
//! TTL, for SET EX, SETEX, INCR, APPEND…; `expireat` in seconds for EXPIRE and PEXPIRE;
//! fillers) through one cut link. Every key, value and expiry of the target is compared
//! with a reference Redis given the same data as Redis commands.

use replicant_testkit::RedisServer;

use crate::pika_support::{
    args, becomes, differences, master_with, now_ms, push, raw, same, v35_every_type, Item, Run, FAR35, INFO_POS,
};

/// What 3.5.5 writes for writes on the copied keys (`ToRedisProtocol` of `src/pika_kv.cc`
/// and the collection commands as they are), and what each must end as in Redis.
fn binlog_35(now_ms: u64) -> Vec<Item> {
    let in_an_hour = (now_ms / 1000 + 3600).to_string();
    let in_an_hour_ms = format!("{in_an_hour}000");
    let s_secs_expiry = (FAR35 / 1000 + 7).to_string();
    let s_secs_expiry_ms = format!("{s_secs_expiry}000");
    let later = (now_ms / 1000 + 5000).to_string();
    vec![
        // INCR of a new key: its value, no TTL.
        becomes(&["pksetexat", "ctr", "0", "1"], &[&["SET", "ctr", "1"]]),
        // SETEX: the instant in seconds.
        becomes(&["pksetexat", "b:setex", &in_an_hour, "v"], &[&["SET", "b:setex", "v", "PXAT", &in_an_hour_ms]]),
        // APPEND of a key with an expiry: the new value and the expiry it keeps.
        becomes(
            &["pksetexat", "s:secs", &s_secs_expiry, "oldx"],
            &[&["SET", "s:secs", "oldx", "PXAT", &s_secs_expiry_ms]],
        ),
        // PEXPIRE, written as EXPIREAT in seconds; one in the past deletes.
        same(&["expireat", "h", &later]),
        same(&["expireat", "l:one", "1000"]),
        raw(b"*2\r\n$7\r\npadding\r\n$00005\r\n*****\r\n"),
        same(&["hset", "h", "f2", "x"]),
        same(&["sadd", "set", "m9"]),
        same(&["zadd", "z", "0.1", "new", "1e300", "huge2"]),
        same(&["rpush", "l", "tail"]),
        same(&["lpush", "big:l", "first"]),
        // A name of several types in 3.5, only its string in Redis: DEL removes it.
        same(&["del", "dup"]),
        // The last member of a set that shadowed an expired hash.
        same(&["srem", "dup2", "live"]),
    ]
}

#[test]
fn a_pika_35_dump_of_every_type_then_its_binlog_through_a_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let mut b = v35_every_type(&tmp.path().join("db0"), &want);
    // 3.5's full sync sends no `streams/` (docs/pika.md, "Limits"): the dump's stream is not
    // copied.
    b.run(args(&[b"DEL", b"st"]));
    b.dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    let dir = b.dump.finish().unwrap();
    assert!(dir.join("streams").is_dir(), "the dump holds a stream");

    let master = master_with(&dir, |m| m.version("3.5.5"));
    let run = Run::start(&master);
    run.wait_same(&want);
    assert!(run.daemon.log().contains("The master is a Pika server"), "{}", run.daemon.log());
    let requests = master.requests();
    for sub in ["strings", "hashes", "lists", "zsets", "sets"] {
        let fetched = format!(" {sub}/CURRENT offset 0");
        assert!(requests.iter().any(|r| r.starts_with("RsyncFile db0") && r.contains(&fetched)), "{requests:?}");
    }
    assert!(!requests.iter().any(|r| r.contains(" streams/")), "{requests:?}");

    let mut conn = want.conn();
    let first = push(&master, &mut conn, binlog_35(now_ms()));
    run.wait_applied(first.pos);
    assert_eq!(differences(&want, &run.target), None);

    // A cut: TrySync from where the link stopped.
    master.cut_replicas();
    let in_a_day = (now_ms() / 1000 + 86_400).to_string();
    let items = vec![
        becomes(&["pksetexat", "ctr", "0", "2"], &[&["SET", "ctr", "2"]]),
        same(&["hdel", "h", "c"]),
        same(&["expireat", "set", &in_a_day]),
    ];
    let second = push(&master, &mut conn, items);
    run.wait_applied(second.pos);
    let try_sync = format!("TrySync db0 {} from", first.pos);
    assert!(master.requests().iter().any(|r| r.starts_with(&try_sync)), "{:?}", master.requests());
    assert_eq!(differences(&want, &run.target), None);
    assert_eq!(master.dbsync_count(), 1, "a second full copy\n{}", run.daemon.log());
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
}
