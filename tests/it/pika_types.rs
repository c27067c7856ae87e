//! Pika dumps written by the test itself with the RocksDB binding in Pika's layouts
//! (`replicant_testkit::pika_dump`), for what the capture of a real master does not hold:
//! every type, exact zset scores, expiries stored in ms and in seconds, expired keys, stale
//! versions, emptied collections, type changes, Codis slot keys, Pika HyperLogLogs and
//! collections big enough for the chunked copy. A 4.x dump (3 instances) is served by the
//! mock master (`MockPika::dump_dir`), copied by the daemon into a real Redis, then the
//! master's binlog is followed in Pika's own forms (every rule of `crates/pika/src/rewrite.rs`:
//! `pksetexat` without TTL, in seconds, in ms and in the past, `expireat`/`pexpireat`,
//! `padding`/`dummy` fillers, Codis slot keys, MULTI/EXEC), through one cut link and one
//! SIGKILL and restart. Every key, value and expiry of the target is compared with a second
//! real Redis given the same data as Redis commands.
//!
//! Bad input: a chunk with a wrong snapshot UUID, a transfer cut short, a dump that does
//! not open, an item whose RESP does not decode, a malformed `pksetexat`, a PFMERGE result
//! (Pika's HyperLogLog registers) and an item whose 34-byte header is corrupt (another type,
//! a content length that disagrees with its bytes) must each be retried or stop the job
//! saying what and where, with nothing applied past the last good item; a master with
//! several databases and none named in the source URL is refused by name before anything
//! is copied.
//!
//! The 3.5 layout is read here with the daemon's reader
//! (`replicant_pika::dump::read_dump`) into a real Redis; `pika_v35` has it served by a mock
//! 3.5.x master and copied by the daemon. The helpers both use are in `pika_support`.
//!
//! Two tests cover bugs they found, now fixed: the copy of an idle master was not
//! committed nor checkpointed, and a wrong snapshot UUID stopped the job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use replicant_pika::dump::{read_dump, DumpFormat, DumpLayout};
use replicant_pika::link::pack;
use replicant_testkit::pika_dump::{Expiry, Generation, PikaDump};
use replicant_testkit::{snapshot, MockPika, RedisServer};

use crate::daemon::checkpoint_offset;
use crate::pika_support::{
    becomes, counted, differences, every_type, master, master_with, now_ms, push, push_all_tampered, raw, resp, same,
    v35_every_type, Both, Item, Run, INFO_POS,
};
use crate::process::{admin, caught_up, field, info, wait_for};

/// 2100-01-01 in ms: a far expiry for 4.x (which keeps ms).
const FAR: u64 = 4_102_444_800_000;

/// What only 4.x has: a name's type replaced (the old type's rows stay), and keys left out.
fn v4_only(b: &mut Both) {
    b.dump.zset(b"changed", &[(1.0, b"m")], Expiry::None);
    b.string(b"changed", b"now a string", Expiry::None);
    b.dump.hyperloglog(b"hll:pika", b"HYLL\x01registers");
    b.dump.set(b"_internal:slotkey:4migrate:12", &[b"k1"], Expiry::None);
}

/// The 4.x dump of every type in `dir`, finished, and the Redis holding what it copies to.
fn v4_dump(dir: &Path) -> (PathBuf, RedisServer) {
    let want = RedisServer::start();
    let dump = PikaDump::create(dir, Generation::V4 { instances: 3 }).unwrap();
    let mut b = Both { dump, want: want.conn(), v35: false };
    every_type(&mut b, FAR);
    v4_only(&mut b);
    b.dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    (b.dump.finish().unwrap(), want)
}

/// Every rewrite rule on the copied keys: plain commands, `pksetexat` in all its forms,
/// `expireat`/`pexpireat` (one in the past), fillers, Codis slot keys.
fn rewrites(now_ms: u64) -> Vec<Item> {
    let (secs, ms) = ((now_ms / 1000 + 3600).to_string(), (now_ms + 7_200_123).to_string());
    let (past_secs, past_ms) = ((now_ms / 1000 - 10).to_string(), (now_ms - 5_000).to_string());
    let (at_secs, at_ms) = ((now_ms / 1000 + 5_000).to_string(), (now_ms + 6_000_321).to_string());
    let secs_ms = format!("{secs}000");
    vec![
        same(&["set", "b:plain", "v"]),
        becomes(&["pksetexat", "b:nottl", "0", "v0"], &[&["SET", "b:nottl", "v0"]]),
        becomes(&["pksetexat", "b:secs", &secs, "v1"], &[&["SET", "b:secs", "v1", "PXAT", &secs_ms]]),
        becomes(&["pksetexat", "b:ms", &ms, "v2"], &[&["SET", "b:ms", "v2", "PXAT", &ms]]),
        becomes(&["pksetexat", "s", &past_secs, "gone"], &[&["DEL", "s"]]),
        becomes(&["pksetexat", "s:empty", &past_ms, "gone"], &[&["DEL", "s:empty"]]),
        becomes(&["pksetexat", "s:ms", "0", "kept, no ttl"], &[&["SET", "s:ms", "kept, no ttl"]]),
        same(&["expireat", "h", &at_secs]),
        same(&["pexpireat", "set", &at_ms]),
        same(&["expireat", "l:one", "1000"]),
        raw(b"*2\r\n$7\r\npadding\r\n$00005\r\n*****\r\n"),
        raw(b"*1\r\n$5\r\ndummy\r\n"),
        becomes(&["sadd", "_internal:slotkey:4migrate:12", "b:plain"], &[]),
        becomes(&["srem", "_internal:slottag:4migrate:3", "x"], &[]),
        same(&["hset", "h", "f2", "x"]),
        same(&["hdel", "h", "c"]),
        same(&["sadd", "set", "m9"]),
        same(&["srem", "set", "m1"]),
        same(&["zadd", "z", "0.1", "new", "1e300", "huge2"]),
        same(&["zrem", "z", "neg"]),
        same(&["lpush", "l", "first"]),
        same(&["rpush", "big:l", "tail"]),
        same(&["xadd", "st", "9-0", "f", "late"]),
        same(&["pfadd", "hll:new", "a", "b", "c"]),
        same(&["del", "big:set"]),
    ]
}

fn multi(words: &[&[&str]]) -> Vec<Item> {
    let inner = words.iter().map(|w| same(w));
    [Item { resp: resp(&["MULTI"]), want: Vec::new() }]
        .into_iter()
        .chain(inner)
        .chain([Item { resp: resp(&["EXEC"]), want: Vec::new() }])
        .collect()
}

#[test]
fn a_pika_4_dump_of_every_type_then_its_binlog_through_a_cut_and_a_kill() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, want) = v4_dump(&tmp.path().join("db0"));
    let master = master(&dir);
    let mut run = Run::start(&master);
    run.wait_same(&want);
    assert!(run.daemon.log().contains("The master is a Pika server"), "{}", run.daemon.log());

    let mut conn = want.conn();
    let mut items = rewrites(now_ms());
    items.extend(multi(&[&["set", "tx:a", "1"], &["incr", "tx:n"], &["rpush", "tx:l", "a", "b"]]));
    let first = push(&master, &mut conn, items);
    run.wait_applied(first.pos);
    run.wait_same(&want);

    // A cut: TrySync from where the link stopped.
    master.cut_replicas();
    let mut items = counted("cut");
    items.extend(multi(&[&["incr", "tx:n"], &["hset", "h", "tx", "1"]]));
    let second = push(&master, &mut conn, items);
    run.wait_applied(second.pos);
    let try_sync = format!("TrySync db0 {} from", first.pos);
    assert!(master.requests().iter().any(|r| r.starts_with(&try_sync)), "{:?}", master.requests());

    // SIGKILL right after writes were applied (the checkpoint may lag), writes while down,
    // a restart from the state directory, writes after it.
    wait_for("a checkpoint", Duration::from_secs(30), || checkpoint_offset(run.state.path()).is_some());
    let third = push(&master, &mut conn, counted("before-kill"));
    wait_for("the writes before the kill", Duration::from_secs(30), || {
        redis::cmd("GET").arg("ctr").query::<i64>(&mut run.target.conn()).ok() == Some(22)
    });
    run.daemon.kill();
    assert!(checkpoint_offset(run.state.path()).unwrap() <= pack(third.pos).unwrap());
    push(&master, &mut conn, counted("down"));
    run.restart(&master);
    let last = push(&master, &mut conn, counted("restarted"));
    run.wait_applied(last.pos);
    assert_eq!(differences(&want, &run.target), None);
    assert_eq!(master.dbsync_count(), 1, "a second full copy\n{}", run.daemon.log());
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
}

/// After the copy of an idle master's dump, the daemon must say it is caught up at the
/// dump's position and checkpoint it (a restart then goes on with TrySync).
/// (A bug this test found: the snapshot waited for the first binlog batch to be applied.)
#[test]
fn after_the_copy_of_an_idle_master_it_is_caught_up_and_checkpointed() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let master = master(&small_dump(&tmp.path().join("db0"), &want));
    let mut run = Run::start(&master);
    run.wait_same(&want);
    let packed = pack(INFO_POS).unwrap();
    let mut conn = admin(run.admin_port);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = info(&mut conn, "replication");
        let checkpoint = checkpoint_offset(run.state.path());
        if caught_up(&text) && field(&text, "applied_offset") == Some(packed.to_string()) && checkpoint == Some(packed)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "checkpoint {checkpoint:?}, not {packed}:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
    run.daemon.kill();
    run.restart(&master);
    run.wait_applied(push(&master, &mut want.conn(), counted("restarted")).pos);
    assert_eq!(master.dbsync_count(), 1, "a second full copy");
}

/// Reads a dump with the daemon's reader and applies its commands to `target`'s db 0.
fn load(dir: &Path, target: &RedisServer) {
    let mut conn = target.conn();
    let layout = DumpLayout::new(0, DumpFormat::detect(dir).unwrap());
    read_dump(dir, &layout, now_ms(), |piece| {
        for cmd in &piece.commands {
            let mut c = redis::cmd(std::str::from_utf8(&cmd[0]).unwrap());
            for a in &cmd[1..] {
                c.arg(a.as_slice());
            }
            c.exec(&mut conn).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(&cmd.concat())));
        }
        true
    })
    .unwrap();
}

/// The 3.5 dump read with the daemon's reader, without the transfer (`pika_v35` has the
/// mock serve it to the daemon).
#[test]
fn a_pika_35_dump_of_every_type_reads_as_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let b = v35_every_type(&tmp.path().join("db0"), &want);
    b.dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    let dir = b.dump.finish().unwrap();
    let target = RedisServer::start();
    load(&dir, &target);
    assert_eq!(differences(&want, &target), None);
}

/// A small 4.x dump: one string.
fn small_dump(dir: &Path, want: &RedisServer) -> PathBuf {
    let dump = PikaDump::create(dir, Generation::V4 { instances: 3 }).unwrap();
    let mut b = Both { dump, want: want.conn(), v35: false };
    b.string(b"from:dump", b"1", Expiry::None);
    b.dump.info(INFO_POS.filenum, INFO_POS.offset).unwrap();
    b.dump.finish().unwrap()
}

/// A chunk with another snapshot UUID (the master made a new dump, for another replica's
/// DBSync) ends that transfer and a new DBSync fetches the dump again, as Pika's replica
/// does; the copy completes. (A bug this test found: it stopped the job.)
#[test]
fn a_chunk_with_a_wrong_snapshot_uuid_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, want) = v4_dump(&tmp.path().join("db0"));
    let master = master_with(&dir, |b| b.corrupt_uuid_once());
    let run = Run::start(&master);
    run.wait_same(&want);
    assert!(master.log().contains("fault: chunk of"), "{}", master.log());
    assert_eq!(differences(&want, &run.target), None);
}

#[test]
fn a_transfer_cut_short_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, want) = v4_dump(&tmp.path().join("db0"));
    let master = master_with(&dir, |b| b.cut_transfer_after(30_000));
    let run = Run::start(&master);
    run.wait_same(&want);
    assert!(master.log().contains("fault: cut after"), "{}", master.log());
    assert_eq!(master.dbsync_count(), 2, "the copy is taken again from a new DBSync");
    let items = push(&master, &mut want.conn(), counted("after"));
    run.wait_applied(items.pos);
    assert_eq!(differences(&want, &run.target), None);
}

#[test]
fn a_dump_that_does_not_open_stops_the_job_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db0");
    for instance in ["0", "1", "2"] {
        std::fs::create_dir_all(dir.join(instance)).unwrap();
        std::fs::write(dir.join(instance).join("CURRENT"), "MANIFEST-000001\n").unwrap();
        std::fs::write(dir.join(instance).join("MANIFEST-000001"), "not a manifest").unwrap();
        std::fs::write(dir.join(instance).join("000002.sst"), vec![0xa5; 5000]).unwrap();
    }
    std::fs::write(dir.join("info"), format!("0s\n127.0.0.1\n19421\n{}\n{}\n", INFO_POS.filenum, INFO_POS.offset))
        .unwrap();
    let master = master(&dir);
    let run = Run::start(&master);
    let error = run.wait_failed();
    assert!(error.contains("Pika dump") && error.contains("pika-dump-"), "{error}");
    assert_eq!(snapshot(&mut run.target.conn()).len(), 0, "a key of a dump that does not open");
}

/// Pushes good items (applied), then good items, `bad` and a later one in one batch: the
/// job stops naming the database and `bad`'s position, everything before it applied,
/// nothing after.
fn stops_at(bad: Item, why: &str) {
    stops_at_tampered(bad, |_| {}, why);
}

/// As [`stops_at`], with `bad`'s encoding (34-byte header and content) changed by `tamper`
/// before the master writes it.
fn stops_at_tampered(bad: Item, tamper: impl Fn(&mut Vec<u8>), why: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let master = master(&small_dump(&tmp.path().join("db0"), &want));
    let run = Run::start(&master);
    run.wait_same(&want);
    let mut conn = want.conn();
    let good = push(&master, &mut conn, vec![same(&["set", "good:1", "1"]), same(&["rpush", "good:l", "a"])]);
    run.wait_applied(good.pos);
    let later = Item { resp: resp(&["set", "later", "x"]), want: Vec::new() };
    let batch = vec![same(&["set", "good:2", "2"]), same(&["rpush", "good:l", "b"]), bad, later];
    let bad_end = push_all_tampered(&master, &mut conn, batch, |index, item| {
        if index == 2 {
            tamper(item);
        }
    })[2];
    let error = run.wait_failed();
    let at = format!("db0 at the item ending at {}", bad_end.pos);
    assert!(error.contains(&at) && error.contains(why), "{error}\nexpected {at:?} and {why:?}");
    assert_eq!(differences(&want, &run.target), None);
}

#[test]
fn an_item_whose_resp_does_not_decode_stops_at_its_position() {
    stops_at(raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk"), "not a RESP command");
}

#[test]
fn a_malformed_pksetexat_stops_at_its_position() {
    stops_at(raw(&resp(&["pksetexat", "k", "soon", "v"])), "time is not an integer");
}

#[test]
fn a_pfmerge_result_stops_naming_the_key() {
    let mut registers = vec![0u8; 1 << 17];
    registers[7] = 3;
    let mut content = b"*3\r\n$3\r\nset\r\n$8\r\nhll:dest\r\n$131072\r\n".to_vec();
    content.extend_from_slice(&registers);
    content.extend_from_slice(b"\r\n");
    stops_at(raw(&content), "hll:dest");
}

/// `set bad x` (29 bytes of RESP), which must not be applied.
fn not_applied() -> Item {
    Item { resp: resp(&["set", "bad", "x"]), want: Vec::new() }
}

#[test]
fn an_item_header_of_another_type_stops_at_its_position() {
    stops_at_tampered(not_applied(), |item| item[0] = 2, "binlog item type 2 at byte 0, expected 1 (TypeFirst)");
}

#[test]
fn an_item_header_whose_content_length_disagrees_stops_at_its_position() {
    stops_at_tampered(
        not_applied(),
        |item| item[30..34].copy_from_slice(&30u32.to_le_bytes()),
        "content length 30 at byte 30 does not match the 29 bytes after the header",
    );
}

/// A master with two databases and a source URL that names none is refused, naming the
/// count and the databases, before anything is fetched or streamed (each database is
/// followed by its own replicant: `pika_dbs`).
#[test]
fn a_master_with_two_databases_and_none_named_is_refused_naming_the_count() {
    let tmp = tempfile::tempdir().unwrap();
    let want = RedisServer::start();
    let dump = small_dump(&tmp.path().join("db0"), &want);
    let master = MockPika::builder().databases(2).dump_dir_for("db0", &dump).dump_dir_for("db1", &dump).start();
    let run = Run::start(&master);
    let error = run.wait_failed();
    assert!(error.contains("has 2 databases (db0, db1)"), "{error}");
    let requests = master.requests();
    assert!(requests.iter().any(|r| r.starts_with("MetaSync")), "{requests:?}");
    let fetched_or_streamed =
        ["DBSync", "TrySync", "Rsync"].iter().any(|kind| requests.iter().any(|r| r.starts_with(kind)));
    assert!(!fetched_or_streamed, "{requests:?}");
    assert_eq!(snapshot(&mut run.target.conn()).len(), 0);
}
