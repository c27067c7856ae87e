//! Framing of the bytes a Kvrocks master writes on the PSYNC connection: `+OK` (or an
//! `-ERR` line), then one RESP bulk string per WAL batch and `$4\r\nping\r\n` heartbeats
//! (`FeedSlaveThread::loop`, `src/cluster/replication.cc`). Several bulks may arrive in one
//! read and a bulk may be split across reads: the caller keeps a buffer, calls
//! [`Frame::load`] until it returns `Ok(None)` (need more bytes), and drops `consumed`
//! bytes after each frame.

use crate::error::{KvrocksError, Result};

/// The payload Kvrocks sends as a heartbeat.
pub const PING: &[u8] = b"ping";

/// Longest `$<len>` / `+...` / `-...` line accepted before its CRLF.
const MAX_LINE: usize = 4096;

/// One frame of the PSYNC stream, borrowing the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A `+...` line without the `+` and CRLF (`OK` after PSYNC).
    Simple(&'a [u8]),
    /// A `-...` line without the `-` and CRLF (`ERR sequence out of range, ...`).
    Error(&'a [u8]),
    /// A bulk holding a WriteBatch rep.
    Batch(&'a [u8]),
    /// The `ping` heartbeat bulk.
    Ping,
}

impl<'a> Frame<'a> {
    /// Reads one frame from the start of `buf`: `Ok(Some((frame, consumed)))`, or `Ok(None)`
    /// when `buf` holds only part of a frame. A bulk length comes off the wire: it is only
    /// compared with what is buffered, never allocated.
    pub fn load(buf: &'a [u8]) -> Result<Option<(Self, usize)>> {
        let Some((&kind, _)) = buf.split_first() else { return Ok(None) };
        let Some(line_end) = find_crlf(buf)? else { return Ok(None) };
        let line = buf.get(1..line_end).unwrap_or_default();
        let after_line = line_end + 2;
        match kind {
            b'+' => Ok(Some((Self::Simple(line), after_line))),
            b'-' => Ok(Some((Self::Error(line), after_line))),
            b'$' => {
                let len = crate::log_data::parse_decimal(line)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(KvrocksError::Malformed { what: "bulk length (expected $<digits>)", offset: 1 })?;
                let Some(end) = after_line.checked_add(len) else {
                    return Err(KvrocksError::Malformed { what: "bulk length (overflows)", offset: 1 });
                };
                let Some(tail) = buf.get(end..end.saturating_add(2)).filter(|t| t.len() == 2) else {
                    return Ok(None);
                };
                if tail != b"\r\n" {
                    return Err(KvrocksError::Malformed { what: "bulk terminator (expected CRLF)", offset: end });
                }
                let payload = buf.get(after_line..end).unwrap_or_default();
                let frame = if payload == PING { Self::Ping } else { Self::Batch(payload) };
                Ok(Some((frame, end + 2)))
            }
            _ => Err(KvrocksError::Malformed { what: "frame type (expected '+', '-' or '$')", offset: 0 }),
        }
    }
}

/// The offset of the first CRLF, `None` if not buffered yet, an error if the line is too long.
fn find_crlf(buf: &[u8]) -> Result<Option<usize>> {
    let window = buf.get(..buf.len().min(MAX_LINE + 2)).unwrap_or(buf);
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(pos) => Ok(Some(pos)),
        None if buf.len() > MAX_LINE + 1 => {
            Err(KvrocksError::Malformed { what: "frame line (no CRLF within 4096 bytes)", offset: 0 })
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Splits `buf` completely, failing on leftovers.
    fn all(mut buf: &[u8]) -> Vec<Frame<'_>> {
        let mut out = Vec::new();
        while let Some((frame, used)) = Frame::load(buf).unwrap() {
            out.push(frame);
            buf = &buf[used..];
        }
        assert!(buf.is_empty(), "leftover {buf:?}");
        out
    }

    #[test]
    fn ok_bulks_and_pings() {
        let frames = all(b"+OK\r\n$3\r\nabc\r\n$4\r\nping\r\n$0\r\n\r\n");
        assert_eq!(frames, [Frame::Simple(b"OK"), Frame::Batch(b"abc"), Frame::Ping, Frame::Batch(b"")]);
        assert_eq!(all(b"-ERR sequence out of range, please use fullsync\r\n").len(), 1);
    }

    #[test]
    fn payload_may_hold_crlf() {
        assert_eq!(all(b"$4\r\n\r\n\r\n\r\n"), [Frame::Batch(b"\r\n\r\n")]);
    }

    #[test]
    fn every_split_point_is_partial_not_an_error() {
        let whole = b"$5\r\nhello\r\n";
        for cut in 0..whole.len() {
            assert_eq!(Frame::load(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(Frame::load(whole).unwrap(), Some((Frame::Batch(b"hello"), whole.len())));
    }

    #[test]
    fn malformed() {
        assert!(Frame::load(b"*1\r\n").is_err());
        assert!(Frame::load(b"$x\r\n").is_err());
        assert!(Frame::load(b"$-1\r\n").is_err());
        assert!(Frame::load(b"$1\r\nab\r\n").is_err());
        assert!(Frame::load(&[b'+'; 5000]).is_err());
        // A huge declared length is just "need more".
        assert_eq!(Frame::load(b"$99999999999\r\nabc").unwrap(), None);
        assert!(Frame::load(b"$999999999999999999999999\r\n").is_err());
    }
}
