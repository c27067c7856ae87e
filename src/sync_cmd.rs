//! `replicant sync`: follows a master into a target until stopped (Ctrl-C / SIGTERM), or,
//! with `--once`, until the snapshot is applied.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use replicant_convert::{ConvertConfig, Mode};
use replicant_link::{LinkConfig, LinkStatus};
use replicant_net::Endpoint;
use replicant_pipeline::{RateLimit, Writer, WriterConfig, WriterProgress};

use crate::cli::SyncArgs;

pub(crate) fn run(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(sync(args))
}

async fn sync(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let source = args.tls.apply(Endpoint::parse(&args.source)?);
    let target = args.tls.apply(Endpoint::parse(&args.target)?);
    let mode: Mode = args.mode.into();
    let mut parser = args.parser.config();
    if mode == Mode::Restore {
        let all = parser.max_buffered;
        parser = parser.raw_value_max(all).decode_raw_values(false);
    }
    let mut cfg = WriterConfig::default();
    cfg.shards = args.shards;
    cfg.window = args.window;
    cfg.forward_publish = args.forward_publish;
    cfg.rate = RateLimit::new(args.max_ops, args.max_bytes);
    cfg.convert = ConvertConfig::default().mode(mode).now_ms(Some(crate::rdb_cmd::now_ms()));
    let mut writer = Writer::connect(&target, cfg).await.context("cannot set up the target")?;
    let progress = writer.progress();
    let mut link = LinkConfig::new(source);
    link.parser = parser;
    let status = Arc::new(LinkStatus::default());
    let started = Instant::now();
    let reporter = tokio::spawn(report(status.clone(), progress.clone()));
    let stop = stop_signal(args.once, progress.clone());
    let result = replicant_link::run(link, &mut writer, status.clone(), stop).await;
    reporter.abort();
    result.context("replication stopped")?;
    writer.close().await.context("the target writer stopped")?;
    let stats = status.as_ref();
    eprintln!(
        "done in {:.2?}: {} keys in the snapshot, {} stream commands, master offset {}",
        started.elapsed(),
        stats.rdb_keys.load(Ordering::Relaxed),
        stats.commands.load(Ordering::Relaxed),
        stats.offset.load(Ordering::Relaxed),
    );
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM, or (with `once`) when the snapshot is applied.
async fn stop_signal(once: bool, progress: Arc<WriterProgress>) {
    let applied = async {
        loop {
            if once && progress.snapshot_applied() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = applied => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("Interrupted; stopping."),
        () = terminated => tracing::info!("Terminated; stopping."),
    }
}

/// Logs the link's state every 5 seconds.
async fn report(status: Arc<LinkStatus>, progress: Arc<WriterProgress>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        tracing::info!(
            state = status.state().name(),
            offset = status.offset.load(Ordering::Relaxed),
            committed = progress.committed.load(Ordering::Relaxed),
            rdb_bytes = status.rdb_bytes.load(Ordering::Relaxed),
            rdb_keys = status.rdb_keys.load(Ordering::Relaxed),
            commands = status.commands.load(Ordering::Relaxed),
            "Progress."
        );
    }
}
