//! Streaming from a position, TrySync outcomes, ACK checks, keepalives and timeouts.

use std::time::{Duration, Instant};

use replicant_pika::proto::inner::{inner_request, InnerRequest, Node, Type};
use replicant_pika::{BinlogItem, BinlogPos, Event, LogOffset, TrySyncOutcome};

use super::{MockPika, Replica, WAIT};

fn set(n: usize) -> [String; 3] {
    ["SET".into(), format!("k{n}"), format!("v{n}")]
}

fn resp(n: usize) -> Vec<u8> {
    let [a, b, c] = set(n);
    format!("*3\r\n${}\r\n{a}\r\n${}\r\n{b}\r\n${}\r\n{c}\r\n", a.len(), b.len(), c.len()).into_bytes()
}

/// A hand-made BinlogSync ACK of the capture's replica node.
fn ack(start: LogOffset, end: LogOffset, session_id: i32) -> InnerRequest {
    let body = inner_request::BinlogSync {
        node: Node { ip: "127.0.0.1".into(), port: 19521 },
        db_name: "db0".into(),
        slot_id: 0,
        ack_range_start: start.to_proto(),
        ack_range_end: end.to_proto(),
        session_id,
        first_send: false,
    };
    InnerRequest { r#type: Type::BinlogSync as i32, binlog_sync: Some(body), ..InnerRequest::default() }
}

/// Waits until `done` holds of the master, stepping `replica` meanwhile.
fn wait(master: &MockPika, replica: &mut Replica, what: &str, done: impl Fn(&MockPika) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(master) {
        assert!(Instant::now() < deadline, "no {what} after {WAIT:?}\n{}", master.log());
        replica.step();
    }
}

#[test]
fn the_binlog_streams_from_a_position_in_batches_and_every_ack_is_a_batch() {
    let master = MockPika::builder().batch_size(3).exec_time(1_700_000_000).binlog("db0", (0..7).map(set)).start();
    let end = master.binlog_end("db0");
    assert_eq!((end.pos, end.index), (BinlogPos::new(0, 7 * 71), 7));
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    // From the end of the second item: items 2..7, in batches of 3 and 2.
    let outcome = replica.try_sync(&master, BinlogPos::new(0, 142));
    assert_eq!(outcome, TrySyncOutcome::Ok { session_id: 0, master: Some(end.pos) });
    replica.until(&master, "5 items", |r| r.items() == 5);
    wait(&master, &mut replica, "2 acks", |m| m.acks().len() == 2);
    // New writes go to a replica with nothing unacknowledged at once.
    let ends = master.push_items("db0", (7..9).map(set));
    assert_eq!(ends.last().map(|e| (e.pos.offset, e.index)), Some((9 * 71, 9)));
    replica.until(&master, "7 items", |r| r.items() == 7);
    wait(&master, &mut replica, "3 acks", |m| m.acks().len() == 3);

    let batches = replica.batches();
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2, 2]);
    let contents: Vec<Vec<u8>> = batches.into_iter().flatten().collect();
    assert_eq!(contents, (2..9).map(resp).collect::<Vec<_>>());
    let ranges: Vec<(u64, u64)> = master.acks().iter().map(|a| (a.start.pos.offset, a.end.pos.offset)).collect();
    assert_eq!(ranges, [(3 * 71, 5 * 71), (6 * 71, 7 * 71), (8 * 71, 9 * 71)]);
    assert!(master.ack_errors().is_empty(), "{:?}", master.ack_errors());
    // Items carry Pika's header: start position, logic id, the exec time given.
    let Some(Event::Binlog(batch)) = replica.events.iter().find(|e| matches!(e, Event::Binlog(_))) else { panic!() };
    let item: BinlogItem<'_> = batch.entries[0].item().unwrap();
    assert_eq!((item.start(), item.logic_id, item.exec_time), (BinlogPos::new(0, 142), 3, 1_700_000_000));
    assert_eq!(batch.entries[0].end, LogOffset { pos: BinlogPos::new(0, 213), term: 0, index: 3 });
}

#[test]
fn try_sync_outcomes_follow_the_binlog() {
    let master = MockPika::builder().binlog("db0", (0..3).map(set)).start();
    let end = Some(BinlogPos::new(0, 213));
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    master.purge_before("db0", BinlogPos::new(0, 71));
    assert_eq!(replica.try_sync(&master, BinlogPos::new(0, 0)), TrySyncOutcome::PointPurged { master: end });
    assert_eq!(replica.try_sync(&master, BinlogPos::new(0, 214)), TrySyncOutcome::PointLarger { master: end });
    assert_eq!(replica.try_sync(&master, BinlogPos::new(1, 0)), TrySyncOutcome::PointLarger { master: end });
    assert_eq!(replica.try_sync(&master, BinlogPos::new(0, 100)), TrySyncOutcome::Error { reply: None });
    assert_eq!(replica.try_sync(&master, BinlogPos::new(0, 71)), TrySyncOutcome::Ok { session_id: 0, master: end });
    replica.until(&master, "2 items", |r| r.items() == 2);

    // The capture's master holds nothing before its dump's position.
    let capture = MockPika::from_capture("v4.0.1").start();
    let mut replica = Replica::connect(&capture);
    replica.meta_synced(&capture);
    let end = Some(BinlogPos::new(0, 8030));
    assert_eq!(replica.try_sync(&capture, BinlogPos::new(0, 0)), TrySyncOutcome::PointPurged { master: end });
    assert_eq!(replica.try_sync(&capture, BinlogPos::new(0, 7882)), TrySyncOutcome::Ok { session_id: 0, master: end });
    replica.until(&capture, "the last 2 items", |r| r.items() == 2);
    assert_eq!(replica.batches().len(), 1);
}

#[test]
fn acks_that_are_not_a_batch_are_flagged() {
    let master = MockPika::builder().batch_size(3).binlog("db0", (0..6).map(set)).start();
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    replica.try_sync(&master, BinlogPos::new(0, 0));
    replica.mute = true; // the session's own acks are dropped; the test sends its own
    replica.until(&master, "6 items", |r| r.items() == 6);
    let item = |n: u64| LogOffset { pos: BinlogPos::new(0, n * 71), term: 0, index: n };
    // Part of the first batch: Pika takes it (both ends are in its window), the check does not.
    replica.send(&ack(item(1), item(2), 0));
    wait(&master, &mut replica, "an ack error", |m| m.ack_errors().len() == 1);
    assert!(master.ack_errors()[0].reason.starts_with("not a batch sent"), "{}", master.ack_errors()[0]);
    assert!(!replica.closed);
    // The second batch as it should be: fine.
    replica.send(&ack(item(4), item(6), 0));
    wait(&master, &mut replica, "2 acks", |m| m.acks().len() == 2);
    assert_eq!(master.ack_errors().len(), 1);
    // Item starts instead of ends (a classic mistake): outside the window, Pika hangs up.
    let start = LogOffset { pos: BinlogPos::new(0, 0), term: 0, index: 1 };
    replica.send(&ack(start, item(3), 0));
    wait(&master, &mut replica, "a second ack error", |m| m.ack_errors().len() == 2);
    let error = &master.ack_errors()[1];
    assert!(error.reason.contains("not in the sync window: Pika closes the connection"), "{error}");
    assert_eq!(error.ack.start, start);
    replica.until(&master, "the connection to close", |r| r.closed);
    assert!(master.log().contains("closing the connection, as Pika does"), "{}", master.log());
}

#[test]
fn keepalives_are_answered_and_a_silent_replica_is_dropped() {
    let master = MockPika::builder()
        .keepalive(Duration::from_millis(100))
        .replica_timeout(Duration::from_millis(800))
        .binlog("db0", (0..2).map(set))
        .start();
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    replica.try_sync(&master, BinlogPos::new(0, 0));
    replica.until(&master, "2 items", |r| r.items() == 2);
    replica.run_for(Duration::from_millis(700));
    assert!(master.keepalive_answers().len() >= 2, "{}", master.log());
    assert_eq!(master.unanswered_keepalives(), 0);
    assert!(master.dropped().is_empty());

    replica.mute = true;
    let silent = Instant::now();
    replica.until(&master, "the drop", |_| !master.dropped().is_empty());
    assert!(silent.elapsed() >= Duration::from_millis(600), "{:?}", silent.elapsed());
    let dropped = &master.dropped()[0];
    assert_eq!((dropped.db.as_str(), dropped.replica.as_str()), ("db0", "127.0.0.1:19521"));
    assert!(dropped.silent_for > Duration::from_millis(800));
    assert!(master.unanswered_keepalives() >= 1);
    assert_eq!(master.replicas(), 0);
    // The connection stays open, as in Pika, but nothing is sent any more.
    let sent = master.keepalives_sent();
    replica.run_for(Duration::from_millis(300));
    assert_eq!(master.keepalives_sent(), sent);
    assert!(!replica.closed);
}

#[test]
fn remove_slave_node_is_answered() {
    let master = MockPika::builder().start();
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    replica.try_sync(&master, BinlogPos::new(0, 0));
    master.wait_for_replicas(1, WAIT);
    replica.session.stop(Instant::now());
    replica.flush();
    replica.until(&master, "the removal", |r| r.events.contains(&Event::Removed { db: "db0".into() }));
    assert_eq!(master.replicas(), 0);
    assert!(master.requests().contains(&"RemoveSlaveNode db0 127.0.0.1:19521".to_owned()), "{:?}", master.requests());
    master.cut_replicas();
    replica.until(&master, "the cut", |r| r.closed);
}

/// The BinlogSync items of a received frame, as bytes.
fn binlog_items(frame: &[u8]) -> Vec<Vec<u8>> {
    let response = super::super::wire::decode_inner_response(frame).unwrap();
    response.binlog_sync.iter().map(|item| item.binlog.to_vec()).filter(|b| !b.is_empty()).collect()
}

#[test]
fn tampered_items_go_out_as_changed_at_the_positions_their_bytes_give() {
    let master = MockPika::builder().exec_time(1_700_000_000).binlog("db0", [set(0)]).start();
    let mut replica = Replica::connect(&master);
    replica.meta_synced(&master);
    replica.try_sync(&master, BinlogPos::new(0, 71));
    master.wait_for_replicas(1, WAIT);
    let ends = master.push_tampered("db0", (1..4).map(resp).collect(), |index, bytes| match index {
        1 => bytes[0] = 2,
        2 => bytes.truncate(bytes.len() - 1),
        _ => {}
    });
    // 8-byte record headers, 34-byte item headers, 29 bytes of content (one less in the third).
    let got: Vec<(u64, u64)> = ends.iter().map(|e| (e.pos.offset, e.index)).collect();
    assert_eq!(got, [(142, 2), (213, 3), (283, 4)]);
    assert_eq!(master.binlog_end("db0"), ends[2]);
    replica.until(&master, "the pushed batch", |r| r.frames.iter().any(|f| binlog_items(f).len() == 3));
    let items = replica.frames.iter().map(|f| binlog_items(f)).find(|items| items.len() == 3).unwrap();
    let first = BinlogItem::decode(&items[0]).unwrap();
    assert_eq!((first.start(), first.logic_id, first.content), (BinlogPos::new(0, 71), 2, &resp(1)[..]));
    let wrong_type = BinlogItem::decode(&items[1]).unwrap_err().to_string();
    assert!(wrong_type.starts_with("binlog item type 2 at byte 0"), "{wrong_type}");
    let wrong_length = BinlogItem::decode(&items[2]).unwrap_err().to_string();
    assert!(wrong_length.contains("content length 29 at byte 30 does not match the 28 bytes"), "{wrong_length}");
    // The header is the mock's: where the previous item ended, the next logic id.
    assert_eq!(&items[2][10..18], &4u64.to_le_bytes());
    assert_eq!(&items[2][22..30], &213u64.to_le_bytes());
}
