//! Commands out of the reader: [`Outbox`] gathers them into [`DumpPiece`]s for the sink
//! (at most [`PIECE_COMMANDS`] commands or about [`PIECE_BYTES`] each) and keeps the
//! [`DumpSummary`]; [`Items`] writes one collection as `DEL`, then commands of at most
//! [`ITEMS_PER_COMMAND`] items as its rows arrive, then `PEXPIREAT`; [`string`] and the
//! stream helpers write the rest. Scores are written as the shortest text that reads back
//! as the same `double`.

use super::{DumpPiece, DumpSummary, SkipReason, SkippedKey};
use crate::rewrite::{RewriteOptions, PIKA_HLL_LEN, SLOT_KEY_PREFIXES};

/// Members, fields or elements per command.
pub const ITEMS_PER_COMMAND: usize = 512;
/// Commands (and skipped keys) gathered into one piece at most.
pub const PIECE_COMMANDS: usize = 2048;
/// Bytes of arguments gathered into one piece before it is handed over.
pub const PIECE_BYTES: usize = 1 << 20;

/// One command's arguments, owned.
pub(crate) type Args = Vec<Vec<u8>>;

/// Gathers commands into pieces for the sink; stops for good once the sink says so.
pub(crate) struct Outbox<F> {
    /// Which keys are left out, as for the binlog.
    pub(crate) options: RewriteOptions,
    sink: F,
    piece: DumpPiece,
    bytes: usize,
    stopped: bool,
    pub(crate) summary: DumpSummary,
}

impl<F: FnMut(DumpPiece) -> bool> Outbox<F> {
    pub(crate) fn new(db: u64, options: RewriteOptions, sink: F) -> Self {
        let piece = DumpPiece { db, commands: Vec::new(), keys: 0, skipped: Vec::new() };
        Outbox { options, sink, piece, bytes: 0, stopped: false, summary: DumpSummary::default() }
    }

    /// Whether the sink asked to stop (nothing more is handed over).
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    /// Adds a command.
    pub(crate) fn push(&mut self, args: Args) {
        self.bytes += args.iter().map(Vec::len).sum::<usize>();
        self.piece.commands.push(args);
        self.flush_if_full();
    }

    /// Counts a key whose commands were all added.
    pub(crate) fn key_done(&mut self) {
        self.piece.keys += 1;
        self.summary.keys += 1;
    }

    /// Reports a key left out.
    pub(crate) fn skip(&mut self, key: &[u8], reason: SkipReason) {
        match reason {
            SkipReason::Shadowed { .. } => self.summary.shadowed += 1,
            SkipReason::PikaHyperLogLog => self.summary.hyperloglogs += 1,
            SkipReason::SlotKey => self.summary.slot_keys += 1,
        }
        self.piece.skipped.push(SkippedKey { key: key.to_vec(), reason });
        self.flush_if_full();
    }

    /// Hands over what is left; the summary.
    pub(crate) fn finish(mut self) -> DumpSummary {
        self.flush();
        self.summary.stopped = self.stopped;
        self.summary
    }

    fn flush_if_full(&mut self) {
        if self.piece.commands.len() + self.piece.skipped.len() >= PIECE_COMMANDS || self.bytes >= PIECE_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let next = DumpPiece { db: self.piece.db, commands: Vec::new(), keys: 0, skipped: Vec::new() };
        let piece = std::mem::replace(&mut self.piece, next);
        self.bytes = 0;
        let empty = piece.commands.is_empty() && piece.keys == 0 && piece.skipped.is_empty();
        if !self.stopped && !empty && !(self.sink)(piece) {
            self.stopped = true;
        }
    }
}

/// A Codis slot bookkeeping key (`_internal:slotkey:4migrate:*`, `…slottag…`), which the
/// binlog's commands on are dropped too.
pub(crate) fn is_slot_key(key: &[u8]) -> bool {
    SLOT_KEY_PREFIXES.iter().any(|prefix| key.starts_with(prefix))
}

/// Whether a string has the shape of Pika's HyperLogLog registers as the binlog's rewrite
/// tells them (`rewrite`: 2^17 bytes, each at most 16, not all zero): what 3.5 stores
/// unmarked.
pub(crate) fn looks_like_pika_hll(value: &[u8]) -> bool {
    value.len() == PIKA_HLL_LEN && value.iter().all(|b| *b <= 16) && value.iter().any(|b| *b != 0)
}

/// A string: `SET`, then its expiry.
pub(crate) fn string<F: FnMut(DumpPiece) -> bool>(out: &mut Outbox<F>, key: &[u8], value: &[u8], etime_ms: u64) {
    out.push(vec![b"SET".to_vec(), key.to_vec(), value.to_vec()]);
    expire(out, key, etime_ms);
    out.key_done();
}

/// `DEL key`.
pub(crate) fn del<F: FnMut(DumpPiece) -> bool>(out: &mut Outbox<F>, key: &[u8]) {
    out.push(vec![b"DEL".to_vec(), key.to_vec()]);
}

/// `PEXPIREAT key etime` when there is an expiry.
fn expire<F: FnMut(DumpPiece) -> bool>(out: &mut Outbox<F>, key: &[u8], etime_ms: u64) {
    if etime_ms != 0 {
        out.push(vec![b"PEXPIREAT".to_vec(), key.to_vec(), etime_ms.to_string().into_bytes()]);
    }
}

/// One collection's commands, written as its rows arrive.
pub(crate) struct Items<'k> {
    name: &'static [u8],
    key: &'k [u8],
    command: Args,
    items: usize,
}

impl<'k> Items<'k> {
    /// Starts a collection written with `name` (`HSET`, `SADD`, `ZADD`, `RPUSH`): `DEL key`
    /// first (the copy replaces what the target holds).
    pub(crate) fn start<F: FnMut(DumpPiece) -> bool>(out: &mut Outbox<F>, name: &'static [u8], key: &'k [u8]) -> Self {
        del(out, key);
        Items { name, key, command: Vec::new(), items: 0 }
    }

    /// Adds one item (a field and its value, a member, a score and its member, an element).
    pub(crate) fn add<F: FnMut(DumpPiece) -> bool>(&mut self, out: &mut Outbox<F>, item: &[&[u8]]) {
        if self.command.is_empty() {
            self.command = vec![self.name.to_vec(), self.key.to_vec()];
        }
        self.command.extend(item.iter().map(|a| a.to_vec()));
        self.items += 1;
        if self.items >= ITEMS_PER_COMMAND {
            self.items = 0;
            out.push(std::mem::take(&mut self.command));
        }
    }

    /// The last command, the expiry; counts the key.
    pub(crate) fn finish<F: FnMut(DumpPiece) -> bool>(self, out: &mut Outbox<F>, etime_ms: u64) {
        if !self.command.is_empty() {
            out.push(self.command);
        }
        expire(out, self.key, etime_ms);
        out.key_done();
    }
}

/// A score as the shortest text that reads back as the same `double` (`inf`, `-inf` as
/// Redis reads them); a NaN, which no zset can hold, is refused.
pub(crate) fn score(value: f64) -> Result<Vec<u8>, &'static str> {
    if value.is_nan() {
        return Err("zset member with a NaN score");
    }
    let magnitude = value.abs();
    let text = if magnitude == 0.0 || magnitude.is_infinite() || (1e-5..1e16).contains(&magnitude) {
        format!("{value}")
    } else {
        format!("{value:e}")
    };
    Ok(text.into_bytes())
}

/// `XADD key ms-seq field value …` of one stream entry: its id (16 bytes, big-endian ms and
/// seq) and its message as Pika stores it (`(len:u32 LE | bytes)*`, `SerializeMessage`).
pub(crate) fn stream_entry(key: &[u8], id: &[u8], message: &[u8]) -> Result<Args, &'static str> {
    let id = stream_id(id)?;
    let mut args = vec![b"XADD".to_vec(), key.to_vec(), format!("{}-{}", id.0, id.1).into_bytes()];
    let mut rest = message;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>().ok_or("stream entry with a field length cut short")?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| "stream entry field over the address space")?;
        let field = tail.get(..len).ok_or("stream entry with a field past its end")?;
        args.push(field.to_vec());
        rest = tail.get(len..).unwrap_or_default();
    }
    if args.len() < 5 || args.len() % 2 == 0 {
        return Err("stream entry without field-value pairs");
    }
    Ok(args)
}

/// A stream id as stored: `ms:u64 BE | seq:u64 BE`.
fn stream_id(id: &[u8]) -> Result<(u64, u64), &'static str> {
    let id: &[u8; 16] = id.try_into().map_err(|_| "stream entry id not 16 bytes")?;
    let (ms, seq) = id.split_at(8);
    let be = |b: &[u8]| b.try_into().map(u64::from_be_bytes).map_err(|_| "stream entry id not 16 bytes");
    Ok((be(ms)?, be(seq)?))
}

/// The end of a stream: `XSETID key last ENTRIESADDED n MAXDELETEDID id` (Redis 7), then its
/// expiry; counts the key.
pub(crate) fn stream_end<F: FnMut(DumpPiece) -> bool>(
    out: &mut Outbox<F>,
    key: &[u8],
    ids: &super::meta::StreamIds,
    etime_ms: u64,
) {
    let id = |(ms, seq): (u64, u64)| format!("{ms}-{seq}").into_bytes();
    out.push(vec![
        b"XSETID".to_vec(),
        key.to_vec(),
        id(ids.last),
        b"ENTRIESADDED".to_vec(),
        ids.entries_added.to_string().into_bytes(),
        b"MAXDELETEDID".to_vec(),
        id(ids.max_deleted),
    ]);
    expire(out, key, etime_ms);
    out.key_done();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn scores_are_the_shortest_exact_text() {
        let text = |v: f64| String::from_utf8(score(v).unwrap()).unwrap();
        assert_eq!(text(2.5), "2.5");
        assert_eq!(text(-3.25), "-3.25");
        assert_eq!(text(0.1), "0.1");
        assert_eq!(text(1e10), "10000000000");
        assert_eq!(text(1e300), "1e300");
        assert_eq!(text(5e-324), "5e-324");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(-0.0), "-0");
        for v in [0.1 + 0.2, 1.0 / 3.0, 123_456_789.123_456_78, 9_007_199_254_740_993.0, 1.7976931348623157e308, 2e-7] {
            assert_eq!(text(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "{v}");
        }
        assert!(score(f64::NAN).is_err());
    }

    fn message(parts: &[&[u8]]) -> Vec<u8> {
        parts.iter().flat_map(|p| [&(p.len() as u32).to_le_bytes()[..], p].concat()).collect()
    }

    #[test]
    fn stream_entries_decode_pikas_message_format() {
        let id = [5u64.to_be_bytes(), 2u64.to_be_bytes()].concat();
        let args = stream_entry(b"st", &id, &message(&[b"f", b"v", b"", b"\0"])).unwrap();
        assert_eq!(args, [&b"XADD"[..], b"st", b"5-2", b"f", b"v", b"", b"\0"].map(<[u8]>::to_vec));
        assert!(stream_entry(b"st", &id, &message(&[b"f"])).is_err(), "odd fields");
        assert!(stream_entry(b"st", &id, b"").is_err(), "no fields");
        assert!(stream_entry(b"st", &id, &message(&[b"f", b"v"])[..9]).is_err(), "cut short");
        assert!(stream_entry(b"st", &id[..15], &message(&[b"f", b"v"])).is_err());
    }

    #[test]
    fn pieces_hold_at_most_2048_commands_and_collections_512_items() {
        let mut pieces = Vec::new();
        let mut out = Outbox::new(3, RewriteOptions::default(), |p: DumpPiece| {
            pieces.push((p.db, p.commands.len(), p.keys));
            true
        });
        let mut items = Items::start(&mut out, b"SADD", b"s");
        for _ in 0..(2048 * 512) {
            items.add(&mut out, &[b""]);
        }
        items.finish(&mut out, 7);
        let summary = out.finish();
        // DEL, 2048 SADDs, PEXPIREAT: 2050 commands, in two pieces (the first full).
        assert_eq!(pieces, [(3, 2048, 0), (3, 2, 1)]);
        assert_eq!((summary.keys, summary.stopped), (1, false));
    }

    #[test]
    fn pieces_hold_about_a_mebibyte() {
        let mut sizes = Vec::new();
        let mut out = Outbox::new(0, RewriteOptions::default(), |p: DumpPiece| {
            sizes.push(p.commands.len());
            true
        });
        for _ in 0..5 {
            out.push(vec![b"SET".to_vec(), b"k".to_vec(), vec![0; 300 << 10]]);
        }
        out.finish();
        assert_eq!(sizes, [4, 1]);
    }

    #[test]
    fn a_sink_that_stops_gets_nothing_more() {
        let mut calls = 0;
        let mut out = Outbox::new(0, RewriteOptions::default(), |_| {
            calls += 1;
            false
        });
        for _ in 0..3 * PIECE_COMMANDS {
            out.push(vec![b"PING".to_vec()]);
        }
        assert!(out.stopped());
        assert!(out.finish().stopped);
        assert_eq!(calls, 1);
    }
}
