//! The capture replayed: a replica doing what the real one did gets the real master's
//! bytes; MetaSync refusals; the client port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use replicant_pika::proto::inner::InnerResponse;
use replicant_pika::{BinlogPos, Event, PikaError, SessionConfig, TrySyncOutcome};

use super::super::capture::{framed, inner_responses, pika_capture, stream_payloads};
use super::super::wire::{decode_inner_response, encode_inner_response};
use super::{MockPika, Replica, WAIT};

/// `frame` with every item's session id set to `session_id`.
fn with_session(frame: &[u8], session_id: i32) -> Vec<u8> {
    let mut response: InnerResponse = decode_inner_response(frame).unwrap();
    for item in &mut response.binlog_sync {
        item.session_id = session_id;
    }
    encode_inner_response(&response)
}

/// Whether `frame` is a keepalive (a BinlogSync of empty items only).
fn is_keepalive(frame: &[u8]) -> bool {
    let response = decode_inner_response(frame).unwrap();
    !response.binlog_sync.is_empty() && response.binlog_sync.iter().all(|i| i.binlog.is_empty())
}

/// The frames that are not keepalives, and the keepalives.
fn split(frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    frames.iter().cloned().partition(|f| !is_keepalive(f))
}

#[test]
fn the_capture_s_sessions_get_the_capture_s_replies() {
    let dir = pika_capture("v4.0.1");
    let conn0: Vec<Vec<u8>> = stream_payloads(&dir, "0-server-21421.bin").iter().map(|p| framed(p)).collect();
    let conn2: Vec<Vec<u8>> = stream_payloads(&dir, "2-server-21421.bin").iter().map(|p| framed(p)).collect();
    let master = MockPika::from_capture("v4.0.1").keepalive(Duration::from_millis(300)).start();

    // Connection 0 as the real replica began it: MetaSync, DBSync from 0:0, TrySync from
    // the dump's 0:5462. The mock's binlog already ends at 0:8030 (the real one was still at
    // 0:5462 then), so the TrySync answer and the batch are connection 2's, session 0.
    let mut a = Replica::connect(&master);
    a.meta_synced(&master);
    assert_eq!(a.frames[0], conn0[0], "MetaSync reply");
    a.session.db_sync("db0", BinlogPos::new(0, 0), Instant::now()).unwrap();
    a.flush();
    a.until(&master, "DBSync answer", |r| split(&r.frames).0.len() == 2);
    assert_eq!(split(&a.frames).0[1], conn0[1], "DBSync reply");
    assert_eq!(master.dbsync_count(), 1);
    let outcome = a.try_sync(&master, BinlogPos::new(0, 5462));
    assert_eq!(outcome, TrySyncOutcome::Ok { session_id: 0, master: Some(BinlogPos::new(0, 8030)) });
    a.until(&master, "the binlog", |r| r.items() == 32);
    assert_eq!(with_session(&split(&a.frames).0[3], 1), conn2[3], "the batch of 32 items");
    master.wait_for_replicas(1, WAIT);
    let deadline = Instant::now() + WAIT;
    while master.acks().is_empty() {
        assert!(Instant::now() < deadline, "{}", master.log());
        a.step();
    }
    drop(a);
    master.wait_for_replicas(0, WAIT);

    // Connection 2, request for request: every reply is the real master's, byte for byte.
    let mut b = Replica::connect(&master);
    b.meta_synced(&master);
    b.session.db_sync("db0", BinlogPos::new(0, 8030), Instant::now()).unwrap();
    b.flush();
    b.until(&master, "DBSync answer", |r| split(&r.frames).0.len() == 2);
    b.try_sync(&master, BinlogPos::new(0, 5462));
    b.until(&master, "a keepalive after the batch", |r| {
        r.frames.last().is_some_and(|f| r.items() == 32 && is_keepalive(f))
    });
    // A keepalive may come between DBSync and the batch if the test is slow; the capture has none.
    let (replies, keepalives) = split(&b.frames);
    assert_eq!(replies, conn2[..4], "connection 2's replies");
    assert_eq!(keepalives.last(), conn2.get(4), "connection 2's keepalive");
    b.until(&master, "the keepalive's answer", |_| !master.keepalive_answers().is_empty());

    let acks: Vec<(u64, u64, i32)> =
        master.acks().iter().map(|a| (a.start.pos.offset, a.end.pos.offset, a.session_id)).collect();
    assert_eq!(acks, [(5533, 8030, 0), (5533, 8030, 1)]);
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
    let requests = master.requests();
    assert!(requests.contains(&"TrySync db0 0:5462 from 127.0.0.1:19521".to_owned()), "{requests:?}");
    assert_eq!(inner_responses(&dir, "2-server-21421.bin")[2].try_sync.as_ref().unwrap().session_id, Some(1));
}

#[test]
fn meta_sync_checks_masterauth_and_refuses_a_second_link() {
    let master = MockPika::builder().requirepass("secret").start();
    let mut anonymous = Replica::connect(&master);
    anonymous.until(&master, "a refusal", |r| !r.errors.is_empty());
    let err = &anonymous.errors[0];
    assert!(
        matches!(err, PikaError::MetaSyncRejected { reply } if reply == "Auth with master error, Invalid masterauth")
    );

    let config = SessionConfig { auth: Some("secret".into()), ..SessionConfig::new("127.0.0.1", 19600) };
    let mut first = Replica::with(&master, config.clone());
    first.meta_synced(&master);
    let mut second = Replica::with(&master, config);
    second.until(&master, "a retry", |r| r.events.iter().any(|e| matches!(e, Event::MetaSyncRetry { .. })));
    assert_eq!(second.events, [Event::MetaSyncRetry { reply: "Slave AlreadyExist".into() }]);
}

/// A raw RESP client of the client port.
struct Client(TcpStream);

impl Client {
    fn call(&mut self, args: &[&str]) -> String {
        let mut out = format!("*{}\r\n", args.len());
        for arg in args {
            out.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.0.write_all(out.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + WAIT;
        while !complete(&reply) {
            assert!(Instant::now() < deadline, "incomplete reply {:?}", String::from_utf8_lossy(&reply));
            let n = self.0.read(&mut chunk).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
            reply.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(reply).unwrap()
    }
}

/// A whole reply: a line, a bulk, or an array of bulks.
fn complete(reply: &[u8]) -> bool {
    let text = String::from_utf8_lossy(reply);
    let Some((head, rest)) = text.split_once("\r\n") else { return false };
    match head.as_bytes().first() {
        Some(b'$') => rest.len() >= head[1..].parse::<usize>().unwrap() + 2,
        Some(b'*') => rest.matches("\r\n").count() >= 2 * head[1..].parse::<usize>().unwrap(),
        _ => true,
    }
}

#[test]
fn the_client_port_answers_as_pika() {
    let master = MockPika::from_capture("v4.0.1").requirepass("pw").start();
    let mut c = Client(TcpStream::connect(master.addr()).unwrap());
    assert_eq!(c.call(&["INFO"]), "-ERR NOAUTH Authentication required.\r\n");
    assert_eq!(c.call(&["FOO"]), "-ERR unknown command \"foo\"\r\n");
    assert_eq!(c.call(&["AUTH", "nope"]), "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_eq!(c.call(&["AUTH", "pw"]), "+OK\r\n");
    assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    let replication = c.call(&["INFO", "replication"]);
    let replication_id = "44270674dabc5485695db5d65755d5adf3cb654a23e1959d15";
    assert!(replication.contains(&format!("\r\nrole:master\r\nReplicationID:{replication_id}\r\n")), "{replication}");
    assert!(replication.contains("\r\nconnected_slaves:0\r\n"), "{replication}");
    assert!(replication.contains("\r\ndb0:binlog_offset=0 8030,safety_purge=none\r\nslave_repl_offset:8030\r\n"));
    let server = c.call(&["info", "SERVER"]);
    assert!(server.contains("\r\npika_version:4.0.0\r\n"), "{server}");
    assert!(server.contains(&format!("\r\ntcp_port:{}\r\n", master.port())), "{server}");
    assert!(server.contains("\r\nrun_id:b26cadd3055d2029e390af76b5ecb76b0c3141c2\r\n"), "{server}");
    assert_eq!(c.call(&["CONFIG", "GET", "databases"]), "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
    assert_eq!(c.call(&["CONFIG", "GET", "requirepass"]), "*2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n");
    assert_eq!(
        c.call(&["CONFIG", "GET", "expire-logs-*"]),
        "*4\r\n$16\r\nexpire-logs-days\r\n$1\r\n7\r\n$16\r\nexpire-logs-nums\r\n$2\r\n10\r\n"
    );
    assert_eq!(c.call(&["CONFIG", "GET", "db-instance-num"]), "*0\r\n");

    // A streaming replica shows in INFO.
    let config = SessionConfig { auth: Some("pw".into()), ..SessionConfig::new("127.0.0.1", 19521) };
    let mut replica = Replica::with(&master, config);
    replica.meta_synced(&master);
    replica.try_sync(&master, BinlogPos::new(0, 8030));
    master.wait_for_replicas(1, WAIT);
    let replication = c.call(&["INFO", "replication"]);
    assert!(replication.contains("\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=19521,conn_fd="), "{replication}");
    assert!(replication.contains(",lag=(db0:0)\r\n"), "{replication}");
    assert!(master.requests().contains(&"INFO replication".to_owned()));
}
