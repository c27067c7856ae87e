//! The session fed the master's side of the InnerMessage captures sends the real replica's
//! side, byte for byte and in the same places.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use prost::Message;
use replicant_pika::proto::inner::InnerResponse;
use replicant_pika::{encode_frame, BinlogPos, DbState, Event, Session, SessionConfig, TrySyncOutcome};

use crate::{frames, stream};

/// Drives a session over a capture with a virtual clock (300 ms per master message, as
/// the capture's pace of writes; the keepalive timer never fires in between).
struct Replay {
    session: Session,
    now: Instant,
    sent: Vec<Bytes>,
    events: Vec<Event>,
}

impl Replay {
    fn new() -> Self {
        let now = Instant::now();
        let mut replay = Self {
            session: Session::new(SessionConfig::new("127.0.0.1", 19521), now),
            now,
            sent: vec![],
            events: vec![],
        };
        replay.drain();
        replay
    }

    fn drain(&mut self) {
        while let Some(request) = self.session.poll_transmit() {
            let mut frame = BytesMut::new();
            encode_frame(&request, &mut frame).unwrap();
            self.sent.push(frame.split_off(4).freeze());
        }
        self.events.extend(std::iter::from_fn(|| self.session.poll_event()));
    }

    fn feed(&mut self, payload: &Bytes) {
        self.now += Duration::from_millis(300);
        self.session.poll(self.now);
        let response = InnerResponse::decode(payload.clone()).unwrap();
        self.session.handle_response(response, self.now).unwrap();
        self.drain();
    }

    /// MetaSync, then DBSync from `own`, then (the dump fetched) TrySync from `from`.
    fn full_sync(&mut self, server: &[Bytes], own: BinlogPos, from: BinlogPos) -> i32 {
        self.feed(&server[0]);
        self.session.db_sync("db0", own, self.now).unwrap();
        self.drain();
        self.feed(&server[1]);
        let Some(Event::DbSyncStarted { session_id, .. }) = self.events.last().cloned() else {
            panic!("{:?}", self.events)
        };
        // The rsync capture's `info` says 0:5462 (see rsync.rs).
        self.session.try_sync("db0", from, self.now).unwrap();
        self.drain();
        session_id
    }

    fn items(&self) -> usize {
        self.events.iter().map(|e| if let Event::Binlog(b) = e { b.entries.len() } else { 0 }).sum()
    }
}

fn assert_same(sent: &[Bytes], client: &[Bytes]) {
    for (n, (ours, theirs)) in sent.iter().zip(client).enumerate() {
        assert_eq!(ours, theirs, "request {n} differs from the real replica's");
    }
}

#[test]
fn connection_0_acks_and_keepalive_answers_match_the_real_replica() {
    let client = frames(&stream("0-client-21421.bin"));
    let server = frames(&stream("0-server-21421.bin"));
    let mut replay = Replay::new();
    assert_eq!(replay.full_sync(&server, BinlogPos::new(0, 0), BinlogPos::new(0, 5462)), 0);
    for payload in &server[2..] {
        replay.feed(payload);
    }
    // The real replica left (`slaveof no one`) as the master's last keepalive arrived, so
    // its answer to that one is not in the capture; ours is.
    assert_eq!(replay.sent.len(), client.len() + 1);
    assert_same(&replay.sent, &client);
    assert_eq!(replay.sent.last(), client.last());
    let outcome =
        replay.events.iter().find_map(|e| if let Event::TrySync { outcome, .. } = e { Some(outcome) } else { None });
    assert_eq!(outcome, Some(&TrySyncOutcome::Ok { session_id: 0, master: Some(BinlogPos::new(0, 5462)) }));
    assert_eq!(replay.items(), 32);
    let Some(DbState::Streaming { position, local_index, .. }) = replay.session.db_state("db0") else { panic!() };
    assert_eq!((position.pos, position.index, local_index), (BinlogPos::new(0, 8030), 88, 32));
}

#[test]
fn connection_2_resumes_with_session_1_and_acks_the_whole_batch() {
    let client = frames(&stream("2-client-21421.bin"));
    let server = frames(&stream("2-server-21421.bin"));
    let mut replay = Replay::new();
    // As the real replica did: DBSync from its own 0:8030, then TrySync from the dump's 0:5462.
    assert_eq!(replay.full_sync(&server, BinlogPos::new(0, 8030), BinlogPos::new(0, 5462)), 1);
    for payload in &server[2..] {
        replay.feed(payload);
    }
    assert_eq!(replay.sent.len(), client.len());
    assert_same(&replay.sent, &client);
    assert_eq!(replay.items(), 32);
    assert_eq!(replay.session.position("db0").map(|p| p.pos), Some(BinlogPos::new(0, 8030)));
}
