//! The admin port driven by the real `redis-cli`, which must be installed (`apt-get install
//! redis-tools`): these tests fail, not skip, without it.

use std::net::SocketAddr;
use std::process::{Command, Output};

use crate::support::Server;

/// Runs `redis-cli -p PORT args...` off the runtime; stdout, stderr and whether it exited 0.
async fn redis_cli(addr: SocketAddr, args: &[&str]) -> (String, String, bool) {
    let mut command = Command::new("redis-cli");
    command.arg("-h").arg(addr.ip().to_string()).arg("-p").arg(addr.port().to_string()).args(args);
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("redis-cli must be installed (apt-get install redis-tools)");
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(output.stdout), text(output.stderr), output.status.success())
}

#[tokio::test]
async fn info_replication() {
    let server = Server::admin(None).await;
    let (out, err, ok) = redis_cli(server.addr, &["INFO", "replication"]).await;
    assert!(ok, "{err}");
    // redis-cli prints INFO replies as they are (redis-server's too).
    assert_eq!(out, "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn replicaof_and_no_one() {
    let mut server = Server::admin(None).await;
    let (out, err, ok) = redis_cli(server.addr, &["REPLICAOF", "127.0.0.1", "6379"]).await;
    assert_eq!((out.as_str(), ok), ("OK\n", true), "{err}");
    assert_eq!(server.next_call().await, "attach 127.0.0.1 6379");
    let (out, err, ok) = redis_cli(server.addr, &["replicaof", "NO", "ONE"]).await;
    assert_eq!((out.as_str(), ok), ("OK\n", true), "{err}");
    assert_eq!(server.next_call().await, "detach");
    let (out, _, _) = redis_cli(server.addr, &["SLAVEOF", "127.0.0.1", "99999"]).await;
    // redis-cli follows an error with an empty line (as for redis-server).
    assert_eq!(out, "ERR Invalid master port\n\n");
    server.assert_no_calls();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn password() {
    let mut server = Server::admin(Some("s3cret")).await;
    let (out, _, _) = redis_cli(server.addr, &["REPLICAOF", "127.0.0.1", "6379"]).await;
    assert_eq!(out, "NOAUTH Authentication required.\n\n");
    let (out, err, _) = redis_cli(server.addr, &["-a", "wrong", "--no-auth-warning", "PING"]).await;
    assert!(err.contains("WRONGPASS"), "{err}");
    assert_eq!(out, "NOAUTH Authentication required.\n\n");
    server.assert_no_calls();

    let (out, err, ok) = redis_cli(server.addr, &["-a", "s3cret", "--no-auth-warning", "REPLICAOF", "h", "1"]).await;
    assert_eq!((out.as_str(), ok), ("OK\n", true), "{err}");
    assert_eq!(server.next_call().await, "attach h 1");
    let args = ["--user", "default", "--pass", "s3cret", "--no-auth-warning", "INFO", "server"];
    let (out, err, ok) = redis_cli(server.addr, &args).await;
    assert_eq!((out.as_str(), ok), ("# Server\r\nreplicant_version:0.1.0\r\n", true), "{err}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown() {
    let mut server = Server::admin(None).await;
    let (out, err, ok) = redis_cli(server.addr, &["SHUTDOWN"]).await;
    assert!(ok, "{out} {err}");
    assert_eq!(server.next_call().await, "shutdown");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn commands_from_stdin() {
    let server = Server::admin(None).await;
    let mut command = Command::new("redis-cli");
    command.arg("-p").arg(server.addr.port().to_string()).stdin(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = command.stdout(std::process::Stdio::piped()).spawn().expect("redis-cli must be installed");
        child.stdin.take().unwrap().write_all(b"PING\nECHO hello\nINFO nosuch\n").unwrap();
        child.wait_with_output()
    })
    .await
    .unwrap()
    .unwrap();
    // An empty INFO prints nothing (as for redis-server).
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "PONG\nhello\n");
    server.stop().await.unwrap();
}
