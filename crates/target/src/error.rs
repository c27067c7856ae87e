//! The target crate's error type.

/// What went wrong talking to the target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The connection could not be made.
    #[error(transparent)]
    Connect(#[from] replicant_net::NetError),
    /// The connection broke.
    #[error("target {addr}: connection lost")]
    Io {
        /// The target's address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The target closed the connection.
    #[error("target {addr} closed the connection with {pending} commands unanswered")]
    Closed {
        /// The target's address.
        addr: String,
        /// Commands sent but not answered.
        pending: usize,
    },
    /// The target sent bytes that are not RESP.
    #[error("target {addr} sent an unreadable reply: {why}")]
    Protocol {
        /// The target's address.
        addr: String,
        /// The decoder's complaint.
        why: String,
    },
    /// The target answered a command with an error.
    #[error("target {addr} rejected {command} on key {key} (db {db}): {reply}")]
    Rejected {
        /// The target's address.
        addr: String,
        /// The command name.
        command: &'static str,
        /// The key, escaped (at most 256 bytes of it).
        key: String,
        /// The source database.
        db: u64,
        /// The error reply.
        reply: String,
    },
    /// Authentication or the first PING failed.
    #[error("target {addr} refused the connection setup: {reply}")]
    Setup {
        /// The target's address.
        addr: String,
        /// The error reply.
        reply: String,
    },
}
