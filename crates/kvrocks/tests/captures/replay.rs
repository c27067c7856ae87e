//! Replays the captures through the converter into a real `redis-server` (started by
//! `replicant_testkit::RedisServer` on a free loopback port) and reads the target back
//! against the expected datasets (see `readback`).
//!
//! Namespaces map to databases: the default namespace to db 0, `ns1` to db 1. Commands
//! that need a module the Debian redis-server lacks (`JSON.*`, `BF.*`) are kept aside
//! and asserted as commands instead of being sent.

use redis::{Connection, Value};
use replicant_kvrocks::convert::{convert, Converted};
use replicant_kvrocks::{KeyLayout, Update, DEFAULT_NAMESPACE};
use replicant_testkit::RedisServer;
use serde_json::Value as Json;

use replicant_testkit::kvrocks_master::dataset as readback;

use crate::{commands, json};

/// What the bloom filter bits are reported as: the only records the captures leave out.
const BLOOM_BITS: &str = "bloom filter bits (split-block filter RedisBloom cannot load; items not in the LogData)";

pub(crate) fn db_of(namespace: &[u8]) -> i64 {
    match namespace {
        DEFAULT_NAMESPACE => 0,
        b"ns1" => 1,
        other => panic!("unexpected namespace {:?}", String::from_utf8_lossy(other)),
    }
}

/// A connection to the target that follows the commands' namespaces.
pub(crate) struct Target {
    pub(crate) conn: Connection,
    db: i64,
    /// Commands for modules the target lacks: (db, args).
    pub(crate) module: Vec<(i64, Vec<String>)>,
    /// Records the converter reported, by what.
    pub(crate) skipped: Vec<&'static str>,
}

impl Target {
    pub(crate) fn new(server: &RedisServer) -> Self {
        Self { conn: server.conn(), db: 0, module: Vec::new(), skipped: Vec::new() }
    }

    pub(crate) fn select(&mut self, db: i64) {
        if self.db != db {
            redis::cmd("SELECT").arg(db).query::<()>(&mut self.conn).unwrap();
            self.db = db;
        }
    }

    /// Sends one converted batch.
    pub(crate) fn send(&mut self, converted: &Converted<'_>) {
        self.skipped.extend(converted.skipped.iter().map(|s| s.what));
        for command in &converted.commands {
            let db = db_of(command.namespace);
            let name = String::from_utf8_lossy(&command.args[0]).to_ascii_uppercase();
            if name.starts_with("JSON.") || name.starts_with("BF.") {
                let args = command.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
                self.module.push((db, args));
                continue;
            }
            self.select(db);
            let mut cmd = redis::cmd(&name);
            for arg in &command.args[1..] {
                cmd.arg(&arg[..]);
            }
            if let Err(err) = cmd.query::<Value>(&mut self.conn) {
                let args: Vec<_> = command.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
                panic!("target rejected {args:?}: {err}");
            }
        }
    }

    /// Decodes, converts and sends one WriteBatch rep.
    pub(crate) fn apply(&mut self, rep: &[u8]) {
        let update = Update::decode(rep, KeyLayout::STANDALONE).unwrap();
        self.send(&convert(&update));
    }

    /// Every PSYNC batch of a case's stream.
    pub(crate) fn apply_stream(&mut self, case: &str) {
        for command in commands(case) {
            for rep in command.batches() {
                self.apply(rep);
            }
        }
    }
}

#[test]
fn types_capture_replays_into_redis() {
    let case = "v2.10.1-types";
    let server = RedisServer::start();
    let mut target = Target::new(&server);
    for rep in crate::checkpoint_reps(case) {
        target.apply(&rep);
    }
    target.apply_stream(case);
    let checked = readback::check(&mut target.conn, &json(case, "expected-final.json"), &["ReJSON-RL", "MBbloom--"]);
    assert_eq!(checked, 31, "every key but the JSON and bloom ones");

    // No module on the target: the JSON and bloom keys are checked as commands.
    let json_set = ["JSON.SET", "j", "$", r#"{"a":1,"b":[1,2]}"#];
    let reserve = ["BF.RESERVE", "b", "0.01", "100", "EXPANSION", "2"];
    assert_eq!(target.module, [(0, json_set.map(str::to_owned).to_vec()), (0, reserve.map(str::to_owned).to_vec())]);
    // BF.ADD b x wrote the filter twice (create, insert): both reported, nothing else.
    assert_eq!(target.skipped, [BLOOM_BITS, BLOOM_BITS]);
}

#[test]
fn sst_capture_stream_replays_on_top_of_its_snapshot() {
    let case = "v2.10.1-sst";
    let server = RedisServer::start();
    let mut target = Target::new(&server);
    let unloadable = ["ReJSON-RL", "MBbloom--", "hyperloglog"];
    load_snapshot(&mut target, &json(case, "expected-snapshot.json"), &unloadable);
    target.apply_stream(case);
    let checked = readback::check(&mut target.conn, &json(case, "expected-final.json"), &unloadable);
    assert!(checked > 5000, "{checked} keys");
    assert!(target.module.is_empty() && target.skipped.is_empty(), "{:?} {:?}", target.module, target.skipped);
}

/// Loads a snapshot's keys (the SST checkpoint itself cannot be read by this crate), all
/// but `skip` types: JSON and bloom need modules, and an HLL's registers are not in it.
fn load_snapshot(target: &mut Target, snapshot: &Json, skip: &[&str]) {
    for (ns, want) in snapshot["namespaces"].as_object().unwrap() {
        target.select(if ns == "default" { 0 } else { 1 });
        let mut pipe = redis::pipe();
        for key in want["keys"].as_array().unwrap().iter().filter(|k| !skip.contains(&k["type"].as_str().unwrap())) {
            load_key(&mut pipe, key);
        }
        pipe.query::<()>(&mut target.conn).unwrap();
    }
}

fn load_key(pipe: &mut redis::Pipeline, k: &Json) {
    let key = readback::json_bytes(&k["key"]);
    let v = &k["value"];
    let list = |name: &str| v[name].as_array().unwrap().iter().map(readback::json_bytes).collect::<Vec<_>>();
    match k["type"].as_str().unwrap() {
        "string" => pipe.cmd("SET").arg(&key).arg(readback::json_bytes(&v["get"])),
        "hash" => {
            let pairs = v["hgetall"].as_array().unwrap().iter();
            let args: Vec<Vec<u8>> =
                pairs.flat_map(|p| [readback::json_bytes(&p[0]), readback::json_bytes(&p[1])]).collect();
            pipe.cmd("HSET").arg(&key).arg(args)
        }
        "list" => pipe.cmd("RPUSH").arg(&key).arg(list("lrange")),
        "set" => pipe.cmd("SADD").arg(&key).arg(list("smembers_sorted")),
        "zset" => {
            let pairs = v["zrange_withscores"].as_array().unwrap().iter();
            let args: Vec<Vec<u8>> =
                pairs.flat_map(|p| [readback::json_bytes(&p[1]), readback::json_bytes(&p[0])]).collect();
            pipe.cmd("ZADD").arg(&key).arg(args)
        }
        "sortedint" => {
            let ids = list("sirange");
            pipe.cmd("ZADD").arg(&key).arg(ids.iter().flat_map(|id| [id.clone(), id.clone()]).collect::<Vec<_>>())
        }
        "bitmap" => pipe.cmd("SET").arg(&key).arg(readback::unhex(v["get_hex"].as_str().unwrap())),
        "stream" => load_stream(pipe, &key, v),
        other => panic!("cannot load a {other} key"),
    };
    if let Some(at) = k["pexpiretime"].as_i64().filter(|t| *t > 0) {
        pipe.cmd("PEXPIREAT").arg(&key).arg(at).ignore();
    }
}

fn load_stream<'p>(pipe: &'p mut redis::Pipeline, key: &[u8], v: &Json) -> &'p mut redis::Pipeline {
    for entry in v["xrange"].as_array().unwrap() {
        let fields: Vec<Vec<u8>> = entry[1].as_array().unwrap().iter().map(readback::json_bytes).collect();
        pipe.cmd("XADD").arg(key).arg(entry[0].as_str().unwrap()).arg(fields).ignore();
    }
    for group in v["xinfo_groups"].as_array().unwrap() {
        let (name, last) = (group[1].as_str().unwrap(), group[7].as_str().unwrap());
        let read = group[9].as_i64().unwrap_or(-1);
        pipe.cmd("XGROUP").arg("CREATE").arg(key).arg(name).arg(last).arg("ENTRIESREAD").arg(read).ignore();
        for pending in v["xpending"][name]["extended"].as_array().unwrap() {
            let (id, consumer, count) = (pending[0].as_str().unwrap(), pending[1].as_str().unwrap(), &pending[3]);
            pipe.cmd("XCLAIM").arg(key).arg(name).arg(consumer).arg(0).arg(id);
            pipe.arg("RETRYCOUNT").arg(count.as_i64().unwrap()).arg("FORCE").arg("JUSTID").ignore();
        }
    }
    pipe.cmd("PING")
}
