//! Runs the parser over a byte string (whole, or in chunks of a given size) and records
//! every event as an owned value, merging consecutive batches of the same kind so the
//! result does not depend on how the input or the batches were split.

use replicant_rdb::{
    Checksum, Encoding, Error, Event, Flavor, ModuleId, Parser, ParserConfig, Status, StreamId, Value,
};

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
    /// Type byte, encoded value, RDB version.
    pub(crate) raw: Option<(u8, Vec<u8>, u16)>,
    pub(crate) offset: u64,
}

pub(crate) type Field = (Vec<u8>, Vec<u8>, Option<i64>);
pub(crate) type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

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
    Entries(Vec<Entry>),
    Meta {
        length: u64,
        last_id: StreamId,
        first_id: Option<StreamId>,
        max_deleted_id: Option<StreamId>,
        entries_added: Option<u64>,
    },
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
    Idmp {
        duration: u64,
        max_entries: u64,
        producers: u64,
    },
    Module(ModuleId),
    KeyEnd,
    Empty {
        key: Vec<u8>,
        encoding: Encoding,
    },
    End(Checksum),
}

/// Appends `ev`, merging it into the previous event when both are pieces of one batch
/// kind.
fn push(out: &mut Vec<Ev>, ev: Ev) {
    match (out.last_mut(), ev) {
        (Some(Ev::Str(a)), Ev::Str(b)) => a.extend(b),
        (Some(Ev::List(a)), Ev::List(b)) => a.extend(b),
        (Some(Ev::Set(a)), Ev::Set(b)) => a.extend(b),
        (Some(Ev::ZSet(a)), Ev::ZSet(b)) => a.extend(b),
        (Some(Ev::Hash(a)), Ev::Hash(b)) => a.extend(b),
        (Some(Ev::Entries(a)), Ev::Entries(b)) => a.extend(b),
        (Some(Ev::GroupPending(a)), Ev::GroupPending(b)) => a.extend(b),
        (Some(Ev::ConsumerPending(a)), Ev::ConsumerPending(b)) => a.extend(b),
        (_, ev) => out.push(ev),
    }
}

fn owned(event: &Event<'_>) -> Ev {
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
            offset: k.offset,
        }),
        Event::Value(v) => owned_value(v),
        Event::KeyEnd { .. } => Ev::KeyEnd,
        Event::EmptyKeySkipped { key, encoding, .. } => Ev::Empty { key: key.to_vec(), encoding },
        Event::End(c) => Ev::End(c),
        ref other => panic!("event this test does not know: {other:?}"),
    }
}

fn owned_value(v: Value<'_>) -> Ev {
    match v {
        Value::String(s) => Ev::Str(s.to_vec()),
        Value::List(m) => Ev::List(m.iter().map(<[u8]>::to_vec).collect()),
        Value::Set(m) => Ev::Set(m.iter().map(<[u8]>::to_vec).collect()),
        Value::ZSet(s) => Ev::ZSet(s.iter().map(|(m, sc)| (m.to_vec(), sc)).collect()),
        Value::Hash(f) => Ev::Hash(f.iter().map(|(k, v, e)| (k.to_vec(), v.to_vec(), e)).collect()),
        Value::StreamEntries(es) => Ev::Entries(
            es.iter().map(|e| (e.id, e.fields().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())).collect(),
        ),
        Value::StreamMeta(m) => Ev::Meta {
            length: m.length,
            last_id: m.last_id,
            first_id: m.first_id,
            max_deleted_id: m.max_deleted_id,
            entries_added: m.entries_added,
        },
        Value::StreamGroup(g) => Ev::Group { name: g.name.to_vec(), last_id: g.last_id, entries_read: g.entries_read },
        Value::StreamGroupPending(p) => Ev::GroupPending(p.iter().collect()),
        Value::StreamConsumer(c) => Ev::Consumer { name: c.name.to_vec(), seen_ms: c.seen_ms, active_ms: c.active_ms },
        Value::StreamConsumerPending(ids) => Ev::ConsumerPending(ids.iter().collect()),
        Value::StreamIdmp(i) => Ev::Idmp { duration: i.duration, max_entries: i.max_entries, producers: i.producers },
        Value::Module(id) => Ev::Module(id),
        other => panic!("value this test does not know: {other:?}"),
    }
}

/// Feeds `data` in chunks of `chunk` bytes (the caller keeps unconsumed bytes at the
/// front of its buffer) and returns every event, or the first error.
pub(crate) fn run_chunked(data: &[u8], chunk: usize, cfg: ParserConfig) -> Result<Vec<Ev>, Error> {
    let mut parser = Parser::new(cfg);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0usize;
    let mut out = Vec::new();
    loop {
        match parser.parse(&buf)? {
            Status::Event { event, consumed } => {
                let end = matches!(event, Event::End(_));
                push(&mut out, owned(&event));
                buf.drain(..consumed);
                if end {
                    parser.finish(&buf)?;
                    assert_eq!(parser.offset() as usize, data.len(), "the RDB ended before the input did");
                    return Ok(out);
                }
            }
            Status::NeedMore { needed } => {
                assert!(needed > buf.len());
                if fed == data.len() {
                    parser.finish(&buf)?;
                    panic!("finish() accepted a truncated input");
                }
                let take = chunk.max(1).min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + take]);
                fed += take;
            }
        }
    }
}

/// All events, with the whole input given at once; also checks that feeding one byte at
/// a time and with small batches gives the same events.
pub(crate) fn events(data: &[u8]) -> Result<Vec<Ev>, Error> {
    let whole = run_chunked(data, usize::MAX, ParserConfig::default());
    let bytewise = run_chunked(data, 1, ParserConfig::default().batch_items(1));
    match (&whole, &bytewise) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "events differ when fed one byte at a time"),
        (Err(_), Err(_)) => {}
        _ => panic!("whole input gave {whole:?}, byte-at-a-time gave {bytewise:?}"),
    }
    whole
}

/// All events of an input that must parse.
pub(crate) fn parse_ok(data: &[u8]) -> Vec<Ev> {
    match events(data) {
        Ok(evs) => evs,
        Err(e) => panic!("parse failed: {e}"),
    }
}

/// The error of an input that must not parse.
pub(crate) fn parse_err(data: &[u8]) -> Error {
    match run_chunked(data, usize::MAX, ParserConfig::default()) {
        Ok(evs) => panic!("parse succeeded: {evs:#?}"),
        Err(e) => e,
    }
}

/// Byte strings from text, for terse expectations.
pub(crate) fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

pub(crate) fn id(ms: u64, seq: u64) -> StreamId {
    StreamId { ms, seq }
}
