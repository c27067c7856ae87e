//! A PSYNC connection once accepted: Kvrocks' `FeedSlaveThread` (`src/cluster/replication.cc`).
//! `+OK\r\n`, then every WAL batch from the requested sequence as a bulk
//! `$<len>\r\n<rep>\r\n`, batches as they are pushed, and the bulk `ping` after each
//! heartbeat interval without a ping. Nothing the replica sends is answered: it is read
//! and thrown away, and its closing is only noticed when a write fails, as in Kvrocks.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::session::{bulk, is_timeout, send};
use super::wal::Batch;
use super::{lock, Conn, Shared, POLL};

/// Feeds `conn` from batch index `next`, whose sequence should be `seq`.
pub(super) fn run(shared: &Shared, conn: &Conn, mut stream: TcpStream, mut next: usize, mut seq: u64) {
    if send(shared, conn, &mut stream, b"+OK\r\n").is_err() {
        return;
    }
    let _ = stream.set_nonblocking(true);
    let mut client = ClientBytes::default();
    let mut last_ping = Instant::now();
    while !shared.stopped() && !conn.is_closed() {
        client.drain(shared, conn, &mut stream);
        let pending: Vec<Batch> = lock(&shared.wal).batches.get(next..).unwrap_or_default().to_vec();
        if pending.is_empty() {
            if last_ping.elapsed() >= shared.heartbeat {
                if send(shared, conn, &mut stream, b"$4\r\nping\r\n").is_err() {
                    break;
                }
                last_ping = Instant::now();
            }
            wait_for_batch(shared, conn, next, last_ping);
            continue;
        }
        let mut out = Vec::new();
        let mut gap = false;
        for batch in &pending {
            if batch.seq != seq {
                // "WAL iterator is discrete, some seq might be lost": Kvrocks stops feeding.
                shared.note(format!("conn {}: batch seq {} where {seq} was expected, closing", conn.id, batch.seq));
                gap = true;
                break;
            }
            out.extend(bulk(&batch.rep));
            seq = batch.next_seq();
            next += 1;
        }
        if send(shared, conn, &mut stream, &out).is_err() || gap {
            break;
        }
        conn.next_seq.store(seq, Ordering::SeqCst);
        shared.note(format!("conn {}: sent {} batch(es), next seq {seq}", conn.id, pending.len()));
    }
    shared.note(format!("conn {}: feed ended", conn.id));
}

/// Waits until a batch beyond `next` is pushed, the next heartbeat is due, the
/// connection is cut or the mock stops; at most [`POLL`].
fn wait_for_batch(shared: &Shared, conn: &Conn, next: usize, last_ping: Instant) {
    let wait = shared.heartbeat.saturating_sub(last_ping.elapsed()).min(POLL);
    let wal = lock(&shared.wal);
    if wal.batches.len() <= next && !shared.stopped() && !conn.is_closed() {
        let _ = shared.wal_changed.wait_timeout(wal, wait);
    }
}

/// What the replica sent on the feed, thrown away.
#[derive(Default)]
struct ClientBytes {
    ignored: usize,
    eof: bool,
}

impl ClientBytes {
    fn drain(&mut self, shared: &Shared, conn: &Conn, stream: &mut TcpStream) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            match stream.read(&mut buf) {
                Ok(0) => {
                    self.eof = true;
                    shared.note(format!("conn {}: the replica closed its side (unnoticed by Kvrocks)", conn.id));
                }
                Ok(n) => {
                    if self.ignored == 0 {
                        shared.note(format!("conn {}: ignoring bytes sent on the PSYNC stream", conn.id));
                    }
                    self.ignored += n;
                }
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => return,
                Err(_) => self.eof = true,
            }
        }
    }
}
