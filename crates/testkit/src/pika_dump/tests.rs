//! Dumps written by [`PikaDump`], read by `replicant_pika::dump`, applied to a real
//! `redis-server`: every key, value and expiry must be what was written (`v4`, `v35`); what
//! does not decode is an error naming it (`errors`). Also the writer's comparators against
//! the reader's, key for key.

mod errors;
mod v35;
mod v4;

use std::cmp::Ordering;
use std::path::Path;

use replicant_pika::dump::{self, read_dump, DumpFormat, DumpLayout, DumpSummary, SkippedKey};

use super::compare;
use super::encode::*;
use crate::dataset::{snapshot, Blob, Data, Entry, HashField, Snapshot};
use crate::RedisServer;

/// 2100-01-01, in ms: a far expiry.
const FAR: u64 = 4_102_444_800_000;

/// What loading a dump did.
struct Loaded {
    summary: DumpSummary,
    skipped: Vec<SkippedKey>,
}

/// Reads the dump in `dir` as database `db` and applies every command to `server`.
fn load(server: &RedisServer, dir: &Path, db: u64, format: DumpFormat) -> Loaded {
    let mut conn = server.conn();
    let mut skipped = Vec::new();
    let layout = DumpLayout::new(db, format);
    let summary = read_dump(dir, &layout, super::now_ms(), |piece| {
        assert_eq!(piece.db, db);
        redis::cmd("SELECT").arg(piece.db).query::<()>(&mut conn).unwrap();
        for args in &piece.commands {
            let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap());
            for arg in &args[1..] {
                cmd.arg(arg.as_slice());
            }
            if let Err(e) = cmd.query::<redis::Value>(&mut conn) {
                let text: Vec<String> = args.iter().take(4).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
                panic!("{text:?}… failed: {e}");
            }
        }
        skipped.extend(piece.skipped);
        true
    })
    .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    Loaded { summary, skipped }
}

fn entry(snap: &Snapshot, db: u32, key: &[u8]) -> Entry {
    snap.get(db, key).unwrap_or_else(|| panic!("db {db}: no key {:?}", String::from_utf8_lossy(key))).clone()
}

fn b(bytes: &[u8]) -> Blob {
    Blob(bytes.to_vec())
}

fn string(value: &[u8], expire_at_ms: i64) -> Entry {
    Entry { data: Data::String(b(value)), expire_at_ms }
}

fn hash(fields: &[(&[u8], &[u8])], expire_at_ms: i64) -> Entry {
    let mut fields: Vec<HashField> =
        fields.iter().map(|(f, v)| HashField { field: b(f), value: b(v), expire_at_ms: -1 }).collect();
    fields.sort_by(|x, y| x.field.cmp(&y.field));
    Entry { data: Data::Hash(fields), expire_at_ms }
}

fn set(members: &[&[u8]], expire_at_ms: i64) -> Entry {
    let mut members: Vec<Blob> = members.iter().map(|m| b(m)).collect();
    members.sort();
    Entry { data: Data::Set(members), expire_at_ms }
}

fn list(elements: &[&[u8]], expire_at_ms: i64) -> Entry {
    Entry { data: Data::List(elements.iter().map(|e| b(e)).collect()), expire_at_ms }
}

/// A zset's (member, score) in rank order, the scores parsed back from the server's text:
/// equal to the written doubles bit for bit.
fn assert_zset(got: &Entry, members: &[(f64, &[u8])], expire_at_ms: i64) {
    let Data::ZSet(got_members) = &got.data else { panic!("not a zset: {got:?}") };
    let mut want: Vec<(f64, &[u8])> = members.to_vec();
    want.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap().then(x.1.cmp(y.1)));
    let parsed: Vec<(u64, Vec<u8>)> = got_members
        .iter()
        .map(|(m, s)| {
            let text = String::from_utf8_lossy(&s.0).to_lowercase();
            (text.parse::<f64>().unwrap_or_else(|_| panic!("score {text}")).to_bits(), m.0.clone())
        })
        .collect();
    let want: Vec<(u64, Vec<u8>)> = want.iter().map(|(s, m)| (s.to_bits(), m.to_vec())).collect();
    assert_eq!(parsed, want);
    assert_eq!(got.expire_at_ms, expire_at_ms);
}

/// Random-looking keys of every shape, for the comparator cross-check.
fn sample_keys(make: impl Fn(&[u8], u64, u64, f64, &[u8]) -> Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let names: [&[u8]; 5] = [b"", b"a", b"a\0", b"ab", b"\0\0b"];
    let versions = [0, 1, 255, 256, (1 << 32) - 1, 1 << 32];
    let indexes = [0, 1, INITIAL_LEFT_INDEX, INITIAL_RIGHT_INDEX, u64::MAX];
    let scores = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 0.1, 1e300, f64::INFINITY];
    let members: [&[u8]; 4] = [b"", b"m", b"m\0", b"n"];
    for _ in 0..400 {
        let r = next();
        let pick = |n: usize, shift: u32| (r >> shift) as usize % n;
        out.push(make(
            names[pick(5, 0)],
            versions[pick(6, 8)],
            indexes[pick(5, 16)],
            scores[pick(7, 24)],
            members[pick(4, 32)],
        ));
    }
    out
}

/// The writer's comparators (`compare`) and the reader's agree on every pair of keys of each
/// shape Pika writes.
#[test]
fn the_writers_comparators_agree_with_the_readers() {
    type Cmp = fn(&[u8], &[u8]) -> Ordering;
    let cases: [(Vec<Vec<u8>>, Cmp, Cmp); 4] = [
        (sample_keys(|k, v, i, _, _| floyd_list_key(k, v, i)), compare::floyd_lists, dump::floyd_lists_compare),
        (
            sample_keys(|k, v, _, s, m| floyd_score_key(k, v, s, m)),
            compare::floyd_zset_score,
            dump::floyd_zset_score_compare,
        ),
        (sample_keys(|k, v, i, _, _| bw_list_key(k, v as i32, i)), compare::bw_lists, dump::blackwidow_lists_compare),
        (
            sample_keys(|k, v, _, s, m| bw_score_key(k, v as i32, s, m)),
            compare::bw_zset_score,
            dump::blackwidow_zset_score_compare,
        ),
    ];
    for (keys, writer, reader) in cases {
        for a in &keys {
            for b in &keys {
                assert_eq!(writer(a, b), reader(a, b), "{a:?} vs {b:?}");
            }
        }
    }
}

/// Every key of database `db` in `snap`, by name.
fn names(snap: &Snapshot, db: u32) -> Vec<Vec<u8>> {
    snap.iter().filter(|(d, _, _)| *d == db).map(|(_, k, _)| k.0.clone()).collect()
}

/// Captures the server.
fn image(server: &RedisServer) -> Snapshot {
    snapshot(&mut server.conn())
}
