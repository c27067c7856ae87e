//! The link against real masters: full sync (disk and diskless) with writes before,
//! during and after it, checked for exact order and offsets; the master's view of the
//! replica; partial resync after `CLIENT KILL` and after a proxy drops the connection;
//! a refused resume; a resume on a promoted replica (PSYNC2); authentication; TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, unreachable_pub)]

mod support;

use std::sync::atomic::Ordering;

use replicant_link::{LinkError, LinkState};
use replicant_net::{Endpoint, TlsOptions};
use replicant_repl::ReplId;
use replicant_testkit::{free_port, RedisServer};
use support::{eventually, info_u64, FaultProxy, Running, Writer};

fn master(diskless: bool) -> RedisServer {
    let master = RedisServer::builder()
        .arg("--repl-diskless-sync", if diskless { "yes" } else { "no" })
        .arg("--repl-diskless-sync-delay", "1")
        .start();
    master.cli(&["DEBUG", "POPULATE", "50000", "bulk", "100"]);
    master
}

/// Writes go on before, during and after the full sync; every one must arrive once, in
/// order, and the offsets must add up to the master's.
fn full_sync_then_stream(diskless: bool) {
    let master = master(diskless);
    let writer = Writer::start(&master, "seq");
    eventually("some writes before the sync", || writer.count() > 200);
    let link = Running::start(Endpoint::tcp("127.0.0.1", master.port()));
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    let at_stream = writer.count();
    eventually("writes after the sync", || writer.count() > at_stream + 300);
    let written = writer.stop();
    link.wait_caught_up(&master);

    let rec = link.record();
    assert_eq!(rec.full_syncs.len(), 1);
    let seq = rec.sequence("seq");
    assert_eq!(seq.len() as u64, written, "every RPUSH arrives exactly once");
    assert!(seq.iter().enumerate().all(|(i, v)| *v == i as u64 + 1), "in order");
    assert!(rec.in_snapshot("seq") > 0 && rec.in_stream("seq") > 0, "writes both in the snapshot and in the stream");
    rec.assert_offsets_add_up(info_u64(&master, "replication", "master_repl_offset"));
    assert_eq!(rec.rdb_keys, 50_001);

    // The master sees an online replica whose acknowledged offset keeps up.
    let master_offset = info_u64(&master, "replication", "master_repl_offset");
    eventually("the master sees our ACK", || {
        let line = master.info_field("replication", "slave0").unwrap_or_default();
        line.contains("state=online") && line.contains(&format!("offset={master_offset}"))
    });
    assert_eq!(info_u64(&master, "stats", "sync_full"), 1);
}

#[test]
fn disk_full_sync_then_stream() {
    full_sync_then_stream(false);
}

#[test]
fn diskless_full_sync_then_stream() {
    full_sync_then_stream(true);
}

#[test]
fn client_kill_ends_in_a_partial_resync() {
    let master = master(false);
    let writer = Writer::start(&master, "seq");
    let link = Running::start(Endpoint::tcp("127.0.0.1", master.port()));
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    for round in 1..=2 {
        let before = writer.count();
        eventually("writes flow", || writer.count() > before + 100);
        master.cli(&["CLIENT", "KILL", "TYPE", "replica"]);
        eventually("a partial resync", || info_u64(&master, "stats", "sync_partial_ok") == round);
    }
    let written = writer.stop();
    link.wait_caught_up(&master);
    assert_eq!(info_u64(&master, "stats", "sync_full"), 1, "never a second full sync");
    let rec = link.record();
    assert_eq!(rec.resumed.len(), 2);
    let seq = rec.sequence("seq");
    assert_eq!(seq.len() as u64, written);
    assert!(seq.iter().enumerate().all(|(i, v)| *v == i as u64 + 1));
    rec.assert_offsets_add_up(info_u64(&master, "replication", "master_repl_offset"));
}

#[test]
fn a_proxy_dropping_the_connection_mid_stream_ends_in_a_partial_resync() {
    let master = master(true);
    let proxy = FaultProxy::start(master.port());
    let writer = Writer::start(&master, "seq");
    let link = Running::start(Endpoint::tcp("127.0.0.1", proxy.port()));
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    let before = writer.count();
    eventually("writes flow", || writer.count() > before + 200);
    proxy.cut();
    eventually("a partial resync", || info_u64(&master, "stats", "sync_partial_ok") == 1);
    let after = writer.count();
    eventually("writes flow again", || writer.count() > after + 200);
    let written = writer.stop();
    link.wait_caught_up(&master);
    assert_eq!(info_u64(&master, "stats", "sync_full"), 1);
    assert!(link.status.connections.load(Ordering::Relaxed) >= 2);
    let seq = link.record().sequence("seq");
    assert_eq!(seq.len() as u64, written);
    assert!(seq.iter().enumerate().all(|(i, v)| *v == i as u64 + 1));
}

#[test]
fn a_refused_resume_stops_with_a_clear_error() {
    let master = master(false);
    let id: ReplId = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
    let link = Running::start_resuming(Endpoint::tcp("127.0.0.1", master.port()), (id, 1000));
    let err = link.join().unwrap_err();
    assert!(matches!(err, LinkError::FullResyncRefused { .. }), "{err}");
    assert!(err.to_string().contains("a new full sync is needed"), "{err}");
}

#[test]
fn authenticates_with_the_url_password() {
    let master = RedisServer::start();
    master.cli(&["CONFIG", "SET", "requirepass", "s3cret"]);
    let mut url = Endpoint::tcp("127.0.0.1", master.port());
    let link = Running::start(url.clone());
    let err = link.join().unwrap_err();
    assert!(matches!(err, LinkError::Repl(replicant_repl::ReplError::AuthRequired { .. })), "{err}");
    url.password = Some("s3cret".into());
    let link = Running::start(url);
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
}

#[test]
fn follows_a_tls_master_and_verifies_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let tls_port = free_port();
    let master = RedisServer::builder()
        .arg("--tls-port", &tls_port.to_string())
        .arg("--tls-cert-file", cert_path.to_str().unwrap())
        .arg("--tls-key-file", key_path.to_str().unwrap())
        .arg("--tls-ca-cert-file", cert_path.to_str().unwrap())
        .arg("--tls-auth-clients", "no")
        .start();
    master.cli(&["SET", "over", "tls"]);
    let mut tls = TlsOptions::default();
    tls.ca_file = Some(cert_path.clone());
    let link = Running::start(Endpoint::tcp("localhost", tls_port).with_tls(tls));
    eventually("the link streams over TLS", || link.status.state() == LinkState::Streaming);
    assert_eq!(link.record().rdb_keys, 1);

    // An untrusted certificate is refused: the system roots do not know ours.
    let link = Running::start(Endpoint::tcp("localhost", tls_port).with_tls(TlsOptions::default()));
    let err = link.join().unwrap_err();
    let text = format!("{err:#}");
    assert!(matches!(err, LinkError::Connect(_) | LinkError::GaveUp { .. }), "{text}");
}

#[test]
fn resumes_on_a_promoted_replica_after_failover() {
    let a = master(false);
    let b = RedisServer::start();
    b.cli(&["REPLICAOF", "127.0.0.1", &a.port().to_string()]);
    eventually("b replicates a", || b.info_field("replication", "master_link_status").as_deref() == Some("up"));
    let writer = Writer::start(&a, "seq");
    let link = Running::start(Endpoint::tcp("127.0.0.1", a.port()));
    eventually("the link streams", || link.status.state() == LinkState::Streaming);
    let before = writer.count();
    eventually("writes flow", || writer.count() > before + 200);
    let written = writer.stop();
    link.wait_caught_up(&a);
    let a_offset = info_u64(&a, "replication", "master_repl_offset");
    eventually("b caught up", || info_u64(&b, "replication", "master_repl_offset") == a_offset);
    let old_id: ReplId = link.status.replid().unwrap().parse().unwrap();
    let offset = link.status.offset.load(Ordering::Relaxed);
    let first = link.record();
    drop(link);

    // Failover: b becomes a master with a new replication ID and a's history as its second.
    b.cli(&["REPLICAOF", "NO", "ONE"]);
    b.cli(&["RPUSH", "seq", &(written + 1).to_string()]);
    let link = Running::start_resuming(Endpoint::tcp("127.0.0.1", b.port()), (old_id, offset));
    link.wait_caught_up(&b);
    let rec = link.record();
    assert_eq!(rec.resumed.len(), 1);
    let (new_id, at, changed) = rec.resumed[0];
    assert!(changed && new_id != old_id && at == offset, "{:?}", rec.resumed);
    assert_eq!(info_u64(&b, "stats", "sync_partial_ok"), 1);
    assert!(rec.full_syncs.is_empty());
    let mut seq = first.sequence("seq");
    seq.extend(rec.sequence("seq"));
    assert_eq!(seq, (1..=written + 1).collect::<Vec<_>>());
}
