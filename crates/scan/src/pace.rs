//! The read pace of a scan: at most `max_ops` commands per second to the source, spread
//! evenly (a production server sees a steady trickle, not bursts). Sans-IO: it says how
//! long to wait; the driver sleeps.

use std::time::{Duration, Instant};

/// When the next commands may go.
#[derive(Debug, Clone)]
pub(crate) struct Pace {
    max_ops: Option<u64>,
    next: Instant,
}

impl Pace {
    /// A pace of `max_ops` per second from `now` (`None`: no limit).
    pub(crate) fn new(max_ops: Option<u64>, now: Instant) -> Self {
        Pace { max_ops: max_ops.filter(|n| *n > 0), next: now }
    }

    /// Counts `ops` more commands; how long to wait before sending them. Idle time earns
    /// no credit: a pause is not followed by a burst.
    pub(crate) fn take(&mut self, ops: u64, now: Instant) -> Duration {
        let Some(rate) = self.max_ops else { return Duration::ZERO };
        let wait = self.next.saturating_duration_since(now);
        self.next = self.next.max(now) + Duration::from_secs_f64(ops as f64 / rate as f64);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_spread_over_the_second() {
        let t0 = Instant::now();
        let mut pace = Pace::new(Some(100), t0);
        assert_eq!(pace.take(50, t0), Duration::ZERO);
        assert_eq!(pace.take(50, t0), Duration::from_millis(500));
        assert_eq!(pace.take(10, t0 + Duration::from_millis(400)), Duration::from_millis(600));
        // Idle time is not saved up beyond the schedule.
        assert_eq!(pace.take(1, t0 + Duration::from_secs(5)), Duration::ZERO);
    }

    #[test]
    fn no_limit_never_waits() {
        let t0 = Instant::now();
        let mut pace = Pace::new(None, t0);
        assert_eq!(pace.take(1_000_000, t0), Duration::ZERO);
        assert_eq!(Pace::new(Some(0), t0).take(5, t0), Duration::ZERO);
    }
}
