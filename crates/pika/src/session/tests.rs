//! Scripted exchanges with a virtual clock: no sockets, no sleeps.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::binlog::BinlogItem;
use crate::proto::inner::{inner_response, BinlogOffset, InnerResponse, Slot, StatusCode};

fn response(kind: Type, code: StatusCode) -> InnerResponse {
    InnerResponse { r#type: kind as i32, code: code as i32, ..InnerResponse::default() }
}

fn meta_ok(dbs: &[&str]) -> InnerResponse {
    let dbs_info = dbs
        .iter()
        .map(|db| inner_response::meta_sync::DbInfo { db_name: (*db).into(), slot_num: 1, db_instance_num: Some(3) })
        .collect();
    let meta = inner_response::MetaSync {
        classic_mode: true,
        dbs_info,
        run_id: Some("r".into()),
        replication_id: Some("x".into()),
    };
    InnerResponse { meta_sync: Some(meta), ..response(Type::MetaSync, StatusCode::Ok) }
}

fn slot(db: &str) -> Slot {
    Slot { db_name: db.into(), slot_id: 0 }
}

fn try_sync_reply(db: &str, code: i32, session_id: Option<i32>) -> InnerResponse {
    let body = inner_response::TrySync {
        reply_code: code,
        slot: slot(db),
        binlog_offset: Some(BinlogPos::new(0, 900).to_proto()),
        session_id,
    };
    InnerResponse { try_sync: Some(body), ..response(Type::TrySync, StatusCode::Ok) }
}

fn item(db: &str, end: u64, index: u64, session_id: i32, content: &[u8]) -> inner_response::BinlogSync {
    let mut binlog = Vec::new();
    if !content.is_empty() {
        let it = BinlogItem { exec_time: 1, term_id: 0, logic_id: index, filenum: 0, offset: end - 10, content };
        it.encode(&mut binlog).unwrap();
    }
    let offset = BinlogOffset { filenum: 0, offset: end, term: Some(0), index: Some(index) };
    inner_response::BinlogSync { slot: slot(db), binlog_offset: offset, binlog: Bytes::from(binlog), session_id }
}

fn binlog(items: Vec<inner_response::BinlogSync>) -> InnerResponse {
    InnerResponse { binlog_sync: items, ..response(Type::BinlogSync, StatusCode::Ok) }
}

const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";

/// A session streaming `dbs` (session id 7 each) from 0:100, its first requests drained.
fn streaming(dbs: &[&str], now: Instant) -> Session {
    let mut s = Session::new(SessionConfig::new("10.0.0.1", 6380), now);
    s.handle_response(meta_ok(dbs), now).unwrap();
    for db in dbs {
        s.try_sync(db, BinlogPos::new(0, 100), now).unwrap();
        s.handle_response(try_sync_reply(db, 1, Some(7)), now).unwrap();
    }
    while s.poll_transmit().is_some() {}
    while s.poll_event().is_some() {}
    s
}

fn ack_of(request: &InnerRequest) -> (String, LogOffset, LogOffset, i32, bool) {
    let b = request.binlog_sync.as_ref().unwrap();
    let (start, end) = ((&b.ack_range_start).into(), (&b.ack_range_end).into());
    (b.db_name.clone(), start, end, b.session_id, b.first_send)
}

#[test]
fn meta_sync_carries_auth_and_lists_dbs() {
    let now = Instant::now();
    let config = SessionConfig { auth: Some("secret".into()), ..SessionConfig::new("10.0.0.1", 6380) };
    let mut s = Session::new(config, now);
    let meta = s.poll_transmit().unwrap().meta_sync.unwrap();
    assert_eq!((meta.node.ip.as_str(), meta.node.port, meta.auth.as_deref()), ("10.0.0.1", 6380, Some("secret")));
    s.handle_response(meta_ok(&["db0", "db1"]), now).unwrap();
    let Some(Event::MetaSynced(meta)) = s.poll_event() else { panic!("no MetaSynced") };
    assert_eq!(meta.dbs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["db0", "db1"]);
    assert_eq!(s.phase(), Phase::Synced);
    assert!(matches!(s.try_sync("db9", BinlogPos::default(), now), Err(PikaError::UnknownDb { .. })));
}

#[test]
fn meta_sync_refusals() {
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::new("h", 1), now);
    let retry =
        InnerResponse { reply: Some("Slave AlreadyExist".into()), ..response(Type::MetaSync, StatusCode::Other) };
    s.handle_response(retry, now).unwrap();
    assert_eq!(s.poll_event(), Some(Event::MetaSyncRetry { reply: "Slave AlreadyExist".into() }));
    let denied = InnerResponse {
        reply: Some("Auth with master error, Invalid masterauth".into()),
        ..response(Type::MetaSync, StatusCode::Error)
    };
    let err = s.handle_response(denied, now).unwrap_err();
    assert_eq!(err.to_string(), "master refused MetaSync: Auth with master error, Invalid masterauth");
}

#[test]
fn try_sync_outcomes_are_typed() {
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::new("h", 1), now);
    s.handle_response(meta_ok(&["db0"]), now).unwrap();
    let _ = s.poll_event();
    for (code, want) in [
        (2, TrySyncOutcome::PointPurged { master: Some(BinlogPos::new(0, 900)) }),
        (3, TrySyncOutcome::PointLarger { master: Some(BinlogPos::new(0, 900)) }),
        (4, TrySyncOutcome::Error { reply: None }),
    ] {
        s.try_sync("db0", BinlogPos::new(0, 100), now).unwrap();
        s.handle_response(try_sync_reply("db0", code, None), now).unwrap();
        assert_eq!(s.poll_event(), Some(Event::TrySync { db: "db0".into(), outcome: want }));
        assert_eq!(s.db_state("db0"), Some(DbState::Idle));
    }
    let err = s.handle_response(try_sync_reply("db0", 1, Some(1)), now).unwrap_err();
    assert_eq!(err.to_string(), "unexpected TrySync response for db0 while synced");
}

#[test]
fn first_send_then_acks_count_the_local_index() {
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::new("h", 1), now);
    s.handle_response(meta_ok(&["db0"]), now).unwrap();
    let _ = s.poll_transmit();
    s.try_sync("db0", BinlogPos::new(0, 100), now).unwrap();
    s.handle_response(try_sync_reply("db0", 1, Some(7)), now).unwrap();
    let _ = s.poll_transmit();
    let start = LogOffset { pos: BinlogPos::new(0, 100), term: 0, index: 0 };
    assert_eq!(ack_of(&s.poll_transmit().unwrap()), ("db0".into(), start, start, 7, true));
    // A keepalive among items does not count; the ack spans the items.
    s.handle_response(
        binlog(vec![item("db0", 150, 5, 7, SET), item("db0", 0, 0, 7, b""), item("db0", 200, 6, 7, SET)]),
        now,
    )
    .unwrap();
    let (_, from, to, _, first) = ack_of(&s.poll_transmit().unwrap());
    assert_eq!((from.pos.offset, from.index, to.pos.offset, to.index, first), (150, 5, 200, 2, false));
    let batch =
        std::iter::from_fn(|| s.poll_event()).find_map(|e| if let Event::Binlog(b) = e { Some(b) } else { None });
    let batch = batch.unwrap();
    assert_eq!(batch.entries.len(), 2);
    assert_eq!(
        batch.entries[1].item().unwrap().payload().unwrap(),
        crate::Payload::Command(vec![&b"SET"[..], b"k", b"v"])
    );
    assert_eq!(s.position("db0").map(|p| p.pos.offset), Some(200));
}

#[test]
fn keepalives_are_answered_with_a_zero_range() {
    let now = Instant::now();
    let mut s = streaming(&["db0"], now);
    s.handle_response(binlog(vec![item("db0", 0, 0, 7, b"")]), now).unwrap();
    assert_eq!(ack_of(&s.poll_transmit().unwrap()), ("db0".into(), LogOffset::ZERO, LogOffset::ZERO, 7, false));
    assert_eq!(s.poll_event(), None);
}

#[test]
fn items_are_grouped_per_database() {
    let now = Instant::now();
    let mut s = streaming(&["db0", "db1"], now);
    s.handle_response(
        binlog(vec![item("db1", 150, 1, 7, SET), item("db0", 0, 0, 7, b""), item("db1", 200, 2, 7, SET)]),
        now,
    )
    .unwrap();
    let acks: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).map(|r| ack_of(&r)).collect();
    assert_eq!(acks.len(), 2);
    assert_eq!((acks[0].0.as_str(), acks[0].1.pos.offset, acks[0].2.pos.offset), ("db1", 150, 200));
    assert_eq!((acks[1].0.as_str(), acks[1].1, acks[1].2), ("db0", LogOffset::ZERO, LogOffset::ZERO));
}

#[test]
fn a_session_mismatch_stops_the_database() {
    let now = Instant::now();
    let mut s = streaming(&["db0"], now);
    s.handle_response(binlog(vec![item("db0", 150, 1, 8, SET)]), now).unwrap();
    assert_eq!(s.poll_event(), Some(Event::SessionMismatch { db: "db0".into(), expected: 7, got: 8 }));
    assert_eq!(s.poll_transmit(), None);
    assert_eq!(s.db_state("db0"), Some(DbState::Idle));
}

#[test]
fn a_bad_item_says_which() {
    let now = Instant::now();
    let mut s = streaming(&["db0"], now);
    let mut bad = item("db0", 150, 1, 7, SET);
    bad.binlog = bad.binlog.slice(..20);
    s.handle_response(binlog(vec![item("db0", 120, 1, 7, SET), bad]), now).unwrap();
    // The good item is delivered with the bad one last, and nothing is acknowledged.
    let Some(Event::Binlog(batch)) = s.poll_event() else { panic!("no batch") };
    assert_eq!(batch.entries.len(), 2);
    assert!(batch.entries[0].item().is_ok());
    let err = batch.entries[1].item().unwrap_err();
    assert_eq!(err.to_string(), "binlog item of 20 bytes is shorter than its 34-byte header");
    assert_eq!(s.poll_transmit(), None, "an ack for a batch with a bad item");
    assert_eq!(s.db_state("db0"), Some(DbState::Idle));
}

#[test]
fn keepalive_timer_and_master_timeout() {
    let t0 = Instant::now();
    let mut s = streaming(&["db0"], t0);
    assert_eq!(s.poll_timeout(), Some(t0 + DEFAULT_KEEPALIVE_INTERVAL));
    s.poll(t0 + Duration::from_secs(9));
    assert_eq!(s.poll_transmit(), None);
    let t10 = t0 + DEFAULT_KEEPALIVE_INTERVAL;
    s.poll(t10);
    assert_eq!(ack_of(&s.poll_transmit().unwrap()), ("db0".into(), LogOffset::ZERO, LogOffset::ZERO, 7, false));
    assert_eq!(s.poll_timeout(), Some(t0 + DEFAULT_MASTER_TIMEOUT));
    s.poll(t0 + DEFAULT_MASTER_TIMEOUT);
    assert_eq!(s.poll_event(), Some(Event::MasterTimeout { silent_for: DEFAULT_MASTER_TIMEOUT }));
    // Reported once; a message from the master re-arms it.
    s.poll(t0 + Duration::from_secs(21));
    assert!(!std::iter::from_fn(|| s.poll_event()).any(|e| matches!(e, Event::MasterTimeout { .. })));
    s.handle_response(binlog(vec![item("db0", 0, 0, 7, b"")]), t0 + Duration::from_secs(22)).unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(22) + DEFAULT_KEEPALIVE_INTERVAL));
}

#[test]
fn db_sync_then_try_sync_from_the_dump() {
    let now = Instant::now();
    let mut s = Session::new(SessionConfig::new("h", 1), now);
    s.handle_response(meta_ok(&["db0"]), now).unwrap();
    s.db_sync("db0", BinlogPos::default(), now).unwrap();
    let body = inner_response::DbSync { slot: slot("db0"), session_id: 4 };
    s.handle_response(InnerResponse { db_sync: Some(body), ..response(Type::DbSync, StatusCode::Ok) }, now).unwrap();
    assert_eq!(s.db_state("db0"), Some(DbState::DbSyncing { session_id: 4 }));
    // The master pings during the dump; data would be a protocol error.
    s.handle_response(binlog(vec![item("db0", 0, 0, 4, b"")]), now).unwrap();
    let requests: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(ack_of(requests.last().unwrap()), ("db0".into(), LogOffset::ZERO, LogOffset::ZERO, 4, false));
    assert!(s.handle_response(binlog(vec![item("db0", 150, 1, 4, SET)]), now).is_err());
    s.try_sync("db0", BinlogPos::new(0, 5462), now).unwrap();
    assert_eq!(s.poll_transmit().unwrap().try_sync.unwrap().binlog_offset, BinlogPos::new(0, 5462).to_proto());
}

#[test]
fn stop_removes_each_known_database() {
    let now = Instant::now();
    let mut s = streaming(&["db0", "db1"], now);
    s.stop(now);
    assert_eq!(s.phase(), Phase::Stopping);
    let removes: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(removes.len(), 2);
    assert_eq!(removes[0].remove_slave_node[0].slot.db_name, "db0");
    // Items still in flight are dropped unacked.
    s.handle_response(binlog(vec![item("db0", 150, 1, 7, SET)]), now).unwrap();
    assert_eq!(s.poll_transmit(), None);
    for db in ["db0", "db1"] {
        let body = inner_response::RemoveSlaveNode { node: Node { ip: "m".into(), port: 1 }, slot: slot(db) };
        let reply = InnerResponse { remove_slave_node: vec![body], ..response(Type::RemoveSlaveNode, StatusCode::Ok) };
        s.handle_response(reply, now).unwrap();
    }
    let removed: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(removed, [Event::Removed { db: "db0".into() }, Event::Removed { db: "db1".into() }]);
    assert_eq!((s.phase(), s.poll_timeout()), (Phase::Stopped, None));
}
