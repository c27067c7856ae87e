//! One sender: a task that owns one pipelined connection to the target, sends the batches
//! routed to it in order, and records the source offset up to which the target has
//! acknowledged everything it was given.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use replicant_convert::Commands;
use replicant_target::{Connection, Marker, Redirect};
use tokio::sync::{mpsc, oneshot};

use crate::WriterError;

/// Work for a sender.
pub(crate) enum Msg {
    /// Commands to send; `offset` is the source offset after the last of them.
    Batch { commands: Commands, offset: u64, marker: Option<Marker> },
    /// Reply once everything sent before was acknowledged.
    Flush(oneshot::Sender<()>),
}

/// A sender's progress, read by the dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Batches handed to the sender (counted by the dispatcher before it hands one over).
    pub(crate) batches_sent: AtomicU64,
    /// Batches the target acknowledged completely.
    pub(crate) batches_acked: AtomicU64,
    /// Offset of the last batch the target acknowledged completely. Batches never split
    /// the commands of one source command while streaming, so everything up to it is
    /// applied on this sender.
    pub(crate) acked: AtomicU64,
    /// Commands acknowledged.
    pub(crate) commands: AtomicU64,
    /// Commands handed to the connection.
    pub(crate) sent_commands: AtomicU64,
    /// Error replies tolerated by `skip_errors`.
    pub(crate) skipped: AtomicU64,
    /// Commands a cluster redirected, in order, waiting for the dispatcher.
    pub(crate) redirects: Mutex<Vec<Redirect>>,
}

impl Progress {
    /// Whether redirected commands wait for the dispatcher.
    pub(crate) fn has_redirects(&self) -> bool {
        self.redirects.lock().map(|l| !l.is_empty()).unwrap_or(true)
    }

    pub(crate) fn take_redirects(&self) -> Vec<Redirect> {
        self.redirects.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }
}

/// The first error of any sender; the others stop when they see the dispatcher gone.
pub(crate) type Failure = Arc<Mutex<Option<WriterError>>>;

/// Runs a sender until its channel closes or the target fails.
pub(crate) async fn run(mut conn: Connection, mut rx: mpsc::Receiver<Msg>, progress: Arc<Progress>, failure: Failure) {
    let mut marks: VecDeque<(u64, u64)> = VecDeque::new();
    let mut sent = 0u64;
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(mpsc::error::TryRecvError::Disconnected) => break,
            Err(mpsc::error::TryRecvError::Empty) => {
                // Nothing to send: take replies as they come (so the acknowledged offset
                // keeps up) until the next batch arrives, which is sent at once.
                settle(&mut conn, &mut marks, &progress);
                if conn.unanswered() == 0 {
                    match rx.recv().await {
                        Some(msg) => msg,
                        None => break,
                    }
                } else {
                    tokio::select! {
                        biased;
                        msg = rx.recv() => match msg {
                            Some(msg) => msg,
                            None => break,
                        },
                        answered = conn.answer_some() => {
                            if let Err(e) = answered {
                                return fail(&failure, e.into());
                            }
                            continue;
                        }
                    }
                }
            }
        };
        let result = match msg {
            Msg::Batch { commands, offset, marker } => {
                sent += commands.len() as u64;
                marks.push_back((sent, offset));
                match marker {
                    Some(marker) => conn.send_atomic(commands, &marker).await,
                    None => conn.send(commands).await,
                }
            }
            Msg::Flush(done) => {
                let r = conn.drain().await;
                settle(&mut conn, &mut marks, &progress);
                let _ = done.send(());
                r
            }
        };
        if let Err(e) = result {
            return fail(&failure, e.into());
        }
        settle(&mut conn, &mut marks, &progress);
    }
    if let Err(e) = conn.drain().await {
        return fail(&failure, e.into());
    }
    settle(&mut conn, &mut marks, &progress);
}

/// Moves the acknowledged offset past every batch whose commands were all answered, unless
/// a cluster redirected commands that have not run elsewhere yet (the dispatcher takes
/// them from `progress.redirects`, runs them, and clears the list).
fn settle(conn: &mut Connection, marks: &mut VecDeque<(u64, u64)>, progress: &Progress) {
    let redirected = conn.take_redirects();
    let blocked = match progress.redirects.lock() {
        Ok(mut list) => {
            list.extend(redirected);
            !list.is_empty()
        }
        Err(_) => true,
    };
    let stats = conn.stats();
    let acked = stats.acknowledged;
    progress.commands.store(acked, Ordering::Relaxed);
    progress.sent_commands.store(stats.sent, Ordering::Relaxed);
    progress.skipped.store(stats.skipped, Ordering::Relaxed);
    while let Some(&(count, offset)) = marks.front() {
        if count > acked || blocked {
            break;
        }
        progress.acked.fetch_max(offset, Ordering::Release);
        progress.batches_acked.fetch_add(1, Ordering::Release);
        marks.pop_front();
    }
}

fn fail(failure: &Failure, e: WriterError) {
    if let Ok(mut slot) = failure.lock() {
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}
