//! [`AdminError`], the crate's one error type: a listener that failed for good, and the ways a
//! client's request can be malformed (these become `-ERR Protocol error: …` or HTTP 400 replies).

use std::io;

/// What can go wrong serving the admin port or the metrics endpoint, or reading a client's request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The listening socket failed for good; the server stopped.
    #[error("cannot accept connections on {addr}")]
    Accept {
        /// The listening address.
        addr: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A RESP array header (`*<count>`) is not a number or its line is too long.
    #[error("invalid multibulk length")]
    BadCount,
    /// A bulk string header (`$<len>`) is not a number in `0..=65536` or its line is too long.
    #[error("invalid bulk length")]
    BadBulkLength,
    /// An array element is not a bulk string.
    #[error("expected '$', got '{}'", char::from(*got))]
    ExpectedBulk {
        /// The byte found instead of `$`.
        got: u8,
    },
    /// A bulk string is not followed by `\r\n`.
    #[error("expected CRLF after a bulk string")]
    MissingCrlf,
    /// A request has more arguments than the limit.
    #[error("too many arguments (max {max})")]
    TooManyArguments {
        /// The limit.
        max: usize,
    },
    /// A request is longer than the limit.
    #[error("request longer than {max} bytes")]
    RequestTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
    /// An HTTP request line is not `METHOD /path HTTP/1.x`.
    #[error("malformed HTTP request line")]
    BadRequestLine,
    /// An HTTP request head is longer than the limit.
    #[error("HTTP request head longer than {max} bytes")]
    HeadTooLarge {
        /// The limit, in bytes.
        max: usize,
    },
}
