//! The mock driven by replicant-pika's replica side ([`Session`], [`Transfer`]) over real
//! sockets: [`Replica`] on the InnerMessage port, [`fetch`] on the RsyncService port.
//! `handshake`: the capture's replies and the client port; `stream`: binlog streaming,
//! TrySync outcomes, ACK checks and timers; `files`: RsyncService transfers and faults.

mod files;
mod handshake;
mod stream;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use replicant_pika::proto::inner::InnerRequest;
use replicant_pika::{BinlogPos, Event, PikaError, Progress, Session, SessionConfig, Transfer, TransferConfig};

use super::wire::{
    decode_inner_response, decode_rsync_response, encode_inner_request, encode_rsync_request, read_some, split_frame,
    write_all,
};
use super::MockPika;

/// How long a test waits for something the mock should do at once.
const WAIT: Duration = Duration::from_secs(10);

/// A replica: a [`Session`] on the mock's InnerMessage port, with what it received.
struct Replica {
    stream: TcpStream,
    session: Session,
    input: Vec<u8>,
    /// Every frame received, length prefix included.
    frames: Vec<Vec<u8>>,
    events: Vec<Event>,
    /// What the session refused.
    errors: Vec<PikaError>,
    /// Drop the session's requests instead of sending them.
    mute: bool,
    closed: bool,
}

impl Replica {
    /// Declares itself as Pika's replica in the capture did: `127.0.0.1:19521`.
    fn connect(master: &MockPika) -> Replica {
        Replica::with(master, SessionConfig::new("127.0.0.1", 19521))
    }

    fn with(master: &MockPika, config: SessionConfig) -> Replica {
        let stream = TcpStream::connect(("127.0.0.1", master.repl_port())).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let session = Session::new(config, Instant::now());
        let mut replica = Replica {
            stream,
            session,
            input: Vec::new(),
            frames: Vec::new(),
            events: Vec::new(),
            errors: Vec::new(),
            mute: false,
            closed: false,
        };
        replica.flush();
        replica
    }

    /// Sends (or, muted, drops) what the session queued.
    fn flush(&mut self) {
        while let Some(request) = self.session.poll_transmit() {
            if !self.mute {
                self.send(&request);
            }
        }
    }

    /// Sends a request of the test's own.
    fn send(&mut self, request: &InnerRequest) {
        write_all(&mut self.stream, &encode_inner_request(request), || true).unwrap();
    }

    /// Reads for a moment, hands every frame to the session, runs its timers, flushes.
    fn step(&mut self) {
        if !self.closed && !read_some(&mut self.stream, &mut self.input).unwrap_or(false) {
            self.closed = true;
        }
        let now = Instant::now();
        while let Some(frame) = split_frame(&mut self.input).unwrap() {
            let response = decode_inner_response(&frame).unwrap();
            self.frames.push(frame);
            if let Err(e) = self.session.handle_response(response, now) {
                self.errors.push(e);
            }
        }
        self.session.poll(now);
        self.events.extend(std::iter::from_fn(|| self.session.poll_event()));
        self.flush();
    }

    /// Steps until `done` holds; panics with the mock's log after [`WAIT`].
    fn until(&mut self, master: &MockPika, what: &str, mut done: impl FnMut(&Replica) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            assert!(Instant::now() < deadline, "no {what} after {WAIT:?}: events {:?}\n{}", self.events, master.log());
            self.step();
        }
    }

    /// Steps for `how_long`.
    fn run_for(&mut self, how_long: Duration) {
        let deadline = Instant::now() + how_long;
        while Instant::now() < deadline {
            self.step();
        }
    }

    /// Steps until the master's MetaSync answer is in.
    fn meta_synced(&mut self, master: &MockPika) {
        self.until(master, "MetaSync answer", |r| r.events.iter().any(|e| matches!(e, Event::MetaSynced(_))));
    }

    /// TrySync from `from`; steps until the answer is in and returns it.
    fn try_sync(&mut self, master: &MockPika, from: BinlogPos) -> replicant_pika::TrySyncOutcome {
        let seen = self.events.len();
        self.session.try_sync("db0", from, Instant::now()).unwrap();
        self.flush();
        self.until(master, "TrySync answer", |r| r.events[seen..].iter().any(|e| matches!(e, Event::TrySync { .. })));
        self.events[seen..]
            .iter()
            .find_map(|e| if let Event::TrySync { outcome, .. } = e { Some(outcome.clone()) } else { None })
            .unwrap()
    }

    /// The binlog batches received: each batch's item contents.
    fn batches(&self) -> Vec<Vec<Vec<u8>>> {
        self.events
            .iter()
            .filter_map(|e| if let Event::Binlog(b) = e { Some(b) } else { None })
            .map(|b| b.entries.iter().map(|e| e.item().unwrap().content.to_vec()).collect())
            .collect()
    }

    fn items(&self) -> usize {
        self.batches().iter().map(Vec::len).sum()
    }
}

/// What a transfer fetched.
struct Fetched {
    transfer: Transfer,
    /// Bytes written per file.
    written: BTreeMap<String, u64>,
    not_ready: usize,
}

/// Fetches `db0`'s dump from the mock into `dir` as a driver would; `Err` is the
/// transfer's refusal of a reply, or the connection closing mid-transfer.
fn fetch(master: &MockPika, dir: &Path) -> Result<Fetched, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", master.rsync_port())).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let mut fetched =
        Fetched { transfer: Transfer::new(TransferConfig::new("db0")), written: BTreeMap::new(), not_ready: 0 };
    let mut input = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        while let Some(request) = fetched.transfer.poll_request() {
            write_all(&mut stream, &encode_rsync_request(&request), || true).map_err(|e| e.to_string())?;
        }
        if fetched.transfer.is_done() {
            return Ok(fetched);
        }
        assert!(Instant::now() < deadline, "the transfer did not finish\n{}", master.log());
        if !read_some(&mut stream, &mut input).map_err(|e| e.to_string())? {
            return Err(format!("connection closed with {} bytes of a frame", input.len()));
        }
        while let Some(frame) = split_frame(&mut input).unwrap() {
            let response = decode_rsync_response(&frame).unwrap();
            match fetched.transfer.handle_response(response).map_err(|e: PikaError| e.to_string())? {
                Progress::NotReady => {
                    fetched.not_ready += 1;
                    fetched.transfer.retry_meta();
                }
                Progress::Meta { .. } => {}
                Progress::Chunk(chunk) => {
                    let path = dir.join(&chunk.file);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    let mut file = OpenOptions::new().create(true).truncate(false).write(true).open(path).unwrap();
                    file.seek(SeekFrom::Start(chunk.offset)).unwrap();
                    file.write_all(&chunk.data).unwrap();
                    *fetched.written.entry(chunk.file).or_default() += chunk.data.len() as u64;
                }
            }
        }
    }
}
