//! The link's state and counters, shared with the rest of the process.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

/// Coarse link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting or handshaking.
    Connecting,
    /// Receiving the snapshot.
    FullSync,
    /// Following the command stream.
    Streaming,
    /// Waiting before a reconnection.
    Backoff,
    /// Stopped.
    Stopped,
}

impl LinkState {
    /// Lower-case name, as `INFO` shows it.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::FullSync => "full_sync",
            LinkState::Streaming => "streaming",
            LinkState::Backoff => "backoff",
            LinkState::Stopped => "stopped",
        }
    }
}

/// Live figures of a link; cheap to read from other tasks.
#[derive(Debug, Default)]
pub struct LinkStatus {
    state: AtomicU8,
    replid: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    /// Offset of the last stream byte received.
    pub offset: AtomicU64,
    /// Snapshot bytes received in the current or last full sync.
    pub rdb_bytes: AtomicU64,
    /// Snapshot size announced by the master (0 when diskless).
    pub rdb_size: AtomicU64,
    /// Keys read from snapshots.
    pub rdb_keys: AtomicU64,
    /// Commands received from the stream.
    pub commands: AtomicU64,
    /// Connections made.
    pub connections: AtomicU64,
    /// Full syncs started.
    pub full_syncs: AtomicU64,
    /// Partial resyncs accepted.
    pub partial_syncs: AtomicU64,
}

impl LinkStatus {
    /// The current state.
    pub fn state(&self) -> LinkState {
        match self.state.load(Ordering::Relaxed) {
            0 => LinkState::Connecting,
            1 => LinkState::FullSync,
            2 => LinkState::Streaming,
            3 => LinkState::Backoff,
            _ => LinkState::Stopped,
        }
    }

    /// Sets the state (the link, or another source's driver, reports here).
    pub fn set_state(&self, s: LinkState) {
        let v = match s {
            LinkState::Connecting => 0,
            LinkState::FullSync => 1,
            LinkState::Streaming => 2,
            LinkState::Backoff => 3,
            LinkState::Stopped => 4,
        };
        self.state.store(v, Ordering::Relaxed);
    }

    /// The master's replication ID, once known.
    pub fn replid(&self) -> Option<String> {
        self.replid.lock().ok().and_then(|g| g.clone())
    }

    /// Sets the history followed (the replication ID, or another source's equivalent).
    pub fn set_replid(&self, id: Option<String>) {
        if let Ok(mut g) = self.replid.lock() {
            *g = id;
        }
    }

    /// What ended the last connection (with its causes), e.g. `no data from the master
    /// for 60 s (timeout)`; `None` while the first connection lasts.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|g| g.clone())
    }

    /// Records what ended the last connection, with its causes.
    pub fn set_last_error(&self, error: &dyn std::error::Error) {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(text);
        }
    }
}
