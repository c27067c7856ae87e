//! A token bucket on commands and bytes per second, to protect a production target. The
//! dispatcher waits before handing a batch to a sender when the bucket is short, which
//! slows the reading from the master too.

use std::time::Duration;

use tokio::time::Instant;

/// Limits on what is sent to the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Commands per second, at most.
    pub ops_per_sec: Option<u64>,
    /// Bytes per second, at most.
    pub bytes_per_sec: Option<u64>,
}

impl RateLimit {
    /// No limit.
    pub fn none() -> Self {
        Self::default()
    }

    /// These limits (`None` = unlimited).
    pub fn new(ops_per_sec: Option<u64>, bytes_per_sec: Option<u64>) -> Self {
        RateLimit { ops_per_sec: ops_per_sec.filter(|n| *n > 0), bytes_per_sec: bytes_per_sec.filter(|n| *n > 0) }
    }
}

/// Two token buckets holding at most one second's worth each.
pub(crate) struct Limiter {
    limit: RateLimit,
    ops: f64,
    bytes: f64,
    last: Instant,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        let ops = limit.ops_per_sec.unwrap_or(0) as f64;
        let bytes = limit.bytes_per_sec.unwrap_or(0) as f64;
        Limiter { limit, ops, bytes, last: Instant::now() }
    }

    /// Waits until `ops` commands of `bytes` bytes may be sent, and takes them.
    pub(crate) async fn take(&mut self, ops: usize, bytes: usize) {
        if self.limit == RateLimit::none() {
            return;
        }
        self.refill();
        let wait = wait_for(self.ops, ops as f64, self.limit.ops_per_sec).max(wait_for(
            self.bytes,
            bytes as f64,
            self.limit.bytes_per_sec,
        ));
        if wait > Duration::ZERO {
            tokio::time::sleep(wait).await;
            self.refill();
        }
        self.ops -= ops as f64;
        self.bytes -= bytes as f64;
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        if let Some(rate) = self.limit.ops_per_sec {
            self.ops = (self.ops + secs * rate as f64).min(rate as f64);
        }
        if let Some(rate) = self.limit.bytes_per_sec {
            self.bytes = (self.bytes + secs * rate as f64).min(rate as f64);
        }
    }
}

/// How long until a bucket holding `have` tokens, refilling at `rate`, holds `need`.
fn wait_for(have: f64, need: f64, rate: Option<u64>) -> Duration {
    match rate {
        Some(rate) if have < need => Duration::from_secs_f64((need - have) / rate as f64),
        _ => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_the_rate_over_time() {
        let mut l = Limiter::new(RateLimit::new(Some(1000), None));
        let start = Instant::now();
        for _ in 0..50 {
            l.take(100, 10).await; // 5,000 commands at 1,000/s after a 1,000 burst
        }
        let took = start.elapsed().as_secs_f64();
        assert!((3.9..=4.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_limit_and_no_limit() {
        let mut l = Limiter::new(RateLimit::new(None, Some(1 << 20)));
        let start = Instant::now();
        for _ in 0..4 {
            l.take(1, 1 << 20).await;
        }
        assert!((2.9..=3.1).contains(&start.elapsed().as_secs_f64()));
        let mut free = Limiter::new(RateLimit::none());
        let start = Instant::now();
        free.take(1 << 30, 1 << 30).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
