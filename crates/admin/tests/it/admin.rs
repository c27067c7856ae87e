//! The admin port over raw TCP: RESP arrays and inline commands, authentication, the daemon's calls,
//! closing, the connection limit and shutdown.

use redis_protocol::resp2::types::OwnedFrame;

use crate::support::{bulk, error, status, Client, Server};

#[tokio::test]
async fn commands_reach_the_daemon() {
    let mut server = Server::admin(None).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(c.command(&["PING"]).await, status("PONG"));
    assert_eq!(c.command(&["echo", "a\r\nb"]).await, bulk("a\r\nb"));
    assert_eq!(c.command(&["REPLICAOF", "127.0.0.1", "6379"]).await, status("OK"));
    assert_eq!(server.next_call().await, "attach 127.0.0.1 6379");
    assert_eq!(c.command(&["replicaof", "no", "one"]).await, status("OK"));
    assert_eq!(server.next_call().await, "detach");
    assert_eq!(c.command(&["SLAVEOF", "unreachable", "7"]).await, error("ERR cannot reach unreachable:7"));
    assert_eq!(server.next_call().await, "attach unreachable 7");
    assert_eq!(c.command(&["REPLICAOF", "h", "0"]).await, error("ERR Invalid master port"));
    assert_eq!(
        c.command(&["INFO", "Replication"]).await,
        bulk("# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n")
    );
    assert_eq!(c.command(&["INFO", "nosuch"]).await, bulk(""));
    assert_eq!(c.command(&["COMMAND", "DOCS"]).await, OwnedFrame::Array(Vec::new()));
    assert_eq!(c.command(&["GET", "k"]).await, error("ERR unknown command 'GET', with args beginning with: 'k' "));
    server.assert_no_calls();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn inline_commands_and_pipelines() {
    let server = Server::admin(None).await;
    let mut c = Client::connect(server.addr).await;
    c.send(b"PING\r\nPING hi\nINFO server\r\n*1\r\n$4\r\nPING\r\n").await;
    assert_eq!(c.reply().await, status("PONG"));
    assert_eq!(c.reply().await, bulk("hi"));
    assert_eq!(c.reply().await, bulk("# Server\r\nreplicant_version:0.1.0\r\n"));
    assert_eq!(c.reply().await, status("PONG"));
    c.send(b"QUIT\r\n").await;
    assert_eq!(c.reply().await, status("OK"));
    c.assert_closed().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn noauth_until_auth() {
    let mut server = Server::admin(Some("s3cret")).await;
    let mut c = Client::connect(server.addr).await;
    let noauth = error("NOAUTH Authentication required.");
    for command in [&["PING"][..], &["REPLICAOF", "h", "1"], &["SHUTDOWN"], &["INFO"]] {
        assert_eq!(c.command(command).await, noauth);
    }
    let wrongpass = error("WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(c.command(&["AUTH", "nope"]).await, wrongpass);
    assert_eq!(c.command(&["AUTH", "admin", "s3cret"]).await, wrongpass);
    assert_eq!(c.command(&["PING"]).await, noauth);
    assert_eq!(c.command(&["AUTH", "s3cret"]).await, status("OK"));
    assert_eq!(c.command(&["PING"]).await, status("PONG"));

    let mut other = Client::connect(server.addr).await;
    assert_eq!(other.command(&["PING"]).await, noauth, "authentication is per connection");
    assert_eq!(other.command(&["AUTH", "default", "s3cret"]).await, status("OK"));
    server.assert_no_calls();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_replies_closes_then_tells_the_daemon() {
    let mut server = Server::admin(None).await;
    let mut c = Client::connect(server.addr).await;
    assert_eq!(c.command(&["SHUTDOWN", "NOSAVE"]).await, status("OK"));
    c.assert_closed().await;
    assert_eq!(server.next_call().await, "shutdown");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn protocol_errors_close_the_connection() {
    let server = Server::admin(None).await;
    for (request, reply) in [
        (&b"*99999999999\r\n"[..], "ERR Protocol error: too many arguments (max 64)"),
        (b"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"),
        (&[b'x'; 70 * 1024], "ERR Protocol error: request longer than 65536 bytes"),
    ] {
        let mut c = Client::connect(server.addr).await;
        c.send(request).await;
        assert_eq!(c.reply().await, error(reply));
        c.assert_closed().await;
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn at_most_128_clients() {
    let server = Server::admin(None).await;
    let mut clients = Vec::new();
    for _ in 0..128 {
        let mut c = Client::connect(server.addr).await;
        assert_eq!(c.command(&["PING"]).await, status("PONG"));
        clients.push(c);
    }
    let mut extra = Client::connect(server.addr).await;
    assert_eq!(extra.reply().await, error("ERR max number of clients reached"));
    extra.assert_closed().await;

    clients.pop().unwrap().command(&["QUIT"]).await;
    // The slot frees once the server has seen the close: poll until a new client gets in.
    loop {
        let mut c = Client::connect(server.addr).await;
        c.send(b"PING\r\n").await;
        if c.try_reply().await == Some(status("PONG")) {
            break;
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_ends_open_connections() {
    let server = Server::admin(None).await;
    let mut idle = Client::connect(server.addr).await;
    assert_eq!(idle.command(&["PING"]).await, status("PONG"));
    let mut partial = Client::connect(server.addr).await;
    partial.send(b"*2\r\n$4\r\nECHO\r\n").await;
    server.stop().await.unwrap();
    idle.assert_closed().await;
    partial.assert_closed().await;
}
