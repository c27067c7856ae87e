//! The `INFO` text of the mock target: the sections, field names and order of Kvrocks
//! 2.10.1's `Server::GetInfo` (`src/server/server.cc`), CRLF line ends, a blank line between
//! sections. Values the mock cannot know (memory, disk, RocksDB) are fixed numbers taken
//! from a real 2.10.1 server; per-column-family RocksDB lines are left out.
//!
//! The `# Keyspace` counts are those of the namespace's last `DBSIZE SCAN`, zero before one
//! ran, exactly as Kvrocks reports them: stale by design.

use std::collections::BTreeMap;

/// Kvrocks' sections, in the order `GetInfo` writes them.
const SECTIONS: [&str; 11] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "cluster",
    "keyspace",
    "rocksdb",
];

const GIB: u64 = 1 << 30;

/// The result of a namespace's last `DBSIZE SCAN`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Scan {
    pub(super) keys: u64,
    pub(super) expires: u64,
    /// When it ran, seconds since the Unix epoch.
    pub(super) at_unix: u64,
}

/// The live values an `INFO` reply shows.
#[derive(Debug, Clone, Default)]
pub(super) struct Live {
    pub(super) port: u16,
    pub(super) uptime_secs: u64,
    pub(super) started_unix: u64,
    pub(super) maxclients: String,
    pub(super) max_db_size_gib: u64,
    pub(super) connected_clients: u64,
    pub(super) total_connections: u64,
    /// Calls per executed command name (`cmdstat_*`), in name order.
    pub(super) calls: BTreeMap<String, u64>,
    /// The connection's namespace's last scan, if any.
    pub(super) scan: Option<Scan>,
}

/// The body of `INFO <section>` (`section` lower case; `all` for every section; an unknown
/// name gives an empty text).
pub(super) fn render(section: &str, live: &Live) -> String {
    let chosen = SECTIONS.iter().filter(|name| section == "all" || section == **name);
    let parts: Vec<String> =
        chosen.map(|name| lines(name, live).iter().map(|l| format!("{l}\r\n")).collect()).collect();
    parts.join("\r\n")
}

fn lines(section: &str, live: &Live) -> Vec<String> {
    match section {
        "server" => server(live),
        "clients" => fields(
            "Clients",
            &[
                ("maxclients", live.maxclients.clone()),
                ("connected_clients", live.connected_clients.to_string()),
                ("monitor_clients", "0".into()),
                ("blocked_clients", "0".into()),
            ],
        ),
        "memory" => fixed("Memory", MEMORY),
        "persistence" => persistence(live),
        "stats" => stats(live),
        "replication" => fixed("Replication", "role:master connected_slaves:0 master_repl_offset:0"),
        "cpu" => fixed("CPU", "used_cpu_sys:0 used_cpu_user:0"),
        "commandstats" => commandstats(live),
        "cluster" => fixed("Cluster", "cluster_enabled:0"),
        "keyspace" => keyspace(live),
        _ => fixed("RocksDB", ROCKSDB),
    }
}

const MEMORY: &str = "used_memory_rss:28901376 used_memory_rss_human:27.56M used_memory_lua:36864 \
    used_memory_lua_human:36.00K used_memory_startup:28217344";

const ROCKSDB: &str = "block_cache_usage:0 block_cache_pinned_usage[default]:0 all_mem_tables:0 cur_mem_tables:0 \
    snapshots:0 num_immutable_tables:0 num_running_flushes:0 memtable_flush_pending:0 compaction_pending:0 \
    num_running_compactions:0 num_live_versions:1 num_super_version:1 num_background_errors:0 flush_count:0 \
    compaction_count:0 put_per_sec:0 get_per_sec:0 seek_per_sec:0 next_per_sec:0 prev_per_sec:0 is_bgsaving:no \
    is_compacting:no";

const STATS_REST: &str = "instantaneous_ops_per_sec:0 total_net_input_bytes:0 total_net_output_bytes:0 \
    instantaneous_input_kbps:0 instantaneous_output_kbps:0 sync_full:0 sync_partial_ok:0 sync_partial_err:0 \
    keyspace_hits:0 keyspace_misses:0 pubsub_channels:0 pubsub_patterns:0";

/// The space-separated `name:value` words of `body`, one line each.
fn words(body: &str) -> impl Iterator<Item = String> + '_ {
    body.split_ascii_whitespace().map(str::to_owned)
}

/// `# <head>`, then the lines of `body`.
fn fixed(head: &str, body: &str) -> Vec<String> {
    std::iter::once(format!("# {head}")).chain(words(body)).collect()
}

fn fields(head: &str, pairs: &[(&str, String)]) -> Vec<String> {
    std::iter::once(format!("# {head}")).chain(pairs.iter().map(|(k, v)| format!("{k}:{v}"))).collect()
}

/// `Server::GetServerInfo`.
fn server(live: &Live) -> Vec<String> {
    let mut out = fixed(
        "Server",
        "version:2.10.1 kvrocks_version:2.10.1 redis_version:4.0.0 git_sha1:dc4d5303 kvrocks_git_sha1:dc4d5303 \
         redis_mode:standalone kvrocks_mode:standalone",
    );
    out.push(format!("os:{}", os()));
    out.push("gcc_version:12.2.0".to_owned());
    out.push("arch_bits:64".to_owned());
    out.push(format!("process_id:{}", std::process::id()));
    out.push(format!("tcp_port:{}", live.port));
    out.push(format!("uptime_in_seconds:{}", live.uptime_secs));
    out.push(format!("uptime_in_days:{}", live.uptime_secs / 86_400));
    out
}

/// `uname`'s `sysname release machine`, as Kvrocks prints it.
fn os() -> String {
    let read = |name: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{name}")).unwrap_or_default();
    let (sysname, release) = (read("ostype"), read("osrelease"));
    let sysname = if sysname.trim().is_empty() { "Linux" } else { sysname.trim() };
    format!("{sysname} {} {}", release.trim(), std::env::consts::ARCH)
}

fn persistence(live: &Live) -> Vec<String> {
    fields(
        "Persistence",
        &[
            ("loading", "0".into()),
            ("bgsave_in_progress", "0".into()),
            ("last_bgsave_time", live.started_unix.to_string()),
            ("last_bgsave_status", "ok".into()),
            ("last_bgsave_time_sec", "-1".into()),
        ],
    )
}

/// `Server::GetStatsInfo`; only the connection and command counts move.
fn stats(live: &Live) -> Vec<String> {
    let mut out = fields(
        "Stats",
        &[
            ("total_connections_received", live.total_connections.to_string()),
            ("total_commands_processed", live.calls.values().sum::<u64>().to_string()),
        ],
    );
    out.extend(words(STATS_REST));
    out
}

/// `Server::GetCommandsStatsInfo` (latencies are not measured: 0).
fn commandstats(live: &Live) -> Vec<String> {
    let lines = live.calls.iter().map(|(name, calls)| format!("cmdstat_{name}:calls={calls},usec=0,usec_per_call=0"));
    std::iter::once("# Commandstats".to_owned()).chain(lines).collect()
}

/// The keyspace part of `Server::GetInfo`.
fn keyspace(live: &Live) -> Vec<String> {
    let scan = live.scan.unwrap_or_default();
    let when = match live.scan {
        None => "# WARN: DBSIZE SCAN never performed yet".to_owned(),
        Some(scan) => format!("# Last DBSIZE SCAN time: {}", asctime(scan.at_unix)),
    };
    vec![
        "# Keyspace".to_owned(),
        when,
        format!("db0:keys={},expires={},avg_ttl=0,expired=0", scan.keys, scan.expires),
        "sequence:0".to_owned(),
        "used_db_size:0".to_owned(),
        format!("max_db_size:{}", live.max_db_size_gib * GIB),
        "used_percent: 0%".to_owned(),
        "disk_capacity:270553174016".to_owned(),
        "used_disk_size:191597858816".to_owned(),
        "used_disk_percent: 70.8171%".to_owned(),
    ]
}

/// `std::put_time(.., "%a %b %e %H:%M:%S %Y")` of a Unix time, in UTC (Kvrocks uses the
/// local time zone).
pub(super) fn asctime(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (days, secs) = (unix / 86_400, unix % 86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS.get(usize::try_from(days % 7).unwrap_or(0)).unwrap_or(&"Thu");
    let month = MONTHS.get(usize::try_from(month - 1).unwrap_or(0)).unwrap_or(&"Jan");
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    format!("{weekday} {month} {day:>2} {h:02}:{m:02}:{s:02} {year}")
}

/// Year, month (1-12), day (1-31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keyspace() {
        let live = Live { port: 7000, maxclients: "10000".into(), ..Live::default() };
        let all = render("all", &live);
        assert!(all.starts_with("# Server\r\nversion:2.10.1\r\nkvrocks_version:2.10.1\r\nredis_version:4.0.0\r\n"));
        assert!(all.contains("\r\ntcp_port:7000\r\n"), "{all}");
        assert!(all.contains("\r\n\r\n# Keyspace\r\n# WARN: DBSIZE SCAN never performed yet\r\n"), "{all}");
        assert!(all.ends_with("is_compacting:no\r\n"), "{all}");
        assert_eq!(render("cluster", &live), "# Cluster\r\ncluster_enabled:0\r\n");
        assert_eq!(
            render("replication", &live),
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:0\r\n"
        );
        assert_eq!(render("nosuch", &live), "");
        let scanned = Live { scan: Some(Scan { keys: 3, expires: 1, at_unix: 0 }), ..live };
        let keyspace = render("keyspace", &scanned);
        assert!(keyspace.starts_with(
            "# Keyspace\r\n# Last DBSIZE SCAN time: Thu Jan  1 00:00:00 1970\r\ndb0:keys=3,expires=1,avg_ttl=0,expired=0\r\n"
        ));
    }

    #[test]
    fn times_format_as_put_time() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }
}
