//! One client connection of the mock target: its state (namespace, admin, transaction)
//! and the checks of `Connection::ExecuteCommands` (`src/server/redis_connection.cc`) in
//! their order, then the command run by the mock or forwarded to the namespace's backend.
//!
//! Replies go through a writer thread and an unbounded queue, as Kvrocks' output buffer
//! is unbounded: a client may pipeline any amount before it reads.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};

use super::commands;
use super::info::{self, Scan};
use super::resp::{self, array, bulk, err, int, lossy, preview, simple, Command, ReadError};
use super::{lock, unix_now, Shared, DEFAULT_NAMESPACE};

const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";
/// `errAdminPermissionRequired` (`src/commands/error_constants.h`).
const ADMIN_REQUIRED: &str = "admin permission required to perform the command";
const NIL: &[u8] = b"$-1\r\n";

/// Kvrocks commands the mock does not serve (see the module documentation of the parent).
const NOT_SERVED: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "ssubscribe",
    "sunsubscribe",
    "monitor",
    "shutdown",
    "psync",
    "replconf",
    "_fetch_meta",
    "_fetch_file",
    "_db_name",
    "slaveof",
    "applybatch",
    "pollupdates",
    "rdb",
];

/// Serves one client connection until it closes, sends `QUIT` or the mock stops.
pub(super) fn serve(shared: &Shared, id: u64, stream: &TcpStream) {
    let Ok(mut out) = stream.try_clone() else { return };
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let mut session = Session::new(shared, id);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for reply in rx {
                if out.write_all(&reply).is_err() {
                    break;
                }
            }
        });
        session.run(&mut BufReader::new(stream), &tx);
        drop(tx);
    });
    let _ = stream.shutdown(Shutdown::Both);
    session.close_backends();
}

/// A connection to one namespace's backend.
struct Backend {
    /// The key of its socket in [`Shared::register`].
    key: u64,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

struct Session<'a> {
    shared: &'a Shared,
    id: u64,
    /// `None` until a successful `AUTH`.
    namespace: Option<String>,
    admin: bool,
    /// The queued commands, while in `MULTI`.
    queued: Option<Vec<Command>>,
    multi_error: bool,
    in_exec: bool,
    close_after_reply: bool,
    name: Option<Vec<u8>>,
    backends: BTreeMap<String, Backend>,
}

impl<'a> Session<'a> {
    fn new(shared: &'a Shared, id: u64) -> Self {
        Session {
            shared,
            id,
            namespace: None,
            admin: false,
            queued: None,
            multi_error: false,
            in_exec: false,
            close_after_reply: false,
            name: None,
            backends: BTreeMap::new(),
        }
    }

    /// Reads and answers commands, one at a time, in order.
    fn run(&mut self, reader: &mut impl BufRead, tx: &Sender<Vec<u8>>) {
        loop {
            let cmd = match resp::read_command(reader) {
                Ok(cmd) => cmd,
                Err(ReadError::Closed) => return,
                Err(ReadError::Protocol(msg)) => {
                    self.shared.note(format!("conn {}: {msg}, closing", self.id));
                    let _ = tx.send(err(msg));
                    return;
                }
            };
            let text = cmd.iter().map(|a| lossy(a)).collect::<Vec<_>>().join(" ");
            lock(&self.shared.requests).push(text.clone());
            let reply = self.handle(&cmd);
            self.shared.note(format!("conn {}: {} -> {}", self.id, preview(text.as_bytes()), preview(&reply)));
            if tx.send(reply).is_err() || self.close_after_reply {
                return;
            }
        }
    }

    /// One command through the checks of `ExecuteCommands`, then run or queued.
    fn handle(&mut self, cmd: &Command) -> Vec<u8> {
        let name = cmd.first().map(|n| lossy(n).to_ascii_lowercase()).unwrap_or_default();
        let in_multi = self.queued.is_some();
        let Some(spec) = commands::lookup(&name) else {
            self.multi_error |= in_multi;
            return unknown_command(cmd);
        };
        if self.namespace.is_none() {
            if self.requirepass().is_empty() {
                self.namespace = Some(DEFAULT_NAMESPACE.to_owned());
                self.admin = true;
            } else if name != "auth" && name != "hello" {
                return NOAUTH.to_vec();
            }
        }
        let checked = if spec.fits(cmd.len()) { parse(&name, cmd) } else { Err(err("wrong number of arguments")) };
        if let Err(reply) = checked {
            self.multi_error |= in_multi;
            return reply;
        }
        if in_multi && spec.no_multi {
            self.multi_error = true;
            return err(&format!("Can't execute {name} in MULTI"));
        }
        if in_multi && !self.in_exec && !spec.multi {
            self.queued.get_or_insert_with(Vec::new).push(cmd.clone());
            return simple("QUEUED");
        }
        *lock(&self.shared.calls).entry(name.clone()).or_default() += 1;
        self.execute(&name, cmd)
    }

    /// Runs a command that passed the checks.
    fn execute(&mut self, name: &str, cmd: &Command) -> Vec<u8> {
        match name {
            "auth" => self.auth(arg(cmd, 1)),
            "hello" => self.hello(cmd),
            "ping" => ping(cmd),
            "select" => simple("OK"),
            "quit" => {
                self.close_after_reply = true;
                simple("OK")
            }
            "info" => self.info(cmd),
            "config" => self.config(cmd),
            "dbsize" => self.dbsize(cmd),
            "flushall" => self.flushall(),
            "multi" | "exec" | "discard" | "watch" | "unwatch" | "reset" => self.transaction(name),
            "client" => self.client(cmd),
            "namespace" => self.namespace(cmd),
            "role" => b"*2\r\n$6\r\nmaster\r\n$1\r\n0\r\n".to_vec(),
            "cluster" | "clusterx" => err("Cluster mode is not enabled"),
            "keys" if !is_prefix_pattern(arg(cmd, 1)) => err("only keys prefix match was supported"),
            _ if NOT_SERVED.contains(&name) => err(&format!("MockKvrocksTarget does not serve `{name}`")),
            _ => self.forward_here(cmd),
        }
    }

    fn requirepass(&self) -> String {
        lock(&self.shared.config).get("requirepass").unwrap_or_default().to_owned()
    }

    /// `CommandAuth`.
    fn auth(&mut self, password: &[u8]) -> Vec<u8> {
        match self.shared.authenticate(password) {
            Ok((namespace, admin)) => {
                self.namespace = Some(namespace);
                self.admin = admin;
                simple("OK")
            }
            Err(msg) => err(msg),
        }
    }

    /// `CommandHello` with `resp3-enabled no`: always RESP2.
    fn hello(&mut self, cmd: &Command) -> Vec<u8> {
        if let Some(proto) = cmd.get(1) {
            match lossy(proto).trim_start().parse::<i64>() {
                Err(_) => return err("Protocol version is not an integer or out of range"),
                Ok(2 | 3) => {}
                Ok(_) => return b"-NOPROTO unsupported protocol version\r\n".to_vec(),
            }
        }
        let mut next = 2;
        while next < cmd.len() {
            let more = cmd.len() - next - 1;
            let opt = lossy(arg(cmd, next)).to_ascii_lowercase();
            if opt == "auth" && more != 0 {
                if more == 2 || more == 4 {
                    if arg(cmd, next + 1) != b"default" {
                        return err("Invalid password");
                    }
                    next += 1;
                }
                match self.shared.authenticate(arg(cmd, next + 1)) {
                    Ok((namespace, admin)) => (self.namespace, self.admin) = (Some(namespace), admin),
                    Err(msg) => return err(msg),
                }
            } else if opt == "setname" && more != 0 {
                self.name = Some(arg(cmd, next + 1).to_vec());
            } else {
                return err(&format!("Syntax error in HELLO option {}", lossy(arg(cmd, next))));
            }
            next += 2;
        }
        let mut out = b"*12\r\n".to_vec();
        for word in ["server", "redis", "version", "4.0.0", "proto"] {
            out.extend(bulk(word.as_bytes()));
        }
        out.extend_from_slice(b":2\r\n");
        for word in ["mode", "standalone", "role", "master", "modules"] {
            out.extend(bulk(word.as_bytes()));
        }
        out.extend_from_slice(b"*-1\r\n");
        out
    }

    /// `CommandInfo`: a bulk string (RESP2) of the connection's namespace's view.
    fn info(&self, cmd: &Command) -> Vec<u8> {
        if cmd.len() > 2 {
            return err("syntax error");
        }
        let section = cmd.get(1).map_or_else(|| "all".to_owned(), |s| lossy(s).to_ascii_lowercase());
        bulk(info::render(&section, &self.live()).as_bytes())
    }

    fn live(&self) -> info::Live {
        let shared = self.shared;
        let config = lock(&shared.config);
        let ns = self.namespace.as_deref().unwrap_or_default();
        info::Live {
            port: shared.port,
            uptime_secs: shared.started.elapsed().as_secs(),
            started_unix: shared.started_unix,
            maxclients: config.get("maxclients").unwrap_or_default().to_owned(),
            max_db_size_gib: config.get("max-db-size").and_then(|v| v.parse().ok()).unwrap_or(0),
            connected_clients: shared.connected.load(Ordering::SeqCst),
            total_connections: shared.total_connections.load(Ordering::SeqCst),
            calls: lock(&shared.calls).clone(),
            scan: lock(&shared.scans).get(ns).copied(),
        }
    }

    /// `CommandConfig`.
    fn config(&self, cmd: &Command) -> Vec<u8> {
        if !self.admin {
            return err(ADMIN_REQUIRED);
        }
        let sub = lossy(arg(cmd, 1)).to_ascii_lowercase();
        let mut config = lock(&self.shared.config);
        match (sub.as_str(), cmd.len()) {
            ("get", 3) => array(&config.matching(arg(cmd, 2))),
            ("set", 4) => match config.set(&lossy(arg(cmd, 2)), &lossy(arg(cmd, 3))) {
                Ok(()) => simple("OK"),
                Err(msg) => err(&format!("CONFIG SET '{}' error: {msg}", lossy(arg(cmd, 2)))),
            },
            ("rewrite", 2) => simple("OK"),
            ("get" | "set" | "rewrite", _) => err("wrong number of arguments"),
            _ => err("CONFIG subcommand must be one of GET, SET, REWRITE"),
        }
    }

    /// `CommandDBSize`: the count of the namespace's last scan; `SCAN` counts now.
    fn dbsize(&mut self, cmd: &Command) -> Vec<u8> {
        let ns = self.namespace.clone().unwrap_or_default();
        match cmd.len() {
            1 => int(lock(&self.shared.scans).get(&ns).map_or(0, |s| s.keys)),
            2 if arg(cmd, 1).eq_ignore_ascii_case(b"scan") => self.scan(&ns),
            _ => err("DBSIZE subcommand only supports scan"),
        }
    }

    /// Counts the namespace's keys from its backend's `INFO keyspace`.
    fn scan(&mut self, ns: &str) -> Vec<u8> {
        let reply = self.forward(ns, &[b"INFO".to_vec(), b"keyspace".to_vec()]);
        if reply.starts_with(b"-") {
            return reply;
        }
        let text = lossy(&reply);
        let field = |name: &str| -> u64 {
            let db0 = text.lines().find_map(|l| l.strip_prefix("db0:")).unwrap_or_default();
            db0.split(',').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok()).unwrap_or(0)
        };
        let scan = Scan { keys: field("keys"), expires: field("expires"), at_unix: unix_now() };
        lock(&self.shared.scans).insert(ns.to_owned(), scan);
        simple("OK")
    }

    /// `CommandFlushAll`: admin only; every backend.
    fn flushall(&mut self) -> Vec<u8> {
        if !self.admin {
            return err(ADMIN_REQUIRED);
        }
        let namespaces: Vec<String> = self.shared.addrs.keys().cloned().collect();
        for ns in namespaces {
            let reply = self.forward(&ns, &[b"FLUSHALL".to_vec()]);
            if reply.starts_with(b"-") {
                return reply;
            }
        }
        simple("OK")
    }

    /// `src/commands/cmd_txn.cc` and `CommandReset`.
    fn transaction(&mut self, name: &str) -> Vec<u8> {
        let in_multi = self.queued.is_some();
        match name {
            "multi" if in_multi => err("MULTI calls can not be nested"),
            "multi" => {
                (self.queued, self.multi_error) = (Some(Vec::new()), false);
                simple("OK")
            }
            "exec" if !in_multi => err("EXEC without MULTI"),
            "exec" => self.exec(),
            "discard" if !in_multi => err("DISCARD without MULTI"),
            "watch" if in_multi => err("WATCH inside MULTI is not allowed"),
            "reset" => {
                self.reset_multi();
                (self.namespace, self.admin) = (Some(DEFAULT_NAMESPACE.to_owned()), true);
                simple("RESET")
            }
            "discard" => {
                self.reset_multi();
                simple("OK")
            }
            _ => simple("OK"), // watch, unwatch: keys are not watched
        }
    }

    fn reset_multi(&mut self) {
        (self.queued, self.multi_error, self.in_exec) = (None, false, false);
    }

    /// `CommandExec`: the queued commands in order, each as if just received, in one array.
    fn exec(&mut self) -> Vec<u8> {
        let queued = self.queued.replace(Vec::new()).unwrap_or_default();
        if self.multi_error {
            self.reset_multi();
            return b"-EXECABORT Transaction discarded\r\n".to_vec();
        }
        self.in_exec = true;
        let mut out = format!("*{}\r\n", queued.len()).into_bytes();
        for cmd in &queued {
            let reply = self.handle(cmd);
            out.extend(reply);
        }
        self.reset_multi();
        out
    }

    /// `CommandClient`, after [`parse_client`].
    fn client(&mut self, cmd: &Command) -> Vec<u8> {
        match lossy(arg(cmd, 1)).to_ascii_lowercase().as_str() {
            "setname" => {
                self.name = Some(arg(cmd, 2).to_vec());
                simple("OK")
            }
            "getname" => self.name.as_deref().filter(|n| !n.is_empty()).map_or_else(|| NIL.to_vec(), bulk),
            "id" => int(self.id),
            "kill" if cmd.len() == 3 => err("No such client"),
            "kill" => int(0),
            _ => self.forward_here(cmd), // list, info
        }
    }

    /// `CommandNamespace`: `GET` only; the namespaces are fixed at start.
    fn namespace(&self, cmd: &Command) -> Vec<u8> {
        if !self.admin {
            return err(ADMIN_REQUIRED);
        }
        let sub = lossy(arg(cmd, 1)).to_ascii_lowercase();
        let wanted = lossy(arg(cmd, 2));
        match (sub.as_str(), cmd.len()) {
            ("get", 3) if wanted == "*" => {
                let password = self.requirepass();
                let tokens = self.shared.tokens.iter();
                let mut items: Vec<&[u8]> = tokens.flat_map(|(t, ns)| [ns.as_bytes(), t.as_bytes()]).collect();
                items.extend([DEFAULT_NAMESPACE.as_bytes(), password.as_bytes()]);
                array(&items)
            }
            ("get", 3) => match self.shared.tokens.iter().find(|(_, ns)| **ns == wanted) {
                Some((token, _)) => bulk(token.as_bytes()),
                None => NIL.to_vec(),
            },
            ("set" | "add", 4) | ("del", 3) => err("MockKvrocksTarget cannot change its namespaces"),
            _ => err("NAMESPACE subcommand must be one of GET, SET, DEL, ADD"),
        }
    }

    /// Forwards `cmd` to the backend of the connection's namespace.
    fn forward_here(&mut self, cmd: &[Vec<u8>]) -> Vec<u8> {
        let ns = self.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        self.forward(&ns, cmd)
    }

    /// Sends `cmd` to `ns`'s backend and returns its raw reply; an error reply naming the
    /// mock when the backend cannot be reached (its connection is dropped then).
    fn forward(&mut self, ns: &str, cmd: &[Vec<u8>]) -> Vec<u8> {
        match self.call(ns, cmd) {
            Ok(reply) => reply,
            Err(e) => {
                if let Some(b) = self.backends.remove(ns) {
                    self.shared.unregister(b.key);
                }
                err(&format!("MockKvrocksTarget: backend of namespace {ns}: {e}"))
            }
        }
    }

    fn call(&mut self, ns: &str, cmd: &[Vec<u8>]) -> io::Result<Vec<u8>> {
        let backend = self.backend(ns)?;
        backend.writer.write_all(&resp::encode(cmd))?;
        let mut reply = Vec::new();
        resp::read_reply(&mut backend.reader, &mut reply)?;
        Ok(reply)
    }

    /// The connection to `ns`'s backend, opened on first use.
    fn backend(&mut self, ns: &str) -> io::Result<&mut Backend> {
        if !self.backends.contains_key(ns) {
            let addr = self.shared.addrs.get(ns).ok_or(io::ErrorKind::NotFound)?;
            let stream = TcpStream::connect(addr)?;
            let _ = stream.set_nodelay(true);
            let key = self.shared.register(stream.try_clone()?);
            let backend = Backend { key, writer: stream.try_clone()?, reader: BufReader::new(stream) };
            self.backends.insert(ns.to_owned(), backend);
        }
        self.backends.get_mut(ns).ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    fn close_backends(&mut self) {
        for backend in std::mem::take(&mut self.backends).into_values() {
            self.shared.unregister(backend.key);
        }
    }
}

/// Argument `i`, empty when absent (the arity check ran before).
fn arg(cmd: &[Vec<u8>], i: usize) -> &[u8] {
    cmd.get(i).map_or(&[], Vec::as_slice)
}

/// Kvrocks' text for a command not in its table.
fn unknown_command(cmd: &[Vec<u8>]) -> Vec<u8> {
    let args: Vec<String> = cmd.iter().skip(1).map(|a| format!("`{}`", lossy(a))).collect();
    err(&format!("unknown command `{}`, with args beginning with: {}", lossy(arg(cmd, 0)), args.join(", ")))
}

/// The `Parse` step of the commands the mock runs itself (only `CLIENT` has one).
fn parse(name: &str, cmd: &[Vec<u8>]) -> Result<(), Vec<u8>> {
    if name == "client" {
        parse_client(cmd)
    } else {
        Ok(())
    }
}

/// `CommandClient::Parse`.
fn parse_client(cmd: &[Vec<u8>]) -> Result<(), Vec<u8>> {
    let sub = lossy(arg(cmd, 1)).to_ascii_lowercase();
    match (sub.as_str(), cmd.len()) {
        ("id" | "getname" | "list" | "info", 2) => Ok(()),
        ("setname", 3) if arg(cmd, 2).iter().all(|c| (b'!'..=b'~').contains(c)) => Ok(()),
        ("setname", 3) => Err(err("Client names cannot contain spaces, newlines or special characters")),
        ("kill", 2) => Err(err("syntax error")),
        ("kill", _) => Ok(()),
        _ => Err(err("Syntax error, try CLIENT LIST|INFO|KILL ip:port|GETNAME|SETNAME")),
    }
}

/// `CommandPing`.
fn ping(cmd: &[Vec<u8>]) -> Vec<u8> {
    match cmd.len() {
        1 => simple("PONG"),
        2 => bulk(arg(cmd, 1)),
        _ => err("wrong number of arguments"),
    }
}

/// `CommandKeys` takes only `<prefix>*`: one `*`, at the end.
fn is_prefix_pattern(pattern: &[u8]) -> bool {
    pattern.iter().position(|b| *b == b'*') == Some(pattern.len().wrapping_sub(1))
}
