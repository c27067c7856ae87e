//! The client port (RESP): the commands a replica tool asks a Pika 4.0.1 master before it
//! replicates, answered as `PikaClientConn::DoCmd` and the commands of `src/pika_admin.cc`
//! do. Checked in Pika's order: unknown command, then authentication, then arity.
//!
//! * `AUTH [user] <password>` → `+OK`; `-WRONGPASS invalid username-password pair or user
//!   is disabled.`; `-ERR Client sent AUTH, but no password is set`.
//! * Before `AUTH` (with a requirepass) every command but `AUTH`/`HELLO`/`QUIT` gets
//!   `-ERR NOAUTH Authentication required.`; an unknown one `-ERR unknown command "x"`.
//! * `PING` → `+PONG`; `QUIT` → `+OK`, closed; `SELECT <n>` → `+OK` below `databases`.
//! * `INFO [section]` (see [`info`](super::info)).
//! * `CONFIG GET <glob>`: `port`, `requirepass`, `masterauth`, `userpass`,
//!   `instance-mode`, `databases`, `expire-logs-days`, `expire-logs-nums`,
//!   `binlog-file-size`, `sync-window-size` in Pika's order, then the builder's extra
//!   fields. Pika 4.0.1 has no `db-instance-num` there (MetaSync carries it): an empty list.

use std::net::TcpStream;
use std::sync::Arc;

use super::wire::{read_some, write_all};
use super::{info, Conn, Shared, POLL};

/// Serves one connection until it closes or the mock stops.
pub(super) fn serve(shared: &Arc<Shared>, conn: &Arc<Conn>, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(POLL));
    let alive = || !shared.stopped() && !conn.is_closed();
    let mut input = Vec::new();
    let mut authed = shared.settings.requirepass.is_none();
    while alive() {
        match read_some(&mut stream, &mut input) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        loop {
            let args = match next_command(&mut input) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(e) => {
                    let _ = write_all(&mut stream, format!("-ERR Protocol error: {e}\r\n").as_bytes(), alive);
                    return;
                }
            };
            let line: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            shared.request(line.join(" "));
            let (reply, close) = execute(shared, &mut authed, &line);
            shared.note(format!("client {}: {} -> {}", conn.id, preview(&line.join(" ")), preview(&reply)));
            if write_all(&mut stream, reply.as_bytes(), alive).is_err() || close {
                return;
            }
        }
    }
}

/// The reply to one command, and whether to close afterwards.
fn execute(shared: &Shared, authed: &mut bool, args: &[String]) -> (String, bool) {
    let name = args.first().map(|a| a.to_ascii_lowercase()).unwrap_or_default();
    let Some(arity) = arity(&name) else { return (format!("-ERR unknown command \"{name}\"\r\n"), false) };
    if !*authed && !matches!(name.as_str(), "auth" | "hello" | "quit") {
        return ("-ERR NOAUTH Authentication required.\r\n".into(), false);
    }
    let fits = if arity > 0 { args.len() == arity.unsigned_abs() } else { args.len() >= arity.unsigned_abs() };
    if !fits {
        return (format!("-ERR wrong number of arguments for '{name}' command\r\n"), false);
    }
    let settings = &shared.settings;
    let reply = match name.as_str() {
        "auth" => {
            let password = args.last().cloned().unwrap_or_default();
            match &settings.requirepass {
                None => "-ERR Client sent AUTH, but no password is set\r\n".into(),
                Some(pass) if *pass == password && (args.len() == 2 || args[1] == "default") => {
                    *authed = true;
                    "+OK\r\n".into()
                }
                Some(_) => "-WRONGPASS invalid username-password pair or user is disabled.\r\n".into(),
            }
        }
        "ping" => "+PONG\r\n".into(),
        "quit" => return ("+OK\r\n".into(), true),
        "select" => match args[1].parse::<usize>() {
            Ok(n) if n < settings.dbs.len() => "+OK\r\n".into(),
            _ => "-ERR invalid DB index for 'select DB index is out of range'\r\n".into(),
        },
        "info" => match info::render(&settings.info, &args[1..], &info::live(shared)) {
            Some(text) => bulk(&text),
            None => "-ERR syntax error\r\n".into(),
        },
        "config" => config(shared, args),
        _ => "+OK\r\n".into(),
    };
    (reply, false)
}

/// Arity of the commands the mock knows (`src/pika_command.cc`).
fn arity(name: &str) -> Option<isize> {
    Some(match name {
        "auth" | "config" => -2,
        "info" | "hello" => -1,
        "ping" | "quit" => 1,
        "select" => 2,
        _ => return None,
    })
}

/// `ConfigCmd::ConfigGet`: a glob (case-insensitive) over the known fields.
fn config(shared: &Shared, args: &[String]) -> String {
    if !args[1].eq_ignore_ascii_case("get") {
        return "-ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE\r\n".into();
    }
    if args.len() != 3 {
        return "-ERR wrong number of arguments for 'config' command\r\n".into();
    }
    let pattern = args[2].to_ascii_lowercase();
    let fields = config_fields(shared);
    let matched: Vec<&(String, String)> =
        fields.iter().filter(|(name, _)| glob(pattern.as_bytes(), name.as_bytes())).collect();
    let mut out = format!("*{}\r\n", matched.len() * 2);
    for (name, value) in matched {
        out.push_str(&bulk(name));
        out.push_str(&bulk(value));
    }
    out
}

/// The `CONFIG GET` fields, in Pika's order, then the builder's.
fn config_fields(shared: &Shared) -> Vec<(String, String)> {
    let s = &shared.settings;
    let mut fields: Vec<(String, String)> = [
        ("port", shared.port.to_string()),
        ("requirepass", s.requirepass.clone().unwrap_or_default()),
        ("masterauth", String::new()),
        ("userpass", String::new()),
        ("instance-mode", "classic".into()),
        ("databases", s.dbs.len().to_string()),
        ("expire-logs-days", "7".into()),
        ("expire-logs-nums", "10".into()),
        ("binlog-file-size", s.binlog_file_size.to_string()),
        ("sync-window-size", s.pace.window.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (name, value) in &s.config {
        match fields.iter_mut().find(|(k, _)| k == name) {
            Some(field) => field.1.clone_from(value),
            None => fields.push((name.clone(), value.clone())),
        }
    }
    fields
}

/// `stringmatch` with `*`, `?` and `[...]` (no escapes).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().position(|b| *b == b']') else { return false };
            let (set, rest) = (&rest[..close], &rest[close + 1..]);
            let Some((first, tail)) = text.split_first() else { return false };
            let (negate, set) = match set.split_first() {
                Some((b'^', set)) => (true, set),
                _ => (false, set),
            };
            set.contains(first) != negate && glob(rest, tail)
        }
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

fn bulk(text: &str) -> String {
    format!("${}\r\n{text}\r\n", text.len())
}

/// The next command in `input`: a RESP array of bulks, or an inline line.
fn next_command(input: &mut Vec<u8>) -> Result<Option<Vec<Vec<u8>>>, String> {
    let Some(eol) = input.iter().position(|b| *b == b'\n') else { return Ok(None) };
    if input.first() != Some(&b'*') {
        let line: Vec<u8> = input.drain(..=eol).collect();
        let words = line.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect();
        return Ok(Some(words));
    }
    let number = |text: &[u8]| std::str::from_utf8(text).ok().and_then(|t| t.trim_end().parse::<usize>().ok());
    let count = number(&input[1..eol]).ok_or("invalid multibulk length")?;
    let mut at = eol + 1;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let Some(len_end) = input[at..].iter().position(|b| *b == b'\n').map(|p| at + p) else { return Ok(None) };
        if input.get(at) != Some(&b'$') {
            return Err("expected '$'".into());
        }
        let len = number(&input[at + 1..len_end]).ok_or("invalid bulk length")?;
        let start = len_end + 1;
        if input.len() < start + len + 2 {
            return Ok(None);
        }
        args.push(input[start..start + len].to_vec());
        at = start + len + 2;
    }
    input.drain(..at);
    Ok(Some(args))
}

/// At most 80 characters of `text`, escaped, for the log.
fn preview(text: &str) -> String {
    let shown: String = text.chars().take(80).flat_map(char::escape_default).collect();
    if text.len() > 80 {
        format!("{shown}... ({} bytes)", text.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_and_globs_match() {
        let mut input = b"*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\nPING\r\n*1\r\n$4\r\nPI".to_vec();
        assert_eq!(next_command(&mut input).unwrap(), Some(vec![b"INFO".to_vec(), b"replication".to_vec()]));
        assert_eq!(next_command(&mut input).unwrap(), Some(vec![b"PING".to_vec()]));
        assert_eq!(next_command(&mut input).unwrap(), None);
        input.extend_from_slice(b"NG\r\n");
        assert_eq!(next_command(&mut input).unwrap(), Some(vec![b"PING".to_vec()]));
        assert!(glob(b"*", b"databases"));
        assert!(glob(b"expire-logs-*", b"expire-logs-nums"));
        assert!(glob(b"d?tabase[sx]", b"databases"));
        assert!(!glob(b"database", b"databases"));
    }
}
