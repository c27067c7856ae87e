//! [`Meta`]: a key's meta value as both generations' decoders give it (`floyd`,
//! `blackwidow`), and whether Pika counts the key as live.

use super::KeyType;

/// A stream's ids from its meta value (Pika has no consumer groups to copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamIds {
    /// Entries ever added.
    pub(crate) entries_added: u64,
    /// The last id generated (ms, seq).
    pub(crate) last: (u64, u64),
    /// The largest id deleted.
    pub(crate) max_deleted: (u64, u64),
}

/// A decoded meta value: what the reader needs of any type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Meta<'a> {
    pub(crate) kind: KeyType,
    /// Members (0: deleted); a string's 1.
    pub(crate) count: i64,
    /// The version the key's data keys carry.
    pub(crate) version: u64,
    /// Absolute expiry in ms, 0 = none.
    pub(crate) etime_ms: u64,
    /// A string's value.
    pub(crate) value: &'a [u8],
    /// A string holding Pika's own HyperLogLog (4.x marks them).
    pub(crate) hyperloglog: bool,
    /// A list's left and right indexes (its items are between, both excluded).
    pub(crate) list: (u64, u64),
    /// A stream's ids.
    pub(crate) stream: Option<StreamIds>,
    /// The expiry was stored in seconds and Pika compares whole seconds (3.5).
    pub(crate) seconds: bool,
}

/// What Pika makes of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Live,
    /// Past its expiry, not compacted away yet.
    Expired,
    /// A collection emptied or deleted (its meta stays, count 0).
    Empty,
}

impl Meta<'_> {
    /// Whether Pika counts it as expired (`IsStale`: the expiry is below now; 3.5 compares
    /// seconds).
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        match (self.etime_ms, self.seconds) {
            (0, _) => false,
            (etime, true) => etime / 1000 < now_ms / 1000,
            (etime, false) => etime < now_ms,
        }
    }

    /// Live, expired or empty, as Pika's `TYPE` sees it (`IsStale() || Count() == 0`; a
    /// stream with no entries counts as deleted).
    pub(crate) fn state(&self, now_ms: u64) -> State {
        if self.expired(now_ms) {
            State::Expired
        } else if self.count <= 0 {
            State::Empty
        } else {
            State::Live
        }
    }
}
