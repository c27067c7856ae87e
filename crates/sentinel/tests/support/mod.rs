//! Shared set-up of the sentinel integration tests: a master with one replica watched by
//! real sentinels, and bounded waits that fail with a message.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::time::{Duration, Instant};

use replicant_sentinel::{Endpoint, MasterAddr, SentinelConfig};
use replicant_testkit::{RedisSentinel, RedisSentinelBuilder, RedisServer};

/// The longest any test waits for one thing.
pub const WAIT: Duration = Duration::from_secs(60);

/// A master, its replica and the sentinels watching them.
pub struct Group {
    pub name: &'static str,
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisSentinel>,
}

impl Group {
    /// `count` sentinels (quorum 1, or 2 from three sentinels up) over a master and a
    /// replica; returns once every sentinel sees the replica ready to be promoted.
    pub fn start(name: &'static str, count: usize) -> Group {
        Group::start_with(name, count, |b| b)
    }

    /// As [`Group::start`], with options for the sentinels.
    pub fn start_with(
        name: &'static str,
        count: usize,
        sentinel: impl FnOnce(RedisSentinelBuilder) -> RedisSentinelBuilder,
    ) -> Group {
        // No 5 s wait for more replicas before a diskless full sync.
        let master = RedisServer::builder().arg("--repl-diskless-sync-delay", "0").start();
        let replica = RedisServer::builder().args(["--replicaof", "127.0.0.1", &master.port().to_string()]).start();
        let quorum = if count >= 3 { 2 } else { 1 };
        let sentinels = sentinel(RedisSentinel::builder(name, master.port()).quorum(quorum)).start_many(count);
        for s in &sentinels {
            s.wait_for_replicas(1, WAIT);
        }
        Group { name, master, replica, sentinels }
    }

    /// Makes both servers require `password` (and use it between them), and tells the
    /// sentinels. The servers' `cli` helpers no longer work afterwards.
    pub fn require_password(&self, password: &str) {
        for server in [&self.replica, &self.master] {
            server.cli(&["CONFIG", "SET", "masterauth", password]);
        }
        for server in [&self.replica, &self.master] {
            server.cli(&["CONFIG", "SET", "requirepass", password]);
        }
        for sentinel in &self.sentinels {
            sentinel.cli(&["SENTINEL", "SET", self.name, "auth-pass", password]);
        }
    }

    /// Every sentinel as an endpoint, in order.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.sentinels.iter().map(|s| endpoint(&s.url())).collect()
    }
}

/// An endpoint from a URL.
pub fn endpoint(url: &str) -> Endpoint {
    Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// The address of a local server.
pub fn addr_of(server: &RedisServer) -> MasterAddr {
    MasterAddr::new("127.0.0.1", server.port())
}

/// A plain endpoint to use as the server template.
pub fn no_credentials() -> Endpoint {
    endpoint("redis://placeholder")
}

/// Short timeouts, so unreachable peers fail fast.
pub fn fast() -> SentinelConfig {
    SentinelConfig::default()
        .with_connect_timeout(Duration::from_secs(2))
        .with_reply_timeout(Duration::from_secs(2))
        .with_ping_interval(Duration::from_millis(200))
        .with_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

/// Awaits `future` for at most [`WAIT`]; panics naming `what` if it takes longer.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// Polls `ready` every 20 ms for at most [`WAIT`]; panics naming `what` if it never holds.
pub async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ready() {
        assert!(Instant::now() < deadline, "no {what} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
