//! An owned model of a whole decoded RDB: every event folded into plain data, with each
//! key's value pieces concatenated. Two runs that batch differently (other
//! [`ParserConfig`]s) decode to the same model, except for the keys' raw values.

use replicant_rdb::{
    Checksum, Encoding, Event, Format, ModuleId, ParserConfig, StreamId, StreamIdmp, StreamMeta, Value,
};

use super::drive;

/// Everything an RDB held.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Dump {
    pub(crate) format: Option<Format>,
    pub(crate) aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// `SELECTDB` operands, in order.
    pub(crate) dbs: Vec<u64>,
    /// `RESIZEDB` operands, in order.
    pub(crate) resize: Vec<(u64, u64)>,
    pub(crate) slot_info: Vec<(u64, u64, u64)>,
    pub(crate) functions: Vec<Vec<u8>>,
    pub(crate) module_aux: Vec<ModuleAux>,
    pub(crate) keys: Vec<Entry>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) checksum: Option<Checksum>,
    /// Bytes of input used, up to and including the checksum.
    pub(crate) end: u64,
}

/// One `MODULE_AUX` record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModuleAux {
    pub(crate) module: ModuleId,
    pub(crate) when: u64,
    pub(crate) raw: Vec<u8>,
}

/// An empty collection the parser skipped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Skipped {
    pub(crate) db: u64,
    pub(crate) key: Vec<u8>,
    pub(crate) encoding: Encoding,
    pub(crate) offset: u64,
}

/// One key with its whole value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) db: u64,
    pub(crate) key: Vec<u8>,
    pub(crate) encoding: Encoding,
    pub(crate) expire_ms: Option<i64>,
    pub(crate) idle_secs: Option<u64>,
    pub(crate) freq: Option<u8>,
    pub(crate) meta_classes: u64,
    /// Type byte, encoded value and RDB version, when handed out raw.
    pub(crate) raw: Option<(u8, Vec<u8>, u16)>,
    pub(crate) offset: u64,
    /// Offset just past the value, from `KeyEnd`.
    pub(crate) end: u64,
    pub(crate) value: Val,
}

/// A whole value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// Nothing came yet (only while folding).
    Pending,
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>, Option<i64>)>),
    Stream(Box<Stream>),
    Module(ModuleId),
}

/// One stream entry: its ID and field/value pairs.
pub(crate) type StreamEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// A whole stream value.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Stream {
    pub(crate) entries: Vec<StreamEntry>,
    pub(crate) meta: Option<StreamMeta>,
    pub(crate) groups: Vec<Group>,
    pub(crate) idmp: Option<StreamIdmp>,
}

/// A consumer group with its pending entries and consumers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    pub(crate) name: Vec<u8>,
    pub(crate) last_id: StreamId,
    pub(crate) entries_read: Option<u64>,
    pub(crate) pending: Vec<(StreamId, i64, u64)>,
    pub(crate) consumers: Vec<Consumer>,
}

/// A consumer with its pending IDs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Consumer {
    pub(crate) name: Vec<u8>,
    pub(crate) seen_ms: i64,
    pub(crate) active_ms: Option<i64>,
    pub(crate) pending: Vec<StreamId>,
}

/// Decodes `data` (given whole) into a [`Dump`].
pub(crate) fn decode(data: &[u8]) -> Dump {
    decode_with(data, ParserConfig::default(), || usize::MAX).unwrap_or_else(|e| panic!("decoding failed: {e}"))
}

/// Decodes `data`, fed in chunks, under `cfg`.
pub(crate) fn decode_with(
    data: &[u8],
    cfg: ParserConfig,
    next_chunk: impl FnMut() -> usize,
) -> Result<Dump, replicant_rdb::Error> {
    let mut dump = Dump::default();
    let mut open: Option<Entry> = None;
    dump.end = drive(data, cfg, next_chunk, |event| fold(&mut dump, &mut open, event))?;
    assert!(open.is_none(), "a key was left open at the end");
    for pair in dump.keys.windows(2) {
        assert!(pair[1].offset >= pair[0].end, "keys overlap: {:?} and {:?}", pair[0].key, pair[1].key);
    }
    assert!(dump.keys.last().is_none_or(|k| k.end < dump.end), "a key ends after the RDB");
    Ok(dump)
}

fn fold(dump: &mut Dump, open: &mut Option<Entry>, event: &Event<'_>) {
    match *event {
        Event::Header(f) => dump.format = Some(f),
        Event::Aux { key, value } => dump.aux.push((key.to_vec(), value.to_vec())),
        Event::SelectDb { db } => dump.dbs.push(db),
        Event::ResizeDb { keys, expires } => dump.resize.push((keys, expires)),
        Event::SlotInfo { slot, keys, expires } => dump.slot_info.push((slot, keys, expires)),
        Event::Function { code } => dump.functions.push(code.to_vec()),
        Event::ModuleAux { module, when, raw } => dump.module_aux.push(ModuleAux { module, when, raw: raw.to_vec() }),
        Event::Key(k) => {
            assert!(open.is_none(), "Key while another key is open");
            let entry = Entry {
                db: k.db,
                key: k.key.to_vec(),
                encoding: k.encoding,
                expire_ms: k.expire_ms,
                idle_secs: k.idle_secs,
                freq: k.freq,
                meta_classes: k.meta_classes,
                raw: k.raw.map(|r| (r.type_byte, r.value.to_vec(), r.version)),
                offset: k.offset,
                end: 0,
                value: Val::Pending,
            };
            match k.value {
                // An inline string: the key is complete, nothing follows for it.
                Some(value) => {
                    let raw = k.raw.expect("an inline string is also raw");
                    dump.keys.push(Entry { end: raw.end, value: Val::String(value.to_vec()), ..entry });
                }
                None => *open = Some(entry),
            }
        }
        Event::Value(v) => {
            let entry = open.as_mut().expect("Value outside a key");
            add_value(&mut entry.value, v);
        }
        Event::KeyEnd { offset } => {
            let mut entry = open.take().expect("KeyEnd outside a key");
            assert!(offset > entry.offset, "KeyEnd at {offset} for a key at {}", entry.offset);
            entry.end = offset;
            dump.keys.push(entry);
        }
        Event::EmptyKeySkipped { db, key, encoding, offset } => {
            assert!(open.is_none(), "EmptyKeySkipped inside a key");
            dump.skipped.push(Skipped { db, key: key.to_vec(), encoding, offset });
        }
        Event::End(c) => dump.checksum = Some(c),
        _ => panic!("unexpected event {event:?}"),
    }
}

fn stream(val: &mut Val) -> &mut Stream {
    if *val == Val::Pending {
        *val = Val::Stream(Box::default());
    }
    match val {
        Val::Stream(s) => s,
        other => panic!("stream piece in a {other:?}"),
    }
}

fn group(val: &mut Val) -> &mut Group {
    stream(val).groups.last_mut().expect("group piece before any group")
}

fn add_value(val: &mut Val, piece: Value<'_>) {
    macro_rules! extend {
        ($variant:ident, $items:expr) => {{
            if *val == Val::Pending {
                *val = Val::$variant(Vec::new());
            }
            match val {
                Val::$variant(all) => all.extend($items),
                other => panic!("{} piece in a {other:?}", stringify!($variant)),
            }
        }};
    }
    match piece {
        Value::String(s) => extend!(String, s.iter().copied()),
        Value::List(m) => {
            assert!(!m.is_empty(), "empty batch");
            extend!(List, m.iter().map(<[u8]>::to_vec))
        }
        Value::Set(m) => {
            assert!(!m.is_empty(), "empty batch");
            extend!(Set, m.iter().map(<[u8]>::to_vec))
        }
        Value::ZSet(m) => {
            assert!(!m.is_empty(), "empty batch");
            extend!(ZSet, m.iter().map(|(k, s)| (k.to_vec(), s)))
        }
        Value::Hash(m) => {
            assert!(!m.is_empty(), "empty batch");
            extend!(Hash, m.iter().map(|(f, v, t)| (f.to_vec(), v.to_vec(), t)))
        }
        Value::StreamEntries(e) => {
            assert!(!e.is_empty(), "empty batch");
            let s = stream(val);
            s.entries.extend(e.iter().map(|e| (e.id, e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())));
        }
        Value::StreamMeta(m) => {
            let s = stream(val);
            assert!(s.meta.is_none(), "two StreamMeta");
            s.meta = Some(m);
        }
        Value::StreamGroup(g) => stream(val).groups.push(Group {
            name: g.name.to_vec(),
            last_id: g.last_id,
            entries_read: g.entries_read,
            pending: Vec::new(),
            consumers: Vec::new(),
        }),
        Value::StreamGroupPending(p) => group(val).pending.extend(p.iter()),
        Value::StreamConsumer(c) => group(val).consumers.push(Consumer {
            name: c.name.to_vec(),
            seen_ms: c.seen_ms,
            active_ms: c.active_ms,
            pending: Vec::new(),
        }),
        Value::StreamConsumerPending(ids) => {
            let consumer = group(val).consumers.last_mut().expect("consumer PEL before any consumer");
            consumer.pending.extend(ids.iter());
        }
        Value::StreamIdmp(i) => stream(val).idmp = Some(i),
        Value::Module(id) => {
            assert_eq!(*val, Val::Pending, "module piece after other pieces");
            *val = Val::Module(id);
        }
        other => panic!("unexpected value piece {other:?}"),
    }
}

impl Dump {
    /// The key named `name` (in any database); panics when absent.
    pub(crate) fn key(&self, name: &str) -> &Entry {
        self.keys
            .iter()
            .find(|k| k.key == name.as_bytes())
            .unwrap_or_else(|| panic!("no key {name:?}; keys: {:?}", self.key_names()))
    }

    /// All key names, as text.
    pub(crate) fn key_names(&self) -> Vec<String> {
        self.keys.iter().map(|k| String::from_utf8_lossy(&k.key).into_owned()).collect()
    }

    /// The value of an aux field.
    pub(crate) fn aux(&self, name: &str) -> Option<&[u8]> {
        self.aux.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| v.as_slice())
    }

    /// The same dump with the keys' raw values dropped, for comparing runs under
    /// different `raw_value_max` settings.
    pub(crate) fn without_raw(mut self) -> Dump {
        for k in &mut self.keys {
            k.raw = None;
        }
        self
    }
}

impl Entry {
    /// A string value.
    pub(crate) fn string(&self) -> &[u8] {
        match &self.value {
            Val::String(s) => s,
            other => panic!("{:?} is not a string: {other:?}", self.key),
        }
    }

    /// List elements, in order.
    pub(crate) fn list(&self) -> Vec<&[u8]> {
        match &self.value {
            Val::List(l) => l.iter().map(Vec::as_slice).collect(),
            other => panic!("{:?} is not a list: {other:?}", self.key),
        }
    }

    /// Set members, sorted.
    pub(crate) fn set(&self) -> Vec<&[u8]> {
        match &self.value {
            Val::Set(s) => {
                let mut v: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
                v.sort();
                v
            }
            other => panic!("{:?} is not a set: {other:?}", self.key),
        }
    }

    /// Sorted-set members with scores, sorted by member.
    pub(crate) fn zset(&self) -> Vec<(&[u8], f64)> {
        match &self.value {
            Val::ZSet(z) => {
                let mut v: Vec<(&[u8], f64)> = z.iter().map(|(m, s)| (m.as_slice(), *s)).collect();
                v.sort_by(|a, b| a.0.cmp(b.0));
                v
            }
            other => panic!("{:?} is not a sorted set: {other:?}", self.key),
        }
    }

    /// Hash fields with values and field expiry, sorted by field.
    pub(crate) fn hash(&self) -> Vec<(&[u8], &[u8], Option<i64>)> {
        match &self.value {
            Val::Hash(h) => {
                let mut v: Vec<(&[u8], &[u8], Option<i64>)> =
                    h.iter().map(|(f, x, t)| (f.as_slice(), x.as_slice(), *t)).collect();
                v.sort_by(|a, b| a.0.cmp(b.0));
                v
            }
            other => panic!("{:?} is not a hash: {other:?}", self.key),
        }
    }

    /// A stream value.
    pub(crate) fn stream(&self) -> &Stream {
        match &self.value {
            Val::Stream(s) => s,
            other => panic!("{:?} is not a stream: {other:?}", self.key),
        }
    }
}
