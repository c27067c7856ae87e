//! Two ways to drive the parser over a whole RDB, and a sink that touches every event.

use std::collections::HashMap;
use std::io::Read;
use std::time::Instant;

use replicant_rdb::{Checksum, Encoding, Event, Parser, Status, Value};

/// Size of one read, as a socket driver would do it.
pub(crate) const CHUNK: usize = 64 << 10;

/// Consumes events: counts them and touches every byte slice it is handed (its length
/// and first byte), so that nothing can be optimised away.
#[derive(Default, Debug)]
pub(crate) struct Sink {
    pub(crate) events: u64,
    pub(crate) keys: u64,
    pub(crate) items: u64,
    pub(crate) bytes: u64,
    pub(crate) mix: u64,
    pub(crate) verified: bool,
}

impl Sink {
    #[inline]
    fn touch(&mut self, b: &[u8]) {
        self.bytes += b.len() as u64;
        if let Some(&x) = b.first() {
            self.mix = self.mix.wrapping_mul(31).wrapping_add(u64::from(x));
        }
    }

    #[inline]
    pub(crate) fn event(&mut self, event: &Event<'_>) {
        self.events += 1;
        match event {
            Event::Key(k) => {
                self.keys += 1;
                self.touch(k.key);
            }
            Event::Value(v) => self.value(v),
            Event::Aux { key, value } => {
                self.touch(key);
                self.touch(value);
            }
            Event::End(c) => self.verified = matches!(c, Checksum::Verified(_)),
            _ => {}
        }
    }

    #[inline]
    fn value(&mut self, v: &Value<'_>) {
        match v {
            Value::String(s) => {
                self.items += 1;
                self.touch(s);
            }
            Value::List(m) | Value::Set(m) => {
                for x in m.iter() {
                    self.items += 1;
                    self.touch(x);
                }
            }
            Value::ZSet(z) => {
                for (m, score) in z.iter() {
                    self.items += 1;
                    self.touch(m);
                    self.mix ^= score.to_bits();
                }
            }
            Value::Hash(h) => {
                for (f, v, ttl) in h.iter() {
                    self.items += 1;
                    self.touch(f);
                    self.touch(v);
                    self.mix ^= ttl.unwrap_or_default() as u64;
                }
            }
            Value::StreamEntries(e) => {
                for entry in e.iter() {
                    self.items += 1;
                    self.mix ^= entry.id.ms;
                    for (f, v) in entry.fields() {
                        self.touch(f);
                        self.touch(v);
                    }
                }
            }
            Value::StreamGroupPending(p) => self.items += p.len() as u64,
            Value::StreamConsumerPending(p) => self.items += p.len() as u64,
            Value::StreamGroup(g) => self.touch(g.name),
            Value::StreamConsumer(c) => self.touch(c.name),
            _ => {}
        }
    }
}

/// Parses `data`, which holds the whole file, advancing by the consumed offsets.
pub(crate) fn whole(data: &[u8], sink: &mut Sink) -> Result<(), String> {
    let mut parser = Parser::default();
    let mut off = 0usize;
    loop {
        let input = data.get(off..).unwrap_or_default();
        match parser.parse(input).map_err(|e| e.to_string())? {
            Status::Event { event, consumed } => {
                let done = matches!(event, Event::End(_));
                sink.event(&event);
                off += consumed;
                if done {
                    return Ok(());
                }
            }
            Status::NeedMore { needed } => {
                return Err(format!("truncated at {off}: needs {needed} more bytes"));
            }
        }
    }
}

/// Parses what `src` yields, read `CHUNK` bytes at a time into a bounded buffer that
/// keeps the unconsumed bytes and is compacted only when the next read does not fit,
/// the way a socket driver works. Returns the largest buffer size it needed.
pub(crate) fn chunked(mut src: impl Read, sink: &mut Sink) -> Result<usize, String> {
    let mut parser = Parser::default();
    let mut buf = vec![0u8; 4 * CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        let input = buf.get(start..end).unwrap_or_default();
        match parser.parse(input).map_err(|e| e.to_string())? {
            Status::Event { event, consumed } => {
                let done = matches!(event, Event::End(_));
                sink.event(&event);
                start += consumed;
                if done {
                    return Ok(buf.len());
                }
            }
            Status::NeedMore { needed } => {
                while end - start < needed {
                    if end + CHUNK > buf.len() {
                        buf.copy_within(start..end, 0);
                        end -= start;
                        start = 0;
                        if end + CHUNK > buf.len() {
                            buf.resize(end + CHUNK, 0);
                        }
                    }
                    let n = src.read(&mut buf[end..end + CHUNK]).map_err(|e| e.to_string())?;
                    if n == 0 {
                        parser.finish(&buf[start..end]).map_err(|e| e.to_string())?;
                        return Err("input ended before the RDB did".to_owned());
                    }
                    end += n;
                }
            }
        }
    }
}

/// Per-encoding totals of one file.
#[derive(Default, Clone, Copy)]
pub(crate) struct Share {
    pub(crate) keys: u64,
    /// From the key's type byte to the end of its value.
    pub(crate) bytes: u64,
    pub(crate) elements: u64,
    /// Wall time from the previous key's end to this key's end: all the parser's work for
    /// this key, in a whole-buffer parse.
    pub(crate) nanos: u64,
}

/// What a file holds, by encoding.
#[derive(Default)]
pub(crate) struct Census {
    pub(crate) by_encoding: Vec<(Encoding, Share)>,
    pub(crate) with_ttl: u64,
    pub(crate) keys: u64,
    pub(crate) string_bytes: u64,
    pub(crate) nanos: u64,
}

/// Parses `data` whole, attributing bytes and time to each key's encoding.
pub(crate) fn census(data: &[u8]) -> Result<Census, String> {
    let mut parser = Parser::default();
    let mut census = Census::default();
    let mut shares: HashMap<Encoding, Share> = HashMap::new();
    let mut off = 0usize;
    let mut current: Option<(Encoding, u64)> = None;
    let mut elements = 0u64;
    let started = Instant::now();
    let mut last_end = started;
    loop {
        let input = data.get(off..).unwrap_or_default();
        match parser.parse(input).map_err(|e| e.to_string())? {
            Status::Event { event, consumed } => {
                off += consumed;
                match event {
                    Event::Key(k) => {
                        current = Some((k.encoding, k.offset));
                        census.keys += 1;
                        census.with_ttl += u64::from(k.expire_ms.is_some());
                    }
                    Event::Value(v) => {
                        elements += match v {
                            Value::String(s) => {
                                census.string_bytes += s.len() as u64;
                                0
                            }
                            Value::List(m) | Value::Set(m) => m.len() as u64,
                            Value::ZSet(z) => z.len() as u64,
                            Value::Hash(h) => h.len() as u64,
                            Value::StreamEntries(e) => e.len() as u64,
                            _ => 0,
                        }
                    }
                    Event::KeyEnd { offset } => {
                        let now = Instant::now();
                        if let Some((enc, start)) = current.take() {
                            let share = shares.entry(enc).or_default();
                            share.keys += 1;
                            share.bytes += offset.saturating_sub(start);
                            share.elements += std::mem::take(&mut elements);
                            share.nanos += (now - last_end).as_nanos() as u64;
                        }
                        last_end = now;
                    }
                    Event::End(_) => {
                        census.nanos = started.elapsed().as_nanos() as u64;
                        census.by_encoding = shares.into_iter().collect();
                        census.by_encoding.sort_by_key(|(e, _)| format!("{e:?}"));
                        return Ok(census);
                    }
                    _ => {}
                }
            }
            Status::NeedMore { .. } => return Err("truncated".to_owned()),
        }
    }
}
