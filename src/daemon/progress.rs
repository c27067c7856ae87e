//! Progress for people: on a terminal, a bar during the full sync (snapshot bytes, keys,
//! rate, ETA) and a status line while streaming; otherwise a log line every few seconds.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use replicant_config::Progress;

use super::controller::Controller;
use super::status::JobStatus;

/// Shows the current job's progress until the process ends.
pub(crate) async fn run(controller: Arc<Controller>, mode: Progress) {
    let bar = match mode {
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
        Progress::Always => true,
    };
    if bar {
        draw_bar(controller).await;
    } else {
        log_lines(controller).await;
    }
}

async fn draw_bar(controller: Arc<Controller>) {
    let bar = ProgressBar::new(0);
    let snapshot = ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let streaming =
        ProgressStyle::with_template("{spinner} {prefix} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut in_snapshot = false;
    loop {
        tick.tick().await;
        let Some(job) = controller.status() else { continue };
        let link = &job.link;
        let phase = job.phase();
        bar.set_prefix(phase);
        if phase == "full_sync" {
            if !in_snapshot {
                bar.set_style(snapshot.clone());
                bar.reset();
                in_snapshot = true;
            }
            let size = link.rdb_size.load(Ordering::Relaxed);
            let got = link.rdb_bytes.load(Ordering::Relaxed);
            bar.set_length(if size > 0 { size } else { got });
            bar.set_position(got);
            bar.set_message(format!("{} keys", link.rdb_keys.load(Ordering::Relaxed)));
        } else {
            if in_snapshot {
                bar.set_style(streaming.clone());
                in_snapshot = false;
            }
            bar.set_message(status_line(&job));
        }
        bar.tick();
    }
}

async fn log_lines(controller: Arc<Controller>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let Some(job) = controller.status() else { continue };
        let link = &job.link;
        let (applied, skipped) = job.target_figures();
        tracing::info!(
            phase = job.phase(),
            master_repl_offset = job.received(),
            applied_offset = job.applied(),
            lag_bytes = job.lag_bytes(),
            rdb_bytes = link.rdb_bytes.load(Ordering::Relaxed),
            rdb_size = link.rdb_size.load(Ordering::Relaxed),
            rdb_keys = link.rdb_keys.load(Ordering::Relaxed),
            commands_received = link.commands.load(Ordering::Relaxed),
            commands_applied = applied,
            errors_skipped = skipped,
            "Progress."
        );
    }
}

fn status_line(job: &JobStatus) -> String {
    let (applied, _) = job.target_figures();
    format!(
        "{}:{} offset {} applied {} lag {} B, {} commands applied, {} errors",
        job.host,
        job.port,
        job.received(),
        job.applied(),
        job.lag_bytes(),
        applied,
        job.error_count()
    )
}
