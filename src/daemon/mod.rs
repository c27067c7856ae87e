//! The daemon behind `replicant sync`, `replicant run` and `replicant rdb restore`: one
//! migration job at a time (from the configured source, a master or an RDB file, or from
//! `REPLICAOF` on the admin port), the admin port,
//! the metrics endpoint, progress output, the checkpoint in the state directory, and a
//! clean stop on SIGTERM, SIGINT or `SHUTDOWN`.
//!
//! - `plan`: the configuration as run-time settings. `controller`: the current job and
//!   the admin commands. `job`: one job from prechecks to final checkpoint; `follow`: a
//!   master's job, session after session, riding out a lost target; `load`: a file's job;
//!   `scan`: a master copied by `SCAN` (scan mode).
//! - `precheck`: target checks before writing. `checkpoint`: the state directory.
//! - `status`: a job's live figures. `report`: `INFO` and metrics. `progress`: the bar.
//! - `estimate`: what the master says of its dataset before the snapshot (the bar's total).
//! - `output_buffer`: the master's output buffer for replicant during a full sync, against
//!   its `client-output-buffer-limit` (a warning before the master would drop the link).

mod checkpoint;
mod controller;
mod estimate;
mod follow;
mod job;
mod kvrocks_target;
mod load;
mod output_buffer;
mod plan;
mod precheck;
mod progress;
mod report;
mod scan;
mod source_link;
mod status;
mod target_loss;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use controller::{Controller, Event};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub(crate) use plan::Plan;
pub(crate) use progress::LogWriter;

/// Runs the daemon until its job ends (without an admin port, or with `once`), or until
/// it is told to stop.
pub(crate) fn run(plan: Plan) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(plan))
}

async fn serve(plan: Plan) -> anyhow::Result<ExitCode> {
    if plan.source.is_none() && plan.admin.is_none() {
        bail!("no master to follow: give a source URL, or an admin port to attach one with REPLICAOF");
    }
    let state = plan.state_dir.as_deref().map(checkpoint::StateDir::open).transpose()?.map(Arc::new);
    let plan = Arc::new(plan);
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let controller = Arc::new(Controller::new(plan.clone(), state, events_tx));
    let (closing_tx, closing) = watch::channel(false);
    start_surfaces(&plan, &controller, &closing).await?;
    tokio::spawn(progress::run(controller.clone(), plan.progress));
    if let Some(source) = plan.source.clone() {
        controller.start(source).await;
    } else {
        tracing::info!("Waiting for REPLICAOF on the admin port.");
    }
    let exit_when_done = plan.admin.is_none() || plan.once;
    let outcome = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Event::JobEnded(result)) if exit_when_done => break result.map_err(anyhow::Error::msg),
                Some(Event::Shutdown) => {
                    tracing::info!("SHUTDOWN: stopping.");
                    break Ok(());
                }
                Some(Event::JobEnded(_)) => {}
                None => break Ok(()),
            },
            () = signal() => break interrupted(&plan),
        }
    };
    controller.stop().await;
    progress::clear();
    let _ = closing_tx.send(true);
    outcome.map(|()| ExitCode::SUCCESS)
}

/// What a signal means: a clean stop for a master's job (its checkpoint says where to go
/// on), an error for a file's load (the target holds part of the file).
fn interrupted(plan: &Plan) -> anyhow::Result<()> {
    match &plan.source {
        Some(plan::Source::RdbFile(path)) => {
            bail!("interrupted before the whole of {} was loaded; the target holds part of it", path.display())
        }
        _ => Ok(()),
    }
}

/// Starts the admin port and the metrics endpoint, when configured.
async fn start_surfaces(
    plan: &Plan,
    controller: &Arc<Controller>,
    closing: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if let Some(addr) = plan.admin {
        let listener =
            TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (admin port)"))?;
        tracing::info!(%addr, "Admin port listening.");
        let (control, password, mut closing) = (controller.clone(), plan.admin_password.clone(), closing.clone());
        tokio::spawn(async move {
            let closed = async move {
                let _ = closing.wait_for(|c| *c).await;
            };
            if let Err(e) = replicant_admin::serve_admin(listener, control, password, closed).await {
                tracing::error!(error = %e, "The admin port stopped.");
            }
        });
    }
    if let Some(addr) = plan.metrics {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (metrics)"))?;
        tracing::info!(%addr, "Metrics endpoint listening on /metrics.");
        let (control, mut closing) = (controller.clone(), closing.clone());
        tokio::spawn(async move {
            let closed = async move {
                let _ = closing.wait_for(|c| *c).await;
            };
            if let Err(e) = replicant_admin::serve_metrics(listener, control, closed).await {
                tracing::error!(error = %e, "The metrics endpoint stopped.");
            }
        });
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("Interrupted; stopping."),
        () = terminated => tracing::info!("Terminated; stopping."),
    }
}
