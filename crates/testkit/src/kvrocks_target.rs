//! [`MockKvrocksTarget`]: a stand-in for an Apache Kvrocks 2.10.1 server used as a *target*
//! (a server the code under test writes to), since Kvrocks cannot be installed here.
//!
//! It is a proxy on `127.0.0.1:<free port>` in front of real `redis-server` processes
//! ([`RedisServer`]), one per namespace: Kvrocks has no numbered databases, each namespace
//! is a keyspace of its own, reached by `AUTH <token>`; `AUTH <requirepass>` is the admin,
//! in the default namespace `__namespace`. Each namespace's keys are in db 0 of its
//! [backend](MockKvrocksTarget::backend).
//!
//! One thread per client connection reads commands strictly in order (pipelined input
//! included) and checks each as `Connection::ExecuteCommands`
//! (`src/server/redis_connection.cc`) does: unknown command (against Kvrocks' command
//! table, in the `commands` submodule, taken from the Kvrocks source), then authentication,
//! arity, parsing, `MULTI` queueing. Then:
//!
//! * the mock answers itself, byte for byte as Kvrocks: `AUTH` (switches the connection's
//!   namespace, at any time, pipelined or queued in `MULTI`), `HELLO` (RESP2 only, as with
//!   `resp3-enabled no`), `PING`, `SELECT` (accepted, no effect), `QUIT`, `INFO [section]`
//!   (Kvrocks' sections, see the `info` submodule; the `# Keyspace` counts are those of the
//!   last `DBSIZE SCAN`, stale as in Kvrocks), `CONFIG GET|SET|REWRITE` (admin; Kvrocks'
//!   own names, see the `config` submodule), `FLUSHALL` (admin; empties every backend),
//!   `DBSIZE` (the count of the last `DBSIZE SCAN`, 0 before one), `DBSIZE SCAN` (counts
//!   now), `MULTI`/`EXEC`/`DISCARD`, `WATCH`/`UNWATCH` (accepted, no effect: `EXEC` never
//!   fails on a watched key), `RESET`, `ROLE`, `CLIENT SETNAME|GETNAME|ID|KILL`,
//!   `NAMESPACE GET`, `CLUSTER`/`CLUSTERX` (cluster mode off), and `KEYS` refuses a pattern
//!   that is not `prefix*`;
//! * every other command goes, as sent, to the backend of the connection's namespace *at
//!   that moment*, over a connection the client thread keeps per backend, and the backend's
//!   reply comes back unchanged (so its errors are Redis' texts).
//!
//! `EXEC` runs the queued commands one by one in that way and answers one array: the
//! backends are not in a transaction, so there is no atomicity (across namespaces or
//! within one); a command's syntax that only the backend checks fails inside the `EXEC`
//! reply rather than aborting the transaction as Kvrocks' `Parse` would.
//!
//! Not served (an error naming the mock): Pub/Sub, `MONITOR`, `SHUTDOWN`, the replication
//! commands (`PSYNC`, `REPLCONF`, `_fetch_meta`, `_fetch_file`, `_db_name`, `SLAVEOF`),
//! `APPLYBATCH`, `POLLUPDATES`, `RDB`, and `NAMESPACE ADD|SET|DEL` (the namespaces are fixed
//! at start). Kvrocks-only data commands (`SIADD`, `JSON.*`, ...) pass the table but the
//! backend does not know them.
//!
//! Every request is logged as text ([`MockKvrocksTarget::requests`], for assertions such as
//! "no FLUSHALL was sent"), and what the mock did ([`MockKvrocksTarget::log`]), printed when
//! a test panics while the mock is alive. Dropping it closes every connection (client and
//! backend), joins every thread, then stops the backends.
//!
//! ```no_run
//! use replicant_testkit::MockKvrocksTarget;
//!
//! let target = MockKvrocksTarget::builder().password("adminpass").namespace("ns1", "token1").start();
//! // ... run the code under test against target.addr(), AUTH token1 ...
//! assert_eq!(target.backend("ns1").cli(&["GET", "k"]), "v");
//! assert!(!target.requests().iter().any(|r| r.eq_ignore_ascii_case("FLUSHALL")));
//! ```

use std::collections::BTreeMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::server::RedisServer;

mod commands;
mod config;
mod info;
mod resp;
mod session;

use config::Config;
use info::Scan;

/// `kDefaultNamespace` (`src/config/config.h`): the admin's namespace.
pub const DEFAULT_NAMESPACE: &str = "__namespace";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The settings of a [`MockKvrocksTarget`] before it starts.
#[derive(Debug, Clone, Default)]
pub struct MockKvrocksTargetBuilder {
    password: Option<String>,
    /// (namespace, token), in the order given.
    namespaces: Vec<(String, String)>,
}

impl MockKvrocksTargetBuilder {
    /// `requirepass`: `AUTH` with it makes an admin connection in the default namespace.
    /// Without one, every connection is admin in the default namespace from the start.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Adds a namespace reached by `AUTH <token>`, with its own backend.
    pub fn namespace(mut self, namespace: &str, token: &str) -> Self {
        self.namespaces.push((namespace.to_owned(), token.to_owned()));
        self
    }

    /// Starts one backend per namespace (the default one included), listens on a free
    /// loopback port and serves. Panics on settings Kvrocks refuses (namespaces without a
    /// password, a token used twice or equal to the password, a namespace named twice).
    pub fn start(self) -> MockKvrocksTarget {
        let password = self.password.clone().unwrap_or_default();
        self.check(&password);
        let mut backends = BTreeMap::new();
        backends.insert(DEFAULT_NAMESPACE.to_owned(), RedisServer::start());
        for (ns, _) in &self.namespaces {
            backends.insert(ns.clone(), RedisServer::start());
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the mock Kvrocks target on loopback");
        let port = listener.local_addr().expect("the mock Kvrocks target's address").port();
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addrs = backends.iter().map(|(ns, server)| (ns.clone(), server.addr())).collect();
        let tokens = self.namespaces.into_iter().map(|(ns, token)| (token, ns)).collect();
        let shared = Arc::new(Shared::new(port, Config::new(port, &password), tokens, addrs));
        shared.note(format!("listening on 127.0.0.1:{port}"));
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&s, &listener));
        MockKvrocksTarget { port, shared, backends, acceptor: Some(acceptor) }
    }

    fn check(&self, password: &str) {
        assert!(
            self.namespaces.is_empty() || !password.is_empty(),
            "requirepass empty wasn't allowed while the namespace exists"
        );
        let mut seen_ns = vec![DEFAULT_NAMESPACE];
        let mut seen_tokens = vec![password];
        for (ns, token) in &self.namespaces {
            assert!(!seen_ns.contains(&ns.as_str()), "namespace {ns:?} given twice");
            assert!(!seen_tokens.contains(&token.as_str()), "the token is duplicated with requirepass or masterauth");
            seen_ns.push(ns);
            seen_tokens.push(token);
        }
    }
}

/// State shared by the mock's threads.
struct Shared {
    port: u16,
    started: Instant,
    started_unix: u64,
    stop: AtomicBool,
    /// Namespace tokens: token → namespace.
    tokens: BTreeMap<String, String>,
    /// Backend addresses: namespace → `127.0.0.1:port`.
    addrs: BTreeMap<String, String>,
    config: Mutex<Config>,
    /// The last `DBSIZE SCAN` per namespace.
    scans: Mutex<BTreeMap<String, Scan>>,
    /// Executed commands per name (`INFO commandstats`).
    calls: Mutex<BTreeMap<String, u64>>,
    next_id: AtomicU64,
    total_connections: AtomicU64,
    connected: AtomicU64,
    /// Every open socket (clients and backend connections), shut down on drop.
    sockets: Mutex<BTreeMap<u64, TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    requests: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
}

impl Shared {
    fn new(port: u16, config: Config, tokens: BTreeMap<String, String>, addrs: BTreeMap<String, String>) -> Shared {
        Shared {
            port,
            started: Instant::now(),
            started_unix: unix_now(),
            stop: AtomicBool::new(false),
            tokens,
            addrs,
            config: Mutex::new(config),
            scans: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            total_connections: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            sockets: Mutex::new(BTreeMap::new()),
            threads: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Adds a line to the log, with the time since the mock started.
    fn note(&self, what: String) {
        let line = format!("+{:.3}s {what}", self.started.elapsed().as_secs_f64());
        lock(&self.log).push(line);
    }

    /// Keeps a handle of `socket` to shut it down on drop (at once if the mock is stopping);
    /// returns the key to [`unregister`](Self::unregister) it with.
    fn register(&self, socket: TcpStream) -> u64 {
        let key = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mut sockets = lock(&self.sockets);
        if self.stopped() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        sockets.insert(key, socket);
        key
    }

    fn unregister(&self, key: u64) {
        if let Some(socket) = lock(&self.sockets).remove(&key) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Stops: no socket registered from now on stays open, every open one is shut down.
    fn shut_down(&self) {
        let sockets = lock(&self.sockets);
        self.stop.store(true, Ordering::SeqCst);
        for socket in sockets.values() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// `Server::AuthenticateUser`: a namespace token first, then the password. `Ok` with
    /// the namespace and whether the connection is admin.
    fn authenticate(&self, password: &[u8]) -> Result<(String, bool), &'static str> {
        let required = lock(&self.config).get("requirepass").unwrap_or_default().to_owned();
        if required.is_empty() {
            return Err("Client sent AUTH, but no password is set");
        }
        let password = String::from_utf8_lossy(password);
        if let Some(ns) = self.tokens.get(password.as_ref()) {
            return Ok((ns.clone(), false));
        }
        if password == required {
            Ok((DEFAULT_NAMESPACE.to_owned(), true))
        } else {
            Err("Invalid password")
        }
    }

    fn accept(self: &Arc<Self>, stream: TcpStream) {
        let Ok(handle) = stream.try_clone() else { return };
        let key = self.register(handle);
        let id = self.total_connections.fetch_add(1, Ordering::SeqCst) + 1;
        self.connected.fetch_add(1, Ordering::SeqCst);
        let peer = stream.peer_addr().map_or_else(|e| e.to_string(), |a| a.to_string());
        self.note(format!("conn {id}: accepted from {peer}"));
        let shared = self.clone();
        let thread = std::thread::spawn(move || {
            session::serve(&shared, id, &stream);
            shared.unregister(key);
            shared.connected.fetch_sub(1, Ordering::SeqCst);
            shared.note(format!("conn {id}: closed"));
        });
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(thread);
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener) {
    while !shared.stopped() {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                shared.accept(stream);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A mock Kvrocks 2.10.1 target; see the [module documentation](self).
pub struct MockKvrocksTarget {
    port: u16,
    shared: Arc<Shared>,
    /// Killed once `Drop::drop` has joined every thread.
    backends: BTreeMap<String, RedisServer>,
    acceptor: Option<JoinHandle<()>>,
}

impl MockKvrocksTarget {
    /// The settings, to change before [`MockKvrocksTargetBuilder::start`].
    pub fn builder() -> MockKvrocksTargetBuilder {
        MockKvrocksTargetBuilder::default()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The real server holding namespace `namespace`'s keys (in its db 0);
    /// [`DEFAULT_NAMESPACE`] for the admin's. Panics for a namespace the mock does not have.
    pub fn backend(&self, namespace: &str) -> &RedisServer {
        self.backends.get(namespace).unwrap_or_else(|| {
            panic!("the mock Kvrocks target has no namespace {namespace:?} (it has {:?})", self.backends.keys())
        })
    }

    /// Every command received, in order: its arguments joined by spaces (bytes that are not
    /// UTF-8 shown lossily), as sent (`AUTH` passwords included), e.g. `AUTH token1`,
    /// `SET k v`. Commands queued in `MULTI` appear once, when received.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    /// What the mock did, one line per event, with times since it started.
    pub fn log(&self) -> String {
        lock(&self.shared.log).join("\n")
    }
}

impl Drop for MockKvrocksTarget {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- mock Kvrocks target on port {} ---\n{}", self.port, self.log());
        }
        self.shared.shut_down();
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        // Threads accepted before the acceptor stopped are all listed now.
        let threads: Vec<JoinHandle<()>> = lock(&self.shared.threads).drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    /// A raw RESP client: what it sends and reads are bytes, to compare replies exactly.
    struct Client {
        stream: TcpStream,
        reader: BufReader<TcpStream>,
    }

    impl Client {
        fn new(target: &MockKvrocksTarget) -> Client {
            let stream = TcpStream::connect(target.addr()).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            Client { reader: BufReader::new(stream.try_clone().unwrap()), stream }
        }

        /// Sends every command in one write.
        fn send(&mut self, cmds: &[&[&str]]) {
            let bytes: Vec<u8> = cmds
                .iter()
                .flat_map(|words| resp::encode(&words.iter().map(|w| w.as_bytes().to_vec()).collect::<Vec<_>>()))
                .collect();
            self.stream.write_all(&bytes).unwrap();
        }

        fn read(&mut self) -> String {
            let mut out = Vec::new();
            resp::read_reply(&mut self.reader, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        }

        fn call(&mut self, words: &[&str]) -> String {
            self.send(&[words]);
            self.read()
        }
    }

    fn target() -> MockKvrocksTarget {
        MockKvrocksTarget::builder().password("adminpass").namespace("ns1", "token1").namespace("ns9", "token9").start()
    }

    #[test]
    fn auth_is_required_first() {
        let t = target();
        let mut c = Client::new(&t);
        assert_eq!(c.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(c.call(&["SET", "k", "v"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(
            c.call(&["NOSUCH", "a", "b"]),
            "-ERR unknown command `NOSUCH`, with args beginning with: `a`, `b`\r\n"
        );
        assert_eq!(c.call(&["AUTH", "wrong"]), "-ERR Invalid password\r\n");
        assert_eq!(c.call(&["AUTH", "default", "adminpass"]), "-ERR wrong number of arguments\r\n");
        assert_eq!(c.call(&["PING"]), "-NOAUTH Authentication required.\r\n");
        assert_eq!(c.call(&["AUTH", "adminpass"]), "+OK\r\n");
        assert_eq!(c.call(&["PING"]), "+PONG\r\n");
        c.stream.write_all(b"PING\r\n").unwrap();
        assert_eq!(c.read(), "+PONG\r\n", "inline commands");
        assert!(c.call(&["HELLO", "3"]).starts_with("*12\r\n$6\r\nserver\r\n$5\r\nredis\r\n"));
        assert_eq!(c.call(&["QUIT"]), "+OK\r\n");
        assert!(t.requests().contains(&"AUTH adminpass".to_owned()), "{:?}", t.requests());
    }

    #[test]
    fn a_token_switches_the_namespace_and_select_is_ignored() {
        let t = target();
        let mut c = Client::new(&t);
        assert_eq!(c.call(&["AUTH", "token1"]), "+OK\r\n");
        assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(c.call(&["SELECT", "5"]), "+OK\r\n");
        assert_eq!(c.call(&["GET", "k"]), "$1\r\nv\r\n", "SELECT changed nothing");
        assert_eq!(c.call(&["AUTH", "adminpass"]), "+OK\r\n");
        assert_eq!(c.call(&["GET", "k"]), "$-1\r\n");
        assert_eq!(t.backend("ns1").cli(&["GET", "k"]), "v");
        assert_eq!(t.backend(DEFAULT_NAMESPACE).cli(&["GET", "k"]), "(nil)");
        assert_eq!(t.backend("ns9").cli(&["DBSIZE"]), "0");
        let err = c.call(&["GET"]);
        assert_eq!(err, "-ERR wrong number of arguments\r\n", "Kvrocks' arity check, not Redis' text");
    }

    #[test]
    fn pipelined_re_auth_lands_in_the_right_backends() {
        let t = target();
        let mut c = Client::new(&t);
        c.send(&[&["AUTH", "token1"], &["SET", "a", "1"], &["AUTH", "token9"], &["SET", "a", "9"]]);
        let replies: Vec<String> = (0..4).map(|_| c.read()).collect();
        assert_eq!(replies, vec!["+OK\r\n"; 4]);
        assert_eq!(t.backend("ns1").cli(&["GET", "a"]), "1");
        assert_eq!(t.backend("ns9").cli(&["GET", "a"]), "9");
        assert_eq!(t.backend(DEFAULT_NAMESPACE).cli(&["GET", "a"]), "(nil)");
    }

    #[test]
    fn auth_queued_in_multi_switches_the_namespace_at_exec() {
        let t = target();
        let mut c = Client::new(&t);
        assert_eq!(c.call(&["AUTH", "adminpass"]), "+OK\r\n");
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(&["SET", "m", "0"]), "+QUEUED\r\n");
        assert_eq!(c.call(&["AUTH", "token1"]), "+QUEUED\r\n");
        assert_eq!(c.call(&["SET", "m", "1"]), "+QUEUED\r\n");
        assert_eq!(t.backend("ns1").cli(&["EXISTS", "m"]), "0", "nothing runs before EXEC");
        assert_eq!(c.call(&["EXEC"]), "*3\r\n+OK\r\n+OK\r\n+OK\r\n");
        assert_eq!(t.backend(DEFAULT_NAMESPACE).cli(&["GET", "m"]), "0");
        assert_eq!(t.backend("ns1").cli(&["GET", "m"]), "1");
        assert_eq!(c.call(&["GET", "m"]), "$1\r\n1\r\n", "still in ns1 after EXEC");
        assert_eq!(c.call(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    }

    #[test]
    fn errors_inside_multi_abort_it() {
        let t = target();
        let mut c = Client::new(&t);
        assert_eq!(c.call(&["AUTH", "token1"]), "+OK\r\n");
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
        assert_eq!(c.call(&["SET", "x", "1"]), "+QUEUED\r\n");
        assert_eq!(c.call(&["NOSUCH"]), "-ERR unknown command `NOSUCH`, with args beginning with: \r\n");
        assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded\r\n");
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(&["GET"]), "-ERR wrong number of arguments\r\n");
        assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded\r\n");
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(&["SUBSCRIBE", "ch"]), "-ERR Can't execute subscribe in MULTI\r\n");
        assert_eq!(c.call(&["DISCARD"]), "+OK\r\n");
        assert_eq!(t.backend("ns1").cli(&["EXISTS", "x"]), "0");
    }

    #[test]
    fn flushall_needs_the_admin() {
        let t = target();
        let mut user = Client::new(&t);
        user.send(&[&["AUTH", "token1"], &["SET", "u", "1"]]);
        assert_eq!((user.read(), user.read()), ("+OK\r\n".to_owned(), "+OK\r\n".to_owned()));
        t.backend(DEFAULT_NAMESPACE).cli(&["SET", "d", "1"]);
        let refused = "-ERR admin permission required to perform the command\r\n";
        assert_eq!(user.call(&["FLUSHALL"]), refused);
        assert_eq!(user.call(&["CONFIG", "GET", "requirepass"]), refused);
        assert_eq!(t.backend("ns1").cli(&["DBSIZE"]), "1");
        let mut admin = Client::new(&t);
        assert_eq!(admin.call(&["AUTH", "adminpass"]), "+OK\r\n");
        assert_eq!(admin.call(&["FLUSHALL"]), "+OK\r\n");
        assert_eq!(t.backend("ns1").cli(&["DBSIZE"]), "0");
        assert_eq!(t.backend(DEFAULT_NAMESPACE).cli(&["DBSIZE"]), "0");
        assert_eq!(t.requests().iter().filter(|r| r.as_str() == "FLUSHALL").count(), 2);
    }

    #[test]
    fn info_config_and_dbsize_look_like_kvrocks() {
        let t = target();
        let mut c = Client::new(&t);
        assert_eq!(c.call(&["AUTH", "adminpass"]), "+OK\r\n");
        let server = c.call(&["INFO", "SERVER"]);
        assert!(server.contains("\r\nkvrocks_version:2.10.1\r\n"), "{server}");
        assert!(server.contains(&format!("\r\ntcp_port:{}\r\n", t.port())), "{server}");
        assert!(!server.contains("# Keyspace"), "{server}");
        assert_eq!(c.call(&["CONFIG", "GET", "maxmemory-policy"]), "*0\r\n");
        assert_eq!(c.call(&["CONFIG", "GET", "databases"]), "*0\r\n");
        assert_eq!(c.call(&["CONFIG", "GET", "requirepass"]), "*2\r\n$11\r\nrequirepass\r\n$9\r\nadminpass\r\n");
        assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
        assert_eq!(c.call(&["DBSIZE"]), ":0\r\n", "stale until a scan");
        let keyspace = c.call(&["INFO", "keyspace"]);
        assert!(keyspace.contains("# WARN: DBSIZE SCAN never performed yet\r\ndb0:keys=0,"), "{keyspace}");
        assert_eq!(c.call(&["DBSIZE", "SCAN"]), "+OK\r\n");
        assert_eq!(c.call(&["DBSIZE"]), ":1\r\n");
        let keyspace = c.call(&["INFO", "keyspace"]);
        assert!(keyspace.contains("\r\ndb0:keys=1,expires=0,"), "{keyspace}");
        assert_eq!(c.call(&["KEYS", "*k"]), "-ERR only keys prefix match was supported\r\n");
        assert_eq!(c.call(&["KEYS", "k*"]), "*1\r\n$1\r\nk\r\n");
        assert_eq!(c.call(&["ROLE"]), "*2\r\n$6\r\nmaster\r\n$1\r\n0\r\n");
    }

    #[test]
    fn a_redis_rs_client_works_through_it() {
        let t = target();
        let client = redis::Client::open(format!("redis://:token9@{}", t.addr())).unwrap();
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(10)).unwrap();
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("SET").arg("p").arg("1").cmd("INCR").arg("p").cmd("GET").arg("p");
        let (ok, n, got): (String, i64, String) = pipe.query(&mut conn).unwrap();
        assert_eq!((ok.as_str(), n, got.as_str()), ("OK", 2, "2"));
        assert_eq!(t.backend("ns9").cli(&["GET", "p"]), "2");
        let info: String = redis::cmd("INFO").arg("keyspace").query(&mut conn).unwrap();
        assert!(info.starts_with("# Keyspace\r\n"), "{info}");
    }

    #[test]
    fn drop_ends_connections_even_a_blocked_one() {
        let t = target();
        let mut idle = Client::new(&t);
        let mut blocked = Client::new(&t);
        assert_eq!(idle.call(&["AUTH", "adminpass"]), "+OK\r\n");
        blocked.send(&[&["AUTH", "token1"], &["BLPOP", "q", "0"]]);
        assert_eq!(blocked.read(), "+OK\r\n");
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        drop(t);
        assert!(started.elapsed() < Duration::from_secs(5), "drop took {:?}", started.elapsed());
        assert!(resp::read_reply(&mut blocked.reader, &mut Vec::new()).is_err());
    }
}
