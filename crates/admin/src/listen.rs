//! The accept loop shared by the admin port and the metrics endpoint: one task per connection, at most
//! [`MAX_CONNECTIONS`] at once, until shutdown, which ends every connection task. What a connection
//! does is the caller's handler.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::AdminError;

/// The most connections served at once; further ones get the reject message and are closed.
pub(crate) const MAX_CONNECTIONS: usize = 128;
/// The pause after a transient accept error (out of file descriptors, say).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long [`close`] waits for the client to finish sending, and how much it discards at most.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024;

enum Event {
    Stop,
    Accepted(io::Result<(TcpStream, SocketAddr)>),
    Reaped,
}

/// Accepts until `shutdown` resolves, running `handle` in a task per connection; then aborts the
/// connection tasks and waits for them. `reject` is written (best effort) to connections over the limit.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    reject: &'static [u8],
    handle: H,
) -> Result<(), AdminError>
where
    H: Fn(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let mut connections = Connections::new(reject);
    tokio::pin!(shutdown);
    let result = loop {
        let event = tokio::select! {
            biased;
            () = &mut shutdown => Event::Stop,
            Some(_) = connections.tasks.join_next(), if !connections.tasks.is_empty() => Event::Reaped,
            accepted = listener.accept() => Event::Accepted(accepted),
        };
        match event {
            Event::Stop => break Ok(()),
            Event::Reaped => {}
            Event::Accepted(Ok((stream, peer))) => connections.admit(stream, peer, &handle),
            Event::Accepted(Err(source)) if source.kind() == io::ErrorKind::InvalidInput => {
                break Err(AdminError::Accept { addr, source });
            }
            Event::Accepted(Err(error)) => {
                warn!(%addr, %error, "Accept failed, pausing.");
                if pause(&mut shutdown).await {
                    break Ok(());
                }
            }
        }
    };
    connections.tasks.shutdown().await;
    result
}

/// The running connection tasks and the limit on their number.
struct Connections {
    limit: Arc<Semaphore>,
    tasks: JoinSet<()>,
    reject: &'static [u8],
}

impl Connections {
    fn new(reject: &'static [u8]) -> Self {
        Connections { limit: Arc::new(Semaphore::new(MAX_CONNECTIONS)), tasks: JoinSet::new(), reject }
    }

    /// Spawns the handler if under the limit, else writes the reject message and closes.
    fn admit<H, F>(&mut self, stream: TcpStream, peer: SocketAddr, handle: &H)
    where
        H: Fn(TcpStream, SocketAddr) -> F,
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
            debug!(%peer, "Connection refused: too many clients.");
            // A fresh socket's send buffer is empty: this does not block and almost always fits.
            let _ = stream.try_write(self.reject);
            return;
        };
        let connection = handle(stream, peer);
        self.tasks.spawn(async move {
            connection.await;
            drop(permit);
        });
    }
}

/// Waits [`ACCEPT_BACKOFF`]; true if shutdown came first.
async fn pause(shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
    tokio::select! {
        () = shutdown => true,
        () = tokio::time::sleep(ACCEPT_BACKOFF) => false,
    }
}

/// Closes after the last reply: sends FIN, then discards what the client still sends (bounded in time
/// and bytes) before dropping the socket. Dropping it with unread input would send a reset, which can
/// make the client lose the last reply (an error saying why it is being closed, say).
pub(crate) async fn close(mut stream: TcpStream) -> io::Result<()> {
    stream.shutdown().await?;
    drain(stream).await;
    Ok(())
}

/// The second half of [`close`], once FIN is sent.
pub(crate) async fn drain(mut stream: TcpStream) {
    let drain = async {
        let mut sink = [0; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
