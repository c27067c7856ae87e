//! Streams (`t_stream.c`, `rdb.c`): listpack nodes of entries, then the stream's
//! metadata, then consumer groups with their pending entries and consumers, then (Redis
//! 8.6) idempotent-producer state.

use super::{Blob, Cx, ItemKind, Single, Step};
use crate::event::{StreamIdmp, StreamMeta};
use crate::packed::{listpack, Elem};
use crate::reader::{push_int, Res};
use crate::slot::{Slot, StreamId};
use crate::Error;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// Where a stream decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NodeCount,
    Nodes { left: u64 },
    Node { left: u64, node: Node },
    Meta,
    GroupCount,
    Group { groups: u64 },
    Pel { groups: u64, left: u64 },
    ConsumerCount { groups: u64 },
    Consumer { groups: u64, consumers: u64 },
    ConsumerPel { groups: u64, consumers: u64, left: u64 },
    Idmp,
    Done,
}

/// Position inside one listpack node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    master: StreamId,
    blob: Blob,
    pos: usize,
    /// Whether the master entry was read.
    opened: bool,
}

/// The decoder for a stream of layout revision 1-4 (types 15, 19, 21, 26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamState {
    rev: u8,
    phase: Phase,
}

impl StreamState {
    pub(crate) fn new(rev: u8) -> Self {
        StreamState { rev, phase: Phase::NodeCount }
    }

    pub(crate) fn blob(&self) -> Option<Blob> {
        match &self.phase {
            Phase::Node { node, .. } => Some(node.blob),
            _ => None,
        }
    }

    pub(crate) fn blob_mut(&mut self) -> Option<&mut Blob> {
        match &mut self.phase {
            Phase::Node { node, .. } => Some(&mut node.blob),
            _ => None,
        }
    }

    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let (step, next) = match self.phase {
            Phase::NodeCount => (Step::Progress, Phase::Nodes { left: cx.cur.count()? }),
            Phase::Nodes { left: 0 } => (Step::Progress, Phase::Meta),
            Phase::Nodes { left } => (Step::Progress, open_node(cx, left)?),
            Phase::Node { left, mut node } => {
                let mut n = 0;
                loop {
                    match node_step(cx, &mut node)? {
                        Some(Step::Items(_, k)) => {
                            n += k;
                            if n >= cx.room {
                                break (Step::Items(ItemKind::StreamEntries, n), Phase::Node { left, node });
                            }
                        }
                        Some(_) => {}
                        None if n > 0 => {
                            break (Step::Items(ItemKind::StreamEntries, n), Phase::Nodes { left: left - 1 })
                        }
                        None => break (Step::Progress, Phase::Nodes { left: left - 1 }),
                    }
                }
            }
            Phase::Meta => (Step::Single(self.meta(cx)?), Phase::GroupCount),
            Phase::GroupCount => (Step::Progress, self.after_group(cx.cur.count()?)),
            Phase::Group { groups } => self.group(cx, groups)?,
            Phase::Pel { groups, left: 0 } => (Step::Progress, Phase::ConsumerCount { groups }),
            Phase::Pel { groups, left } => {
                let id = raw_id(cx)?;
                let delivered = cx.cur.millis()?;
                let count = cx.cur.len()?;
                cx.record([Slot::Uint(id.ms), Slot::Uint(id.seq), Slot::Int(delivered), Slot::Uint(count)]);
                (Step::Items(ItemKind::GroupPending, 1), Phase::Pel { groups, left: left - 1 })
            }
            Phase::ConsumerCount { groups } => {
                let consumers = cx.cur.count()?;
                (Step::Progress, Phase::Consumer { groups, consumers })
            }
            Phase::Consumer { groups, consumers: 0 } => (Step::Progress, self.after_group(groups - 1)),
            Phase::Consumer { groups, consumers } => self.consumer(cx, groups, consumers)?,
            Phase::ConsumerPel { groups, consumers, left: 0 } => {
                (Step::Progress, Phase::Consumer { groups, consumers: consumers - 1 })
            }
            Phase::ConsumerPel { groups, consumers, left } => {
                let id = raw_id(cx)?;
                cx.record([Slot::Uint(id.ms), Slot::Uint(id.seq)]);
                let next = Phase::ConsumerPel { groups, consumers, left: left - 1 };
                (Step::Items(ItemKind::ConsumerPending, 1), next)
            }
            Phase::Idmp => (Step::Single(Single::Idmp(idmp(cx)?)), Phase::Done),
            Phase::Done => (Step::Done, Phase::Done),
        };
        self.phase = next;
        Ok(step)
    }

    fn after_group(&self, groups_left: u64) -> Phase {
        match (groups_left, self.rev >= 4) {
            (0, true) => Phase::Idmp,
            (0, false) => Phase::Done,
            (n, _) => Phase::Group { groups: n },
        }
    }

    fn meta(&self, cx: &mut Cx<'_, '_>) -> Res<Single> {
        let length = cx.cur.len()?;
        let last_id = len_id(cx)?;
        let (mut first_id, mut max_deleted_id, mut entries_added) = (None, None, None);
        if self.rev >= 2 {
            first_id = Some(len_id(cx)?);
            max_deleted_id = Some(len_id(cx)?);
            entries_added = Some(cx.cur.len()?);
        }
        Ok(Single::StreamMeta(StreamMeta { length, last_id, first_id, max_deleted_id, entries_added }))
    }

    fn group(&self, cx: &mut Cx<'_, '_>, groups: u64) -> Res<(Step, Phase)> {
        let name = cx.string()?;
        let last_id = len_id(cx)?;
        let entries_read = if self.rev >= 2 { Some(cx.cur.len()?) } else { None };
        let pel = cx.cur.count()?;
        let single = Single::Group { name, last_id, entries_read };
        Ok((Step::Single(single), Phase::Pel { groups, left: pel }))
    }

    fn consumer(&self, cx: &mut Cx<'_, '_>, groups: u64, consumers: u64) -> Res<(Step, Phase)> {
        let name = cx.string()?;
        let seen_ms = cx.cur.millis()?;
        let active_ms = if self.rev >= 3 { Some(cx.cur.millis()?) } else { None };
        let left = cx.cur.count()?;
        let single = Single::Consumer { name, seen_ms, active_ms };
        Ok((Step::Single(single), Phase::ConsumerPel { groups, consumers, left }))
    }
}

/// Reads a node's master ID and listpack, and validates the listpack's header.
fn open_node(cx: &mut Cx<'_, '_>, left: u64) -> Res<Phase> {
    let at = cx.cur.offset();
    let key = cx.string()?;
    let key_bytes = match key {
        Slot::Input { start, len } => {
            usize::try_from(start.saturating_sub(cx.base)).ok().and_then(|from| cx.input.get(from..)?.get(..len))
        }
        Slot::Scratch { start, len } => cx.scratch.get(start..start + len),
        _ => None,
    };
    let master = match key_bytes {
        Some(b) if b.len() == 16 => StreamId { ms: be(b.get(..8)), seq: be(b.get(8..)) },
        _ => return Err(Error::corrupt(at, "stream node key is not a 16-byte ID").into()),
    };
    let blob = cx.blob()?;
    let count = listpack::header(cx.bytes(blob)).map_err(|e| blob.corrupt("stream listpack", e))?;
    if count == Some(0) {
        return Err(blob.corrupt("stream listpack", "empty listpack in stream".into()).into());
    }
    let node = Node { master, blob, pos: listpack::HEADER, opened: false };
    Ok(Phase::Node { left, node })
}

fn be(b: Option<&[u8]>) -> u64 {
    b.map(|b| b.iter().fold(0u64, |v, x| (v << 8) | u64::from(*x))).unwrap_or(0)
}

/// Reads the master entry or one entry; `None` at the node's end.
fn node_step(cx: &mut Cx<'_, '_>, node: &mut Node) -> Result<Option<Step>, Error> {
    if !node.opened {
        read_master(cx, node)?;
        node.opened = true;
        return Ok(Some(Step::Progress));
    }
    let Some(flags) = next_elem(cx, node)? else {
        return Ok(None);
    };
    let flags = int_of(cx, node, flags)?;
    let ms = need_int(cx, node)?;
    let seq = need_int(cx, node)?;
    let id = StreamId { ms: node.master.ms.wrapping_add(ms as u64), seq: node.master.seq.wrapping_add(seq as u64) };
    let mark = cx.slots.len();
    cx.record([Slot::Uint(id.ms), Slot::Uint(id.seq), Slot::Uint(0)]);
    let pairs = if flags & FLAG_SAMEFIELDS != 0 { same_fields_entry(cx, node)? } else { own_fields_entry(cx, node)? };
    need(cx, node)?; // lp-count: number of listpack elements of this entry
    if let Some(s) = cx.slots.get_mut(mark + 2) {
        *s = Slot::Uint(pairs);
    }
    if flags & FLAG_DELETED != 0 {
        cx.slots.truncate(mark);
        return Ok(Some(Step::Progress));
    }
    Ok(Some(Step::Items(ItemKind::StreamEntries, 1)))
}

/// The master entry: `count, deleted, num_fields, field_1..field_N, 0`.
fn read_master(cx: &mut Cx<'_, '_>, node: &mut Node) -> Result<(), Error> {
    for _ in 0..2 {
        need(cx, node)?;
    }
    let fields = need_int(cx, node)?;
    cx.node_fields.clear();
    cx.node_ranges.clear();
    for _ in 0..fields {
        let e = need(cx, node)?;
        let start = cx.node_fields.len();
        match e {
            Elem::Int(v) => {
                let mut buf = itoa::Buffer::new();
                cx.node_fields.extend_from_slice(buf.format(v).as_bytes());
            }
            Elem::Bytes { at, len } => {
                let bytes = cx.bytes(node.blob).get(at..at + len).unwrap_or_default().to_vec();
                cx.node_fields.extend_from_slice(&bytes);
            }
        }
        cx.node_ranges.push((start, cx.node_fields.len() - start));
    }
    need(cx, node)?; // the master entry's terminating 0
    Ok(())
}

fn same_fields_entry(cx: &mut Cx<'_, '_>, node: &mut Node) -> Result<u64, Error> {
    let fields = cx.node_ranges.len();
    for k in 0..fields {
        let (start, len) = cx.node_ranges.get(k).copied().unwrap_or((0, 0));
        let at = cx.scratch.len();
        let name = cx.node_fields.get(start..start + len).unwrap_or_default();
        cx.scratch.extend_from_slice(name);
        cx.slots.push(Slot::Scratch { start: at, len });
        let value = need(cx, node)?;
        let value = elem_slot(cx, node, value);
        cx.slots.push(value);
    }
    Ok(fields as u64)
}

fn own_fields_entry(cx: &mut Cx<'_, '_>, node: &mut Node) -> Result<u64, Error> {
    let fields = need_int(cx, node)?;
    for _ in 0..fields {
        let f = need(cx, node)?;
        let f = elem_slot(cx, node, f);
        let v = need(cx, node)?;
        let v = elem_slot(cx, node, v);
        cx.record([f, v]);
    }
    u64::try_from(fields).map_err(|_| node.blob.corrupt("stream entry", "negative field count".into()))
}

fn next_elem(cx: &Cx<'_, '_>, node: &mut Node) -> Result<Option<Elem>, Error> {
    let found = listpack::entry(cx.bytes(node.blob), node.pos).map_err(|e| node.blob.corrupt("stream listpack", e))?;
    Ok(found.map(|(elem, next)| {
        node.pos = next;
        elem
    }))
}

fn need(cx: &Cx<'_, '_>, node: &mut Node) -> Result<Elem, Error> {
    next_elem(cx, node)?.ok_or_else(|| node.blob.corrupt("stream listpack", "entry cut short".into()))
}

fn need_int(cx: &Cx<'_, '_>, node: &mut Node) -> Result<i64, Error> {
    let e = need(cx, node)?;
    int_of(cx, node, e)
}

fn int_of(cx: &Cx<'_, '_>, node: &Node, e: Elem) -> Result<i64, Error> {
    match e {
        Elem::Int(v) => Ok(v),
        Elem::Bytes { at, len } => cx
            .bytes(node.blob)
            .get(at..at + len)
            .and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
            .ok_or_else(|| node.blob.corrupt("stream listpack", "expected an integer".into())),
    }
}

fn elem_slot(cx: &mut Cx<'_, '_>, node: &Node, e: Elem) -> Slot {
    match e {
        Elem::Bytes { at, len } => node.blob.slot(at, len),
        Elem::Int(v) => push_int(cx.scratch, v),
    }
}

/// A 16-byte big-endian ID as stored in pending-entry lists.
fn raw_id(cx: &mut Cx<'_, '_>) -> Res<StreamId> {
    let raw: [u8; 16] = cx.cur.array()?;
    Ok(StreamId { ms: be(raw.get(..8)), seq: be(raw.get(8..)) })
}

/// An ID stored as two lengths.
fn len_id(cx: &mut Cx<'_, '_>) -> Res<StreamId> {
    Ok(StreamId { ms: cx.cur.len()?, seq: cx.cur.len()? })
}

/// Idempotent-producer block of RDB 13 streams, read as one unit; producer IDs are
/// validated and skipped (they travel only in RESTORE payloads).
fn idmp(cx: &mut Cx<'_, '_>) -> Res<StreamIdmp> {
    let duration = cx.cur.len()?;
    let max_entries = cx.cur.len()?;
    let producers = cx.cur.count()?;
    let mark = cx.scratch.len();
    for _ in 0..producers {
        cx.string()?;
        for _ in 0..cx.cur.count()? {
            cx.string()?;
            cx.cur.len()?;
            cx.cur.len()?;
        }
        cx.scratch.truncate(mark);
    }
    cx.cur.len()?; // IDs added
    cx.cur.len()?; // duplicates seen
    Ok(StreamIdmp { duration, max_entries, producers })
}
