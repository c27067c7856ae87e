//! What a connection does beyond sending: which error replies it tolerates, and whether it
//! keeps at most one write per key in flight (so that, when a command fails, no later write
//! to its key was already sent).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use replicant_convert::{CommandInfo, Commands};

/// A connection's reply and ordering policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Error replies starting with one of these words (`BUSYKEY`, …) are logged and
    /// counted, not fatal.
    pub skip_errors: Vec<String>,
    /// Never two commands for one key in flight at once.
    pub strict_key_order: bool,
    /// Keep commands redirected by a cluster (`MOVED`, `ASK`, `TRYAGAIN`) for the caller
    /// instead of failing; the connection then keeps each batch's bytes until answered.
    pub follow_redirects: bool,
}

impl Policy {
    /// A policy tolerating `skip_errors`, with or without strict key order.
    pub fn new(skip_errors: Vec<String>, strict_key_order: bool) -> Self {
        Policy { skip_errors, strict_key_order, follow_redirects: false }
    }

    /// The same policy, following cluster redirections or not.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Whether an error reply is tolerated.
    pub(crate) fn tolerates(&self, reply: &str) -> bool {
        let word = reply.split(' ').next().unwrap_or_default();
        self.skip_errors.iter().any(|s| s == word)
    }
}

/// Keys of the commands in flight, counted by hash (a collision only costs a wait).
#[derive(Debug, Default)]
pub(crate) struct KeysInFlight {
    counts: HashMap<u64, u32>,
    hasher: std::hash::RandomState,
}

impl KeysInFlight {
    /// The hash a command's key is tracked by; `None` for keyless commands.
    pub(crate) fn hash_of(&self, batch: &Commands, info: &CommandInfo) -> Option<u64> {
        let key = batch.key_of(info);
        if !info.keyed || key.is_empty() {
            return None;
        }
        let mut h = self.hasher.build_hasher();
        h.write_u64(info.db);
        h.write(key);
        Some(h.finish())
    }

    pub(crate) fn contains(&self, hash: u64) -> bool {
        self.counts.contains_key(&hash)
    }

    pub(crate) fn add(&mut self, hash: u64) {
        *self.counts.entry(hash).or_default() += 1;
    }

    pub(crate) fn remove(&mut self, hash: u64) {
        if let Some(n) = self.counts.get_mut(&hash) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&hash);
            }
        }
    }
}
