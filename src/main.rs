//! `replicant`: the command-line entry point. Parses arguments, sets up logging, runs
//! the command and maps its outcome to an exit code.

mod cli;
mod rdb_cmd;
mod sync_cmd;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        cli::Command::Rdb(cmd) => rdb_cmd::run(cmd),
        cli::Command::Sync(args) => sync_cmd::run(&args),
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

fn init_logging(format: cli::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPLICANT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().init(),
    }
}

/// Output cut short by a closed pipe (`replicant rdb dump … | head`) is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
