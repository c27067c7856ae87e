//! The writer's error type.

/// What stopped the writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// The target refused a command, could not be reached, or broke the connection.
    #[error(transparent)]
    Target(#[from] replicant_target::TargetError),
    /// A key could not be converted for this target.
    #[error(transparent)]
    Convert(#[from] replicant_convert::ConvertError),
    /// A command the source ran cannot run on a cluster target.
    #[error("{what} cannot run on a cluster target: {why}")]
    Cluster {
        /// The command.
        what: String,
        /// Why not.
        why: &'static str,
    },
    /// The target's cluster slot map could not be read or is incomplete.
    #[error("cannot read the target's cluster slot map: {0}")]
    SlotMap(String),
    /// An exactly-once marker on the target cannot be used.
    #[error("cannot resume exactly once: {0}")]
    Marker(String),
    /// The senders are gone. `first` is the first sender error, already returned once
    /// (with its causes), when there was one.
    #[error("a target sender stopped{}", after(.first))]
    Stopped {
        /// The first sender error, as text.
        first: Option<String>,
        /// Whether that error was retryable ([`WriterError::is_retryable`]).
        retryable: bool,
    },
}

fn after(first: &Option<String>) -> String {
    first.as_deref().map(|f| format!(" after: {f}")).unwrap_or_default()
}

impl WriterError {
    /// The senders are gone, and nothing says why.
    pub(crate) fn stopped() -> WriterError {
        WriterError::Stopped { first: None, retryable: false }
    }

    /// Whether running again (reconnecting, resuming from the last checkpoint) may
    /// succeed: the target could not be reached, broke the connection or stopped
    /// answering ([`replicant_target::TargetError::is_connection`]), or refused a write
    /// for now (`-READONLY`, `-LOADING`, `-BUSY`:
    /// [`replicant_target::TargetError::is_transient_rejection`]); or the senders stopped
    /// after such an error. A command the target rejects for good (`-OOM`, `-NOPERM`,
    /// `-WRONGTYPE`, …), a conversion or cluster error, or a bad marker is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            WriterError::Target(e) => e.is_connection() || e.is_transient_rejection(),
            WriterError::Stopped { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// The error and its causes, as one line.
    pub(crate) fn describe(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use replicant_target::TargetError;

    use super::*;

    fn rejected(reply: &str) -> WriterError {
        let e = TargetError::Rejected {
            addr: "t:1".into(),
            command: "SET",
            key: "key \"k\"".into(),
            db: 0,
            reply: reply.into(),
        };
        WriterError::Target(e)
    }

    #[test]
    fn connection_errors_and_writes_refused_for_now_are_retryable() {
        let timeout = WriterError::Target(TargetError::Timeout { addr: "t:1".into(), secs: 60, pending: 4 });
        assert!(timeout.is_retryable());
        assert!(WriterError::Target(TargetError::Closed { addr: "t:1".into(), pending: 0 }).is_retryable());
        assert!(rejected("READONLY You can't write against a read only replica.").is_retryable());
        assert!(rejected("LOADING Redis is loading the dataset in memory").is_retryable());
        for reply in ["OOM command not allowed", "NOPERM no permissions", "WRONGTYPE Operation against a key"] {
            assert!(!rejected(reply).is_retryable(), "{reply}");
        }
        assert!(!WriterError::Marker("bad".into()).is_retryable());
        assert!(!WriterError::SlotMap("incomplete".into()).is_retryable());
        assert!(!WriterError::stopped().is_retryable(), "nothing says why");
    }

    #[test]
    fn stopped_keeps_the_first_error_and_its_class() {
        let first = WriterError::Target(TargetError::Timeout { addr: "t:1".into(), secs: 2, pending: 4 });
        let stopped = WriterError::Stopped { first: Some(first.describe()), retryable: first.is_retryable() };
        assert!(stopped.is_retryable());
        assert_eq!(
            stopped.to_string(),
            "a target sender stopped after: target t:1 answered nothing for 2 s with 4 commands in flight"
        );
        assert_eq!(WriterError::stopped().to_string(), "a target sender stopped");
    }
}
