//! One migration job: from a master into the target until stopped. Reads the checkpoint,
//! runs the prechecks, resumes with `PSYNC` where the checkpoint allows, keeps the
//! checkpoint current while the target acknowledges, and on the way out drains the
//! writer and stores a final checkpoint. A job whose source is an RDB file runs the same
//! writer and prechecks, loads the file as a full sync and ends.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use replicant_link::{LinkConfig, RdbFile, Sink as _};
use replicant_net::Endpoint;
use replicant_pipeline::{Writer, WriterProgress};
use replicant_repl::ResumePoint;
use tokio::io::AsyncRead;
use tokio::sync::watch;

use super::checkpoint::{Checkpoint, StateDir};
use super::plan::{Plan, Source};
use super::precheck::{self, Situation};
use super::status::{JobStatus, Stage};

/// Bytes read from an RDB file at a time.
const FILE_READ_SIZE: usize = 256 << 10;

/// What a job needs.
pub(crate) struct JobSpec {
    pub(crate) plan: Arc<Plan>,
    pub(crate) source: Source,
    pub(crate) state: Option<Arc<StateDir>>,
    /// Without a state directory: where the job before this one left the target.
    pub(crate) carried: Option<Carried>,
}

/// Runs the job until `stop` turns true, the snapshot is applied under `once`, or an
/// error; records how it ended in `status`.
pub(crate) async fn run(spec: JobSpec, status: Arc<JobStatus>, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    let result = follow(&spec, &status, stop).await;
    let end = result.as_ref().err().map(|e| format!("{e:#}"));
    if end.is_some() {
        status.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    status.set_stage(Stage::Ended(end));
    result
}

async fn follow(spec: &JobSpec, status: &Arc<JobStatus>, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    match &spec.source {
        Source::Master(master) => follow_master(spec, master, status, stop).await,
        Source::RdbFile(path) => load_file(spec, path, status, stop).await,
    }
}

/// Connects the writer to the target and runs the prechecks.
async fn connect_writer(
    plan: &Plan,
    status: &JobStatus,
    resuming: bool,
    partial_snapshot: bool,
) -> anyhow::Result<Writer> {
    let writer = Writer::connect(&plan.target, plan.writer.clone()).await.context("cannot set up the target")?;
    let _ = status.writer.set(writer.progress());
    let situation = Situation { resuming, partial_snapshot, cluster: writer.is_cluster() };
    precheck::run(&writer.nodes(), plan.target.db, plan.existing_data, &situation).await?;
    Ok(writer)
}

async fn follow_master(
    spec: &JobSpec,
    master: &Endpoint,
    status: &Arc<JobStatus>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let plan = &spec.plan;
    let (source, target) = (master.addr(), plan.target.addr());
    let start = read_start(spec.state.as_deref(), spec.carried.as_ref(), &source, &target)?;
    let resume = start.resume;
    let mut writer = connect_writer(plan, status, resume.is_some(), start.partial_snapshot).await?;
    let progress = writer.progress();
    if resume.is_none() {
        let (master, status) = (master.clone(), status.clone());
        tokio::spawn(async move {
            if let Some(keys) = super::estimate::master_keys(&master).await {
                status.expected_keys.store(keys, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    match (resume, &spec.state) {
        (Some(at), _) => {
            let from = if spec.state.is_some() { "the checkpoint" } else { "where the last job left the target" };
            tracing::info!(replid = %at.replid, offset = at.offset, db = at.db, "Resuming from {from}.");
            let markers = writer.resume_exactly(at).await?;
            if writer.exactly_once() {
                tracing::info!(markers, "Exactly once: commands the target applied after the checkpoint are skipped.");
            }
        }
        (None, Some(state)) => state.store(&Checkpoint::full_sync(&source, &target))?,
        (None, None) => {}
    }
    let mut link = LinkConfig::new(master.clone());
    link.parser = plan.parser.clone();
    link.full_resync = plan.full_resync;
    link.replica = link.replica.resume(resume);
    status.set_stage(Stage::Running);
    let checkpointer = spec.state.clone().map(|state| {
        let ends = (source.clone(), target.clone());
        tokio::spawn(keep_checkpoint(state, progress.clone(), ends, plan.checkpoint_every))
    });
    let once = plan.once;
    let stopped = async {
        let applied = async {
            while !(once && progress.snapshot_applied()) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => {}
            () = applied => tracing::info!("The snapshot is applied on the target; stopping (--once)."),
        }
    };
    let result = replicant_link::run(link, &mut writer, status.link.clone(), stopped).await;
    if let Some(task) = checkpointer {
        task.abort();
    }
    let drained = writer.finish().await;
    let _ = writer.committed();
    if let Some(state) = &spec.state {
        store_final(state, &progress, &source, &target)?;
    }
    if drained.is_ok() {
        writer.clear_markers().await.context("cannot delete the exactly-once markers")?;
    }
    let closed = writer.close().await;
    let link = &status.link;
    tracing::info!(
        "Stopped after {:.2?}: {} keys in the snapshot, {} stream commands, master offset {}.",
        status.started.elapsed(),
        link.rdb_keys.load(std::sync::atomic::Ordering::Relaxed),
        link.commands.load(std::sync::atomic::Ordering::Relaxed),
        link.offset.load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Err(replicant_link::LinkError::FullResyncRefused { .. }) = &result {
        let on = match &start.previous_master {
            Some(previous) => format!(
                "the history was followed on {previous}, and {source} does not hold it (it is not a replica \
                 promoted from that master, or its backlog no longer reaches the offset); "
            ),
            None => String::new(),
        };
        let what = match &spec.state {
            Some(state) => format!("the checkpoint {}", state.checkpoint_file().display()),
            None => "the copy on the target".to_string(),
        };
        return result.with_context(|| {
            format!(
                "{on}{what} cannot be continued; to start over with a full sync, remove the checkpoint and run \
                 again with an empty target or target.existing_data = \"replace\" (or allow sync.full_resync)"
            )
        });
    }
    result.context("replication stopped")?;
    drained.and(closed).context("the target writer stopped")?;
    Ok(())
}

/// Loads an RDB file into the target as a full sync, waits until the target acknowledged
/// all of it, and logs what was written.
async fn load_file(
    spec: &JobSpec,
    path: &Path,
    status: &Arc<JobStatus>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let plan = &spec.plan;
    let file = open_rdb(path).await?;
    let mut writer = connect_writer(plan, status, false, false).await?;
    status.set_stage(Stage::Running);
    let loaded = tokio::select! {
        loaded = replicant_link::load_rdb(file, plan.parser.clone(), FILE_READ_SIZE, &mut writer, &status.link) => Some(loaded),
        _ = stop.wait_for(|s| *s) => None,
    };
    let drained = writer.finish().await;
    let (stats, acknowledged, target) = (writer.convert_stats(), writer.acknowledged(), plan.target.addr());
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

/// Where a job starts: what the checkpoint (or, without a state directory, the job before
/// it in this process) says about the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Start {
    /// Continue the replication history from here with `PSYNC`.
    pub(crate) resume: Option<ResumePoint>,
    /// An earlier run stopped during its full sync: the target holds part of a snapshot.
    pub(crate) partial_snapshot: bool,
    /// The master the history was followed on, when it is not this one (a failover).
    pub(crate) previous_master: Option<String>,
}

/// Reads the starting point. A checkpoint is about the target and the replication history
/// (ID and offset), not the master's address: on another master (a promoted replica after a
/// failover, `REPLICAOF` elsewhere, another `--source`) the job first tries to continue the
/// same history with `PSYNC`, as a replica does after a failover.
fn read_start(
    state: Option<&StateDir>,
    carried: Option<&Carried>,
    source: &str,
    target: &str,
) -> anyhow::Result<Start> {
    let found = match state {
        Some(state) => state.load()?.map(|c| {
            let (s, t) = c.ends();
            (s.to_string(), t.to_string(), c.resume_point())
        }),
        None => carried.map(|c| (c.master.clone(), c.target.clone(), Ok(Some(c.at)))),
    };
    let Some((s, t, resume)) = found else { return Ok(Start::default()) };
    if t != target {
        tracing::warn!(checkpoint_target = t, "The checkpoint is about another target; starting with a full sync.");
        return Ok(Start::default());
    }
    let previous_master = (s != source).then_some(s);
    match resume? {
        Some(at) => {
            if let Some(previous) = &previous_master {
                tracing::info!(
                    previous_master = %previous,
                    replid = %at.replid,
                    offset = at.offset,
                    "The replication history was followed on another master; asking this one to continue it (PSYNC)."
                );
            }
            Ok(Start { resume: Some(at), partial_snapshot: false, previous_master })
        }
        None => Ok(Start { resume: None, partial_snapshot: true, previous_master }),
    }
}

/// What a job leaves to the next one in this process when there is no state directory: the
/// point up to which the target holds the history, so that `REPLICAOF` to a promoted replica
/// continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Carried {
    pub(crate) master: String,
    pub(crate) target: String,
    pub(crate) at: ResumePoint,
}

/// Stores the checkpoint whenever the acknowledged resume point moves.
async fn keep_checkpoint(state: Arc<StateDir>, progress: Arc<WriterProgress>, ends: (String, String), every: Duration) {
    let mut last = progress.resume_point();
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let now = progress.resume_point();
        if now == last {
            continue;
        }
        let checkpoint = match now {
            Some(at) => Checkpoint::streaming(&ends.0, &ends.1, at),
            None => Checkpoint::full_sync(&ends.0, &ends.1),
        };
        match state.store(&checkpoint) {
            Ok(()) => last = now,
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "Cannot store the checkpoint; will try again."),
        }
    }
}

fn store_final(state: &StateDir, progress: &WriterProgress, source: &str, target: &str) -> anyhow::Result<()> {
    if let Some(at) = progress.resume_point() {
        state.store(&Checkpoint::streaming(source, target, at))?;
        tracing::info!(replid = %at.replid, offset = at.offset, "Checkpoint stored.");
    }
    Ok(())
}
