//! Finding and verifying the master through real sentinels: the answer, the errors, the
//! sentinels that must be skipped, and authentication on both sentinels and servers.
//!
//! Needs `redis-server` and `redis-sentinel` (or `REPLICANT_REDIS_SERVER` and
//! `REPLICANT_REDIS_SENTINEL`); missing either fails the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use std::time::{Duration, Instant};

use replicant_sentinel::{
    master_addr, master_addr_verified, master_addr_with, verify_master, verify_master_with, SentinelError,
};
use replicant_testkit::free_port;
use support::{addr_of, endpoint, fast, no_credentials, within, Group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_and_verifies_the_master() {
    let group = Group::start("alpha", 1);
    let found = within("master address", master_addr(&group.endpoints(), "alpha")).await.unwrap();
    assert_eq!(found, addr_of(&group.master));
    verify_master(&no_credentials(), &found).await.unwrap();
    let verified = master_addr_verified(&group.endpoints(), "alpha", &no_credentials(), &fast()).await.unwrap();
    assert_eq!(verified, found);

    let err = verify_master(&no_credentials(), &addr_of(&group.replica)).await.unwrap_err();
    assert!(matches!(&err, SentinelError::NotMaster { role, .. } if role == "slave"), "{err:?}");
    assert!(err.to_string().contains("is not a master"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_name_is_named_in_the_error() {
    let group = Group::start("alpha", 2);
    let err = master_addr(&group.endpoints(), "no-such-master").await.unwrap_err();
    let SentinelError::UnknownMaster { name, sentinels } = &err else { panic!("{err:?}") };
    assert_eq!(name, "no-such-master");
    assert_eq!(sentinels, &[group.sentinels[0].addr(), group.sentinels[1].addr()]);
    let text = err.to_string();
    assert!(text.contains("\"no-such-master\"") && text.contains(&group.sentinels[1].addr()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_silent_sentinels_are_skipped() {
    let group = Group::start("alpha", 1);
    let refused = endpoint(&format!("redis://127.0.0.1:{}", free_port()));
    let (silent, _keep) = silent_server().await;
    let mut sentinels = vec![refused.clone(), silent.clone()];
    sentinels.extend(group.endpoints());

    let started = Instant::now();
    let found = master_addr_with(&sentinels, "alpha", &fast()).await.unwrap();
    assert_eq!(found, addr_of(&group.master));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    let err = master_addr_with(&[refused.clone(), silent.clone()], "alpha", &fast()).await.unwrap_err();
    let SentinelError::NoAnswer { failures, .. } = &err else { panic!("{err:?}") };
    assert!(matches!(failures[0], SentinelError::Connect(_)), "{failures:?}");
    assert!(matches!(failures[1], SentinelError::Timeout { .. }), "{failures:?}");
    let text = err.to_string();
    let expected = [
        format!("\"alpha\": cannot connect to {}: Connection refused", refused.addr()),
        format!("; {}: no reply to SENTINEL within 2s", silent.addr()),
    ];
    for expected in expected {
        assert!(text.contains(&expected), "{expected:?} missing from: {text}");
    }
    assert!(matches!(master_addr(&[], "alpha").await, Err(SentinelError::NoSentinels)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_a_sentinel_is_an_error() {
    let group = Group::start("alpha", 1);
    for garbage in [&b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n"[..], b"%3\r\n", b"*1\r\n".repeat(100_000).as_slice()] {
        let (liar, _keep) = lying_server(garbage.to_vec()).await;
        let err = master_addr_with(std::slice::from_ref(&liar), "alpha", &fast()).await.unwrap_err();
        let SentinelError::NoAnswer { failures, .. } = &err else { panic!("{err:?}") };
        assert!(matches!(failures[0], SentinelError::Protocol { .. }), "{failures:?}");
        // The next sentinel in the list still answers.
        let found = master_addr_with(&[liar, endpoint(&group.sentinels[0].url())], "alpha", &fast()).await;
        assert_eq!(found.unwrap(), addr_of(&group.master));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_with_a_password() {
    let group = Group::start_with("alpha", 1, |s| s.password("sentinel-secret"));
    let sentinel = &group.sentinels[0];
    let good = endpoint(&sentinel.url());
    assert_eq!(master_addr(&[good], "alpha").await.unwrap(), addr_of(&group.master));

    let wrong = endpoint(&format!("redis://:not-it@{}", sentinel.addr()));
    let err = master_addr(&[wrong], "alpha").await.unwrap_err();
    let SentinelError::NoAnswer { failures, .. } = &err else { panic!("{err:?}") };
    assert!(matches!(&failures[0], SentinelError::Auth { reply, .. } if reply.starts_with("WRONGPASS")), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("refused AUTH") && !text.contains("not-it"), "{text}");

    let none = endpoint(&format!("redis://{}", sentinel.addr()));
    let err = master_addr(&[none], "alpha").await.unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_is_verified_with_the_server_credentials() {
    let group = Group::start("alpha", 1);
    group.require_password("server-secret");
    let template = endpoint("redis://:server-secret@placeholder:1");
    let found = master_addr(&group.endpoints(), "alpha").await.unwrap();
    verify_master(&template, &found).await.unwrap();
    let found = master_addr_verified(&group.endpoints(), "alpha", &template, &fast()).await.unwrap();
    assert_eq!(found, addr_of(&group.master));

    let err = verify_master_with(&no_credentials(), &found, &fast()).await.unwrap_err();
    assert!(err.to_string().contains("NOAUTH"), "{err}");
    let wrong = endpoint("redis://:wrong@placeholder");
    let err = verify_master(&wrong, &found).await.unwrap_err();
    assert!(matches!(err, SentinelError::Auth { .. }), "{err:?}");
}

/// A server that accepts connections and never answers; kept alive by the handle.
async fn silent_server() -> (replicant_sentinel::Endpoint, tokio::task::JoinHandle<()>) {
    serve(|mut socket| async move {
        let mut sink = [0u8; 1024];
        while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    })
    .await
}

/// A server that answers the first command on each connection with `reply`.
async fn lying_server(reply: Vec<u8>) -> (replicant_sentinel::Endpoint, tokio::task::JoinHandle<()>) {
    serve(move |mut socket| {
        let reply = reply.clone();
        async move {
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(&reply).await;
            let _ = socket.shutdown().await;
        }
    })
    .await
}

async fn serve<F, Fut>(handle: F) -> (replicant_sentinel::Endpoint, tokio::task::JoinHandle<()>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(handle(socket));
        }
    });
    (endpoint(&url), task)
}
