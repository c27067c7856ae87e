//! `rdb dump --format json`: one JSON object per line for each key, aux field, function
//! and module record, written as the events arrive so that memory stays bounded.
//!
//! Binary-safe strings: text that is valid UTF-8 is a JSON string; anything else is
//! `{"b64": "<base64>"}`. A string value that arrives in several pieces is always
//! `{"b64": …}`. Scores are numbers, or the strings `"inf"` and `"-inf"`.

use std::io::Write;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use replicant_rdb::{Event, Key, Kind, StreamId, Value};

/// Writes NDJSON for a stream of events.
pub(crate) struct JsonDump<W: Write> {
    w: W,
    /// Closing text and "has an element" flag of each open array or object.
    stack: Vec<(&'static str, bool)>,
    kind: Option<Kind>,
    /// A multi-piece string: base64 carry (fewer than 3 bytes) and piece count.
    carry: Vec<u8>,
    pieces: u32,
    /// Whether the current stream group's consumer list is open.
    in_consumers: bool,
}

impl<W: Write> JsonDump<W> {
    pub(crate) fn new(w: W) -> Self {
        JsonDump { w, stack: Vec::new(), kind: None, carry: Vec::new(), pieces: 0, in_consumers: false }
    }

    pub(crate) fn into_inner(self) -> W {
        self.w
    }

    pub(crate) fn event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::Aux { key, value } => {
                self.raw("{\"aux\":")?;
                self.bytes(key)?;
                self.raw(",\"value\":")?;
                self.bytes(value)?;
                self.raw("}\n")
            }
            Event::Function { code } => {
                self.raw("{\"function\":")?;
                self.bytes(code)?;
                self.raw("}\n")
            }
            Event::ModuleAux { module, when, raw } => {
                writeln!(
                    self.w,
                    "{{\"module_aux\":\"{module}\",\"when\":{when},\"raw\":{{\"b64\":\"{}\"}}}}",
                    B64.encode(raw)
                )
            }
            Event::EmptyKeySkipped { db, key, .. } => {
                write!(self.w, "{{\"empty_key_skipped\":")?;
                self.bytes(key)?;
                writeln!(self.w, ",\"db\":{db}}}")
            }
            Event::Key(k) => self.key(k),
            Event::Value(v) => self.value(v),
            Event::KeyEnd { .. } => self.key_end(),
            _ => Ok(()),
        }
    }

    fn key(&mut self, k: &Key<'_>) -> std::io::Result<()> {
        write!(self.w, "{{\"db\":{},\"key\":", k.db)?;
        self.bytes(k.key)?;
        write!(self.w, ",\"type\":\"{}\",\"encoding\":\"{:?}\"", k.kind().name(), k.encoding)?;
        if let Some(ms) = k.expire_ms {
            write!(self.w, ",\"expire_ms\":{ms}")?;
        }
        if let Some(idle) = k.idle_secs {
            write!(self.w, ",\"idle_secs\":{idle}")?;
        }
        if let Some(freq) = k.freq {
            write!(self.w, ",\"freq\":{freq}")?;
        }
        self.raw(",\"value\":")?;
        self.kind = Some(k.kind());
        self.pieces = 0;
        self.carry.clear();
        match k.kind() {
            Kind::String => Ok(()),
            Kind::Stream => {
                self.open("{\"entries\":", "}")?;
                self.open("[", "]")
            }
            Kind::Module => {
                let raw = k.raw.map(|r| r.value).unwrap_or_default();
                write!(self.w, "{{\"raw\":{{\"b64\":\"{}\"}}", B64.encode(raw))?;
                self.stack.push(("}", true));
                Ok(())
            }
            _ => self.open("[", "]"),
        }
    }

    fn value(&mut self, v: &Value<'_>) -> std::io::Result<()> {
        match v {
            Value::String(piece) => self.string_piece(piece),
            Value::List(m) | Value::Set(m) => m.iter().try_for_each(|e| {
                self.sep()?;
                self.bytes(e)
            }),
            Value::ZSet(s) => s.iter().try_for_each(|(m, score)| {
                self.sep()?;
                self.raw("[")?;
                self.bytes(m)?;
                self.raw(",")?;
                self.score(score)?;
                self.raw("]")
            }),
            Value::Hash(f) => f.iter().try_for_each(|(field, value, ttl)| {
                self.sep()?;
                self.raw("[")?;
                self.bytes(field)?;
                self.raw(",")?;
                self.bytes(value)?;
                if let Some(ms) = ttl {
                    write!(self.w, ",{ms}")?;
                }
                self.raw("]")
            }),
            Value::StreamEntries(e) => e.iter().try_for_each(|entry| {
                self.sep()?;
                write!(self.w, "{{\"id\":\"{}\",\"fields\":[", entry.id)?;
                for (k, (f, v)) in entry.fields().enumerate() {
                    self.raw(if k == 0 { "[" } else { ",[" })?;
                    self.bytes(f)?;
                    self.raw(",")?;
                    self.bytes(v)?;
                    self.raw("]")?;
                }
                self.raw("]}")
            }),
            Value::StreamMeta(m) => {
                self.close_to(1)?;
                write!(self.w, ",\"length\":{},\"last_id\":\"{}\"", m.length, m.last_id)?;
                opt_id(&mut self.w, "first_id", m.first_id)?;
                opt_id(&mut self.w, "max_deleted_id", m.max_deleted_id)?;
                if let Some(n) = m.entries_added {
                    write!(self.w, ",\"entries_added\":{n}")?;
                }
                self.open(",\"groups\":[", "]")
            }
            Value::StreamGroup(g) => {
                self.close_to(2)?;
                self.in_consumers = false;
                self.sep()?;
                self.raw("{\"name\":")?;
                self.bytes(g.name)?;
                write!(self.w, ",\"last_id\":\"{}\"", g.last_id)?;
                if let Some(n) = g.entries_read.filter(|n| *n != u64::MAX) {
                    write!(self.w, ",\"entries_read\":{n}")?;
                }
                self.stack.push(("}", true));
                self.open(",\"pending\":[", "]")
            }
            Value::StreamGroupPending(p) => p.iter().try_for_each(|(id, ms, count)| {
                self.sep()?;
                write!(self.w, "[\"{id}\",{ms},{count}]")
            }),
            Value::StreamConsumer(c) => {
                if !self.in_consumers {
                    self.close_to(3)?; // the group's pending list
                    self.open(",\"consumers\":[", "]")?;
                    self.in_consumers = true;
                }
                self.close_to(4)?;
                self.sep()?;
                self.raw("{\"name\":")?;
                self.bytes(c.name)?;
                write!(self.w, ",\"seen_ms\":{}", c.seen_ms)?;
                if let Some(ms) = c.active_ms {
                    write!(self.w, ",\"active_ms\":{ms}")?;
                }
                self.stack.push(("}", true));
                self.open(",\"pending\":[", "]")
            }
            Value::StreamConsumerPending(ids) => ids.iter().try_for_each(|id: StreamId| {
                self.sep()?;
                write!(self.w, "\"{id}\"")
            }),
            Value::StreamIdmp(i) => {
                self.close_to(1)?;
                write!(
                    self.w,
                    ",\"idmp\":{{\"duration\":{},\"max_entries\":{},\"producers\":{}}}",
                    i.duration, i.max_entries, i.producers
                )
            }
            Value::Module(id) => write!(self.w, ",\"module\":\"{id}\""),
            _ => Ok(()),
        }
    }

    fn key_end(&mut self) -> std::io::Result<()> {
        if self.kind == Some(Kind::String) {
            let rest = std::mem::take(&mut self.carry);
            match self.pieces {
                0 | 1 => self.bytes(&rest)?,
                _ => write!(self.w, "{}\"}}", B64.encode(rest))?,
            }
        }
        self.close_to(0)?;
        self.kind = None;
        self.raw("}\n")
    }

    fn string_piece(&mut self, piece: &[u8]) -> std::io::Result<()> {
        self.pieces += 1;
        if self.pieces == 1 {
            // Hold the first piece's bytes until we know whether more follow.
            self.carry.clear();
            self.carry.extend_from_slice(piece);
            return Ok(());
        }
        if self.pieces == 2 {
            self.raw("{\"b64\":\"")?;
        }
        self.carry.extend_from_slice(piece);
        let whole = self.carry.len() / 3 * 3;
        let encoded = B64.encode(self.carry.get(..whole).unwrap_or_default());
        self.w.write_all(encoded.as_bytes())?;
        self.carry.drain(..whole);
        Ok(())
    }

    fn open(&mut self, text: &str, closer: &'static str) -> std::io::Result<()> {
        self.raw(text)?;
        self.stack.push((closer, false));
        Ok(())
    }

    fn close(&mut self) -> std::io::Result<()> {
        if let Some((closer, _)) = self.stack.pop() {
            self.raw(closer)?;
        }
        Ok(())
    }

    fn close_to(&mut self, depth: usize) -> std::io::Result<()> {
        while self.stack.len() > depth {
            self.close()?;
        }
        Ok(())
    }

    fn sep(&mut self) -> std::io::Result<()> {
        let had = match self.stack.last_mut() {
            Some((_, had)) => std::mem::replace(had, true),
            None => false,
        };
        if had {
            self.raw(",")?;
        }
        Ok(())
    }

    fn raw(&mut self, s: &str) -> std::io::Result<()> {
        self.w.write_all(s.as_bytes())
    }

    fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        match std::str::from_utf8(b) {
            Ok(text) => serde_json::to_writer(&mut self.w, text).map_err(std::io::Error::other),
            Err(_) => write!(self.w, "{{\"b64\":\"{}\"}}", B64.encode(b)),
        }
    }

    fn score(&mut self, v: f64) -> std::io::Result<()> {
        if v.is_infinite() {
            self.raw(if v > 0.0 { "\"inf\"" } else { "\"-inf\"" })
        } else {
            write!(self.w, "{v:?}")
        }
    }
}

fn opt_id(w: &mut impl Write, name: &str, id: Option<StreamId>) -> std::io::Result<()> {
    match id {
        Some(id) => write!(w, ",\"{name}\":\"{id}\""),
        None => Ok(()),
    }
}
