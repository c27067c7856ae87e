//! A fake daemon that reports each call on a channel, servers on free ports, and a raw RESP client.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::types::OwnedFrame;
use replicant_admin::{serve_admin, serve_metrics, AdminError, Control, InfoSection, Kind, Metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A bound on every wait, so a broken server fails the test instead of hanging it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Records every call: `attach host port`, `detach`, `shutdown`.
pub(crate) struct Fake {
    calls: mpsc::UnboundedSender<String>,
}

impl Control for Fake {
    fn attach(&self, host: &str, port: u16) -> Result<String, String> {
        let _ = self.calls.send(format!("attach {host} {port}"));
        if host == "unreachable" {
            return Err(format!("cannot reach {host}:{port}"));
        }
        Ok("OK".into())
    }
    fn detach(&self) -> Result<String, String> {
        let _ = self.calls.send("detach".into());
        Ok("OK".into())
    }
    fn info(&self) -> Vec<InfoSection> {
        vec![
            InfoSection::new("Server").field("replicant_version", "0.1.0"),
            InfoSection::new("Replication").field("role", "slave").field("master_host", "10.0.0.1"),
        ]
    }
    fn shutdown(&self) {
        let _ = self.calls.send("shutdown".into());
    }
    fn metrics(&self) -> String {
        let mut m = Metrics::new();
        m.counter("replicant_commands_total", "Commands applied.", 42u64);
        m.family("replicant_shard_queue", "Queued batches.", Kind::Gauge)
            .sample(&[("shard", "0")], 1)
            .sample(&[("shard", "1")], 2);
        m.finish()
    }
}

/// A server on a free loopback port, stopped by [`Server::stop`].
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    calls: mpsc::UnboundedReceiver<String>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), AdminError>>,
}

impl Server {
    pub(crate) async fn admin(password: Option<&str>) -> Server {
        let password = password.map(str::to_owned);
        Server::start(move |listener, control, stop| serve_admin(listener, control, password, stop)).await
    }

    pub(crate) async fn metrics() -> Server {
        Server::start(serve_metrics).await
    }

    async fn start<S, F>(serve: S) -> Server
    where
        S: FnOnce(TcpListener, Arc<dyn Control>, Stop) -> F,
        F: Future<Output = Result<(), AdminError>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (calls_tx, calls) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel();
        let stopped: Stop = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(serve(listener, Arc::new(Fake { calls: calls_tx }), stopped));
        Server { addr, calls, stop, task }
    }

    /// The next call the daemon received.
    pub(crate) async fn next_call(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.calls.recv()).await.expect("a call").expect("server alive")
    }

    /// Asserts the daemon received no call (so far).
    pub(crate) fn assert_no_calls(&mut self) {
        assert_eq!(self.calls.try_recv().ok(), None);
    }

    /// Triggers shutdown and waits for the server to return.
    pub(crate) async fn stop(self) -> Result<(), AdminError> {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task).await.expect("server stops").unwrap()
    }
}

/// The shutdown future handed to the server.
pub(crate) type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A raw TCP client that decodes replies with `redis-protocol`.
pub(crate) struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        Client { stream: TcpStream::connect(addr).await.unwrap(), buf: Vec::new() }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends `args` as a RESP array, as redis-cli does.
    pub(crate) async fn command(&mut self, args: &[&str]) -> OwnedFrame {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.send(request.as_bytes()).await;
        self.reply().await
    }

    /// The next reply; panics at EOF.
    pub(crate) async fn reply(&mut self) -> OwnedFrame {
        tokio::time::timeout(PATIENCE, self.read_reply()).await.expect("a reply in time").expect("a reply, not EOF")
    }

    /// The next reply; `None` at EOF or on a reset connection.
    pub(crate) async fn try_reply(&mut self) -> Option<OwnedFrame> {
        tokio::time::timeout(PATIENCE, self.read_reply()).await.expect("a reply or EOF in time")
    }

    async fn read_reply(&mut self) -> Option<OwnedFrame> {
        loop {
            if let Some((frame, n)) = decode(&self.buf).unwrap() {
                self.buf.drain(..n);
                return Some(frame);
            }
            let mut chunk = [0; 4096];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Asserts the server closes the connection with nothing more to say.
    pub(crate) async fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut rest)).await.expect("EOF in time");
        // A reset is a close too: the server may close with unread input.
        if read.is_ok() {
            assert_eq!(String::from_utf8_lossy(&self.buf), "");
            assert_eq!(String::from_utf8_lossy(&rest), "");
        }
    }
}

pub(crate) fn status(s: &str) -> OwnedFrame {
    OwnedFrame::SimpleString(s.as_bytes().to_vec())
}

pub(crate) fn error(s: &str) -> OwnedFrame {
    OwnedFrame::Error(s.to_owned())
}

pub(crate) fn bulk(s: &str) -> OwnedFrame {
    OwnedFrame::BulkString(s.as_bytes().to_vec())
}
