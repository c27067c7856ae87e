//! A builder of WriteBatch reps in Kvrocks' encoding, for the converters' unit tests,
//! and the tests of what does not belong to one type.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use super::{convert_with, Options};
use crate::key::encode_double;
use crate::{KeyLayout, Update};

pub(crate) const NS: &[u8] = b"ns";
pub(crate) const VERSION: u64 = 0x3000_0000_0000_0001;

/// A WriteBatch rep under construction (sequence 1; the count is filled in by `finish`).
#[derive(Default)]
pub(crate) struct Rep {
    records: Vec<u8>,
    count: u32,
}

fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varstring(out: &mut Vec<u8>, bytes: &[u8]) {
    varint(out, bytes.len());
    out.extend_from_slice(bytes);
}

impl Rep {
    pub(crate) fn log(mut self, blob: &str) -> Self {
        self.records.push(3);
        varstring(&mut self.records, blob.as_bytes());
        self
    }

    pub(crate) fn put(mut self, cf: u32, key: &[u8], value: &[u8]) -> Self {
        self.tag(cf, 1, 5);
        varstring(&mut self.records, key);
        varstring(&mut self.records, value);
        self
    }

    pub(crate) fn del(mut self, cf: u32, key: &[u8]) -> Self {
        self.tag(cf, 0, 4);
        varstring(&mut self.records, key);
        self
    }

    pub(crate) fn range(mut self, begin: &[u8], end: &[u8]) -> Self {
        self.tag(1, 0x0f, 0x0e);
        varstring(&mut self.records, begin);
        varstring(&mut self.records, end);
        self
    }

    fn tag(&mut self, cf: u32, plain: u8, with_cf: u8) {
        self.count += 1;
        if cf == 0 {
            self.records.push(plain);
        } else {
            self.records.push(with_cf);
            varint(&mut self.records, cf as usize);
        }
    }

    pub(crate) fn finish(&self) -> Vec<u8> {
        let mut out = 1u64.to_le_bytes().to_vec();
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&self.records);
        out
    }
}

pub(crate) fn meta_key(key: &str) -> Vec<u8> {
    let mut out = vec![NS.len() as u8];
    out.extend_from_slice(NS);
    out.extend_from_slice(key.as_bytes());
    out
}

pub(crate) fn sub_key(key: &str, sub: &[u8]) -> Vec<u8> {
    let mut out = vec![NS.len() as u8];
    out.extend_from_slice(NS);
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(sub);
    out
}

/// A 64-bit-encoded metadata value of a collection type.
pub(crate) fn meta(type_id: u8, expire_ms: u64, size: u64, extra: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | type_id];
    out.extend_from_slice(&expire_ms.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(extra);
    out
}

pub(crate) fn score(value: f64) -> Vec<u8> {
    encode_double(value).to_be_bytes().to_vec()
}

/// Converts `rep` and renders the commands as lossy strings.
pub(crate) fn commands_with(rep: &Rep, options: Options) -> (Vec<Vec<String>>, Vec<&'static str>) {
    let bytes = rep.finish();
    let update = Update::decode(&bytes, KeyLayout::STANDALONE).unwrap();
    let out = convert_with(&update, options);
    assert!(out.commands.iter().all(|c| c.namespace == NS || c.namespace == crate::DEFAULT_NAMESPACE));
    let commands =
        out.commands.iter().map(|c| c.args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()).collect();
    (commands, out.skipped.iter().map(|s| s.what).collect())
}

pub(crate) fn commands(rep: &Rep) -> Vec<Vec<String>> {
    let (commands, skipped) = commands_with(rep, Options::default());
    assert!(skipped.is_empty(), "{skipped:?}");
    commands
}

pub(crate) fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|s| (*s).to_owned()).collect()).collect()
}

#[test]
fn strings_and_their_expiry() {
    let mut value = vec![0x81];
    value.extend_from_slice(&4_102_444_800_999u64.to_be_bytes());
    value.extend_from_slice(b"v");
    let rep = Rep::default().log("0 8").put(1, &meta_key("s"), &value);
    assert_eq!(commands(&rep), strings(&[&["SET", "s", "v"], &["PEXPIREAT", "s", "4102444800999"]]));
    let rep = Rep::default().log("0").del(1, &meta_key("s"));
    assert_eq!(commands(&rep), strings(&[&["DEL", "s"]]));
}

#[test]
fn expire_and_persist_on_a_collection() {
    let rep = Rep::default().log("0 8").put(1, &meta_key("h"), &meta(2, 4_102_444_800_000, 2, b""));
    assert_eq!(commands(&rep), strings(&[&["PEXPIREAT", "h", "4102444800000"]]));
    let rep = Rep::default().log("0 8").put(1, &meta_key("h"), &meta(2, 0, 2, b""));
    assert_eq!(commands(&rep), strings(&[&["PERSIST", "h"]]));
}

#[test]
fn json_replaces_the_key() {
    let mut value = vec![0x8a];
    value.extend_from_slice(&5u64.to_be_bytes());
    value.extend_from_slice(b"\x00{\"a\":1}");
    let rep = Rep::default().log("10").put(1, &meta_key("j"), &value);
    let want: &[&[&str]] = &[&["DEL", "j"], &["JSON.SET", "j", "$", "{\"a\":1}"], &["PEXPIREAT", "j", "5"]];
    assert_eq!(commands(&rep), strings(want));
    value[9] = 1;
    let (cmds, skipped) = commands_with(&Rep::default().log("10").put(1, &meta_key("j"), &value), Options::default());
    assert!(cmds.is_empty());
    assert_eq!(skipped, ["JSON stored as CBOR (no transcoder to JSON text)"]);
}

#[test]
fn flushdb_flushall_and_slot_ranges() {
    assert_eq!(commands(&Rep::default().range(b"\x02ns", b"\x02nt")), strings(&[&["FLUSHDB"]]));
    assert_eq!(commands(&Rep::default().range(b"\x02nsa", b"\x03ns2zz")), strings(&[&["FLUSHALL"]]));
    let (cmds, skipped) =
        commands_with(&Rep::default().range(b"\x02ns\x00\x01", b"\x02ns\x00\x05"), Options::default());
    assert!(cmds.is_empty());
    assert_eq!(skipped, ["DeleteRange of a cluster slot range"]);
}

#[test]
fn a_flush_inside_a_transaction_keeps_its_place() {
    let mut value = vec![0x81];
    value.extend_from_slice(&0u64.to_be_bytes());
    value.extend_from_slice(b"1");
    let rep = Rep::default().log("1").put(1, &meta_key("a"), &value).range(b"\x02ns", b"\x02nt");
    assert_eq!(commands(&rep), strings(&[&["SET", "a", "1"], &["FLUSHDB"]]));
}

#[test]
fn publish_only_when_asked() {
    let rep = Rep::default().put(3, b"chan", b"msg");
    let (cmds, skipped) = commands_with(&rep, Options::default());
    assert!(cmds.is_empty());
    assert_eq!(skipped, ["PUBLISH (forwarding is off in Options)"]);
    let (cmds, _) = commands_with(&rep, Options::default().with_publish(true));
    assert_eq!(cmds, strings(&[&["PUBLISH", "chan", "msg"]]));
}

#[test]
fn scripts_and_functions_from_the_propagate_cf() {
    let rep = Rep::default().put(4, b"script", b"*2\r\n$6\r\nscript\r\n$5\r\nflush\r\n");
    assert_eq!(commands(&rep), strings(&[&["script", "flush"]]));
    let rep = Rep::default().put(4, b"lua_f_abc", b"return 1");
    assert_eq!(commands(&rep), strings(&[&["SCRIPT", "LOAD", "return 1"]]));
    let rep = Rep::default().put(4, b"lua_lib_code_lib", b"#!lua name=lib");
    assert_eq!(commands(&rep), strings(&[&["FUNCTION", "LOAD", "REPLACE", "#!lua name=lib"]]));
    for (key, value) in [(&b"script"[..], &b"*2\r\n$6\r\nscript\r\n"[..]), (b"__namespace_keys__", b"{}")] {
        let (cmds, skipped) = commands_with(&Rep::default().put(4, key, value), Options::default());
        assert!(cmds.is_empty());
        assert_eq!(skipped.len(), 1);
    }
}
