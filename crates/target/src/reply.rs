//! Replies read from the target (RESP2), decoded with `redis-protocol`.

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;

/// A reply, reduced to what the writer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` and other status lines.
    Status(String),
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
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Integer(i) => i.to_string(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Bulk(None) | Reply::Array(None) => "(nil)".into(),
            Reply::Array(Some(items)) => items.iter().map(Reply::text).collect::<Vec<_>>().join(" "),
        }
    }
}

/// Takes one complete reply off the front of `buf`, if there is one.
pub(crate) fn take_reply(buf: &mut BytesMut) -> Result<Option<Reply>, String> {
    match decode_bytes_mut(buf) {
        Ok(Some((frame, _, _))) => Ok(Some(convert(frame))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn convert(frame: BytesFrame) -> Reply {
    match frame {
        BytesFrame::SimpleString(s) => Reply::Status(String::from_utf8_lossy(&s).into_owned()),
        BytesFrame::Error(s) => Reply::Error(s.to_string()),
        BytesFrame::Integer(i) => Reply::Integer(i),
        BytesFrame::BulkString(b) => Reply::Bulk(Some(b.to_vec())),
        BytesFrame::Null => Reply::Bulk(None),
        BytesFrame::Array(items) => Reply::Array(Some(items.into_iter().map(convert).collect())),
    }
}
