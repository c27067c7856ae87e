//! A job in scan mode (`source.mode = "scan"`): the master is read with `SCAN`, `DUMP` and
//! `PTTL` (`replicant_scan`) instead of being replicated from, its keys written as an RDB
//! stream into a pipe that the same loader as an RDB file parses and delivers to the same
//! writer (`RESTORE`, or commands when the target cannot load the payload). The job ends
//! once the target acknowledged every key; writes made to the master meanwhile may be
//! missing, which the summary says.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use replicant_link::{LinkError, RdbFile};
use replicant_net::Endpoint;
use replicant_scan::{ScanConfig, ScanError, ScanStats};
use tokio::sync::watch;

use super::job::{connect_writer, JobSpec};
use super::plan::ScanPlan;
use super::status::{JobStatus, Stage};

/// What the pipe between the scan and the loader holds at most.
const PIPE_BYTES: usize = 1 << 20;
/// Bytes the loader reads at a time.
const READ_SIZE: usize = 256 << 10;

/// Copies `master` by scanning it, waits until the target acknowledged all of it, and
/// logs what was copied.
pub(crate) async fn scan_master(
    spec: &JobSpec,
    master: &Endpoint,
    scan: ScanPlan,
    status: &Arc<JobStatus>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let plan = &spec.plan;
    status.set_master(master);
    let source_dbs = super::kvrocks_target::master_databases(master).await;
    let mut writer = connect_writer(plan, false, false, &source_dbs, None).await?.writer;
    if let Some(keys) = super::estimate::master_keys(master).await {
        status.expected_keys.store(keys, Ordering::Relaxed);
    }
    status.set_writer(writer.progress());
    status.set_stage(Stage::Running);
    let mut cfg = ScanConfig::new(master.clone());
    (cfg.count, cfg.pipeline, cfg.timeout, cfg.max_ops) =
        (scan.count, scan.pipeline, plan.source_timeout, scan.max_ops);
    let stats = Arc::new(ScanStats::default());
    status.set_scan(stats.clone());
    let (reader, mut pipe) = tokio::io::duplex(PIPE_BYTES);
    let name = format!("the scan of {}", master.addr());
    let file = RdbFile { reader, name: name.clone(), size: None };
    let copy = async {
        let scanned = replicant_scan::scan::copy(&cfg, &mut pipe, &stats).await;
        drop(pipe);
        scanned
    };
    let load = replicant_link::load_rdb(file, plan.parser.clone(), READ_SIZE, &mut writer, &status.link);
    let outcome = tokio::select! {
        both = async { tokio::join!(copy, load) } => Some(both),
        _ = stop.wait_for(|s| *s) => None,
    };
    let drained = writer.finish().await;
    let (stats_now, acknowledged, target) = (writer.convert_stats(), writer.acknowledged(), plan.target_label());
    let closed = writer.close().await;
    let Some((scanned, loaded)) = outcome else {
        drained.and(closed).context("the target writer stopped")?;
        anyhow::bail!("stopped before the scan of {} was done; the target holds part of it", master.addr());
    };
    first_error(scanned, loaded.map(|_| ())).with_context(|| format!("{name} stopped"))?;
    drained.and(closed).context("the target writer stopped")?;
    tracing::info!(
        "Copied {} keys of {} by SCAN into {target} ({} with RESTORE, {} rebuilt with commands); {} scanned, {} gone \
         before they could be read, {} reconnections; {} commands acknowledged in {:.2?}. Writes made to the source during the scan \
         may be missing: scan mode does not follow its write stream (docs/scan.md).",
        stats.copied.load(Ordering::Relaxed),
        master.addr(),
        stats_now.restored,
        stats_now.rebuilt,
        stats.scanned.load(Ordering::Relaxed),
        stats.vanished.load(Ordering::Relaxed),
        stats.reconnects.load(Ordering::Relaxed),
        acknowledged,
        status.started.elapsed(),
    );
    Ok(())
}

/// The error that explains a failed copy: the scan's own, unless it only failed because
/// the loader stopped reading (then the loader's).
fn first_error(scanned: Result<(), ScanError>, loaded: Result<(), LinkError>) -> anyhow::Result<()> {
    match (scanned, loaded) {
        (Err(ScanError::Output(_)), Err(load)) => Err(load.into()),
        (Err(scan), _) => Err(scan.into()),
        (Ok(()), loaded) => loaded.map_err(Into::into),
    }
}
