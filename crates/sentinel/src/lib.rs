//! A Redis Sentinel client: which server is the master of a named group, and when does
//! that change.
//!
//! # Brief overview
//!
//! * [`master_addr`] asks the sentinels in turn `SENTINEL get-master-addr-by-name` and
//!   returns the first address given, as a [`MasterAddr`].
//! * [`verify_master`] connects to that address with the *server's* credentials (an
//!   [`Endpoint`] used as a template) and checks that it reports the `master` role, as the
//!   [Sentinel client guidelines] ask; [`master_addr_verified`] does both, retrying while a
//!   failover is under way.
//! * [`SwitchWatcher`] subscribes to `+switch-master` on one sentinel and reports every
//!   new address of the master; when its sentinel goes away it moves to the next one and
//!   asks again, so a switch missed in between is still reported.
//! * [`SentinelConfig`] holds the timeouts and the reconnection backoff;
//!   [`SentinelError`] is every failure, naming the sentinel or server involved.
//!
//! Sentinels are given as [`Endpoint`]s (`redis://[user:pass@]host:26379`, `rediss://`
//! for TLS); credentials in an endpoint are sent with `AUTH` before anything else.
//!
//! # Layout
//!
//! * `protocol`: sans-IO. Encodes commands, takes one bounded RESP2 reply off a buffer
//!   (with `redis-protocol`), and reads the replies this crate needs
//!   (`get-master-addr-by-name`, `+switch-master` messages, `ROLE`, `INFO`). No sockets.
//! * `connection`: one connection to a sentinel or a server: connect and `AUTH` under
//!   timeouts, send a command, read a reply.
//! * `discover`: [`master_addr`], [`verify_master`] and [`master_addr_verified`].
//! * `watcher`: [`SwitchWatcher`], its task, reconnection and shutdown.
//! * `addr`, `config`, `error`: the value types above.
//!
//! [Sentinel client guidelines]: https://redis.io/docs/latest/develop/reference/sentinel-clients/
//!
//! ```no_run
//! # async fn demo() -> Result<(), replicant_sentinel::SentinelError> {
//! use replicant_net::Endpoint;
//! use replicant_sentinel::{master_addr, verify_master, SentinelConfig, SwitchWatcher};
//!
//! let sentinels = vec![
//!     Endpoint::parse("redis://10.0.0.1:26379").expect("url"),
//!     Endpoint::parse("redis://10.0.0.2:26379").expect("url"),
//! ];
//! let server = Endpoint::parse("redis://:server-pass@placeholder").expect("url");
//! let master = master_addr(&sentinels, "mymaster").await?;
//! verify_master(&server, &master).await?;
//! let mut watcher = SwitchWatcher::start(sentinels, "mymaster", master, SentinelConfig::default())?;
//! while let Some(new_master) = watcher.next().await {
//!     println!("the master is now {new_master}");
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod addr;
mod config;
mod connection;
mod discover;
mod error;
mod protocol;
mod watcher;

pub use addr::MasterAddr;
pub use config::SentinelConfig;
pub use discover::{master_addr, master_addr_verified, master_addr_with, verify_master, verify_master_with};
pub use error::SentinelError;
pub use replicant_net::Endpoint;
pub use watcher::SwitchWatcher;
