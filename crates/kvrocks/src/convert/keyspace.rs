//! Records that are not about one key: range deletes, pubsub and the propagate column
//! family (`src/storage/redis_db.cc`, `src/server/server.cc`, `src/commands/cmd_script.cc`).
//!
//! | record | command |
//! |---|---|
//! | metadata DeleteRange over exactly one namespace (FLUSHDB) | `FLUSHDB`, in that namespace |
//! | any other metadata DeleteRange (FLUSHALL: first key to after the last) | `FLUSHALL` (server-wide) |
//! | pubsub put | `PUBLISH channel message`, only with [`Options::publish`] |
//! | propagate `script` (SCRIPT FLUSH, RESP-encoded) | that command |
//! | propagate `lua_f_<sha>` (a script body: EVAL, SCRIPT LOAD) | `SCRIPT LOAD <body>` |
//! | propagate `lua_lib_code_<lib>` (FUNCTION LOAD) | `FUNCTION LOAD REPLACE <code>` |
//!
//! EVAL and FCALL need nothing more: Kvrocks writes one batch per `redis.call` with its
//! own LogData (the captures' EVAL made two), so their effects arrive as data.
//!
//! Not converted (reported): a metadata DeleteRange over one cluster slot range (slot
//! migration cleanup, a partial namespace), DeleteRange in other column families,
//! `lua_func_lib_<func>` (function-to-library index, implied by FUNCTION LOAD),
//! `__namespace_keys__` (namespace tokens; the caller maps namespaces),
//! `replication_id_`, PUBLISH without the option, and raw records (Merge, SingleDelete,
//! BlobIndex, PutEntity, TimedPut, transaction markers, Noop), which Kvrocks does not write.

use super::arg::{lit, raw, Args};
use super::{Converted, Options};
use crate::batch::Op;
use crate::cf::ColumnFamily;
use crate::key::DEFAULT_NAMESPACE;
use crate::update::{Change, Entry};

/// Converts one record that is not about a single key.
pub(super) fn convert<'a>(entry: &Entry<'a>, options: Options, out: &mut Converted<'a>) {
    let offset = entry.offset;
    match &entry.change {
        change @ Change::DeleteRange { cf: ColumnFamily::Metadata, begin, end } => match change.flushed_namespace() {
            Some(namespace) => out.push(namespace, vec![lit("FLUSHDB")]),
            None if is_slot_range(begin, end) => out.skip(offset, "DeleteRange of a cluster slot range"),
            None => out.push(DEFAULT_NAMESPACE, vec![lit("FLUSHALL")]),
        },
        Change::DeleteRange { .. } => out.skip(offset, "DeleteRange outside the metadata CF"),
        Change::Publish { channel, message } if options.publish => {
            out.push(DEFAULT_NAMESPACE, vec![lit("PUBLISH"), raw(channel), raw(message)]);
        }
        Change::Publish { .. } => out.skip(offset, "PUBLISH (forwarding is off in Options)"),
        Change::Propagate { key, value } => match propagate(key, value) {
            Ok(args) => out.push(DEFAULT_NAMESPACE, args),
            Err(what) => out.skip(offset, what),
        },
        Change::Other(op) => out.skip(offset, op_name(op)),
        _ => out.skip(offset, "key record outside a run"),
    }
}

/// `ns_len | ns | slot:u16` at both ends, same namespace: `ClearKeysOfSlotRange`.
fn is_slot_range(begin: &[u8], end: &[u8]) -> bool {
    let prefix = |k: &[u8]| k.first().map(|&len| usize::from(len) + 1).filter(|p| k.len() == p + 2);
    matches!((prefix(begin), prefix(end)), (Some(a), Some(b)) if a == b && begin.get(..a) == end.get(..b))
}

fn propagate<'a>(key: &'a [u8], value: &'a [u8]) -> Result<Args<'a>, &'static str> {
    if key == b"script" {
        return resp_array(value).ok_or("propagate `script` value that is not a RESP array of bulk strings");
    }
    if key.starts_with(b"lua_f_") {
        return Ok(vec![lit("SCRIPT"), lit("LOAD"), raw(value)]);
    }
    if key.starts_with(b"lua_lib_code_") {
        return Ok(vec![lit("FUNCTION"), lit("LOAD"), lit("REPLACE"), raw(value)]);
    }
    Err(match key {
        b"__namespace_keys__" => "namespace tokens (propagate CF)",
        b"replication_id_" => "replication id (propagate CF)",
        _ if key.starts_with(b"lua_func_lib_") => "function-to-library index (propagate CF; implied by FUNCTION LOAD)",
        _ => "unknown propagate CF key",
    })
}

/// Parses `*<n>\r\n($<len>\r\n<bytes>\r\n){n}` exactly, as `Server::Propagate` writes it.
fn resp_array(value: &[u8]) -> Option<Args<'_>> {
    let (count, mut rest) = line(value.strip_prefix(b"*")?)?;
    let mut args = Args::new();
    for _ in 0..count {
        let (len, after) = line(rest.strip_prefix(b"$")?)?;
        let len = usize::try_from(len).ok()?;
        let bulk = after.get(..len)?;
        rest = after.get(len..)?.strip_prefix(b"\r\n")?;
        args.push(raw(bulk));
    }
    (rest.is_empty() && !args.is_empty()).then_some(args)
}

/// A decimal terminated by CRLF, and what follows.
fn line(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let number = crate::log_data::parse_decimal(bytes.get(..end)?)?;
    Some((number, bytes.get(end + 2..)?))
}

fn op_name(op: &Op<'_>) -> &'static str {
    match op {
        Op::Put { .. } => "raw Put (search CF)",
        Op::Delete { .. } => "raw Delete (search, pubsub or propagate CF: a script or function removal)",
        Op::SingleDelete { .. } => "raw SingleDelete",
        Op::DeleteRange { .. } => "raw DeleteRange",
        Op::Merge { .. } => "raw Merge",
        Op::BlobIndex { .. } => "raw BlobIndex",
        Op::PutEntity { .. } => "raw PutEntity",
        Op::TimedPut { .. } => "raw TimedPut",
        _ => "WriteBatch marker (transaction, Noop)",
    }
}
