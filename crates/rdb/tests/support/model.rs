//! An owned model of a whole decoded RDB: the collector's events ([`super::collect`])
//! folded into plain data, with each key's value pieces concatenated. Two runs that batch
//! differently (other [`ParserConfig`]s) decode to the same model, except for the keys'
//! raw values. Folding checks that the events are well-formed: values only inside a key,
//! keys closed in order and not overlapping.

use std::ops::Deref;

use replicant_rdb::{Checksum, Encoding, Format, ModuleId, ParserConfig, StreamId};

use super::collect::{merge, owned, Ev, Idmp, KeyInfo, Meta, StreamEntry};
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
    pub(crate) slot_imports: Vec<SlotImport>,
    pub(crate) functions: Vec<Vec<u8>>,
    pub(crate) module_aux: Vec<ModuleAux>,
    pub(crate) keys: Vec<Entry>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) checksum: Option<Checksum>,
    /// Bytes of input used, up to and including the checksum.
    pub(crate) end: u64,
}

/// One `SLOT_IMPORT` job: its name and slot ranges.
pub(crate) type SlotImport = (Vec<u8>, Vec<(u64, u64)>);

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

/// One key with its whole value. Its [`KeyInfo`] (name, database, encoding, expiry, raw
/// value, offset) reads as fields of the entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key's `Key` event, without its inline string (that is in `value`).
    pub(crate) info: KeyInfo,
    /// Offset just past the value, from `KeyEnd`.
    pub(crate) end: u64,
    pub(crate) value: Val,
}

impl Deref for Entry {
    type Target = KeyInfo;

    fn deref(&self) -> &KeyInfo {
        &self.info
    }
}

/// A whole value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// Nothing came yet (only while folding).
    Pending,
    /// A string or a collection: all its pieces merged into one `Str`, `List`, `Set`,
    /// `ZSet` or `Hash` event.
    Data(Ev),
    Stream(Box<Stream>),
    Module(ModuleId),
}

/// A whole stream value.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Stream {
    pub(crate) entries: Vec<StreamEntry>,
    pub(crate) meta: Option<Meta>,
    pub(crate) groups: Vec<Group>,
    pub(crate) idmp: Option<Idmp>,
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

/// Decodes `data`, fed in chunks, under `cfg`. Each event is folded as it comes, so a
/// malformed one fails the test even when the input later turns out to be corrupt.
pub(crate) fn decode_with(
    data: &[u8],
    cfg: ParserConfig,
    next_chunk: impl FnMut() -> usize,
) -> Result<Dump, replicant_rdb::Error> {
    let mut dump = Dump::default();
    let mut open: Option<Entry> = None;
    dump.end = drive(data, cfg, next_chunk, |event| fold(&mut dump, &mut open, owned(event)))?;
    assert!(open.is_none(), "a key was left open at the end");
    for pair in dump.keys.windows(2) {
        assert!(pair[1].offset >= pair[0].end, "keys overlap: {:?} and {:?}", pair[0].key, pair[1].key);
    }
    assert!(dump.keys.last().is_none_or(|k| k.end < dump.end), "a key ends after the RDB");
    Ok(dump)
}

fn fold(dump: &mut Dump, open: &mut Option<Entry>, ev: Ev) {
    match ev {
        Ev::Header(flavor, version) => dump.format = Some(Format { flavor, version }),
        Ev::Aux(key, value) => dump.aux.push((key, value)),
        Ev::SelectDb(db) => dump.dbs.push(db),
        Ev::ResizeDb(keys, expires) => dump.resize.push((keys, expires)),
        Ev::SlotInfo(slot, keys, expires) => dump.slot_info.push((slot, keys, expires)),
        Ev::SlotImport { job, ranges } => dump.slot_imports.push((job, ranges)),
        Ev::Function(code) => dump.functions.push(code),
        Ev::ModuleAux { module, when, raw } => dump.module_aux.push(ModuleAux { module, when, raw }),
        Ev::Key(mut info) => {
            assert!(open.is_none(), "Key while another key is open");
            match info.inline.take() {
                // An inline string: the key is complete, nothing follows for it.
                Some((value, end)) => dump.keys.push(Entry { info, end, value: Val::Data(Ev::Str(value)) }),
                None => *open = Some(Entry { info, end: 0, value: Val::Pending }),
            }
        }
        Ev::KeyEnd(offset) => {
            let mut entry = open.take().expect("KeyEnd outside a key");
            assert!(offset > entry.offset, "KeyEnd at {offset} for a key at {}", entry.offset);
            entry.end = offset;
            dump.keys.push(entry);
        }
        Ev::Empty { db, key, encoding, offset } => {
            assert!(open.is_none(), "EmptyKeySkipped inside a key");
            dump.skipped.push(Skipped { db, key, encoding, offset });
        }
        Ev::End(c) => dump.checksum = Some(c),
        piece => add_value(&mut open.as_mut().expect("Value outside a key").value, piece),
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

fn add_value(val: &mut Val, piece: Ev) {
    match piece {
        Ev::Str(_) | Ev::List(_) | Ev::Set(_) | Ev::ZSet(_) | Ev::Hash(_) => match val {
            Val::Pending => *val = Val::Data(piece),
            Val::Data(value) => {
                if let Some(piece) = merge(value, piece) {
                    panic!("{piece:?} in a {value:?}");
                }
            }
            other => panic!("{piece:?} in a {other:?}"),
        },
        Ev::Entries(e) => stream(val).entries.extend(e),
        Ev::Meta(m) => {
            let s = stream(val);
            assert!(s.meta.is_none(), "two StreamMeta");
            s.meta = Some(m);
        }
        Ev::Group { name, last_id, entries_read } => {
            stream(val).groups.push(Group { name, last_id, entries_read, pending: Vec::new(), consumers: Vec::new() })
        }
        Ev::GroupPending(p) => group(val).pending.extend(p),
        Ev::Consumer { name, seen_ms, active_ms } => {
            group(val).consumers.push(Consumer { name, seen_ms, active_ms, pending: Vec::new() })
        }
        Ev::ConsumerPending(ids) => {
            let consumer = group(val).consumers.last_mut().expect("consumer PEL before any consumer");
            consumer.pending.extend(ids);
        }
        Ev::Idmp(i) => stream(val).idmp = Some(i),
        Ev::Module(id) => {
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
            k.info.raw = None;
        }
        self
    }
}

impl Entry {
    /// A string value.
    pub(crate) fn string(&self) -> &[u8] {
        match &self.value {
            Val::Data(Ev::Str(s)) => s,
            other => panic!("{:?} is not a string: {other:?}", self.key),
        }
    }

    /// List elements, in order.
    pub(crate) fn list(&self) -> Vec<&[u8]> {
        match &self.value {
            Val::Data(Ev::List(l)) => l.iter().map(Vec::as_slice).collect(),
            other => panic!("{:?} is not a list: {other:?}", self.key),
        }
    }

    /// Set members, sorted.
    pub(crate) fn set(&self) -> Vec<&[u8]> {
        match &self.value {
            Val::Data(Ev::Set(s)) => {
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
            Val::Data(Ev::ZSet(z)) => {
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
            Val::Data(Ev::Hash(h)) => {
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
