//! [`serve_admin`]: the tokio driver of the admin port. It owns the sockets and the calls into
//! [`Control`]; the protocol is the sans-IO `Session`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info};

use crate::command::Query;
use crate::listen;
use crate::reply::Reply;
use crate::session::{Session, Step};
use crate::{AdminError, Control};

/// How much one socket read takes.
const READ_CHUNK: usize = 16 * 1024;
const TOO_MANY: &[u8] = b"-ERR max number of clients reached\r\n";

/// Serves the RESP admin port on `listener` until `shutdown` resolves, then ends every connection.
///
/// One task per connection, at most 128 at once (further ones get `-ERR max number of clients
/// reached` and are closed). With a `password`, clients must `AUTH` first. `REPLICAOF`, `SLAVEOF`
/// and `SHUTDOWN` are logged at info level with the client's address. Returns an error only if the
/// listener fails for good; connection errors end that connection only.
pub async fn serve_admin(
    listener: TcpListener,
    control: Arc<dyn Control>,
    password: Option<String>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AdminError> {
    let password: Option<Arc<[u8]>> = password.map(|p| Arc::from(p.into_bytes()));
    listen::serve(listener, shutdown, TOO_MANY, move |stream, peer| {
        let (control, password) = (Arc::clone(&control), password.clone());
        async move {
            match connection(stream, peer, control, password).await {
                Ok(()) => debug!(%peer, "Admin connection closed."),
                Err(error) => debug!(%peer, %error, "Admin connection failed."),
            }
        }
    })
    .await
}

/// Drives one connection's session until it closes.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    control: Arc<dyn Control>,
    password: Option<Arc<[u8]>>,
) -> io::Result<()> {
    debug!(%peer, "Admin connection opened.");
    let mut session = Session::new(password);
    let mut chunk = vec![0; READ_CHUNK];
    loop {
        match session.poll() {
            None => {
                flush(&mut stream, &mut session).await?;
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                session.feed(chunk.get(..n).unwrap_or_default());
            }
            Some(Step::Flush) => flush(&mut stream, &mut session).await?,
            Some(Step::Ask(query)) => session.answer(ask(query, &control, peer).await),
            Some(Step::Close) => return close(stream, &mut session).await,
            Some(Step::Shutdown) => return shutdown(stream, &mut session, &control, peer).await,
        }
    }
}

/// Replies, closes, then tells the daemon, which it does even if the client is gone.
async fn shutdown(
    mut stream: TcpStream,
    session: &mut Session,
    control: &Arc<dyn Control>,
    peer: SocketAddr,
) -> io::Result<()> {
    info!(%peer, "SHUTDOWN requested on the admin port.");
    let closed = async {
        flush(&mut stream, session).await?;
        stream.shutdown().await
    };
    let closed = closed.await;
    call(control, |c| c.shutdown()).await.ok_or_else(|| io::Error::other("Control::shutdown panicked"))?;
    listen::drain(stream).await;
    closed
}

async fn flush(stream: &mut TcpStream, session: &mut Session) -> io::Result<()> {
    let output = session.take_output();
    if output.is_empty() {
        return Ok(());
    }
    stream.write_all(&output).await
}

async fn close(mut stream: TcpStream, session: &mut Session) -> io::Result<()> {
    flush(&mut stream, session).await?;
    listen::close(stream).await
}

/// Runs a query, off the async runtime if it may block.
async fn ask(query: Query, control: &Arc<dyn Control>, peer: SocketAddr) -> Reply {
    match &query {
        Query::Attach { host, port } => info!(%peer, %host, port, "REPLICAOF requested on the admin port."),
        Query::Detach => info!(%peer, "REPLICAOF NO ONE requested on the admin port."),
        Query::Info(_) => {}
    }
    if !query.may_block() {
        return query.run(control.as_ref());
    }
    let reply = call(control, move |c| query.run(c)).await;
    reply.unwrap_or_else(|| Reply::error("ERR internal error"))
}

/// Calls the daemon on the blocking pool; `None` if the call panicked.
async fn call<T: Send + 'static>(
    control: &Arc<dyn Control>,
    f: impl FnOnce(&dyn Control) -> T + Send + 'static,
) -> Option<T> {
    let control = Arc::clone(control);
    tokio::task::spawn_blocking(move || f(control.as_ref())).await.ok()
}
