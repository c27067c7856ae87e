//! The replication link's error type, classified by whether waiting and retrying helps.

/// What ended (or must end) a replication link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplError {
    /// The master answered a handshake step with an error.
    #[error("the master refused {step}: {reply}")]
    Refused {
        /// The handshake step (`PING`, `AUTH`, `PSYNC`, …).
        step: &'static str,
        /// The master's error line.
        reply: String,
    },
    /// The master needs a password and none was configured.
    #[error("the master requires authentication ({reply}); give a password in the source URL")]
    AuthRequired {
        /// The master's error line.
        reply: String,
    },
    /// The master cannot serve a sync now (`-LOADING`, `-NOMASTERLINK`, `-MASTERDOWN`, …).
    #[error("the master cannot serve a sync yet: {reply}")]
    NotReady {
        /// The master's error line.
        reply: String,
    },
    /// The master aborted the transfer with an error line.
    #[error("the master aborted the full sync: {line}")]
    Aborted {
        /// The line it sent.
        line: String,
    },
    /// The bytes from the master do not follow the protocol.
    #[error("protocol error at stream byte {at}: {what}")]
    Protocol {
        /// What was expected.
        what: String,
        /// How many bytes of this connection had been read.
        at: u64,
    },
    /// A command or line from the master exceeds the configured bound.
    #[error("the master sent a {what} of {len} bytes, over the limit of {limit} (raise max_command_bytes)")]
    TooLarge {
        /// What it was.
        what: &'static str,
        /// Its declared size.
        len: u64,
        /// The bound.
        limit: usize,
    },
    /// Nothing was heard from the master for too long.
    #[error("no data from the master for {secs} s (timeout)")]
    Timeout {
        /// Seconds of silence.
        secs: u64,
    },
    /// The driver used the state machine out of order.
    #[error("replication state machine misuse: {0}")]
    Misuse(&'static str),
}

impl ReplError {
    /// Whether reconnecting after a pause may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ReplError::NotReady { .. } | ReplError::Timeout { .. } | ReplError::Aborted { .. })
    }
}
