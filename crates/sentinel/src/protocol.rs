//! The sans-IO half of the client: commands to bytes, bytes to one bounded reply, and
//! replies to the values this crate needs. Nothing here touches a socket or a clock.
//!
//! Framing is `redis-protocol`'s RESP2 decoder. Nothing from the network is trusted: a
//! reply may take at most [`MAX_REPLY`] bytes and hold at most [`MAX_ARRAYS`] array
//! headers (the decoder recurses once per nesting level, so the nesting of what it is
//! given must be bounded), and every value is checked before it is used.

use bytes::{Buf, BytesMut};
use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::encode::extend_encode_borrowed;
use redis_protocol::resp2::types::{BorrowedFrame, OwnedFrame};

use crate::error::server_text;
use crate::MasterAddr;

/// Largest reply accepted, in bytes.
pub(crate) const MAX_REPLY: usize = 1 << 20;
/// Most array headers accepted in one reply. This bounds its nesting depth, which matters:
/// the decoder takes about 2 KiB of stack per level in a debug build, and a Tokio worker
/// has 2 MiB. The largest legitimate reply, `ROLE` on a master, has two plus one per
/// replica.
pub(crate) const MAX_ARRAYS: usize = 256;
/// Longest host name accepted from a sentinel.
const MAX_HOST: usize = 255;

/// The pubsub channel on which sentinels announce a new master.
pub(crate) const SWITCH_MASTER: &[u8] = b"+switch-master";

/// Appends `args` to `out` as a RESP2 command (an array of bulk strings).
pub(crate) fn encode_command(out: &mut BytesMut, args: &[&[u8]]) -> Result<(), String> {
    let parts: Vec<BorrowedFrame<'_>> = args.iter().map(|arg| BorrowedFrame::BulkString(arg)).collect();
    extend_encode_borrowed(out, &BorrowedFrame::Array(&parts), false).map(drop).map_err(|e| e.to_string())
}

/// Takes one complete reply off the front of `buf`: `Ok(None)` when more bytes are
/// needed, `Err` when the bytes cannot be a reply within the limits.
pub(crate) fn take_reply(buf: &mut BytesMut) -> Result<Option<OwnedFrame>, String> {
    let window = buf.get(..MAX_REPLY).unwrap_or(buf);
    let cut = arrays_prefix(window, MAX_ARRAYS);
    let prefix = window.get(..cut).unwrap_or(window);
    match decode(prefix) {
        Ok(Some((frame, used))) => {
            buf.advance(used);
            Ok(Some(frame))
        }
        Ok(None) if cut < window.len() => Err(format!("a reply with more than {MAX_ARRAYS} arrays")),
        Ok(None) if buf.len() >= MAX_REPLY => Err(format!("a reply longer than {MAX_REPLY} bytes")),
        Ok(None) => Ok(None),
        Err(e) => Err(format!("bad RESP: {e}")),
    }
}

/// Length of the longest prefix of `buf` with at most `max` array headers. A header is
/// counted wherever `*` starts a line, which over-counts (inside bulk strings) but never
/// under-counts, so decoding that prefix recurses at most `max` deep.
fn arrays_prefix(buf: &[u8], max: usize) -> usize {
    let mut seen = 0;
    let mut previous = b'\n';
    for (at, &byte) in buf.iter().enumerate() {
        if byte == b'*' && previous == b'\n' {
            seen += 1;
            if seen > max {
                return at;
            }
        }
        previous = byte;
    }
    buf.len()
}

/// The reply to `SENTINEL get-master-addr-by-name`: `[host, port]`, or nil when the
/// sentinel monitors no master by that name.
pub(crate) fn master_addr_reply(frame: &OwnedFrame) -> Result<Option<MasterAddr>, String> {
    match frame {
        OwnedFrame::Null => Ok(None),
        OwnedFrame::Array(items) => match items.as_slice() {
            [host, port] => Ok(Some(MasterAddr::new(host_of(bytes_of(host)?)?, port_of(bytes_of(port)?)?))),
            _ => Err(format!("an address must be [host, port], got {} items", items.len())),
        },
        other => Err(format!("an address must be [host, port], got {}", describe(other))),
    }
}

/// A message of the pubsub protocol (RESP2), as a subscribed connection receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Push {
    /// `subscribe <channel> <count>`: the subscription is in place.
    Subscribed { channel: Vec<u8> },
    /// `message <channel> <payload>`.
    Message { channel: Vec<u8>, payload: Vec<u8> },
    /// `pong <data>`: the answer to PING on a subscribed connection.
    Pong,
}

/// Reads a frame received on a subscribed connection.
pub(crate) fn push_of(frame: &OwnedFrame) -> Result<Push, String> {
    let OwnedFrame::Array(items) = frame else {
        return Err(format!("a pubsub message must be an array, got {}", describe(frame)));
    };
    let kind = items.first().map(bytes_of).transpose()?.unwrap_or_default();
    match (kind.to_ascii_lowercase().as_slice(), items.as_slice()) {
        (b"subscribe", [_, channel, _]) => Ok(Push::Subscribed { channel: bytes_of(channel)?.to_vec() }),
        (b"message", [_, channel, payload]) => {
            Ok(Push::Message { channel: bytes_of(channel)?.to_vec(), payload: bytes_of(payload)?.to_vec() })
        }
        (b"pong", [_, _]) => Ok(Push::Pong),
        _ => Err(format!("unexpected pubsub message {:?} of {} items", server_text(kind), items.len())),
    }
}

/// The new address in a `+switch-master` payload
/// (`<name> <old-ip> <old-port> <new-ip> <new-port>`, sentinel.c), if it is about the
/// master `name`; `Ok(None)` for another master.
pub(crate) fn switch_master(payload: &[u8], name: &str) -> Result<Option<MasterAddr>, String> {
    let words: Vec<&[u8]> = payload.split(|b| *b == b' ').collect();
    let bad = || {
        format!(
            "a +switch-master message must be 'name old-ip old-port new-ip new-port', got {:?}",
            server_text(payload)
        )
    };
    // The name comes first and is all but the last four words.
    let split = words.len().checked_sub(4).filter(|n| *n > 0).ok_or_else(bad)?;
    let (named, addrs) = words.split_at(split);
    if named.join(&b' ') != name.as_bytes() {
        return Ok(None);
    }
    match addrs {
        [_, _, host, port] => Ok(Some(MasterAddr::new(host_of(host)?, port_of(port)?))),
        _ => Err(bad()),
    }
}

/// The role in a `ROLE` reply: its first element (`master`, `slave`, `sentinel`).
pub(crate) fn role_reply(frame: &OwnedFrame) -> Result<String, String> {
    match frame {
        OwnedFrame::Array(items) => match items.first() {
            Some(role) => Ok(server_text(bytes_of(role)?)),
            None => Err("an empty ROLE reply".to_string()),
        },
        other => Err(format!("a ROLE reply must be an array, got {}", describe(other))),
    }
}

/// The `role:` field of an `INFO replication` reply.
pub(crate) fn info_role(frame: &OwnedFrame) -> Result<String, String> {
    let text = bytes_of(frame)?;
    text.split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"role:"))
        .map(|role| server_text(role.trim_ascii()))
        .ok_or_else(|| "INFO replication has no role field".to_string())
}

fn bytes_of(frame: &OwnedFrame) -> Result<&[u8], String> {
    match frame {
        OwnedFrame::BulkString(bytes) | OwnedFrame::SimpleString(bytes) => Ok(bytes),
        other => Err(format!("expected a string, got {}", describe(other))),
    }
}

fn host_of(bytes: &[u8]) -> Result<String, String> {
    let fine = !bytes.is_empty() && bytes.len() <= MAX_HOST && bytes.iter().all(u8::is_ascii_graphic);
    match std::str::from_utf8(bytes) {
        Ok(host) if fine => Ok(host.to_string()),
        _ => Err(format!("{:?} is not a host", server_text(bytes))),
    }
}

fn port_of(bytes: &[u8]) -> Result<u16, String> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<u16>().ok())
        .filter(|port| *port != 0)
        .ok_or_else(|| format!("{:?} is not a port", server_text(bytes)))
}

fn describe(frame: &OwnedFrame) -> &'static str {
    match frame {
        OwnedFrame::SimpleString(_) => "a status",
        OwnedFrame::Error(_) => "an error",
        OwnedFrame::Integer(_) => "an integer",
        OwnedFrame::BulkString(_) => "a bulk string",
        OwnedFrame::Array(_) => "an array",
        OwnedFrame::Null => "nil",
    }
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
