//! `replicant rdb restore`: parses and converts on one thread, writes to the target on
//! another, with a bounded channel between them so a slow target slows the reading.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use replicant_convert::{Commands, ConvertConfig, Converter, Mode, Stats, TargetProfile};
use replicant_net::Endpoint;
use replicant_target::Connection;
use tokio::sync::mpsc;

use super::feed::{parse_input, Input};
use crate::cli::RestoreArgs;

/// A batch is handed to the writer once it holds this many commands or bytes.
const BATCH_COMMANDS: usize = 512;
const BATCH_BYTES: usize = 1 << 20;
/// Batches queued between the parser and the writer.
const QUEUE: usize = 8;

pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let url = args.tls.apply(Endpoint::parse(&args.target)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(run(args, url))
}

async fn run(args: &RestoreArgs, url: Endpoint) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut conn = Connection::connect(&url, args.window).await?;
    let info = conn.query(&[b"INFO", b"server"]).await?;
    let target = TargetProfile::from_info(&info.text()).unwrap_or_else(TargetProfile::latest);
    let mode: Mode = args.mode.into();
    let mut parser = args.parser.config();
    if mode == Mode::Restore {
        let all = parser.max_buffered;
        parser = parser.raw_value_max(all).decode_raw_values(false);
    }
    let cfg = ConvertConfig::default().mode(mode).target(target).db(url.db).now_ms(Some(super::now_ms()));
    let mut input = Input::open(&args.file)?;
    let (tx, mut rx) = mpsc::channel::<Commands>(QUEUE);
    let reader = std::thread::spawn(move || convert_file(&mut input, parser, cfg, tx));
    let mut written = Ok(());
    while let Some(batch) = rx.recv().await {
        if let Err(e) = conn.send(batch).await {
            written = Err(e);
            break;
        }
    }
    drop(rx);
    let written = match written {
        Ok(()) => conn.drain().await,
        Err(e) => Err(e),
    };
    let read = reader.join().map_err(|_| anyhow::anyhow!("the reading thread crashed"))?;
    written.context("restore stopped")?;
    let stats = read?;
    let sent = conn.stats();
    eprintln!(
        "restored {} keys into {} ({} with RESTORE, {} rebuilt with commands); skipped {} expired and {} empty; \
         {} functions; {} commands, {:.1} MB in {:.2?}",
        stats.restored + stats.rebuilt,
        conn.addr(),
        stats.restored,
        stats.rebuilt,
        stats.expired_skipped,
        stats.empty_skipped,
        stats.functions,
        sent.acknowledged,
        sent.bytes as f64 / 1e6,
        started.elapsed()
    );
    if stats.module_aux_skipped > 0 {
        eprintln!(
            "note: {} module aux records were not copied (modules keep them; they have no command form)",
            stats.module_aux_skipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses the file and sends command batches to the writer.
fn convert_file(
    input: &mut Input,
    parser: replicant_rdb::ParserConfig,
    cfg: ConvertConfig,
    tx: mpsc::Sender<Commands>,
) -> anyhow::Result<Stats> {
    let mut converter = Converter::new(cfg);
    let mut cmds = Commands::new();
    let stopped = || anyhow::anyhow!("the target writer stopped");
    parse_input(input, parser, |event| {
        converter.event(event, &mut cmds)?;
        if cmds.len() >= BATCH_COMMANDS || cmds.bytes().len() >= BATCH_BYTES {
            tx.blocking_send(cmds.take()).map_err(|_| stopped())?;
        }
        Ok(())
    })?;
    if !cmds.is_empty() {
        tx.blocking_send(cmds.take()).map_err(|_| stopped())?;
    }
    Ok(converter.stats())
}
