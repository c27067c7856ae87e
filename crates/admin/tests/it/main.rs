//! Black-box tests: the admin port and the metrics endpoint on `127.0.0.1:0` with a fake daemon,
//! driven by a raw TCP client and by the real `redis-cli`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod admin;
mod metrics;
mod redis_cli;
mod support;
