//! [`RedisServer`]: a real `redis-server` process owned by a test.
//!
//! Each server listens on a free port on 127.0.0.1, keeps its files in a
//! private temporary directory, never persists on its own (`--save ""`,
//! `--appendonly no`), allows `DEBUG` from loopback
//! (`--enable-debug-command local`, Redis >= 7.0) and is killed when
//! dropped. The binary is taken from `REPLICANT_REDIS_SERVER` (default
//! `redis-server`), so the same tests can run against other Redis or Valkey
//! builds. When a test panics while a server is alive, the server's log is
//! printed to stderr on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use redis::{Connection, Value};
use tempfile::TempDir;

use crate::reply::{into_array, into_text, query, render};

/// Environment variable naming the server binary to run.
pub const SERVER_ENV: &str = "REPLICANT_REDIS_SERVER";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const START_ATTEMPTS: usize = 5;
const LOG_FILE: &str = "redis.log";
const STDIO_FILE: &str = "stdio.log";

/// Collects extra arguments before starting a [`RedisServer`].
#[derive(Debug, Default, Clone)]
pub struct RedisServerBuilder {
    args: Vec<String>,
    binary: Option<String>,
}

impl RedisServerBuilder {
    /// Adds a config option, e.g. `.arg("--repl-diskless-sync", "yes")`.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.args.push(name.to_owned());
        self.args.push(value.to_owned());
        self
    }

    /// Adds raw command-line words, e.g. `.args(["--replicaof", "h", "1"])`.
    pub fn args<I, S>(mut self, words: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(words.into_iter().map(Into::into));
        self
    }

    /// Uses this binary instead of `$REPLICANT_REDIS_SERVER`/`redis-server`.
    pub fn binary(mut self, path: &str) -> Self {
        self.binary = Some(path.to_owned());
        self
    }

    /// Starts the server and waits until it answers PING.
    ///
    /// Panics (with the server log) if it cannot be started.
    pub fn start(self) -> RedisServer {
        let binary = self.binary.clone().unwrap_or_else(default_binary);
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            match self.try_start(&binary) {
                Ok(server) => return server,
                Err(log) if log.contains("Address already in use") => last_log = log,
                Err(log) => panic!("redis-server `{binary}` failed to start:\n{log}"),
            }
        }
        panic!("redis-server `{binary}` found no free port after {START_ATTEMPTS} attempts:\n{last_log}")
    }

    /// One start attempt; `Err` carries the server log.
    fn try_start(&self, binary: &str) -> Result<RedisServer, String> {
        let dir =
            tempfile::Builder::new().prefix("replicant-redis-").tempdir().expect("create temp dir for redis-server");
        let port = free_port();
        let child = spawn(binary, dir.path(), port, &self.args);
        let mut server = RedisServer {
            child,
            dir,
            port,
            dbfilename: "dump.rdb".to_owned(),
            binary: binary.to_owned(),
            args: self.args.clone(),
        };
        server.wait_ready()?;
        server.dbfilename = server.config_get("dbfilename");
        Ok(server)
    }
}

fn default_binary() -> String {
    std::env::var(SERVER_ENV).unwrap_or_else(|_| "redis-server".to_owned())
}

/// A port that was free a moment ago (bind to port 0, then release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn spawn(binary: &str, dir: &Path, port: u16, extra: &[String]) -> Child {
    let stdio = File::create(dir.join(STDIO_FILE)).expect("create stdio log");
    let stderr = stdio.try_clone().expect("clone stdio log handle");
    Command::new(binary)
        .arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--daemonize", "no"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--enable-debug-command", "local"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join(LOG_FILE))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(stdio)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run redis server binary `{binary}`: {err}. Install it \
                 (apt-get install -y redis-server) or set {SERVER_ENV} to its path."
            )
        })
}

/// A running `redis-server` process, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    dir: TempDir,
    port: u16,
    dbfilename: String,
    binary: String,
    args: Vec<String>,
}

impl RedisServer {
    /// Starts a server with the default options.
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// A builder for a server with extra options.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's working directory (`--dir`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new connection (db 0, 60 s read/write timeouts).
    pub fn conn(&self) -> Connection {
        self.try_conn(Duration::from_secs(5))
            .unwrap_or_else(|err| panic!("connect to {}: {err}\n{}", self.addr(), self.log()))
    }

    fn try_conn(&self, timeout: Duration) -> redis::RedisResult<Connection> {
        let client = redis::Client::open(self.url())?;
        let conn = client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(Duration::from_secs(60)))?;
        conn.set_write_timeout(Some(Duration::from_secs(60)))?;
        Ok(conn)
    }

    /// Runs one command on a fresh connection and renders the reply as text
    /// (arrays one item per line, nil as `(nil)`), like `redis-cli`.
    pub fn cli(&self, words: &[&str]) -> String {
        let (name, args) = words.split_first().expect("cli needs a command");
        let mut cmd = redis::cmd(name);
        for arg in args {
            cmd.arg(*arg);
        }
        render(&query(&mut self.conn(), &cmd))
    }

    /// One field of `INFO <section>` (e.g. `("replication", "master_repl_offset")`).
    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        let text = self.cli(&["INFO", section]);
        text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).map(|v| v.trim().to_string())
    }

    /// `redis_version` from `INFO server`.
    pub fn version(&self) -> (u32, u32, u32) {
        crate::info::server_version(&mut self.conn())
    }

    /// Where `SAVE` writes the RDB file.
    pub fn rdb_path(&self) -> PathBuf {
        self.dir().join(&self.dbfilename)
    }

    /// Runs `SAVE` and returns the path of the written RDB file.
    pub fn save(&self) -> PathBuf {
        query(&mut self.conn(), &redis::cmd("SAVE"));
        self.rdb_path()
    }

    /// The server log, followed by anything it printed on stdout/stderr.
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

    /// Kills the process (SIGKILL) and starts it again on the same port, in the same
    /// directory, with the same options: what it persisted (AOF, RDB) is loaded again.
    /// Waits until it answers PING; panics with the log if it does not.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            self.child = spawn(&self.binary, self.dir.path(), self.port, &self.args);
            match self.wait_ready() {
                Ok(()) => return,
                // The old socket may linger for a moment.
                Err(log) if log.contains("Address already in use") && Instant::now() < deadline => {
                    sleep(POLL_INTERVAL);
                }
                Err(log) => panic!("redis-server did not start again on port {}:\n{log}", self.port),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn config_get(&self, name: &str) -> String {
        let reply = query(&mut self.conn(), redis::cmd("CONFIG").arg("GET").arg(name));
        let value = into_array(reply).into_iter().nth(1);
        value.map(into_text).unwrap_or_default()
    }

    /// Polls PING until PONG; `Err(log)` if the process exits or times out.
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
                let log = self.log();
                return Err(format!("not ready after {READY_TIMEOUT:?}\n{log}"));
            }
            sleep(POLL_INTERVAL);
        }
    }

    /// PING answers PONG, and the answering process is ours (not another
    /// test's server that won a race for the same port).
    fn answers_ping(&self) -> bool {
        let Ok(mut conn) = self.try_conn(Duration::from_millis(250)) else {
            return false;
        };
        let info = redis::cmd("INFO").arg("server").query::<Value>(&mut conn);
        let ours = format!("process_id:{}\r\n", self.pid());
        if !info.is_ok_and(|info| into_text(info).contains(&ours)) {
            return false;
        }
        let pong = redis::cmd("PING").query::<Value>(&mut conn);
        matches!(pong, Ok(Value::SimpleString(ref s)) if s == "PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "==== redis-server log (port {}, {}) ====\n{}\n==== end of log ====",
                self.port,
                self.dir().display(),
                self.log()
            );
        }
        self.kill();
    }
}
