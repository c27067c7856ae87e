//! Turning a decided event into one that borrows the input and the scratch arena.

use super::{KeyCtx, Out, Parser, Ready};
use crate::event::{Event, Key, RawValue, StreamConsumer, StreamGroup, Value};
use crate::slot::{Arena, Batch, Fields, Ids, Members, PendingEntries, Ranges, Scored, Slot, StreamEntries};
use crate::value::{ItemKind, Single};

impl Parser {
    /// Turns a decided event into one that borrows the input and scratch.
    pub(super) fn materialize<'a>(&'a self, ready: Ready, arena: Arena<'a>) -> Event<'a> {
        let batch = |start: usize, end: usize| Batch { arena, slots: self.slots.get(start..end).unwrap_or_default() };
        match ready {
            Ready::Header(f) => Event::Header(f),
            Ready::Aux { key, value } => Event::Aux { key: arena.bytes(key), value: arena.bytes(value) },
            Ready::SelectDb(db) => Event::SelectDb { db },
            Ready::ResizeDb(keys, expires) => Event::ResizeDb { keys, expires },
            Ready::SlotInfo(slot, keys, expires) => Event::SlotInfo { slot, keys, expires },
            Ready::SlotImport { job, start, end } => {
                Event::SlotImport { job: arena.bytes(job), ranges: Ranges(batch(start, end)) }
            }
            Ready::Function(code) => Event::Function { code: arena.bytes(code) },
            Ready::ModuleAux { module, when, raw } => Event::ModuleAux { module, when, raw: arena.bytes(raw) },
            Ready::Key(k, inline) => Event::Key(self.key_event(k, inline, arena)),
            Ready::Empty(k) => {
                Event::EmptyKeySkipped { db: k.db, key: arena.bytes(k.key), encoding: k.enc, offset: k.offset }
            }
            Ready::Out(Out::KeyEnd(offset)) => Event::KeyEnd { offset },
            Ready::Out(Out::Single(single)) => Event::Value(single_value(single, arena)),
            Ready::Out(Out::Chunk { kind, start, end }) => Event::Value(chunk_value(kind, batch(start, end))),
            Ready::End(c) => Event::End(c),
        }
    }

    pub(super) fn key_event<'a>(&self, k: KeyCtx, inline: Option<Slot>, arena: Arena<'a>) -> Key<'a> {
        let raw = (k.raw_ok && k.done).then(|| RawValue {
            type_byte: k.type_byte,
            value: arena.bytes(Slot::Input { start: k.value_start, len: (k.value_end - k.value_start) as usize }),
            version: self.format.map_or(0, |f| f.version as u16),
            end: k.value_end,
        });
        Key {
            db: k.db,
            key: arena.bytes(k.key),
            encoding: k.enc,
            expire_ms: k.prefix.expire,
            idle_secs: k.prefix.idle,
            freq: k.prefix.freq,
            meta_classes: k.prefix.meta,
            raw,
            value: inline.map(|slot| arena.bytes(slot)),
            offset: k.offset,
        }
    }
}

fn single_value(single: Single, arena: Arena<'_>) -> Value<'_> {
    match single {
        Single::StreamMeta(m) => Value::StreamMeta(m),
        Single::Group { name, last_id, entries_read } => {
            Value::StreamGroup(StreamGroup { name: arena.bytes(name), last_id, entries_read })
        }
        Single::Consumer { name, seen_ms, active_ms } => {
            Value::StreamConsumer(StreamConsumer { name: arena.bytes(name), seen_ms, active_ms })
        }
        Single::Idmp(i) => Value::StreamIdmp(i),
        Single::Module(id) => Value::Module(id),
    }
}

fn chunk_value(kind: ItemKind, batch: Batch<'_>) -> Value<'_> {
    match kind {
        ItemKind::StringPiece => Value::String(batch.slots.first().map(|s| batch.arena.bytes(*s)).unwrap_or_default()),
        ItemKind::List => Value::List(Members(batch)),
        ItemKind::Set => Value::Set(Members(batch)),
        ItemKind::ZSet => Value::ZSet(Scored(batch)),
        ItemKind::Hash => Value::Hash(Fields(batch)),
        ItemKind::StreamEntries => Value::StreamEntries(StreamEntries(batch)),
        ItemKind::GroupPending => Value::StreamGroupPending(PendingEntries(batch)),
        ItemKind::ConsumerPending => Value::StreamConsumerPending(Ids(batch)),
    }
}
