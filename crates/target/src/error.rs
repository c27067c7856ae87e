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
    #[error("target {addr} rejected {command}{} (db {db}): {reply}", on(key))]
    Rejected {
        /// The target's address.
        addr: String,
        /// The command name.
        command: &'static str,
        /// Its keys, quoted and escaped (`key "k"`, `keys "a", "b"`), or empty for a
        /// command without keys.
        key: String,
        /// The source database.
        db: u64,
        /// The error reply.
        reply: String,
    },
    /// The target reaches databases by password (Kvrocks namespaces) and this database has
    /// none: nothing of the batch that selects it was written.
    #[error(
        "target {addr} keeps its keyspaces apart by password (Kvrocks namespaces) and none is set for \
         database {db}; nothing of it was written"
    )]
    NoDbPassword {
        /// The target's address.
        addr: String,
        /// The database.
        db: u64,
    },
    /// Authentication or the first PING failed.
    #[error("target {addr} refused the connection setup: {reply}")]
    Setup {
        /// The target's address.
        addr: String,
        /// The error reply.
        reply: String,
    },
    /// Commands were in flight and, for the reply timeout, the target sent no reply byte
    /// and took none of the bytes written to it: a half-open connection or a hung target.
    #[error("target {addr} answered nothing for {secs} s with {pending} commands in flight")]
    Timeout {
        /// The target's address.
        addr: String,
        /// Seconds of silence.
        secs: u64,
        /// Commands sent but not answered.
        pending: usize,
    },
    /// Connecting, TLS, authentication and the first PING took longer than the connect
    /// timeout (a blackholed address, or a target that accepts and says nothing).
    #[error("target {addr} did not complete the connection setup within {secs} s")]
    ConnectTimeout {
        /// The target's address.
        addr: String,
        /// The limit, in seconds.
        secs: u64,
    },
}

/// Replies to the connection setup (`AUTH`, `PING`) that say the target is not ready
/// *yet*: loading its data set, running a long script, or full of clients.
const SETUP_NOT_READY: &[&str] = &["LOADING", "BUSY", "MASTERDOWN"];
/// The same, in full (Redis sends it as a plain `ERR` and closes).
const SETUP_FULL: &str = "ERR max number of clients reached";
/// Error replies to a write that say the target cannot take writes *now*: loading its
/// data set, running a long script, or a replica (for instance a master demoted by a
/// failover that has not reached the writer yet).
const WRITE_NOT_NOW: &[&str] = &["READONLY", "LOADING", "BUSY"];

/// ` on key "k"` for a rejected command's keys, nothing when it has none.
fn on(keys: &str) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!(" on {keys}")
    }
}

fn first_word(reply: &str) -> &str {
    reply.split(' ').next().unwrap_or_default()
}

impl TargetError {
    /// Whether the error is about the connection rather than a command: the target could
    /// not be reached (`Connect` with a TCP error, `ConnectTimeout`), broke or closed the
    /// connection (`Io`, `Closed`), stopped answering (`Timeout`), or refused the setup
    /// with a reply saying it is not ready yet (`-LOADING`, `-BUSY`, `-MASTERDOWN`, too
    /// many clients). Connecting again later may succeed.
    ///
    /// Not connection errors: a bad URL or a TLS failure (configuration or certificate),
    /// an unreadable reply, a refused authentication, and every rejected command.
    pub fn is_connection(&self) -> bool {
        match self {
            TargetError::Connect(replicant_net::NetError::Connect { .. })
            | TargetError::Io { .. }
            | TargetError::Closed { .. }
            | TargetError::Timeout { .. }
            | TargetError::ConnectTimeout { .. } => true,
            TargetError::Setup { reply, .. } => SETUP_NOT_READY.contains(&first_word(reply)) || reply == SETUP_FULL,
            _ => false,
        }
    }

    /// Whether the target rejected a command with a reply that says it cannot take writes
    /// *now* rather than that the command is wrong: `-READONLY` (the target is, for now,
    /// a replica), `-LOADING` (it is loading its data set) or `-BUSY` (a script is
    /// running). Other rejections (`-OOM`, `-NOPERM`, `-WRONGTYPE`, …) are final.
    pub fn is_transient_rejection(&self) -> bool {
        match self {
            TargetError::Rejected { reply, .. } => WRITE_NOT_NOW.contains(&first_word(reply)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(reply: &str) -> TargetError {
        TargetError::Rejected {
            addr: "t:1".into(),
            command: "SET",
            key: "key \"k\"".into(),
            db: 0,
            reply: reply.into(),
        }
    }

    fn setup(reply: &str) -> TargetError {
        TargetError::Setup { addr: "t:1".into(), reply: reply.into() }
    }

    #[test]
    fn connection_errors_are_told_from_command_errors() {
        let addr = || "t:1".to_string();
        let io = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let connection = [
            TargetError::Connect(replicant_net::NetError::Connect { addr: addr(), source: io() }),
            TargetError::Io { addr: addr(), source: io() },
            TargetError::Closed { addr: addr(), pending: 3 },
            TargetError::Timeout { addr: addr(), secs: 60, pending: 3 },
            TargetError::ConnectTimeout { addr: addr(), secs: 10 },
            setup("LOADING Redis is loading the dataset in memory"),
            setup("BUSY Redis is busy running a script."),
            setup("ERR max number of clients reached"),
        ];
        for e in &connection {
            assert!(e.is_connection(), "{e}");
            assert!(!e.is_transient_rejection(), "{e}");
        }
        let other = [
            TargetError::Connect(replicant_net::NetError::BadUrl { url: "x".into(), why: "no".into() }),
            TargetError::Connect(replicant_net::NetError::Tls { addr: addr(), why: "bad certificate".into() }),
            TargetError::Protocol { addr: addr(), why: "garbage".into() },
            setup("WRONGPASS invalid username-password pair or user is disabled."),
            setup("NOAUTH Authentication required."),
            rejected("OOM command not allowed when used memory > 'maxmemory'."),
            rejected("NOPERM this user has no permissions to run the 'set' command"),
            rejected("WRONGTYPE Operation against a key holding the wrong kind of value"),
            rejected("ERR unknown command 'FOO'"),
        ];
        for e in &other {
            assert!(!e.is_connection(), "{e}");
            assert!(!e.is_transient_rejection(), "{e}");
        }
    }

    #[test]
    fn writes_refused_for_now_are_transient() {
        for reply in [
            "READONLY You can't write against a read only replica.",
            "LOADING Redis is loading the dataset in memory",
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
        ] {
            assert!(rejected(reply).is_transient_rejection(), "{reply}");
            assert!(!rejected(reply).is_connection(), "{reply}");
        }
    }

    #[test]
    fn a_timeout_names_the_target_the_silence_and_the_commands_in_flight() {
        let e = TargetError::Timeout { addr: "10.0.0.5:6379".into(), secs: 60, pending: 17 };
        assert_eq!(e.to_string(), "target 10.0.0.5:6379 answered nothing for 60 s with 17 commands in flight");
    }
}
