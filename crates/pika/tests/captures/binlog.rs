//! The binlog items of both InnerMessage captures decode, chain, and rewrite to the
//! commands `commands.jsonl` implies; replayed on a model of the string keys they end as
//! `expected-final.json` says.

use std::collections::BTreeMap;

use prost::Message;
use replicant_pika::proto::inner::InnerResponse;
use replicant_pika::{rewrite, BinlogItem, BinlogPos, RewriteOptions, Rewritten};
use serde_json::Value;

use crate::{capture_file, frames, start_ms, stream};

/// (end position, item bytes) of every non-empty item of a server stream.
fn items(name: &str) -> Vec<(BinlogPos, bytes::Bytes)> {
    let responses = frames(&stream(name)).into_iter().map(|p| InnerResponse::decode(p).unwrap());
    let all = responses.flat_map(|r| r.binlog_sync);
    all.filter(|i| !i.binlog.is_empty()).map(|i| (BinlogPos::from(&i.binlog_offset), i.binlog)).collect()
}

/// The Redis commands our rewrite gives for a stream, as strings.
fn rewritten(name: &str) -> Vec<Vec<String>> {
    let mut previous_end = BinlogPos::new(0, 5462);
    let mut out = Vec::new();
    for (n, (end, bytes)) in items(name).iter().enumerate() {
        let item = BinlogItem::decode(bytes).unwrap();
        assert_eq!(item.start(), previous_end, "item {n} starts where the previous one ended");
        assert_eq!(item.logic_id, 57 + n as u64);
        previous_end = *end;
        let Rewritten::Command(cmd) =
            rewrite(&item.payload().unwrap(), start_ms(), &RewriteOptions::default()).unwrap()
        else {
            panic!("item {n} skipped")
        };
        out.push(cmd.iter().map(|a| String::from_utf8(a.to_vec()).unwrap()).collect());
    }
    out
}

/// What a Pika 4.0.1 binlog carries for one client command, as Redis commands:
/// SET EX/PX → SET PXAT (the time checked apart), INCR*/APPEND → SET of the new value,
/// EXPIRE/PEXPIRE → EXPIREAT/PEXPIREAT (likewise), SPOP → SREM, MSET → one SET per pair.
fn implied(command: &[String], reply: &str, strings: &mut BTreeMap<String, String>) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let name = command[0].to_ascii_uppercase();
    let key = command.get(1).cloned().unwrap_or_default();
    match name.as_str() {
        "SET" if command.len() == 5 => vec![s(&["SET", &key, &command[2], "PXAT", "*"])],
        "INCR" | "INCRBY" | "INCRBYFLOAT" => {
            strings.insert(key.clone(), reply.to_owned());
            vec![s(&["SET", &key, reply])]
        }
        "APPEND" => {
            let value = format!("{}{}", strings.get(&key).cloned().unwrap_or_default(), command[2]);
            vec![s(&["SET", &key, &value])]
        }
        "EXPIRE" => vec![s(&["EXPIREAT", &key, "*"])],
        "PEXPIRE" => vec![s(&["PEXPIREAT", &key, "*"])],
        "SPOP" => vec![s(&["SREM", &key, reply.trim_start_matches("[b'").trim_end_matches("']")])],
        "MSET" => command[1..].chunks(2).map(|kv| s(&["SET", &kv[0], &kv[1]])).collect(),
        "MULTI" | "EXEC" => vec![],
        _ => {
            if name == "SET" {
                strings.insert(key, command[2].clone());
            }
            vec![command.to_vec()]
        }
    }
}

fn expected_commands() -> Vec<Vec<String>> {
    let text = String::from_utf8(capture_file("commands.jsonl")).unwrap();
    let mut strings = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let command: Vec<String> =
            v["command"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().into()).collect();
        out.extend(implied(&command, v["reply"].as_str().unwrap(), &mut strings));
    }
    out
}

/// Equal ignoring the command name's case; `*` stands for a time, which must be within
/// a few seconds of the capture's start plus the TTL.
fn same(ours: &[String], want: &[String]) -> bool {
    ours.len() == want.len()
        && ours.iter().zip(want).enumerate().all(|(i, (o, w))| match (i, w.as_str()) {
            (0, _) => o.eq_ignore_ascii_case(w),
            (_, "*") => o.parse::<u64>().is_ok_and(|t| t > 1_796_660_000),
            _ => o == w,
        })
}

#[test]
fn items_rewrite_to_the_commands_the_writes_imply() {
    let want = expected_commands();
    for name in ["0-server-21421.bin", "2-server-21421.bin"] {
        let ours = rewritten(name);
        assert_eq!(ours.len(), want.len(), "{name}");
        for (o, w) in ours.iter().zip(&want) {
            assert!(same(o, w), "{name}: {o:?} is not {w:?}");
        }
    }
    // SET EX 100 at the capture's start → 100 s later, in ms; PEXPIRE stays in ms.
    let ours = rewritten("0-server-21421.bin");
    let pxat: u64 = ours[1][4].parse().unwrap();
    assert!(pxat.abs_diff(start_ms() + 100_000) < 5_000, "{pxat}");
    assert_eq!(ours[10], ["pexpireat", "s:num", "1796661214106"]);
}

/// A model of string keys: value (if known) and expiry.
#[derive(Default, Debug)]
struct Str {
    value: Option<String>,
    expire_ms: Option<u64>,
}

fn apply(model: &mut BTreeMap<String, Str>, cmd: &[String]) {
    let key = cmd[1].clone();
    match cmd[0].to_ascii_uppercase().as_str() {
        "SET" => {
            let expire_ms = cmd.get(4).map(|t| t.parse().unwrap());
            model.insert(key.clone(), Str { value: Some(cmd[2].clone()), expire_ms });
        }
        "SETNX" if !model.contains_key(&key) => {
            model.insert(key.clone(), Str { value: Some(cmd[2].clone()), expire_ms: None });
        }
        "DEL" => {
            model.insert(key, Str::default());
        }
        "EXPIREAT" => model.entry(key).or_default().expire_ms = Some(cmd[2].parse::<u64>().unwrap() * 1000),
        "PEXPIREAT" => model.entry(key).or_default().expire_ms = Some(cmd[2].parse().unwrap()),
        "PERSIST" => model.entry(key).or_default().expire_ms = None,
        _ => {}
    }
}

#[test]
fn replayed_string_keys_end_as_on_the_master() {
    let expected: Value = serde_json::from_slice(&capture_file("expected-final.json")).unwrap();
    let mut model = BTreeMap::new();
    for cmd in rewritten("0-server-21421.bin") {
        apply(&mut model, &cmd);
    }
    let mut checked = 0;
    for (key, state) in &model {
        let Some(final_entry) = expected.get(key) else {
            assert_eq!(state.value, None, "{key} is gone on the master");
            continue;
        };
        let pttl = final_entry["pttl"].as_i64().unwrap();
        assert_eq!(state.expire_ms.is_some(), pttl > 0, "{key}: TTL");
        if let Some(value) = &state.value {
            assert_eq!(final_entry["type"], "string", "{key}");
            assert_eq!(final_entry["value"].as_str(), Some(value.as_str()), "{key}");
        }
        checked += 1;
    }
    // w:a w:ex w:px w:nx w:f w:m1 w:m2 w:t1 w:t2, and the TTLs of s:plain and s:num.
    assert_eq!(checked, 11);
}
