//! What a source link does after an attempt ended in an error, shared by the sources
//! whose links reconnect on their own (Kvrocks, Pika): stop on a final error, stop when a
//! delivered snapshot was cut and a new one is not allowed, otherwise wait (doubling up to
//! [`MAX_PAUSE`]) and try again, unless stopped meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::{FullResyncPolicy, LinkError, LinkState, LinkStatus};

/// The longest pause between two attempts.
pub const MAX_PAUSE: Duration = Duration::from_secs(10);

/// After a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again now (the pause is over).
    Again,
    /// Stopped during the pause: end without an error.
    Stopped,
}

/// Where a failed attempt left the link.
#[derive(Debug, Clone, Copy)]
pub struct Failed<'a> {
    /// Whether a position to continue from is known (else a new snapshot is needed).
    pub resumable: bool,
    /// Whether part of a snapshot reached the sink in this attempt.
    pub delivered: bool,
    /// Whether a new snapshot may be taken.
    pub full_resync: FullResyncPolicy,
    /// The master's kind, for the log ("Kvrocks", "Pika").
    pub master: &'a str,
}

/// Records `err`, then ends the link with it, or pauses for `pause` (doubled for next
/// time) and says whether to try again.
pub async fn after_failure<F: Future<Output = ()>>(
    err: LinkError,
    failed: Failed<'_>,
    status: &LinkStatus,
    pause: &mut Duration,
    shutdown: Pin<&mut F>,
) -> Result<Retry, LinkError> {
    status.set_last_error(&err);
    if !err.is_retryable() {
        status.set_state(LinkState::Stopped);
        return Err(err);
    }
    if !failed.resumable && failed.delivered && failed.full_resync == FullResyncPolicy::Stop {
        status.set_state(LinkState::Stopped);
        return Err(LinkError::SnapshotInterrupted { cause: Box::new(err) });
    }
    tracing::warn!(
        error = %err,
        retry_in_ms = pause.as_millis() as u64,
        "Link to the {} master lost; reconnecting.",
        failed.master
    );
    status.set_state(LinkState::Backoff);
    let retry = tokio::select! {
        () = tokio::time::sleep(*pause) => Retry::Again,
        () = shutdown => {
            status.set_state(LinkState::Stopped);
            Retry::Stopped
        }
    };
    *pause = (*pause * 2).min(MAX_PAUSE);
    Ok(retry)
}
