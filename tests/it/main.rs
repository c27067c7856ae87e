//! Integration tests: the `replicant` binary against real `redis-server` processes.
//! One test binary; each module covers one command or scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod cli;
mod daemon;
mod failover;
mod kvrocks;
mod kvrocks_big_stream;
mod kvrocks_commands;
mod kvrocks_target;
mod kvrocks_types;
mod load;
mod output_buffer;
mod pika;
mod pika_dbs;
mod pika_support;
mod pika_types;
mod pika_v35;
mod process;
mod rdb_corpus;
mod rdb_restore;
mod rdb_roundtrip;
mod scan;
mod sentinel;
mod soak;
mod sync;
mod target_faults;
mod target_oom;
