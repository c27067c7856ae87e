//! The conversion error type.

/// Why a key could not be converted for the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// RESTORE was forced but the value was too large to be held whole.
    #[error("key {key} (db {db}): RESTORE mode needs the raw value, but it exceeds the parser's raw_value_max")]
    RawUnavailable {
        /// The key, escaped.
        key: String,
        /// Its database.
        db: u64,
    },
    /// A module value can only travel as a RESTORE payload.
    #[error("key {key} (db {db}): module value of type {module} can only be copied with RESTORE, and the target ({target}) cannot load an RDB {payload_rdb} payload")]
    ModuleNeedsRestore {
        /// The key, escaped.
        key: String,
        /// Its database.
        db: u64,
        /// Module type name.
        module: String,
        /// The target, as family and version.
        target: String,
        /// The payload's RDB version.
        payload_rdb: u16,
    },
    /// The target cannot represent a feature of the value.
    #[error("key {key} (db {db}): {what} needs a target running Redis {needs} or later")]
    TargetTooOld {
        /// The key, escaped.
        key: String,
        /// Its database.
        db: u64,
        /// The feature.
        what: &'static str,
        /// The first version that has it.
        needs: &'static str,
    },
    /// A consumer's pending ID is not in its group's pending list (the RDB is inconsistent).
    #[error("key {key} (db {db}): consumer {consumer} has pending ID {id} that is not in its group's pending list")]
    PendingNotInGroup {
        /// The key, escaped.
        key: String,
        /// Its database.
        db: u64,
        /// The consumer, escaped.
        consumer: String,
        /// The ID.
        id: String,
    },
    /// A group's pending list is larger than the configured bound.
    #[error(
        "key {key} (db {db}): consumer group {group} has more than {limit} pending entries (raise max_pending_entries)"
    )]
    TooManyPending {
        /// The key, escaped.
        key: String,
        /// Its database.
        db: u64,
        /// The group, escaped.
        group: String,
        /// The bound.
        limit: usize,
    },
}

/// Renders binary data for a message.
pub(crate) fn escaped(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    format!("\"{text}\"")
}
