//! A Kvrocks master followed by the daemon: the mock master replays the bytes a real Kvrocks
//! 2.10.1 sent its replica (`../shared/kvrocks/v2.10.1-types`, read in place). The daemon
//! tells it from a Redis master by its `INFO`, continues a checkpoint at sequence 98 with
//! `PSYNC 99`, and writes the stream's strings, hashes, deletes and expiries into a real
//! Redis, which ends as the master did (`expected-final.json`); a cut link goes on with
//! `PSYNC <next>`, and a sequence the master's WAL no longer holds stops the job saying so.

use std::time::Duration;

use replicant_testkit::kvrocks_master::capture::stream_batches;
use replicant_testkit::kvrocks_master::kvrocks_capture;
use replicant_testkit::{free_port, MockKvrocks, RedisServer};
use serde_json::Value;

use crate::process::{admin, field, info, wait_for, Daemon};

const CASE: &str = "v2.10.1-types";
/// The first batches of the capture's stream: strings, hashes, `DEL`, `EXPIRE`,
/// `PEXPIREAT`, `PERSIST` (the commands 0 to 13 of its `stream.jsonl`).
const SIMPLE_BATCHES: usize = 14;
/// Keys those batches write, and keys of the snapshot they change, that no later command of
/// the capture changes (`s:new` is renamed later: checked on its own).
const TOUCHED: [&str; 9] = ["s:ex", "counter", "fl", "str1", "h1", "str2", "str3", "str_exp0", "h2"];

/// The key objects of the default namespace in one of the case's expected datasets.
fn expected(file: &str) -> Vec<Value> {
    let path = kvrocks_capture(CASE).join(file);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_slice(&text).unwrap();
    json["namespaces"]["default"]["keys"].as_array().unwrap().clone()
}

fn find<'a>(keys: &'a [Value], name: &str) -> Option<&'a Value> {
    keys.iter().find(|k| k["key"] == name)
}

/// Writes the snapshot's value of `name` (a string or a hash) with its expiry.
fn preload(conn: &mut redis::Connection, snapshot: &[Value], name: &str) {
    let Some(key) = find(snapshot, name) else { return };
    match key["type"].as_str().unwrap() {
        "string" => redis::cmd("SET").arg(name).arg(key["value"]["get"].as_str().unwrap()).exec(conn).unwrap(),
        "hash" => {
            for pair in key["value"]["hgetall"].as_array().unwrap() {
                let (f, v) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
                redis::cmd("HSET").arg(name).arg(f).arg(v).exec(conn).unwrap();
            }
        }
        other => panic!("{name}: preloading {other} is not needed here"),
    }
    let at = key["pexpiretime"].as_i64().unwrap();
    if at > 0 {
        redis::cmd("PEXPIREAT").arg(name).arg(at).exec(conn).unwrap();
    }
}

/// What the target holds for `name`, in the form of the expected JSON: type, value, expiry.
fn actual(conn: &mut redis::Connection, name: &str) -> Option<(String, Value, i64)> {
    let kind: String = redis::cmd("TYPE").arg(name).query(conn).unwrap();
    let value = match kind.as_str() {
        "none" => return None,
        "string" => serde_json::json!({ "get": redis::cmd("GET").arg(name).query::<String>(conn).unwrap() }),
        "hash" => {
            let mut pairs: Vec<(String, String)> = redis::cmd("HGETALL").arg(name).query(conn).unwrap();
            pairs.sort();
            serde_json::json!({ "hgetall": pairs })
        }
        other => panic!("{name}: unexpected type {other}"),
    };
    let at: i64 = redis::cmd("PEXPIRETIME").arg(name).query(conn).unwrap();
    Some((kind, value, at))
}

/// Whether every touched key on the target is as `expected-final.json` has it.
fn target_is_final(conn: &mut redis::Connection, fin: &[Value]) -> Result<(), String> {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    for name in TOUCHED {
        let want = find(fin, name)
            .map(|k| (k["type"].as_str().unwrap().to_string(), k["value"].clone(), k["pexpiretime"].as_i64().unwrap()))
            // `s:ex` was set with EX 100000 at capture time: once that time has passed, it is gone.
            .filter(|(_, _, at)| *at <= 0 || *at > now_ms);
        let got = actual(conn, name);
        if got != want {
            return Err(format!("{name}: target has {got:?}, Kvrocks had {want:?}"));
        }
    }
    Ok(())
}

/// A target holding the snapshot's values of the keys the stream changes, a state directory
/// whose checkpoint says the target holds the master's data up to sequence 98, and the daemon.
fn resume_at(master: &MockKvrocks, offset: u64) -> (RedisServer, tempfile::TempDir, Daemon, u16) {
    let target = RedisServer::start();
    let snapshot = expected("expected-snapshot.json");
    for name in TOUCHED {
        preload(&mut target.conn(), &snapshot, name);
    }
    let state = tempfile::tempdir().unwrap();
    let checkpoint = serde_json::json!({
        "state": "streaming", "version": 1, "source": master.addr(), "target": target.addr(),
        "replid": "6b76726f636b7300000000000000000000000000", "offset": offset, "db": 0,
    });
    std::fs::write(state.path().join("checkpoint.json"), checkpoint.to_string()).unwrap();
    let admin_port = free_port();
    let (src, dst) = (format!("redis://:adminpass@{}", master.addr()), target.url());
    let admin_addr = format!("127.0.0.1:{admin_port}");
    let daemon = Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--state-dir",
        state.path().to_str().unwrap(),
        "--admin",
        &admin_addr,
        "--progress",
        "never",
    ]);
    (target, state, daemon, admin_port)
}

/// Waits until the touched keys are as Kvrocks had them; on a timeout, says which differs.
fn wait_final(target: &RedisServer, daemon: &Daemon) {
    let fin = expected("expected-final.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match target_is_final(&mut target.conn(), &fin) {
            Ok(()) => {
                // SET s:new hello, SETRANGE s:new 2 XY, APPEND s:new !!
                let value: Option<String> = redis::cmd("GET").arg("s:new").query(&mut target.conn()).unwrap();
                assert_eq!(value.as_deref(), Some("heXYo!!"));
                return;
            }
            Err(e) if std::time::Instant::now() > deadline => panic!("{e}\n--- replicant log ---\n{}", daemon.log()),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn mock_with(batches: Vec<Vec<u8>>) -> MockKvrocks {
    MockKvrocks::from_capture(CASE).batches(batches).heartbeat(Duration::from_millis(200)).start()
}

#[test]
fn a_kvrocks_checkpoint_continues_with_psync_by_sequence_into_redis() {
    let batches = stream_batches(&kvrocks_capture(CASE));
    let master = mock_with(batches[..SIMPLE_BATCHES].to_vec());
    let (target, _state, daemon, admin_port) = resume_at(&master, 98);
    wait_final(&target, &daemon);
    let text = info(&mut admin(admin_port), "replication");
    assert_eq!(field(&text, "phase").as_deref(), Some("streaming"), "{text}\n{}", daemon.log());
    assert!(master.requests().iter().any(|r| r == "PSYNC 99"), "{:?}", master.requests());
    assert_eq!(master.fetch_count(), 0, "a full copy was taken instead of a resume");
    assert!(daemon.log().contains("The master is a Kvrocks server"), "{}", daemon.log());
}

#[test]
fn a_cut_link_to_kvrocks_goes_on_with_psync_from_the_next_sequence() {
    let batches = stream_batches(&kvrocks_capture(CASE));
    let master = mock_with(batches[..7].to_vec());
    let (target, _state, daemon, _admin_port) = resume_at(&master, 98);
    wait_for("str1 deleted (the 7th batch applied)", Duration::from_secs(30), || {
        actual(&mut target.conn(), "str1").is_none()
    });
    master.cut_replicas();
    for batch in &batches[7..SIMPLE_BATCHES] {
        master.push_batch(batch.clone());
    }
    wait_final(&target, &daemon);
    let psyncs: Vec<String> = master.requests().into_iter().filter(|r| r.starts_with("PSYNC")).collect();
    assert!(psyncs.len() >= 2 && psyncs[0] == "PSYNC 99", "{psyncs:?}\n{}", daemon.log());
    let next: u64 = psyncs[1].trim_start_matches("PSYNC ").parse().unwrap();
    assert!(next > 99, "the second PSYNC did not continue: {psyncs:?}");
}

#[test]
fn a_sequence_the_kvrocks_wal_no_longer_holds_stops_the_job_saying_so() {
    let batches = stream_batches(&kvrocks_capture(CASE));
    let master = mock_with(batches[..SIMPLE_BATCHES].to_vec());
    master.purge_before(150);
    let (_target, _state, daemon, admin_port) = resume_at(&master, 98);
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("WAL no longer holds"), "{error}\n{}", daemon.log());
}
