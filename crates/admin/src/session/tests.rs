//! Session transcripts: every input is fed whole, a byte at a time and cut once at every offset, and
//! all ways must give the same replies, daemon calls and ending.

use std::sync::Mutex;

use super::*;
use crate::{Control, InfoSection};

#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
}

impl Fake {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl Control for Fake {
    fn attach(&self, host: &str, port: u16) -> Result<String, String> {
        self.record(format!("attach {host} {port}"));
        if host == "unreachable" {
            return Err(format!("cannot reach {host}:{port}"));
        }
        Ok("OK".into())
    }
    fn detach(&self) -> Result<String, String> {
        self.record("detach".into());
        Ok("OK".into())
    }
    fn info(&self) -> Vec<InfoSection> {
        vec![
            InfoSection::new("Server").field("version", "0.1.0"),
            InfoSection::new("Replication").field("role", "slave").field("lag_bytes", 0),
        ]
    }
    fn shutdown(&self) {
        self.record("shutdown".into());
    }
    fn metrics(&self) -> String {
        String::new()
    }
}

#[derive(Debug, PartialEq)]
struct Transcript {
    output: String,
    calls: Vec<String>,
    end: Option<Step>,
}

/// Runs `input`, fed in pieces cut at `cuts`, through a session as the driver would.
fn drive(password: Option<&str>, input: &[u8], cuts: &[usize]) -> Transcript {
    let fake = Fake::default();
    let mut session = Session::new(password.map(|p| Arc::from(p.as_bytes())));
    let (mut output, mut end, mut from) = (Vec::new(), None, 0);
    for &to in cuts.iter().chain([&input.len()]) {
        session.feed(&input[from..to]);
        from = to;
        while let Some(step) = session.poll() {
            match step {
                Step::Flush => output.extend(session.take_output()),
                Step::Ask(query) => session.answer(query.run(&fake)),
                Step::Shutdown => {
                    fake.shutdown();
                    end.get_or_insert(Step::Shutdown);
                }
                Step::Close => {
                    end.get_or_insert(Step::Close);
                }
            }
        }
        output.extend(session.take_output());
    }
    let calls = fake.calls.into_inner().unwrap();
    Transcript { output: String::from_utf8(output).unwrap(), calls, end }
}

fn every_way(password: Option<&str>, input: &str) -> Transcript {
    let input = input.as_bytes();
    let whole = drive(password, input, &[]);
    let bytes: Vec<usize> = (1..input.len()).collect();
    assert_eq!(drive(password, input, &bytes), whole, "byte at a time");
    for cut in 1..input.len() {
        assert_eq!(drive(password, input, &[cut]), whole, "cut at {cut}");
    }
    whole
}

/// Asserts the replies to `input` and that the connection stays open.
fn replies(input: &str, want: &str) {
    let t = every_way(None, input);
    assert_eq!(t.output, want, "{input:?}");
    assert_eq!(t.end, None);
}

#[test]
fn ping_echo_in_both_forms() {
    replies(
        "PING\r\nping hello\r\n*1\r\n$4\r\npInG\r\n*2\r\n$4\r\nECHO\r\n$3\r\na b\r\n",
        "+PONG\r\n$5\r\nhello\r\n+PONG\r\n$3\r\na b\r\n",
    );
    replies(
        "PING a b\r\nECHO\r\n",
        "-ERR wrong number of arguments for 'ping' command\r\n-ERR wrong number of arguments for 'echo' command\r\n",
    );
    replies("\r\n\n*0\r\n*-1\r\nPING\n", "+PONG\r\n");
}

#[test]
fn quit_replies_then_closes_and_ignores_the_rest() {
    let t = every_way(None, "PING\r\nQUIT\r\nPING\r\nSHUTDOWN\r\n");
    assert_eq!((t.output.as_str(), t.end), ("+PONG\r\n+OK\r\n", Some(Step::Close)));
    assert!(t.calls.is_empty());
}

#[test]
fn noauth_until_auth() {
    let input = "PING\r\nINFO\r\nREPLICAOF h 1\r\nSHUTDOWN\r\nNOSUCH\r\nAUTH nope\r\nAUTH bob s3cret\r\nAUTH s3cret\r\nPING\r\n";
    let t = every_way(Some("s3cret"), input);
    let noauth = "-NOAUTH Authentication required.\r\n";
    let wrong = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(t.output, format!("{}{wrong}{wrong}+OK\r\n+PONG\r\n", noauth.repeat(5)));
    assert!(t.calls.is_empty(), "nothing reached the daemon: {:?}", t.calls);
    assert_eq!(t.end, None);

    let t = every_way(Some("s3cret"), "*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$6\r\ns3cret\r\nSHUTDOWN\r\n");
    assert_eq!((t.output.as_str(), t.end), ("+OK\r\n+OK\r\n", Some(Step::Shutdown)));

    let t = every_way(Some("s3cret"), "HELLO 3\r\nQUIT\r\n");
    assert_eq!(t.output, "-NOPROTO unsupported protocol version\r\n+OK\r\n");
}

#[test]
fn auth_without_a_password() {
    replies(
        "AUTH x\r\nAUTH\r\nAUTH a b c\r\n",
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your \
         configuration is correct?\r\n-ERR wrong number of arguments for 'auth' command\r\n-ERR syntax error\r\n",
    );
}

#[test]
fn replicaof_attaches_and_detaches() {
    let t =
        every_way(None, "REPLICAOF 10.0.0.1 6379\r\nslaveof h 1\r\nreplicaof No oNe\r\nREPLICAOF unreachable 7\r\n");
    assert_eq!(t.output, "+OK\r\n+OK\r\n+OK\r\n-ERR cannot reach unreachable:7\r\n");
    assert_eq!(t.calls, ["attach 10.0.0.1 6379", "attach h 1", "detach", "attach unreachable 7"]);
}

#[test]
fn replicaof_rejects_bad_arguments() {
    let port = "-ERR Invalid master port\r\n";
    replies("REPLICAOF h 0\r\nREPLICAOF h 65536\r\nREPLICAOF h x\r\nREPLICAOF h -1\r\n", &port.repeat(4));
    replies(
        "REPLICAOF h\r\nSLAVEOF a b c\r\nREPLICAOF NO\r\n",
        "-ERR wrong number of arguments for 'replicaof' command\r\n\
         -ERR wrong number of arguments for 'slaveof' command\r\n\
         -ERR wrong number of arguments for 'replicaof' command\r\n",
    );
}

#[test]
fn info_sections() {
    let server = "# Server\r\nversion:0.1.0\r\n";
    let repl = "# Replication\r\nrole:slave\r\nlag_bytes:0\r\n";
    let all = format!("{server}\r\n{repl}");
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    for input in ["INFO\r\n", "INFO all\r\n", "info DEFAULT\r\n", "INFO everything\r\n", "INFO replication all\r\n"] {
        replies(input, &bulk(&all));
    }
    replies("INFO replication\r\n", &bulk(repl));
    replies("INFO REPLICATION server\r\n", &bulk(&all));
    replies("INFO nosuch\r\n", "$0\r\n\r\n");
}

#[test]
fn shutdown_replies_then_asks_the_daemon() {
    let t = every_way(None, "SHUTDOWN NOSAVE\r\nPING\r\n");
    assert_eq!((t.output.as_str(), t.end), ("+OK\r\n", Some(Step::Shutdown)));
    assert_eq!(t.calls, ["shutdown"]);
}

#[test]
fn what_redis_cli_sends() {
    replies(
        "COMMAND DOCS\r\nCOMMAND\r\ncommand count\r\nCLIENT SETNAME x\r\nCLIENT SETINFO lib-name y\r\nCLIENT\r\n",
        "*0\r\n*0\r\n:0\r\n+OK\r\n+OK\r\n-ERR wrong number of arguments for 'client' command\r\n",
    );
    replies(
        "SELECT 0\r\nSELECT 1\r\nSELECT x\r\nHELLO\r\n",
        "+OK\r\n-ERR DB index is out of range\r\n-ERR value is not an integer or out of range\r\n\
         -NOPROTO unsupported protocol version\r\n",
    );
}

#[test]
fn unknown_commands_like_redis() {
    replies("FOO\r\n", "-ERR unknown command 'FOO', with args beginning with: \r\n");
    replies("foo a  b\r\n", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    let long = "x".repeat(200);
    let want = format!("-ERR unknown command 'set', with args beginning with: 'k' '{}' \r\n", "x".repeat(124));
    replies(&format!("set k {long} more\r\n"), &want);
}

#[test]
fn protocol_errors_reply_then_close() {
    for (input, error) in [
        ("PING\r\n*99999999999\r\nPING\r\n", "too many arguments (max 64)"),
        ("PING\r\n*1\r\n$-5\r\nPING\r\n", "invalid bulk length"),
        ("PING\r\n*2\r\n$4\r\nECHO\r\n*1\r\n", "expected '$', got '*'"),
    ] {
        let t = every_way(None, input);
        assert_eq!(t.output, format!("+PONG\r\n-ERR Protocol error: {error}\r\n"));
        assert_eq!(t.end, Some(Step::Close));
    }
}

#[test]
fn oversized_inline_request_closes() {
    let mut input = vec![b'x'; 70 * 1024];
    input.extend_from_slice(b"\r\n");
    let t = drive(None, &input, &[1000, 40_000]);
    assert_eq!(t.output, "-ERR Protocol error: request longer than 65536 bytes\r\n");
    assert_eq!(t.end, Some(Step::Close));
}

#[test]
fn large_pipelines_are_flushed_in_steps() {
    let input = "ECHO 0123456789abcdef0123456789abcdef\r\n".repeat(10_000);
    let mut session = Session::new(None);
    session.feed(input.as_bytes());
    let (mut flushes, mut written) = (0, 0);
    while let Some(step) = session.poll() {
        assert_eq!(step, Step::Flush);
        flushes += 1;
        written += session.take_output().len();
    }
    written += session.take_output().len();
    assert!(flushes >= 5, "{flushes} flushes");
    assert_eq!(written, 10_000 * "$32\r\n0123456789abcdef0123456789abcdef\r\n".len());
}

#[test]
fn replies_stay_in_request_order_around_a_query() {
    let mut session = Session::new(None);
    session.feed(b"PING\r\nREPLICAOF NO ONE\r\nPING\r\n");
    assert_eq!(session.poll(), Some(Step::Ask(Query::Detach)));
    assert_eq!(session.take_output(), "+PONG\r\n");
    session.answer(Reply::Status("OK".into()));
    assert_eq!(session.poll(), None);
    assert_eq!(session.take_output(), "+OK\r\n+PONG\r\n");
}
