//! One migration job, from its start to how it ended: the source it reads (a master, the
//! master Sentinels name, or an RDB file: `follow` and `load` run them), where it starts
//! (the checkpoint, or where the last job left the target), the writer with its
//! prechecks, and the checkpoint kept current while the target acknowledges.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use replicant_net::Endpoint;
use replicant_pipeline::{AppliedMarks, Writer, WriterProgress};
use replicant_repl::ResumePoint;
use tokio::sync::watch;

use super::checkpoint::{Checkpoint, StateDir};
use super::follow::Locator;
use super::plan::{Plan, Source};
use super::precheck::{self, Situation};
use super::status::{JobStatus, Stage};

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
        Source::Master(master) => match spec.plan.scan {
            Some(scan) => super::scan::scan_master(spec, master, scan, status, stop).await,
            None => super::follow::follow_master(spec, Locator::Fixed(master), status, stop).await,
        },
        Source::Sentinel(sentinel) => {
            super::follow::follow_master(spec, Locator::Sentinel(sentinel), status, stop).await
        }
        Source::RdbFile(path) => super::load::load_file(spec, path, status, stop).await,
    }
}

/// A writer connected to the target, with what the prechecks found there.
pub(crate) struct Connected {
    pub(crate) writer: Writer,
    pub(crate) found: precheck::Found,
    /// The target it writes to (the master its Sentinels named, when they do).
    pub(crate) target: Endpoint,
}

/// Connects the writer to the target (the master its Sentinels name, when they do) and runs
/// the prechecks; `source_dbs` are the databases the source is known to write (a Kvrocks
/// target must have a namespace for each). `own_db`: the source database this job follows
/// alone (a Pika database named in the source URL), written to the same database unless
/// the target URL names one; the prechecks, `replace` and the exactly-once markers then
/// stay in it, so jobs following other databases into the same target do not meet. The
/// caller shows the writer in the status once it is resumed (until then its offsets mean
/// nothing).
pub(crate) async fn connect_writer(
    plan: &Plan,
    resuming: bool,
    partial_snapshot: bool,
    source_dbs: &[u64],
    own_db: Option<u64>,
) -> anyhow::Result<Connected> {
    let mut target = plan.locate_target().await?;
    let target_db = plan.target.db.or(own_db);
    target.db = target.db.or(target_db);
    let target = super::kvrocks_target::prepare(target, &plan.target_kvrocks_tokens).await?;
    super::kvrocks_target::check_databases(&target, source_dbs, target_db)?;
    let writer = Writer::connect(&target, plan.writer.clone()).await.context("cannot set up the target")?;
    let kvrocks = target.db_passwords.clone();
    let situation = Situation { resuming, partial_snapshot, cluster: writer.is_cluster(), kvrocks };
    let found = precheck::run(&writer.nodes(), target_db, plan.existing_data, &situation).await?;
    Ok(Connected { writer, found, target })
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
    /// After a lost target: what it held before.
    pub(crate) lost_target: Option<LostTarget>,
}

/// Reads the starting point. A checkpoint is about the target and the replication history
/// (ID and offset), not the master's address: on another master (a promoted replica after a
/// failover, `REPLICAOF` elsewhere, another `--source`) the job first tries to continue the
/// same history with `PSYNC`, as a replica does after a failover.
pub(crate) fn read_start(
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
            Ok(Start { resume: Some(at), partial_snapshot: false, previous_master, lost_target: None })
        }
        None => Ok(Start { resume: None, partial_snapshot: true, previous_master, lost_target: None }),
    }
}

/// What a lost target held, to tell what comes back: the keys and commands it had applied
/// (a target back with no key lost them), its servers' replication IDs (a server whose
/// second ID is one of them is a replica promoted in a failover), and the markers it had
/// acknowledged (one that holds older ones lacks writes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LostTarget {
    pub(crate) applied: u64,
    pub(crate) replids: Vec<String>,
    /// The exactly-once markers it had acknowledged.
    pub(crate) marks: AppliedMarks,
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
pub(crate) async fn keep_checkpoint(
    state: Arc<StateDir>,
    progress: Arc<WriterProgress>,
    ends: (String, String),
    every: Duration,
) {
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

pub(crate) fn store_final(
    state: &StateDir,
    progress: &WriterProgress,
    source: &str,
    target: &str,
) -> anyhow::Result<()> {
    if let Some(at) = progress.resume_point() {
        state.store(&Checkpoint::streaming(source, target, at))?;
        tracing::info!(replid = %at.replid, offset = at.offset, "Checkpoint stored.");
    }
    Ok(())
}
