//! Following a master: sessions of link and writer, one after the other, until the job is
//! stopped. A session ends when the job is stopped (or `--once` is satisfied), when the
//! target is lost, or on an error that retrying cannot fix. After a lost target the next
//! session starts after a pause that doubles up to `target.retry.max_delay_ms`, and goes on
//! from what the target acknowledged: the master is asked for the rest of the same
//! replication history (`PSYNC`), and the exactly-once markers say what the target applied
//! beyond that. When Sentinels name the master, a `+switch-master` ends the session too, and
//! the next one continues the history on the new master with `PSYNC`, as a replica does
//! after a failover.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use replicant_link::{LinkError, Sink as _};
use replicant_net::Endpoint;
use replicant_pipeline::AppliedMarks;
use replicant_repl::ResumePoint;
use replicant_sentinel::{MasterAddr, SentinelConfig, SwitchWatcher};
use tokio::sync::watch;

use super::checkpoint::Checkpoint;
use super::job::{connect_writer, keep_checkpoint, read_start, store_final, Connected, JobSpec, LostTarget, Start};
use super::plan::SentinelSource;
use super::source_link::{kind_of, Kind, SourceLink};
use super::status::{JobStatus, Stage};
use super::target_loss::{came_back_changed, link_lost_target, resume_writer, target_lost};

/// First pause after a lost target.
const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// Where the master is.
pub(crate) enum Locator<'a> {
    /// This one (configured, or attached with `REPLICAOF`).
    Fixed(&'a Endpoint),
    /// The one Sentinels name, followed through their failovers.
    Sentinel(&'a SentinelSource),
}

impl Locator<'_> {
    /// The master now, verified when Sentinels name it.
    async fn locate(&self) -> anyhow::Result<Endpoint> {
        match self {
            Locator::Fixed(master) => Ok((*master).clone()),
            Locator::Sentinel(s) => s.locate().await,
        }
    }

    /// A watcher of the Sentinels' failovers, for a master found at `now`.
    fn watch(&self, now: &Endpoint) -> anyhow::Result<Option<SwitchWatcher>> {
        let Locator::Sentinel(s) = self else { return Ok(None) };
        let current = MasterAddr::new(now.host.clone(), now.port);
        let watcher = SwitchWatcher::start(s.sentinels.clone(), &s.name, current, SentinelConfig::default())?;
        Ok(Some(watcher))
    }
}

/// The master a session follows, and what kind of server it is.
struct Followed {
    master: Endpoint,
    kind: Kind,
}

/// How a session ended, when it did not fail for good.
enum Ended {
    /// Stopped, or `--once` is satisfied.
    Stopped,
    /// The Sentinels announced a new master; the session drained and checkpointed.
    Switched { resume: Option<ResumePoint> },
    /// The target could not be reached or dropped its connections.
    TargetLost {
        error: anyhow::Error,
        /// What the target acknowledged, once streaming.
        resume: Option<ResumePoint>,
        /// Whether snapshot commands may have reached the target.
        wrote_snapshot: bool,
        /// Whether the session got as far as the link (a new run of failures starts).
        ran: bool,
        /// The exactly-once markers its senders had acknowledged.
        marks: Option<AppliedMarks>,
    },
}

/// Follows the master until stopped or a final error, riding out a lost target and the
/// Sentinels' failovers.
pub(crate) async fn follow_master(
    spec: &JobSpec,
    locator: Locator<'_>,
    status: &Arc<JobStatus>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let plan = &spec.plan;
    let mut master = locator.locate().await?;
    status.set_master(&master);
    let mut watcher = locator.watch(&master)?;
    let mut start = read_start(spec.state.as_deref(), spec.carried.as_ref(), &master.addr(), &plan.target_label())?;
    let (mut failures, mut pause) = (0u32, FIRST_PAUSE);
    let mut target_replids = Vec::new();
    // What the target acknowledged across sessions, to check what comes back after a loss.
    let mut applied = AppliedMarks::default();
    loop {
        let followed = Followed { kind: kind_of(&master, plan.source_kind).await, master: master.clone() };
        let ended = session(spec, &followed, status, &mut stop, &start, watcher.as_mut(), &mut target_replids).await?;
        let (error, resume, wrote_snapshot, ran) = match ended {
            Ended::Stopped => return Ok(()),
            Ended::Switched { resume } => {
                let Some(at) = resume else {
                    anyhow::bail!(
                        "the master failed over during the full sync, which cannot be resumed: the target holds part \
                         of a snapshot. Start again with an empty target or target.existing_data = \"replace\""
                    );
                };
                let previous = master.addr();
                master = locator.locate().await?;
                status.set_master(&master);
                tracing::info!(
                    from = %previous,
                    to = %master.addr(),
                    "The Sentinels named a new master; continuing the replication history there (PSYNC)."
                );
                start = Start { resume: Some(at), previous_master: Some(previous), ..Start::default() };
                // The drained session deleted its markers: the checkpoint is exact.
                applied = AppliedMarks::default();
                continue;
            }
            Ended::TargetLost { error, resume, wrote_snapshot, ran, marks } => {
                if let Some(marks) = marks {
                    applied.update(&marks);
                }
                (error, resume, wrote_snapshot, ran)
            }
        };
        if resume.is_none() && wrote_snapshot {
            return Err(error).context(
                "the target was lost during the full sync, which cannot be resumed: it holds part of a snapshot. \
                 Start again with an empty target or target.existing_data = \"replace\"",
            );
        }
        if ran {
            // The last session got somewhere: a new run of failures starts.
            (failures, pause) = (0, FIRST_PAUSE);
        }
        failures += 1;
        if plan.target_retry.max_attempts().is_some_and(|max| failures >= max) {
            return Err(error).context(format!("gave up after {failures} attempts to reach the target"));
        }
        status.target_retries.fetch_add(1, Ordering::Relaxed);
        status.set_last_target_error(format!("{error:#}"));
        tracing::warn!(
            error = %format!("{error:#}"),
            retry_in_ms = pause.as_millis() as u64,
            "The target was lost; trying again."
        );
        status.set_stage(Stage::TargetBackoff);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        pause = (pause * 2).min(plan.target_retry.max_delay());
        let applied_keys = status.target_figures().0 + status.link.rdb_keys.load(Ordering::Relaxed);
        let lost = LostTarget { applied: applied_keys, replids: target_replids.clone(), marks: applied.clone() };
        start = Start { resume, lost_target: Some(lost), ..Start::default() };
    }
}

/// One session: writer and prechecks, then the link until it ends.
async fn session(
    spec: &JobSpec,
    followed: &Followed,
    status: &Arc<JobStatus>,
    stop: &mut watch::Receiver<bool>,
    start: &Start,
    watcher: Option<&mut SwitchWatcher>,
    target_replids: &mut Vec<String>,
) -> anyhow::Result<Ended> {
    let plan = &spec.plan;
    let (master, kind) = (&followed.master, followed.kind);
    let (source, target) = (master.addr(), plan.target_label());
    let resume = start.resume;
    let lost =
        |error: anyhow::Error| Ended::TargetLost { error, resume, wrote_snapshot: false, ran: false, marks: None };
    let source_dbs = match kind {
        Kind::Redis => super::kvrocks_target::master_databases(master).await,
        Kind::Kvrocks => plan.kvrocks_namespaces.databases(),
        // The one database the link follows.
        Kind::Pika => vec![master.db.unwrap_or(0)],
    };
    // A Pika database named in the source URL is followed alone (one replicant per
    // database): the checks, `replace` and the exactly-once markers then stay in it.
    let own_db = match kind {
        Kind::Pika => master.db,
        Kind::Redis | Kind::Kvrocks => None,
    };
    let (mut writer, target_at) =
        match connect_writer(plan, resume.is_some(), start.partial_snapshot, &source_dbs, own_db).await {
            Ok(Connected { writer, found, target }) => {
                came_back_changed(start, &found, writer.exactly_once())?;
                *target_replids = found.histories.iter().map(|(id, _)| id.clone()).collect();
                (writer, target)
            }
            Err(e) if target_lost(&e) => return Ok(lost(e)),
            Err(e) => return Err(e),
        };
    let mut target_watcher = match &plan.target_sentinel {
        Some(s) => Some(Locator::Sentinel(s).watch(&target_at)?).flatten(),
        None => None,
    };
    let progress = writer.progress();
    if resume.is_none() {
        let (master, status) = (master.clone(), status.clone());
        tokio::spawn(async move {
            if let Some(keys) = super::estimate::master_keys(&master).await {
                status.expected_keys.store(keys, Ordering::Relaxed);
            }
        });
    }
    let resume = match (resume, &spec.state) {
        (Some(at), _) => match resume_writer(&mut writer, at, start, spec.state.is_some()).await {
            Ok(from) => Some(from),
            Err(e) if target_lost(&e) => return Ok(lost(e)),
            Err(e) => return Err(e),
        },
        (None, Some(state)) => {
            state.store(&Checkpoint::full_sync(&source, &target))?;
            None
        }
        (None, None) => None,
    };
    status.set_writer(progress.clone());
    let link = SourceLink::new(kind, master, plan, resume)?;
    status.set_stage(Stage::Running);
    let checkpointer = spec.state.clone().map(|state| {
        let ends = (source.clone(), target.clone());
        tokio::spawn(keep_checkpoint(state, progress.clone(), ends, plan.checkpoint_every))
    });
    // Spawned here, after the last early return, since it only ends when aborted.
    let buffer_watch = (resume.is_none() && link.is_redis()).then(|| super::output_buffer::spawn_for(master, status));
    let once = plan.once;
    let (switched, target_switched) = (AtomicBool::new(false), AtomicBool::new(false));
    let stopped = async {
        let applied = async {
            while !(once && progress.snapshot_applied()) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            _ = stop.wait_for(|s| *s) => {}
            () = applied => tracing::info!("The snapshot is applied on the target; stopping (--once)."),
            () = next_switch(watcher, master, "master") => switched.store(true, Ordering::Relaxed),
            () = next_switch(target_watcher.as_mut(), &target_at, "target") => {
                target_switched.store(true, Ordering::Relaxed);
            }
        }
    };
    let full_syncs_before = status.link.full_syncs.load(Ordering::Relaxed);
    let result = link.run(&mut writer, status.link.clone(), stopped).await;
    for task in [checkpointer, buffer_watch].into_iter().flatten() {
        task.abort();
        // Awaited, so that a checkpoint it was storing is done before the final one.
        let _ = task.await;
    }
    let target_gone = match &result {
        Err(e) if link_lost_target(e) => true,
        Ok(()) => target_switched.load(Ordering::Relaxed),
        Err(_) => false,
    };
    if target_gone {
        status.set_stage(Stage::TargetBackoff);
        // What the target acknowledged before it went is the point to go on from.
        let _ = writer.committed();
        if let Some(state) = &spec.state {
            store_final(state, &progress, &source, &target)?;
        }
        let wrote_snapshot = status.link.full_syncs.load(Ordering::Relaxed) > full_syncs_before;
        let resume = progress.resume_point();
        let marks = Some(writer.applied_marks());
        drop(writer);
        let error = match result {
            Err(e) => anyhow::Error::new(e),
            Ok(()) => anyhow::anyhow!("the Sentinels failed the target {} over", target_at.addr()),
        };
        return Ok(Ended::TargetLost { error, resume, wrote_snapshot, ran: true, marks });
    }
    if switched.load(Ordering::Relaxed) && result.is_ok() {
        finish(spec, writer, status, &source, &target, start, result).await?;
        return Ok(Ended::Switched { resume: progress.resume_point() });
    }
    finish(spec, writer, status, &source, &target, start, result).await.map(|()| Ended::Stopped)
}

/// Resolves when the Sentinels name a master other than `now` for the `what` (the source's
/// master or the target); never without Sentinels.
async fn next_switch(watcher: Option<&mut SwitchWatcher>, now: &Endpoint, what: &str) {
    let Some(watcher) = watcher else { return std::future::pending().await };
    while let Some(addr) = watcher.next().await {
        if (addr.host.as_str(), addr.port) != (now.host.as_str(), now.port) {
            tracing::info!(master = %addr, "The Sentinels announced a failover of the {what} (+switch-master).");
            return;
        }
    }
    std::future::pending().await
}

/// The end of a session that was stopped or failed for good: drain, final checkpoint,
/// markers deleted after a clean drain, and the error explained.
async fn finish(
    spec: &JobSpec,
    mut writer: replicant_pipeline::Writer,
    status: &JobStatus,
    source: &str,
    target: &str,
    start: &Start,
    result: Result<(), LinkError>,
) -> anyhow::Result<()> {
    let progress = writer.progress();
    let drained = writer.finish().await;
    let _ = writer.committed();
    if let Some(state) = &spec.state {
        store_final(state, &progress, source, target)?;
    }
    if drained.is_ok() {
        writer.clear_markers().await.context("cannot delete the exactly-once markers")?;
    }
    let closed = writer.close().await;
    let link = &status.link;
    tracing::info!(
        "Stopped after {:.2?}: {} keys in the snapshot, {} stream commands, master offset {}.",
        status.started.elapsed(),
        link.rdb_keys.load(Ordering::Relaxed),
        link.commands.load(Ordering::Relaxed),
        link.offset.load(Ordering::Relaxed),
    );
    if let Err(e) = &result {
        if refuses_replicas(e) {
            return result.context(
                "the master does not let replicas sync (managed services forbid or rename SYNC and PSYNC); copy it \
                 with --source-mode scan (source.mode = \"scan\"), which reads it with SCAN, DUMP and PTTL: see \
                 docs/scan.md for what that mode does not see",
            );
        }
    }
    if let Err(LinkError::FullResyncRefused { .. }) = &result {
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

/// Whether the master refused `PSYNC` or `SYNC` as an unknown or forbidden command.
fn refuses_replicas(e: &LinkError) -> bool {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(e) = cause {
        text.push_str(&e.to_string());
        cause = e.source();
    }
    let sync = text.to_ascii_lowercase().contains("sync");
    let refused = ["unknown command", "NOPERM", "not permitted", "no permissions"].iter().any(|w| text.contains(w));
    sync && refused
}
