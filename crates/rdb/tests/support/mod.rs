//! Shared helpers for the integration tests: the fixture corpus, drivers that feed a
//! parser in chunks (and watch how much input the caller has to keep), an owned model of
//! a decoded RDB ([`model`]), and a small RDB writer for generated inputs ([`writer`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub(crate) mod model;
pub(crate) mod writer;

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use replicant_rdb::{Error, Event, Parser, ParserConfig, Status};

/// The fixture files built to fail, with the directory they live in.
pub(crate) const BUILT_TO_FAIL: [&str; 4] = [
    "librdb-dumps/future_v19.rdb",
    "librdb-dumps/invalid_chksum_v8.rdb",
    "librdb-dumps/redis_ent_opcode_ram_lru.rdb",
    "valkey-tests-assets/corrupt_ziplist.rdb",
];

const FIXTURE_DIRS: [&str; 3] = ["librdb-dumps", "redis-rdb-tools-dumps", "valkey-tests-assets"];

/// One fixture file: its name as `dir/file.rdb` and its bytes.
pub(crate) struct Fixture {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
}

fn fixture_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rdb")
}

/// The bytes of one fixture, named `dir/file.rdb`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_root().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every `.rdb` fixture, sorted by name.
pub(crate) fn all_fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    for dir in FIXTURE_DIRS {
        let path = fixture_root().join(dir);
        let entries = std::fs::read_dir(&path).unwrap_or_else(|e| panic!("listing {}: {e}", path.display()));
        for entry in entries {
            let file = entry.unwrap().path();
            if file.extension().is_some_and(|e| e == "rdb") {
                let name = format!("{dir}/{}", file.file_name().unwrap().to_string_lossy());
                out.push(Fixture { data: fixture(&name), name });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() > 70, "fixture corpus not found (only {} files)", out.len());
    out
}

/// Every fixture that is expected to parse.
pub(crate) fn good_fixtures() -> Vec<Fixture> {
    all_fixtures().into_iter().filter(|f| !BUILT_TO_FAIL.contains(&f.name.as_str())).collect()
}

/// Good fixtures no bigger than `max` bytes.
pub(crate) fn small_fixtures(max: usize) -> Vec<Fixture> {
    good_fixtures().into_iter().filter(|f| f.data.len() <= max).collect()
}

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

/// Renders bytes as hex, for failure messages that must be reproducible.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an error is one a corrupt or cut-off input may legitimately produce: its text
/// names the offset, or it is one of the variants that concern the whole stream.
pub(crate) fn acceptable_error(e: &Error) -> bool {
    match e {
        Error::ChecksumMismatch { .. } | Error::Truncated { .. } | Error::BadMagic { .. } => true,
        Error::UnsupportedVersion { .. } => true,
        Error::Finished => false,
        other => other.to_string().contains("offset"),
    }
}
