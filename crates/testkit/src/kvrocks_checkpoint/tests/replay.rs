//! The writer against real Kvrocks 2.10.1 bytes: the `v2.10.1-types` capture's stream
//! (`stream.jsonl`: each write command and the WriteBatches the PSYNC socket got for it),
//! replayed command by command on a checkpoint holding the capture's keys as its fill wrote
//! them (same list indexes, same bitmap segments, same group state). Every rep must match
//! the capture's record for record (tags, column families, keys, values, LogData, counts),
//! versions left out (they are timestamps).

use serde_json::Value;

use super::super::*;
use super::{parse, Record};
use crate::kvrocks_master::capture::{from_hex, split_bulks};
use crate::kvrocks_master::kvrocks_capture;

const NS: &str = DEFAULT_NAMESPACE;
const T0: u64 = 1_700_000_000_000;

/// The capture's fill, for the keys its stream writes to.
fn fill(cp: &mut KvrocksCheckpoint) {
    let new = Encoding::New;
    for (k, v) in [("counter", "10"), ("str1", "val1"), ("str2", "val2"), ("str3", "val3")] {
        cp.string(NS, k, v, Expiry::None, new);
    }
    cp.string(NS, "str_exp0", "expval0", Expiry::At(4_102_444_800_000), new);
    cp.hash(NS, "h1", &[("f1", "v1"), ("f2", "v2")], Expiry::None, new);
    cp.hash(NS, "h2", &[("f1", "a"), ("cnt", "1")], Expiry::None, new);
    cp.rpush(NS, "l1", &["a", "b", "c", "x", "d", "x"]);
    cp.lpush(NS, "l1", &["p0"]);
    cp.lpush(NS, "l2", &["q1", "q2"]);
    cp.set(NS, "set1", &["m1", "m2", "m3", "m4"], Expiry::None, new);
    cp.set(NS, "set2", &["n1"], Expiry::None, new);
    let scores = [("a", 1.5), ("b", -3.25), ("c", 1e300), ("d", f64::INFINITY), ("e", f64::NEG_INFINITY), ("f", 0.1)];
    cp.zset(NS, "z1", &scores, Expiry::None, new);
    cp.bitmap(NS, "bm", &[0, 7, 8191, 100_001], Expiry::None, new);
    cp.bitmap(NS, "bm2", &[1, 2], Expiry::None, new);
    let entries = (1..=5)
        .map(|i| EntrySpec { id: (T0, i), fields: vec![(b"f".to_vec(), format!("v{i}").into_bytes())] })
        .collect();
    let pending = PendingSpec { id: (T0, 1), consumer: b"c1".to_vec(), delivery_ms: 0, delivery_count: 0 };
    let g1 = GroupSpec {
        name: b"g1".to_vec(),
        last_delivered: (T0, 1),
        entries_read: 1,
        consumers: vec![b"c1".to_vec()],
        pending: vec![pending],
    };
    cp.stream(NS, "st", &StreamSpec { entries, deleted: Vec::new(), groups: vec![g1] }, Expiry::None, new);
    cp.hash("ns1", "nh", &[("f1", "v1"), ("f2", "v2")], Expiry::None, new);
}

/// The expiry the capture's rep gives a string (absolute ms, from the wall clock then).
fn captured_expiry(reps: &[Vec<u8>]) -> u64 {
    let (_, _, records) = parse(&reps[0]);
    let value = &records.iter().find(|r| r.1 == 1).unwrap().3;
    u64::from_be_bytes(value[1..9].try_into().unwrap())
}

/// Runs the writer's version of one captured command.
fn run(cp: &mut KvrocksCheckpoint, ns: &str, args: &[&str], captured: &[Vec<u8>]) {
    let b = |s: &str| s.as_bytes().to_vec();
    match args {
        // Queued inside MULTI: written by EXEC.
        ["MULTI"] | ["SET", "tx1", "a"] | ["INCR", "tx2"] => {}
        ["SET", k, v] => cp.string(ns, k, v, Expiry::None, Encoding::New),
        ["SET", k, v, "EX", _] => cp.string(ns, k, v, Expiry::At(captured_expiry(captured)), Encoding::New),
        ["SETRANGE", k, at, v] => ignore(cp.setrange(ns, k, at.parse().unwrap(), v)),
        ["APPEND", k, v] => ignore(cp.append(ns, k, v)),
        ["INCR", k] => ignore(cp.incrby(ns, k, 1)),
        ["INCRBYFLOAT", k, x] => ignore(cp.incrbyfloat(ns, k, x.parse().unwrap())),
        ["DEL", keys @ ..] => ignore(cp.del(ns, keys)),
        ["EXPIRE", k, _] => cp.expire(ns, k, captured_expiry(captured)),
        ["PEXPIREAT", k, at] => cp.expire(ns, k, at.parse().unwrap()),
        ["PERSIST", k] => assert!(cp.persist(ns, k)),
        ["HSET", k, rest @ ..] => {
            let pairs: Vec<(&str, &str)> = rest.chunks(2).map(|p| (p[0], p[1])).collect();
            cp.hash(ns, k, &pairs, Expiry::None, Encoding::New);
        }
        ["HDEL", k, fields @ ..] => ignore(cp.hdel(ns, k, fields)),
        ["HINCRBY", k, f, n] => ignore(cp.hincrby(ns, k, f, n.parse().unwrap())),
        ["LPUSH", k, elems @ ..] => cp.lpush(ns, k, elems),
        ["RPUSH", k, elems @ ..] => cp.rpush(ns, k, elems),
        ["LPOP", k] => ignore(cp.pop(ns, k, 1, true)),
        ["RPOP", k] => ignore(cp.pop(ns, k, 1, false)),
        ["LSET", k, i, e] => cp.lset(ns, k, i.parse().unwrap(), e),
        ["LINSERT", k, side, pivot, e] => ignore(cp.linsert(ns, k, *side == "BEFORE", &b(pivot), &b(e))),
        ["LREM", k, n, e] => ignore(cp.lrem(ns, k, n.parse().unwrap(), &b(e))),
        ["LTRIM", k, start, stop] => cp.ltrim(ns, k, start.parse().unwrap(), stop.parse().unwrap()),
        ["LMOVE", src, dst, from, to] => ignore(cp.lmove(ns, &b(src), &b(dst), *from == "LEFT", *to == "LEFT")),
        ["SADD", k, members @ ..] => cp.set(ns, k, members, Expiry::None, Encoding::New),
        ["SREM", k, members @ ..] => ignore(cp.srem(ns, k, members)),
        ["SPOP", k] => cp.spop(ns, k, &["m9"]), // what the capture's draw took
        ["SMOVE", src, dst, m] => assert!(cp.smove(ns, src, dst, m)),
        ["ZADD", k, score, m] => cp.zset(ns, k, &[(*m, score.parse().unwrap())], Expiry::None, Encoding::New),
        ["ZINCRBY", k, by, m] => ignore(cp.zincrby(ns, k, by.parse().unwrap(), m)),
        ["ZREM", k, members @ ..] => ignore(cp.zrem(ns, k, members)),
        ["ZREMRANGEBYSCORE", k, "-inf", max] => {
            ignore(cp.zremrangebyscore(ns, k, f64::NEG_INFINITY, max.parse().unwrap()))
        }
        ["SETBIT", k, bit, "1"] => cp.setbit_to(ns, k, bit.parse().unwrap(), true),
        ["BITOP", "OR", dst, srcs @ ..] => ignore(cp.bitop(ns, BitOp::Or, dst, srcs)),
        ["XADD", k, "1700000000000-10", f, v] => {
            cp.xadd(ns, k, &EntrySpec { id: (T0, 10), fields: vec![(b(f), b(v))] });
        }
        ["XDEL", k, "1700000000000-2"] => ignore(cp.xdel(ns, k, &[(T0, 2)])),
        ["XTRIM", k, "MAXLEN", n] => ignore(cp.xtrim(ns, k, Trim::MaxLen(n.parse().unwrap()))),
        ["XGROUP", "CREATE", k, g, "0"] => assert!(cp.xgroup_create(ns, &b(k), &b(g), Some((0, 0)), -1, false)),
        ["XGROUP", "SETID", k, g, "$"] => cp.xgroup_setid(ns, &b(k), &b(g), None, -1),
        ["RENAME", src, dst] => cp.rename(ns, src, dst),
        ["COPY", src, dst] => assert!(cp.copy(ns, src, dst, false)),
        ["EXEC"] => cp.group_commit(|cp| {
            cp.string(ns, "tx1", "a", Expiry::None, Encoding::New);
            cp.incrby(ns, "tx2", 1);
        }),
        ["FLUSHDB"] => cp.flushdb(ns),
        ["EVAL", ..] => {
            cp.string(ns, "lua1", "luav", Expiry::None, Encoding::New);
            cp.hash(ns, "lua2", &[("f", "luav")], Expiry::None, Encoding::New);
        }
        other => panic!("no writer for {other:?}"),
    }
}

/// Leaves a command's reply unused.
fn ignore<T>(_reply: T) {}

/// A record with the key's version zeroed in subkeys and in collection metadata.
fn normalized(record: &Record) -> Record {
    let (tag, cf, mut key, mut value) = record.clone();
    if tag != 3 && cf != 1 && tag != 0x0e {
        // ns_len | ns | key_len u32 | key | version u64 | sub
        let ns_len = key[0] as usize;
        let key_len = u32::from_be_bytes(key[1 + ns_len..5 + ns_len].try_into().unwrap()) as usize;
        let at = 5 + ns_len + key_len;
        key[at..at + 8].fill(0);
    }
    if cf == 1 && matches!(tag, 5) && !matches!(value[0] & 0x0f, 1 | 10) {
        let at = if value[0] & 0x80 != 0 { 9 } else { 5 };
        value[at..at + 8].fill(0);
    }
    (tag, cf, key, value)
}

fn shape(reps: &[Vec<u8>]) -> Vec<(u32, Vec<Record>)> {
    reps.iter().map(|r| parse(r)).map(|(_, count, records)| (count, records.iter().map(normalized).collect())).collect()
}

#[test]
fn every_captured_command_writes_what_kvrocks_wrote() {
    let case = kvrocks_capture("v2.10.1-types");
    let text = std::fs::read_to_string(case.join("stream.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cp = KvrocksCheckpoint::create(dir.path(), Layout::default()).unwrap();
    fill(&mut cp);
    let mut compared = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap();
        let args: Vec<&str> = entry["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        let ns = if entry["namespace"] == "ns1" { "ns1" } else { NS };
        let captured: Vec<Vec<u8>> = split_bulks(&from_hex(entry["received_hex"].as_str().unwrap()))
            .into_iter()
            .filter(|b| b != b"ping")
            .collect();
        let before = cp.latest_sequence();
        run(&mut cp, ns, &args, &captured);
        let written = cp.updates_since(before + 1).unwrap();
        assert_eq!(shape(&written), shape(&captured), "{args:?}");
        compared += captured.len();
    }
    assert_eq!(compared, 48, "every rep of the capture's stream");
}
