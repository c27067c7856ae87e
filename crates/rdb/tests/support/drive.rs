//! Drivers that feed a parser in chunks (whole, byte by byte, at seeded random offsets, or
//! exactly what `NeedMore` asks for) and report what came out: each event rendered with
//! `{:?}` (so batch boundaries count), how the run ended, and how much input the caller
//! had to keep.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replicant_rdb::{Error, Event, Parser, ParserConfig, Status};

/// Feeds `data` to a parser in chunks whose sizes `next_chunk` chooses, and returns each
/// event rendered with `{:?}`.
pub(crate) fn events(data: &[u8], cfg: ParserConfig, next_chunk: impl FnMut() -> usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    drive(data, cfg, next_chunk, |event| out.push(format!("{event:?}")))?;
    Ok(out)
}

/// All events with the whole input given at once.
pub(crate) fn whole(data: &[u8]) -> Result<Vec<String>, Error> {
    events(data, ParserConfig::default(), || usize::MAX)
}

/// All events with the whole input given at once, under `cfg`.
pub(crate) fn whole_with(data: &[u8], cfg: ParserConfig) -> Result<Vec<String>, Error> {
    events(data, cfg, || usize::MAX)
}

/// Chunk sizes from a seeded RNG, between 1 and `max`.
pub(crate) fn random_chunks(seed: u64, max: usize) -> impl FnMut() -> usize {
    let mut rng = StdRng::seed_from_u64(seed);
    move || rng.random_range(1..=max)
}

/// What a run over some input produced.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    /// The events handed out before the end or the error.
    pub(crate) events: Vec<String>,
    /// `Ok(consumed)` when the RDB ended (with `consumed` bytes of input used), or the error.
    pub(crate) result: Result<u64, Error>,
}

/// Like [`events`] but keeps the events seen before an error, and the offset of the end.
pub(crate) fn run(data: &[u8], cfg: ParserConfig, next_chunk: impl FnMut() -> usize) -> Run {
    let mut events = Vec::new();
    let result = drive(data, cfg, next_chunk, |event| events.push(format!("{event:?}")));
    Run { events, result }
}

/// The driver loop behind [`events`] and [`run`]: feeds chunks, hands each event to
/// `on_event`, and drops consumed bytes. Returns the number of bytes consumed when the RDB
/// ended.
pub(crate) fn drive(
    data: &[u8],
    cfg: ParserConfig,
    mut next_chunk: impl FnMut() -> usize,
    mut on_event: impl FnMut(&Event<'_>),
) -> Result<u64, Error> {
    let mut parser = Parser::new(cfg);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        match parser.parse(&buf)? {
            Status::Event { event, consumed } => {
                let end = matches!(event, Event::End(_));
                on_event(&event);
                assert!(consumed <= buf.len(), "consumed {consumed} of a {}-byte input", buf.len());
                buf.drain(..consumed);
                if end {
                    assert!(parser.is_done());
                    parser.finish(&buf)?;
                    return Ok(parser.offset());
                }
            }
            Status::NeedMore { needed } => {
                assert!(needed > buf.len(), "NeedMore {{ needed: {needed} }} with {} bytes given", buf.len());
                if fed == data.len() {
                    parser.finish(&buf)?;
                    panic!("finish() succeeded on an unfinished parse");
                }
                let take = next_chunk().max(1).min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + take]);
                fed += take;
            }
        }
    }
}

/// A run where the caller only ever appends exactly what `NeedMore` asks for (or what is
/// left), so the buffer is as small as the parser allows.
pub(crate) struct MinimalRun {
    /// Events seen, counted.
    pub(crate) events: usize,
    /// The largest the caller's buffer ever was.
    pub(crate) max_buffer: usize,
    /// The largest `needed` ever asked for.
    pub(crate) max_needed: usize,
    /// Bytes of string values seen, summed.
    pub(crate) string_bytes: u64,
    /// Collection items seen, summed.
    pub(crate) items: u64,
}

/// Feeds only the bytes `NeedMore` asks for and records the buffer's high-water mark.
pub(crate) fn minimal(data: &[u8], cfg: ParserConfig) -> Result<MinimalRun, Error> {
    use replicant_rdb::Value;
    let mut parser = Parser::new(cfg);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut stats = MinimalRun { events: 0, max_buffer: 0, max_needed: 0, string_bytes: 0, items: 0 };
    loop {
        match parser.parse(&buf)? {
            Status::Event { event, consumed } => {
                stats.events += 1;
                match event {
                    Event::Value(Value::String(s)) => stats.string_bytes += s.len() as u64,
                    Event::Value(Value::Set(m) | Value::List(m)) => stats.items += m.len() as u64,
                    _ => {}
                }
                let end = matches!(event, Event::End(_));
                buf.drain(..consumed);
                if end {
                    return Ok(stats);
                }
            }
            Status::NeedMore { needed } => {
                stats.max_needed = stats.max_needed.max(needed);
                if fed == data.len() {
                    parser.finish(&buf)?;
                    panic!("finish() succeeded on an unfinished parse");
                }
                let take = (needed - buf.len()).min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + take]);
                fed += take;
                stats.max_buffer = stats.max_buffer.max(buf.len());
            }
        }
    }
}
