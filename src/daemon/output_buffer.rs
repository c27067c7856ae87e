//! The master's output buffer for replicant during a full sync. Until the snapshot is
//! delivered, the master keeps every write for the replica in that replica's output
//! buffer; past the replica class's `client-output-buffer-limit` (the hard limit, or the
//! soft limit for longer than its seconds) it drops the replica, and the full sync is lost
//! (and, taken again, meets the same limit). A watcher reads the limit once, then every
//! second the master's `master_repl_offset`: its growth since `FULLRESYNC` is what the
//! master buffers for replicant. With the snapshot's progress and rate it forecasts the
//! buffer when the snapshot is delivered and warns once per full sync, with the figures
//! and the remedy, before the master cuts the link. It never fails the job: its own errors
//! are debug logs.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicant_link::LinkState;
use replicant_net::Endpoint;
use replicant_target::{Connection, Reply};
use tokio::task::JoinHandle;

use super::status::{JobStatus, SnapshotProgress, Total};

/// How often the master's offset is read.
const TICK: Duration = Duration::from_secs(1);
/// How long the master may take to answer one question.
const PATIENCE: Duration = Duration::from_secs(5);
/// Rates measured over less than this are too noisy to forecast from.
const MIN_WINDOW: f64 = 2.0;

/// The master's limits for the replica class (`client-output-buffer-limit`); 0 is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) hard: u64,
    pub(crate) soft: u64,
    pub(crate) soft_seconds: u64,
}

/// The replica class's limits from the value of `client-output-buffer-limit` (`normal 0 0 0
/// replica 268435456 67108864 60 pubsub …`; `slave` in older servers, and byte units such
/// as `256mb` as a configuration file may give them); `None` when it holds no replica class
/// or cannot be read.
pub(crate) fn parse_limit(value: &str) -> Option<Limit> {
    let words: Vec<&str> = value.split_whitespace().collect();
    words.chunks(4).find_map(|class| match class {
        [name, hard, soft, seconds] if name.eq_ignore_ascii_case("replica") || name.eq_ignore_ascii_case("slave") => {
            Some(Limit { hard: bytes(hard)?, soft: bytes(soft)?, soft_seconds: seconds.parse().ok()? })
        }
        _ => None,
    })
}

/// A memory size as Redis reads it: a number with an optional unit (`k` 1000, `kb` 1024,
/// `m`, `mb`, `g`, `gb`, `b`), in any case.
fn bytes(word: &str) -> Option<u64> {
    let lower = word.to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" => 1_000,
        "kb" => 1 << 10,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

/// One reading during a full sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Seconds since the watcher saw this full sync start.
    pub(crate) at: f64,
    /// Bytes the master buffers for replicant: its offset's growth since `FULLRESYNC`.
    pub(crate) buffered: u64,
    /// Snapshot keys and bytes read.
    pub(crate) keys: u64,
    pub(crate) bytes: u64,
}

/// Why the master is expected to drop replicant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Risk {
    /// The buffer will pass the hard limit before the snapshot is delivered.
    Hard,
    /// It will stay above the soft limit for longer than its seconds.
    Soft,
}

/// What the readings say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Forecast {
    /// Growth of the buffer, bytes per second.
    pub(crate) rate: f64,
    /// Seconds until the snapshot is delivered, when its total and rate are known.
    pub(crate) remaining: Option<f64>,
    pub(crate) risk: Option<Risk>,
}

/// Forecasts from the first reading of a full sync and the latest, `total` being what the
/// snapshot is heading for and `above_soft` how long the buffer has been above the soft
/// limit (seconds), if it is.
pub(crate) fn forecast(first: Sample, now: Sample, total: Total, limit: Limit, above_soft: Option<f64>) -> Forecast {
    let window = now.at - first.at;
    let per_second =
        |from: u64, to: u64| if window >= MIN_WINDOW { to.saturating_sub(from) as f64 / window } else { 0.0 };
    let rate = per_second(first.buffered, now.buffered);
    let (done, speed, total) = match total {
        Total::Keys(n) => (now.keys, per_second(first.keys, now.keys), Some(n)),
        Total::Bytes(n) => (now.bytes, per_second(first.bytes, now.bytes), Some(n)),
        Total::Unknown => (0, 0.0, None),
    };
    let remaining = total.filter(|_| speed > 0.0).map(|n| n.saturating_sub(done) as f64 / speed);
    let buffered = now.buffered as f64;
    let (hard, soft, seconds) = (limit.hard as f64, limit.soft as f64, limit.soft_seconds as f64);
    let risk = match remaining {
        Some(t) => {
            let above_for = match above_soft {
                Some(already) => already + t,
                None if rate > 0.0 => t - (soft - buffered) / rate,
                None => 0.0,
            };
            if limit.hard > 0 && buffered + rate * t >= hard {
                Some(Risk::Hard)
            } else if limit.soft > 0 && above_for >= seconds {
                Some(Risk::Soft)
            } else {
                None
            }
        }
        // No end in sight: the figures alone, half-way to a limit.
        None if limit.hard > 0 && buffered * 2.0 >= hard => Some(Risk::Hard),
        None if limit.soft > 0 && above_soft.is_some_and(|s| s * 2.0 >= seconds) => Some(Risk::Soft),
        None => None,
    };
    Forecast { rate, remaining, risk }
}

/// Starts the watcher for a session that takes a full sync; abort it when the session ends.
pub(crate) fn spawn_for(master: &Endpoint, status: &Arc<JobStatus>) -> JoinHandle<()> {
    tokio::spawn(watch(master.clone(), status.clone()))
}

/// Watches the master's output buffer for replicant during every full sync of the session
/// (see the module docs). Returns when the limit cannot be read or there is none.
pub(crate) async fn watch(master: Endpoint, status: Arc<JobStatus>) {
    let _clear = ClearOnEnd(status.clone());
    let mut conn = None;
    let limit = match ask(&master, &mut conn, &[b"CONFIG", b"GET", b"client-output-buffer-limit"]).await {
        Ok(Reply::Array(Some(items))) => items.get(1).map(Reply::text).as_deref().and_then(parse_limit),
        Ok(reply) => {
            tracing::debug!(
                reply = %reply.text(),
                "The master refused CONFIG GET client-output-buffer-limit; its output buffer is not watched."
            );
            return;
        }
        Err(e) => {
            tracing::debug!(
                error = %format!("{e:#}"),
                "Cannot read the master's client-output-buffer-limit; its output buffer is not watched."
            );
            return;
        }
    };
    let Some(limit) = limit else {
        tracing::debug!("The master's client-output-buffer-limit names no replica class; not watched.");
        return;
    };
    status.output_buffer_limit.store(limit.hard, Ordering::Relaxed);
    if limit.hard == 0 && limit.soft == 0 {
        return;
    }
    let mut sync: Option<Watched> = None;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let state = status.link.state();
        if state != LinkState::FullSync {
            if let Some(ended) = sync.take() {
                status.output_buffer_bytes.store(0, Ordering::Relaxed);
                ended.dropped(state, limit);
            }
            continue;
        }
        let attempt = status.link.full_syncs.load(Ordering::Relaxed);
        let from = status.link.offset.load(Ordering::Relaxed);
        let offset = match master_offset(&master, &mut conn).await {
            Ok(offset) => offset,
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "Cannot read the master's offset; the estimate waits.");
                continue;
            }
        };
        let buffered = offset.saturating_sub(from);
        status.output_buffer_bytes.store(buffered, Ordering::Relaxed);
        let watched = match sync.take() {
            Some(w) if w.attempt == attempt => sync.insert(w),
            _ => sync.insert(Watched::new(attempt)),
        };
        watched.observe(buffered, &status.snapshot_progress(), limit);
    }
}

/// Sets the buffer estimate back to 0 when the watcher ends (it is aborted with its
/// session): there is no full sync to estimate for any more.
struct ClearOnEnd(Arc<JobStatus>);

impl Drop for ClearOnEnd {
    fn drop(&mut self) {
        self.0.output_buffer_bytes.store(0, Ordering::Relaxed);
    }
}

/// One full sync being watched.
struct Watched {
    /// The link's full sync count when it started.
    attempt: u64,
    started: Instant,
    first: Option<Sample>,
    last: Option<Sample>,
    /// When the buffer went above the soft limit, if it is.
    above_soft_since: Option<f64>,
    warned: bool,
}

impl Watched {
    fn new(attempt: u64) -> Self {
        Watched { attempt, started: Instant::now(), first: None, last: None, above_soft_since: None, warned: false }
    }

    fn observe(&mut self, buffered: u64, progress: &SnapshotProgress, limit: Limit) {
        let now =
            Sample { at: self.started.elapsed().as_secs_f64(), buffered, keys: progress.keys, bytes: progress.bytes };
        let first = *self.first.get_or_insert(now);
        self.last = Some(now);
        let above = limit.soft > 0 && buffered > limit.soft;
        self.above_soft_since = if above { Some(self.above_soft_since.unwrap_or(now.at)) } else { None };
        let above_soft = self.above_soft_since.map(|since| now.at - since);
        let f = forecast(first, now, progress.total, limit, above_soft);
        let Some(risk) = f.risk.filter(|_| !self.warned) else { return };
        self.warned = true;
        let why = match risk {
            Risk::Hard => "past the hard limit",
            Risk::Soft => "above the soft limit for longer than its seconds",
        };
        tracing::warn!(
            buffered_bytes = buffered,
            buffer_growth_bytes_per_sec = f.rate.round() as u64,
            snapshot_remaining_secs = f.remaining.map_or_else(|| "unknown".to_string(), |t| format!("{t:.0}")),
            hard_limit_bytes = limit.hard,
            soft_limit_bytes = limit.soft,
            soft_limit_secs = limit.soft_seconds,
            "The master's output buffer for replicant is heading {why} of its client-output-buffer-limit for \
             replicas before the snapshot is delivered: the master would drop replicant and the full sync would be \
             lost. On the master, for the duration of the full sync, run CONFIG SET client-output-buffer-limit \
             \"replica 0 0 0\" (or set a larger limit), or slow the writes."
        );
    }

    /// The full sync ended; a link that went back to connecting with a buffer near the
    /// limit was most likely dropped for it.
    fn dropped(self, state: LinkState, limit: Limit) {
        let Some(last) = self.last else { return };
        let near = (limit.hard > 0 && last.buffered.saturating_mul(2) >= limit.hard)
            || (limit.soft > 0 && last.buffered >= limit.soft);
        if self.warned || !near || !matches!(state, LinkState::Connecting | LinkState::Backoff) {
            return;
        }
        tracing::warn!(
            buffered_bytes = last.buffered,
            hard_limit_bytes = limit.hard,
            soft_limit_bytes = limit.soft,
            soft_limit_secs = limit.soft_seconds,
            "The master dropped replicant during the full sync with its output buffer near the \
             client-output-buffer-limit for replicas. On the master, for the duration of the full sync, run CONFIG \
             SET client-output-buffer-limit \"replica 0 0 0\" (or set a larger limit), or slow the writes."
        );
    }
}

/// The master's `master_repl_offset`.
async fn master_offset(master: &Endpoint, conn: &mut Option<Connection>) -> anyhow::Result<u64> {
    let info = match ask(master, conn, &[b"INFO", b"replication"]).await? {
        Reply::Error(e) => anyhow::bail!("the master answered INFO with: {e}"),
        reply => reply.text(),
    };
    let value = info.lines().find_map(|l| l.strip_prefix("master_repl_offset:")).map(str::trim);
    Ok(value.ok_or_else(|| anyhow::anyhow!("no master_repl_offset in INFO replication"))?.parse()?)
}

/// One question on the watcher's own connection, made (again) when needed; a connection
/// that failed is dropped. An error reply is a reply.
async fn ask(master: &Endpoint, conn: &mut Option<Connection>, args: &[&[u8]]) -> anyhow::Result<Reply> {
    let asked = async {
        let c = match conn {
            Some(c) => c,
            None => conn.insert(Connection::connect(master, 4).await?),
        };
        anyhow::Ok(c.query(args).await?)
    };
    let result = match tokio::time::timeout(PATIENCE, asked).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!("no answer from the master within {PATIENCE:?}")),
    };
    if result.is_err() {
        *conn = None;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIS7: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    const MB: u64 = 1 << 20;

    #[test]
    fn the_replica_class_is_read_whatever_its_name_and_units() {
        let default = Limit { hard: 256 * MB, soft: 64 * MB, soft_seconds: 60 };
        assert_eq!(parse_limit(REDIS7), Some(default));
        assert_eq!(parse_limit("normal 0 0 0 replica 256mb 64MB 60 pubsub 32mb 8mb 60"), Some(default));
        assert_eq!(parse_limit("replica 1mb 512kb 10"), Some(Limit { hard: MB, soft: 512 << 10, soft_seconds: 10 }));
        assert_eq!(parse_limit("slave 2k 1G 0"), Some(Limit { hard: 2_000, soft: 1_000_000_000, soft_seconds: 0 }));
        assert_eq!(parse_limit("replica 0 0 0"), Some(Limit { hard: 0, soft: 0, soft_seconds: 0 }));
        for bad in ["", "normal 0 0 0 pubsub 1 1 1", "replica 1zb 0 0", "replica 1mb 512kb", "replica -1 0 0"] {
            assert_eq!(parse_limit(bad), None, "{bad}");
        }
    }

    fn at(at: f64, buffered: u64, keys: u64) -> Sample {
        Sample { at, buffered, keys, bytes: keys * 100 }
    }

    const SMALL: Limit = Limit { hard: MB, soft: 512 << 10, soft_seconds: 10 };

    #[test]
    fn a_buffer_that_passes_the_hard_limit_before_the_end_is_a_risk() {
        // 100 kB/s of writes; 1,000 keys/s with 18,000 to go: 18 s, 1.8 MB more.
        let f = forecast(at(1.0, 0, 0), at(3.0, 200_000, 2_000), Total::Keys(20_000), SMALL, None);
        assert_eq!(f.rate, 100_000.0);
        assert_eq!(f.remaining, Some(18.0));
        assert_eq!(f.risk, Some(Risk::Hard));
        // The same writes against a snapshot 2 s from its end: fine.
        let f = forecast(at(1.0, 0, 0), at(3.0, 200_000, 2_000), Total::Keys(6_000), SMALL, None);
        assert_eq!(f.risk, None);
        // No limit at all.
        let none = Limit { hard: 0, soft: 0, soft_seconds: 0 };
        assert_eq!(forecast(at(1.0, 0, 0), at(3.0, 200_000, 2_000), Total::Keys(20_000), none, None).risk, None);
    }

    #[test]
    fn a_buffer_above_the_soft_limit_for_longer_than_its_seconds_is_a_risk() {
        let soft_only = Limit { hard: 0, ..SMALL };
        // Crosses 512 kB in about 3.2 s, then 14.8 s above it: more than 10.
        let f = forecast(at(1.0, 0, 0), at(3.0, 200_000, 2_000), Total::Keys(20_000), soft_only, None);
        assert_eq!(f.risk, Some(Risk::Soft));
        // Above it for 2 s already, 5 s to go: 7 s, under 10.
        let f = forecast(at(1.0, 0, 0), at(3.0, 600_000, 6_000), Total::Keys(21_000), soft_only, Some(2.0));
        assert_eq!(f.risk, None);
        // The snapshot's bytes against the announced size, when the key count is unknown.
        let f = forecast(at(1.0, 0, 0), at(3.0, 600_000, 6_000), Total::Bytes(10_000_000), soft_only, Some(2.0));
        assert_eq!(f.risk, Some(Risk::Soft));
    }

    #[test]
    fn without_an_end_in_sight_only_the_figures_count() {
        let f = forecast(at(1.0, 0, 0), at(3.0, 200_000, 2_000), Total::Unknown, SMALL, None);
        assert_eq!((f.remaining, f.risk), (None, None));
        let f = forecast(at(1.0, 0, 0), at(3.0, 600_000, 2_000), Total::Unknown, SMALL, Some(1.0));
        assert_eq!(f.risk, Some(Risk::Hard));
        let soft_only = Limit { hard: 0, ..SMALL };
        assert_eq!(
            forecast(at(1.0, 0, 0), at(9.0, 600_000, 0), Total::Unknown, soft_only, Some(5.0)).risk,
            Some(Risk::Soft)
        );
        assert_eq!(forecast(at(1.0, 0, 0), at(9.0, 600_000, 0), Total::Unknown, soft_only, Some(4.0)).risk, None);
        // A first reading alone gives no rate.
        let f = forecast(at(1.0, 0, 0), at(1.0, 0, 0), Total::Keys(20_000), SMALL, None);
        assert_eq!((f.rate, f.remaining, f.risk), (0.0, None, None));
    }
}
