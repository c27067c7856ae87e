//! The streaming driver: reads opcodes and keys, runs the value decoders one unit at a
//! time, groups their items into batches, decides whether a value is small enough to be
//! handed out raw, tells the caller how many input bytes it may drop, and keeps the
//! running CRC-64 over exactly those bytes.

use std::collections::VecDeque;

use crate::checksum::Crc64;
use crate::config::ParserConfig;
use crate::event::{Checksum, Event, Key, ModuleId, RawValue, StreamConsumer, StreamGroup, Value};
use crate::format::{Encoding, Format, Kind, Opcode};
use crate::reader::{Cursor, Fail, Res};
use crate::slot::{Arena, Batch, Fields, Ids, Members, PendingEntries, Ranges, Scored, Slot, StreamEntries};
use crate::value::{skip_module_ops, Cx, ItemKind, Single, Step, ValueState};
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
    Aux { key: Slot, value: Slot },
    SelectDb(u64),
    ResizeDb(u64, u64),
    SlotInfo(u64, u64, u64),
    SlotImport { job: Slot, start: usize, end: usize },
    Function(Slot),
    ModuleAux { module: ModuleId, when: u64, raw: Slot },
    Key(KeyCtx),
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
                Err(Fail::Bad(e)) => return Err(e),
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
            return Some(Ready::Key(key));
        }
        let out = self.queue.pop_front()?;
        if let Out::KeyEnd(_) = out {
            self.finish_key();
        }
        Some(Ready::Out(out))
    }

    fn finish_key(&mut self) {
        self.key = None;
        self.queue.clear();
        self.open = None;
        self.top = Top::Body;
    }

    fn magic(&mut self, cur: &mut Cursor<'_>) -> Res<Option<Ready>> {
        let magic = cur.take(Format::MAGIC_LEN)?;
        let format = Format::from_magic(magic)?;
        self.format = Some(format);
        self.scan = cur.offset();
        self.top = Top::Body;
        Ok(Some(Ready::Header(format)))
    }

    /// One opcode with its payload, or the start of a key.
    fn body(&mut self, cur: &mut Cursor<'_>, input: &[u8]) -> Res<Option<Ready>> {
        let format = self.format.ok_or(Error::Finished)?;
        let at = cur.offset();
        let byte = cur.u8()?;
        let limit = self.cfg.max_buffered;
        let ready = match format.decode(byte, at)? {
            Opcode::Eof => return self.trailer(cur, input, format, at).map(Some),
            Opcode::SelectDb => {
                self.db = cur.len()?;
                Some(Ready::SelectDb(self.db))
            }
            Opcode::ExpireSec => {
                let secs = i32::from_le_bytes(cur.array()?);
                self.prefix.expire = Some(i64::from(secs) * 1000);
                None
            }
            Opcode::ExpireMs => {
                self.prefix.expire = Some(cur.millis()?);
                None
            }
            Opcode::Freq => {
                self.prefix.freq = Some(cur.u8()?);
                None
            }
            Opcode::Idle => {
                self.prefix.idle = Some(cur.len()?);
                None
            }
            Opcode::ResizeDb => Some(Ready::ResizeDb(cur.len()?, cur.len()?)),
            Opcode::SlotInfo => Some(Ready::SlotInfo(cur.len()?, cur.len()?, cur.len()?)),
            Opcode::Aux => {
                let key = cur.string(&mut self.scratch, limit)?;
                let value = cur.string(&mut self.scratch, limit)?;
                Some(Ready::Aux { key, value })
            }
            Opcode::Function2 => Some(Ready::Function(cur.string(&mut self.scratch, limit)?)),
            Opcode::ModuleAux => Some(module_aux(cur, at)?),
            Opcode::KeyMeta => {
                let classes = cur.count()?;
                for _ in 0..classes {
                    cur.take(4)?;
                    skip_module_ops(cur)?;
                }
                self.prefix.meta += classes;
                None
            }
            Opcode::SlotImport => {
                let job = cur.string(&mut self.scratch, limit)?;
                let start = self.slots.len();
                for _ in 0..cur.count()? {
                    self.slots.extend([Slot::Uint(cur.len()?), Slot::Uint(cur.len()?)]);
                }
                Some(Ready::SlotImport { job, start, end: self.slots.len() })
            }
            Opcode::FunctionPreGa => {
                return Err(Error::Unsupported {
                    what: "function of a Redis 7.0 release candidate (opcode 246)",
                    offset: at,
                }
                .into())
            }
            Opcode::ModulePreGa => {
                return Err(Error::Unsupported { what: "value of a pre-GA module (type 6)", offset: at }.into())
            }
            Opcode::Value(enc) => {
                let key = cur.string(&mut self.scratch, limit)?;
                self.start_key(key, enc, byte, at, cur.offset());
                if enc == Encoding::String {
                    self.small_string(cur);
                }
                None
            }
        };
        self.scan = cur.offset();
        Ok(ready)
    }

    fn start_key(&mut self, key: Slot, enc: Encoding, type_byte: u8, offset: u64, value_start: u64) {
        let raw_limit = if enc.kind() == Kind::Module { self.cfg.max_buffered } else { self.cfg.raw_value_max } as u64;
        self.key = Some(KeyCtx {
            db: self.db,
            key,
            enc,
            type_byte,
            offset,
            value_start,
            value_end: value_start,
            prefix: std::mem::take(&mut self.prefix),
            raw_limit,
            raw_ok: raw_limit > 0,
            emitted: false,
            done: false,
            items: 0,
        });
        self.value = ValueState::start(enc);
        self.top = Top::Value;
    }

    /// Fast path for the commonest value, a plain string of at most one piece that is
    /// already in the input: read with its key, yielding exactly the events the general
    /// path would. Anything else is left to the string decoder.
    fn small_string(&mut self, cur: &mut Cursor<'_>) {
        let mark = cur.pos();
        let piece = match cur.len_or_special() {
            Ok(crate::reader::Len::Plain(n)) if n <= self.cfg.batch_bytes as u64 => n as usize,
            _ => {
                cur.set_pos(mark);
                return;
            }
        };
        let start = cur.offset();
        if cur.take(piece).is_err() {
            cur.set_pos(mark);
            return;
        }
        let end = cur.offset();
        let Some(key) = self.key.as_mut() else { return };
        key.done = true;
        key.value_end = end;
        key.items = 1;
        key.raw_ok = key.raw_ok && end - key.value_start <= key.raw_limit;
        if key.raw_ok && !self.cfg.decode_raw_values {
            return; // handed out raw only: no pieces to queue
        }
        let slot = self.slots.len();
        self.slots.push(Slot::Input { start, len: piece });
        self.queue.push_back(Out::Chunk { kind: ItemKind::StringPiece, start: slot, end: slot + 1 });
        self.queue.push_back(Out::KeyEnd(end));
    }

    /// The EOF opcode and, from RDB 5, the CRC-64 of everything before it.
    fn trailer(&mut self, cur: &mut Cursor<'_>, input: &[u8], format: Format, eof_at: u64) -> Res<Ready> {
        let checksum = if format.has_checksum() {
            let stored = cur.u64_le()?;
            let upto = usize::try_from(eof_at + 1 - self.consumed).unwrap_or(0);
            let mut digest = self.crc.clone();
            digest.update(input.get(..upto).unwrap_or_default());
            let actual = digest.value();
            match stored {
                0 => Checksum::Disabled,
                s if s == actual => Checksum::Verified(s),
                s => return Err(Error::ChecksumMismatch { offset: eof_at + 1, expected: s, actual }.into()),
            }
        } else {
            Checksum::Absent
        };
        self.scan = cur.offset();
        self.top = Top::Done;
        Ok(Ready::End(checksum))
    }

    /// One unit of the current value.
    fn value_step(&mut self, input: &[u8], rel: usize) -> Res<()> {
        let slots_mark = self.slots.len();
        let scratch_mark = self.scratch.len();
        let saved = self.value;
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
        };
        let step = match self.value.step(&mut cx) {
            Ok(step) => step,
            Err(e) => {
                self.value = saved;
                return Err(e);
            }
        };
        let end = self.consumed + cx.cur.pos() as u64;
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
        let scratch_cap = 4 * self.cfg.raw_value_max + (64 << 10);
        let (scratch, slots) = (self.scratch.len(), self.slots.len());
        if let Some(key) = self.key.as_mut() {
            let limit = key.raw_limit;
            if key.raw_ok && !key.done {
                let extent = self.scan - key.value_start;
                let big = extent > limit
                    || (key.enc.kind() != Kind::Module && (scratch > scratch_cap || slots as u64 > limit));
                key.raw_ok = !big;
            } else if key.done && key.value_end - key.value_start > limit {
                key.raw_ok = false;
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

    /// Turns a decided event into one that borrows the input and scratch.
    fn materialize<'a>(&'a self, ready: Ready, arena: Arena<'a>) -> Event<'a> {
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
            Ready::Key(k) => Event::Key(self.key_event(k, arena)),
            Ready::Empty(k) => {
                Event::EmptyKeySkipped { db: k.db, key: arena.bytes(k.key), encoding: k.enc, offset: k.offset }
            }
            Ready::Out(Out::KeyEnd(offset)) => Event::KeyEnd { offset },
            Ready::Out(Out::Single(single)) => Event::Value(single_value(single, arena)),
            Ready::Out(Out::Chunk { kind, start, end }) => Event::Value(chunk_value(kind, batch(start, end))),
            Ready::End(c) => Event::End(c),
        }
    }

    fn key_event<'a>(&self, k: KeyCtx, arena: Arena<'a>) -> Key<'a> {
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
            offset: k.offset,
        }
    }
}

fn module_aux(cur: &mut Cursor<'_>, at: u64) -> Res<Ready> {
    let module = ModuleId(cur.len()?);
    let when_op = cur.len()?;
    if when_op != 2 {
        return Err(Error::corrupt(at, format!("module aux 'when' has opcode {when_op}, expected 2")).into());
    }
    let when = cur.len()?;
    let start = cur.offset();
    skip_module_ops(cur)?;
    let raw = Slot::Input { start, len: (cur.offset() - start) as usize };
    Ok(Ready::ModuleAux { module, when, raw })
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
