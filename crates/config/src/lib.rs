//! The daemon's configuration: the TOML file given to `replicant run -c FILE.toml`.
//!
//! [`Config`] holds one struct per section, every key optional with a default.
//! [`Config::load`] reads a file, parses it and validates it;
//! [`Config::from_toml_str`] only parses (so that command-line flags can be laid over
//! the file before [`Config::validate`] runs). Unknown keys, wrong types and unknown
//! choices are refused while parsing, with the line and column
//! (``replicant.toml:7:1: writer: unknown field `shardz`, …``); values out of range and
//! settings that contradict each other are refused by `validate`, every one of them,
//! each naming its dotted key (`writer.shards: must be between 1 and 1024 (got 0)`).
//! Allowed but risky settings come back from [`Config::warnings`].
//!
//! ```
//! let config = replicant_config::Config::from_toml_str(
//!     r#"
//!     [source]
//!     url = "redis://127.0.0.1:6379"
//!     [target]
//!     url = "redis://127.0.0.1:6380"
//!     [writer]
//!     shards = 4
//!     "#,
//!     "example.toml",
//! )?;
//! config.validate()?;
//! assert_eq!(config.writer.shards, 4);
//! assert_eq!(config.writer.max_ops(), None);
//! # Ok::<(), replicant_config::ConfigError>(())
//! ```
//!
//! # Layout
//!
//! - `endpoint`: `[source]`, `[target]`, their `[*.tls]`, URL and TLS checks.
//! - `faults`: timeouts, `[target.retry]`, `source.sentinel`.
//! - `kvrocks`: `source.kind`, `[source.kvrocks]` and `[target.kvrocks]` namespaces.
//! - `scan`: `source.mode` (replica or scan) and `[source.scan]`.
//! - `sync`: `[sync]`. `writer`: `[writer]`. `parser`: `[parser]`.
//! - `surface`: `[admin]` and `[metrics]` listen addresses. `state`: `[state]`.
//!   `log`: `[log]`.
//! - `check`: the list of refusals the sections add to. `error`: [`ConfigError`].
//! - `table`: sections are read from TOML tables only. `choice`: enums read from names.
//!
//! This crate opens no socket and no file other than the configuration; what the
//! settings mean at run time is the daemon's business (docs/configuration.md).

#![deny(missing_docs)]

mod check;
mod choice;
mod endpoint;
mod error;
mod faults;
mod kvrocks;
mod log;
mod parser;
mod scan;
mod state;
mod surface;
mod sync;
mod table;
mod writer;

use std::path::Path;

use serde::Deserialize;

pub use endpoint::{ExistingData, Source, Target, Tls};
pub use error::{ConfigError, FieldError, Location};
pub use faults::{sentinel_endpoints, Retry, DEFAULT_TIMEOUT_MS, RETRY_MAX_DELAY_MS, TIMEOUT_MS};
pub use kvrocks::{Kvrocks, KvrocksTarget, SourceKind};
pub use log::{Log, LogFormat, Progress};
pub use parser::{Parser, MIN_BATCH_BYTES, MIN_MAX_BUFFERED};
pub use scan::{Scan, SourceMode, SCAN_COUNT, SCAN_PIPELINE};
pub use state::{State, CHECKPOINT_INTERVAL_MS};
pub use surface::{Admin, Metrics};
pub use sync::{FullResync, Mode, Sync};
pub use writer::{Writer, BATCH_COMMANDS, SHARDS, WINDOW};

use check::Problems;

/// The whole configuration; `Default` is an empty file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// `[source]`: the master.
    #[serde(deserialize_with = "table::table")]
    pub source: Source,
    /// `[target]`: where the data goes.
    #[serde(deserialize_with = "table::table")]
    pub target: Target,
    /// `[sync]`: how the copy runs.
    #[serde(deserialize_with = "table::table")]
    pub sync: Sync,
    /// `[writer]`: the target writer.
    #[serde(deserialize_with = "table::table")]
    pub writer: Writer,
    /// `[parser]`: snapshot parser limits.
    #[serde(deserialize_with = "table::table")]
    pub parser: Parser,
    /// `[admin]`: the RESP admin port.
    #[serde(deserialize_with = "table::table")]
    pub admin: Admin,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(deserialize_with = "table::table")]
    pub metrics: Metrics,
    /// `[state]`: checkpoints for resuming.
    #[serde(deserialize_with = "table::table")]
    pub state: State,
    /// `[log]`: logging and progress.
    #[serde(deserialize_with = "table::table")]
    pub log: Log,
}

impl Config {
    /// Parses TOML text, without validating values. `origin` (usually the file path)
    /// leads every error message: `ORIGIN:LINE:COL: message`.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text, origin))
    }

    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let config = Config::from_toml_str(&text, &path.display().to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value and every rule between values; the error lists all that are
    /// refused, one per line.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut out = Problems::default();
        let source = self.source.check(&mut out);
        let target = self.target.check(&mut out);
        if let (Some(s), Some(t)) = (&source, &target) {
            if s.host.eq_ignore_ascii_case(&t.host) && s.port == t.port && s.db == t.db {
                out.push("target.url", format!("is the source itself ({})", t.addr()));
            }
        }
        let sourced = self.source.url.is_some() || self.source.rdb_file.is_some() || !self.source.sentinel.is_empty();
        // A scan without a URL is refused by `Source::check`, with its own reason.
        if !sourced && self.admin.listen.is_none() && self.source.mode != SourceMode::Scan {
            out.push(
                "source.url",
                "required when admin.listen, source.sentinel and source.rdb_file are not set (nothing could send REPLICAOF)",
            );
        }
        if self.source.rdb_file.is_some() && self.state.dir.is_some() {
            out.push("state.dir", "set with source.rdb_file: a file is loaded in one run, there is nothing to resume");
        }
        self.writer.check(&mut out);
        self.parser.check(&mut out);
        self.admin.check(&mut out);
        self.state.check(&mut out);
        self.log.check(&mut out);
        out.into_result()
    }

    /// Settings that are allowed but probably a mistake, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.admin.warnings(&mut out);
        self.writer.warnings(&mut out);
        if self.state.dir.is_some() && self.state.exactly_once && self.writer.strict_key_order {
            out.push(
                "state.exactly_once: off, because writer.strict_key_order is set (an error inside a \
                 transaction does not stop the commands after it); after a crash, writes in flight may \
                 be applied again"
                    .to_string(),
            );
        }
        out
    }

    /// Whether exactly-once batches are in effect: a state directory, and strict key
    /// order off (the target being standalone is checked when connecting).
    pub fn exactly_once(&self) -> bool {
        self.state.dir.is_some() && self.state.exactly_once && !self.writer.strict_key_order
    }
}
