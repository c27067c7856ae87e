//! Replies read from the target (RESP2), decoded with `redis-protocol`; the two replies
//! nearly every write gets, `+OK` and an integer, are read on a fast path that allocates
//! nothing.

use std::borrow::Cow;

use bytes::{Buf, BytesMut};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;

/// A reply, reduced to what the writer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other status lines.
    Status(Cow<'static, str>),
    /// An error line.
    Error(String),
    /// An integer.
    Integer(i64),
    /// A bulk string (`None` for nil).
    Bulk(Option<Vec<u8>>),
    /// An array (`None` for nil).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text, for messages and INFO parsing.
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) => s.to_string(),
            Reply::Error(s) => s.clone(),
            Reply::Integer(i) => i.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) | Reply::Array(None) => "(nil)".into(),
            Reply::Array(Some(items)) => items.iter().map(Reply::text).collect::<Vec<_>>().join(" "),
        }
    }
}

/// Takes one complete reply off the front of `buf`, if there is one.
pub(crate) fn take_reply(buf: &mut BytesMut) -> Result<Option<Reply>, String> {
    if let Some((reply, len)) = simple(buf) {
        buf.advance(len);
        return Ok(Some(reply));
    }
    match decode_bytes_mut(buf) {
        Ok(Some((frame, _, _))) => Ok(Some(convert(frame))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn convert(frame: BytesFrame) -> Reply {
    match frame {
        BytesFrame::SimpleString(s) => Reply::Status(Cow::Owned(String::from_utf8_lossy(&s).into_owned())),
        BytesFrame::Error(s) => Reply::Error(s.to_string()),
        BytesFrame::Integer(i) => Reply::Integer(i),
        BytesFrame::BulkString(b) => Reply::Bulk(Some(b.to_vec())),
        BytesFrame::Null => Reply::Bulk(None),
        BytesFrame::Array(items) => Reply::Array(Some(items.into_iter().map(convert).collect())),
    }
}

/// How many `+OK` or integer replies (at most `max`) follow each other at the front of
/// `buf`, and how many bytes they take; they can be matched in one go.
pub(crate) fn simple_run(buf: &[u8], max: usize) -> (usize, usize) {
    let (mut count, mut len) = (0, 0);
    while count < max {
        match simple(buf.get(len..).unwrap_or_default()) {
            Some((_, n)) => {
                count += 1;
                len += n;
            }
            None => break,
        }
    }
    (count, len)
}

/// `+OK` or a small integer at the front of `buf`, and its length; anything else is left
/// to the general decoder.
fn simple(buf: &[u8]) -> Option<(Reply, usize)> {
    if buf.starts_with(b"+OK\r\n") {
        return Some((Reply::Status(Cow::Borrowed("OK")), 5));
    }
    let digits = buf.strip_prefix(b":")?;
    let end = digits.iter().take(21).position(|b| *b == b'\r')?;
    if digits.get(end + 1) != Some(&b'\n') {
        return None;
    }
    let n = std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()?;
    Some((Reply::Integer(n), end + 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<Reply> {
        let mut buf = BytesMut::from(bytes);
        std::iter::from_fn(|| take_reply(&mut buf).unwrap()).collect()
    }

    #[test]
    fn fast_and_general_paths_agree() {
        let replies = all(b"+OK\r\n:12\r\n:-3\r\n+QUEUED\r\n-ERR no\r\n");
        assert_eq!(
            replies,
            [
                Reply::Status("OK".into()),
                Reply::Integer(12),
                Reply::Integer(-3),
                Reply::Status("QUEUED".into()),
                Reply::Error("ERR no".into()),
            ]
        );
        assert!(take_reply(&mut BytesMut::from(&b":99999999999999999999\r\n"[..])).is_err(), "overflow is an error");
        assert_eq!(all(b"*1\r\n+OK\r\n"), [Reply::Array(Some(vec![Reply::Status("OK".into())]))]);
        assert_eq!(all(b":7"), [], "an incomplete integer waits for more");
        assert_eq!(all(b"+OK\r"), []);
    }

    #[test]
    fn runs_of_simple_replies_stop_at_anything_else() {
        assert_eq!(simple_run(b"+OK\r\n:12\r\n+OK\r\n-ERR x\r\n+OK\r\n", 10), (3, 15));
        assert_eq!(simple_run(b"+OK\r\n+OK\r\n+OK\r\n", 2), (2, 10), "at most max");
        assert_eq!(simple_run(b"+OK\r\n+QUEUED\r\n", 10), (1, 5));
        assert_eq!(simple_run(b"+OK\r\n:1", 10), (1, 5), "an incomplete reply is left");
        assert_eq!(simple_run(b"$1\r\nx\r\n", 10), (0, 0));
    }
}
