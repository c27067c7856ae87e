//! The replica state machine against scripted master bytes. Every script is replayed whole,
//! one byte at a time and split in two at every offset, and must give the same log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use replicant_repl::{Event, Input, ReplError, ReplId, Replica, ReplicaConfig, ResumePoint};

const ID: &str = "8d9f2e3b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e";
const ID2: &str = "0123456789abcdef0123456789abcdef01234567";
const MARK: &str = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";

/// The master's side: bytes it sends, and the length of the RDB inside them (what a real
/// RDB parser would consume before reporting the end).
struct Script {
    bytes: Vec<u8>,
    rdb_len: usize,
}

fn resp(args: &[&str]) -> String {
    let mut s = format!("*{}\r\n", args.len());
    for a in args {
        s.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s
}

/// Replays `script` fed in the chunk sizes `chunks` gives; returns the log of transmits
/// (`>`), events (`<`) and the RDB bytes received, and how it ended.
fn replay(
    cfg: ReplicaConfig,
    script: &Script,
    mut chunks: impl FnMut() -> usize,
) -> (Vec<String>, Result<(), ReplError>) {
    let now = Instant::now();
    let mut replica = Replica::new(cfg);
    let mut log = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut rdb = Vec::new();
    replica.handle_connected(now);
    let result = loop {
        while let Some(out) = replica.poll_transmit() {
            log.push(format!("> {}", String::from_utf8_lossy(&out).replace("\r\n", " ")));
        }
        let step = match replica.handle_input(&buf, now) {
            Ok(step) => step,
            Err(e) => break Err(e),
        };
        match step {
            Input::NeedMore => {
                if fed == script.bytes.len() {
                    break Ok(());
                }
                let n = chunks().clamp(1, script.bytes.len() - fed);
                buf.extend_from_slice(&script.bytes[fed..fed + n]);
                fed += n;
            }
            Input::Consumed(n) => {
                buf.drain(..n);
            }
            Input::Event { event, consumed } => {
                log.push(format!("< {}", render(&event)));
                buf.drain(..consumed);
            }
            Input::Rdb { len, .. } => {
                let take = len.min(script.rdb_len - rdb.len());
                rdb.extend_from_slice(&buf[..take]);
                buf.drain(..take);
                replica.rdb_consumed(take);
                if rdb.len() == script.rdb_len {
                    log.push(format!("rdb {:?}", String::from_utf8_lossy(&rdb)));
                    replica.rdb_done(now).unwrap();
                }
            }
        }
    };
    (log, result)
}

fn render(event: &Event<'_>) -> String {
    match event {
        Event::Command(c) => {
            let args: Vec<String> = c.args().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            format!("{} @{} db{}", args.join(" "), c.offset, c.db)
        }
        other => format!("{other:?}"),
    }
}

/// Replays whole, byte by byte and split at every offset; all must agree. Returns the log.
fn check(cfg: ReplicaConfig, script: &Script) -> (Vec<String>, Result<(), ReplError>) {
    let whole = replay(cfg.clone(), script, || usize::MAX);
    let bytes = replay(cfg.clone(), script, || 1);
    assert_eq!(whole.0, bytes.0, "byte-by-byte differs");
    assert_eq!(whole.1, bytes.1);
    for cut in 1..script.bytes.len() {
        let mut first = true;
        let split = replay(cfg.clone(), script, || if std::mem::take(&mut first) { cut } else { usize::MAX });
        assert_eq!(whole.0, split.0, "split at {cut} differs");
        assert_eq!(whole.1, split.1);
    }
    whole
}

fn handshake_ok() -> String {
    "+PONG\r\n+OK\r\n+OK\r\n".to_string()
}

fn stream_tail() -> String {
    [resp(&["PING"]), resp(&["SELECT", "1"]), resp(&["SET", "k", "v\r\n\0"]), resp(&["REPLCONF", "GETACK", "*"])]
        .concat()
}

#[test]
fn disk_full_sync_with_keepalives_then_stream() {
    let rdb = "REDIS-PAYLOAD";
    let text = format!("{}\n\n+FULLRESYNC {ID} 100\r\n\n\n\n${}\r\n{rdb}{}", handshake_ok(), rdb.len(), stream_tail());
    let (log, end) =
        check(ReplicaConfig::default().listening_port(6390), &Script { bytes: text.into_bytes(), rdb_len: rdb.len() });
    end.unwrap();
    let expected = vec![
        "> *1 $4 PING ".to_string(),
        "> *3 $8 REPLCONF $14 listening-port $4 6390 ".into(),
        "> *5 $8 REPLCONF $4 capa $3 eof $4 capa $6 psync2 ".into(),
        "> *3 $5 PSYNC $1 ? $2 -1 ".into(),
        format!("< FullResync {{ replid: Some(ReplId({ID})), offset: 100, partial_requested: false }}"),
        "< RdbStart { size: Some(13) }".into(),
        "rdb \"REDIS-PAYLOAD\"".into(),
        "> *3 $8 REPLCONF $3 ACK $3 100 ".into(),
        "< PING @114 db0".into(),
        "< SELECT 1 @137 db1".into(),
        "< SET k v\r\n\0 @167 db1".into(),
        "< REPLCONF GETACK * @204 db1".into(),
        "> *3 $8 REPLCONF $3 ACK $3 204 ".into(),
    ];
    assert_eq!(log, expected);
}

#[test]
fn diskless_full_sync_checks_the_end_mark() {
    let rdb = "DISKLESS-RDB";
    let text =
        format!("{}+FULLRESYNC {ID} 7\r\n\n$EOF:{MARK}\r\n{rdb}{MARK}{}", handshake_ok(), resp(&["SET", "a", "b"]));
    let (log, end) = check(ReplicaConfig::default(), &Script { bytes: text.into_bytes(), rdb_len: rdb.len() });
    end.unwrap();
    assert!(log.contains(&"< RdbStart { size: None }".to_string()), "{log:?}");
    assert!(log.contains(&"> *3 $8 REPLCONF $3 ACK $1 7 ".to_string()), "{log:?}");
    assert_eq!(log.last().unwrap(), "< SET a b @34 db0");

    let bad = format!("{}+FULLRESYNC {ID} 7\r\n$EOF:{MARK}\r\n{rdb}{}", handshake_ok(), "x".repeat(40));
    let (_, end) = check(ReplicaConfig::default(), &Script { bytes: bad.into_bytes(), rdb_len: rdb.len() });
    assert!(matches!(end, Err(ReplError::Protocol { .. })), "{end:?}");
}

#[test]
fn bytes_after_the_rdb_within_the_announced_length_are_skipped() {
    let text = format!("{}+FULLRESYNC {ID} 0\r\n$9\r\nRDB12345X{}", handshake_ok(), resp(&["PING"]));
    let (log, end) = check(ReplicaConfig::default(), &Script { bytes: text.into_bytes(), rdb_len: 8 });
    end.unwrap();
    assert_eq!(log.last().unwrap(), "< PING @14 db0");
}

#[test]
fn authenticates_with_user_and_password() {
    let text = format!("-NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC {ID} 1\r\n");
    let cfg = ReplicaConfig::default().auth(Some("repl".into()), Some("s3cret".into()));
    let (log, end) = check(cfg, &Script { bytes: text.into_bytes(), rdb_len: 0 });
    end.unwrap();
    assert_eq!(log[1], "> *3 $4 AUTH $4 repl $6 s3cret ");
    let (_, end) = check(
        ReplicaConfig::default(),
        &Script { bytes: b"-NOAUTH Authentication required.\r\n".to_vec(), rdb_len: 0 },
    );
    assert!(matches!(end, Err(ReplError::AuthRequired { .. })), "{end:?}");
    let cfg = ReplicaConfig::default().auth(None, Some("bad".into()));
    let text = b"+PONG\r\n-WRONGPASS invalid username-password pair\r\n".to_vec();
    let (_, end) = check(cfg, &Script { bytes: text, rdb_len: 0 });
    assert!(matches!(end, Err(ReplError::Refused { step: "AUTH", .. })), "{end:?}");
    // Pika's form of the same refusal, `-ERR NOAUTH …`, asks for AUTH too.
    let cfg = ReplicaConfig::default().auth(None, Some("s3cret".into()));
    let text = format!("-ERR NOAUTH Authentication required.\r\n+OK\r\n+OK\r\n+OK\r\n+FULLRESYNC {ID} 1\r\n");
    let (log, end) = check(cfg, &Script { bytes: text.into_bytes(), rdb_len: 0 });
    end.unwrap();
    assert_eq!(log[1], "> *2 $4 AUTH $6 s3cret ");
}

#[test]
fn partial_resync_continues_with_same_or_new_replid() {
    let id: ReplId = ID.parse().unwrap();
    let cfg = ReplicaConfig::default().resume(Some(ResumePoint::new(id, 500)));
    let text = format!("{}+CONTINUE\r\n{}", handshake_ok(), resp(&["INCR", "n"]));
    let (log, end) = check(cfg.clone(), &Script { bytes: text.into_bytes(), rdb_len: 0 });
    end.unwrap();
    assert!(log.contains(&format!("> *3 $5 PSYNC $40 {ID} $3 501 ")), "{log:?}");
    assert!(
        log.contains(&format!("< Continue {{ replid: ReplId({ID}), offset: 500, replid_changed: false }}")),
        "{log:?}"
    );
    assert_eq!(log.last().unwrap(), "< INCR n @521 db0");

    let text = format!("{}+CONTINUE {ID2}\r\n", handshake_ok());
    let (log, _) = check(cfg.clone(), &Script { bytes: text.into_bytes(), rdb_len: 0 });
    assert!(
        log.contains(&format!("< Continue {{ replid: ReplId({ID2}), offset: 500, replid_changed: true }}")),
        "{log:?}"
    );

    let text = format!("{}+FULLRESYNC {ID2} 900\r\n", handshake_ok());
    let (log, _) = check(cfg, &Script { bytes: text.into_bytes(), rdb_len: 0 });
    assert!(
        log.contains(&format!("< FullResync {{ replid: Some(ReplId({ID2})), offset: 900, partial_requested: true }}")),
        "{log:?}"
    );
}

#[test]
fn falls_back_to_sync_for_masters_without_psync() {
    let text = format!("{}-ERR unknown command 'PSYNC'\r\n\n$3\r\nRDB{}", handshake_ok(), resp(&["SET", "a", "1"]));
    let (log, end) = check(ReplicaConfig::default(), &Script { bytes: text.into_bytes(), rdb_len: 3 });
    end.unwrap();
    assert!(log.contains(&"> *1 $4 SYNC ".to_string()), "{log:?}");
    assert!(log.contains(&"< FullResync { replid: None, offset: 0, partial_requested: false }".to_string()), "{log:?}");
    assert_eq!(log.last().unwrap(), "< SET a 1 @27 db0");
}

#[test]
fn errors_are_classified() {
    type Expect = fn(&ReplError) -> bool;
    let cases: Vec<(String, Expect)> = vec![
        (format!("{}-LOADING Redis is loading the dataset in memory\r\n", handshake_ok()), |e| {
            matches!(e, ReplError::NotReady { .. }) && e.is_retryable()
        }),
        (format!("{}-NOMASTERLINK Can't SYNC while not connected with my master\r\n", handshake_ok()), |e| {
            matches!(e, ReplError::NotReady { .. })
        }),
        (format!("{}-NOPERM this user has no permissions to run the 'psync' command\r\n", handshake_ok()), |e| {
            matches!(e, ReplError::Refused { step: "PSYNC", .. }) && !e.is_retryable()
        }),
        (format!("{}+FULLRESYNC {ID} 1\r\n-ERR the fork failed\r\n", handshake_ok()), |e| {
            matches!(e, ReplError::Aborted { .. })
        }),
        (format!("{}+FULLRESYNC {ID} 1\r\n#garbage\r\n", handshake_ok()), |e| matches!(e, ReplError::Protocol { .. })),
        (format!("{}+FULLRESYNC nothex 1\r\n", handshake_ok()), |e| matches!(e, ReplError::Protocol { .. })),
        (format!("{}+FULLRESYNC {ID} 1\r\n$0\r\n:1\r\n", handshake_ok()), |e| matches!(e, ReplError::Protocol { .. })),
    ];
    for (text, is_expected) in cases {
        let (_, end) = check(ReplicaConfig::default(), &Script { bytes: text.clone().into_bytes(), rdb_len: 0 });
        let err = end.expect_err(&text);
        assert!(is_expected(&err), "{text:?} gave {err:?}");
    }
}

/// A replica (ACK every second, 60 s timeout) that took a one-byte snapshot at offset 10
/// at `t0` and is now streaming.
fn streaming_at_offset_10(t0: Instant) -> Replica {
    let cfg = ReplicaConfig::default().ack_interval(Duration::from_secs(1)).timeout(Duration::from_secs(60));
    let mut r = Replica::new(cfg);
    r.handle_connected(t0);
    let text = format!("{}+FULLRESYNC {ID} 10\r\n$1\r\nR", handshake_ok());
    let mut buf = text.into_bytes();
    loop {
        match r.handle_input(&buf, t0).unwrap() {
            Input::Consumed(n) | Input::Event { consumed: n, .. } => drop(buf.drain(..n)),
            Input::Rdb { len, .. } => {
                buf.drain(..len);
                r.rdb_consumed(len);
                r.rdb_done(t0).unwrap();
            }
            Input::NeedMore => break,
        }
    }
    r
}

#[test]
fn acks_every_interval_and_times_out_on_silence() {
    let t0 = Instant::now();
    let mut r = streaming_at_offset_10(t0);
    while r.poll_transmit().is_some() {}
    // Until the stream starts, ACKs go every 100 ms (for at most 2 s).
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_millis(100)));
    r.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(r.poll_transmit().unwrap(), b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n10\r\n");
    r.set_committed(7);
    r.handle_timeout(t0 + Duration::from_secs(2)).unwrap();
    assert_eq!(r.poll_transmit().unwrap(), b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n7\r\n");
    assert_eq!(r.resume_point().map(|p| p.offset), Some(10));
    assert_eq!(r.committed(), Some(7));
    let err = r.handle_timeout(t0 + Duration::from_secs(61)).unwrap_err();
    assert!(matches!(err, ReplError::Timeout { .. }) && err.is_retryable());
}

#[test]
fn oversized_and_malformed_commands_fail_cleanly() {
    let mut cfg = ReplicaConfig::default();
    cfg.max_command_bytes = 1024;
    let text = format!("{}+FULLRESYNC {ID} 0\r\n$1\r\nR*2\r\n$3\r\nSET\r\n$999999\r\n", handshake_ok());
    let (_, end) = check(cfg, &Script { bytes: text.into_bytes(), rdb_len: 1 });
    assert!(matches!(end, Err(ReplError::Protocol { .. } | ReplError::TooLarge { .. })), "{end:?}");
}

#[test]
fn a_resumed_stream_keeps_the_database_it_was_in() {
    let id: ReplId = ID.parse().unwrap();
    let cfg = ReplicaConfig::default().resume(Some(ResumePoint::new(id, 500).db(3)));
    let text = format!("{}+CONTINUE\r\n{}", handshake_ok(), resp(&["INCR", "n"]));
    let (log, end) = check(cfg, &Script { bytes: text.into_bytes(), rdb_len: 0 });
    end.unwrap();
    assert_eq!(log.last().unwrap(), "< INCR n @521 db3");
}

/// Feeds `bytes` to a replica already streaming and returns where it would resume.
fn resume_after(bytes: &str) -> ResumePoint {
    let t0 = Instant::now();
    let id: ReplId = ID.parse().unwrap();
    let mut r = Replica::new(ReplicaConfig::default().resume(Some(ResumePoint::new(id, 100))));
    r.handle_connected(t0);
    let mut buf = format!("{}+CONTINUE\r\n{bytes}", handshake_ok()).into_bytes();
    while let Input::Consumed(n) | Input::Event { consumed: n, .. } = r.handle_input(&buf, t0).unwrap() {
        buf.drain(..n);
    }
    r.resume_point().unwrap()
}

#[test]
fn the_resume_point_never_falls_inside_a_transaction() {
    let select = resp(&["SELECT", "2"]);
    let multi = resp(&["MULTI"]);
    let incr = resp(&["INCR", "a"]);
    let exec = resp(&["EXEC"]);
    let before = 100 + select.len() as u64;
    let open = resume_after(&format!("{select}{multi}{incr}"));
    assert_eq!((open.offset, open.db), (before, 2));
    let closed = resume_after(&format!("{select}{multi}{incr}{exec}"));
    assert_eq!((closed.offset, closed.db), (before + (multi.len() + incr.len() + exec.len()) as u64, 2));
    let discard = resp(&["DISCARD"]);
    let discarded = resume_after(&format!("{select}{multi}{incr}{discard}"));
    assert_eq!(discarded.offset, before + (multi.len() + incr.len() + discard.len()) as u64);
}

#[test]
fn acks_come_often_until_the_stream_starts() {
    let t0 = Instant::now();
    let mut r = streaming_at_offset_10(t0);
    let ack = b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$2\r\n10\r\n";
    while r.poll_transmit().is_some() {}
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(r.poll_timeout(), Some(t1));
    r.handle_timeout(t1).unwrap();
    assert_eq!(r.poll_transmit().unwrap(), ack, "a second ACK, in case the master missed the first");
    assert_eq!(r.poll_timeout(), Some(t1 + Duration::from_millis(100)));
    // The stream's first command: back to one ACK a second.
    let ping = b"*1\r\n$4\r\nPING\r\n";
    assert!(matches!(r.handle_input(ping, t1).unwrap(), Input::Event { consumed: 14, .. }));
    let t2 = t1 + Duration::from_millis(100);
    r.handle_timeout(t2).unwrap();
    assert!(r.poll_transmit().is_some());
    assert_eq!(r.poll_timeout(), Some(t2 + Duration::from_secs(1)));
}
