//! Drives a parser over a byte slice fed in chunks, and renders events as text so that
//! runs can be compared.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use replicant_rdb::{Error, Event, Parser, ParserConfig, Status};

/// Feeds `data` to a parser in chunks whose sizes `next_chunk` chooses, and returns each
/// event rendered with `{:?}`.
pub fn events(data: &[u8], cfg: ParserConfig, mut next_chunk: impl FnMut() -> usize) -> Result<Vec<String>, Error> {
    let mut parser = Parser::new(cfg);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Vec::new();
    loop {
        match parser.parse(&buf)? {
            Status::Event { event, consumed } => {
                let end = matches!(event, Event::End(_));
                out.push(format!("{event:?}"));
                buf.drain(..consumed);
                if end {
                    return Ok(out);
                }
            }
            Status::NeedMore { needed } => {
                if fed == data.len() {
                    parser.finish(&buf)?;
                    unreachable!("finish succeeds only when done");
                }
                let want = next_chunk().max(1).max(needed.saturating_sub(buf.len()).min(1));
                let take = want.min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + take]);
                fed += take;
            }
        }
    }
}

/// All events with the whole input given at once.
pub fn whole(data: &[u8]) -> Result<Vec<String>, Error> {
    events(data, ParserConfig::default(), || usize::MAX)
}
