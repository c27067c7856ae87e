//! `INFO` as Pika 4.0.1 writes it (`InfoCmd`, `src/pika_admin.cc`): the Server section
//! from a template (the capture's `info-master.txt`, or a built-in one modelled on it) with
//! its live fields rewritten, the Replication section built from the mock's state, and the
//! Keyspace header. Sections the template has and the mock does not build (Clients, Stats,
//! …) are sent as they are.
//!
//! Note that a Pika built from the v4.0.1 tag reports `pika_version:4.0.0` (its
//! `include/pika_version.h` was not bumped); the built-in template says so too.

use replicant_pika::BinlogPos;

use super::repl::{Db, SlaveState};
use super::{lock, Shared};

/// Sections in the order `INFO` / `INFO all` print them.
const ORDER: [&str; 11] = [
    "server",
    "data",
    "clients",
    "stats",
    "execcount",
    "commandstats",
    "cache",
    "cpu",
    "replication",
    "keyspace",
    "rocksdb",
];
/// Sections plain `INFO` prints.
const DEFAULT: [&str; 7] = ["server", "data", "clients", "stats", "cpu", "replication", "keyspace"];

/// The built-in Server section (Pika 4.0.1 on Linux; live fields rewritten).
const SERVER: &str = "# Server
pika_version:4.0.0
pika_git_sha:23d9bf6f4a400f3648be514d5f674bd9b8ae632f
pika_build_compile_date: 2024-10-01 00:00:00
os:Linux 6.1.0 x86_64
arch_bits:64
process_id:1
tcp_port:0
thread_num:1
sync_thread_num:6
sync_binlog_thread_num:1
uptime_in_seconds:0
uptime_in_days:1
config_file:/etc/pika/pika.conf
server_id:1
run_id:0
";

/// A replica as `GetSlaveListString` lists it.
#[derive(Debug, Clone)]
pub(crate) struct SlaveLine {
    pub(crate) ip_port: String,
    pub(crate) conn: u64,
    /// Per database: `(db0:<lag>)`, `(db0:full syncing)` or `(db0:not syncing)`.
    pub(crate) lags: String,
}

/// The live values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    pub(crate) port: u16,
    pub(crate) uptime_secs: u64,
    pub(crate) version: Option<String>,
    pub(crate) run_id: String,
    pub(crate) replication_id: String,
    pub(crate) slaves: Vec<SlaveLine>,
    /// Per database: its name, binlog end and `safety_purge`.
    pub(crate) dbs: Vec<(String, BinlogPos, String)>,
    pub(crate) binlog_file_size: u64,
}

/// A template cut into sections: lower-case name and lines.
#[derive(Debug, Clone)]
pub(crate) struct Template(Vec<(String, Vec<String>)>);

impl Template {
    /// `text` (LF or CRLF), or the built-in Server section.
    pub(crate) fn new(text: Option<&str>) -> Template {
        let mut sections: Vec<(String, Vec<String>)> = Vec::new();
        for line in text.unwrap_or(SERVER).lines() {
            let line = line.trim_end_matches('\r');
            if let Some(name) = heading(line) {
                sections.push((name, Vec::new()));
            } else if let Some((_, lines)) = sections.last_mut().filter(|_| !line.is_empty()) {
                lines.push(line.to_owned());
            }
        }
        Template(sections)
    }
}

/// The section name of a heading line (`# Server`, `# Replication(MASTER)`).
fn heading(line: &str) -> Option<String> {
    let name = line.strip_prefix("# ")?;
    let name = name.split('(').next().unwrap_or(name).trim().to_ascii_lowercase();
    ORDER.contains(&name.as_str()).then_some(name)
}

/// The body of `INFO [section [args]]`; `None` for a syntax error.
pub(crate) fn render(template: &Template, args: &[String], live: &Live) -> Option<String> {
    let section = args.first().map(|s| s.to_ascii_lowercase());
    let names: Vec<&str> = match section.as_deref() {
        None => DEFAULT.to_vec(),
        Some("all") => ORDER.to_vec(),
        Some(name) if args.len() > 1 && name != "keyspace" => return None,
        Some(name) => ORDER.iter().copied().filter(|s| *s == name).collect(),
    };
    let scan = section.as_deref() == Some("all") || (section.as_deref() == Some("keyspace") && args.len() > 1);
    let parts: Vec<String> = names.iter().filter_map(|name| build(template, name, live, scan)).collect();
    Some(parts.join("\r\n"))
}

fn build(template: &Template, name: &str, live: &Live, scan: bool) -> Option<String> {
    match name {
        "replication" => Some(replication(live)),
        "keyspace" => Some(keyspace(live, scan)),
        _ => {
            let (_, lines) = template.0.iter().find(|(n, _)| n == name)?;
            let mut out = format!("# {}\r\n", capitalised(name));
            for line in lines {
                let (key, _) = line.split_once(':').unwrap_or((line, ""));
                let value = match key {
                    "pika_version" => live.version.clone(),
                    "tcp_port" => Some(live.port.to_string()),
                    "uptime_in_seconds" => Some(live.uptime_secs.to_string()),
                    "run_id" => Some(live.run_id.clone()),
                    _ => None,
                };
                match value {
                    Some(value) => out.push_str(&format!("{key}:{value}\r\n")),
                    None => out.push_str(&format!("{line}\r\n")),
                }
            }
            Some(out)
        }
    }
}

fn capitalised(name: &str) -> String {
    match name {
        "cpu" => "CPU".to_owned(),
        "rocksdb" => "RocksDB".to_owned(),
        "execcount" => "Command_Exec_Count".to_owned(),
        "commandstats" => "Commandstats".to_owned(),
        _ => name.get(..1).unwrap_or_default().to_ascii_uppercase() + name.get(1..).unwrap_or_default(),
    }
}

/// `InfoCmd::InfoReplication` of a master.
fn replication(live: &Live) -> String {
    let mut out = format!("# Replication(MASTER)\r\nrole:master\r\nReplicationID:{}\r\n", live.replication_id);
    out.push_str(&format!("connected_slaves:{}\r\n", live.slaves.len()));
    for (i, slave) in live.slaves.iter().enumerate() {
        let (ip, port) = slave.ip_port.rsplit_once(':').unwrap_or((&slave.ip_port, ""));
        out.push_str(&format!("slave{i}:ip={ip},port={port},conn_fd={},lag={}\r\n", slave.conn, slave.lags));
    }
    out.push_str("is_eligible_for_master_election:true\r\n");
    let mut repl_offset = 0u64;
    for (name, end, safety_purge) in &live.dbs {
        repl_offset += u64::from(end.filenum) * live.binlog_file_size + end.offset;
        out.push_str(&format!("{name}:binlog_offset={} {},safety_purge={safety_purge}\r\n", end.filenum, end.offset));
    }
    out.push_str(&format!("slave_repl_offset:{repl_offset}\r\n"));
    out
}

/// `InfoCmd::InfoKeyspace` before any key scan: counts only when a scan was asked for.
fn keyspace(live: &Live, scan: bool) -> String {
    let mut out = "# Keyspace\r\n".to_owned();
    if !scan {
        out.push_str("# Use \"info keyspace 1\" to do async statistics\r\n");
        return out;
    }
    out.push_str("# Start async statistics\r\n");
    for (name, _, _) in &live.dbs {
        out.push_str("# Time:0\r\n");
        for kind in ["Strings", "Hashes", "Lists", "Zsets", "Sets", "Streams"] {
            let end = if kind == "Sets" || kind == "Streams" { "\r\n\r\n" } else { "\r\n" };
            out.push_str(&format!("{name} {kind}_keys=0, expires=0, invalid_keys=0{end}"));
        }
    }
    out
}

/// The live values of `INFO`.
pub(super) fn live(shared: &Shared) -> Live {
    let repl = lock(&shared.repl);
    let size = shared.settings.binlog_file_size;
    let slaves = repl
        .slaves
        .iter()
        .map(|(ip_port, conn)| {
            let lags: String = repl
                .dbs
                .iter()
                .map(|db| {
                    let end = db.binlog.end().pos;
                    match db.nodes.iter().find(|n| n.ip_port() == *ip_port) {
                        Some(n) if n.state == SlaveState::BinlogSync => {
                            let lag = (u64::from(end.filenum.saturating_sub(n.sent.pos.filenum)) * size + end.offset)
                                .saturating_sub(n.sent.pos.offset);
                            format!("({}:{lag})", db.name)
                        }
                        Some(n) if n.state == SlaveState::DbSync => format!("({}:full syncing)", db.name),
                        _ => format!("({}:not syncing)", db.name),
                    }
                })
                .collect();
            SlaveLine { ip_port: ip_port.clone(), conn: *conn, lags }
        })
        .collect();
    let dbs = repl.dbs.iter().map(|db| (db.name.clone(), db.binlog.end().pos, safety_purge(db))).collect();
    Live {
        port: shared.port,
        uptime_secs: shared.started.elapsed().as_secs(),
        version: shared.settings.version.clone(),
        run_id: shared.settings.run_id.clone(),
        replication_id: shared.settings.replication_id.clone(),
        slaves,
        dbs,
        binlog_file_size: size,
    }
}

/// `GetSafetyPurgeBinlog`: `write2file<N>` once ten files are behind every replica.
fn safety_purge(db: &Db) -> String {
    let Some(mut purge_max) = db.binlog.end().pos.filenum.checked_sub(10) else { return "none".into() };
    for node in &db.nodes {
        if node.state != SlaveState::BinlogSync || node.acked.pos.filenum == 0 {
            return "none".into();
        }
        purge_max = purge_max.min(node.acked.pos.filenum - 1);
    }
    format!("write2file{purge_max}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            port: 7000,
            uptime_secs: 5,
            version: None,
            run_id: "r".into(),
            replication_id: "x".into(),
            slaves: vec![SlaveLine { ip_port: "127.0.0.1:19521".into(), conn: 73, lags: "(db0:0)".into() }],
            dbs: vec![("db0".into(), BinlogPos::new(0, 8030), "none".into())],
            binlog_file_size: 100 << 20,
        }
    }

    #[test]
    fn replication_is_pika_s() {
        let text = render(&Template::new(None), &["replication".into()], &live()).unwrap();
        assert_eq!(
            text,
            "# Replication(MASTER)\r\nrole:master\r\nReplicationID:x\r\nconnected_slaves:1\r\n\
             slave0:ip=127.0.0.1,port=19521,conn_fd=73,lag=(db0:0)\r\nis_eligible_for_master_election:true\r\n\
             db0:binlog_offset=0 8030,safety_purge=none\r\nslave_repl_offset:8030\r\n"
        );
    }

    #[test]
    fn sections_and_live_fields() {
        let template = Template::new(Some(
            "# Replication(MASTER)\nrole:master\n# Server\npika_version:4.0.0\ntcp_port:19421\nrun_id:b2\n",
        ));
        let text = render(&template, &[], &Live { version: Some("4.0.1".into()), ..live() }).unwrap();
        assert!(
            text.starts_with(
                "# Server\r\npika_version:4.0.1\r\ntcp_port:7000\r\nrun_id:r\r\n\r\n# Replication(MASTER)\r\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("\r\n# Keyspace\r\n# Use \"info keyspace 1\" to do async statistics\r\n"), "{text}");
        assert_eq!(render(&template, &["nosuch".into()], &live()).unwrap(), "");
        assert_eq!(render(&template, &["server".into(), "x".into()], &live()), None);
        let all = render(&template, &["ALL".into()], &live()).unwrap();
        assert!(all.contains("db0 Strings_keys=0, expires=0, invalid_keys=0\r\n"), "{all}");
        assert!(Template::new(None).0[0].1.contains(&"pika_version:4.0.0".to_owned()));
    }
}
