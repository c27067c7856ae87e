//! Reads the byte captures of a real Pika v4.0.1 master and replica (`shared/pika`, or
//! `$REPLICANT_PIKA_CAPTURES`) in place and checks the crate against them: every frame
//! decodes and re-encodes to the same bytes, the session answers the master's side with
//! the real replica's bytes, the rsync transfer reassembles the dump, and the binlog items
//! rewrite to the commands the writes imply.

// Test code: a failed unwrap or index is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod binlog;
mod frames;
mod rsync;
mod session;

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use replicant_pika::FrameDecoder;

const ENV: &str = "REPLICANT_PIKA_CAPTURES";

/// `shared/pika` beside the workspace, or `$REPLICANT_PIKA_CAPTURES`.
fn captures_dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pika"),
    }
}

fn capture_file(rel: &str) -> Vec<u8> {
    let path = captures_dir().join("v4.0.1").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set {ENV} to the captures directory)", path.display()))
}

/// One stream of `streams/`, e.g. `0-server-21421.bin`.
fn stream(name: &str) -> Vec<u8> {
    capture_file(&format!("streams/{name}"))
}

/// The frames' payloads of a stream, which must split exactly.
fn frames(bytes: &[u8]) -> Vec<Bytes> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = FrameDecoder::new();
    let frames: Vec<Bytes> = std::iter::from_fn(|| decoder.decode_frame(&mut buf).unwrap()).collect();
    decoder.decode_eof(&buf).unwrap();
    frames
}

/// When connection 0 started (Unix ms), from `streams/index.json`.
fn start_ms() -> u64 {
    let index: serde_json::Value = serde_json::from_slice(&stream("index.json")).unwrap();
    (index[0]["start_time"].as_f64().unwrap() * 1000.0) as u64
}
