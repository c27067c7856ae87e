//! The daemon's figures as `INFO` sections and as Prometheus metrics. Both read the same
//! snapshot of the current job (or its absence).

use std::sync::atomic::Ordering;

use replicant_admin::{InfoSection, Kind, Metrics};

use super::status::JobStatus;

/// `INFO` sections: Server, Replication, Stats.
pub(crate) fn info(job: Option<&JobStatus>, attached: bool, started: std::time::Instant) -> Vec<InfoSection> {
    let server = InfoSection::new("Server")
        .field("replicant_version", env!("CARGO_PKG_VERSION"))
        .field("process_id", std::process::id())
        .field("uptime_in_seconds", started.elapsed().as_secs());
    vec![server, replication(job, attached), stats(job)]
}

fn replication(job: Option<&JobStatus>, attached: bool) -> InfoSection {
    let role = if attached { "slave" } else { "master" };
    let mut s = InfoSection::new("Replication").field("role", role);
    let Some(job) = job else { return s.field("phase", "idle") };
    let link = &job.link;
    let up = job.phase() == "streaming";
    s = s
        .field("master_host", job.master().0)
        .field("master_port", job.master().1)
        .field("master_link_status", if up { "up" } else { "down" })
        .field("phase", job.phase())
        .field("master_sync_in_progress", u8::from(job.phase() == "full_sync"))
        .field("master_replid", link.replid().unwrap_or_default())
        .field("master_repl_offset", job.received())
        .field("applied_offset", job.applied())
        .field("lag_bytes", job.lag_bytes())
        .field("rdb_bytes", link.rdb_bytes.load(Ordering::Relaxed))
        .field("rdb_size", link.rdb_size.load(Ordering::Relaxed))
        .field("rdb_keys", link.rdb_keys.load(Ordering::Relaxed))
        .field("rdb_keys_expected", job.expected_keys.load(Ordering::Relaxed))
        .field("output_buffer_bytes", job.output_buffer_bytes.load(Ordering::Relaxed))
        .field("output_buffer_limit", job.output_buffer_limit.load(Ordering::Relaxed));
    if let Some(e) = job.last_error() {
        s = s.field("last_error", e);
    }
    if let Some(e) = job.last_target_error() {
        s = s.field("last_target_error", e);
    }
    if let Some(e) = link.last_error() {
        s = s.field("last_link_error", e);
    }
    s
}

fn stats(job: Option<&JobStatus>) -> InfoSection {
    let s = InfoSection::new("Stats");
    let Some(job) = job else { return s.field("commands_applied", 0).field("errors", 0) };
    let (applied, skipped) = job.target_figures();
    let link = &job.link;
    let s = s
        .field("commands_received", link.commands.load(Ordering::Relaxed))
        .field("commands_applied", applied)
        .field("errors", job.error_count())
        .field("errors_skipped", skipped)
        .field("full_syncs", link.full_syncs.load(Ordering::Relaxed))
        .field("partial_syncs", link.partial_syncs.load(Ordering::Relaxed))
        .field("connections", link.connections.load(Ordering::Relaxed))
        .field("target_retries", job.target_retries.load(Ordering::Relaxed))
        .field("job_uptime_in_seconds", job.started.elapsed().as_secs());
    scan_figures(job).into_iter().fold(s, |s, (name, _, value)| s.field(name, value))
}

/// A scan-mode copy's figures: `INFO` name, help, value (none when the job does not scan).
fn scan_figures(job: &JobStatus) -> Vec<(&'static str, &'static str, u64)> {
    let Some(scan) = job.scan() else { return Vec::new() };
    vec![
        ("scan_keys_scanned", "Keys SCAN returned.", scan.scanned.load(Ordering::Relaxed)),
        ("scan_keys_copied", "Keys read with DUMP and written.", scan.copied.load(Ordering::Relaxed)),
        ("scan_keys_gone", "Keys gone between SCAN and DUMP.", scan.vanished.load(Ordering::Relaxed)),
        ("scan_reconnects", "Dropped source connections opened again.", scan.reconnects.load(Ordering::Relaxed)),
    ]
}

const PHASES: [&str; 8] = ["idle", "precheck", "connecting", "full_sync", "streaming", "backoff", "stopped", "failed"];

/// The Prometheus exposition.
pub(crate) fn metrics(job: Option<&JobStatus>) -> String {
    let mut m = Metrics::new();
    let phase = job.map_or("idle", JobStatus::phase);
    {
        let mut family = m.family("replicant_phase", "1 for the job's current phase.", Kind::Gauge);
        for p in PHASES {
            family.sample(&[("phase", p)], u8::from(p == phase));
        }
    }
    let Some(job) = job else { return m.finish() };
    let link = &job.link;
    let (applied, skipped) = job.target_figures();
    m.gauge("replicant_master_link_up", "1 while the command stream flows.", u8::from(phase == "streaming"))
        .gauge("replicant_master_repl_offset", "Offset of the last byte received from the master.", job.received())
        .gauge("replicant_applied_offset", "Offset up to which the target acknowledged everything.", job.applied())
        .gauge("replicant_lag_bytes", "Bytes received from the master and not yet applied.", job.lag_bytes())
        .gauge(
            "replicant_rdb_bytes",
            "Snapshot bytes received in the current or last full sync.",
            link.rdb_bytes.load(Ordering::Relaxed),
        )
        .gauge(
            "replicant_rdb_size_bytes",
            "Snapshot size announced by the master (0 when diskless).",
            link.rdb_size.load(Ordering::Relaxed),
        )
        .counter("replicant_rdb_keys_total", "Keys read from snapshots.", link.rdb_keys.load(Ordering::Relaxed))
        .gauge(
            "replicant_rdb_keys_expected",
            "Keys the master held when the job started (INFO keyspace; 0 when unknown).",
            job.expected_keys.load(Ordering::Relaxed),
        )
        .gauge(
            "replicant_master_output_buffer_bytes",
            "During a full sync, what the master buffers for replicant (its offset's growth since FULLRESYNC).",
            job.output_buffer_bytes.load(Ordering::Relaxed),
        )
        .gauge(
            "replicant_master_output_buffer_limit_bytes",
            "The master's hard client-output-buffer-limit for replicas (0 when none or unknown).",
            job.output_buffer_limit.load(Ordering::Relaxed),
        )
        .counter(
            "replicant_commands_received_total",
            "Commands received from the stream.",
            link.commands.load(Ordering::Relaxed),
        )
        .counter("replicant_commands_applied_total", "Commands the target acknowledged.", applied)
        .counter("replicant_errors_total", "Errors: fatal, tolerated target errors and lost links.", job.error_count())
        .counter("replicant_errors_skipped_total", "Target errors tolerated by writer.skip_errors.", skipped)
        .counter("replicant_full_syncs_total", "Full syncs started.", link.full_syncs.load(Ordering::Relaxed))
        .counter(
            "replicant_partial_syncs_total",
            "Partial resyncs accepted.",
            link.partial_syncs.load(Ordering::Relaxed),
        )
        .counter(
            "replicant_connections_total",
            "Connections made to the master.",
            link.connections.load(Ordering::Relaxed),
        )
        .counter(
            "replicant_target_retries_total",
            "Times the target was lost and tried again.",
            job.target_retries.load(Ordering::Relaxed),
        );
    for (name, help, value) in scan_figures(job) {
        m.counter(&format!("replicant_{name}_total"), help, value);
    }
    let shards = job.writer().map(|w| w.shards()).unwrap_or_default();
    let in_flight: Vec<u64> = shards.iter().map(|s| s.in_flight).collect();
    let applied: Vec<u64> = shards.iter().map(|s| s.applied).collect();
    per_shard(
        &mut m,
        "replicant_shard_in_flight",
        "Commands sent to the target and not yet answered, per sender.",
        Kind::Gauge,
        &in_flight,
    );
    per_shard(
        &mut m,
        "replicant_shard_applied_total",
        "Commands the target acknowledged, per sender.",
        Kind::Counter,
        &applied,
    );
    m.finish()
}

/// One family with a series per sender.
fn per_shard(m: &mut Metrics, name: &str, help: &str, kind: Kind, values: &[u64]) {
    let mut family = m.family(name, help, kind);
    for (i, v) in values.iter().enumerate() {
        family.sample(&[("shard", &i.to_string())], *v);
    }
}
