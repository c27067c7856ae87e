//! The settings `CONFIG GET`/`CONFIG SET` of the mock target see: Kvrocks 2.10.1's own
//! fields (`src/config/config.cc`, TLS ones left out) with the values of the default
//! `kvrocks.conf`, the name matched as a glob (`util::StringMatch`, case-insensitive) and
//! listed in name order (`std::map`). Redis-only names (`maxmemory-policy`, `databases`)
//! match nothing, so their `CONFIG GET` is an empty array.

use std::collections::BTreeMap;

/// `<r|w> <name> <value>`: `r` for a read-only field; the value runs to the end of the line.
/// `port`, `requirepass` are filled in at start; `rename-command` (empty) lists nothing.
const FIELDS: &str = "\
w auto-resize-block-and-sst yes
w backup-dir /tmp/kvrocks/backup
w bgsave-cron
r bind 127.0.0.1
r cluster-enabled no
w compact-cron
w compaction-checker-cron * 0-7 * * *
w compaction-checker-range
r daemonize no
r db-name change.me.db
w dbsize-scan-cron
r dir /tmp/kvrocks
w force-compact-file-age 172800
w force-compact-file-min-deleted-percentage 10
w fullsync-recv-file-delay 0
w json-max-nesting-depth 1024
w json-storage-format json
r log-dir stdout
w log-level info
w log-retention-days -1
w master-use-repl-port no
w masterauth
w max-backup-keep-hours 24
w max-backup-to-keep 1
w max-bitmap-to-string-mb 16
w max-db-size 0
w max-io-mb 0
w max-replication-mb 0
w maxclients 10000
w migrate-batch-rate-limit-mb 16
w migrate-batch-size-kb 16
w migrate-pipeline-size 16
w migrate-sequence-gap 10000
w migrate-speed 4096
w migrate-type redis-command
w persist-cluster-nodes-enabled yes
r pidfile /tmp/kvrocks/kvrocks.pid
r port 6666
w profiling-sample-commands
w profiling-sample-ratio 0
w profiling-sample-record-max-len 256
w profiling-sample-record-threshold-ms 100
w proto-max-bulk-len 536870912
w purge-backup-on-fullsync no
w redis-cursor-compatible yes
w repl-namespace-enabled no
w replica-announce-ip
w replica-announce-port 0
w requirepass
w resp3-enabled no
w rocksdb.blob_file_size 268435456
w rocksdb.blob_garbage_collection_age_cutoff 25
r rocksdb.block_cache_size 4096
r rocksdb.block_cache_type lru
r rocksdb.block_size 16384
r rocksdb.cache_index_and_filter_blocks yes
w rocksdb.compaction_readahead_size 2097152
w rocksdb.compression snappy
r rocksdb.compression_level 32767
w rocksdb.compression_start_level 2
w rocksdb.delayed_write_rate 0
w rocksdb.disable_auto_compactions no
w rocksdb.enable_blob_files no
w rocksdb.enable_blob_garbage_collection yes
r rocksdb.enable_pipelined_write no
w rocksdb.level0_file_num_compaction_trigger 4
w rocksdb.level0_slowdown_writes_trigger 20
w rocksdb.level0_stop_writes_trigger 40
w rocksdb.level_compaction_dynamic_level_bytes yes
w rocksdb.max_background_compactions -1
r rocksdb.max_background_flushes -1
w rocksdb.max_background_jobs 4
w rocksdb.max_bytes_for_level_base 268435456
w rocksdb.max_bytes_for_level_multiplier 10
w rocksdb.max_open_files 8096
w rocksdb.max_subcompactions 2
w rocksdb.max_total_wal_size 512
w rocksdb.max_write_buffer_number 4
r rocksdb.metadata_block_cache_size 2048
w rocksdb.min_blob_size 4096
r rocksdb.rate_limiter_auto_tuned yes
w rocksdb.read_options.async_io yes
r rocksdb.row_cache_size 0
r rocksdb.share_metadata_and_subkey_block_cache yes
w rocksdb.stats_dump_period_sec 0
r rocksdb.subkey_block_cache_size 2048
w rocksdb.target_file_size_base 128
r rocksdb.wal_compression no
r rocksdb.wal_size_limit_mb 16384
r rocksdb.wal_ttl_seconds 10800
w rocksdb.write_buffer_size 64
r rocksdb.write_options.disable_wal no
r rocksdb.write_options.low_pri no
r rocksdb.write_options.memtable_insert_hint_per_batch no
r rocksdb.write_options.no_slowdown no
r rocksdb.write_options.sync no
w rocksdb.write_options.write_batch_max_bytes 0
r rocksdb.avoid_unnecessary_blocking_io yes
w slave-empty-db-before-fullsync no
w slave-priority 100
w slave-read-only yes
w slave-serve-stale-data yes
r slaveof
w slowlog-log-slower-than 100000
w slowlog-max-len 128
r socket-fd -1
r supervised no
r tcp-backlog 511
w timeout 0
r txn-context-enabled no
r unixsocket
r unixsocketperm 777
r use-rsid-psync no
w workers 8
";

/// One field: its value and whether `CONFIG SET` may change it.
#[derive(Debug, Clone)]
struct Field {
    readonly: bool,
    value: String,
}

/// The mock's configuration, by name.
#[derive(Debug, Clone)]
pub(super) struct Config(BTreeMap<String, Field>);

impl Config {
    /// Kvrocks' defaults, listening on `port`, with `requirepass` set to `password`.
    pub(super) fn new(port: u16, password: &str) -> Config {
        let mut fields = BTreeMap::new();
        for line in FIELDS.lines() {
            let mut parts = line.splitn(3, ' ');
            if let (Some(mode), Some(name), value) = (parts.next(), parts.next(), parts.next()) {
                let field = Field { readonly: mode == "r", value: value.unwrap_or_default().to_owned() };
                fields.insert(name.to_owned(), field);
            }
        }
        let mut config = Config(fields);
        config.force("port", &port.to_string());
        config.force("requirepass", password);
        config
    }

    fn force(&mut self, name: &str, value: &str) {
        if let Some(field) = self.0.get_mut(name) {
            value.clone_into(&mut field.value);
        }
    }

    /// A field's value.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|f| f.value.as_str())
    }

    /// `Config::Get`: name, value, name, value... of every field `pattern` matches.
    pub(super) fn matching(&self, pattern: &[u8]) -> Vec<&[u8]> {
        let matched = self.0.iter().filter(|(name, _)| glob_match(pattern, name.as_bytes()));
        matched.flat_map(|(name, f)| [name.as_bytes(), f.value.as_bytes()]).collect()
    }

    /// `Config::Set`, without the per-field validation: `Err` with Kvrocks' text for an
    /// unknown or read-only field.
    pub(super) fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let key = name.to_ascii_lowercase();
        match self.0.get_mut(&key) {
            Some(field) if !field.readonly => {
                value.clone_into(&mut field.value);
                Ok(())
            }
            _ => Err(format!("Unsupported CONFIG parameter: {key}")),
        }
    }
}

/// `util::StringMatchLen(pattern, text, nocase = 1)`: `*`, `?`, `[...]` (with `^`, ranges
/// and `\` escapes) and `\x`, ASCII case ignored.
pub(super) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let eq = |a: u8, b: u8| a.eq_ignore_ascii_case(&b);
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob_match(rest, text.get(i..).unwrap_or_default())),
        Some((b'?', rest)) => text.split_first().is_some_and(|(_, tail)| glob_match(rest, tail)),
        Some((b'[', rest)) => match text.split_first() {
            Some((&c, tail)) => match class_match(rest, c) {
                Some((true, after)) => glob_match(after, tail),
                _ => false,
            },
            None => false,
        },
        Some((b'\\', [escaped, rest @ ..])) => match text.split_first() {
            Some((&c, tail)) => eq(*escaped, c) && glob_match(rest, tail),
            None => false,
        },
        Some((&p, rest)) => match text.split_first() {
            Some((&c, tail)) => eq(p, c) && glob_match(rest, tail),
            None => false,
        },
    }
}

/// A `[...]` class (its body after `[`) against `c`: whether it matched, and the pattern
/// after the class. An unclosed class runs to the end of the pattern, as in Redis.
fn class_match(body: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negate, mut p) = match body.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, body),
    };
    let mut matched = false;
    loop {
        match p {
            [] => return Some((matched != negate, p)),
            [b']', rest @ ..] => return Some((matched != negate, rest)),
            [b'\\', x, rest @ ..] => {
                matched |= *x == c;
                p = rest;
            }
            [a, b'-', b, rest @ ..] => {
                let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                let c = c.to_ascii_lowercase();
                matched |= (lo.to_ascii_lowercase()..=hi.to_ascii_lowercase()).contains(&c);
                p = rest;
            }
            [x, rest @ ..] => {
                matched |= x.eq_ignore_ascii_case(&c);
                p = rest;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_redis_does() {
        assert!(glob_match(b"*", b"requirepass"));
        assert!(glob_match(b"REQUIREPASS", b"requirepass"));
        assert!(glob_match(b"rocksdb.*_size", b"rocksdb.block_size"));
        assert!(glob_match(b"slave?read-only", b"slave-read-only"));
        assert!(glob_match(b"[a-c]luster-enabled", b"cluster-enabled"));
        assert!(glob_match(b"[^x]ir", b"dir"));
        assert!(!glob_match(b"max*policy", b"maxclients"));
        assert!(!glob_match(b"dir", b"dirx"));
        assert!(glob_match(b"a\\*", b"a*"));
    }

    #[test]
    fn fields_get_and_set() {
        let mut c = Config::new(7000, "secret");
        assert_eq!(c.get("port"), Some("7000"));
        assert_eq!(c.matching(b"requirepass"), vec![&b"requirepass"[..], b"secret"]);
        assert_eq!(c.matching(b"bgsave-cron"), vec![&b"bgsave-cron"[..], b""]);
        assert_eq!(c.matching(b"compaction-checker-cron"), vec![&b"compaction-checker-cron"[..], b"* 0-7 * * *"]);
        assert!(c.matching(b"maxmemory-policy").is_empty());
        assert!(c.matching(b"databases").is_empty());
        assert!(c.matching(b"*").len() > 200);
        c.set("TIMEOUT", "5").unwrap();
        assert_eq!(c.get("timeout"), Some("5"));
        assert_eq!(c.set("port", "1").unwrap_err(), "Unsupported CONFIG parameter: port");
        assert_eq!(c.set("nope", "1").unwrap_err(), "Unsupported CONFIG parameter: nope");
    }
}
