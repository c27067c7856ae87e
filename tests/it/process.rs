//! A `replicant` daemon process started by a test, and its admin port: `INFO` read as
//! redis-cli reads it, polling for a condition, and the target compared with the source
//! while the daemon runs (its exactly-once markers left out).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use replicant_testkit::{diff_report, snapshot, RedisServer};

/// A `replicant` process, killed on drop; its log is printed when a test fails.
pub(crate) struct Daemon {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    pub(crate) fn start(args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("replicant.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_replicant"))
            .args(args)
            .env("REPLICANT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start replicant");
        Daemon { child, log, _dir: dir }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit; returns whether it succeeded.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "replicant did not exit:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The highest resident set size of the process so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches("kB").trim());
        kib.and_then(|k| k.parse::<u64>().ok()).unwrap_or(0) * 1024
    }

    /// SIGKILL, and waits for the process to be gone.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub(crate) fn signal(&self, name: &str) {
        let ok = Command::new("kill").args([name, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {name} failed");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- replicant log ---\n{}", self.log());
        }
    }
}

/// Polls `check` until it holds.
pub(crate) fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn admin(port: u16) -> redis::Connection {
    let mut conn = None;
    wait_for("the admin port", Duration::from_secs(30), || {
        conn = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().ok();
        conn.is_some()
    });
    conn.unwrap()
}

pub(crate) fn info(conn: &mut redis::Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(conn).unwrap()
}

pub(crate) fn field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(|v| v.trim().to_string())
}

/// Polls until the target holds exactly the source's keys, leaving out the exactly-once
/// markers a running daemon keeps there.
pub(crate) fn wait_same_but_markers(source: &RedisServer, target: &RedisServer) {
    let expected = snapshot(&mut source.conn());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut image = snapshot(&mut target.conn());
        image.retain(|_, key| !key.starts_with(b"replicant:applied:"));
        let Some(report) = diff_report(&expected, &image) else { return };
        assert!(std::time::Instant::now() < deadline, "the target still differs: {report}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes one more key on the master and returns its replication offset from just before
/// that write: a checkpoint past it holds every write made so far. (A checkpoint stops at
/// the end of the last write: the master's `PING`s after it may never be part of it.)
pub(crate) fn offset_before_a_last_write(source: &RedisServer) -> u64 {
    let before: u64 = source.info_field("replication", "master_repl_offset").unwrap().parse().unwrap();
    source.cli(&["SET", "last:write", &before.to_string()]);
    before
}

/// Whether the daemon streams with the snapshot applied and nothing left to apply: from
/// then on a lost target can be continued (before, it holds part of a snapshot).
pub(crate) fn caught_up(text: &str) -> bool {
    field(text, "phase").as_deref() == Some("streaming") && field(text, "lag_bytes").as_deref() == Some("0")
}
