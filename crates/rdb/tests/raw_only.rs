//! `decode_raw_values(false)`: a key handed out raw comes alone (no pieces, no `KeyEnd`);
//! every other event is the same as with decoding on, however the input is split.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use replicant_rdb::ParserConfig;

/// Drops, from a decoded run, the pieces and `KeyEnd` of keys that came raw.
fn without_raw_values(events: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skipping = false;
    for e in events {
        if e.starts_with("Key(") {
            skipping = e.contains("raw: Some(");
            out.push(e.clone());
        } else if skipping && (e.starts_with("Value(") || e.starts_with("KeyEnd")) {
            skipping = !e.starts_with("KeyEnd");
        } else {
            skipping = false;
            out.push(e.clone());
        }
    }
    out
}

#[test]
fn raw_keys_come_alone_and_nothing_else_changes() {
    let mut raw_keys = 0;
    for fx in support::good_fixtures() {
        let decoded = support::whole_with(&fx.data, ParserConfig::default()).unwrap();
        let cfg = ParserConfig::default().decode_raw_values(false);
        let raw_only = support::whole_with(&fx.data, cfg.clone()).unwrap();
        assert_eq!(without_raw_values(&decoded), raw_only, "{}", fx.name);
        let split = support::events(&fx.data, cfg, support::random_chunks(3, 64)).unwrap();
        assert_eq!(raw_only, split, "{} split", fx.name);
        raw_keys += raw_only.iter().filter(|e| e.contains("raw: Some(")).count();
    }
    assert!(raw_keys > 100);
}
