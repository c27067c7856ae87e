//! What each admin command means: arity, arguments, authentication, and the [`Outcome`] the session
//! acts on. Answers that need the daemon are a [`Query`], run against [`Control`] by the driver.
//! Replies and error texts follow redis-server's (`server.c: processCommand`, `replication.c:
//! replicaofCommand`).

use std::borrow::Cow;

use crate::auth::{Auth, NOAUTH};
use crate::reply::{Reply, OK};
use crate::{render_info, Control};

/// What the session does with a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send this reply.
    Reply(Reply),
    /// Ask the daemon, then send its answer.
    Ask(Query),
    /// `QUIT`: reply `+OK`, then close.
    Quit,
    /// `SHUTDOWN`: reply `+OK`, close, then tell the daemon.
    Shutdown,
}

/// A request the daemon must answer; [`Query::run`] turns its answer into the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    /// `REPLICAOF host port`.
    Attach {
        /// The master's host.
        host: String,
        /// The master's port.
        port: u16,
    },
    /// `REPLICAOF NO ONE`.
    Detach,
    /// `INFO`; `None` for every section, else the names asked for (matched case-insensitively).
    Info(Option<Vec<String>>),
}

impl Query {
    /// Whether the daemon may take a while (run it off the async runtime).
    pub(crate) fn may_block(&self) -> bool {
        !matches!(self, Query::Info(_))
    }

    /// Asks the daemon and builds the reply.
    pub(crate) fn run(self, control: &dyn Control) -> Reply {
        let status = match self {
            Query::Attach { host, port } => control.attach(&host, port),
            Query::Detach => control.detach(),
            Query::Info(names) => return Reply::Bulk(info(control, names.as_deref()).into_bytes()),
        };
        match status {
            Ok(line) => Reply::Status(line.into()),
            Err(message) => Reply::error(format!("ERR {message}")),
        }
    }
}

fn info(control: &dyn Control, names: Option<&[String]>) -> String {
    let sections = control.info();
    let wanted = |name: &str| names.is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(name)));
    render_info(sections.iter().filter(|s| wanted(&s.name)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Ping,
    Echo,
    Quit,
    Auth,
    Hello,
    ReplicaOf,
    SlaveOf,
    Info,
    Shutdown,
    Command,
    Client,
    Select,
}

const NAMES: [(&str, Name); 12] = [
    ("ping", Name::Ping),
    ("echo", Name::Echo),
    ("quit", Name::Quit),
    ("auth", Name::Auth),
    ("hello", Name::Hello),
    ("replicaof", Name::ReplicaOf),
    ("slaveof", Name::SlaveOf),
    ("info", Name::Info),
    ("shutdown", Name::Shutdown),
    ("command", Name::Command),
    ("client", Name::Client),
    ("select", Name::Select),
];

fn lookup(name: &[u8]) -> Option<(&'static str, Name)> {
    NAMES.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name)).copied()
}

/// Interprets one request: its command name and the arguments after it.
pub(crate) fn execute(name: &[u8], rest: &[&[u8]], auth: &mut Auth) -> Outcome {
    let command = lookup(name);
    let exempt = matches!(command, Some((_, Name::Auth | Name::Hello | Name::Quit)));
    if !auth.passed() && !exempt {
        return Outcome::Reply(Reply::error(NOAUTH));
    }
    let Some((canonical, command)) = command else { return Outcome::Reply(unknown(name, rest)) };
    match command {
        Name::Quit => Outcome::Quit,
        Name::Shutdown => Outcome::Shutdown,
        Name::ReplicaOf | Name::SlaveOf => replicaof(canonical, rest),
        Name::Info => Outcome::Ask(Query::Info(sections(rest))),
        Name::Auth => Outcome::Reply(auth_command(rest, auth)),
        _ => Outcome::Reply(simple(canonical, command, rest)),
    }
}

/// The commands answered without the daemon.
fn simple(canonical: &str, command: Name, rest: &[&[u8]]) -> Reply {
    match (command, rest) {
        (Name::Ping, []) => Reply::Status("PONG".into()),
        (Name::Ping | Name::Echo, [message]) => Reply::Bulk(message.to_vec()),
        (Name::Hello, _) => Reply::error("NOPROTO unsupported protocol version"),
        (Name::Command, [sub, ..]) if sub.eq_ignore_ascii_case(b"count") => Reply::Integer(0),
        (Name::Command, _) => Reply::EmptyArray,
        (Name::Client, [_, ..]) => OK,
        (Name::Select, [db]) => select(db),
        _ => arity(canonical),
    }
}

fn auth_command(rest: &[&[u8]], auth: &mut Auth) -> Reply {
    match rest {
        [password] => auth.check(None, password),
        [user, password] => auth.check(Some(user), password),
        [] => arity("auth"),
        _ => Reply::error("ERR syntax error"),
    }
}

fn replicaof(canonical: &str, rest: &[&[u8]]) -> Outcome {
    let [host, port] = rest else { return Outcome::Reply(arity(canonical)) };
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        return Outcome::Ask(Query::Detach);
    }
    let Some(port) = parse::<u16>(port).filter(|&p| p > 0) else {
        return Outcome::Reply(Reply::error("ERR Invalid master port"));
    };
    match std::str::from_utf8(host) {
        Ok(host) if !host.is_empty() => Outcome::Ask(Query::Attach { host: host.to_owned(), port }),
        _ => Outcome::Reply(Reply::error("ERR Invalid master host")),
    }
}

/// `INFO [section ...]`: `None` means every section.
fn sections(rest: &[&[u8]]) -> Option<Vec<String>> {
    let all = |a: &&[u8]| [&b"default"[..], b"all", b"everything"].iter().any(|w| w.eq_ignore_ascii_case(a));
    if rest.is_empty() || rest.iter().any(all) {
        return None;
    }
    Some(rest.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect())
}

fn select(db: &[u8]) -> Reply {
    match parse::<i64>(db) {
        Some(0) => OK,
        Some(_) => Reply::error("ERR DB index is out of range"),
        None => Reply::error("ERR value is not an integer or out of range"),
    }
}

fn parse<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn arity(canonical: &str) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{canonical}' command"))
}

/// redis-server's reply to an unknown command: the name and up to 128 bytes of quoted arguments.
fn unknown(name: &[u8], rest: &[&[u8]]) -> Reply {
    const SHOWN: usize = 128;
    let mut shown = String::new();
    for arg in rest {
        let room = SHOWN.saturating_sub(shown.len());
        if room == 0 {
            break;
        }
        shown.push('\'');
        shown.push_str(&lossy(arg, room));
        shown.push_str("' ");
    }
    let name = lossy(name, SHOWN);
    Reply::error(format!("ERR unknown command '{name}', with args beginning with: {shown}"))
}

fn lossy(bytes: &[u8], max: usize) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes.get(..max).unwrap_or(bytes))
}
