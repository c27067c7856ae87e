//! Single-KV types, whose metadata record holds the whole value: strings and JSON.
//!
//! | record | commands |
//! |---|---|
//! | string metadata put | `SET key value` (any writer: SET, SETRANGE, APPEND, INCR*, SETBIT on a string, RENAME/COPY) |
//! | JSON metadata put, text format | `DEL key`, `JSON.SET key $ <document>` (module: RedisJSON) |
//!
//! `SET` replaces any type and clears the TTL, and `DEL` does the same before `JSON.SET`,
//! so both count as rebuilt: the caller re-applies the metadata's expiry.
//!
//! Not converted: JSON stored as CBOR (`json-storage-format cbor`), which would need a
//! CBOR-to-JSON transcoder; reported as skipped.

use super::arg::{lit, raw};
use super::keys::KeyRecords;
use super::{del, Converted, Rebuilt};
use crate::metadata::{Extra, JsonFormat};

/// Converts a string or JSON key.
pub(super) fn convert<'a>(k: &KeyRecords<'_, 'a>, out: &mut Converted<'a>) -> Rebuilt {
    let Some((offset, meta)) = k.meta else {
        k.sub_offsets().for_each(|offset| out.skip(offset, "subkey of a single-KV type"));
        return Rebuilt::Partial;
    };
    match meta.extra {
        Extra::String(value) => out.push(k.namespace, vec![lit("SET"), raw(k.key), raw(value)]),
        Extra::Json { format: JsonFormat::Json, payload } => {
            del(k, out);
            out.push(k.namespace, vec![lit("JSON.SET"), raw(k.key), lit("$"), raw(payload)]);
        }
        Extra::Json { format: JsonFormat::Cbor, .. } => {
            out.skip(offset, "JSON stored as CBOR (no transcoder to JSON text)");
            return Rebuilt::Partial;
        }
        _ => {
            out.skip(offset, "single-KV metadata without its value");
            return Rebuilt::Partial;
        }
    }
    Rebuilt::Whole
}
