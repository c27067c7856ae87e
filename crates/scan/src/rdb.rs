//! The RDB stream a scan writes: a header naming the source's RDB version, then per
//! database a `SELECTDB`, per key its absolute expiry (`EXPIRETIME_MS`), its type byte,
//! its name and its value as the `DUMP` payload holds it, and finally `EOF` with a zero
//! checksum (the payloads' own CRCs were checked one by one). The parser reads it as it
//! reads a master's snapshot.

/// `SELECTDB` opcode.
const SELECT_DB: u8 = 0xFE;
/// `EXPIRETIME_MS` opcode.
const EXPIRE_MS: u8 = 0xFC;
/// `EOF` opcode.
const EOF: u8 = 0xFF;
/// The first RDB version Valkey numbers in its own range (`VALKEY080`).
const VALKEY_FIRST: u16 = 80;

/// The header for a stream of payloads dumped by RDB version `version`: `REDIS0011`, or
/// `VALKEY080` for Valkey's own versions.
pub fn header(version: u16) -> Vec<u8> {
    if version >= VALKEY_FIRST {
        format!("VALKEY{version:03}").into_bytes()
    } else {
        format!("REDIS{version:04}").into_bytes()
    }
}

/// Appends a database selection.
pub fn select_db(out: &mut Vec<u8>, db: u64) {
    out.push(SELECT_DB);
    length(out, db);
}

/// Appends one key: `value` is a checked payload's value (type byte first), `expire_at_ms`
/// its absolute expiry.
pub fn key(out: &mut Vec<u8>, name: &[u8], expire_at_ms: Option<u64>, value: &[u8]) {
    if let Some(at) = expire_at_ms {
        out.push(EXPIRE_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    let (kind, rest) = value.split_first().map_or((0, &[][..]), |(k, r)| (*k, r));
    out.push(kind);
    length(out, name.len() as u64);
    out.extend_from_slice(name);
    out.extend_from_slice(rest);
}

/// Appends the end: `EOF` and a zero (unchecked) checksum.
pub fn end(out: &mut Vec<u8>) {
    out.push(EOF);
    out.extend_from_slice(&[0; 8]);
}

/// An RDB length: 6, 14, 32 or 64 bits.
fn length(out: &mut Vec<u8>, n: u64) {
    match n {
        0..0x40 => out.push(n as u8),
        0x40..0x4000 => out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
        0x4000..=0xFFFF_FFFF => {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(0x81);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use replicant_rdb::{Checksum, Event, Parser, ParserConfig, Status};

    use super::*;

    /// A parsed key: database, name, expiry.
    type Parsed = (u64, Vec<u8>, Option<u64>);

    /// Parses `bytes` whole: the keys and whether it ended unchecked.
    fn keys(bytes: &[u8]) -> (Vec<Parsed>, bool) {
        let mut parser = Parser::new(ParserConfig::default());
        let (mut at, mut found, mut ended) = (0, Vec::new(), false);
        while !ended {
            match parser.parse(&bytes[at..]).unwrap() {
                Status::Event { event, consumed } => {
                    match event {
                        Event::Key(k) => found.push((k.db, k.key.to_vec(), k.expire_ms.map(|t| t as u64))),
                        Event::End(c) => ended = c == Checksum::Disabled,
                        _ => {}
                    }
                    at += consumed;
                }
                Status::NeedMore { .. } => panic!("the stream is cut at {at}"),
            }
        }
        (found, ended)
    }

    #[test]
    fn a_stream_of_payloads_parses_as_an_rdb() {
        let mut out = header(10);
        select_db(&mut out, 3);
        key(&mut out, b"k", Some(1_700_000_000_123), b"\x00\x05hello");
        let long = vec![b'x'; 20_000];
        key(&mut out, &long, None, b"\x00\x01v");
        select_db(&mut out, 70_000);
        key(&mut out, b"s", None, b"\x00\x01w");
        end(&mut out);
        let (found, unchecked) = keys(&out);
        assert!(unchecked);
        assert_eq!(
            found,
            [(3, b"k".to_vec(), Some(1_700_000_000_123)), (3, long, None), (70_000, b"s".to_vec(), None)]
        );
    }

    #[test]
    fn headers_name_the_version() {
        assert_eq!(header(11), b"REDIS0011");
        assert_eq!(header(80), b"VALKEY080");
    }
}
