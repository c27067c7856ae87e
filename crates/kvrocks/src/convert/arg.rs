//! Argument spelling shared by the per-type converters: command names, keys, integers,
//! scores and stream ids as the bytes a Redis command takes.

use std::borrow::Cow;

use crate::stream::StreamId;

/// A command's arguments.
pub(super) type Args<'a> = Vec<Cow<'a, [u8]>>;

/// A literal (command name, keyword).
pub(super) fn lit(word: &'static str) -> Cow<'static, [u8]> {
    Cow::Borrowed(word.as_bytes())
}

/// Bytes borrowed from the batch (key, field, value).
pub(super) fn raw(bytes: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(bytes)
}

/// A decimal integer.
pub(super) fn int(n: impl std::fmt::Display) -> Cow<'static, [u8]> {
    Cow::Owned(n.to_string().into_bytes())
}

/// A double as its shortest round-trip text. Rust's `{:?}` is shortest round-trip like
/// `{}`, but switches to exponent form for very large and small values (`1e300`, not a
/// 301-digit number), and spells infinities `inf` / `-inf`, which `ZADD` accepts. NaN
/// cannot be a score (Kvrocks and Redis reject it).
pub(crate) fn double(value: f64) -> Cow<'static, [u8]> {
    Cow::Owned(format!("{value:?}").into_bytes())
}

/// A stream id, `ms-seq`.
pub(super) fn id(id: StreamId) -> Cow<'static, [u8]> {
    Cow::Owned(id.to_string().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_round_trip_in_their_shortest_form() {
        let cases = [
            (0.1, "0.1"),
            (2.5, "2.5"),
            (-3.25, "-3.25"),
            (1e300, "1e300"),
            (1.0, "1.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (1e-7, "1e-7"),
        ];
        for (value, text) in cases {
            assert_eq!(double(value), text.as_bytes(), "{value}");
            let back: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(back.to_bits(), value.to_bits(), "{text}");
        }
        assert_eq!(int(-1i64), &b"-1"[..]);
        assert_eq!(id(StreamId { ms: 5, seq: 1 }), &b"5-1"[..]);
    }
}
