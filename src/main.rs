//! `replicant`: the command-line entry point. Parses arguments, sets up logging, runs
//! the command and maps its outcome to an exit code.

mod cli;
mod daemon;
mod rdb_cmd;
mod sync_cmd;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Rdb(cmd) => {
            init_logging(cli.log_format, "info");
            rdb_cmd::run(cmd)
        }
        cli::Command::Sync(args) => {
            init_logging(cli.log_format, "info");
            sync_cmd::run(&args)
        }
        cli::Command::Run(args) => match replicant_config::Config::load(&args.config) {
            Ok(config) => {
                let format = match config.log.format {
                    replicant_config::LogFormat::Text => cli::LogFormat::Text,
                    replicant_config::LogFormat::Json => cli::LogFormat::Json,
                };
                init_logging(format, &config.log.level);
                sync_cmd::start(config)
            }
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replicant: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error; `REPLICANT_LOG` overrides `level`.
fn init_logging(format: cli::LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPLICANT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| daemon::LogWriter);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().init(),
    }
}

/// Output cut short by a closed pipe (`replicant rdb dump … | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
