//! Test support for the link: a recording sink, a background link, a writer that appends
//! a numbered sequence to a list, and polling. The fault-injecting proxy is testkit's
//! [`FaultProxy`].
#![allow(dead_code, unused_imports)]

mod recorder;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use replicant_link::{FullResyncPolicy, LinkConfig, LinkError, LinkStatus};
use replicant_net::Endpoint;
use replicant_repl::{ReplId, ResumePoint};
use replicant_testkit::RedisServer;

pub use recorder::{Record, Recorder};
pub use replicant_testkit::FaultProxy;

/// Polls `cond` every 20 ms for up to 60 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A numeric INFO field.
pub fn info_u64(server: &RedisServer, section: &str, field: &str) -> u64 {
    server.info_field(section, field).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {field} in INFO"))
}

/// A link running on its own thread.
pub struct Running {
    pub status: Arc<LinkStatus>,
    record: Arc<Mutex<Record>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), LinkError>>>,
}

impl Running {
    pub fn start(master: Endpoint) -> Self {
        Self::spawn(LinkConfig::new(master))
    }

    /// A link with these settings, except a short backoff (at most 200 ms).
    pub fn start_with(mut cfg: LinkConfig) -> Self {
        cfg.backoff = Duration::from_millis(50);
        cfg.max_backoff = Duration::from_millis(200);
        Self::run(cfg)
    }

    pub fn start_resuming(master: Endpoint, resume: (ReplId, u64)) -> Self {
        let mut cfg = LinkConfig::new(master);
        cfg.replica.resume = Some(ResumePoint::new(resume.0, resume.1));
        cfg.full_resync = FullResyncPolicy::Stop;
        Self::spawn(cfg)
    }

    fn spawn(mut cfg: LinkConfig) -> Self {
        cfg.max_attempts = Some(3);
        cfg.backoff = Duration::from_millis(50);
        Self::run(cfg)
    }

    fn run(cfg: LinkConfig) -> Self {
        let status = Arc::new(LinkStatus::default());
        let record = Arc::new(Mutex::new(Record::default()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (st, rec) = (status.clone(), record.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut sink = Recorder::new(rec);
            rt.block_on(replicant_link::run(cfg, &mut sink, st, async {
                let _ = rx.await;
            }))
        });
        Running { status, record, stop: Some(tx), thread: Some(thread) }
    }

    pub fn record(&self) -> Record {
        self.record.lock().unwrap().clone()
    }

    /// Waits until the link has received everything the master produced.
    pub fn wait_caught_up(&self, master: &RedisServer) {
        eventually("the link catches up with the master", || {
            let master_offset = info_u64(master, "replication", "master_repl_offset");
            self.status.offset.load(Ordering::Relaxed) == master_offset
        });
    }

    /// Waits for the link to stop by itself.
    pub fn join(mut self) -> Result<(), LinkError> {
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Appends 1, 2, 3, … to a list on the master, as fast as it can, until stopped.
pub struct Writer {
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(master: &RedisServer, key: &str) -> Self {
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut conn = master.conn();
        let (c, s, key) = (count.clone(), stop.clone(), key.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let n = c.load(Ordering::Relaxed) + 1;
                let _: i64 = redis::cmd("RPUSH").arg(&key).arg(n).query(&mut conn).unwrap();
                c.store(n, Ordering::Relaxed);
                if n % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        Writer { count, stop, thread: Some(thread) }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Stops and returns how many were written.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.count()
    }
}
