//! [`RedisSentinel`]: a real `redis-sentinel` process owned by a test, monitoring one
//! master.
//!
//! Each sentinel listens on a free port on 127.0.0.1, keeps its generated config (which it
//! rewrites) and its log in a private temporary directory, detects a failure fast
//! (`down-after-milliseconds` 1000, `failover-timeout` 5000 unless set) and is killed when
//! dropped; when a test panics while it is alive, its log is printed. The binary is taken
//! from `REPLICANT_REDIS_SENTINEL` (default `redis-sentinel`); a missing binary fails the
//! test. Several sentinels of one group: [`RedisSentinelBuilder::start_many`].
//!
//! Waiting helpers poll with a deadline and panic with the sentinel's view and log.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::{Connection, Value};
use tempfile::TempDir;

use crate::free_port;
use crate::reply::{into_array, into_pairs, into_text, query, render};

/// Environment variable naming the sentinel binary to run.
pub const SENTINEL_ENV: &str = "REPLICANT_REDIS_SENTINEL";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const START_ATTEMPTS: usize = 5;
const CONFIG_FILE: &str = "sentinel.conf";
const LOG_FILE: &str = "sentinel.log";
const STDIO_FILE: &str = "stdio.log";

/// The settings of a [`RedisSentinel`] before it starts.
#[derive(Debug, Clone)]
pub struct RedisSentinelBuilder {
    master_name: String,
    master_port: u16,
    quorum: u32,
    password: Option<String>,
    master_password: Option<String>,
    down_after_ms: u64,
    failover_timeout_ms: u64,
    binary: Option<String>,
}

impl RedisSentinelBuilder {
    /// How many sentinels must agree the master is down (default 1).
    pub fn quorum(mut self, quorum: u32) -> Self {
        self.quorum = quorum;
        self
    }

    /// Requires this password from clients (`requirepass`); sentinels started from this
    /// builder also use it to talk to each other (`sentinel sentinel-pass`).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// The password of the monitored servers (`sentinel auth-pass`).
    pub fn master_password(mut self, password: &str) -> Self {
        self.master_password = Some(password.to_owned());
        self
    }

    /// `sentinel down-after-milliseconds` (default 1000).
    pub fn down_after_ms(mut self, ms: u64) -> Self {
        self.down_after_ms = ms;
        self
    }

    /// `sentinel failover-timeout` (default 5000).
    pub fn failover_timeout_ms(mut self, ms: u64) -> Self {
        self.failover_timeout_ms = ms;
        self
    }

    /// Uses this binary instead of `$REPLICANT_REDIS_SENTINEL`/`redis-sentinel`.
    pub fn binary(mut self, path: &str) -> Self {
        self.binary = Some(path.to_owned());
        self
    }

    /// Starts one sentinel and waits until it answers PING.
    ///
    /// Panics (with its log) if it cannot be started.
    pub fn start(&self) -> RedisSentinel {
        let binary = self.binary.clone().unwrap_or_else(default_binary);
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.try_start(&binary) {
                Ok(sentinel) => return sentinel,
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("redis-sentinel `{binary}` failed to start:\n{log}"),
            }
        }
        panic!("redis-sentinel `{binary}` found no free port after {START_ATTEMPTS} attempts:\n{last_log}")
    }

    /// Starts `count` sentinels monitoring the same master (they find each other through
    /// it within a few seconds; see [`RedisSentinel::wait_for_sentinels`]).
    pub fn start_many(&self, count: usize) -> Vec<RedisSentinel> {
        (0..count).map(|_| self.start()).collect()
    }

    fn try_start(&self, binary: &str) -> Result<RedisSentinel, String> {
        let dir = tempfile::Builder::new().prefix("replicant-sentinel-").tempdir().expect("create temp dir");
        let port = free_port();
        std::fs::write(dir.path().join(CONFIG_FILE), self.config(dir.path(), port)).expect("write sentinel.conf");
        let child = spawn(binary, dir.path());
        let mut sentinel =
            RedisSentinel { child, dir, port, master_name: self.master_name.clone(), password: self.password.clone() };
        sentinel.wait_ready()?;
        Ok(sentinel)
    }

    fn config(&self, dir: &Path, port: u16) -> String {
        let name = &self.master_name;
        let mut text = String::new();
        let mut line = |l: String| writeln!(text, "{l}").expect("write to a String");
        line(format!("port {port}"));
        line("bind 127.0.0.1".into());
        line("daemonize no".into());
        line(format!("dir {}", dir.display()));
        line(format!("logfile {}", dir.join(LOG_FILE).display()));
        line("sentinel resolve-hostnames no".into());
        line(format!("sentinel monitor {name} 127.0.0.1 {} {}", self.master_port, self.quorum));
        line(format!("sentinel down-after-milliseconds {name} {}", self.down_after_ms));
        line(format!("sentinel failover-timeout {name} {}", self.failover_timeout_ms));
        line(format!("sentinel parallel-syncs {name} 1"));
        if let Some(password) = &self.master_password {
            line(format!("sentinel auth-pass {name} {password}"));
        }
        if let Some(password) = &self.password {
            line(format!("requirepass {password}"));
            line(format!("sentinel sentinel-pass {password}"));
        }
        text
    }
}

fn default_binary() -> String {
    std::env::var(SENTINEL_ENV).unwrap_or_else(|_| "redis-sentinel".to_owned())
}

fn spawn(binary: &str, dir: &Path) -> Child {
    let stdio = File::create(dir.join(STDIO_FILE)).expect("create stdio log");
    let stderr = stdio.try_clone().expect("clone stdio log handle");
    Command::new(binary)
        .arg(dir.join(CONFIG_FILE))
        .stdin(Stdio::null())
        .stdout(stdio)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run the sentinel binary `{binary}`: {err}. Install it \
                 (apt-get install -y redis-sentinel) or set {SENTINEL_ENV} to its path."
            )
        })
}

/// A running `redis-sentinel` process, killed when dropped.
#[derive(Debug)]
pub struct RedisSentinel {
    child: Child,
    dir: TempDir,
    port: u16,
    master_name: String,
    password: Option<String>,
}

impl RedisSentinel {
    /// The settings for a sentinel monitoring master `master_name` at
    /// `127.0.0.1:master_port`.
    pub fn builder(master_name: &str, master_port: u16) -> RedisSentinelBuilder {
        RedisSentinelBuilder {
            master_name: master_name.to_owned(),
            master_port,
            quorum: 1,
            password: None,
            master_password: None,
            down_after_ms: 1000,
            failover_timeout_ms: 5000,
            binary: None,
        }
    }

    /// Starts one sentinel (quorum 1) monitoring `master_name` at `127.0.0.1:master_port`.
    pub fn start(master_name: &str, master_port: u16) -> Self {
        Self::builder(master_name, master_port).start()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://[:password@]127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// The name of the monitored master.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The sentinel's working directory (config and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new authenticated connection.
    pub fn conn(&self) -> Connection {
        self.try_conn(Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("connect to sentinel {}: {err}\n{}", self.addr(), self.log()))
    }

    fn try_conn(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        let conn = redis::Client::open(self.url())?.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))?;
        conn.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(conn)
    }

    /// Runs one command and renders the reply as text, one item per line.
    pub fn cli(&self, words: &[&str]) -> String {
        render(&self.query(words))
    }

    fn query(&self, words: &[&str]) -> Value {
        let (name, args) = words.split_first().expect("a command needs a name");
        let mut cmd = redis::cmd(name);
        for arg in args {
            cmd.arg(*arg);
        }
        query(&mut self.conn(), &cmd)
    }

    /// `host:port` of the master as this sentinel reports it, `None` if it knows none.
    pub fn master_addr(&self) -> Option<String> {
        let reply = self.query(&["SENTINEL", "get-master-addr-by-name", &self.master_name]);
        match into_array(reply).as_slice() {
            [host, port] => Some(format!("{}:{}", into_text(host.clone()), into_text(port.clone()))),
            _ => None,
        }
    }

    /// `SENTINEL replicas <name>`: one field map per known replica.
    pub fn replicas(&self) -> Vec<HashMap<String, String>> {
        let reply = self.query(&["SENTINEL", "replicas", &self.master_name]);
        into_array(reply).into_iter().map(fields).collect()
    }

    /// `SENTINEL sentinels <name>`: one field map per other sentinel known.
    pub fn sentinels(&self) -> Vec<HashMap<String, String>> {
        let reply = self.query(&["SENTINEL", "sentinels", &self.master_name]);
        into_array(reply).into_iter().map(fields).collect()
    }

    /// `SENTINEL FAILOVER <name>`: promotes a replica now, without agreement.
    pub fn failover(&self) {
        let reply = self.cli(&["SENTINEL", "FAILOVER", &self.master_name]);
        assert_eq!(reply, "OK", "SENTINEL FAILOVER {} on {}", self.master_name, self.addr());
    }

    /// Polls until `count` replicas are known, each up (flags exactly `slave`) with its
    /// link to the master up: ready to be promoted.
    pub fn wait_for_replicas(&self, count: usize, timeout: Duration) {
        let ready = |r: &HashMap<String, String>| {
            r.get("flags").map(String::as_str) == Some("slave")
                && r.get("master-link-status").map(String::as_str) == Some("ok")
        };
        self.wait_until(&format!("{count} replica(s) ready"), timeout, |s| {
            s.replicas().iter().filter(|r| ready(r)).count() >= count
        });
    }

    /// Polls until this sentinel knows `count` other sentinels.
    pub fn wait_for_sentinels(&self, count: usize, timeout: Duration) {
        self.wait_until(&format!("{count} other sentinel(s) known"), timeout, |s| s.sentinels().len() >= count);
    }

    /// Polls until the sentinel reports `addr` (`host:port`) as the master.
    pub fn wait_for_master(&self, addr: &str, timeout: Duration) {
        self.wait_until(&format!("master at {addr}"), timeout, |s| s.master_addr().as_deref() == Some(addr));
    }

    /// Polls `ready` until it holds; panics after `timeout` with the sentinel's view of
    /// the master, its replicas and its log.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut ready: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !ready(self) {
            if Instant::now() >= deadline {
                panic!("sentinel {}: no {what} after {timeout:?}; {}\n{}", self.addr(), self.view(), self.log());
            }
            sleep(POLL_INTERVAL);
        }
    }

    /// What the sentinel reports about the master and its replicas, for failure messages;
    /// never panics.
    fn view(&self) -> String {
        let Ok(mut conn) = self.try_conn(Duration::from_secs(1)) else {
            return "the sentinel is unreachable".to_owned();
        };
        let mut ask = |what: &str| {
            let reply = redis::cmd("SENTINEL").arg(what).arg(&self.master_name).query::<Value>(&mut conn);
            reply.map_or_else(|err| err.to_string(), |reply| render(&reply).replace('\n', " "))
        };
        format!("master: {}; replicas: {}", ask("get-master-addr-by-name"), ask("replicas"))
    }

    /// The sentinel log, followed by anything it printed on stdout/stderr.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir().join(name)).unwrap_or_default();
        let (log, stdio) = (read(LOG_FILE), read(STDIO_FILE));
        if stdio.trim().is_empty() {
            log
        } else {
            format!("{log}\n--- stdout/stderr ---\n{stdio}")
        }
    }

    /// Kills the process now (SIGKILL) and reaps it; idempotent.
    pub fn kill(&mut self) {
        // Errors only mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Polls PING until PONG from this process; `Err(log)` if it exits or times out.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("process exited ({status})\n{}", self.log()));
            }
            if self.answers_ping() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(format!("not ready after {READY_TIMEOUT:?}\n{}", self.log()));
            }
            sleep(POLL_INTERVAL);
        }
    }

    /// PING answers PONG and `INFO server` shows our process id (not another test's
    /// process that won a race for the port).
    fn answers_ping(&self) -> bool {
        let Ok(mut conn) = self.try_conn(Duration::from_millis(250)) else {
            return false;
        };
        let info = redis::cmd("INFO").arg("server").query::<Value>(&mut conn);
        let ours = format!("process_id:{}\r\n", self.pid());
        if !info.is_ok_and(|info| into_text(info).contains(&ours)) {
            return false;
        }
        matches!(redis::cmd("PING").query::<Value>(&mut conn), Ok(Value::SimpleString(ref s)) if s == "PONG")
    }
}

/// A flat name/value reply as a map of text.
fn fields(value: Value) -> HashMap<String, String> {
    into_pairs(value).into_iter().map(|(k, v)| (into_text(k), into_text(v))).collect()
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "==== redis-sentinel log (port {}, {}) ====\n{}\n==== end of log ====",
                self.port,
                self.dir().display(),
                self.log()
            );
        }
        self.kill();
    }
}
