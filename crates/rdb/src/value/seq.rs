//! Values stored element by element: strings (in pieces), and lists, sets, sorted sets
//! and hashes in their plain (non-packed) encodings, including the field-expiry hashes
//! of Redis 7.4+ and Valkey 9.

use super::{Cx, ItemKind, Step};
use crate::format::Encoding;
use crate::reader::{Len, Res};
use crate::slot::Slot;
use crate::Error;

/// A string value: its pieces come out `piece` bytes at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct StringState {
    /// Bytes still to read; `None` before the length was read.
    left: Option<u64>,
}

impl StringState {
    pub(crate) fn step(&mut self, cx: &mut Cx<'_, '_>) -> Res<Step> {
        let left = match self.left {
            Some(0) => return Ok(Step::Done),
            Some(n) => n,
            None => {
                let head = cx.cur.pos();
                match cx.cur.len_or_special()? {
                    Len::Plain(n) => n,
                    Len::Special(_) => {
                        // Integer or compressed: decoded whole into scratch.
                        cx.cur.set_pos(head);
                        let slot = cx.string()?;
                        cx.slots.push(slot);
                        self.left = Some(0);
                        return Ok(Step::Last(ItemKind::StringPiece, 1));
                    }
                }
            }
        };
        let take = left.min(cx.piece as u64) as usize;
        let start = cx.cur.offset();
        cx.cur.take(take)?;
        cx.slots.push(Slot::Input { start, len: take });
        self.left = Some(left - take as u64);
        Ok(if self.left == Some(0) {
            Step::Last(ItemKind::StringPiece, 1)
        } else {
            Step::Items(ItemKind::StringPiece, 1)
        })
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
