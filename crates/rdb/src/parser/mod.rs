//! The streaming driver: reads opcodes and keys, runs the value decoders one unit at a
//! time, groups their items into batches, decides whether a value is small enough to be
//! handed out raw, tells the caller how many input bytes it may drop, and keeps the
//! running CRC-64 over exactly those bytes.

use std::collections::VecDeque;

use crate::checksum::Crc64;
use crate::config::ParserConfig;
use crate::event::{Checksum, Event, ModuleId};
use crate::format::{Encoding, Format, Kind};
use crate::reader::{Cursor, Fail, Res};
use crate::slot::{Arena, Slot};
use crate::value::{Cx, ItemKind, Single, Step, ValueState};

mod body;
mod emit;
use crate::Error;

/// Bytes released to the caller at a time (except at the end of the stream).
const RELEASE_STEP: u64 = 64 << 10;

/// What one call to [`Parser::parse`] produced.
#[derive(Debug)]
pub enum Status<'a> {
    /// An event. After handling it, drop `consumed` bytes from the front of the input.
    Event {
        /// The event; it borrows the input and the parser until the next call.
        event: Event<'a>,
        /// How many bytes at the front of the input the caller may now discard.
        consumed: usize,
    },
    /// The parser needs the input to be at least `needed` bytes long (counted from the
    /// front of the input as passed) before it can go on.
    NeedMore {
        /// Minimum input length for the next call.
        needed: usize,
    },
}

/// A sans-IO streaming RDB parser.
///
/// Feed it the bytes of an RDB file or full-sync payload as they arrive. Each call to
/// [`Parser::parse`] takes the input not yet consumed (the caller keeps unconsumed bytes
/// at the front of its buffer and appends new ones behind them) and returns one event or
/// asks for more. Events are identical however the input is split.
///
/// ```
/// use replicant_rdb::{Parser, Status, Event};
/// let file: &[u8] = b"REDIS0003\xfe\x00\x00\x03key\x05value\xff";
/// let mut parser = Parser::default();
/// let mut buf = file;
/// let mut strings = Vec::new();
/// loop {
///     match parser.parse(buf).unwrap() {
///         Status::Event { event, consumed } => {
///             if let Event::Value(replicant_rdb::Value::String(s)) = event {
///                 strings.push(s.to_vec());
///             }
///             let done = matches!(event, Event::End(_));
///             buf = &buf[consumed..];
///             if done { break; }
///         }
///         Status::NeedMore { .. } => panic!("the whole file was given"),
///     }
/// }
/// assert_eq!(strings, vec![b"value".to_vec()]);
/// ```
pub struct Parser {
    cfg: ParserConfig,
    top: Top,
    format: Option<Format>,
    /// Absolute offset of the first byte of the caller's input.
    consumed: u64,
    /// Absolute offset where the next unit starts.
    scan: u64,
    crc: Crc64,
    db: u64,
    prefix: Prefix,
    key: Option<KeyCtx>,
    value: ValueState,
    scratch: Vec<u8>,
    slots: Vec<Slot>,
    node_fields: Vec<u8>,
    node_ranges: Vec<(usize, usize)>,
    /// The window of a compressed string value being expanded as a stream (see
    /// `value::seq::LzfStream`): at most `batch_bytes` plus 8 KiB and a little.
    window: Vec<u8>,
    queue: VecDeque<Out>,
    open: Option<Open>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    Magic,
    Body,
    Value,
    Done,
    Failed,
}

/// Per-key prefix opcodes seen since the last key.
#[derive(Debug, Clone, Copy, Default)]
struct Prefix {
    expire: Option<i64>,
    idle: Option<u64>,
    freq: Option<u8>,
    meta: u64,
}

/// The key being decoded.
#[derive(Debug, Clone, Copy)]
struct KeyCtx {
    db: u64,
    key: Slot,
    enc: Encoding,
    type_byte: u8,
    offset: u64,
    value_start: u64,
    value_end: u64,
    prefix: Prefix,
    raw_limit: u64,
    /// Still small enough to hand out raw.
    raw_ok: bool,
    emitted: bool,
    done: bool,
    items: u64,
}

/// A batch being filled.
#[derive(Debug, Clone, Copy)]
struct Open {
    kind: ItemKind,
    start: usize,
    items: usize,
    bytes: usize,
}

/// A value piece waiting to be handed out.
#[derive(Debug, Clone, Copy)]
enum Out {
    Chunk { kind: ItemKind, start: usize, end: usize },
    Single(Single),
    KeyEnd(u64),
}

/// An event decided on, before it borrows anything.
#[derive(Debug, Clone, Copy)]
enum Ready {
    Header(Format),
    Aux {
        key: Slot,
        value: Slot,
    },
    SelectDb(u64),
    ResizeDb(u64, u64),
    SlotInfo(u64, u64, u64),
    SlotImport {
        job: Slot,
        start: usize,
        end: usize,
    },
    Function(Slot),
    ModuleAux {
        module: ModuleId,
        when: u64,
        raw: Slot,
    },
    /// A key, with its whole string value when that comes inline.
    Key(KeyCtx, Option<Slot>),
    Empty(KeyCtx),
    Out(Out),
    End(Checksum),
}

enum Advance {
    Ready(Ready),
    More(u64),
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(ParserConfig::default())
    }
}

impl Parser {
    /// A parser with the given limits.
    pub fn new(cfg: ParserConfig) -> Self {
        Parser {
            cfg,
            top: Top::Magic,
            format: None,
            consumed: 0,
            scan: 0,
            crc: Crc64::new(),
            db: 0,
            prefix: Prefix::default(),
            key: None,
            value: ValueState::Module(true),
            scratch: Vec::new(),
            slots: Vec::new(),
            node_fields: Vec::new(),
            node_ranges: Vec::new(),
            window: Vec::new(),
            queue: VecDeque::new(),
            open: None,
        }
    }

    /// The stream's format, once the magic was read.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Bytes consumed so far (the absolute offset of the caller's next input byte).
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// Whether the end of the RDB was reached.
    pub fn is_done(&self) -> bool {
        self.top == Top::Done
    }

    /// Call when the input has ended: an error unless the RDB was complete.
    pub fn finish(&self, remaining: &[u8]) -> Result<(), Error> {
        let what = match self.top {
            Top::Done => return Ok(()),
            Top::Magic => "the magic line",
            Top::Body => "an opcode or key",
            Top::Value => "a key's value",
            Top::Failed => return Err(Error::Finished),
        };
        Err(Error::Truncated { offset: self.consumed + remaining.len() as u64, what })
    }

    /// Parses from `input`, which must start at the first byte not yet consumed.
    pub fn parse<'a>(&'a mut self, input: &'a [u8]) -> Result<Status<'a>, Error> {
        self.reclaim();
        let ready = match self.advance(input) {
            Ok(Advance::Ready(r)) => r,
            Ok(Advance::More(n)) => {
                let needed = usize::try_from(n - self.consumed).unwrap_or(usize::MAX);
                return Ok(Status::NeedMore { needed: needed.max(input.len() + 1) });
            }
            Err(e) => {
                self.top = Top::Failed;
                return Err(e);
            }
        };
        let base = self.consumed;
        // Input is released in steps of at least RELEASE_STEP bytes, so that the CRC runs
        // over long slices and the caller moves its buffer rarely. Nothing before `scan`
        // is ever held longer than needed, so `scan` bounds what could be released.
        let consumed = if self.scan - base >= RELEASE_STEP || self.top == Top::Done {
            let release = usize::try_from(self.hold() - base).unwrap_or(0).min(input.len());
            if let Some(bytes) = input.get(..release) {
                self.crc.update(bytes);
            }
            release
        } else {
            0
        };
        self.consumed = base + consumed as u64;
        let arena = Arena { input, base, scratch: &self.scratch };
        let event = self.materialize(ready, arena);
        Ok(Status::Event { event, consumed })
    }

    /// Runs units until an event is ready or more input is needed.
    fn advance(&mut self, input: &[u8]) -> Result<Advance, Error> {
        loop {
            if let Some(ready) = self.ready() {
                return Ok(Advance::Ready(ready));
            }
            let unit_start = self.scan;
            let (scratch_mark, slots_mark) = (self.scratch.len(), self.slots.len());
            let rel = usize::try_from(self.scan - self.consumed).unwrap_or(usize::MAX);
            let mut cur = Cursor::new(input, self.consumed, rel);
            let result = match self.top {
                Top::Magic => self.magic(&mut cur),
                Top::Body => self.body(&mut cur, input),
                Top::Value => self.value_step(input, rel).map(|()| None),
                Top::Done | Top::Failed => return Err(Error::Finished),
            };
            match result {
                Ok(Some(ready)) => return Ok(Advance::Ready(ready)),
                Ok(None) => {}
                Err(Fail::More(needed)) => {
                    self.scratch.truncate(scratch_mark);
                    self.slots.truncate(slots_mark);
                    let limit = 2 * self.cfg.max_buffered as u64 + 4096;
                    if needed.saturating_sub(unit_start) > limit {
                        return Err(Error::TooLarge {
                            what: "single item",
                            len: needed.saturating_sub(unit_start),
                            limit: limit as usize,
                            offset: unit_start,
                        });
                    }
                    return Ok(Advance::More(needed));
                }
                Err(Fail::Bad(e)) => return Err(*e),
            }
        }
    }

    /// The next event that is ready to hand out, if any.
    fn ready(&mut self) -> Option<Ready> {
        let key = self.key.as_mut()?;
        if !key.emitted {
            let collection = matches!(key.enc.kind(), Kind::List | Kind::Set | Kind::ZSet | Kind::Hash);
            // A raw candidate waits for its end; a collection waits for its first item, so
            // that an empty one is reported as skipped whatever the raw limit.
            if !key.done && (key.raw_ok || (collection && key.items == 0)) {
                return None;
            }
            key.emitted = true;
            let key = *key;
            if key.done && key.items == 0 && collection {
                self.finish_key();
                return Some(Ready::Empty(key));
            }
            if key.done && key.raw_ok && !self.cfg.decode_raw_values {
                self.finish_key();
            }
            let inline = self.inline_string(&key);
            if inline.is_some() {
                self.finish_key();
            }
            return Some(Ready::Key(key, inline));
        }
        let out = self.queue.pop_front()?;
        if let Out::KeyEnd(_) = out {
            self.finish_key();
        }
        Some(Ready::Out(out))
    }

    /// With `inline_strings`, the one piece of a complete raw string, which then comes
    /// with its key. Decided when the key is handed out, from what is queued, so the same
    /// whether the value was read on the fast path or by the string decoder.
    fn inline_string(&self, key: &KeyCtx) -> Option<Slot> {
        if !self.cfg.inline_strings || key.enc != Encoding::String || !key.done || !key.raw_ok {
            return None;
        }
        match (self.queue.front(), self.queue.get(1), self.queue.len()) {
            (Some(Out::Chunk { kind: ItemKind::StringPiece, start, end }), Some(Out::KeyEnd(_)), 2)
                if *end == *start + 1 =>
            {
                self.slots.get(*start).copied()
            }
            _ => None,
        }
    }

    fn finish_key(&mut self) {
        self.key = None;
        self.queue.clear();
        self.open = None;
        self.top = Top::Body;
    }

    /// One unit of the current value.
    fn value_step(&mut self, input: &[u8], rel: usize) -> Res<()> {
        let slots_mark = self.slots.len();
        let scratch_mark = self.scratch.len();
        let saved = self.value.checkpoint();
        let mut cx = Cx {
            cur: Cursor::new(input, self.consumed, rel),
            input,
            base: self.consumed,
            scratch: &mut self.scratch,
            slots: &mut self.slots,
            node_fields: &mut self.node_fields,
            node_ranges: &mut self.node_ranges,
            limit: self.cfg.max_buffered,
            piece: self.cfg.batch_bytes,
            room: self.cfg.batch_items.saturating_sub(self.open.map_or(0, |o| o.items)).max(1),
            bytes_room: self.cfg.batch_bytes.saturating_sub(self.open.map_or(0, |o| o.bytes)).max(1),
            window: &mut self.window,
            declared: None,
        };
        let step = match self.value.step(&mut cx) {
            Ok(step) => step,
            Err(e) => {
                if let Some(saved) = saved {
                    self.value = saved;
                }
                return Err(e);
            }
        };
        let end = self.consumed + cx.cur.pos() as u64;
        if let (Some(declared), Some(key)) = (cx.declared, self.key.as_mut()) {
            // The value is known to end past the raw limit, or to decode to more than
            // scratch may hold for a raw value: not raw, decided now rather than wherever
            // the input happens to be split, and before anything is held for it.
            if declared.end.saturating_sub(key.value_start) > key.raw_limit
                || declared.decoded > self.cfg.raw_scratch_cap() as u64
            {
                key.raw_ok = false;
            }
        }
        let bytes = (end - self.scan) as usize + (self.scratch.len() - scratch_mark);
        self.scan = end;
        match step {
            Step::Items(kind, n) => self.add_items(kind, n, slots_mark, bytes),
            Step::Single(single) => {
                self.close_batch(self.slots.len());
                self.queue.push_back(Out::Single(single));
            }
            Step::Progress => {}
            Step::Last(kind, n) => {
                self.add_items(kind, n, slots_mark, bytes);
                self.value_done(end);
            }
            Step::Done => self.value_done(end),
        }
        self.check_raw();
        Ok(())
    }

    fn value_done(&mut self, end: u64) {
        self.close_batch(self.slots.len());
        self.queue.push_back(Out::KeyEnd(end));
        if let Some(key) = self.key.as_mut() {
            key.done = true;
            key.value_end = end;
        }
    }

    fn add_items(&mut self, kind: ItemKind, n: usize, first_slot: usize, bytes: usize) {
        if self.open.is_some_and(|o| o.kind != kind) {
            self.close_batch(first_slot);
        }
        let open = self.open.get_or_insert(Open { kind, start: first_slot, items: 0, bytes: 0 });
        open.items += n;
        open.bytes += bytes;
        let full =
            kind == ItemKind::StringPiece || open.items >= self.cfg.batch_items || open.bytes >= self.cfg.batch_bytes;
        if let Some(key) = self.key.as_mut() {
            key.items += n as u64;
        }
        if full {
            self.close_batch(self.slots.len());
        }
    }

    fn close_batch(&mut self, end: usize) {
        if let Some(open) = self.open.take() {
            self.queue.push_back(Out::Chunk { kind: open.kind, start: open.start, end });
        }
    }

    /// Stops treating the current value as a raw candidate once it grows too big.
    fn check_raw(&mut self) {
        let scratch_cap = self.cfg.raw_scratch_cap();
        let (scratch, slots) = (self.scratch.len(), self.slots.len());
        if let Some(key) = self.key.as_mut() {
            let limit = key.raw_limit;
            if key.raw_ok && !key.done {
                let extent = self.scan - key.value_start;
                let big = extent > limit
                    || (key.enc.kind() != Kind::Module && (scratch > scratch_cap || slots as u64 > limit));
                key.raw_ok = !big;
            } else if key.done && key.raw_ok {
                // The same tests as while reading: a value read in one step must come out
                // as it would have read in several.
                let big = key.value_end - key.value_start > limit
                    || (key.enc.kind() != Kind::Module && (scratch > scratch_cap || slots as u64 > limit));
                key.raw_ok = !big;
            }
        }
    }

    /// The lowest absolute offset that a later event still needs.
    fn hold(&self) -> u64 {
        let mut hold = self.scan;
        if let Some(key) = &self.key {
            if !key.emitted {
                hold = hold.min(key.offset);
            }
        }
        if self.top == Top::Value {
            if let Some(start) = self.value.input_blob_start() {
                hold = hold.min(start);
            }
        }
        let first_input = |slots: &[Slot]| {
            slots.iter().find_map(|s| match s {
                Slot::Input { start, .. } => Some(*start),
                _ => None,
            })
        };
        let pending = self.queue.iter().filter_map(|out| match out {
            Out::Chunk { start, end, .. } => self.slots.get(*start..*end).and_then(first_input),
            Out::Single(Single::Group { name: Slot::Input { start, .. }, .. })
            | Out::Single(Single::Consumer { name: Slot::Input { start, .. }, .. }) => Some(*start),
            _ => None,
        });
        let open = self.open.and_then(|o| self.slots.get(o.start..).and_then(first_input));
        pending.chain(open).fold(hold, u64::min)
    }

    /// Frees scratch space and slots once nothing pending refers to them.
    fn reclaim(&mut self) {
        let key_pending = self.key.is_some_and(|k| !k.emitted);
        if !self.queue.is_empty() || self.open.is_some() || key_pending {
            return;
        }
        self.slots.clear();
        match self.value.scratch_blob().filter(|_| self.top == Top::Value) {
            Some((start, len)) => {
                if start > 0 {
                    self.scratch.copy_within(start..start + len, 0);
                    self.value.rebase_scratch_blob(0);
                }
                self.scratch.truncate(len);
            }
            None => self.scratch.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compressed string value of 8 MiB is expanded a piece at a time: the parser holds
    /// a window of one piece plus 8 KiB, and scratch one piece, never the value.
    #[test]
    fn a_big_compressed_string_holds_one_piece() {
        let mut text = Vec::new();
        for i in 0..1_000_000u32 {
            text.extend_from_slice(format!("value-{}-", i % 37).as_bytes());
        }
        let packed = lzf::compress(&text).unwrap();
        let mut data = b"REDIS0011\xfe\x00\x00\x01k\xc3".to_vec();
        for n in [packed.len(), text.len()] {
            data.push(0x80);
            data.extend_from_slice(&(n as u32).to_be_bytes());
        }
        data.extend_from_slice(&packed);
        data.push(0xff);
        let crc = crate::crc64(&data);
        data.extend_from_slice(&crc.to_le_bytes());

        let piece = 256 << 10;
        let mut parser = Parser::new(ParserConfig::default().batch_bytes(piece));
        let (mut fed, mut buf, mut out) = (0, Vec::new(), Vec::new());
        let (mut scratch_max, mut window_max) = (0, 0);
        loop {
            match parser.parse(&buf).unwrap() {
                Status::Event { event, consumed } => {
                    let end = matches!(event, Event::End(Checksum::Verified(_)));
                    if let Event::Value(crate::Value::String(s)) = event {
                        out.extend_from_slice(s);
                    }
                    buf.drain(..consumed);
                    if end {
                        break;
                    }
                }
                Status::NeedMore { .. } => {
                    let take = (data.len() - fed).min(64 << 10);
                    assert!(take > 0, "ran out of input");
                    buf.extend_from_slice(&data[fed..fed + take]);
                    fed += take;
                }
            }
            scratch_max = scratch_max.max(parser.scratch.capacity());
            window_max = window_max.max(parser.window.capacity());
        }
        assert_eq!(out, text);
        assert!(text.len() > 8 << 20 && packed.len() < text.len() / 10);
        assert!(scratch_max <= piece + 1024, "scratch reached {scratch_max}");
        assert!(window_max <= piece + (9 << 10), "window reached {window_max}");
    }
}
