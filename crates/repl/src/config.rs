//! Replica settings.

use std::time::Duration;

use crate::ResumePoint;

/// How the replica introduces itself and what it asks for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReplicaConfig {
    /// ACL user for `AUTH`, if any.
    pub user: Option<String>,
    /// Password for `AUTH`, if any.
    pub password: Option<String>,
    /// The port announced with `REPLCONF listening-port` (shown in the master's `INFO`).
    pub listening_port: u16,
    /// Resume from here: `PSYNC <replid> <offset + 1>`, in the point's database. `None`
    /// asks for a full sync.
    pub resume: Option<ResumePoint>,
    /// Fall back to `SYNC` when the master does not know `PSYNC` (Redis before 2.8).
    pub sync_fallback: bool,
    /// How often to send `REPLCONF ACK` while streaming. Default 1 s.
    pub ack_interval: Duration,
    /// Silence from the master after which the link is considered dead. Default 60 s
    /// (Redis's `repl-timeout`).
    pub timeout: Duration,
    /// Largest command (or handshake line) accepted from the master. Default 512 MiB + 1 KiB.
    pub max_command_bytes: usize,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            user: None,
            password: None,
            listening_port: 0,
            resume: None,
            sync_fallback: true,
            ack_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(60),
            max_command_bytes: (512 << 20) + 1024,
        }
    }
}

impl ReplicaConfig {
    /// Sets credentials.
    pub fn auth(mut self, user: Option<String>, password: Option<String>) -> Self {
        self.user = user;
        self.password = password;
        self
    }

    /// Asks for a partial resync from this replication ID and offset.
    pub fn resume(mut self, resume: Option<ResumePoint>) -> Self {
        self.resume = resume;
        self
    }

    /// Sets the announced listening port.
    pub fn listening_port(mut self, port: u16) -> Self {
        self.listening_port = port;
        self
    }

    /// Sets the ACK interval.
    pub fn ack_interval(mut self, every: Duration) -> Self {
        self.ack_interval = every;
        self
    }

    /// Sets the silence timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
