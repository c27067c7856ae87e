//! [`Reply`]: the RESP2 values the admin port answers with, and their encoding. Nothing here decides
//! which reply a command gets (`command` does).

use std::borrow::Cow;

use bytes::{BufMut, BytesMut};

/// `+OK`.
pub(crate) const OK: Reply = Reply::Status(Cow::Borrowed("OK"));

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+text`: line breaks inside become spaces.
    Status(Cow<'static, str>),
    /// `-CODE text`: line breaks inside become spaces.
    Error(Cow<'static, str>),
    /// `:n`.
    Integer(i64),
    /// `$len` then the bytes.
    Bulk(Vec<u8>),
    /// `*0`.
    EmptyArray,
}

impl Reply {
    /// `-text`.
    pub(crate) fn error(text: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(text.into())
    }

    /// Appends the RESP2 encoding.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        match self {
            Reply::Status(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', &n.to_string()),
            Reply::Bulk(bytes) => {
                line(out, b'$', &bytes.len().to_string());
                out.put_slice(bytes);
                out.put_slice(b"\r\n");
            }
            Reply::EmptyArray => out.put_slice(b"*0\r\n"),
        }
    }
}

fn line(out: &mut BytesMut, sigil: u8, text: &str) {
    out.put_u8(sigil);
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: Reply) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(&mut out);
        out.to_vec()
    }

    #[test]
    fn encodings() {
        assert_eq!(encoded(OK), b"+OK\r\n");
        assert_eq!(encoded(Reply::error("ERR no\r\n+OK")), b"-ERR no  +OK\r\n");
        assert_eq!(encoded(Reply::Integer(-3)), b":-3\r\n");
        assert_eq!(encoded(Reply::Bulk(b"a\r\nb".to_vec())), b"$4\r\na\r\nb\r\n");
        assert_eq!(encoded(Reply::Bulk(Vec::new())), b"$0\r\n\r\n");
        assert_eq!(encoded(Reply::EmptyArray), b"*0\r\n");
    }
}
