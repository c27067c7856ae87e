//! A job whose source is an RDB file: the same writer and prechecks as a master's full
//! sync, the file read in steps and delivered as a snapshot, then a drain and a summary.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use replicant_link::RdbFile;
use tokio::io::AsyncRead;
use tokio::sync::watch;

use super::job::{connect_writer, JobSpec};
use super::status::{JobStatus, Stage};

/// Bytes read from an RDB file at a time.
const FILE_READ_SIZE: usize = 256 << 10;

/// Loads an RDB file into the target as a full sync, waits until the target acknowledged
/// all of it, and logs what was written.
pub(crate) async fn load_file(
    spec: &JobSpec,
    path: &Path,
    status: &Arc<JobStatus>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let plan = &spec.plan;
    let file = open_rdb(path).await?;
    let mut writer = connect_writer(plan, false, false, &[], None).await?.writer;
    status.set_writer(writer.progress());
    status.set_stage(Stage::Running);
    let loaded = tokio::select! {
        loaded = replicant_link::load_rdb(file, plan.parser.clone(), FILE_READ_SIZE, &mut writer, &status.link) => Some(loaded),
        _ = stop.wait_for(|s| *s) => None,
    };
    let drained = writer.finish().await;
    let (stats, acknowledged, target) = (writer.convert_stats(), writer.acknowledged(), plan.target_label());
    let closed = writer.close().await;
    let Some(loaded) = loaded else {
        drained.and(closed).context("the target writer stopped")?;
        anyhow::bail!("stopped before the whole of {} was loaded; the target holds part of it", path.display());
    };
    let loaded = loaded.context("the load stopped")?;
    drained.and(closed).context("the target writer stopped")?;
    tracing::info!(
        "Restored {} keys into {target} ({} with RESTORE, {} rebuilt with commands); skipped {} expired and {} \
         empty; {} functions; {} commands acknowledged; {:.1} MB of RDB in {:.2?}.",
        stats.restored + stats.rebuilt,
        stats.restored,
        stats.rebuilt,
        stats.expired_skipped,
        stats.empty_skipped,
        stats.functions,
        acknowledged,
        loaded.rdb_bytes as f64 / 1e6,
        status.started.elapsed(),
    );
    if loaded.trailing > 0 {
        tracing::warn!(bytes = loaded.trailing, "The file goes on after the RDB's end; those bytes were ignored.");
    }
    if stats.module_aux_skipped > 0 {
        tracing::warn!(
            records = stats.module_aux_skipped,
            "Module aux records were not copied (modules keep them; they have no command form)."
        );
    }
    Ok(())
}

/// Opens an RDB file, or standard input for `-`, with its size when it has one.
async fn open_rdb(path: &Path) -> anyhow::Result<RdbFile<Box<dyn AsyncRead + Send + Unpin>>> {
    if path.as_os_str() == "-" {
        return Ok(RdbFile { reader: Box::new(tokio::io::stdin()), name: "<stdin>".into(), size: None });
    }
    let name = path.display().to_string();
    let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot open {name}"))?;
    let meta = file.metadata().await.with_context(|| format!("cannot read {name}"))?;
    let size = meta.is_file().then_some(meta.len());
    Ok(RdbFile { reader: Box::new(file), name, size })
}
