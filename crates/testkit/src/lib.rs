//! Test support for replicant: real `redis-server` processes and data images.
//!
//! * [`server`] owns the lifecycle of a throwaway `redis-server` process
//!   (free loopback port, private temp dir, kill on drop).
//! * [`dataset`] owns [`Snapshot`], a complete comparable image of every key
//!   of a server, and [`stream`] the image of one stream key.
//! * [`diff`] compares snapshots: [`assert_same`] explains differences,
//!   [`wait_until_same`] polls a target until it matches.
//! * [`fill`] owns the deterministic data generators used to populate a
//!   source server (every type and encoding, or bulk generated data).
//! * [`info`] answers questions about the connected server (version,
//!   supported commands).
//! * [`kvrocks_master`] owns [`MockKvrocks`], an in-process stand-in for a Kvrocks
//!   2.10.1 master (replication protocol byte for byte), and finds the shared Kvrocks
//!   captures (`$REPLICANT_KVROCKS_CAPTURES` or `../shared/kvrocks`) it can replay.
//! * [`kvrocks_target`] owns [`MockKvrocksTarget`], a stand-in for a Kvrocks 2.10.1 server
//!   written to (namespaces, `AUTH` switching, `INFO`/`CONFIG` as Kvrocks answers them), a
//!   proxy in front of one real `redis-server` per namespace.
//! * [`kvrocks_checkpoint`] owns [`KvrocksCheckpoint`], a writer of real RocksDB
//!   directories in Kvrocks 2.10's layout (every type, both metadata encodings, slot ids
//!   or not) and of their checkpoints, for the mock master to serve.
//! * [`corpus`] finds the shared RDB corpus (other projects' test dumps, read in
//!   place from `$REPLICANT_RDB_CORPUS` or `../shared/rdb-corpus`): [`rdb_corpus_dir`],
//!   [`corpus_file`], [`corpus_rdb_files`].
//!
//! Typical use from an integration test:
//!
//! ```no_run
//! use std::time::Duration;
//! use replicant_testkit::{assert_same, fill, snapshot, wait_until_same, RedisServer};
//!
//! let source = RedisServer::start();
//! let target = RedisServer::start();
//! fill::fill_everything(&mut source.conn());
//! let expected = snapshot(&mut source.conn());
//! // ... run replicant from source.url() to target.url() ...
//! wait_until_same(&expected, &mut target.conn(), Duration::from_secs(30));
//! // or, once replicant has finished:
//! assert_same(&expected, &snapshot(&mut target.conn()));
//! ```
//!
//! This is test-only code: failures panic with a descriptive message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod cluster;
pub mod corpus;
pub mod dataset;
pub mod diff;
pub mod fault_proxy;
pub mod fill;
pub mod info;
pub mod kvrocks_checkpoint;
pub mod kvrocks_master;
pub mod kvrocks_target;
pub mod pika_dump;
pub mod pika_master;
mod reply;
pub mod sentinel;
pub mod server;
pub mod stream;

pub use cluster::RedisCluster;
pub use corpus::{corpus_file, corpus_rdb_files, rdb_corpus_dir};
pub use dataset::{snapshot, Blob, Data, Entry, HashField, Snapshot};
pub use diff::{assert_same, diff_report, wait_until_same};
pub use fault_proxy::{Fault, FaultEvent, FaultProxy};
pub use info::{server_version, supports_command};
pub use kvrocks_checkpoint::KvrocksCheckpoint;
pub use kvrocks_master::{MockKvrocks, MockKvrocksBuilder};
pub use kvrocks_target::{MockKvrocksTarget, MockKvrocksTargetBuilder};
pub use pika_master::{MockPika, MockPikaBuilder};
pub use sentinel::{RedisSentinel, RedisSentinelBuilder};
pub use server::{free_port, RedisServer, RedisServerBuilder};
pub use stream::{ConsumerImage, GroupImage, PendingEntry, StreamEntry, StreamImage};
