//! Link settings.

use std::time::Duration;

use replicant_net::Endpoint;
use replicant_rdb::ParserConfig;
use replicant_repl::ReplicaConfig;

/// What to do when the master answers a partial-resync request with a full resync, or
/// when a link drops during the snapshot (which cannot be resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullResyncPolicy {
    /// Stop with an error: a second snapshot over a partly written target could leave keys
    /// the master has since deleted. The default.
    #[default]
    Stop,
    /// Take the new snapshot; the sink is told (`restart = true`) and decides what to do
    /// with the target.
    Accept,
}

/// Where the master is and how to follow it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkConfig {
    /// The master.
    pub master: Endpoint,
    /// Handshake settings; credentials default to the endpoint's.
    pub replica: ReplicaConfig,
    /// Limits of the RDB parser.
    pub parser: ParserConfig,
    /// On a refused partial resync or a snapshot cut short.
    pub full_resync: FullResyncPolicy,
    /// First pause before reconnecting; doubles up to `max_backoff`.
    pub backoff: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// Bytes read from the socket at a time.
    pub read_size: usize,
}

impl LinkConfig {
    /// Follows `master` with default settings, authenticating with the URL's credentials.
    pub fn new(master: Endpoint) -> Self {
        let replica = ReplicaConfig::default().auth(master.user.clone(), master.password.clone());
        LinkConfig {
            master,
            replica,
            parser: ParserConfig::default(),
            full_resync: FullResyncPolicy::Stop,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_attempts: None,
            read_size: 64 << 10,
        }
    }
}
