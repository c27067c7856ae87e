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
    /// Offset of the last acknowledged batch that carried an exactly-once marker (0: none):
    /// the marker the target holds for this sender, unless it lost acknowledged writes.
    pub(crate) marked: AtomicU64,
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
pub(crate) type Failure = Arc<Mutex<FirstError>>;

/// The first sender error, until the dispatcher takes it; then what it was, so that
/// later calls can still say why the senders are gone (and whether a retry may help).
#[derive(Debug, Default)]
pub(crate) struct FirstError {
    error: Option<WriterError>,
    /// The error taken: its text with causes, and whether it was retryable.
    taken: Option<(String, bool)>,
}

impl FirstError {
    /// The first error, once.
    pub(crate) fn take(&mut self) -> Option<WriterError> {
        let error = self.error.take()?;
        self.taken = Some((error.describe(), error.is_retryable()));
        Some(error)
    }

    /// Why the senders are gone: the first error if not taken yet, else what it was.
    pub(crate) fn gone(&mut self) -> WriterError {
        if let Some(error) = self.take() {
            return error;
        }
        match &self.taken {
            Some((first, retryable)) => WriterError::Stopped { first: Some(first.clone()), retryable: *retryable },
            None => WriterError::stopped(),
        }
    }

    fn record(&mut self, error: WriterError) {
        if self.error.is_none() && self.taken.is_none() {
            self.error = Some(error);
        }
    }
}

/// A batch handed to the connection: the count of commands sent once it is, its source
/// offset, and whether it carried a marker.
#[derive(Debug, Clone, Copy)]
struct Sent {
    count: u64,
    offset: u64,
    marked: bool,
}

/// Runs a sender until its channel closes or the target fails.
pub(crate) async fn run(mut conn: Connection, mut rx: mpsc::Receiver<Msg>, progress: Arc<Progress>, failure: Failure) {
    let mut marks: VecDeque<Sent> = VecDeque::new();
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
                marks.push_back(Sent { count: sent, offset, marked: marker.is_some() });
                match marker {
                    Some(marker) => conn.send_atomic(commands, &marker).await,
                    None => conn.send(commands).await,
                }
            }
            Msg::Flush(done) => {
                let r = conn.drain().await;
                settle(&mut conn, &mut marks, &progress);
                if let Err(e) = r {
                    // Recorded before `done` is dropped, so the dispatcher sees why.
                    return fail(&failure, e.into());
                }
                let _ = done.send(());
                Ok(())
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
fn settle(conn: &mut Connection, marks: &mut VecDeque<Sent>, progress: &Progress) {
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
    while let Some(&Sent { count, offset, marked }) = marks.front() {
        if count > acked || blocked {
            break;
        }
        progress.acked.fetch_max(offset, Ordering::Release);
        if marked {
            progress.marked.fetch_max(offset, Ordering::Release);
        }
        progress.batches_acked.fetch_add(1, Ordering::Release);
        marks.pop_front();
    }
}

fn fail(failure: &Failure, e: WriterError) {
    if let Ok(mut slot) = failure.lock() {
        slot.record(e);
    }
}

#[cfg(test)]
mod tests {
    use replicant_target::TargetError;

    use super::*;

    #[test]
    fn the_first_error_is_returned_once_then_named_by_stopped() {
        let mut first = FirstError::default();
        assert!(matches!(first.gone(), WriterError::Stopped { first: None, retryable: false }));
        first.record(WriterError::Target(TargetError::Timeout { addr: "t:1".into(), secs: 2, pending: 5 }));
        first.record(WriterError::Target(TargetError::Closed { addr: "t:1".into(), pending: 0 }));
        let e = first.gone();
        assert!(matches!(e, WriterError::Target(TargetError::Timeout { pending: 5, .. })), "{e}");
        assert!(first.take().is_none());
        first.record(WriterError::Marker("later".into()));
        let later = first.gone();
        let WriterError::Stopped { first: Some(text), retryable: true } = &later else { panic!("{later}") };
        assert!(text.contains("answered nothing for 2 s"), "{text}");
        assert!(later.is_retryable());
    }
}
