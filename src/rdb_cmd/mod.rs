//! The `replicant rdb` subcommands: dump, check and restore (a daemon run whose source is
//! the file: `sync_cmd::restore`).

mod check;
mod dump;
mod feed;
mod json;

use replicant_convert::{Mode, TargetProfile};
use replicant_rdb::ParserConfig;

use crate::cli::{ModeArg, ParserArgs, RdbCommand};

pub(crate) use check::check;
pub(crate) use dump::dump;

/// Runs one `rdb` subcommand; the exit code on success.
pub(crate) fn run(cmd: RdbCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {
        RdbCommand::Dump(args) => dump(&args),
        RdbCommand::Check(args) => check(&args),
        RdbCommand::Restore(args) => crate::sync_cmd::restore(&args),
    }
}

impl ParserArgs {
    pub(crate) fn config(&self) -> ParserConfig {
        ParserConfig::default()
            .batch_items(self.batch_items)
            .batch_bytes(self.batch_bytes)
            .raw_value_max(self.raw_value_max)
            .max_buffered(self.max_buffered)
    }
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Auto => Mode::Auto,
            ModeArg::Restore => Mode::Restore,
            ModeArg::Commands => Mode::Commands,
        }
    }
}

/// Parses `7.0`, `redis-7.2` or `valkey-8.0`.
pub(crate) fn parse_target_version(text: &str) -> anyhow::Result<TargetProfile> {
    let (valkey, numbers) = match text.split_once('-') {
        Some(("valkey", rest)) => (true, rest),
        Some(("redis", rest)) => (false, rest),
        _ => (false, text),
    };
    let mut parts = numbers.split('.');
    let parse = |p: Option<&str>| p.and_then(|s| s.parse::<u32>().ok());
    let (Some(major), minor) = (parse(parts.next()), parse(parts.next())) else {
        anyhow::bail!("bad target version {text:?}: expected e.g. 7.0, redis-7.2 or valkey-8.0");
    };
    let minor = minor.unwrap_or(0);
    Ok(if valkey { TargetProfile::valkey(major, minor) } else { TargetProfile::redis(major, minor) })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
