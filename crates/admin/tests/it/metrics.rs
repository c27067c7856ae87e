//! The metrics endpoint over raw TCP: status lines, headers, bodies, errors and shutdown.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Server, PATIENCE};

const BODY: &str = "# HELP replicant_commands_total Commands applied.\n# TYPE replicant_commands_total counter\n\
                    replicant_commands_total 42\n# HELP replicant_shard_queue Queued batches.\n\
                    # TYPE replicant_shard_queue gauge\nreplicant_shard_queue{shard=\"0\"} 1\n\
                    replicant_shard_queue{shard=\"1\"} 2\n";

/// A response split into status line, header lines and body.
struct Response {
    status: String,
    headers: Vec<String>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.headers.iter().find(|h| h.to_ascii_lowercase().starts_with(&prefix)).map(|h| &h[prefix.len()..])
    }
}

/// Sends `request` and reads until the server closes.
async fn exchange(addr: SocketAddr, request: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await.expect("server closes").unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.split("\r\n").map(str::to_owned);
    let status = lines.next().unwrap();
    Response { status, headers: lines.collect(), body: body.to_owned() }
}

#[tokio::test]
async fn get_metrics() {
    let server = Server::metrics().await;
    let r = exchange(server.addr, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n").await;
    assert_eq!(r.status, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some(BODY.len().to_string().as_str()));
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.body, BODY);

    let r = exchange(server.addr, "HEAD /metrics HTTP/1.0\r\n\r\n").await;
    assert_eq!(r.status, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Content-Length"), Some(BODY.len().to_string().as_str()));
    assert_eq!(r.body, "");

    let r = exchange(server.addr, "GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(r.status, "HTTP/1.1 200 OK");
    assert!(r.body.contains("/metrics"), "{}", r.body);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn errors() {
    let server = Server::metrics().await;
    let r = exchange(server.addr, "GET /nope HTTP/1.1\r\n\r\n").await;
    assert_eq!(r.status, "HTTP/1.1 404 Not Found");
    let r = exchange(server.addr, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").await;
    assert_eq!(r.status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    let r = exchange(server.addr, "hello\r\n\r\n").await;
    assert_eq!(r.status, "HTTP/1.1 400 Bad Request");
    let r = exchange(server.addr, &format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000))).await;
    assert_eq!(r.status, "HTTP/1.1 400 Bad Request");
    assert_eq!(r.header("Connection"), Some("close"));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_waiting_connections() {
    let server = Server::metrics().await;
    let mut waiting = TcpStream::connect(server.addr).await.unwrap();
    waiting.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
    server.stop().await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, waiting.read_to_end(&mut rest)).await.expect("closed in time");
    assert!(read.is_err() || rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}
