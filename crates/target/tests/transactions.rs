//! Error replies inside an atomic batch, against a real `redis-server`: a target out of
//! memory refuses the transaction, and the error names the batch's write and its key
//! (never the `SELECT` that opens the batch, which a server may refuse first).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use replicant_convert::Commands;
use replicant_net::Endpoint;
use replicant_target::{Connection, Marker, TargetError};
use replicant_testkit::RedisServer;

#[tokio::test]
async fn an_oom_refusal_in_a_transaction_names_the_write() {
    let server = RedisServer::builder().arg("--maxmemory-policy", "noeviction").start();
    let used: u64 = server.info_field("memory", "used_memory").unwrap().parse().unwrap();
    server.cli(&["CONFIG", "SET", "maxmemory", &(used / 2).to_string()]);
    let mut conn = Connection::connect(&Endpoint::tcp("127.0.0.1", server.port()), 64).await.unwrap();
    let mut batch = Commands::new();
    batch.begin_keyless("SELECT", 2, 3).uint(3);
    batch.command("SET", 3, Some(b"the-key"), &[b"the-key", b"value"]);
    let marker = Marker { db: 0, key: b"replicant:applied:0".to_vec(), value: b"x".to_vec() };
    let sent = conn.send_atomic(batch, &marker).await;
    let error = match sent {
        Err(e) => e,
        Ok(()) => conn.drain().await.unwrap_err(),
    };
    let TargetError::Rejected { command, key, db, reply, .. } = &error else { panic!("{error}") };
    assert_eq!((*command, key.as_str(), *db), ("SET", "key \"the-key\"", 3), "{error}");
    assert!(reply.starts_with("OOM"), "{error}");
}
