//! [`serve_metrics`]: the tokio driver of the metrics endpoint, one request per connection. It owns the
//! sockets and the read timeout; parsing and routing are in `http`.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use crate::http::{respond, HeadReader, Response};
use crate::{listen, AdminError, Control};

/// How long a client has to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
static TOO_MANY: LazyLock<Vec<u8>> = LazyLock::new(|| Response::unavailable().encode());

/// Serves `GET /metrics` (Prometheus text format 0.0.4, from [`Control::metrics`]) on `listener`
/// until `shutdown` resolves, then ends every connection.
///
/// A minimal HTTP/1.x server: the request head (at most 8 KiB, within 10 s) is read, its request line
/// routed, one response written and the connection closed. `GET`/`HEAD /metrics` and `/` give 200,
/// other paths 404, other methods 405, malformed heads 400; at most 128 connections at once (then 503).
/// Returns an error only if the listener fails for good.
pub async fn serve_metrics(
    listener: TcpListener,
    control: Arc<dyn Control>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AdminError> {
    listen::serve(listener, shutdown, TOO_MANY.as_slice(), move |stream, peer| {
        let control = Arc::clone(&control);
        async move {
            if let Err(error) = exchange(stream, control).await {
                debug!(%peer, %error, "Metrics request failed.");
            }
        }
    })
    .await
}

/// Reads one request head and writes the response.
async fn exchange(mut stream: TcpStream, control: Arc<dyn Control>) -> io::Result<()> {
    let response = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Err(_elapsed) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no request head within 10 s")),
        Ok(Err(error)) => return Err(error),
        Ok(Ok(None)) => return Ok(()),
        Ok(Ok(Some(Ok(request)))) => respond(&request, || control.metrics()),
        Ok(Ok(Some(Err(_malformed)))) => Response::bad_request(),
    };
    stream.write_all(&response.encode()).await?;
    listen::close(stream).await
}

/// The parsed head; `None` if the client closed before sending it all.
async fn read_head(stream: &mut TcpStream) -> io::Result<Option<Result<crate::http::Request, AdminError>>> {
    let mut reader = HeadReader::default();
    let mut chunk = [0; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        match reader.feed(chunk.get(..n).unwrap_or_default()) {
            Ok(None) => {}
            done => return Ok(done.transpose()),
        }
    }
}
