//! Values stored as packed containers: one blob (ziplist, listpack, intset, zipmap) or a
//! quicklist of blobs. The blob is read whole (bounded by `max_buffered`), then its
//! elements come out one item at a time.

use super::seq::NO_EXPIRY;
use super::{Blob, Cx, ItemKind, Step};
use crate::format::Encoding;
use crate::packed::{intset, listpack, ziplist, zipmap, Elem};
use crate::reader::{parse_f64, push_int, Res};
use crate::slot::Slot;
use crate::Error;

/// Which container format a blob is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fmt {
    Ziplist,
    Listpack,
    Intset { width: usize, count: u64 },
    Zipmap,
}

/// How elements group into items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    List,
    Set,
    ZSet,
    Hash,
    /// Field, value, absolute expiry in ms (0 = none).
    HashTtl,
}

impl Shape {
    fn kind(self) -> ItemKind {
        match self {
            Shape::List => ItemKind::List,
            Shape::Set => ItemKind::Set,
            Shape::ZSet => ItemKind::ZSet,
            Shape::Hash | Shape::HashTtl => ItemKind::Hash,
        }
    }

    fn arity(self) -> u64 {
        match self {
            Shape::List | Shape::Set => 1,
            Shape::ZSet | Shape::Hash => 2,
            Shape::HashTtl => 3,
        }
    }
}

/// Position inside one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobIter {
    blob: Blob,
    fmt: Fmt,
    shape: Shape,
    /// Byte position (or element index, for intsets).
    pos: usize,
    seen: u64,
    declared: Option<u64>,
}

impl BlobIter {
    /// Validates a blob's header and positions before its first element.
    fn open(cx: &Cx<'_, '_>, blob: Blob, fmt: Fmt, shape: Shape) -> Result<Self, Error> {
        let bytes = cx.bytes(blob);
        let (fmt, pos, declared) = match fmt {
            Fmt::Ziplist => (fmt, ziplist::HEADER, ziplist::header(bytes)),
            Fmt::Listpack => (fmt, listpack::HEADER, listpack::header(bytes)),
            Fmt::Zipmap => (fmt, zipmap::HEADER, Ok(None)),
            Fmt::Intset { .. } => match intset::header(bytes) {
                Ok((width, count)) => (Fmt::Intset { width, count }, 0, Ok(Some(count))),
                Err(e) => (fmt, 0, Err(e)),
            },
        };
        let declared = declared.map_err(|e| blob.corrupt(name(fmt), e))?;
        Ok(BlobIter { blob, fmt, shape, pos, seen: 0, declared })
    }

    /// Records the next item; `false` at the end of the blob.
    fn next(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool, Error> {
        if let Fmt::Zipmap = self.fmt {
            return self.next_zipmap(cx);
        }
        let arity = self.shape.arity();
        let mut elems = [Elem::Int(0); 3];
        for (k, slot) in elems.iter_mut().enumerate().take(arity as usize) {
            match self.element(cx)? {
                Some(e) => *slot = e,
                None if k == 0 => return self.finish(),
                None => return Err(self.blob.corrupt(name(self.fmt), "odd number of elements".into())),
            }
        }
        self.push(cx, &elems)?;
        Ok(true)
    }

    fn element(&mut self, cx: &Cx<'_, '_>) -> Result<Option<Elem>, Error> {
        let bytes = cx.bytes(self.blob);
        let found = match self.fmt {
            Fmt::Ziplist => ziplist::entry(bytes, self.pos),
            Fmt::Listpack => listpack::entry(bytes, self.pos),
            Fmt::Intset { width, count } => {
                if self.seen == count {
                    Ok(None)
                } else {
                    intset::element(bytes, width, self.seen).map(|v| Some((Elem::Int(v), 0)))
                }
            }
            Fmt::Zipmap => Ok(None),
        };
        let found = found.map_err(|e| self.blob.corrupt(name(self.fmt), e))?;
        Ok(found.map(|(elem, next)| {
            self.pos = next;
            self.seen += 1;
            elem
        }))
    }

    fn finish(&self) -> Result<bool, Error> {
        match self.declared {
            Some(n) if n != self.seen => {
                Err(self.blob.corrupt(name(self.fmt), format!("header says {n} elements, found {}", self.seen)))
            }
            _ => Ok(false),
        }
    }

    fn next_zipmap(&mut self, cx: &mut Cx<'_, '_>) -> Result<bool, Error> {
        let found = zipmap::pair(cx.bytes(self.blob), self.pos).map_err(|e| self.blob.corrupt("zipmap", e))?;
        match found {
            None => Ok(false),
            Some(((k, v), next)) => {
                self.pos = next;
                self.push(cx, &[k, v, Elem::Int(0)])?;
                Ok(true)
            }
        }
    }

    fn push(&self, cx: &mut Cx<'_, '_>, elems: &[Elem; 3]) -> Result<(), Error> {
        let [a, b, c] = *elems;
        match self.shape {
            Shape::List | Shape::Set => {
                let s = self.slot(cx, a);
                cx.slots.push(s);
            }
            Shape::ZSet => {
                let score = self.number(cx, b, "score")?;
                let m = self.slot(cx, a);
                cx.record([m, Slot::Float(score)]);
            }
            Shape::Hash | Shape::HashTtl => {
                let ttl = if self.shape == Shape::HashTtl { self.integer(cx, c)? } else { 0 };
                let (f, v) = (self.slot(cx, a), self.slot(cx, b));
                let expire = if ttl == 0 { NO_EXPIRY } else { Slot::Int(ttl) };
                cx.record([f, v, expire]);
            }
        }
        Ok(())
    }

    fn slot(&self, cx: &mut Cx<'_, '_>, e: Elem) -> Slot {
        match e {
            Elem::Bytes { at, len } => self.blob.slot(at, len),
            Elem::Int(v) => push_int(cx.scratch, v),
        }
    }

    fn number(&self, cx: &Cx<'_, '_>, e: Elem, what: &str) -> Result<f64, Error> {
        let v = match e {
            Elem::Int(v) => Some(v as f64),
            Elem::Bytes { at, len } => cx.bytes(self.blob).get(at..at + len).and_then(parse_f64),
        };
        match v {
            Some(v) if !v.is_nan() => Ok(v),
            _ => Err(self.blob.corrupt(name(self.fmt), format!("bad {what}"))),
        }
    }

    fn integer(&self, cx: &Cx<'_, '_>, e: Elem) -> Result<i64, Error> {
        match e {
            Elem::Int(v) => Ok(v),
            Elem::Bytes { at, len } => cx
                .bytes(self.blob)
                .get(at..at + len)
                .and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
                .ok_or_else(|| self.blob.corrupt(name(self.fmt), "bad field expiry".into())),
        }
    }
}

fn name(fmt: Fmt) -> &'static str {
    match fmt {
        Fmt::Ziplist => "ziplist",
        Fmt::Listpack => "listpack",
        Fmt::Intset { .. } => "intset",
        Fmt::Zipmap => "zipmap",
    }
}

/// A value held in one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedState {
    enc: Encoding,
    iter: Option<BlobIter>,
}

impl PackedState {
    pub(crate) fn new(enc: Encoding) -> Self {
        PackedState { enc, iter: None }
    }

    pub(crate) fn blob(&self) -> Option<Blob> {
        self.iter.map(|i| i.blob)
    }

    pub(crate) fn blob_mut(&mut self) -> Option<&mut Blob> {
        self.iter.as_mut().map(|i| &mut i.blob)
    }

    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let Some(iter) = self.iter.as_mut() else {
            use Encoding::*;
            let (fmt, shape) = match self.enc {
                HashZipmap => (Fmt::Zipmap, Shape::Hash),
                ListZiplist => (Fmt::Ziplist, Shape::List),
                SetIntset => (Fmt::Intset { width: 0, count: 0 }, Shape::Set),
                ZSetZiplist => (Fmt::Ziplist, Shape::ZSet),
                HashZiplist => (Fmt::Ziplist, Shape::Hash),
                HashListpack => (Fmt::Listpack, Shape::Hash),
                ZSetListpack => (Fmt::Listpack, Shape::ZSet),
                SetListpack => (Fmt::Listpack, Shape::Set),
                HashListpackExPreGa => (Fmt::Listpack, Shape::HashTtl),
                HashListpackEx => {
                    cx.cur.i64_le()?; // minimum expiry, a hint
                    (Fmt::Listpack, Shape::HashTtl)
                }
                _ => return Err(Error::corrupt(cx.cur.offset(), "internal: not a packed value").into()),
            };
            let blob = cx.blob()?;
            self.iter = Some(BlobIter::open(cx, blob, fmt, shape)?);
            return Ok(Step::Progress);
        };
        let kind = iter.shape.kind();
        let mut n = 0;
        while n < cx.room {
            if !iter.next(cx)? {
                self.iter = None;
                return Ok(if n > 0 { Step::Last(kind, n) } else { Step::Done });
            }
            n += 1;
        }
        Ok(Step::Items(kind, n))
    }
}

/// A list stored as a sequence of ziplist (type 14) or listpack/plain nodes (type 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuicklistState {
    v2: bool,
    nodes_left: Option<u64>,
    node: Option<BlobIter>,
}

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

impl QuicklistState {
    pub(crate) fn new(enc: Encoding) -> Self {
        QuicklistState { v2: enc == Encoding::ListQuicklist2, nodes_left: None, node: None }
    }

    pub(crate) fn blob(&self) -> Option<Blob> {
        self.node.map(|i| i.blob)
    }

    pub(crate) fn blob_mut(&mut self) -> Option<&mut Blob> {
        self.node.as_mut().map(|i| &mut i.blob)
    }

    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        if let Some(node) = self.node.as_mut() {
            let mut n = 0;
            while n < cx.room && node.next(cx)? {
                n += 1;
            }
            if n == cx.room {
                return Ok(Step::Items(ItemKind::List, n));
            }
            self.node = None;
            if n > 0 {
                return Ok(Step::Items(ItemKind::List, n));
            }
        }
        let left = match self.nodes_left {
            None => {
                self.nodes_left = Some(cx.cur.count()?);
                return Ok(Step::Progress);
            }
            Some(0) => return Ok(Step::Done),
            Some(n) => n,
        };
        let fmt = if self.v2 {
            let at = cx.cur.offset();
            match cx.cur.len()? {
                QUICKLIST_PLAIN => {
                    let s = cx.string()?;
                    cx.slots.push(s);
                    self.nodes_left = Some(left - 1);
                    return Ok(Step::Items(ItemKind::List, 1));
                }
                QUICKLIST_PACKED => Fmt::Listpack,
                c => return Err(Error::corrupt(at, format!("bad quicklist container {c}")).into()),
            }
        } else {
            Fmt::Ziplist
        };
        let blob = cx.blob()?;
        // An empty node is skipped, as Redis's loader does.
        self.node = Some(BlobIter::open(cx, blob, fmt, Shape::List)?);
        self.nodes_left = Some(left - 1);
        Ok(Step::Progress)
    }
}
