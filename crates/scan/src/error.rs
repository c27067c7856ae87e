//! What can go wrong in a scan-mode copy.

/// A scan-mode error, naming the server and, where there is one, the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The connection failed or closed.
    #[error("{addr}: {source}")]
    Io {
        /// The server.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server could not be reached or authenticated.
    #[error("{addr}: {why}")]
    Connect {
        /// The server.
        addr: String,
        /// Why.
        why: String,
    },
    /// The server refused a command the copy needs.
    #[error("{addr} refused {command}{}: {reply}", key_suffix(key.as_deref()))]
    Refused {
        /// The server.
        addr: String,
        /// The command.
        command: &'static str,
        /// The key it was about, if any.
        key: Option<String>,
        /// The server's error.
        reply: String,
    },
    /// A reply of the wrong kind (a proxy or a store that answers differently).
    #[error("{addr} answered {command}{} with {got}, which is not {expected}", key_suffix(key.as_deref()))]
    BadReply {
        /// The server.
        addr: String,
        /// The command.
        command: &'static str,
        /// The key it was about, if any.
        key: Option<String>,
        /// What came.
        got: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A `DUMP` payload that does not check out.
    #[error("the DUMP payload of key {key:?} (db {db}) {why}")]
    BadPayload {
        /// The key.
        key: String,
        /// Its database.
        db: u64,
        /// What is wrong.
        why: String,
    },
    /// A source this mode cannot copy whole.
    #[error("{addr}: {why}")]
    Unsupported {
        /// The server.
        addr: String,
        /// Why.
        why: String,
    },
    /// Something the RDB stream could not take (the reader stopped).
    #[error("the copy stopped taking keys: {0}")]
    Output(std::io::Error),
}

fn key_suffix(key: Option<&str>) -> String {
    key.map(|k| format!(" of key {k:?}")).unwrap_or_default()
}
