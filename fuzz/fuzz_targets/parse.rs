//! Feeds arbitrary bytes to the RDB parser, whole and in chunks whose size comes from the
//! input's last byte, under a small configuration. The parser must never panic, and both
//! feeds must hand out the same events and end the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replicant_rdb::{Error, Event, Parser, ParserConfig, Status};

fn config() -> ParserConfig {
    ParserConfig::default().batch_items(3).batch_bytes(64).raw_value_max(32).max_buffered(64 << 10)
}

/// Every event rendered with `{:?}`, then how the run ended.
fn feed(data: &[u8], chunk: usize) -> (Vec<String>, Result<u64, Error>) {
    let mut parser = Parser::new(config());
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut events = Vec::new();
    loop {
        match parser.parse(&buf) {
            Err(e) => return (events, Err(e)),
            Ok(Status::Event { event, consumed }) => {
                let end = matches!(event, Event::End(_));
                events.push(format!("{event:?}"));
                assert!(consumed <= buf.len());
                buf.drain(..consumed);
                if end {
                    return (events, Ok(parser.offset()));
                }
            }
            Ok(Status::NeedMore { needed }) => {
                assert!(needed > buf.len());
                if fed == data.len() {
                    let err = parser.finish(&buf).expect_err("finish() accepted an unfinished RDB");
                    return (events, Err(err));
                }
                let take = chunk.min(data.len() - fed);
                buf.extend_from_slice(&data[fed..fed + take]);
                fed += take;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let chunk = 1 + usize::from(data.last().copied().unwrap_or(0) % 64);
    let whole = feed(data, usize::MAX);
    let split = feed(data, chunk);
    assert_eq!(whole, split, "outcome depends on the split (chunks of {chunk})");
});
