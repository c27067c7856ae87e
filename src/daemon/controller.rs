//! The controller: owns the current job, starts one per `REPLICAOF` (or the configured
//! source), stops it cleanly on `REPLICAOF NO ONE`, `SHUTDOWN` or a signal, and answers
//! the admin port and the metrics endpoint from the job's status.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use replicant_admin::{Control, InfoSection};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::checkpoint::StateDir;
use super::job::{self, Carried, JobSpec};
use super::plan::{Plan, Source};
use super::report;
use super::status::JobStatus;

/// What the controller tells the daemon's main loop.
#[derive(Debug)]
pub(crate) enum Event {
    /// A job ended by itself or was stopped: `Err` with its error.
    JobEnded(Result<(), String>),
    /// `SHUTDOWN` was asked for on the admin port.
    Shutdown,
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The daemon's one job at a time.
pub(crate) struct Controller {
    plan: Arc<Plan>,
    state: Option<Arc<StateDir>>,
    runtime: tokio::runtime::Handle,
    events: mpsc::UnboundedSender<Event>,
    running: tokio::sync::Mutex<Option<Running>>,
    /// The current or last job's status (what `INFO` shows), and whether it is attached.
    shown: Mutex<(Option<Arc<JobStatus>>, bool)>,
    started: Instant,
}

impl Controller {
    pub(crate) fn new(plan: Arc<Plan>, state: Option<Arc<StateDir>>, events: mpsc::UnboundedSender<Event>) -> Self {
        Controller {
            plan,
            state,
            runtime: tokio::runtime::Handle::current(),
            events,
            running: tokio::sync::Mutex::new(None),
            shown: Mutex::new((None, false)),
            started: Instant::now(),
        }
    }

    /// The current or last job's status.
    pub(crate) fn status(&self) -> Option<Arc<JobStatus>> {
        self.shown.lock().ok().and_then(|s| s.0.clone())
    }

    fn attached(&self) -> bool {
        self.shown.lock().map(|s| s.1).unwrap_or(false)
    }

    /// Stops any job, then starts one from `source`.
    pub(crate) async fn start(&self, source: Source) {
        let mut running = self.running.lock().await;
        stop(running.take()).await;
        let carried = self.carried();
        let (host, port) = source.label();
        let status = Arc::new(JobStatus::new(&host, port, source.addr()));
        if let Ok(mut shown) = self.shown.lock() {
            *shown = (Some(status.clone()), true);
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let spec = JobSpec { plan: self.plan.clone(), source, state: self.state.clone(), carried };
        let events = self.events.clone();
        let task = tokio::spawn(async move {
            let result = job::run(spec, status, stop_rx).await;
            if let Err(e) = &result {
                tracing::error!(error = %format!("{e:#}"), "The migration stopped.");
            }
            let _ = events.send(Event::JobEnded(result.map_err(|e| format!("{e:#}"))));
        });
        *running = Some(Running { stop: stop_tx, task });
    }

    /// Without a state directory, where the last job (stopped by now) left the target: the
    /// next job continues that replication history, on whichever master holds it.
    fn carried(&self) -> Option<Carried> {
        if self.state.is_some() {
            return None;
        }
        let last = self.status()?;
        let at = last.writer()?.resume_point()?;
        Some(Carried { master: last.master_addr(), target: self.plan.target_label(), at })
    }

    /// Stops the job, if any: drains the writer and stores the final checkpoint.
    pub(crate) async fn stop(&self) {
        stop(self.running.lock().await.take()).await;
        if let Ok(mut shown) = self.shown.lock() {
            shown.1 = false;
        }
    }

    /// Whether the job follows `host:port` and has not ended.
    fn follows(&self, host: &str, port: u16) -> bool {
        self.status().is_some_and(|s| {
            s.master() == (host.to_string(), port) && s.last_error().is_none() && s.phase() != "stopped"
        }) && self.attached()
    }
}

async fn stop(running: Option<Running>) {
    if let Some(r) = running {
        let _ = r.stop.send(true);
        let _ = r.task.await;
    }
}

impl Control for Controller {
    fn attach(&self, host: &str, port: u16) -> Result<String, String> {
        if self.follows(host, port) {
            return Ok("OK Already connected to specified master".into());
        }
        tracing::info!(host, port, "REPLICAOF: following a new master.");
        let master = self.plan.master_at(host, port);
        self.runtime.block_on(self.start(Source::Master(master)));
        Ok("OK".into())
    }

    fn detach(&self) -> Result<String, String> {
        tracing::info!("REPLICAOF NO ONE: stopping.");
        self.runtime.block_on(self.stop());
        Ok("OK".into())
    }

    fn info(&self) -> Vec<InfoSection> {
        report::info(self.status().as_deref(), self.attached(), self.started)
    }

    fn shutdown(&self) {
        let _ = self.events.send(Event::Shutdown);
    }

    fn metrics(&self) -> String {
        report::metrics(self.status().as_deref())
    }
}
