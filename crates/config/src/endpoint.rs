//! The two ends: [`Source`] (the master, or an RDB file) and [`Target`], each a `redis://` or
//! `rediss://` URL with its [`Tls`] settings, and [`ExistingData`], what to do with keys
//! already on the target. URL syntax itself belongs to `replicant_net::Endpoint`; this
//! module checks that the URL parses and that the TLS settings fit it.

use std::path::PathBuf;

use replicant_net::{Endpoint, NetError, TlsOptions};
use serde::Deserialize;

use crate::check::Problems;
use crate::choice::choices;
use crate::faults::{check_sentinel, check_timeout, Retry};
use crate::kvrocks::{Kvrocks, KvrocksTarget, SourceKind};
use crate::scan::{check_mode, Scan, SourceMode};
use crate::{ConfigError, FieldError};

/// `[source]`: the master to copy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Source {
    /// `redis://[user:pass@]host[:port]` or `rediss://…`. `None` (default): the daemon
    /// waits for `REPLICAOF` on the admin port.
    pub url: Option<String>,
    /// TLS settings, used when `url` is `rediss://`; without `url`, for the masters
    /// attached with `REPLICAOF` (which then connect with TLS).
    #[serde(deserialize_with = "crate::table::table")]
    pub tls: Tls,
    /// An RDB file (or `-` for standard input) to load instead of following a master:
    /// the same writer, conversion and progress as a full sync, then the run ends. What
    /// `replicant rdb restore` runs. Excludes `url`.
    pub rdb_file: Option<PathBuf>,
    /// Sentinels that name the master (`host:port` or URLs), with `master_name`. A `url`
    /// given with them only supplies the master's credentials and scheme.
    pub sentinel: Vec<String>,
    /// The master's name at the Sentinels.
    pub master_name: Option<String>,
    /// Silence from the master (no byte, not even its pings) after which the link counts
    /// as dropped (default 60 000 ms, as Redis's `repl-timeout`).
    pub timeout_ms: u64,
    /// The protocol the master speaks (default: asked from the master).
    pub kind: SourceKind,
    /// How the master is read: as a replica (default), or by `SCAN` for a master that
    /// refuses `SYNC`/`PSYNC` (needs `url`).
    pub mode: SourceMode,
    /// A Kvrocks master's namespaces.
    #[serde(deserialize_with = "crate::table::table")]
    pub kvrocks: Kvrocks,
    /// The scan's knobs, with `mode = "scan"`.
    #[serde(deserialize_with = "crate::table::table")]
    pub scan: Scan,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            url: None,
            tls: Tls::default(),
            rdb_file: None,
            sentinel: Vec::new(),
            master_name: None,
            timeout_ms: crate::faults::DEFAULT_TIMEOUT_MS,
            kind: SourceKind::default(),
            mode: SourceMode::default(),
            kvrocks: Kvrocks::default(),
            scan: Scan::default(),
        }
    }
}

/// `[target]`: where the data goes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Target {
    /// `redis://[user:pass@]host[:port][/db]` or `rediss://…`. Required by
    /// [`Config::validate`](crate::Config::validate); optional here so that command-line
    /// flags can fill it in first.
    pub url: Option<String>,
    /// What to do when the target already holds keys (default: refuse).
    pub existing_data: ExistingData,
    /// TLS settings, used when `url` is `rediss://`.
    #[serde(deserialize_with = "crate::table::table")]
    pub tls: Tls,
    /// With commands in flight, silence from the target after which its connection counts
    /// as dropped (default 60 000 ms).
    pub timeout_ms: u64,
    /// How a lost target is tried again.
    #[serde(deserialize_with = "crate::table::table")]
    pub retry: Retry,
    /// Sentinels that name the target's master (`host:port` or URLs), with `master_name`:
    /// the writer connects to the master they name at each (re)connection. `url` then
    /// supplies only the credentials, database and scheme.
    pub sentinel: Vec<String>,
    /// The target's master's name at the Sentinels.
    pub master_name: Option<String>,
    /// A Kvrocks target's namespaces.
    #[serde(deserialize_with = "crate::table::table")]
    pub kvrocks: KvrocksTarget,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            url: None,
            existing_data: ExistingData::default(),
            tls: Tls::default(),
            timeout_ms: crate::faults::DEFAULT_TIMEOUT_MS,
            retry: Retry::default(),
            sentinel: Vec::new(),
            master_name: None,
            kvrocks: KvrocksTarget::default(),
        }
    }
}

/// `[source.tls]` / `[target.tls]`. The server certificate is always verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Tls {
    /// PEM file of CA certificates to trust (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain; needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate; needs `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name for SNI and certificate verification (default: the URL's host).
    pub server_name: Option<String>,
}

/// `target.existing_data`: what to do when the target already holds keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExistingData {
    /// Stop before writing anything if the target has keys (default).
    #[default]
    Refuse,
    /// Write over what is there; keys only on the target stay.
    Merge,
    /// `FLUSHALL` the target before the full sync.
    Replace,
}

choices!(ExistingData { Refuse = "refuse", Merge = "merge", Replace = "replace" });

impl Source {
    /// The master's endpoint with its TLS settings, or `None` when no URL is set.
    pub fn endpoint(&self) -> Result<Option<Endpoint>, ConfigError> {
        self.url.as_deref().map(|url| endpoint("source", url, &self.tls)).transpose()
    }

    pub(crate) fn check(&self, out: &mut Problems) -> Option<Endpoint> {
        out.path_not_empty("source.rdb_file", self.rdb_file.as_deref());
        if self.rdb_file.is_some() && (self.url.is_some() || !self.sentinel.is_empty()) {
            out.push("source.rdb_file", "set together with source.url or source.sentinel: a run has one source");
        }
        check_sentinel("source", &self.sentinel, self.master_name.as_deref(), out);
        check_mode(self, out);
        self.kvrocks.check(out);
        self.scan.check(out);
        check_timeout("source.timeout_ms", self.timeout_ms, out);
        check_end("source", self.url.as_deref(), &self.tls, out)
    }
}

impl Target {
    /// The target's endpoint with its TLS settings; an error when the URL is missing or
    /// malformed.
    pub fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        let url = self.url.as_deref().ok_or_else(|| invalid("target.url", "required"))?;
        endpoint("target", url, &self.tls)
    }

    pub(crate) fn check(&self, out: &mut Problems) -> Option<Endpoint> {
        if self.url.is_none() {
            out.push("target.url", "required");
        }
        check_timeout("target.timeout_ms", self.timeout_ms, out);
        self.retry.check(out);
        check_sentinel("target", &self.sentinel, self.master_name.as_deref(), out);
        self.kvrocks.check(out);
        check_end("target", self.url.as_deref(), &self.tls, out)
    }
}

impl Tls {
    /// Whether any setting is given.
    pub fn is_set(&self) -> bool {
        *self != Tls::default()
    }

    /// The settings as `replicant_net` takes them.
    pub fn to_options(&self) -> TlsOptions {
        let mut options = TlsOptions::default();
        options.ca_file.clone_from(&self.ca_file);
        options.cert_file.clone_from(&self.cert_file);
        options.key_file.clone_from(&self.key_file);
        options.server_name.clone_from(&self.server_name);
        options
    }

    fn check(&self, section: &str, out: &mut Problems) {
        out.path_not_empty(&format!("{section}.tls.ca_file"), self.ca_file.as_deref());
        out.path_not_empty(&format!("{section}.tls.cert_file"), self.cert_file.as_deref());
        out.path_not_empty(&format!("{section}.tls.key_file"), self.key_file.as_deref());
        out.not_empty(&format!("{section}.tls.server_name"), self.server_name.as_deref());
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => out.push(format!("{section}.tls.cert_file"), "needs key_file"),
            (None, Some(_)) => out.push(format!("{section}.tls.key_file"), "needs cert_file"),
            _ => {}
        }
    }
}

/// Checks one end's URL and TLS settings; the parsed endpoint when the URL is valid.
/// TLS settings without a URL are allowed: for the source they apply to masters attached
/// later with `REPLICAOF`.
fn check_end(section: &str, url: Option<&str>, tls: &Tls, out: &mut Problems) -> Option<Endpoint> {
    let parsed = url.map(Endpoint::parse).transpose().unwrap_or_else(|e| {
        out.push(format!("{section}.url"), not_a_url(&e));
        None
    });
    tls.check(section, out);
    if tls.is_set() && parsed.as_ref().is_some_and(|e| e.tls.is_none()) {
        out.push(format!("{section}.tls"), format!("set, but {section}.url is not rediss://"));
    }
    parsed
}

fn endpoint(section: &str, url: &str, tls: &Tls) -> Result<Endpoint, ConfigError> {
    let parsed = Endpoint::parse(url).map_err(|e| invalid(&format!("{section}.url"), not_a_url(&e)))?;
    Ok(match parsed.tls {
        Some(_) => parsed.with_tls(tls.to_options()),
        None => parsed,
    })
}

fn not_a_url(error: &NetError) -> String {
    let why = match error {
        NetError::BadUrl { why, .. } => why.clone(),
        other => other.to_string(),
    };
    format!("not a redis:// or rediss:// URL: {why}")
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(vec![FieldError { field: field.to_string(), reason: reason.into() }])
}
