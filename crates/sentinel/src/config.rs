//! [`SentinelConfig`]: the timeouts and the reconnection backoff of the client.

use std::time::Duration;

/// Timeouts and backoff. `SentinelConfig::default()` suits most deployments; the `with_*`
/// methods change one value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentinelConfig {
    /// Time allowed to open a connection (TCP and TLS). Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed for each reply (to `AUTH`, `SENTINEL …`, `ROLE`, `SUBSCRIBE`, `PING`).
    /// Default 5 s.
    pub reply_timeout: Duration,
    /// How often the watcher pings its sentinel; a sentinel that sends nothing for this
    /// long plus `reply_timeout` is given up as dead. Default 1 s.
    pub ping_interval: Duration,
    /// First wait before the watcher reconnects after losing its sentinel; doubled after
    /// each failed attempt. Default 100 ms.
    pub backoff_min: Duration,
    /// Longest wait between reconnection attempts. Default 5 s.
    pub backoff_max: Duration,
    /// How many times [`master_addr_verified`](crate::master_addr_verified) asks again
    /// when the server given is not (yet) a master. Default 10.
    pub verify_attempts: u32,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(1),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            verify_attempts: 10,
        }
    }
}

impl SentinelConfig {
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`reply_timeout`](Self::reply_timeout).
    pub fn with_reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }

    /// Sets [`ping_interval`](Self::ping_interval).
    pub fn with_ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets [`backoff_min`](Self::backoff_min) and [`backoff_max`](Self::backoff_max).
    pub fn with_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// Sets [`verify_attempts`](Self::verify_attempts) (at least 1).
    pub fn with_verify_attempts(mut self, attempts: u32) -> Self {
        self.verify_attempts = attempts.max(1);
        self
    }

    /// The wait after `wait`: doubled, within the configured bounds.
    pub(crate) fn next_backoff(&self, wait: Duration) -> Duration {
        wait.saturating_mul(2).clamp(self.backoff_min, self.backoff_max.max(self.backoff_min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds() {
        let config = SentinelConfig::default().with_backoff(Duration::from_millis(100), Duration::from_millis(350));
        let mut wait = config.backoff_min;
        let waits: Vec<u128> = (0..4)
            .map(|_| {
                wait = config.next_backoff(wait);
                wait.as_millis()
            })
            .collect();
        assert_eq!(waits, [200, 350, 350, 350]);
        assert_eq!(config.next_backoff(Duration::ZERO), Duration::from_millis(100));
    }
}
