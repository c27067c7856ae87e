//! How long a connection waits, and the reads and writes that keep to it.
//!
//! [`Timeouts::connect`] bounds the connection setup. [`Timeouts::reply`] bounds silence:
//! while commands are in flight, the target must send a reply byte or take a byte written
//! to it at least that often, or the connection fails (a half-open link, or a hung
//! target). Any such byte restarts the clock, so a slow target that keeps answering never
//! trips it. While a write waits for the target to take bytes, replies are read
//! meanwhile: they are the sign of life of a slow target, and a target whose replies go
//! unread may stop reading.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use replicant_net::Stream;
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::time::Instant;

/// How long a connection to the target waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Connecting, TLS, `AUTH` and the first `PING`, together. Default: 10 s; zero: no
    /// limit.
    pub connect: Duration,
    /// While commands are in flight, the longest the target may go without sending a
    /// reply byte or taking a byte written to it. Default: 60 s; zero: no limit.
    pub reply: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(10), reply: Duration::from_secs(60) }
    }
}

impl Timeouts {
    /// These limits (zero: none).
    pub fn new(connect: Duration, reply: Duration) -> Self {
        Timeouts { connect, reply }
    }

    /// When a setup started now must be done.
    pub(crate) fn connect_deadline(&self) -> Option<Instant> {
        limit(self.connect).and_then(|d| Instant::now().checked_add(d))
    }

    /// When a target last seen alive at `alive` has been silent too long.
    pub(crate) fn reply_deadline(&self, alive: Instant) -> Option<Instant> {
        limit(self.reply).and_then(|d| alive.checked_add(d))
    }
}

fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Runs `fut` until `deadline` (`None`: without one); `None` when the deadline came first.
pub(crate) async fn within<F: Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// Reads what the target sent into `buf` (cancel-safe); 0 when it closed the connection.
pub(crate) async fn read_some(stream: &mut Stream, buf: &mut BytesMut) -> io::Result<usize> {
    stream.read_buf(buf).await
}

/// What one step of a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrote {
    /// Everything was written and flushed.
    All,
    /// The target took this many bytes.
    Some(usize),
    /// The target took nothing, and this many bytes of replies were read (0: it closed
    /// the connection).
    Read(usize),
}

/// One step of writing `bytes` (flushing once there are none left): waits until the
/// target takes some, or, while it takes none, until replies arrive, which are read into
/// `read_buf`.
pub(crate) fn write_reading<'a>(
    stream: &'a mut Stream,
    read_buf: &'a mut BytesMut,
    bytes: &'a [u8],
) -> impl Future<Output = io::Result<Wrote>> + 'a {
    poll_fn(move |cx| {
        let progress = if bytes.is_empty() {
            Pin::new(&mut *stream).poll_flush(cx).map_ok(|()| Wrote::All)
        } else {
            match Pin::new(&mut *stream).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                other => other.map_ok(Wrote::Some),
            }
        };
        if progress.is_ready() {
            return progress;
        }
        let read = pin!(stream.read_buf(&mut *read_buf));
        read.poll(cx).map_ok(Wrote::Read)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit_and_huge_limits_do_not_overflow() {
        let now = Instant::now();
        assert_eq!(Timeouts::new(Duration::ZERO, Duration::ZERO).reply_deadline(now), None);
        assert_eq!(Timeouts::new(Duration::ZERO, Duration::ZERO).connect_deadline(), None);
        assert_eq!(Timeouts::new(Duration::MAX, Duration::MAX).reply_deadline(now), None);
        let t = Timeouts::default();
        assert_eq!(t.reply_deadline(now), Some(now + Duration::from_secs(60)));
        assert_eq!((t.connect, t.reply), (Duration::from_secs(10), Duration::from_secs(60)));
    }
}
