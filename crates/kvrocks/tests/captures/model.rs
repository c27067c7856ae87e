//! A tiny replay of decoded updates into a keyspace, compared with the expected datasets:
//! proof that the decoding carries everything a converter needs.

use std::collections::BTreeMap;

use replicant_kvrocks::{Change, Extra, JsonFormat, RedisType, StreamKey, SubKey, SubValue, Update};
use serde_json::{json, Value};

type Key = (Vec<u8>, Vec<u8>);
/// (namespace, key, version, cf id, raw sub_key).
type SubId = (Vec<u8>, Vec<u8>, u64, u32, Vec<u8>);

struct Meta {
    redis_type: RedisType,
    expire_ms: u64,
    version: u64,
    size: u64,
    payload: Vec<u8>,
}

/// What a live subkey holds, owned.
#[derive(Debug, Clone)]
enum Sub {
    Field(Vec<u8>, Vec<u8>),
    Member(Vec<u8>),
    Scored(Vec<u8>, f64),
    Element(u64, Vec<u8>),
    Id(u64),
    Segment(u64, Vec<u8>),
    Entry(String, Vec<Vec<u8>>),
    Group(Vec<u8>, String, u64),
    Ignored,
}

#[derive(Default)]
pub(crate) struct Model {
    meta: BTreeMap<Key, Meta>,
    subs: BTreeMap<SubId, Sub>,
}

impl Model {
    pub(crate) fn apply(&mut self, update: &Update<'_>) {
        for entry in update.entries() {
            match &entry.change {
                Change::PutMetadata { key, metadata: m } => {
                    let payload = match m.extra {
                        Extra::String(v) => v.to_vec(),
                        Extra::Json { format: JsonFormat::Json, payload } => payload.to_vec(),
                        _ => Vec::new(),
                    };
                    let meta = Meta {
                        redis_type: m.redis_type,
                        expire_ms: m.expire_ms,
                        version: m.version,
                        size: m.size,
                        payload,
                    };
                    self.meta.insert((key.namespace.to_vec(), key.key.to_vec()), meta);
                }
                Change::DeleteMetadata { key } => {
                    self.meta.remove(&(key.namespace.to_vec(), key.key.to_vec()));
                }
                Change::PutSubkey { cf, key, sub, value } => {
                    let id = (key.namespace.to_vec(), key.key.to_vec(), key.version, cf.id(), key.sub_key.to_vec());
                    self.subs.insert(id, owned(sub, value));
                }
                Change::DeleteSubkey { cf, key, .. } => {
                    let id = (key.namespace.to_vec(), key.key.to_vec(), key.version, cf.id(), key.sub_key.to_vec());
                    self.subs.remove(&id);
                }
                change @ Change::DeleteRange { .. } => {
                    let ns = change.flushed_namespace().expect("only FLUSHDB in the capture");
                    self.meta.retain(|(n, _), _| n != ns);
                }
                other => panic!("unexpected change in the capture: {other:?}"),
            }
        }
    }

    /// Compares the live keys with an `expected-*.json` dataset.
    pub(crate) fn check(&self, expected: &Value) {
        let now = capture_time(expected);
        for (ns, want) in expected["namespaces"].as_object().unwrap() {
            let ns_bytes = if ns == "default" { b"__namespace".to_vec() } else { ns.as_bytes().to_vec() };
            let live: Vec<_> = self
                .meta
                .iter()
                .filter(|((n, _), m)| *n == ns_bytes && !dead(m, now))
                .map(|((_, k), m)| (k.clone(), m))
                .collect();
            let want_keys = want["keys"].as_array().unwrap();
            let got_names: Vec<_> = live.iter().map(|(k, _)| bytes_json(k)).collect();
            let want_names: Vec<_> = want_keys.iter().map(|k| k["key"].clone()).collect();
            assert_eq!(got_names, want_names, "keys of namespace {ns}");
            for ((key, meta), want) in live.iter().zip(want_keys) {
                let what = format!("{ns}/{}", want["key"]);
                assert_eq!(meta.redis_type.name(), want["type"], "{what}");
                let pexpiretime = if meta.expire_ms == 0 { json!(-1) } else { json!(meta.expire_ms) };
                assert_eq!(pexpiretime, want["pexpiretime"], "{what}");
                self.check_value(&ns_bytes, key, meta, &want["value"], &what);
            }
        }
    }

    fn live_subs(&self, ns: &[u8], key: &[u8], version: u64) -> Vec<Sub> {
        self.subs
            .iter()
            .filter(|((n, k, v, _, _), _)| n == ns && k == key && *v == version)
            .map(|(_, s)| s.clone())
            .collect()
    }

    fn check_value(&self, ns: &[u8], key: &[u8], meta: &Meta, want: &Value, what: &str) {
        let subs = self.live_subs(ns, key, meta.version);
        match meta.redis_type {
            RedisType::String => assert_eq!(bytes_json(&meta.payload), want["get"], "{what}"),
            RedisType::Json => assert_eq!(bytes_json(&meta.payload), want["json_get"], "{what}"),
            RedisType::Hash => {
                let mut got: Vec<_> = pick(&subs, |s| match s {
                    Sub::Field(f, v) => Some(json!([bytes_json(f), bytes_json(v)])),
                    _ => None,
                });
                got.sort_by_key(|p| p[0].to_string());
                let mut want = want["hgetall"].as_array().unwrap().clone();
                want.sort_by_key(|p| p[0].to_string());
                assert_eq!(got, want, "{what}");
            }
            RedisType::Set => {
                let got = pick(&subs, |s| if let Sub::Member(m) = s { Some(bytes_json(m)) } else { None });
                assert_eq!(Value::from(got), want["smembers_sorted"], "{what}");
            }
            RedisType::ZSet => {
                let mut got = pick(&subs, |s| if let Sub::Scored(m, sc) = s { Some((*sc, m.clone())) } else { None });
                got.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let want: Vec<_> = want["zrange_withscores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        (p[1].as_str().unwrap().parse::<f64>().unwrap(), p[0].as_str().unwrap().as_bytes().to_vec())
                    })
                    .collect();
                assert_eq!(got, want, "{what}");
                assert_eq!(meta.size as usize, want.len(), "{what}");
            }
            RedisType::List => {
                let mut got = pick(&subs, |s| if let Sub::Element(i, e) = s { Some((*i, e.clone())) } else { None });
                got.sort();
                let got: Vec<_> = got.iter().map(|(_, e)| bytes_json(e)).collect();
                assert_eq!(Value::from(got), want["lrange"], "{what}");
            }
            RedisType::Sortedint => {
                let got = pick(&subs, |s| if let Sub::Id(id) = s { Some(json!(id.to_string())) } else { None });
                assert_eq!(Value::from(got), want["sirange"], "{what}");
            }
            RedisType::Bitmap => {
                let mut bits = Vec::new();
                for sub in &subs {
                    if let Sub::Segment(offset, bytes) = sub {
                        for (i, byte) in bytes.iter().enumerate() {
                            bits.extend((0..8).filter(|b| byte & (1 << b) != 0).map(|b| (offset + i as u64) * 8 + b));
                        }
                    }
                }
                bits.sort();
                assert_eq!(Value::from(bits), want["set_bits"], "{what}");
            }
            RedisType::Stream => {
                let mut entries = pick(&subs, |s| {
                    if let Sub::Entry(id, f) = s {
                        Some((id_key(id), id.clone(), f.clone()))
                    } else {
                        None
                    }
                });
                entries.sort();
                let got: Vec<_> = entries
                    .iter()
                    .map(|(_, id, f)| json!([id, f.iter().map(|x| bytes_json(x)).collect::<Vec<_>>()]))
                    .collect();
                assert_eq!(Value::from(got), want["xrange"], "{what}");
                let mut groups = pick(&subs, |s| {
                    if let Sub::Group(g, last, pending) = s {
                        Some((g.clone(), last.clone(), *pending))
                    } else {
                        None
                    }
                });
                groups.sort();
                let want_groups: Vec<_> = want["xinfo_groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| {
                        (
                            g[1].as_str().unwrap().as_bytes().to_vec(),
                            g[7].as_str().unwrap().to_owned(),
                            g[5].as_u64().unwrap(),
                        )
                    })
                    .collect();
                assert_eq!(groups, want_groups, "{what}");
            }
            RedisType::BloomFilter | RedisType::HyperLogLog => {}
        }
    }
}

fn owned(sub: &SubKey<'_>, value: &SubValue<'_>) -> Sub {
    match (sub, value) {
        (SubKey::HashField(f), SubValue::Bytes(v)) => Sub::Field(f.to_vec(), v.to_vec()),
        (SubKey::SetMember(m), _) => Sub::Member(m.to_vec()),
        (SubKey::ZSetMember(m), SubValue::Score(s)) => Sub::Scored(m.to_vec(), *s),
        (SubKey::ListIndex(i), SubValue::Bytes(e)) => Sub::Element(*i, e.to_vec()),
        (SubKey::SortedintId(id), _) => Sub::Id(*id),
        (SubKey::BitmapSegment(o), SubValue::Bytes(b)) => Sub::Segment(*o, b.to_vec()),
        (SubKey::Stream(StreamKey::Entry(id)), SubValue::StreamEntry(f)) => {
            Sub::Entry(id.to_string(), f.iter().map(<[u8]>::to_vec).collect())
        }
        (SubKey::Stream(StreamKey::Group { group }), SubValue::Group(g)) => {
            Sub::Group(group.to_vec(), g.last_delivered_id.to_string(), g.pending_number)
        }
        (SubKey::ZSetScore { .. }, _)
        | (SubKey::BloomFilter(_), _)
        | (SubKey::HllSegment(_), _)
        | (SubKey::Stream(StreamKey::Consumer { .. } | StreamKey::Pel { .. }), _) => Sub::Ignored,
        other => panic!("subkey decoded without the expected value: {other:?}"),
    }
}

fn pick<T>(subs: &[Sub], f: impl Fn(&Sub) -> Option<T>) -> Vec<T> {
    subs.iter().filter_map(f).collect()
}

fn id_key(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap();
    (ms.parse().unwrap(), seq.parse().unwrap())
}

fn dead(meta: &Meta, now: u64) -> bool {
    (!meta.redis_type.is_emptyable() && meta.size == 0) || (meta.expire_ms != 0 && meta.expire_ms < now)
}

/// The capture's clock: `pexpiretime - pttl` of a key with a TTL.
fn capture_time(expected: &Value) -> u64 {
    expected["namespaces"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|ns| ns["keys"].as_array().unwrap())
        .find_map(|k| {
            let pttl = k["pttl"].as_i64()?;
            (pttl > 0).then(|| k["pexpiretime"].as_u64().unwrap() - pttl as u64)
        })
        .unwrap()
}

/// The README's rule: a string if UTF-8, else `{"hex": ...}`.
fn bytes_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}
