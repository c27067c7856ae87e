//! The mock Kvrocks master against the captures of a real Kvrocks 2.10.1: a raw TCP
//! client gets exactly the bytes the real server sent (`_fetch_meta`, `_fetch_file`,
//! `PSYNC` accepted and refused), and the rest of the protocol behaves as Kvrocks' source
//! says (authentication, errors, batch boundaries, pushed batches, cuts).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use replicant_testkit::kvrocks_master::capture::{split_bulks, stream_batches, HEARTBEAT};
use replicant_testkit::kvrocks_master::kvrocks_capture;
use replicant_testkit::MockKvrocks;

const CASES: [&str; 2] = ["v2.10.1-types", "v2.10.1-sst"];
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw RESP client.
struct Client(TcpStream);

impl Client {
    fn connect(master: &MockKvrocks) -> Client {
        let stream = TcpStream::connect(master.addr()).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client(stream)
    }

    /// Connects and authenticates with the captures' password.
    fn authed(master: &MockKvrocks) -> Client {
        let mut c = Client::connect(master);
        assert_eq!(c.call(&["AUTH", "adminpass"]), b"+OK\r\n");
        c
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.0.write_all(&out).unwrap();
    }

    /// Sends a command and reads one line of reply (a simple reply or an error).
    fn call(&mut self, args: &[&str]) -> Vec<u8> {
        self.send(args);
        self.line()
    }

    fn line(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while !out.ends_with(b"\r\n") {
            out.extend(self.exact(1));
        }
        out
    }

    fn exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.0.read_exact(&mut buf).unwrap();
        buf
    }

    fn expect(&mut self, expected: &[u8]) {
        let got = self.exact(expected.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
    }

    fn bulk(&mut self) -> Vec<u8> {
        let head = self.line();
        assert_eq!(head[0], b'$', "{}", String::from_utf8_lossy(&head));
        let len: usize = std::str::from_utf8(&head[1..head.len() - 2]).unwrap().parse().unwrap();
        let body = self.exact(len + 2);
        body[..len].to_vec()
    }

    fn until_closed(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.read_to_end(&mut out).unwrap();
        out
    }

    /// Whether the server closed the connection within `within`.
    fn closed_within(&mut self, within: Duration) -> bool {
        self.0.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 64];
        let deadline = Instant::now() + within;
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return true,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
                Ok(_) if Instant::now() > deadline => return false,
                Ok(_) => {} // heartbeats
            }
        }
    }
}

fn case(name: &str) -> PathBuf {
    kvrocks_capture(name)
}

fn file(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&file(dir, "capture-meta.json")).unwrap()
}

#[test]
fn kvrocks_fetch_meta_is_byte_exact() {
    for name in CASES {
        let master = MockKvrocks::from_capture(name).start();
        let mut c = Client::authed(&master);
        c.send(&["_fetch_meta"]);
        assert_eq!(c.until_closed(), file(&case(name), "fetch_meta.bin"), "{name}");
        assert_eq!(master.fetch_count(), 1);
        assert_eq!(master.requests(), ["AUTH adminpass", "_fetch_meta"]);
    }
}

#[test]
fn kvrocks_fetch_file_is_byte_exact() {
    for name in CASES {
        let dir = case(name);
        let master = MockKvrocks::from_capture(name).start();
        let list = String::from_utf8(file(&dir, "fetch_meta.bin")).unwrap().trim_end().to_owned();
        let mut c = Client::authed(&master);
        c.send(&["_fetch_file", &list]);
        let got = c.until_closed();
        assert!(got == file(&dir, "fetch_file.bin"), "{name}: {} bytes, not the capture's", got.len());
        assert_eq!(master.requests().last().unwrap(), &format!("_fetch_file {list}"));
    }
}

#[test]
fn kvrocks_fetch_file_stops_at_a_missing_file() {
    let master = MockKvrocks::from_capture("v2.10.1-types").start();
    let mut c = Client::authed(&master);
    c.send(&["_fetch_file", "CURRENT,NOPE,OPTIONS-000013"]);
    let current = file(&case("v2.10.1-types").join("checkpoint"), "CURRENT");
    let mut expected = format!("{}\r\n", current.len()).into_bytes();
    expected.extend(current);
    assert_eq!(c.until_closed(), expected);
}

/// The capture's stream as the mock must send it: `stream.bin` is `psync_first.bin`, the
/// bulks received after each write (`stream.jsonl`) and `heartbeat.bin`; the mock's WAL
/// already holds every batch, so it sends them back to back, without the heartbeats the
/// real server sent between writes.
fn expected_stream(dir: &Path) -> Vec<u8> {
    let stream = file(dir, "stream.bin");
    let first = file(dir, "psync_first.bin");
    let heartbeat = file(dir, "heartbeat.bin");
    assert!(stream.starts_with(&first) && stream.ends_with(&heartbeat));
    let bulks = split_bulks(&stream[first.len()..stream.len() - heartbeat.len()]);
    let reps: Vec<Vec<u8>> = bulks.into_iter().filter(|b| b != b"ping").collect();
    assert_eq!(reps, stream_batches(dir), "stream.bin and stream.jsonl hold the same batches");
    let mut out = first;
    for rep in reps {
        out.extend(format!("${}\r\n", rep.len()).into_bytes());
        out.extend(rep);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn kvrocks_psync_streams_the_capture() {
    for name in CASES {
        let dir = case(name);
        let psync_arg = meta(&dir)["psync_arg"].as_u64().unwrap().to_string();
        let master = MockKvrocks::from_capture(name).heartbeat(Duration::from_millis(500)).start();
        let mut c = Client::authed(&master);
        c.send(&["PSYNC", &psync_arg]);
        let expected = expected_stream(&dir);
        assert_eq!(c.exact(expected.len()), expected, "{name}");
        assert_eq!(c.exact(HEARTBEAT.len()), HEARTBEAT, "{name}: then a heartbeat");
        assert_eq!(c.exact(HEARTBEAT.len()), HEARTBEAT, "{name}: and another");
        assert_eq!(master.requests().last().unwrap(), &format!("PSYNC {psync_arg}"));
    }
}

#[test]
fn kvrocks_psync_out_of_range_is_byte_exact() {
    for name in CASES {
        let master = MockKvrocks::from_capture(name).start();
        let mut c = Client::authed(&master);
        assert_eq!(c.call(&["PSYNC", "999999999"]), file(&case(name), "out_of_range.bin"), "{name}");
        // The connection stays usable, as in Kvrocks.
        assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    }
}

#[test]
fn kvrocks_psync_needs_a_batch_boundary() {
    let dir = case("v2.10.1-types");
    let after = meta(&dir)["sequence_after_stream"].as_u64().unwrap();
    let master = MockKvrocks::from_capture("v2.10.1-types").start();
    assert_eq!(master.latest_sequence(), after);
    let out_of_range = file(&dir, "out_of_range.bin");
    // The last batch (seq 185) holds 2 records: 186 is inside it, 187 is latest + 1.
    let mut c = Client::authed(&master);
    assert_eq!(c.call(&["PSYNC", &after.to_string()]), out_of_range);
    assert_eq!(c.call(&["PSYNC", "98"]), out_of_range, "before the first batch");
    assert_eq!(c.call(&["PSYNC", "-1"]), out_of_range, "strtoull wraps -1 to 2^64-1");
    assert_eq!(c.call(&["PSYNC", "x"]), b"-ERR value is not an unsigned long long or out of range\r\n");
    assert_eq!(c.call(&["PSYNC", "?", "-1"]), b"-ERR Wrong replication id length\r\n");
    assert_eq!(c.call(&["PSYNC"]), b"-ERR wrong number of arguments\r\n");
    assert_eq!(c.call(&["PSYNC", &(after + 1).to_string()]), b"+OK\r\n");

    let mut c = Client::authed(&master);
    assert_eq!(c.call(&["PSYNC", "0123456789abcdef", "185"]), b"+OK\r\n", "rsid form, replid unchecked");
    let last = stream_batches(&dir).pop().unwrap();
    assert_eq!(c.bulk(), last, "the last batch, seq 185");

    master.purge_before(150);
    let mut c = Client::authed(&master);
    assert_eq!(c.call(&["PSYNC", "120"]), out_of_range, "purged");
    assert_eq!(c.call(&["PSYNC", "99"]), out_of_range, "purged");
}

fn rep(seq: u64, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut r = seq.to_le_bytes().to_vec();
    r.extend_from_slice(&count.to_le_bytes());
    r.extend_from_slice(payload);
    r
}

fn bulk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

#[test]
fn kvrocks_pushed_batches_arrive_and_cut_replicas_drops_the_stream() {
    let master = MockKvrocks::builder().sequence(98).heartbeat(Duration::from_millis(100)).start();
    let mut c = Client::connect(&master);
    assert_eq!(c.call(&["PSYNC", "99"]), b"+OK\r\n");
    assert_eq!(c.exact(HEARTBEAT.len()), HEARTBEAT, "idle: a heartbeat");
    // Whatever the replica sends is ignored.
    c.send(&["REPLCONF", "ACK", "99"]);
    master.push_batch(rep(99, 2, b"\x01\x00"));
    let mut got = c.bulk();
    while got == b"ping" {
        got = c.bulk();
    }
    assert_eq!(got, rep(99, 2, b"\x01\x00"));
    assert_eq!(master.latest_sequence(), 100);
    assert_eq!(master.replicas(), 1);

    master.cut_replicas();
    assert!(c.closed_within(Duration::from_secs(5)), "the cut closes the stream\n{}", master.log());
    master.wait_for_replicas(0, Duration::from_secs(5));

    // A new PSYNC picks up from where the replica stopped.
    master.push_batch(rep(101, 1, b"\x02"));
    let mut c = Client::connect(&master);
    assert_eq!(c.call(&["PSYNC", "101"]), b"+OK\r\n");
    assert_eq!(c.bulk(), rep(101, 1, b"\x02"));
    // Bytes sent on a PSYNC stream are not commands: Kvrocks never reads them.
    assert_eq!(master.requests(), ["PSYNC 99", "PSYNC 101"]);
    assert!(master.log().contains("conn 1: ignoring bytes sent on the PSYNC stream"), "{}", master.log());
}

#[test]
fn kvrocks_a_gap_in_the_wal_ends_the_feed() {
    let master = MockKvrocks::builder().sequence(98).heartbeat(Duration::from_secs(60)).start();
    let mut c = Client::connect(&master);
    assert_eq!(c.call(&["PSYNC", "99"]), b"+OK\r\n");
    master.push_batch(rep(99, 1, b"a"));
    master.push_batch(rep(105, 1, b"b"));
    assert_eq!(c.exact(bulk(&rep(99, 1, b"a")).len()), bulk(&rep(99, 1, b"a")));
    assert!(c.closed_within(Duration::from_secs(5)), "{}", master.log());
}

#[test]
fn kvrocks_authentication_and_errors() {
    let master = MockKvrocks::from_capture("v2.10.1-types").start();
    let mut c = Client::connect(&master);
    assert_eq!(c.call(&["PING"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["_fetch_meta"]), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["SYNC"]), b"-ERR unknown command `SYNC`, with args beginning with: \r\n", "even before AUTH");
    assert_eq!(c.call(&["AUTH", "nope"]), b"-ERR Invalid password\r\n");
    assert_eq!(c.call(&["AUTH"]), b"-ERR wrong number of arguments\r\n");
    assert_eq!(c.call(&["AUTH", "adminpass"]), b"+OK\r\n");
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");
    assert_eq!(c.call(&["sync", "a", "b"]), b"-ERR unknown command `sync`, with args beginning with: `a`, `b`\r\n");
    assert_eq!(c.call(&["_db_name"]), b"change.me.db\r\n");
    assert_eq!(c.call(&["replconf", "listening-port", "6380"]), b"+OK\r\n");
    assert_eq!(c.call(&["replconf", "listening-port", "6380", "ip-address", "10.0.0.1"]), b"+OK\r\n");
    assert_eq!(c.call(&["replconf", "ack", "1"]), b"-ERR unknown option\r\n");
    assert_eq!(
        c.call(&["replconf", "listening-port", "0"]),
        b"-ERR listening-port should be number or out of range\r\n"
    );
    assert_eq!(c.call(&["replconf", "listening-port"]), b"-ERR wrong number of arguments\r\n");
    c.0.write_all(b"PING\r\n").unwrap();
    assert_eq!(c.line(), b"+PONG\r\n", "inline commands");

    // HELLO may authenticate; with `resp3-enabled no` it answers in RESP2.
    let mut h = Client::connect(&master);
    h.send(&["HELLO", "3", "AUTH", "default", "adminpass"]);
    h.expect(
        b"*12\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n4.0.0\r\n$5\r\nproto\r\n:2\r\n\
          $4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*-1\r\n",
    );
    assert_eq!(h.call(&["PING"]), b"+PONG\r\n");

    // A namespace token authenticates a non-admin connection.
    let mut user = Client::connect(&master);
    assert_eq!(user.call(&["AUTH", "token1"]), b"+OK\r\n");
    assert_eq!(user.call(&["CONFIG", "GET", "*"]), b"-ERR admin permission required to perform the command\r\n");

    // No password: every connection is admin; AUTH is an error.
    let open = MockKvrocks::builder().start();
    let mut c = Client::connect(&open);
    assert_eq!(c.call(&["AUTH", "x"]), b"-ERR Client sent AUTH, but no password is set\r\n");
    assert_eq!(c.call(&["PING"]), b"+PONG\r\n");

    // A protocol error is answered, then the connection closes.
    c.0.write_all(b"*1\r\n#4\r\n").unwrap();
    assert_eq!(c.line(), b"-ERR Protocol error: expected '$'\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
}

#[test]
fn kvrocks_info_and_config() {
    let dir = case("v2.10.1-types");
    let after = meta(&dir)["sequence_after_stream"].as_u64().unwrap();
    let master = MockKvrocks::from_capture("v2.10.1-types").start();
    let mut c = Client::authed(&master);
    c.send(&["INFO"]);
    let info = String::from_utf8(c.bulk()).unwrap();
    for line in
        ["# Server\r\n", "\r\nkvrocks_version:2.10.1\r\n", "\r\nredis_version:4.0.0\r\n", "\r\nversion:2.10.1\r\n"]
    {
        assert!(info.contains(line) || info.starts_with(line), "{line:?} in\n{info}");
    }
    assert!(info.contains(&format!("\r\nmaster_repl_offset:{after}\r\n")), "{info}");
    assert!(info.contains("\r\n# Keyspace\r\n# WARN: DBSIZE SCAN never performed yet\r\n"), "{info}");
    assert!(info.contains(&format!("\r\nsequence:{after}\r\n")), "{info}");
    assert!(info.contains("\r\n# Cluster\r\ncluster_enabled:0\r\n"), "{info}");
    assert!(info.contains(&format!("\r\ntcp_port:{}\r\n", master.port())), "{info}");
    assert!(info.ends_with("is_compacting:no\r\n"), "the capture's text: {info}");

    c.send(&["INFO", "replication"]);
    assert_eq!(
        c.bulk(),
        format!("# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:{after}\r\n").as_bytes()
    );
    c.send(&["INFO", "nosuchsection"]);
    assert_eq!(c.bulk(), b"");
    assert_eq!(c.call(&["INFO", "a", "b"]), b"-ERR syntax error\r\n");

    c.send(&["CONFIG", "GET", "rocksdb.wal_ttl_seconds"]);
    c.expect(b"*2\r\n$23\r\nrocksdb.wal_ttl_seconds\r\n$5\r\n10800\r\n");
    c.send(&["CONFIG", "GET", "Rocksdb.WAL_size_limit_mb"]);
    c.expect(b"*2\r\n$25\r\nrocksdb.wal_size_limit_mb\r\n$5\r\n16384\r\n");
    c.send(&["CONFIG", "GET", "cluster-enabled"]);
    c.expect(b"*2\r\n$15\r\ncluster-enabled\r\n$2\r\nno\r\n");
    assert_eq!(c.call(&["CONFIG", "GET", "namespace.*"]), b"*0\r\n", "2.10.1 matches names exactly");
    c.send(&["NAMESPACE", "GET", "*"]);
    c.expect(b"*4\r\n$3\r\nns1\r\n$6\r\ntoken1\r\n$11\r\n__namespace\r\n$9\r\nadminpass\r\n");

    // A replica being fed shows in INFO.
    let mut replica = Client::authed(&master);
    assert_eq!(replica.call(&["replconf", "listening-port", "6390"]), b"+OK\r\n");
    assert_eq!(replica.call(&["PSYNC", &(after + 1).to_string()]), b"+OK\r\n");
    c.send(&["INFO", "replication"]);
    let repl = String::from_utf8(c.bulk()).unwrap();
    assert!(repl.contains("connected_slaves:1\r\nslave0:ip=127.0.0.1,port=6390,offset=187,lag="), "{repl}");
}
