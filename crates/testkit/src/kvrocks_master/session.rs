//! One client connection of the mock master: commands in, Kvrocks' replies out, in the
//! order `Connection::ExecuteCommands` (`src/server/redis_connection.cc`) checks them:
//! unknown command, then authentication, then arity, then the command's own parsing.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::request::{parse_i64_like_strtol, parse_u64_like_strtoull, Command, Tokenizer};
use super::{feed, info, lock, Conn, Shared, POLL};

/// `kDefaultNamespace` (`src/config/config.h`).
const DEFAULT_NAMESPACE: &str = "__namespace";
/// `kReplIdLength` (`src/storage/storage.h`).
const REPL_ID_LEN: usize = 16;

/// Who the connection is, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    None,
    /// A namespace token's connection.
    User(String),
    Admin,
}

/// What the connection does after a command.
enum Next {
    Go,
    Close,
    /// PSYNC was accepted: feed batches from this index of the WAL, this sequence.
    Feed {
        start: usize,
        seq: u64,
    },
}

/// Serves one connection until it closes, the mock stops or PSYNC hands it to a feed.
pub(super) fn serve(shared: &Arc<Shared>, conn: &Arc<Conn>, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(POLL));
    let mut session = Session { shared, conn, stream, auth: Auth::None, tokenizer: Tokenizer::default() };
    if let Some((start, seq)) = session.run() {
        feed::run(shared, conn, session.stream, start, seq);
    }
}

struct Session<'a> {
    shared: &'a Shared,
    conn: &'a Conn,
    stream: TcpStream,
    auth: Auth,
    tokenizer: Tokenizer,
}

impl Session<'_> {
    /// Reads and answers commands; `Some((start, seq))` when PSYNC was accepted.
    fn run(&mut self) -> Option<(usize, u64)> {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            loop {
                match self.tokenizer.next(&mut buf) {
                    Ok(Some(cmd)) => match self.execute(&cmd) {
                        Next::Go => {}
                        Next::Close => return None,
                        Next::Feed { start, seq } => return Some((start, seq)),
                    },
                    Ok(None) => break,
                    Err(e) => {
                        self.reply(&format!("(protocol) {e}"), &err(e));
                        return None;
                    }
                }
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {
                    if self.shared.stopped() || self.conn.is_closed() {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    }

    fn execute(&mut self, cmd: &Command) -> Next {
        let line = cmd.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>().join(" ");
        lock(&self.shared.requests).push(line.clone());
        let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
        let Some(arity) = arity(&name) else {
            let args: Vec<String> = cmd[1..].iter().map(|a| format!("`{}`", String::from_utf8_lossy(a))).collect();
            let msg = format!("unknown command `{}`, with args beginning with: {}", lossy(&cmd[0]), args.join(", "));
            return self.reply(&line, &err(&msg));
        };
        if self.auth == Auth::None {
            if self.shared.password.is_none() {
                self.auth = Auth::Admin;
            } else if name != "auth" && name != "hello" {
                return self.reply(&line, b"-NOAUTH Authentication required.\r\n");
            }
        }
        let fits = if arity > 0 { cmd.len() == arity.unsigned_abs() } else { cmd.len() >= arity.unsigned_abs() };
        if !fits {
            return self.reply(&line, &err("wrong number of arguments"));
        }
        let (reply, next) = match name.as_str() {
            "_fetch_meta" => return self.fetch_meta(&line),
            "_fetch_file" => return self.fetch_file(&line, &cmd[1]),
            "_db_name" => (self.db_name(), Next::Go),
            "auth" => (self.auth(&cmd[1]), Next::Go),
            "config" => (self.config(cmd), Next::Go),
            "hello" => (self.hello(cmd), Next::Go),
            "info" => (self.info(cmd), Next::Go),
            "namespace" => (self.namespace(cmd), Next::Go),
            "ping" => (ping(cmd), Next::Go),
            "psync" => self.psync(cmd),
            "quit" => (b"+OK\r\n".to_vec(), Next::Close),
            "replconf" => (self.replconf(cmd), Next::Go),
            _ => (b"+OK\r\n".to_vec(), Next::Go), // select
        };
        if let Next::Feed { .. } = next {
            return next; // the feed sends `+OK`
        }
        match self.reply(&line, &reply) {
            Next::Go => next,
            closed => closed,
        }
    }

    /// Sends `reply` and logs it; `Close` when the socket failed.
    fn reply(&mut self, request: &str, reply: &[u8]) -> Next {
        self.shared.note(format!("conn {}: {} -> {}", self.conn.id, preview(request.as_bytes()), preview(reply)));
        match send(self.shared, self.conn, &mut self.stream, reply) {
            Ok(()) => Next::Go,
            Err(_) => Next::Close,
        }
    }

    fn auth(&mut self, password: &[u8]) -> Vec<u8> {
        match authenticate(self.shared, password) {
            Ok(auth) => {
                self.auth = auth;
                b"+OK\r\n".to_vec()
            }
            Err(msg) => err(msg),
        }
    }

    fn db_name(&self) -> Vec<u8> {
        let name = lock(&self.shared.config).get("db-name").cloned().unwrap_or_default();
        format!("{name}\r\n").into_bytes()
    }

    fn info(&self, cmd: &Command) -> Vec<u8> {
        if cmd.len() > 2 {
            return err("syntax error");
        }
        let section = cmd.get(1).map_or_else(|| "all".to_owned(), |s| lossy(s).to_ascii_lowercase());
        bulk(info::render(&self.shared.info_template, &section, &live(self.shared)).as_bytes())
    }

    fn config(&self, cmd: &Command) -> Vec<u8> {
        if self.auth != Auth::Admin {
            return err(ADMIN_REQUIRED);
        }
        let sub = lossy(&cmd[1]).to_ascii_lowercase();
        let mut config = lock(&self.shared.config);
        match (sub.as_str(), cmd.len()) {
            ("get", 3) => {
                let key = lossy(&cmd[2]).to_ascii_lowercase();
                let pairs: Vec<&[u8]> = config
                    .iter()
                    .filter(|(k, _)| key == "*" || **k == key)
                    .flat_map(|(k, v)| [k.as_bytes(), v.as_bytes()])
                    .collect();
                array(&pairs)
            }
            ("set", 4) => {
                config.insert(lossy(&cmd[2]).to_ascii_lowercase(), lossy(&cmd[3]));
                b"+OK\r\n".to_vec()
            }
            ("rewrite", 2) => b"+OK\r\n".to_vec(),
            ("get" | "set" | "rewrite", _) => err("wrong number of arguments"),
            _ => err("CONFIG subcommand must be one of GET, SET, REWRITE"),
        }
    }

    fn namespace(&self, cmd: &Command) -> Vec<u8> {
        if self.auth != Auth::Admin {
            return err(ADMIN_REQUIRED);
        }
        let sub = lossy(&cmd[1]).to_ascii_lowercase();
        let ns = lossy(&cmd[2]);
        let mut tokens = lock(&self.shared.tokens);
        match (sub.as_str(), cmd.len()) {
            ("get", 3) if ns == "*" => {
                let password = self.shared.password.clone().unwrap_or_default();
                let mut items: Vec<&[u8]> = tokens.iter().flat_map(|(t, n)| [n.as_bytes(), t.as_bytes()]).collect();
                items.extend([DEFAULT_NAMESPACE.as_bytes(), password.as_bytes()]);
                array(&items)
            }
            ("get", 3) => match tokens.iter().find(|(_, n)| **n == ns) {
                Some((token, _)) => bulk(token.as_bytes()),
                None => b"$-1\r\n".to_vec(),
            },
            ("add" | "set", 4) => {
                tokens.retain(|_, n| *n != ns);
                tokens.insert(lossy(&cmd[3]), ns);
                b"+OK\r\n".to_vec()
            }
            ("del", 3) => {
                tokens.retain(|_, n| *n != ns);
                b"+OK\r\n".to_vec()
            }
            _ => err("NAMESPACE subcommand must be one of GET, SET, DEL, ADD"),
        }
    }

    /// `CommandHello` with `resp3-enabled no`: always RESP2.
    fn hello(&mut self, cmd: &Command) -> Vec<u8> {
        let mut next = 1;
        if let Some(proto) = cmd.get(1) {
            next = 2;
            match parse_i64_like_strtol(proto) {
                None => return err("Protocol version is not an integer or out of range"),
                Some(2 | 3) => {}
                Some(_) => return b"-NOPROTO unsupported protocol version\r\n".to_vec(),
            }
        }
        while next < cmd.len() {
            let more = cmd.len() - next - 1;
            let opt = lossy(&cmd[next]).to_ascii_lowercase();
            if opt == "auth" && more != 0 {
                if more == 2 || more == 4 {
                    if cmd[next + 1] != b"default" {
                        return err("Invalid password");
                    }
                    next += 1;
                }
                match authenticate(self.shared, &cmd[next + 1]) {
                    Ok(auth) => self.auth = auth,
                    Err(msg) => return err(msg),
                }
                next += 2;
            } else if opt == "setname" && more != 0 {
                next += 2;
            } else {
                return err(&format!("Syntax error in HELLO option {}", lossy(&cmd[next])));
            }
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

    fn replconf(&self, cmd: &Command) -> Vec<u8> {
        if cmd.len().is_multiple_of(2) {
            return err("wrong number of arguments");
        }
        let mut announce = lock(&self.conn.announce).clone();
        for pair in cmd[1..].chunks(2) {
            let value = &pair[1];
            match lossy(&pair[0]).to_ascii_lowercase().as_str() {
                "listening-port" => match parse_i64_like_strtol(value).and_then(|p| u16::try_from(p).ok()) {
                    Some(port) if port > 0 => announce.0 = port,
                    _ => return err("listening-port should be number or out of range"),
                },
                "ip-address" if value.is_empty() => return err("ip-address should not be empty"),
                "ip-address" => announce.1 = Some(lossy(value)),
                _ => return err("unknown option"),
            }
        }
        *lock(&self.conn.announce) = announce;
        b"+OK\r\n".to_vec()
    }

    /// `CommandPSync` (`src/commands/cmd_replication.cc`).
    fn psync(&mut self, cmd: &Command) -> (Vec<u8>, Next) {
        let seq_arg = if cmd.len() == 3 { 2 } else { 1 };
        let Some(seq) = parse_u64_like_strtoull(&cmd[seq_arg]) else {
            return (err("value is not an unsigned long long or out of range"), Next::Go);
        };
        if cmd.len() == 3 && cmd[1].len() != REPL_ID_LEN {
            return (err("Wrong replication id length"), Next::Go);
        }
        // With `use-rsid-psync yes` Kvrocks compares the replid with the one its WAL
        // holds; the mock's batches carry none, which Kvrocks treats as "no check" too.
        let wal = lock(&self.shared.wal);
        let Some(start) = wal.boundary(seq) else {
            self.shared.stats.sync_partial_err.fetch_add(1, Ordering::SeqCst);
            return (err("sequence out of range, please use fullsync"), Next::Go);
        };
        drop(wal);
        self.shared.stats.sync_partial_ok.fetch_add(1, Ordering::SeqCst);
        self.conn.next_seq.store(seq, Ordering::SeqCst);
        self.conn.feeding.store(true, Ordering::SeqCst);
        self.shared.note(format!("conn {}: PSYNC {seq} accepted, feeding from batch #{start}", self.conn.id));
        (Vec::new(), Next::Feed { start, seq })
    }

    /// `CommandFetchMeta`: the checkpoint's file names on one raw line, then close.
    fn fetch_meta(&mut self, line: &str) -> Next {
        self.shared.stats.sync_full.fetch_add(1, Ordering::SeqCst);
        let reply = match self.shared.checkpoint_listing().filter(|names| !names.is_empty()) {
            Some(names) => {
                self.shared.stats.fetch_meta_served.fetch_add(1, Ordering::SeqCst);
                format!("{}\r\n", names.join(",")).into_bytes()
            }
            None => b"-can't create db checkpoint\r\n".to_vec(),
        };
        self.reply(line, &reply);
        Next::Close
    }

    /// `CommandFetchFile`: per file `<size>\r\n` and its bytes; a missing file ends it.
    fn fetch_file(&mut self, line: &str, names: &[u8]) -> Next {
        self.shared.stats.fetch_file.fetch_add(1, Ordering::SeqCst);
        self.shared.note(format!("conn {}: {}", self.conn.id, preview(line.as_bytes())));
        for name in lossy(names).split(',').filter(|n| !n.is_empty()) {
            let Some(data) = self.shared.checkpoint_file(name).and_then(|p| std::fs::read(p).ok()) else {
                self.shared.note(format!("conn {}: no checkpoint file {name:?}, closing", self.conn.id));
                break;
            };
            let head = format!("{}\r\n", data.len());
            let sent = send(self.shared, self.conn, &mut self.stream, head.as_bytes())
                .and_then(|()| send(self.shared, self.conn, &mut self.stream, &data));
            if sent.is_err() {
                break;
            }
            self.shared.note(format!("conn {}: sent {name} ({} bytes)", self.conn.id, data.len()));
        }
        Next::Close
    }
}

const ADMIN_REQUIRED: &str = "admin permission required to perform the command";

/// `Server::AuthenticateUser`: a namespace token first, then the password.
fn authenticate(shared: &Shared, password: &[u8]) -> Result<Auth, &'static str> {
    let Some(required) = &shared.password else { return Err("Client sent AUTH, but no password is set") };
    let password = lossy(password);
    if let Some(ns) = lock(&shared.tokens).get(&password) {
        return Ok(Auth::User(ns.clone()));
    }
    if password == *required {
        Ok(Auth::Admin)
    } else {
        Err("Invalid password")
    }
}

/// Kvrocks' arity of the commands the mock knows (`REDIS_REGISTER_COMMANDS`): exact when
/// positive, a minimum when negative; `None` for a command the mock does not know.
fn arity(name: &str) -> Option<isize> {
    Some(match name {
        "auth" | "select" | "_fetch_file" => 2,
        "ping" | "info" | "hello" => -1,
        "config" | "psync" => -2,
        "namespace" | "replconf" => -3,
        "quit" | "_fetch_meta" | "_db_name" => 1,
        _ => return None,
    })
}

fn ping(cmd: &Command) -> Vec<u8> {
    match cmd.len() {
        1 => b"+PONG\r\n".to_vec(),
        2 => bulk(&cmd[1]),
        _ => err("wrong number of arguments"),
    }
}

/// The live values of an `INFO` reply.
fn live(shared: &Shared) -> info::Live {
    let replicas = lock(&shared.conns)
        .iter()
        .filter(|c| c.feeding.load(Ordering::SeqCst) && !c.is_closed())
        .map(|c| {
            let (port, ip) = lock(&c.announce).clone();
            info::ReplicaLine {
                ip: ip.unwrap_or_else(|| c.peer.ip().to_string()),
                port,
                offset: c.next_seq.load(Ordering::SeqCst),
            }
        })
        .collect();
    let stats = &shared.stats;
    info::Live {
        port: shared.port,
        latest_seq: lock(&shared.wal).latest(),
        sync_full: stats.sync_full.load(Ordering::SeqCst),
        sync_partial_ok: stats.sync_partial_ok.load(Ordering::SeqCst),
        sync_partial_err: stats.sync_partial_err.load(Ordering::SeqCst),
        replicas,
    }
}

/// Writes all of `data`, waiting out timeouts while the connection and the mock live.
pub(super) fn send(shared: &Shared, conn: &Conn, stream: &mut TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        if shared.stopped() || conn.is_closed() {
            return Err(ErrorKind::ConnectionAborted.into());
        }
        match stream.write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

pub(super) fn err(msg: &str) -> Vec<u8> {
    format!("-ERR {msg}\r\n").into_bytes()
}

pub(super) fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn array(items: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend(bulk(item));
    }
    out
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// At most 80 bytes of `bytes`, escaped, for the log.
fn preview(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(80).flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
    if bytes.len() > 80 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}
