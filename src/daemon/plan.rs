//! The validated configuration turned into the run-time settings of each part: endpoints,
//! writer, parser, link policy, control surfaces and the state directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use replicant_config::{Config, ExistingData, FullResync, Mode as ModeSetting, SourceMode};
use replicant_convert::{ConvertConfig, Mode};
use replicant_link::FullResyncPolicy;
use replicant_net::Endpoint;
use replicant_pipeline::{RateLimit, WriterConfig};
use replicant_rdb::ParserConfig;

/// Where a job's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A master, followed as a replica: full sync, then its write stream.
    Master(Endpoint),
    /// An RDB file (`-`: standard input), loaded as a full sync; the job then ends.
    RdbFile(PathBuf),
    /// The master that Sentinels name, followed through their failovers.
    Sentinel(SentinelSource),
}

/// Sentinels and the name of the master they watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentinelSource {
    pub(crate) sentinels: Vec<Endpoint>,
    pub(crate) name: String,
    /// The master's credentials and TLS settings (host and port come from the Sentinels).
    pub(crate) template: Endpoint,
}

impl SentinelSource {
    /// The master the Sentinels name now, verified (it answers as a master).
    pub(crate) async fn locate(&self) -> anyhow::Result<Endpoint> {
        let config = replicant_sentinel::SentinelConfig::default();
        let addr = replicant_sentinel::master_addr_verified(&self.sentinels, &self.name, &self.template, &config)
            .await
            .with_context(|| format!("the Sentinels cannot name the master {:?}", self.name))?;
        Ok(addr.to_endpoint(&self.template))
    }
}

impl Source {
    /// `host:port` (`[v6]:port`), or the file's path.
    pub(crate) fn addr(&self) -> String {
        match self {
            Source::Master(e) => e.addr(),
            Source::RdbFile(path) => path.display().to_string(),
            Source::Sentinel(s) => format!("sentinel:{}", s.name),
        }
    }

    /// How `INFO` and the logs name it: host and port, or the file and port 0.
    pub(crate) fn label(&self) -> (String, u16) {
        match self {
            Source::Master(e) => (e.host.clone(), e.port),
            Source::RdbFile(path) => (path.display().to_string(), 0),
            Source::Sentinel(s) => (format!("sentinel:{}", s.name), 0),
        }
    }
}

/// Everything a daemon run needs, checked.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The source to start from; `None` waits for `REPLICAOF`.
    pub(crate) source: Option<Source>,
    /// Credentials and TLS for masters attached through the admin port.
    pub(crate) source_template: Endpoint,
    /// The target; with `target_sentinel`, only its credentials, database and TLS.
    pub(crate) target: Endpoint,
    /// Sentinels that name the target's master.
    pub(crate) target_sentinel: Option<SentinelSource>,
    pub(crate) writer: WriterConfig,
    pub(crate) parser: ParserConfig,
    pub(crate) full_resync: FullResyncPolicy,
    pub(crate) once: bool,
    pub(crate) existing_data: ExistingData,
    pub(crate) admin: Option<SocketAddr>,
    pub(crate) admin_password: Option<String>,
    pub(crate) metrics: Option<SocketAddr>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) checkpoint_every: Duration,
    pub(crate) progress: replicant_config::Progress,
    /// Silence from the master after which the link is dropped.
    pub(crate) source_timeout: Duration,
    /// The protocol the master speaks, or `Auto` to ask it.
    pub(crate) source_kind: replicant_config::SourceKind,
    /// A Kvrocks master's namespaces, as target databases.
    pub(crate) kvrocks_namespaces: replicant_kvrocks::source::Namespaces,
    /// Kvrocks types left out.
    pub(crate) kvrocks_skip_types: Vec<replicant_kvrocks::RedisType>,
    /// How a lost target is tried again.
    pub(crate) target_retry: replicant_config::Retry,
    /// A Kvrocks target's namespace tokens, by database.
    pub(crate) target_kvrocks_tokens: std::collections::BTreeMap<u64, String>,
    /// Scan mode (`source.mode = "scan"`): the master is copied by `SCAN` and
    /// `DUMP`/`PTTL`; `None` follows it as a replica.
    pub(crate) scan: Option<ScanPlan>,
}

/// The settings of a scan-mode copy (`[source.scan]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanPlan {
    /// The `COUNT` hint of each `SCAN`.
    pub(crate) count: u32,
    /// Keys whose `DUMP`/`PTTL` are in flight at once.
    pub(crate) pipeline: usize,
    /// Commands per second to the source at most; `None`: no limit.
    pub(crate) max_ops: Option<u64>,
}

impl Plan {
    /// Builds the plan from a configuration that passed `validate`.
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<Plan> {
        let master = config.source.endpoint()?;
        let target = config.target.endpoint()?;
        let mut template = Endpoint::tcp("127.0.0.1", 6379);
        if let Some(s) = &master {
            template = s.clone();
        } else if config.source.tls.is_set() {
            template = template.with_tls(config.source.tls.to_options());
        }
        let mode = match config.sync.mode {
            ModeSetting::Auto => Mode::Auto,
            ModeSetting::Restore => Mode::Restore,
            ModeSetting::Commands => Mode::Commands,
        };
        let p = &config.parser;
        let mut parser = ParserConfig::default()
            .batch_items(p.batch_items)
            .batch_bytes(p.batch_bytes)
            .raw_value_max(p.raw_value_max)
            .max_buffered(p.max_buffered)
            // The writer's converter takes a small string whole with its key (one event
            // instead of three).
            .inline_strings(true);
        if mode == Mode::Restore {
            parser = parser.raw_value_max(p.max_buffered).decode_raw_values(false);
        }
        let w = &config.writer;
        let mut writer = WriterConfig::default();
        writer.shards = w.shards;
        writer.window = w.window;
        writer.batch_commands = w.batch_commands;
        writer.forward_publish = config.sync.forward_publish;
        writer.rate = RateLimit::new(w.max_ops(), w.max_bytes());
        writer.skip_errors.clone_from(&w.skip_errors);
        writer.strict_key_order = w.strict_key_order;
        writer.exactly_once = config.exactly_once();
        writer.reply_timeout = Duration::from_millis(config.target.timeout_ms);
        writer.convert = ConvertConfig::default().mode(mode).now_ms(Some(crate::rdb_cmd::now_ms()));
        let file = config.source.rdb_file.clone();
        let s = &config.source;
        let sentinel = sentinels(&s.sentinel, s.master_name.as_ref(), &s.tls, &template)?.map(Source::Sentinel);
        let t = &config.target;
        let target_sentinel = sentinels(&t.sentinel, t.master_name.as_ref(), &t.tls, &target)?;
        Ok(Plan {
            once: config.sync.once || file.is_some(),
            source: file.map(Source::RdbFile).or(sentinel).or(master.map(Source::Master)),
            source_template: template,
            target,
            target_sentinel,
            writer,
            parser,
            full_resync: match config.sync.full_resync {
                FullResync::Stop => FullResyncPolicy::Stop,
                FullResync::Accept => FullResyncPolicy::Accept,
            },
            existing_data: config.target.existing_data,
            admin: config.admin.listen,
            admin_password: config.admin.password.clone(),
            metrics: config.metrics.listen,
            state_dir: config.state.dir.clone(),
            checkpoint_every: config.state.checkpoint_interval(),
            progress: config.log.progress,
            source_timeout: Duration::from_millis(config.source.timeout_ms),
            source_kind: config.source.kind,
            kvrocks_namespaces: super::source_link::namespaces(&config.source.kvrocks),
            kvrocks_skip_types: super::source_link::skip_types(&config.source.kvrocks)?,
            target_retry: config.target.retry.clone(),
            target_kvrocks_tokens: config.target.kvrocks.tokens(),
            scan: (config.source.mode == SourceMode::Scan).then(|| ScanPlan {
                count: config.source.scan.count,
                pipeline: usize::try_from(config.source.scan.pipeline).unwrap_or(usize::MAX),
                max_ops: Some(config.source.scan.max_ops).filter(|n| *n > 0),
            }),
        })
    }

    /// How checkpoints and logs name the target: its address, or `sentinel:<name>` when
    /// Sentinels name it (a failover of the target keeps its checkpoint).
    pub(crate) fn target_label(&self) -> String {
        match &self.target_sentinel {
            Some(s) => format!("sentinel:{}", s.name),
            None => self.target.addr(),
        }
    }

    /// The target to connect to now: the configured one, or the master the Sentinels name.
    pub(crate) async fn locate_target(&self) -> anyhow::Result<Endpoint> {
        match &self.target_sentinel {
            Some(s) => s.locate().await.context("cannot find the target"),
            None => Ok(self.target.clone()),
        }
    }

    /// The endpoint of a master attached with `REPLICAOF host port`: the configured
    /// credentials and TLS settings, at that address.
    pub(crate) fn master_at(&self, host: &str, port: u16) -> Endpoint {
        let mut e = self.source_template.clone();
        e.host = host.to_string();
        e.port = port;
        e.db = None;
        e
    }
}

/// `<end>.sentinel` and `<end>.master_name` as Sentinels to ask; TLS settings apply to the
/// `rediss://` Sentinels and to the master they name, whose credentials come from `template`.
fn sentinels(
    entries: &[String],
    name: Option<&String>,
    tls: &replicant_config::Tls,
    template: &Endpoint,
) -> anyhow::Result<Option<SentinelSource>> {
    let Some(name) = name.cloned() else { return Ok(None) };
    let options = tls.to_options();
    let mut sentinels = Vec::new();
    for (entry, parsed) in entries.iter().zip(replicant_config::sentinel_endpoints(entries)) {
        let Some(endpoint) = parsed else { anyhow::bail!("sentinel: not host:port or a URL: {entry:?}") };
        let endpoint = if endpoint.tls.is_some() { endpoint.with_tls(options.clone()) } else { endpoint };
        sentinels.push(endpoint);
    }
    let mut template = template.clone();
    if tls.is_set() {
        template = template.with_tls(options);
    }
    Ok(Some(SentinelSource { sentinels, name, template }))
}
