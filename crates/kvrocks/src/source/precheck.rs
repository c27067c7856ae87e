//! What is checked on a Kvrocks master before its checkpoint is fetched: its version
//! (logged), how long it keeps its WAL (`rocksdb.wal_ttl_seconds`,
//! `rocksdb.wal_size_limit_mb`) against how long the copy may take (a warning: a copy that
//! outlasts the WAL cannot be followed by the stream, which then needs a new full copy),
//! and its size (`used_db_size`), which `replicant_link::check_free_space` holds against
//! the free space before the transfer.

use std::time::Duration;

use replicant_link::LinkError;
use replicant_net::Endpoint;

use super::conn::Conn;

/// A pace the copy is assumed to keep at the least (fetch, then apply), for the warning
/// about WAL retention: 20 MB/s.
const SLOW_COPY_BYTES_PER_SEC: u64 = 20_000_000;

/// What the master says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MasterFacts {
    /// `kvrocks_version`.
    pub(crate) version: Option<String>,
    /// `used_db_size`: the bytes of its SST files (as the admin: every namespace).
    pub(crate) db_size: Option<u64>,
    /// `rocksdb.wal_ttl_seconds`.
    pub(crate) wal_ttl_secs: Option<u64>,
    /// `rocksdb.wal_size_limit_mb`.
    pub(crate) wal_limit_mb: Option<u64>,
}

impl MasterFacts {
    /// Reads `INFO` and the WAL settings; what cannot be read stays `None`.
    pub(crate) async fn read(master: &Endpoint, timeout: Duration) -> Result<MasterFacts, LinkError> {
        let mut conn = Conn::open(master, timeout).await?;
        conn.send(&[b"INFO"]).await?;
        let info = conn.bulk().await?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let number = |v: Option<String>| v.and_then(|v| v.trim().parse().ok());
        Ok(MasterFacts {
            version: info_field(&info, "kvrocks_version").map(str::to_string),
            db_size: info_field(&info, "used_db_size").and_then(|v| v.parse().ok()),
            wal_ttl_secs: number(conn.config("rocksdb.wal_ttl_seconds").await?),
            wal_limit_mb: number(conn.config("rocksdb.wal_size_limit_mb").await?),
        })
    }

    /// Logs the master's version and WAL retention, and warns when the WAL may not outlast
    /// the copy.
    pub(crate) fn report(&self) {
        tracing::info!(
            version = self.version.as_deref().unwrap_or("unknown"),
            db_bytes = self.db_size,
            wal_ttl_seconds = self.wal_ttl_secs,
            wal_size_limit_mb = self.wal_limit_mb,
            "The Kvrocks master."
        );
        if let Some(warning) = self.retention_warning() {
            tracing::warn!("{warning}");
        }
    }

    /// A warning when the master may purge the WAL the stream needs before the copy ends.
    pub(crate) fn retention_warning(&self) -> Option<String> {
        let (ttl, limit) = (self.wal_ttl_secs?, self.wal_limit_mb?);
        let size = self.db_size.unwrap_or(0);
        let copy_secs = size / SLOW_COPY_BYTES_PER_SEC;
        let fix = "raise it on the master (CONFIG SET rocksdb.wal_ttl_seconds …, rocksdb.wal_size_limit_mb …) \
                   before the copy, or the stream will need a new full copy (sync.full_resync)";
        if ttl == 0 && limit == 0 {
            return Some(format!(
                "The Kvrocks master keeps no WAL once written (rocksdb.wal_ttl_seconds = 0, wal_size_limit_mb = 0): \
                 writes made during the copy may be gone when the stream starts; {fix}"
            ));
        }
        if ttl > 0 && copy_secs >= ttl / 2 {
            return Some(format!(
                "The Kvrocks master keeps its WAL for {ttl} s (rocksdb.wal_ttl_seconds) and copying its {size} bytes \
                 may take {copy_secs} s or more; {fix}"
            ));
        }
        None
    }
}

fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(size: u64, ttl: u64, limit: u64) -> MasterFacts {
        MasterFacts { version: None, db_size: Some(size), wal_ttl_secs: Some(ttl), wal_limit_mb: Some(limit) }
    }

    #[test]
    fn a_wal_kept_shorter_than_the_copy_may_take_is_warned_about() {
        assert_eq!(facts(1 << 30, 3 * 3600, 16384).retention_warning(), None, "Kvrocks' defaults, 1 GiB");
        let short = facts(300 << 30, 3 * 3600, 16384).retention_warning().unwrap();
        assert!(short.contains("for 10800 s") && short.contains("rocksdb.wal_ttl_seconds"), "{short}");
        let none = facts(1, 0, 0).retention_warning().unwrap();
        assert!(none.contains("keeps no WAL"), "{none}");
        assert_eq!(MasterFacts::default().retention_warning(), None, "nothing known, nothing said");
    }

    #[test]
    fn the_version_and_sizes_come_from_info() {
        let info = "# Server\r\nkvrocks_version:2.10.1\r\n# Keyspace\r\nused_db_size:12345\r\n";
        assert_eq!(info_field(info, "kvrocks_version"), Some("2.10.1"));
        assert_eq!(info_field(info, "used_db_size"), Some("12345"));
    }
}
