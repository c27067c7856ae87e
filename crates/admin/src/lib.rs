//! The daemon's two control surfaces: a RESP admin port that `redis-cli` can talk to (`REPLICAOF`,
//! `INFO`, `SHUTDOWN`), and a Prometheus metrics endpoint over HTTP. The daemon implements
//! [`Control`]; this crate serves it.
//!
//! # Brief overview
//!
//! - [`serve_admin`] runs the admin port: an accept loop (`listen`) and, per connection, a thin
//!   tokio driver (`admin`) around the sans-IO `Session` (`session`), which frames requests
//!   (`request`: RESP arrays and inline commands, bounded), checks `AUTH` (`auth`), interprets
//!   commands (`command`) and encodes replies (`reply`).
//! - [`serve_metrics`] runs the metrics endpoint: the same accept loop, a driver (`exporter`) and the
//!   sans-IO request-head parser and router (`http`).
//! - [`InfoSection`] and [`render_info`] build `INFO` replies in redis-server's format; [`Metrics`]
//!   builds the Prometheus text format for [`Control::metrics`].
//! - [`AdminError`] is the crate's one error type.
//!
//! ```
//! use replicant_admin::{InfoSection, Metrics};
//!
//! let section = InfoSection::new("Replication").field("role", "slave").field("master_port", 6379);
//! assert_eq!(replicant_admin::render_info([&section]), "# Replication\r\nrole:slave\r\nmaster_port:6379\r\n");
//!
//! let mut metrics = Metrics::new();
//! metrics.gauge("replicant_lag_bytes", "Bytes of the master's stream not yet applied.", 0);
//! assert!(metrics.finish().ends_with("\nreplicant_lag_bytes 0\n"));
//! ```

#![deny(missing_docs)]

mod admin;
mod auth;
mod command;
mod control;
mod error;
mod exporter;
mod http;
mod info;
mod listen;
mod metrics;
mod reply;
mod request;
mod session;

pub use admin::serve_admin;
pub use control::Control;
pub use error::AdminError;
pub use exporter::serve_metrics;
pub use info::{render_info, InfoSection};
pub use metrics::{Family, Kind, Metrics, Value};
