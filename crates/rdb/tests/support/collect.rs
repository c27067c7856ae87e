//! The one event collector of the tests: every parser event as an owned [`Ev`], with
//! [`collect`] recording a whole run and merging consecutive batches of one kind, so the
//! result does not depend on how the input or the batches were split. `synthetic/`
//! compares these events with exact expectations; [`super::model`] folds them, one by one,
//! into a per-key model.

use replicant_rdb::{Checksum, Encoding, Error, Event, Flavor, ModuleId, ParserConfig, StreamId, Value};

use super::drive;

/// The start of one key, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyInfo {
    pub(crate) db: u64,
    pub(crate) key: Vec<u8>,
    pub(crate) encoding: Encoding,
    pub(crate) expire_ms: Option<i64>,
    pub(crate) idle_secs: Option<u64>,
    pub(crate) freq: Option<u8>,
    pub(crate) meta_classes: u64,
    /// Type byte, encoded value and RDB version, when handed out raw.
    pub(crate) raw: Option<(u8, Vec<u8>, u16)>,
    /// A string that came with its key (`inline_strings`), and the offset just past it,
    /// where the key ends (no `KeyEnd` follows).
    pub(crate) inline: Option<(Vec<u8>, u64)>,
    pub(crate) offset: u64,
}

/// One hash field: name, value, expiry.
pub(crate) type Field = (Vec<u8>, Vec<u8>, Option<i64>);
/// One stream entry: its ID and field/value pairs.
pub(crate) type StreamEntry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

/// A stream's metadata (`Value::StreamMeta`), owned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Meta {
    pub(crate) length: u64,
    pub(crate) last_id: StreamId,
    pub(crate) first_id: Option<StreamId>,
    pub(crate) max_deleted_id: Option<StreamId>,
    pub(crate) entries_added: Option<u64>,
}

/// A stream's IDMP block (`Value::StreamIdmp`), owned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Idmp {
    pub(crate) duration: u64,
    pub(crate) max_entries: u64,
    pub(crate) producers: u64,
}

/// One event, owned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ev {
    Header(Flavor, u32),
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(u64),
    ResizeDb(u64, u64),
    SlotInfo(u64, u64, u64),
    SlotImport {
        job: Vec<u8>,
        ranges: Vec<(u64, u64)>,
    },
    Function(Vec<u8>),
    ModuleAux {
        module: ModuleId,
        when: u64,
        raw: Vec<u8>,
    },
    Key(KeyInfo),
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<Field>),
    Entries(Vec<StreamEntry>),
    Meta(Meta),
    Group {
        name: Vec<u8>,
        last_id: StreamId,
        entries_read: Option<u64>,
    },
    GroupPending(Vec<(StreamId, i64, u64)>),
    Consumer {
        name: Vec<u8>,
        seen_ms: i64,
        active_ms: Option<i64>,
    },
    ConsumerPending(Vec<StreamId>),
    Idmp(Idmp),
    Module(ModuleId),
    /// The offset just past the key's value.
    KeyEnd(u64),
    Empty {
        db: u64,
        key: Vec<u8>,
        encoding: Encoding,
        offset: u64,
    },
    End(Checksum),
}

/// The owned form of one event. Panics on an empty batch, which the parser must never
/// hand out.
pub(crate) fn owned(event: &Event<'_>) -> Ev {
    match *event {
        Event::Header(f) => Ev::Header(f.flavor, f.version),
        Event::Aux { key, value } => Ev::Aux(key.to_vec(), value.to_vec()),
        Event::SelectDb { db } => Ev::SelectDb(db),
        Event::ResizeDb { keys, expires } => Ev::ResizeDb(keys, expires),
        Event::SlotInfo { slot, keys, expires } => Ev::SlotInfo(slot, keys, expires),
        Event::SlotImport { job, ranges } => Ev::SlotImport { job: job.to_vec(), ranges: ranges.iter().collect() },
        Event::Function { code } => Ev::Function(code.to_vec()),
        Event::ModuleAux { module, when, raw } => Ev::ModuleAux { module, when, raw: raw.to_vec() },
        Event::Key(k) => Ev::Key(KeyInfo {
            db: k.db,
            key: k.key.to_vec(),
            encoding: k.encoding,
            expire_ms: k.expire_ms,
            idle_secs: k.idle_secs,
            freq: k.freq,
            meta_classes: k.meta_classes,
            raw: k.raw.map(|r| (r.type_byte, r.value.to_vec(), r.version)),
            inline: k.value.map(|v| (v.to_vec(), k.raw.expect("an inline string is also raw").end)),
            offset: k.offset,
        }),
        Event::Value(v) => owned_value(v),
        Event::KeyEnd { offset } => Ev::KeyEnd(offset),
        Event::EmptyKeySkipped { db, key, encoding, offset } => Ev::Empty { db, key: key.to_vec(), encoding, offset },
        Event::End(c) => Ev::End(c),
        ref other => panic!("unexpected event {other:?}"),
    }
}

fn owned_value(v: Value<'_>) -> Ev {
    let (batch, empty) = match v {
        Value::List(m) => (Ev::List(m.iter().map(<[u8]>::to_vec).collect()), m.is_empty()),
        Value::Set(m) => (Ev::Set(m.iter().map(<[u8]>::to_vec).collect()), m.is_empty()),
        Value::ZSet(s) => (Ev::ZSet(s.iter().map(|(m, sc)| (m.to_vec(), sc)).collect()), s.is_empty()),
        Value::Hash(f) => (Ev::Hash(f.iter().map(|(k, v, e)| (k.to_vec(), v.to_vec(), e)).collect()), f.is_empty()),
        Value::StreamEntries(es) => (
            Ev::Entries(
                es.iter().map(|e| (e.id, e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())).collect(),
            ),
            es.is_empty(),
        ),
        other => return owned_piece(other),
    };
    assert!(!empty, "empty batch");
    batch
}

/// The value pieces that are not batches of elements.
fn owned_piece(v: Value<'_>) -> Ev {
    match v {
        Value::String(s) => Ev::Str(s.to_vec()),
        Value::StreamMeta(m) => Ev::Meta(Meta {
            length: m.length,
            last_id: m.last_id,
            first_id: m.first_id,
            max_deleted_id: m.max_deleted_id,
            entries_added: m.entries_added,
        }),
        Value::StreamGroup(g) => Ev::Group { name: g.name.to_vec(), last_id: g.last_id, entries_read: g.entries_read },
        Value::StreamGroupPending(p) => Ev::GroupPending(p.iter().collect()),
        Value::StreamConsumer(c) => Ev::Consumer { name: c.name.to_vec(), seen_ms: c.seen_ms, active_ms: c.active_ms },
        Value::StreamConsumerPending(ids) => Ev::ConsumerPending(ids.iter().collect()),
        Value::StreamIdmp(i) => {
            Ev::Idmp(Idmp { duration: i.duration, max_entries: i.max_entries, producers: i.producers })
        }
        Value::Module(id) => Ev::Module(id),
        other => panic!("unexpected value piece {other:?}"),
    }
}

/// Merges `piece` into `into` when both are pieces of one batch kind (string pieces,
/// elements, stream entries, pending entries); otherwise hands `piece` back.
pub(crate) fn merge(into: &mut Ev, piece: Ev) -> Option<Ev> {
    match (into, piece) {
        (Ev::Str(a), Ev::Str(b)) => a.extend(b),
        (Ev::List(a), Ev::List(b)) | (Ev::Set(a), Ev::Set(b)) => a.extend(b),
        (Ev::ZSet(a), Ev::ZSet(b)) => a.extend(b),
        (Ev::Hash(a), Ev::Hash(b)) => a.extend(b),
        (Ev::Entries(a), Ev::Entries(b)) => a.extend(b),
        (Ev::GroupPending(a), Ev::GroupPending(b)) => a.extend(b),
        (Ev::ConsumerPending(a), Ev::ConsumerPending(b)) => a.extend(b),
        (_, piece) => return Some(piece),
    }
    None
}

/// Appends `ev`, merged into the previous event when both are pieces of one batch kind.
fn push(out: &mut Vec<Ev>, ev: Ev) {
    let rest = match out.last_mut() {
        Some(last) => merge(last, ev),
        None => Some(ev),
    };
    out.extend(rest);
}

/// What a whole run handed out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Collected {
    /// Every event, consecutive batches of one kind merged.
    pub(crate) events: Vec<Ev>,
    /// Bytes of input used, up to and including the checksum.
    pub(crate) end: u64,
}

/// Feeds `data` in chunks whose sizes `next_chunk` chooses, under `cfg`, and records every
/// event, or returns the first error.
pub(crate) fn collect(data: &[u8], cfg: ParserConfig, next_chunk: impl FnMut() -> usize) -> Result<Collected, Error> {
    let mut events = Vec::new();
    let end = drive(data, cfg, next_chunk, |event| push(&mut events, owned(event)))?;
    Ok(Collected { events, end })
}

/// All events of an input that must parse to its last byte. Fed whole, and one byte at a
/// time with one-item batches: both must give the same events.
pub(crate) fn parse_ok(data: &[u8]) -> Vec<Ev> {
    let whole = collect(data, ParserConfig::default(), || usize::MAX);
    let bytewise = collect(data, ParserConfig::default().batch_items(1), || 1);
    match (whole, bytewise) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "events differ when fed one byte at a time");
            assert_eq!(a.end, data.len() as u64, "the RDB ended before the input did");
            a.events
        }
        (whole, bytewise) => panic!("parse failed: whole input gave {whole:?}, byte-at-a-time gave {bytewise:?}"),
    }
}

/// The error of an input that must not parse (fed whole).
pub(crate) fn parse_err(data: &[u8]) -> Error {
    match collect(data, ParserConfig::default(), || usize::MAX) {
        Ok(run) => panic!("parse succeeded: {run:#?}"),
        Err(e) => e,
    }
}

/// Bytes from text, for terse expectations.
pub(crate) fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A stream ID.
pub(crate) fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}
