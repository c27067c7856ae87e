//! Reads a Redis target back and compares it with a Kvrocks capture's `expected-*.json`
//! dataset, key by key: the key set of each database (the default namespace in database 0,
//! `ns1` in 1), each key's type (Kvrocks' `bitmap` and `hyperloglog` are Redis strings,
//! `sortedint` a zset), its value and its `PEXPIRETIME`. Keys whose expiry has passed since
//! the capture are expected gone. Panics naming the first difference.

use std::time::{SystemTime, UNIX_EPOCH};

use redis::Value;
use serde_json::{json, Value as Json};

/// A connection and the database it is in.
struct Target<'c> {
    conn: &'c mut redis::Connection,
}

/// Compares every key of `expected` but those of the `skip` types (names as `TYPE` gives
/// them in the capture); returns how many were compared. Leaves `conn` in database 0.
pub fn check(conn: &mut redis::Connection, expected: &Json, skip: &[&str]) -> usize {
    let mut target = Target { conn };
    let target = &mut target;
    let mut checked = 0;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    for (ns, want) in expected["namespaces"].as_object().unwrap() {
        let db = if ns == "default" { 0 } else { 1 };
        redis::cmd("SELECT").arg(db).query::<()>(target.conn).unwrap();
        let keys: Vec<&Json> = want["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| !skip.contains(&k["type"].as_str().unwrap()))
            .filter(|k| !k["pexpiretime"].as_i64().is_some_and(|t| t > 0 && t <= now)) // expired since the capture
            .collect();
        let Value::Array(items) = redis::cmd("KEYS").arg("*").query::<Value>(target.conn).unwrap() else { panic!() };
        let mut got: Vec<Vec<u8>> =
            items.into_iter().map(bulk).filter(|k| !k.starts_with(b"replicant:applied:")).collect();
        got.sort();
        let want_names: Vec<Json> = keys.iter().map(|k| k["key"].clone()).collect();
        assert_eq!(got.iter().map(|k| bytes_json(k)).collect::<Vec<_>>(), want_names, "keys of namespace {ns}");
        for k in keys {
            check_key(target, k, &format!("{ns}/{}", k["key"]));
            checked += 1;
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(target.conn).unwrap();
    checked
}

fn check_key(target: &mut Target<'_>, k: &Json, what: &str) {
    let key = json_bytes(&k["key"]);
    let redis_type = match k["type"].as_str().unwrap() {
        "bitmap" | "hyperloglog" => "string",
        "sortedint" => "zset",
        other => other,
    };
    assert_eq!(json_of(cmd(target, "TYPE", &key, &[])), json!(redis_type), "{what}");
    assert_eq!(json_of(cmd(target, "PEXPIRETIME", &key, &[])), k["pexpiretime"], "{what}");
    let want = &k["value"];
    let got = |target: &mut Target, name: &str, extra: &[&str]| json_of(cmd(target, name, &key, extra));
    match k["type"].as_str().unwrap() {
        "string" => assert_eq!(got(target, "GET", &[]), want["get"], "{what}"),
        "hash" => {
            let flat = got(target, "HGETALL", &[]);
            let mut pairs: Vec<Json> = flat.as_array().unwrap().chunks(2).map(|p| json!(p)).collect();
            pairs.sort_by_key(|p| p[0].to_string());
            let mut want_pairs = want["hgetall"].as_array().unwrap().clone();
            want_pairs.sort_by_key(|p| p[0].to_string());
            assert_eq!(pairs, want_pairs, "{what}");
        }
        "list" => assert_eq!(got(target, "LRANGE", &["0", "-1"]), want["lrange"], "{what}"),
        "set" => {
            let Value::Array(items) = cmd(target, "SMEMBERS", &key, &[]) else { panic!("{what}: SMEMBERS") };
            let mut members: Vec<Vec<u8>> = items.into_iter().map(bulk).collect();
            members.sort();
            let members: Vec<Json> = members.iter().map(|m| bytes_json(m)).collect();
            assert_eq!(Json::from(members), want["smembers_sorted"], "{what}");
        }
        "zset" => {
            let flat = got(target, "ZRANGE", &["0", "-1", "WITHSCORES"]);
            let pairs: Vec<Json> = flat.as_array().unwrap().chunks(2).map(|p| json!(p)).collect();
            assert_eq!(Json::from(pairs), want["zrange_withscores"], "{what}: scores must print alike");
        }
        "sortedint" => {
            let flat = got(target, "ZRANGE", &["0", "-1", "WITHSCORES"]);
            let pairs: Vec<&[Json]> = flat.as_array().unwrap().chunks(2).collect();
            assert!(pairs.iter().all(|p| p[0] == p[1]), "{what}: score = id");
            let ids: Vec<Json> = pairs.iter().map(|p| p[0].clone()).collect();
            assert_eq!(Json::from(ids), want["sirange"], "{what}");
            assert_eq!(got(target, "ZCARD", &[]), want["sicard"], "{what}");
        }
        "bitmap" => check_bitmap(target, &key, want, what),
        "stream" => check_stream(target, &key, want, what),
        "hyperloglog" => assert_eq!(got(target, "PFCOUNT", &[]), want["pfcount"], "{what}"),
        other => panic!("{what}: no check for type {other}"),
    }
}

fn check_bitmap(target: &mut Target<'_>, key: &[u8], want: &Json, what: &str) {
    for bit in want["set_bits"].as_array().unwrap() {
        let bit = bit.as_u64().unwrap().to_string();
        assert_eq!(json_of(cmd(target, "GETBIT", key, &[&bit])), json!(1), "{what} bit {bit}");
    }
    assert_eq!(json_of(cmd(target, "BITCOUNT", key, &[])), want["bitcount"], "{what}");
    let Value::BulkString(bytes) = cmd(target, "GET", key, &[]) else { panic!("{what}: GET") };
    assert_eq!(bytes, unhex(want["get_hex"].as_str().unwrap()), "{what}: the same bytes as Kvrocks' GET");
}

fn check_stream(target: &mut Target<'_>, key: &[u8], want: &Json, what: &str) {
    assert_eq!(json_of(cmd(target, "XRANGE", key, &["-", "+"])), want["xrange"], "{what}");
    let groups = json_of(cmd(target, "XINFO", b"GROUPS", &[std::str::from_utf8(key).unwrap()]));
    assert_eq!(groups, want["xinfo_groups"], "{what}: XINFO GROUPS");
    for (group, pending) in want["xpending"].as_object().unwrap() {
        let summary = json_of(cmd(target, "XPENDING", key, &[group]));
        assert_eq!(summary, pending["summary"], "{what}: XPENDING {group}");
        let extended = json_of(cmd(target, "XPENDING", key, &[group, "-", "+", "1000"]));
        let ids = |v: &Json| -> Vec<Json> { v.as_array().unwrap().iter().map(|e| json!([e[0], e[1]])).collect() };
        assert_eq!(ids(&extended), ids(&pending["extended"]), "{what}: XPENDING {group} - + 1000 (ids, owners)");
    }
}

/// `name key extra...` (for XINFO, `name` and `key` are the subcommand and the key).
fn cmd(target: &mut Target<'_>, name: &str, key: &[u8], extra: &[&str]) -> Value {
    redis::cmd(name).arg(key).arg(extra).query::<Value>(target.conn).unwrap()
}

fn bulk(value: Value) -> Vec<u8> {
    let Value::BulkString(bytes) = value else { panic!("not a bulk string: {value:?}") };
    bytes
}

/// A RESP2 reply as the expected files spell it.
fn json_of(value: Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Int(n) => json!(n),
        Value::BulkString(bytes) => bytes_json(&bytes),
        Value::SimpleString(text) => json!(text),
        Value::Okay => json!("OK"),
        Value::Array(items) => Json::from(items.into_iter().map(json_of).collect::<Vec<_>>()),
        other => panic!("unexpected reply {other:?}"),
    }
}

/// The README's rule: a string if UTF-8, else `{"hex": ...}`.
pub fn bytes_json(bytes: &[u8]) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

/// The inverse of [`bytes_json`].
pub fn json_bytes(value: &Json) -> Vec<u8> {
    match value {
        Json::String(s) => s.as_bytes().to_vec(),
        other => unhex(other["hex"].as_str().unwrap()),
    }
}

/// Hex text as bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
