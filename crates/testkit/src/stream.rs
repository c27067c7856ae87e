//! [`StreamImage`]: the comparable state of one stream key.
//!
//! Entries come from `XRANGE` (chunked with `COUNT`); metadata, consumer
//! groups, pending entries and consumers come from `XINFO STREAM key FULL
//! COUNT 0`, reduced to the parts that survive a faithful copy. Volatile
//! fields (consumer seen-time/active-time, group lag, radix tree sizes) are
//! left out. `COUNT 0` matters: `FULL` otherwise returns only 10 entries
//! and 10 PEL entries per group and consumer.

use redis::{Connection, Value};

use crate::dataset::Blob;
use crate::reply::{into_array, into_bytes, into_int, into_opt_int, into_pairs, into_text, query, Fields};

const XRANGE_COUNT: usize = 500;

/// One stream entry: ID and field/value pairs in stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: String,
    pub fields: Vec<(Blob, Blob)>,
}

/// One pending (delivered, unacknowledged) entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: String,
    pub consumer: Blob,
    /// Last delivery time, absolute Unix ms.
    pub delivery_time_ms: i64,
    pub delivery_count: i64,
}

/// One consumer of a group and the IDs it has pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerImage {
    pub name: Blob,
    pub pending: Vec<String>,
}

/// One consumer group, sorted by name inside [`StreamImage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupImage {
    pub name: Blob,
    pub last_delivered_id: String,
    /// `None` when the server reports nil (unknown).
    pub entries_read: Option<i64>,
    pub pel: Vec<PendingEntry>,
    pub consumers: Vec<ConsumerImage>,
}

/// Everything deterministic about a stream key. Fields added after Redis 5
/// are `None` when the server does not report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamImage {
    pub length: i64,
    pub last_generated_id: String,
    pub max_deleted_entry_id: Option<String>,
    pub entries_added: Option<i64>,
    pub recorded_first_entry_id: Option<String>,
    pub entries: Vec<StreamEntry>,
    pub groups: Vec<GroupImage>,
}

/// Reads the stream at `key` on the connection's current database.
pub(crate) fn capture_stream(conn: &mut Connection, key: &[u8]) -> StreamImage {
    let cmd = redis::cmd("XINFO").arg("STREAM").arg(key).arg("FULL").arg("COUNT").arg(0).clone();
    let mut info = Fields::new(query(conn, &cmd));
    let mut groups: Vec<GroupImage> = into_array(info.take("groups")).into_iter().map(group).collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    StreamImage {
        length: into_int(info.take("length")),
        last_generated_id: into_text(info.take("last-generated-id")),
        max_deleted_entry_id: opt_text(info.take("max-deleted-entry-id")),
        entries_added: into_opt_int(info.take("entries-added")),
        recorded_first_entry_id: opt_text(info.take("recorded-first-entry-id")),
        entries: entries(conn, key),
        groups,
    }
}

/// All entries, `XRANGE key - + COUNT n` then `XRANGE key (last + COUNT n`.
fn entries(conn: &mut Connection, key: &[u8]) -> Vec<StreamEntry> {
    let mut all = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let cmd = redis::cmd("XRANGE").arg(key).arg(&start).arg("+").arg("COUNT").arg(XRANGE_COUNT).clone();
        let chunk: Vec<StreamEntry> = into_array(query(conn, &cmd)).into_iter().map(entry).collect();
        let done = chunk.len() < XRANGE_COUNT;
        if let Some(last) = chunk.last() {
            start = format!("({}", last.id);
        }
        all.extend(chunk);
        if done {
            return all;
        }
    }
}

fn entry(value: Value) -> StreamEntry {
    let mut parts = into_array(value).into_iter();
    let id = into_text(parts.next().expect("stream entry id"));
    let fields = into_pairs(parts.next().unwrap_or(Value::Nil));
    let fields = fields.into_iter().map(|(f, v)| (Blob(into_bytes(f)), Blob(into_bytes(v))));
    StreamEntry { id, fields: fields.collect() }
}

fn group(value: Value) -> GroupImage {
    let mut info = Fields::new(value);
    let pel = into_array(info.take("pending")).into_iter().map(pending_entry);
    let consumers = into_array(info.take("consumers")).into_iter().map(consumer);
    GroupImage {
        name: Blob(into_bytes(info.take("name"))),
        last_delivered_id: into_text(info.take("last-delivered-id")),
        entries_read: into_opt_int(info.take("entries-read")),
        pel: pel.collect(),
        consumers: consumers.collect(),
    }
}

/// A group PEL entry: `[id, consumer, delivery-time, delivery-count]`.
fn pending_entry(value: Value) -> PendingEntry {
    let mut parts = into_array(value).into_iter();
    let mut next = || parts.next().expect("4-element PEL entry");
    PendingEntry {
        id: into_text(next()),
        consumer: Blob(into_bytes(next())),
        delivery_time_ms: into_int(next()),
        delivery_count: into_int(next()),
    }
}

/// A consumer: name and the IDs of its `pending` list
/// (`[id, delivery-time, delivery-count]` each; time/count are in the PEL).
fn consumer(value: Value) -> ConsumerImage {
    let mut info = Fields::new(value);
    let pending = into_array(info.take("pending")).into_iter();
    let pending = pending.map(|p| into_text(into_array(p).into_iter().next().expect("pending id")));
    ConsumerImage { name: Blob(into_bytes(info.take("name"))), pending: pending.collect() }
}

fn opt_text(value: Value) -> Option<String> {
    match value {
        Value::Nil => None,
        other => Some(into_text(other)),
    }
}
