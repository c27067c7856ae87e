//! Progress for people: on a terminal, a bar during the full sync and a status line while
//! streaming; otherwise a log line every few seconds.
//!
//! The bar measures what is known ([`JobStatus::snapshot_progress`]): keys against the
//! master's own count, else bytes against the announced size (a disk-based sync, a file),
//! else no total at all, and then a spinner with counts and rates rather than a bar.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressState, ProgressStyle};
use replicant_config::Progress;

use super::controller::Controller;
use super::status::{JobStatus, SnapshotProgress, Total};

/// The bar, once drawn: log lines are written above it rather than through it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Standard error for the log: a line goes above the progress bar, which is drawn again
/// below it, instead of leaving a half-drawn bar behind.
pub(crate) struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Takes the bar off the screen at the end: the log's last lines say how the run ended.
pub(crate) fn clear() {
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
}

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

/// What the bar shows now; a change of look restarts its rate and ETA estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// A line of text: connecting, streaming, stopped.
    Line,
    /// Keys against a total.
    Keys,
    /// Bytes against a total.
    Bytes,
    /// Counts and rates, no total.
    Counts,
}

struct Styles {
    line: ProgressStyle,
    keys: ProgressStyle,
    bytes: ProgressStyle,
    counts: ProgressStyle,
}

impl Styles {
    fn new() -> Styles {
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .progress_chars("=> ")
                .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}/s", HumanCount(state.per_sec() as u64));
                })
        };
        Styles {
            line: style("{spinner} {prefix} {msg}"),
            keys: style("{spinner} {prefix} [{bar:30}] {human_pos}/{human_len} keys {rate} ETA {eta} {msg}"),
            bytes: style("{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}"),
            counts: style("{spinner} {prefix} {human_pos} keys {rate} {msg}"),
        }
    }

    fn of(&self, look: Look) -> &ProgressStyle {
        match look {
            Look::Line => &self.line,
            Look::Keys => &self.keys,
            Look::Bytes => &self.bytes,
            Look::Counts => &self.counts,
        }
    }
}

async fn draw_bar(controller: Arc<Controller>) {
    let styles = Styles::new();
    // A spinner from the start: a bar before anything is known would read 0/0.
    let bar = ProgressBar::new_spinner().with_style(styles.line.clone());
    let _ = BAR.set(bar.clone());
    let mut look = Look::Line;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let Some(job) = controller.status() else {
            bar.set_message("waiting for REPLICAOF on the admin port");
            bar.tick();
            continue;
        };
        let phase = job.phase();
        bar.set_prefix(phase);
        let (now, position, length, message) = match phase {
            "full_sync" => snapshot_view(job.snapshot_progress()),
            "precheck" => (Look::Line, 0, None, "checking the target".to_string()),
            "connecting" => (Look::Line, 0, None, format!("connecting to {}", job.master_addr())),
            _ => (Look::Line, 0, None, status_line(&job)),
        };
        if now != look {
            bar.reset();
            bar.set_style(styles.of(now).clone());
            look = now;
        }
        bar.set_length(length.unwrap_or(0));
        if length.is_none() {
            bar.unset_length();
        }
        bar.set_position(position);
        bar.set_message(message);
        bar.tick();
    }
}

/// The bar's look, position, length and message for a snapshot.
fn snapshot_view(p: SnapshotProgress) -> (Look, u64, Option<u64>, String) {
    if p.bytes == 0 {
        // A disk-based master saves its snapshot before it sends a byte: no rate yet.
        return (Look::Line, 0, None, "waiting for the master's snapshot".to_string());
    }
    let received = match p.size {
        0 => format!("{} received", HumanBytes(p.bytes)),
        size => format!("{}/{} received", HumanBytes(p.bytes), HumanBytes(size)),
    };
    match p.total {
        Total::Keys(total) => (Look::Keys, p.keys, Some(total), received),
        Total::Bytes(total) => (Look::Bytes, p.bytes, Some(total), format!("{} keys", HumanCount(p.keys))),
        Total::Unknown => (Look::Counts, p.keys, None, format!("{received}, size unknown")),
    }
}

async fn log_lines(controller: Arc<Controller>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    // The first tick is immediate: the first line comes after 5 s, with something to say.
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(job) = controller.status() else { continue };
        let link = &job.link;
        let (applied, skipped) = job.target_figures();
        let snapshot = job.snapshot_progress();
        tracing::info!(
            phase = job.phase(),
            master_repl_offset = job.received(),
            applied_offset = job.applied(),
            lag_bytes = job.lag_bytes(),
            rdb_bytes = snapshot.bytes,
            rdb_size = snapshot.size,
            rdb_keys = snapshot.keys,
            rdb_keys_expected = job.expected_keys.load(Ordering::Relaxed),
            rdb_percent = percent(&snapshot).map_or_else(|| "unknown".to_string(), |p| format!("{p:.1}")),
            commands_received = link.commands.load(Ordering::Relaxed),
            commands_applied = applied,
            errors_skipped = skipped,
            "Progress."
        );
    }
}

/// How much of the snapshot was read, in percent, when a total is known.
fn percent(p: &SnapshotProgress) -> Option<f64> {
    match p.total {
        Total::Keys(total) => Some(p.keys as f64 * 100.0 / total as f64),
        Total::Bytes(total) => Some(p.bytes as f64 * 100.0 / total as f64),
        Total::Unknown => None,
    }
}

fn status_line(job: &JobStatus) -> String {
    let (applied, _) = job.target_figures();
    format!(
        "{} offset {} applied {} lag {} B, {} commands applied, {} errors",
        job.master_addr(),
        job.received(),
        job.applied(),
        job.lag_bytes(),
        applied,
        job.error_count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(keys: u64, bytes: u64, size: u64, total: Total) -> SnapshotProgress {
        SnapshotProgress { keys, bytes, size, total }
    }

    #[test]
    fn keys_against_the_masters_count_with_bytes_beside() {
        let (look, pos, len, msg) = snapshot_view(at(500, 2048, 0, Total::Keys(2000)));
        assert_eq!((look, pos, len), (Look::Keys, 500, Some(2000)));
        assert_eq!(msg, "2.00 KiB received");
        assert_eq!(percent(&at(500, 2048, 0, Total::Keys(2000))), Some(25.0));
    }

    #[test]
    fn bytes_against_the_announced_size() {
        let (look, pos, len, msg) = snapshot_view(at(7, 1024, 4096, Total::Bytes(4096)));
        assert_eq!((look, pos, len), (Look::Bytes, 1024, Some(4096)));
        assert_eq!(msg, "7 keys");
    }

    #[test]
    fn nothing_received_is_waiting_not_an_eta() {
        let (look, _, len, msg) = snapshot_view(at(0, 0, 0, Total::Keys(2000)));
        assert_eq!((look, len), (Look::Line, None));
        assert!(msg.contains("waiting"), "{msg}");
    }

    #[test]
    fn no_total_means_no_bar() {
        let (look, pos, len, msg) = snapshot_view(at(9, 100, 0, Total::Unknown));
        assert_eq!((look, pos, len), (Look::Counts, 9, None));
        assert!(msg.contains("size unknown"), "{msg}");
        assert_eq!(percent(&at(9, 100, 0, Total::Unknown)), None);
    }
}
