//! The `INFO` text of the mock master: a template (a capture's `info.txt`, or a small
//! built-in one modelled on it) whose live fields are rewritten, cut into sections as
//! `Server::GetInfo` (`src/server/server.cc`) does.

/// The built-in template, in Kvrocks' section order, for a mock without a capture's text.
const DEFAULT_TEMPLATE: &str = "# Server
version:2.10.1
kvrocks_version:2.10.1
redis_version:4.0.0
git_sha1:dc4d5303
kvrocks_git_sha1:dc4d5303
redis_mode:standalone
kvrocks_mode:standalone
arch_bits:64
tcp_port:0
uptime_in_seconds:0
uptime_in_days:0

# Clients
maxclients:10000
connected_clients:1
monitor_clients:0
blocked_clients:0

# Persistence
loading:0
bgsave_in_progress:0
last_bgsave_status:ok
last_bgsave_time_sec:-1

# Stats
sync_full:0
sync_partial_ok:0
sync_partial_err:0

# Replication
role:master
connected_slaves:0
master_repl_offset:0

# Cluster
cluster_enabled:0

# Keyspace
# WARN: DBSIZE SCAN never performed yet
db0:keys=0,expires=0,avg_ttl=0,expired=0
sequence:0
used_db_size:0
max_db_size:0
used_percent: 0%
";

/// A replica being fed, as `GetReplicationInfo` lists it.
#[derive(Debug, Clone)]
pub(super) struct ReplicaLine {
    pub(super) ip: String,
    pub(super) port: u16,
    /// The next sequence it will be sent.
    pub(super) offset: u64,
}

/// The live values an `INFO` reply carries.
#[derive(Debug, Clone, Default)]
pub(super) struct Live {
    pub(super) port: u16,
    pub(super) latest_seq: u64,
    pub(super) sync_full: u64,
    pub(super) sync_partial_ok: u64,
    pub(super) sync_partial_err: u64,
    pub(super) replicas: Vec<ReplicaLine>,
}

/// A template with CRLF line ends: `text`, or the built-in one.
pub(super) fn template(text: Option<&str>) -> String {
    let text = text.unwrap_or(DEFAULT_TEMPLATE);
    if text.contains("\r\n") {
        text.to_owned()
    } else {
        text.replace('\n', "\r\n")
    }
}

/// The body of `INFO [section]`: every section for `all`, else the one named (lower
/// case, as `# Name` heads it), else nothing.
pub(super) fn render(template: &str, section: &str, live: &Live) -> String {
    let mut sections = Vec::new();
    for chunk in template.split("\r\n\r\n").filter(|c| !c.is_empty()) {
        let name = chunk.lines().next().unwrap_or("").trim_start_matches("# ").to_ascii_lowercase();
        if section == "all" || section == name {
            sections.push(rewrite(chunk.trim_end_matches("\r\n"), live));
        }
    }
    sections.join("\r\n")
}

/// One section with its live fields rewritten; every line ends in CRLF.
fn rewrite(section: &str, live: &Live) -> String {
    let mut out = String::new();
    for line in section.split("\r\n") {
        let (key, _) = line.split_once(':').unwrap_or((line, ""));
        let value = match key {
            "tcp_port" => live.port.to_string(),
            "master_repl_offset" | "sequence" => live.latest_seq.to_string(),
            "sync_full" => live.sync_full.to_string(),
            "sync_partial_ok" => live.sync_partial_ok.to_string(),
            "sync_partial_err" => live.sync_partial_err.to_string(),
            "connected_slaves" => live.replicas.len().to_string(),
            k if k.starts_with("slave") && k[5..].parse::<u32>().is_ok() => continue,
            _ => {
                out.push_str(line);
                out.push_str("\r\n");
                continue;
            }
        };
        out.push_str(&format!("{key}:{value}\r\n"));
        if key == "connected_slaves" {
            for (i, r) in live.replicas.iter().enumerate() {
                // `lag` is unsigned arithmetic in Kvrocks: a replica that is caught up (its
                // next sequence is latest + 1) shows a wrapped lag, as the real server does.
                let lag = live.latest_seq.wrapping_sub(r.offset);
                out.push_str(&format!("slave{i}:ip={},port={},offset={},lag={lag}\r\n", r.ip, r.port, r.offset));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_cut_and_live_fields_rewritten() {
        let t = template(None);
        let live = Live {
            port: 7000,
            latest_seq: 186,
            replicas: vec![ReplicaLine { ip: "127.0.0.1".into(), port: 6380, offset: 180 }],
            ..Live::default()
        };
        let all = render(&t, "all", &live);
        assert!(all.starts_with("# Server\r\nversion:2.10.1\r\n"), "{all}");
        assert!(all.contains("\r\ntcp_port:7000\r\n"), "{all}");
        assert!(all.contains("\r\n\r\n# Keyspace\r\n"), "{all}");
        assert!(all.ends_with("used_percent: 0%\r\n"), "{all}");
        let repl = render(&t, "replication", &live);
        assert_eq!(
            repl,
            "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
             slave0:ip=127.0.0.1,port=6380,offset=180,lag=6\r\nmaster_repl_offset:186\r\n"
        );
        assert_eq!(render(&t, "cluster", &live), "# Cluster\r\ncluster_enabled:0\r\n");
        assert_eq!(render(&t, "nosuchsection", &live), "");
    }
}
