//! An RDB file delivered to a sink as a full sync: the same events whatever the size of
//! the reads, the status figures a full sync has, trailing bytes counted, and a file cut
//! short or corrupt named in the error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, unreachable_pub)]

mod support;

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use replicant_link::{load_rdb, LinkError, LinkStatus, Loaded, RdbFile};
use replicant_rdb::ParserConfig;
use replicant_testkit::RedisServer;
use support::{Record, Recorder};
use tokio::io::{AsyncRead, ReadBuf};

/// A reader that hands out at most `step` bytes per read.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    step: usize,
}

impl AsyncRead for Trickle {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = self.step.min(buf.remaining()).min(self.data.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// A saved server with lists (recorded element by element) and other keys.
fn saved_rdb() -> Vec<u8> {
    let server = RedisServer::start();
    server.cli(&["DEBUG", "POPULATE", "2000", "key", "40"]);
    for i in 0..20 {
        let items: Vec<String> = (0..300).map(|n| format!("{i}-{n}")).collect();
        let mut args = vec!["RPUSH".to_string(), format!("list:{i}")];
        args.extend(items);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        server.cli(&args);
    }
    std::fs::read(server.save()).unwrap()
}

fn load(data: Vec<u8>, step: usize) -> (Result<Loaded, LinkError>, Record, Arc<LinkStatus>) {
    let record = Arc::new(Mutex::new(Record::default()));
    let mut sink = Recorder::new(record.clone());
    let status = Arc::new(LinkStatus::default());
    let size = data.len() as u64;
    let file = RdbFile { reader: Trickle { data, at: 0, step }, name: "test.rdb".into(), size: Some(size) };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let parser = ParserConfig::default().batch_items(7);
    let result = runtime.block_on(load_rdb(file, parser, 4096, &mut sink, &status));
    let record = record.lock().unwrap().clone();
    (result, record, status)
}

#[test]
fn the_same_events_however_the_file_is_read() {
    let data = saved_rdb();
    let (whole, expected, status) = load(data.clone(), usize::MAX);
    let loaded = whole.unwrap();
    assert_eq!(loaded, Loaded { rdb_bytes: data.len() as u64, trailing: 0 });
    assert_eq!(expected.rdb_keys, 2020);
    assert_eq!(expected.full_syncs, vec![(None, 0, false)]);
    assert_eq!(expected.snapshot_done, Some(0));
    assert_eq!(expected.in_snapshot("list:7"), 300);
    assert_eq!(status.rdb_keys.load(Ordering::Relaxed), 2020);
    assert_eq!(status.rdb_bytes.load(Ordering::Relaxed), data.len() as u64);
    assert_eq!(status.rdb_size.load(Ordering::Relaxed), data.len() as u64);
    for step in [1, 3, 1000, 65_537] {
        let (result, record, _) = load(data.clone(), step);
        result.unwrap();
        assert_eq!(record.rdb_keys, expected.rdb_keys, "reads of {step}");
        assert_eq!(record.rdb_lists, expected.rdb_lists, "reads of {step}");
    }
}

#[test]
fn bytes_after_the_end_are_counted() {
    let mut data = saved_rdb();
    let len = data.len() as u64;
    data.extend_from_slice(&[0xAB; 40]);
    let (result, _, _) = load(data, 100);
    assert_eq!(result.unwrap(), Loaded { rdb_bytes: len, trailing: 40 });
}

#[test]
fn a_file_cut_short_is_named_with_its_offset() {
    let data = saved_rdb();
    for cut in [5, data.len() / 2, data.len() - 1] {
        let (result, record, _) = load(data[..cut].to_vec(), 512);
        let err = result.unwrap_err();
        let text = format!("{err:#}");
        assert!(matches!(err, LinkError::FileRdb { .. } | LinkError::FileCut { .. }), "{text}");
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.starts_with("test.rdb"), "{chain}");
        assert!(chain.contains(&format!("offset {cut}")), "cut at {cut}: {chain}");
        assert_eq!(record.snapshot_done, None, "a cut file is never a finished snapshot");
    }
}

#[test]
fn a_corrupt_file_is_refused() {
    let mut data = saved_rdb();
    let mid = data.len() / 2;
    data[mid] ^= 0xFF;
    let (result, record, _) = load(data, 4096);
    assert!(matches!(result, Err(LinkError::FileRdb { .. })), "{result:?}");
    assert_eq!(record.snapshot_done, None);
}
