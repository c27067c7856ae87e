//! The list commands beyond the pushes (`src/types/redis_list.cc`). A list's elements are
//! subkeys `index: u64 BE` from `head` (included) to `tail` (excluded), both in the
//! metadata after its common part. Each method replays Kvrocks' algorithm on those indexes
//! (`LINSERT` and `LREM` shift the shorter side), so the records are Kvrocks' own.
//! LogData: `3 <RedisCommand> <args>` (`kRedisCmdLSet` 0, `LInsert` 1, `LTrim` 2, `LPop` 3,
//! `RPop` 4, `LRem` 5, `LMove` 12), arguments joined with single spaces.

use super::encode::{put_metadata_extras, Encoding, KvType, Metadata, LIST_INITIAL_INDEX};
use super::{Cf, KvrocksCheckpoint};

/// A list's metadata and bounds.
#[derive(Clone, Copy)]
struct ListMeta {
    meta: Metadata,
    head: u64,
    tail: u64,
}

impl ListMeta {
    fn encode(&self) -> Vec<u8> {
        let mut bytes = self.meta.encode();
        put_metadata_extras(&mut bytes, &[self.head, self.tail]);
        bytes
    }
}

impl KvrocksCheckpoint {
    /// `LPOP k [n]` (`RPOP` with `left` false; `List::PopMulti`): the popped subkeys' deletes,
    /// then the metadata, deleted when the list is emptied. Returns the elements.
    pub fn pop(&mut self, ns: &str, key: impl AsRef<[u8]>, count: usize, left: bool) -> Vec<Vec<u8>> {
        let key = key.as_ref();
        let Some(mut list) = self.list_meta(ns, key) else { return Vec::new() };
        let mut w = self.write(Some(if left { "3 3" } else { "3 4" }.into()));
        let mut popped = Vec::new();
        while list.meta.size > 0 && popped.len() < count {
            let index = if left { list.head } else { list.tail - 1 };
            let sub_key = self.internal_key(ns, key, list.meta.version, &index.to_be_bytes());
            popped.push(w.get(Cf::Default, &sub_key).expect("a list element within its bounds"));
            w.delete(Cf::Default, &sub_key);
            list.meta.size -= 1;
            (list.head, list.tail) = if left { (list.head + 1, list.tail) } else { (list.head, list.tail - 1) };
        }
        self.put_list(&mut w, ns, key, &list);
        w.commit();
        popped
    }

    /// `LSET k index e` (`List::Set`): LogData `3 0 <index from the head>`, the element's
    /// put; nothing when it already holds `e`. Panics out of range.
    pub fn lset(&mut self, ns: &str, key: impl AsRef<[u8]>, index: i64, elem: impl AsRef<[u8]>) {
        let (key, elem) = (key.as_ref(), elem.as_ref());
        let list = self.list_meta(ns, key).expect("LSET: no such key");
        let index = if index < 0 { index + list.meta.size as i64 } else { index };
        assert!((0..list.meta.size as i64).contains(&index), "LSET: index out of range");
        let sub_key = self.internal_key(ns, key, list.meta.version, &(list.head + index as u64).to_be_bytes());
        if self.get(Cf::Default, &sub_key).as_deref() == Some(elem) {
            return;
        }
        let mut w = self.write(Some(format!("3 0 {index}")));
        w.put(Cf::Default, &sub_key, elem);
        w.commit();
    }

    /// `LINSERT k BEFORE|AFTER pivot e` (`List::Insert`): the elements on the shorter side
    /// of the pivot shifted by one, `e` put, the metadata. Returns the new length, -1 (and
    /// nothing written) when the pivot is missing.
    pub fn linsert(&mut self, ns: &str, key: impl AsRef<[u8]>, before: bool, pivot: &[u8], elem: &[u8]) -> i64 {
        let key = key.as_ref();
        let Some(mut list) = self.list_meta(ns, key) else { return 0 };
        let elems = self.elements(ns, key, &list);
        let Some(p) = elems.iter().position(|(_, v)| v == pivot) else { return -1 };
        let mut pivot_index = elems[p].0;
        let (pivot_s, elem_s) = (String::from_utf8_lossy(pivot), String::from_utf8_lossy(elem));
        let mut w = self.write(Some(format!("3 1 {} {pivot_s} {elem_s}", u8::from(before))));
        let left_len = pivot_index - list.head + u64::from(!before);
        let right_len = list.tail - 1 - pivot_index + u64::from(before);
        let reversed = left_len <= right_len;
        // The positions of `elems` the iterator visits, from the pivot or the one past it.
        let (new_index, start) = if reversed != before {
            (pivot_index, Some(p))
        } else if reversed {
            pivot_index -= 1;
            (pivot_index, p.checked_sub(1))
        } else {
            pivot_index += 1;
            (pivot_index, Some(p + 1))
        };
        let visit: Vec<usize> = match start {
            Some(s) if reversed => (0..=s).rev().collect(),
            Some(s) => (s..elems.len()).collect(),
            None => Vec::new(),
        };
        for at in visit {
            pivot_index = if reversed { pivot_index - 1 } else { pivot_index + 1 };
            w.put(
                Cf::Default,
                &self.internal_key(ns, key, list.meta.version, &pivot_index.to_be_bytes()),
                &elems[at].1,
            );
        }
        w.put(Cf::Default, &self.internal_key(ns, key, list.meta.version, &new_index.to_be_bytes()), elem);
        (list.head, list.tail) = if reversed { (list.head - 1, list.tail) } else { (list.head, list.tail + 1) };
        list.meta.size += 1;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &list.encode());
        w.commit();
        list.meta.size as i64
    }

    /// `LREM k count e` (`List::Rem`): the kept elements of the shorter side moved over the
    /// removed ones, the freed end indexes deleted, the metadata (only the metadata delete
    /// when every element goes). Returns how many went; nothing is written when none.
    pub fn lrem(&mut self, ns: &str, key: impl AsRef<[u8]>, count: i64, elem: &[u8]) -> u64 {
        let key = key.as_ref();
        let Some(mut list) = self.list_meta(ns, key) else { return 0 };
        let elems = self.elements(ns, key, &list);
        let limit = count.unsigned_abs() as usize;
        let mut found: Vec<u64> = Vec::new();
        let order: Vec<&(u64, Vec<u8>)> = if count < 0 { elems.iter().rev().collect() } else { elems.iter().collect() };
        for (index, value) in order {
            if value == elem {
                found.push(*index);
                if found.len() == limit {
                    break;
                }
            }
        }
        if found.is_empty() {
            return 0;
        }
        let n = found.len() as u64;
        let mut w = self.write(Some(format!("3 5 {count} {}", String::from_utf8_lossy(elem))));
        if n == list.meta.size {
            w.delete(Cf::Metadata, &self.ns_key(ns, key));
            w.commit();
            return n;
        }
        let (mut min, mut max) = (*found.iter().min().unwrap_or(&0), *found.iter().max().unwrap_or(&0));
        let reversed = max - list.head <= list.tail - 1 - min;
        let start = if reversed { max } else { min };
        let at = elems.iter().position(|(i, _)| *i >= start).unwrap_or(elems.len());
        let visit: Vec<&(u64, Vec<u8>)> = if reversed {
            elems[..=at.min(elems.len() - 1)].iter().rev().collect()
        } else {
            elems[at..].iter().collect()
        };
        let mut processed = 0;
        for (_, value) in visit {
            if value != elem || processed >= found.len() {
                let to = if reversed { max } else { min };
                (min, max) = if reversed { (min, max.wrapping_sub(1)) } else { (min + 1, max) };
                w.put(Cf::Default, &self.internal_key(ns, key, list.meta.version, &to.to_be_bytes()), value);
            } else {
                processed += 1;
            }
        }
        for i in 0..n {
            let index = if reversed { list.head + i } else { list.tail - 1 - i };
            w.delete(Cf::Default, &self.internal_key(ns, key, list.meta.version, &index.to_be_bytes()));
        }
        (list.head, list.tail) = if reversed { (list.head + n, list.tail) } else { (list.head, list.tail - n) };
        list.meta.size -= n;
        w.put(Cf::Metadata, &self.ns_key(ns, key), &list.encode());
        w.commit();
        n
    }

    /// `LTRIM k start stop` (`List::Trim`): LogData `3 2 <start> <stop>` (normalized), the
    /// deletes of the indexes cut at the head then at the tail (even beyond the list), the
    /// metadata; a range left empty is only a metadata delete, without LogData.
    pub fn ltrim(&mut self, ns: &str, key: impl AsRef<[u8]>, start: i64, stop: i64) {
        let key = key.as_ref();
        let Some(mut list) = self.list_meta(ns, key) else { return };
        let size = list.meta.size as i64;
        let start = if start < 0 { start + size } else { start };
        let stop = if stop >= 0 {
            stop
        } else if size >= -stop {
            size + stop
        } else {
            -1
        };
        if start > stop {
            let mut w = self.write(None);
            w.delete(Cf::Metadata, &self.ns_key(ns, key));
            w.commit();
            return;
        }
        let start = start.max(0);
        let mut w = self.write(Some(format!("3 2 {start} {stop}")));
        let (left, right) = (list.head + start as u64, list.head + stop as u64 + 1);
        let mut trimmed = 0;
        for index in list.head..left {
            w.delete(Cf::Default, &self.internal_key(ns, key, list.meta.version, &index.to_be_bytes()));
            list.head += 1;
            trimmed += 1;
        }
        for index in right..list.tail {
            w.delete(Cf::Default, &self.internal_key(ns, key, list.meta.version, &index.to_be_bytes()));
            list.tail -= 1;
            trimmed += 1;
        }
        list.meta.size = list.meta.size.saturating_sub(trimmed);
        w.put(Cf::Metadata, &self.ns_key(ns, key), &list.encode());
        w.commit();
    }

    /// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT` (`List::LMove`): LogData
    /// `3 12 <src> <dst> left|right left|right`; the source's element delete and metadata
    /// (deleted when emptied), the element put at the destination's end and its metadata. A
    /// new destination gets version 0 (`ListMetadata(false)`, as Kvrocks). On one list, a
    /// rotation (nothing when both ends are the same or it has one element). Returns the
    /// element moved.
    pub fn lmove(&mut self, ns: &str, src: &[u8], dst: &[u8], src_left: bool, dst_left: bool) -> Option<Vec<u8>> {
        let side = |left: bool| if left { "left" } else { "right" };
        let mut source = self.list_meta(ns, src)?;
        let src_index = if src_left { source.head } else { source.tail - 1 };
        let src_sub = self.internal_key(ns, src, source.meta.version, &src_index.to_be_bytes());
        let elem = self.get(Cf::Default, &src_sub).expect("a list element within its bounds");
        let (src_s, dst_s) = (String::from_utf8_lossy(src), String::from_utf8_lossy(dst));
        if src == dst {
            if src_left == dst_left || source.meta.size == 1 {
                return Some(elem);
            }
            let mut w = self.write(Some(format!("3 12 {src_s} {src_s} {} {}", side(src_left), side(dst_left))));
            w.delete(Cf::Default, &src_sub);
            let shift = |x: u64| if src_left { x + 1 } else { x - 1 };
            (source.head, source.tail) = (shift(source.head), shift(source.tail));
            let new_index = if src_left { source.tail - 1 } else { source.head };
            w.put(Cf::Default, &self.internal_key(ns, src, source.meta.version, &new_index.to_be_bytes()), &elem);
            w.put(Cf::Metadata, &self.ns_key(ns, src), &source.encode());
            w.commit();
            return Some(elem);
        }
        let new = || {
            let meta = Metadata::new(KvType::List, Encoding::New, 0);
            ListMeta { meta, head: LIST_INITIAL_INDEX, tail: LIST_INITIAL_INDEX }
        };
        let mut dest = self.list_meta(ns, dst).unwrap_or_else(new);
        let mut w = self.write(Some(format!("3 12 {src_s} {dst_s} {} {}", side(src_left), side(dst_left))));
        w.delete(Cf::Default, &src_sub);
        if source.meta.size == 1 {
            w.delete(Cf::Metadata, &self.ns_key(ns, src));
        } else {
            source.meta.size -= 1;
            (source.head, source.tail) =
                if src_left { (source.head + 1, source.tail) } else { (source.head, source.tail - 1) };
            w.put(Cf::Metadata, &self.ns_key(ns, src), &source.encode());
        }
        let dst_index = if dst_left { dest.head - 1 } else { dest.tail };
        w.put(Cf::Default, &self.internal_key(ns, dst, dest.meta.version, &dst_index.to_be_bytes()), &elem);
        (dest.head, dest.tail) = if dst_left { (dest.head - 1, dest.tail) } else { (dest.head, dest.tail + 1) };
        dest.meta.size += 1;
        w.put(Cf::Metadata, &self.ns_key(ns, dst), &dest.encode());
        w.commit();
        Some(elem)
    }

    /// The live list's metadata and bounds; panics on another type.
    fn list_meta(&self, ns: &str, key: &[u8]) -> Option<ListMeta> {
        let (meta, extras) = self.existing(ns, key, KvType::List)?;
        let bound = |i: usize| {
            extras.get(i * 8..i * 8 + 8).map_or(LIST_INITIAL_INDEX, |b| u64::from_be_bytes(b.try_into().unwrap()))
        };
        Some(ListMeta { meta, head: bound(0), tail: bound(1) })
    }

    /// The list's elements (index, value), in index order.
    fn elements(&self, ns: &str, key: &[u8], list: &ListMeta) -> Vec<(u64, Vec<u8>)> {
        let rows = self.subkeys(Cf::Default, ns, key, list.meta.version).into_iter();
        rows.filter_map(|(sub, value)| Some((u64::from_be_bytes(sub.as_slice().try_into().ok()?), value))).collect()
    }

    /// The metadata after a pop: deleted when the list is empty.
    fn put_list(&self, w: &mut super::Write<'_>, ns: &str, key: &[u8], list: &ListMeta) {
        if list.meta.size == 0 {
            w.delete(Cf::Metadata, &self.ns_key(ns, key));
        } else {
            w.put(Cf::Metadata, &self.ns_key(ns, key), &list.encode());
        }
    }
}
