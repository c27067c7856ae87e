//! A Kvrocks master followed by the daemon: the mock master replays the bytes a real Kvrocks
//! 2.10.1 sent its replica (`../shared/kvrocks/v2.10.1-types`, read in place). The daemon
//! tells it from a Redis master by its `INFO`, continues a checkpoint at sequence 98 with
//! `PSYNC 99`, and writes the stream's strings, hashes, deletes and expiries into a real
//! Redis, which ends as the master did (`expected-final.json`); a cut link goes on with
//! `PSYNC <next>`, and a sequence the master's WAL no longer holds stops the job saying so.

use std::time::Duration;

use replicant_testkit::kvrocks_master::capture::stream_batches;
use replicant_testkit::kvrocks_master::dataset;
use replicant_testkit::kvrocks_master::kvrocks_capture;
use replicant_testkit::{free_port, MockKvrocks, RedisServer};
use serde_json::Value;

use crate::daemon::checkpoint_offset;
use crate::process::{admin, caught_up, field, info, wait_for, Daemon};

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
    resume_at_with(master, offset, &[])
}

/// As [`resume_at`], with more daemon arguments.
fn resume_at_with(master: &MockKvrocks, offset: u64, extra: &[&str]) -> (RedisServer, tempfile::TempDir, Daemon, u16) {
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
    #[rustfmt::skip]
    let args = [
        "sync", "--source", &src, "--target", &dst, "--state-dir", state.path().to_str().unwrap(),
        "--admin", &admin_addr, "--progress", "never",
    ];
    let daemon = Daemon::start(&[&args[..], extra].concat());
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

/// The daemon on a Kvrocks master, with namespace `ns1` in database 1 and the module types
/// left out (the Debian redis-server has no RedisJSON or RedisBloom).
/// The daemon on the master, `ns1` in database 1, the module types left out (the Debian
/// redis-server has no RedisJSON or RedisBloom).
pub(crate) fn follow(master: &MockKvrocks, target: &RedisServer, state: &std::path::Path, admin_port: u16) -> Daemon {
    let (src, dst) = (format!("redis://:adminpass@{}", master.addr()), target.url());
    let admin_addr = format!("127.0.0.1:{admin_port}");
    Daemon::start(&[
        "sync",
        "--source",
        &src,
        "--target",
        &dst,
        "--kvrocks-namespace",
        "ns1=1",
        "--skip-types",
        "json,bloom",
        "--state-dir",
        state.to_str().unwrap(),
        "--admin",
        &admin_addr,
        "--progress",
        "never",
    ])
}

/// Waits until the target acknowledged everything up to `sequence`.
pub(crate) fn wait_applied(admin_port: u16, sequence: u64, daemon: &Daemon) {
    let mut conn = admin(admin_port);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let text = info(&mut conn, "replication");
        if caught_up(&text) && field(&text, "applied_offset") == Some(sequence.to_string()) {
            return;
        }
        assert_ne!(field(&text, "phase").as_deref(), Some("failed"), "{text}\n{}", daemon.log());
        assert!(std::time::Instant::now() < deadline, "not applied up to {sequence}:\n{text}\n{}", daemon.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn expected_json(case: &str, file: &str) -> Value {
    let path = kvrocks_capture(case).join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Kvrocks types the target cannot hold without modules, left out of the comparison.
const MODULE_TYPES: [&str; 2] = ["ReJSON-RL", "MBbloom--"];

/// Both real captures: the checkpoint (held in the WAL for `types`, in six SSTs for `sst`)
/// fetched with `_fetch_meta`/`_fetch_file` and read with RocksDB gives the master's
/// dataset at the checkpoint; the stream, cut once in the middle, gives its final dataset.
#[test]
fn kvrocks_checkpoints_and_streams_from_both_captures_end_as_the_master() {
    for case in ["v2.10.1-types", "v2.10.1-sst"] {
        let batches = stream_batches(&kvrocks_capture(case));
        let master = MockKvrocks::from_capture(case).batches(Vec::new()).heartbeat(Duration::from_millis(200)).start();
        let target = RedisServer::start();
        let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
        let daemon = follow(&master, &target, state.path(), admin_port);
        let snapshot = expected_json(case, "expected-snapshot.json");
        wait_applied(admin_port, snapshot["sequence"].as_u64().unwrap(), &daemon);
        let checked = dataset::check(&mut target.conn(), &snapshot, &MODULE_TYPES);
        assert!(checked > 20, "{case}: {checked} keys compared");

        let half = batches.len() / 2;
        for batch in &batches[..half] {
            master.push_batch(batch.clone());
        }
        master.cut_replicas();
        for batch in &batches[half..] {
            master.push_batch(batch.clone());
        }
        let fin = expected_json(case, "expected-final.json");
        wait_applied(admin_port, fin["sequence"].as_u64().unwrap(), &daemon);
        dataset::check(&mut target.conn(), &fin, &MODULE_TYPES);
        assert_eq!(master.fetch_count(), 1, "{case}: the cut took a second full copy\n{}", daemon.log());
        assert!(
            !state.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("checkpoint-")),
            "{case}: the fetched checkpoint was not removed"
        );
    }
}

/// The last sequence a WriteBatch rep covers (its header: sequence u64 LE, count u32 LE).
fn last_sequence(rep: &[u8]) -> u64 {
    let seq = u64::from_le_bytes(rep[..8].try_into().unwrap());
    let count = u32::from_le_bytes(rep[8..12].try_into().unwrap());
    seq + u64::from(count) - 1
}

/// Killed with SIGKILL in the middle of the stream and started again with the same state
/// directory, the daemon continues with `PSYNC` from its checkpoint: no second full copy,
/// nothing lost, nothing applied twice (the capture's stream has `INCR`, `APPEND`, `LPUSH`,
/// which would show either).
#[test]
fn a_kvrocks_migration_killed_mid_stream_continues_from_its_checkpoint() {
    let case = "v2.10.1-sst";
    let batches = stream_batches(&kvrocks_capture(case));
    let master = MockKvrocks::from_capture(case).batches(Vec::new()).heartbeat(Duration::from_millis(200)).start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let mut daemon = follow(&master, &target, state.path(), admin_port);
    let snapshot = expected_json(case, "expected-snapshot.json");
    wait_applied(admin_port, snapshot["sequence"].as_u64().unwrap(), &daemon);
    // Killed before this, the target would hold part of a snapshot: a restart then refuses it.
    wait_for("a streaming checkpoint", Duration::from_secs(30), || checkpoint_offset(state.path()).is_some());

    let half = batches.len() / 2;
    for batch in &batches[..half] {
        master.push_batch(batch.clone());
    }
    wait_applied(admin_port, last_sequence(&batches[half - 1]), &daemon);
    daemon.kill();
    for batch in &batches[half..] {
        master.push_batch(batch.clone());
    }
    let daemon = follow(&master, &target, state.path(), admin_port);
    let fin = expected_json(case, "expected-final.json");
    wait_applied(admin_port, fin["sequence"].as_u64().unwrap(), &daemon);
    dataset::check(&mut target.conn(), &fin, &MODULE_TYPES);
    assert_eq!(master.fetch_count(), 1, "the restart took a second full copy\n{}", daemon.log());
    let psyncs: Vec<String> = master.requests().into_iter().filter(|r| r.starts_with("PSYNC")).collect();
    assert_eq!(psyncs.len(), 2, "{psyncs:?}");
}

/// A WriteBatch that does not decode (here cut short by one byte) stops the job naming its
/// sequence, with every batch before it applied and nothing of it or after.
#[test]
fn a_corrupt_kvrocks_batch_stops_the_job_naming_its_sequence() {
    let mut batches = stream_batches(&kvrocks_capture(CASE))[..SIMPLE_BATCHES].to_vec();
    let bad = 7; // DEL h1, after DEL str1
    batches[bad].pop();
    let bad_sequence = last_sequence(&batches[bad - 1]) + 1;
    let master = mock_with(batches);
    let (target, _state, daemon, admin_port) = resume_at(&master, 98);
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains(&format!("sequence {bad_sequence}")), "{error}\n{}", daemon.log());
    assert!(actual(&mut target.conn(), "str1").is_none(), "the batch before it was not applied");
    assert!(actual(&mut target.conn(), "h1").is_some(), "the corrupt batch was applied");
}

/// A checkpoint transfer cut short (the master closes in the middle of the file list) is
/// retried, and until it succeeds INFO (`last_link_error`) says which file broke; nothing
/// reaches the target.
#[test]
fn a_checkpoint_transfer_cut_short_is_retried_naming_the_file() {
    let case = kvrocks_capture(CASE);
    let mut files = replicant_testkit::kvrocks_master::capture::checkpoint_order(&case);
    files.insert(2, "000099.sst".to_string()); // not in the directory: the master closes there
    let master = MockKvrocks::from_capture(CASE).checkpoint_files(files).batches(Vec::new()).start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let daemon = follow(&master, &target, state.path(), admin_port);
    let mut conn = admin(admin_port);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = info(&mut conn, "replication");
        if field(&text, "last_link_error")
            .is_some_and(|e| e.contains("checkpoint file 000099.sst (file 3 of 5) was cut short"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}\n{}\n{}", daemon.log(), master.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("a second attempt", Duration::from_secs(30), || master.fetch_count() >= 2);
    assert_ne!(field(&info(&mut conn, "replication"), "phase").as_deref(), Some("failed"), "{}", daemon.log());
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut target.conn()).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// A checkpoint that does not open (its `CURRENT` names a `MANIFEST` that is garbage) stops
/// the job naming the directory and what is wrong with it in INFO; nothing reaches the
/// target.
#[test]
fn a_checkpoint_that_does_not_open_stops_the_job_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("CURRENT"), "MANIFEST-000005\n").unwrap();
    std::fs::write(dir.path().join("MANIFEST-000005"), b"not a manifest at all").unwrap();
    let files = vec!["MANIFEST-000005".to_string(), "CURRENT".to_string()];
    let master = MockKvrocks::builder()
        .password("adminpass")
        .checkpoint_dir(dir.path())
        .checkpoint_files(files)
        .sequence(10)
        .start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let _daemon = follow(&master, &target, state.path(), admin_port);
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains("the checkpoint in ") && error.contains("not a Kvrocks data directory"), "{error}");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut target.conn()).unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// A WriteBatch of one record in Kvrocks' pubsub column family (3): what its `PUBLISH`
/// writes for its replicas.
fn publish_rep(sequence: u64, channel: &[u8], message: &[u8]) -> Vec<u8> {
    let mut rep = sequence.to_le_bytes().to_vec();
    rep.extend_from_slice(&1u32.to_le_bytes());
    rep.extend_from_slice(&[0x05, 3]); // kTypeColumnFamilyValue, column family 3
    for part in [channel, message] {
        rep.push(u8::try_from(part.len()).unwrap());
        rep.extend_from_slice(part);
    }
    rep
}

/// A Kvrocks master's `PUBLISH` reaches the target's subscribers under `--forward-publish`,
/// and is passed over without one: either way the stream goes on past it.
#[test]
fn kvrocks_publish_is_forwarded_only_when_asked() {
    let batches = stream_batches(&kvrocks_capture(CASE))[..SIMPLE_BATCHES].to_vec();
    for forward in [true, false] {
        let master = mock_with(batches.clone());
        let extra: &[&str] = if forward { &["--forward-publish"] } else { &[] };
        let (target, _state, daemon, admin_port) = resume_at_with(&master, 98, extra);
        let sequence = master.latest_sequence();
        wait_applied(admin_port, sequence, &daemon);
        let mut subscriber = target.conn();
        let mut pubsub = subscriber.as_pubsub();
        pubsub.subscribe("news").unwrap();
        master.push_batch(publish_rep(sequence + 1, b"news", b"hello"));
        wait_applied(admin_port, sequence + 1, &daemon);
        // Applied means acknowledged: a forwarded PUBLISH was delivered before its reply.
        pubsub.set_read_timeout(Some(Duration::from_secs(if forward { 10 } else { 1 }))).unwrap();
        let got = pubsub.get_message().ok().map(|m| m.get_payload::<String>().unwrap());
        let want = forward.then(|| "hello".to_string());
        assert_eq!(got, want, "forward_publish = {forward}\n{}", daemon.log());
    }
}

/// `REPLICAOF host port` on the admin port tells a Kvrocks master by its INFO, as the
/// configured source does: the checkpoint is copied and the stream followed.
#[test]
fn replicaof_on_the_admin_port_tells_a_kvrocks_master() {
    let case = kvrocks_capture(CASE);
    let master = MockKvrocks::builder()
        .checkpoint_dir(case.join("checkpoint"))
        .checkpoint_files(replicant_testkit::kvrocks_master::capture::checkpoint_order(&case))
        .sequence(replicant_testkit::kvrocks_master::capture::checkpoint_sequence(&case))
        .start();
    let target = RedisServer::start();
    let (state, admin_port) = (tempfile::tempdir().unwrap(), free_port());
    let (dst, admin_addr) = (target.url(), format!("127.0.0.1:{admin_port}"));
    #[rustfmt::skip]
    let daemon = Daemon::start(&[
        "sync", "--target", &dst, "--kvrocks-namespace", "ns1=1", "--skip-types", "json,bloom",
        "--state-dir", state.path().to_str().unwrap(), "--admin", &admin_addr, "--progress", "never",
    ]);
    let mut conn = admin(admin_port);
    let reply: String = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(master.port()).query(&mut conn).unwrap();
    assert_eq!(reply, "OK");
    let snapshot = expected_json(CASE, "expected-snapshot.json");
    wait_applied(admin_port, snapshot["sequence"].as_u64().unwrap(), &daemon);
    let checked = dataset::check(&mut target.conn(), &snapshot, &MODULE_TYPES);
    assert!(checked > 20, "{checked} keys compared");
    assert!(daemon.log().contains("The master is a Kvrocks server"), "{}", daemon.log());
}

/// A batch naming a column family Kvrocks 2.10 does not have stops the job naming the
/// batch's sequence and the record's offset; nothing of it is applied.
#[test]
fn a_kvrocks_batch_with_an_unknown_column_family_stops_the_job() {
    let batches = stream_batches(&kvrocks_capture(CASE))[..SIMPLE_BATCHES].to_vec();
    let master = mock_with(batches);
    let (target, _state, daemon, admin_port) = resume_at(&master, 98);
    let sequence = master.latest_sequence();
    wait_applied(admin_port, sequence, &daemon);
    // A put into column family 9, then a put of a string in the metadata CF.
    let mut rep = (sequence + 1).to_le_bytes().to_vec();
    rep.extend_from_slice(&2u32.to_le_bytes());
    rep.extend_from_slice(&[0x05, 9, 1, b'k', 1, b'v']);
    rep.extend_from_slice(&[0x05, 1, 13]);
    rep.extend_from_slice(b"\x0b__namespacez");
    rep.extend_from_slice(&[9, 0x01, 0, 0, 0, 0, b'v', b'a', b'l', b'u']);
    master.push_batch(rep);
    let mut conn = admin(admin_port);
    wait_for("phase:failed", Duration::from_secs(30), || {
        field(&info(&mut conn, "replication"), "phase").as_deref() == Some("failed")
    });
    let error = field(&info(&mut conn, "replication"), "last_error").unwrap();
    assert!(error.contains(&format!("sequence {}", sequence + 1)), "{error}");
    assert!(error.contains("column family id 9"), "{error}");
    assert!(actual(&mut target.conn(), "z").is_none(), "a record of the bad batch was applied");
}
