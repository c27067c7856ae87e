//! Values stored element by element: strings (in pieces), and lists, sets, sorted sets
//! and hashes in their plain (non-packed) encodings, including the field-expiry hashes
//! of Redis 7.4+ and Valkey 9.

use super::{Cx, Declared, ItemKind, Step};
use crate::format::Encoding;
use crate::lzf::{self, LzfError};
use crate::reader::{Fail, Len, Res, ENC_LZF};
use crate::slot::Slot;
use crate::Error;

/// A string value: its pieces come out `piece` bytes at a time, whether it is stored
/// plainly or LZF-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StringState {
    /// Before the length was read.
    #[default]
    Start,
    /// A plain string with this many bytes still to read.
    Plain(u64),
    /// A compressed string expanded as a stream.
    Lzf(LzfStream),
}

/// A compressed string value bigger than one piece, expanded as its input arrives into
/// the window buffer ([`Cx::window`]), which holds the last [`lzf::WINDOW`] bytes of
/// output before the piece being filled (all a back reference can reach), then that
/// piece. A complete piece is copied to scratch and handed out like a plain string's.
/// Only whole instructions are read, so a step changes nothing until it has read one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LzfStream {
    /// Offset of the string's `0xC3`, for errors.
    at: u64,
    /// Declared decompressed length.
    ulen: u64,
    /// Compressed bytes not yet read.
    in_left: u64,
    /// Bytes already handed out in pieces.
    emitted: u64,
    /// Bytes of history at the front of the window buffer.
    hist: usize,
    /// Bytes of the next piece after the history (an instruction that ends a piece may
    /// have written into the one after).
    filled: usize,
}

impl StringState {
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let left = match *self {
            StringState::Plain(0) => return Ok(Step::Done),
            StringState::Plain(n) => n,
            StringState::Lzf(mut s) => {
                let step = s.step(cx)?;
                *self = StringState::Lzf(s);
                return Ok(step);
            }
            StringState::Start => {
                let head = cx.cur.pos();
                let at = cx.cur.offset();
                match cx.cur.len_or_special()? {
                    Len::Plain(n) => n,
                    Len::Special(ENC_LZF) => {
                        let (clen, ulen) = cx.cur.lzf_lengths()?;
                        let piece = cx.piece as u64;
                        if clen > piece || ulen > piece {
                            // Big: streamed. Nothing more is read in this step, so that
                            // the key's raw verdict (known now from the compressed
                            // length) comes before any error in the data however the
                            // input is split.
                            if ulen == 0 {
                                return Err(Error::corrupt(
                                    at,
                                    format!("bad LZF string: {clen} compressed bytes for an empty string"),
                                )
                                .into());
                            }
                            cx.declared = Some(Declared { end: cx.cur.offset().saturating_add(clen), decoded: ulen });
                            let s = LzfStream { at, ulen, in_left: clen, emitted: 0, hist: 0, filled: 0 };
                            *self = StringState::Lzf(s);
                            return Ok(Step::Progress);
                        }
                        // At most a piece: expanded whole, like an element.
                        let slot = cx.cur.lzf_block(at, clen, ulen, cx.scratch, cx.limit)?;
                        cx.slots.push(slot);
                        *self = StringState::Plain(0);
                        return Ok(Step::Last(ItemKind::StringPiece, 1));
                    }
                    Len::Special(_) => {
                        // An integer: decoded into scratch.
                        cx.cur.set_pos(head);
                        let slot = cx.string()?;
                        cx.slots.push(slot);
                        *self = StringState::Plain(0);
                        return Ok(Step::Last(ItemKind::StringPiece, 1));
                    }
                }
            }
        };
        let take = left.min(cx.piece as u64) as usize;
        let start = cx.cur.offset();
        cx.cur.take(take)?;
        cx.slots.push(Slot::Input { start, len: take });
        *self = StringState::Plain(left - take as u64);
        Ok(if left == take as u64 {
            Step::Last(ItemKind::StringPiece, 1)
        } else {
            Step::Items(ItemKind::StringPiece, 1)
        })
    }
}

impl LzfStream {
    /// Expands what the input holds of the next piece; hands the piece out once whole.
    fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let left = self.ulen.saturating_sub(self.emitted);
        let target = left.min(cx.piece as u64) as usize;
        if self.filled < target {
            let size = lzf::WINDOW + target + lzf::MAX_RUN + lzf::OVERCOPY;
            if cx.window.len() < size {
                cx.window.resize(size, 0);
            }
            let pos = cx.cur.pos();
            let avail = cx.input.len().saturating_sub(pos) as u64;
            let last = avail >= self.in_left;
            let input = cx.input.get(pos..pos + avail.min(self.in_left) as usize).unwrap_or_default();
            let op = self.hist + self.filled;
            let stop = self.hist + target;
            // The last instruction of a piece may spill into the next, never past the end.
            let limit = self.hist + left.min((target + lzf::MAX_RUN) as u64) as usize;
            let part = lzf::expand_some(input, cx.window, op, stop, limit, last)
                .map_err(|(e, i, op)| self.corrupt(cx.cur.offset() + i as u64, e, op))?;
            let at = cx.cur.offset();
            cx.cur.take(part.read)?;
            self.in_left -= part.read as u64;
            self.filled = part.op.saturating_sub(self.hist);
            if self.filled < target {
                if self.in_left == 0 {
                    let produced = self.emitted + self.filled as u64;
                    return Err(Error::corrupt(
                        at + part.read as u64,
                        format!(
                            "bad LZF string at offset {}: the compressed data ends after {produced} of the declared {} bytes",
                            self.at, self.ulen
                        ),
                    )
                    .into());
                }
                if part.read == 0 {
                    return Err(Fail::More(at + part.need as u64));
                }
                return Ok(Step::Progress);
            }
        }
        let end = self.hist + target;
        let piece = cx.window.get(self.hist..end).unwrap_or_default();
        let start = cx.scratch.len();
        cx.scratch.extend_from_slice(piece);
        cx.slots.push(Slot::Scratch { start, len: target });
        self.emitted += target as u64;
        // The next piece's history: the last WINDOW bytes of output before it.
        let keep = end.min(lzf::WINDOW);
        let carry = self.filled.saturating_sub(target);
        if end + carry <= cx.window.len() {
            cx.window.copy_within(end - keep..end + carry, 0);
        }
        self.hist = keep;
        self.filled = carry;
        if self.emitted < self.ulen {
            return Ok(Step::Items(ItemKind::StringPiece, 1));
        }
        if self.in_left > 0 {
            return Err(Error::corrupt(
                cx.cur.offset(),
                format!(
                    "bad LZF string at offset {}: {} compressed bytes remain after the declared {} bytes",
                    self.at, self.in_left, self.ulen
                ),
            )
            .into());
        }
        Ok(Step::Last(ItemKind::StringPiece, 1))
    }

    /// The error for a fault at input offset `offset`, with the output written before it
    /// (`op` counts from the window's start) to say how far the value got.
    fn corrupt(&self, offset: u64, e: LzfError, op: usize) -> Error {
        let out = self.emitted + op.saturating_sub(self.hist) as u64;
        let what = match e {
            LzfError::WrongLength { produced } => format!(
                "it expands to at least {} bytes, more than the declared {}",
                self.emitted + produced.saturating_sub(self.hist) as u64,
                self.ulen
            ),
            other => format!("{other} (after {out} bytes of output)"),
        };
        Error::corrupt(offset, format!("bad LZF string at offset {}: {what}", self.at))
    }
}

/// A collection stored as a count and then its elements one by one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SeqState {
    enc: Encoding,
    /// Elements still to read; `None` before the count was read.
    left: Option<u64>,
    /// Base of relative field TTLs (Redis type 24).
    min_expire: i64,
}

impl SeqState {
    pub(crate) fn new(enc: Encoding) -> Self {
        SeqState { enc, left: None, min_expire: 0 }
    }

    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let left = match self.left {
            Some(0) => return Ok(Step::Done),
            Some(n) => n,
            None => {
                if self.enc == Encoding::HashMetadata {
                    self.min_expire = cx.cur.i64_le()?;
                }
                self.left = Some(cx.cur.count()?);
                return Ok(Step::Progress);
            }
        };
        // As many elements as the open batch takes and the input holds. An element that
        // cannot be read after the first is left for the next step, which then reports
        // it, so the events are those of one element per step.
        let (start, scratch_start) = (cx.cur.pos(), cx.scratch.len());
        let mut kind = self.element(cx)?;
        let mut n = 1;
        while (n as u64) < left && n < cx.room {
            let used = cx.cur.pos() - start + cx.scratch.len().saturating_sub(scratch_start);
            if used >= cx.bytes_room {
                break;
            }
            let mark = (cx.cur.pos(), cx.slots.len(), cx.scratch.len());
            match self.element(cx) {
                Ok(k) => kind = k,
                Err(_) => {
                    cx.cur.set_pos(mark.0);
                    cx.slots.truncate(mark.1);
                    cx.scratch.truncate(mark.2);
                    break;
                }
            }
            n += 1;
        }
        let left = left - n as u64;
        self.left = Some(left);
        Ok(if left == 0 { Step::Last(kind, n) } else { Step::Items(kind, n) })
    }

    fn element(&self, cx: &mut Cx<'_, '_>) -> Res<ItemKind> {
        use Encoding::*;
        let at = cx.cur.offset();
        Ok(match self.enc {
            List | Set => {
                let s = cx.string()?;
                cx.slots.push(s);
                if self.enc == List {
                    ItemKind::List
                } else {
                    ItemKind::Set
                }
            }
            ZSet | ZSet2 => {
                let member = cx.string()?;
                let score = if self.enc == ZSet { cx.cur.text_double()? } else { cx.cur.binary_double()? };
                if score.is_nan() {
                    return Err(Error::corrupt(at, "sorted-set score is NaN").into());
                }
                cx.record([member, Slot::Float(score)]);
                ItemKind::ZSet
            }
            Hash => {
                let (f, v) = (cx.string()?, cx.string()?);
                cx.record([f, v, NO_EXPIRY]);
                ItemKind::Hash
            }
            HashMetadataPreGa => {
                // Absolute expiry, 0 = none (7.4 release candidates).
                let expire = cx.cur.len()?;
                let (f, v) = (cx.string()?, cx.string()?);
                let expire = if expire == 0 { NO_EXPIRY } else { Slot::Int(expire_ms(expire, at)?) };
                cx.record([f, v, expire]);
                ItemKind::Hash
            }
            HashMetadata => {
                let ttl = cx.cur.len()?;
                let (f, v) = (cx.string()?, cx.string()?);
                // rdb.c: expireAt = ttl + minExpire - 1, ttl 0 = none.
                let expire = if ttl == 0 {
                    NO_EXPIRY
                } else {
                    let at_ms = (ttl as i128) + (self.min_expire as i128) - 1;
                    Slot::Int(expire_ms(u64::try_from(at_ms).unwrap_or(u64::MAX), at)?)
                };
                cx.record([f, v, expire]);
                ItemKind::Hash
            }
            Hash2 => {
                let (f, v) = (cx.string()?, cx.string()?);
                // Valkey: absolute expiry, -1 (EXPIRY_NONE) = none, below that corrupt.
                let expire = match cx.cur.i64_le()? {
                    -1 => NO_EXPIRY,
                    ms if ms < -1 => return Err(Error::corrupt(at, format!("field expiry {ms} is negative")).into()),
                    ms => Slot::Int(ms),
                };
                cx.record([f, v, expire]);
                ItemKind::Hash
            }
            _ => return Err(Error::corrupt(at, "internal: not a plain collection").into()),
        })
    }
}

/// The marker slot of a hash field without expiry (any expiry is a `Slot::Int`).
pub(crate) const NO_EXPIRY: Slot = Slot::Uint(0);

/// Highest field expiry Redis accepts (`EB_EXPIRE_TIME_MAX`, 2^48 - 1 ms).
const MAX_FIELD_EXPIRY: u64 = 0xFFFF_FFFF_FFFF;

fn expire_ms(v: u64, at: u64) -> Result<i64, Error> {
    if v > MAX_FIELD_EXPIRY {
        return Err(Error::corrupt(at, format!("field expiry {v} is above the maximum {MAX_FIELD_EXPIRY}")));
    }
    Ok(v as i64)
}
