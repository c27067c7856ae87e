//! A Pika master followed by the daemon: the mock master replays what a real Pika 4.0.1
//! served its replica (`../shared/pika/v4.0.1`, read in place): MetaSync, DBSync, the dump
//! over RsyncService, then the binlog. The target ends as the master did
//! (`expected-final.json`, keys whose absolute expiry has passed since the capture
//! excepted), the mock finds every ACK where the real master expects it, a cut link goes
//! on with TrySync from where it stopped, a SIGKILL and restart continues from the
//! checkpoint without a second full copy and without applying anything twice, and a
//! position the master purged stops the job saying what to do.

use std::time::{Duration, Instant};

use replicant_testkit::pika_master::capture::pika_capture;
use replicant_testkit::{free_port, MockPika, RedisServer};
use serde_json::Value;

use crate::daemon::checkpoint_offset;
use crate::pika_support::follow;
use crate::process::{admin, field, info, wait_for, Daemon};

const CASE: &str = "v4.0.1";

fn expected() -> serde_json::Map<String, Value> {
    let path = pika_capture(CASE).join("expected-final.json");
    serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()).unwrap().as_object().unwrap().clone()
}

/// When the capture's final dataset was read: its last connection's start plus its 5 s
/// of idle keepalives, give or take.
fn captured_at_ms() -> i64 {
    let index: Value =
        serde_json::from_slice(&std::fs::read(pika_capture(CASE).join("streams/index.json")).unwrap()).unwrap();
    let last = index.as_array().unwrap().iter().map(|c| c["start_time"].as_f64().unwrap()).fold(0.0, f64::max);
    ((last + 5.0) * 1000.0) as i64
}

fn bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Object(o) => {
            let hex = o["hex"].as_str().unwrap();
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
        }
        other => panic!("not a value: {other}"),
    }
}

/// What differs between the target and the capture's final dataset; keys that expired
/// since the capture must be gone, and expiries must be the same instants (within 60 s:
/// the capture's TTLs are relative to a moment known to a few seconds; a unit mistake
/// would be off by hours).
///
/// `s:num` got `PEXPIRE s:num 600000` then `PERSIST s:num` in the capture's stream: once
/// that expiry's instant has passed, replaying the stream deletes the key at the
/// `PEXPIREAT` and the `PERSIST` finds nothing (docs/pika.md, "Limits": an expiry replayed
/// after its instant), so it is expected gone then.
fn differences(conn: &mut redis::Connection) -> Vec<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let at = captured_at_ms();
    let mut out = Vec::new();
    for (key, want) in expected() {
        let mut pttl = want["pttl"].as_i64().unwrap();
        if key == "s:num" {
            pttl = 1_796_661_214_106 - at; // the capture's `pexpireat s:num 1796661214106`
        }
        let kind: String = redis::cmd("TYPE").arg(&key).query(conn).unwrap();
        if pttl >= 0 && at + pttl < now - 60_000 {
            if kind != "none" {
                out.push(format!("{key}: expired at {} but present", at + pttl));
            }
            continue;
        }
        if kind != want["type"].as_str().unwrap() {
            out.push(format!("{key}: type {kind}, expected {}", want["type"]));
            continue;
        }
        if !same_value(conn, &key, &kind, &want["value"]) {
            out.push(format!("{key}: value differs"));
        }
        let expire: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(conn).unwrap();
        let ok = if pttl < 0 { expire == -1 } else { (expire - (at + pttl)).abs() < 60_000 };
        if !ok {
            out.push(format!("{key}: expires at {expire}, expected {}", if pttl < 0 { -1 } else { at + pttl }));
        }
    }
    out
}

fn same_value(conn: &mut redis::Connection, key: &str, kind: &str, want: &Value) -> bool {
    let list = |v: &Value| v.as_array().unwrap().iter().map(bytes).collect::<Vec<_>>();
    match kind {
        "string" => redis::cmd("GET").arg(key).query::<Vec<u8>>(conn).unwrap() == bytes(want),
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query::<Vec<Vec<u8>>>(conn).unwrap() == list(want),
        "set" => {
            let mut got: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(conn).unwrap();
            let mut want = list(want);
            got.sort();
            want.sort();
            got == want
        }
        "hash" => {
            let mut got: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(conn).unwrap();
            let mut want: Vec<_> = want.as_array().unwrap().iter().map(|p| (bytes(&p[0]), bytes(&p[1]))).collect();
            got.sort();
            want.sort();
            got == want
        }
        "zset" => {
            let got: Vec<(Vec<u8>, f64)> =
                redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES").query(conn).unwrap();
            let want: Vec<_> =
                want.as_array().unwrap().iter().map(|p| (bytes(&p[0]), p[1].as_f64().unwrap())).collect();
            got == want
        }
        _ => false,
    }
}

fn wait_final(target: &RedisServer, daemon: &Daemon, master: &MockPika) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let diff = differences(&mut target.conn());
        if diff.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{diff:?}\n--- replicant ---\n{}\n--- mock ---\n{}",
            daemon.log(),
            master.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(target: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(&mut target.conn()).unwrap()
}

#[test]
fn a_pika_master_is_copied_from_its_dump_then_followed_through_a_cut_and_a_kill() {
    let master = MockPika::from_capture(CASE).keepalive(Duration::from_millis(500)).start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let mut daemon = follow(&master, &target, state.path(), admin_port);
    wait_final(&target, &daemon, &master);
    assert!(daemon.log().contains("The master is a Pika server"), "{}", daemon.log());
    assert_eq!(master.dbsync_count(), 1);

    // A cut: TrySync from where the link stopped, no second copy.
    master.cut_replicas();
    master.push_items("db0", [["SET", "after:cut", "1"]]);
    wait_for("the write after the cut", Duration::from_secs(30), || get(&target, "after:cut").is_some());
    master.push_items("db0", [["INCR", "counter"]]);
    wait_for("INCR applied", Duration::from_secs(30), || get(&target, "counter").as_deref() == Some("1"));
    let end = master.binlog_end("db0");
    let packed = u64::from(end.pos.filenum) << 40 | end.pos.offset;
    wait_for("the checkpoint", Duration::from_secs(30), || checkpoint_offset(state.path()) == Some(packed));

    // SIGKILL, restart: the INCR after it counts once, the one before is not applied again.
    daemon.kill();
    daemon = follow(&master, &target, state.path(), admin_port);
    master.push_items("db0", [["INCR", "counter"]]);
    wait_for("INCR after the restart", Duration::from_secs(30), || get(&target, "counter").as_deref() == Some("2"));
    assert_eq!(master.dbsync_count(), 1, "a second full copy\n{}", daemon.log());
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
    wait_for("a keepalive answered", Duration::from_secs(30), || !master.keepalive_answers().is_empty());
    assert!(differences(&mut target.conn()).is_empty());
}

#[test]
fn a_position_the_pika_master_purged_stops_the_job_saying_what_to_do() {
    let master = MockPika::from_capture(CASE).start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let mut daemon = follow(&master, &target, state.path(), admin_port);
    wait_final(&target, &daemon, &master);
    let end = master.binlog_end("db0");
    let packed = u64::from(end.pos.filenum) << 40 | end.pos.offset;
    wait_for("the checkpoint", Duration::from_secs(30), || checkpoint_offset(state.path()) == Some(packed));
    daemon.kill();
    let ends = master.push_items("db0", [["SET", "x", "1"], ["SET", "y", "2"]]);
    master.purge_before("db0", ends[1].pos);
    let _daemon = follow(&master, &target, state.path(), admin_port);
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("expire-logs-nums"), "{error}");
    assert_eq!(master.dbsync_count(), 1, "a second full copy was taken silently");
}
