//! `replicant sync`, `replicant run` and `replicant rdb restore`: each builds a
//! configuration (from flags, or from a TOML file), validates it, and hands it to the
//! daemon. A restore is a run whose source is an RDB file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use replicant_config::{Config, ExistingData, FullResync, Mode, Progress, SourceKind, SourceMode, Tls};

use crate::cli::{ExistingArg, ModeArg, ParserArgs, ProgressArg, RestoreArgs, SyncArgs, TlsArgs, WriterArgs};
use crate::daemon::{self, Plan};

/// `replicant sync`: the flags as a configuration.
pub(crate) fn run(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    start(config_from_args(args)?)
}

/// `replicant run -c FILE`: the file, already loaded by `main`.
pub(crate) fn start(config: Config) -> anyhow::Result<ExitCode> {
    config.validate()?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    daemon::run(Plan::from_config(&config)?)
}

fn config_from_args(args: &SyncArgs) -> anyhow::Result<Config> {
    let mut c = Config::default();
    c.source.url.clone_from(&args.source);
    c.target.url = Some(args.target.clone());
    apply_tls(&mut c, &args.tls)?;
    apply_writer(&mut c, &args.writer);
    apply_parser(&mut c, &args.parser);
    c.sync.once = args.once;
    c.sync.full_resync = if args.accept_full_resync { FullResync::Accept } else { FullResync::Stop };
    c.sync.forward_publish = args.forward_publish;
    c.source.sentinel.clone_from(&args.sentinel);
    c.source.master_name.clone_from(&args.master_name);
    c.source.kind = match args.source_kind.as_str() {
        "redis" => SourceKind::Redis,
        "kvrocks" => SourceKind::Kvrocks,
        "pika" => SourceKind::Pika,
        _ => SourceKind::Auto,
    };
    if let Some(mode) = &args.source_mode {
        c.source.mode = if mode == "scan" { SourceMode::Scan } else { SourceMode::Replica };
    }
    if let Some(count) = args.scan_count {
        c.source.scan.count = count;
    }
    if let Some(pipeline) = args.scan_pipeline {
        c.source.scan.pipeline = pipeline;
    }
    if let Some(max_ops) = args.source_max_ops {
        c.source.scan.max_ops = max_ops;
    }
    for entry in &args.kvrocks_namespace {
        let parsed = entry.split_once('=').and_then(|(name, db)| Some((name, db.parse::<u64>().ok()?)));
        let Some((name, db)) = parsed else {
            anyhow::bail!("--kvrocks-namespace {entry:?}: expected NAMESPACE=DB, e.g. ns1=1");
        };
        c.source.kvrocks.namespaces.insert(name.to_string(), db);
    }
    c.source.kvrocks.skip_types.clone_from(&args.skip_types);
    for entry in &args.target_kvrocks_namespace {
        let parsed = entry.split_once('=').filter(|(db, token)| db.parse::<u64>().is_ok() && !token.is_empty());
        let Some((db, token)) = parsed else {
            anyhow::bail!("--target-kvrocks-namespace {entry:?}: expected DB=TOKEN, e.g. 1=ns1-token");
        };
        c.target.kvrocks.namespaces.insert(db.to_string(), token.to_string());
    }
    c.target.sentinel.clone_from(&args.target_sentinel);
    c.target.master_name.clone_from(&args.target_master_name);
    c.source.timeout_ms = args.source_timeout_ms;
    c.target.retry.attempts = args.target_retry_attempts;
    c.target.retry.max_delay_ms = args.target_retry_max_delay_ms;
    c.admin.listen = args.admin.as_deref().map(|a| parse_addr("--admin", a)).transpose()?;
    c.admin.password.clone_from(&args.admin_password);
    c.metrics.listen = args.metrics.as_deref().map(|a| parse_addr("--metrics", a)).transpose()?;
    c.state.dir.clone_from(&args.state_dir);
    c.state.exactly_once = !args.at_least_once;
    c.log.progress = progress(args.progress);
    Ok(c)
}

/// `replicant rdb restore`: the file as the source of a daemon run that ends once it is
/// applied, on the same writer as `sync`.
pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut c = Config::default();
    c.source.rdb_file = Some(PathBuf::from(&args.file));
    c.target.url = Some(args.target.clone());
    apply_tls(&mut c, &args.tls)?;
    apply_writer(&mut c, &args.writer);
    apply_parser(&mut c, &args.parser);
    c.log.progress = progress(args.progress);
    start(c)
}

/// The writer flags `sync` and `rdb restore` share.
fn apply_writer(c: &mut Config, w: &WriterArgs) {
    c.target.existing_data = match w.existing_data {
        ExistingArg::Refuse => ExistingData::Refuse,
        ExistingArg::Merge => ExistingData::Merge,
        ExistingArg::Replace => ExistingData::Replace,
    };
    c.sync.mode = match w.mode {
        ModeArg::Auto => Mode::Auto,
        ModeArg::Restore => Mode::Restore,
        ModeArg::Commands => Mode::Commands,
    };
    c.writer.shards = w.shards;
    c.writer.window = w.window;
    c.writer.max_ops = w.max_ops.unwrap_or(0);
    c.writer.max_bytes = w.max_bytes.unwrap_or(0);
    c.writer.skip_errors.clone_from(&w.skip_errors);
    c.writer.strict_key_order = w.strict_key_order;
    c.target.timeout_ms = w.target_timeout_ms;
}

fn apply_parser(c: &mut Config, p: &ParserArgs) {
    c.parser.batch_items = p.batch_items;
    c.parser.batch_bytes = p.batch_bytes;
    c.parser.raw_value_max = p.raw_value_max;
    c.parser.max_buffered = p.max_buffered;
}

fn progress(arg: ProgressArg) -> Progress {
    match arg {
        ProgressArg::Auto => Progress::Auto,
        ProgressArg::Always => Progress::Always,
        ProgressArg::Never => Progress::Never,
    }
}

/// TLS flags apply to whichever end is `rediss://`.
fn apply_tls(c: &mut Config, args: &TlsArgs) -> anyhow::Result<()> {
    let mut tls = Tls::default();
    tls.ca_file.clone_from(&args.tls_ca_file);
    tls.cert_file.clone_from(&args.tls_cert_file);
    tls.key_file.clone_from(&args.tls_key_file);
    tls.server_name.clone_from(&args.tls_server_name);
    if !tls.is_set() {
        return Ok(());
    }
    let is_tls = |url: &Option<String>| url.as_deref().is_some_and(|u| u.starts_with("rediss://"));
    let (source, target) = (is_tls(&c.source.url), is_tls(&c.target.url));
    if !source && !target {
        bail!("TLS options were given, but neither --source nor --target is a rediss:// URL");
    }
    if source {
        c.source.tls = tls.clone();
    }
    if target {
        c.target.tls = tls;
    }
    Ok(())
}

fn parse_addr(flag: &str, text: &str) -> anyhow::Result<SocketAddr> {
    text.parse().with_context(|| format!("{flag}: not a socket address (IP:PORT, e.g. 127.0.0.1:6390): {text:?}"))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use replicant_config::{Scan, SourceMode};

    use crate::cli::{Cli, Command};

    fn config(flags: &[&str]) -> replicant_config::Config {
        let argv = ["replicant", "sync", "--source", "redis://127.0.0.1:6379", "--target", "redis://127.0.0.1:6380"];
        let cli = Cli::try_parse_from(argv.iter().chain(flags)).unwrap();
        let Command::Sync(args) = cli.command else { panic!("not sync") };
        super::config_from_args(&args).unwrap()
    }

    #[test]
    fn the_source_mode_and_scan_flags_set_their_keys_only_when_given() {
        let c = config(&[]);
        assert_eq!((c.source.mode, &c.source.scan), (SourceMode::Replica, &Scan::default()));
        let c = config(&["--source-mode", "scan"]);
        assert_eq!((c.source.mode, &c.source.scan), (SourceMode::Scan, &Scan::default()));
        c.validate().unwrap();
        let c = config(&["--source-mode", "replica", "--scan-count", "10"]);
        assert_eq!((c.source.mode, c.source.scan.count, c.source.scan.pipeline), (SourceMode::Replica, 10, 256));
        let c = config(&["--source-mode", "scan", "--scan-count", "50", "--scan-pipeline", "8"]);
        assert_eq!((c.source.mode, c.source.scan.count, c.source.scan.pipeline), (SourceMode::Scan, 50, 8));
        let c = config(&["--source-mode", "scan", "--scan-pipeline", "0"]);
        assert!(c.validate().unwrap_err().to_string().contains("source.scan.pipeline: must be between 1 and 100000"));
    }

    #[test]
    fn unknown_source_modes_are_refused() {
        let argv = ["replicant", "sync", "--target", "redis://h:1", "--source-mode", "dump"];
        assert!(Cli::try_parse_from(argv).is_err());
        let argv = ["replicant", "sync", "--target", "redis://h:1", "--scan-count", "-1"];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
