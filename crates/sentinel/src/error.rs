//! [`SentinelError`]: every failure of the client, naming the sentinel or server involved.
//! Text that came from the network (error replies, roles) is shortened and stripped of
//! control characters before it is kept.

use std::error::Error as _;
use std::time::Duration;

use replicant_net::NetError;

/// Longest piece of server text kept in an error.
const MAX_SERVER_TEXT: usize = 200;

/// What can go wrong asking sentinels or checking a master.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SentinelError {
    /// The list of sentinels is empty.
    #[error("no sentinel given")]
    NoSentinels,
    /// Every sentinel answered, and none knows a master by this name.
    #[error("no sentinel monitors a master named {name:?} (asked {})", .sentinels.join(", "))]
    UnknownMaster {
        /// The master name asked for.
        name: String,
        /// `host:port` of each sentinel asked.
        sentinels: Vec<String>,
    },
    /// No sentinel gave an address; `failures` says why for each, in order.
    #[error("no sentinel gave the address of master {name:?}: {}", render_all(.failures))]
    NoAnswer {
        /// The master name asked for.
        name: String,
        /// One error per sentinel.
        failures: Vec<SentinelError>,
    },
    /// This sentinel does not monitor a master by this name (nil reply).
    #[error("sentinel {addr} does not monitor a master named {name:?}")]
    NotMonitored {
        /// `host:port` of the sentinel.
        addr: String,
        /// The master name asked for.
        name: String,
    },
    /// The connection could not be opened (the error names the address).
    #[error(transparent)]
    Connect(NetError),
    /// No connection or no reply in time.
    #[error("{addr}: no {waiting_for} within {after:?}")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// What was awaited (`connection`, `reply to SENTINEL`, …).
        waiting_for: String,
        /// The timeout.
        after: Duration,
    },
    /// Reading or writing failed.
    #[error("connection to {addr} failed")]
    Io {
        /// `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The peer closed the connection.
    #[error("{addr} closed the connection")]
    Closed {
        /// `host:port`.
        addr: String,
    },
    /// `AUTH` was refused (wrong password or user, or no password configured).
    #[error("{addr} refused AUTH: {reply}")]
    Auth {
        /// `host:port`.
        addr: String,
        /// The error reply.
        reply: String,
    },
    /// A command got an error reply.
    #[error("{addr} answered {command} with an error: {reply}")]
    ErrorReply {
        /// `host:port`.
        addr: String,
        /// The command name.
        command: &'static str,
        /// The error reply.
        reply: String,
    },
    /// A reply was malformed, too big, or not of the expected shape.
    #[error("unexpected reply from {addr}: {why}")]
    Protocol {
        /// `host:port`.
        addr: String,
        /// What is wrong with it.
        why: String,
    },
    /// The server is not a master (yet, or any more).
    #[error("{addr} is not a master: it reports the role {role:?}")]
    NotMaster {
        /// `host:port` of the server.
        addr: String,
        /// The role it reported (`slave`, `sentinel`, …).
        role: String,
    },
}

impl SentinelError {
    /// Whether asking again later may give an answer: a server or Sentinel that could not
    /// be reached or dropped the connection, or a master that is not one (yet: a failover
    /// under way). A wrong name, refused credentials or a malformed reply are for good.
    pub fn is_transient(&self) -> bool {
        match self {
            SentinelError::Connect(_)
            | SentinelError::Timeout { .. }
            | SentinelError::Io { .. }
            | SentinelError::Closed { .. }
            | SentinelError::NotMaster { .. } => true,
            SentinelError::NoAnswer { failures, .. } => failures.iter().all(SentinelError::is_transient),
            _ => false,
        }
    }

    /// The message with the messages of its causes, `a: b: c`.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

fn render_all(failures: &[SentinelError]) -> String {
    failures.iter().map(SentinelError::chain).collect::<Vec<_>>().join("; ")
}

/// Server text fit for a message: at most [`MAX_SERVER_TEXT`] characters, control
/// characters replaced.
pub(crate) fn server_text(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut out: String = text.chars().take(MAX_SERVER_TEXT).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().count() > MAX_SERVER_TEXT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_servers_and_failovers_under_way_are_transient_and_wrong_settings_are_not() {
        let closed = SentinelError::Closed { addr: "s:1".into() };
        let not_master = SentinelError::NotMaster { addr: "m:1".into(), role: "slave".into() };
        assert!(closed.is_transient() && not_master.is_transient());
        let auth = SentinelError::Auth { addr: "s:1".into(), reply: "WRONGPASS".into() };
        assert!(!auth.is_transient());
        assert!(!SentinelError::UnknownMaster { name: "m".into(), sentinels: vec![] }.is_transient());
        let all_down = SentinelError::NoAnswer { name: "m".into(), failures: vec![closed] };
        assert!(all_down.is_transient());
        let mixed = SentinelError::NoAnswer { name: "m".into(), failures: vec![auth, not_master] };
        assert!(!mixed.is_transient());
    }

    #[test]
    fn aggregate_lists_every_sentinel_with_its_cause() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let failures = vec![
            SentinelError::Io { addr: "10.0.0.1:26379".into(), source: refused },
            SentinelError::NotMonitored { addr: "10.0.0.2:26379".into(), name: "m".into() },
        ];
        let text = SentinelError::NoAnswer { name: "m".into(), failures }.to_string();
        assert_eq!(
            text,
            "no sentinel gave the address of master \"m\": connection to 10.0.0.1:26379 failed: refused; \
             sentinel 10.0.0.2:26379 does not monitor a master named \"m\""
        );
    }

    #[test]
    fn server_text_is_bounded_and_printable() {
        assert_eq!(server_text(b"ERR\r\nx\x1b"), "ERR??x?");
        let long = server_text(&[b'a'; 1000]);
        assert_eq!(long.chars().count(), MAX_SERVER_TEXT + 1);
        assert!(long.ends_with('…'));
    }
}
