//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Poses as a replica of a Redis or Valkey master, copies its data and follows its
/// write stream into a target. The `rdb` commands work on RDB files.
#[derive(Debug, Parser)]
#[command(name = "replicant", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

// Parsed once at start: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read, check and load RDB files.
    #[command(subcommand)]
    Rdb(RdbCommand),
    /// Copy a live master to a target: full sync, then follow its write stream.
    Sync(SyncArgs),
    /// Run the daemon from a TOML configuration file (see docs/configuration.md).
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The configuration file.
    #[arg(short = 'c', long = "config")]
    pub(crate) config: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The master: `redis://[user:pass@]host:port` or `rediss://…`. Without it, the daemon
    /// waits for `REPLICAOF host port` on the admin port.
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// The target: `redis://[user:pass@]host:port[/db]` or `rediss://…`. With `/db`,
    /// every key goes into that database.
    #[arg(long)]
    pub(crate) target: String,
    /// Exit 0 as soon as the snapshot is fully applied on the target.
    #[arg(long)]
    pub(crate) once: bool,
    /// Forward PUBLISH from the master's stream.
    #[arg(long)]
    pub(crate) forward_publish: bool,
    #[command(flatten)]
    pub(crate) writer: WriterArgs,
    /// Take a new full sync when the master cannot continue the stream (default: stop).
    #[arg(long)]
    pub(crate) accept_full_resync: bool,
    /// Sentinels that name the master: `host:port` or a `redis://[user:pass@]host:port` URL
    /// (`rediss://` for TLS). Repeatable; needs --master-name. A --source given too only
    /// supplies the master's credentials and scheme.
    #[arg(long, value_name = "ADDR", requires = "master_name")]
    pub(crate) sentinel: Vec<String>,
    /// The master's name at the Sentinels.
    #[arg(long, value_name = "NAME", requires = "sentinel")]
    pub(crate) master_name: Option<String>,
    /// Sentinels that name the target's master, as --sentinel does for the source.
    /// Repeatable; needs --target-master-name. --target then only supplies the target's
    /// credentials, database and scheme.
    #[arg(long, value_name = "ADDR", requires = "target_master_name")]
    pub(crate) target_sentinel: Vec<String>,
    /// The target's master's name at its Sentinels.
    #[arg(long, value_name = "NAME", requires = "target_sentinel")]
    pub(crate) target_master_name: Option<String>,
    /// The protocol the master speaks: auto (ask its INFO), redis, kvrocks, pika.
    #[arg(long, value_name = "KIND", default_value = "auto", value_parser = ["auto", "redis", "kvrocks", "pika"])]
    pub(crate) source_kind: String,
    /// How the master is read: replica (SYNC/PSYNC, then its write stream) or scan (SCAN,
    /// then DUMP/PTTL of each key, for masters that refuse SYNC/PSYNC; the copy then ends,
    /// and writes made during the scan may be missing). Default: replica.
    #[arg(long, value_name = "MODE", value_parser = ["replica", "scan"])]
    pub(crate) source_mode: Option<String>,
    /// Scan mode: the COUNT hint of each SCAN (1 to 100000; default 1000).
    #[arg(long, value_name = "N")]
    pub(crate) scan_count: Option<u32>,
    /// Scan mode: keys whose DUMP/PTTL are in flight at once (1 to 100000; default 256).
    #[arg(long, value_name = "N")]
    pub(crate) scan_pipeline: Option<u32>,
    /// Scan mode: commands sent to the source per second at most (SCAN, DUMP and the
    /// expiry query each count), to spare a production server. Default: no limit.
    #[arg(long, value_name = "N")]
    pub(crate) source_max_ops: Option<u64>,
    /// A Kvrocks namespace's target database, `NAMESPACE=DB` (repeatable; `default=0` is
    /// always there unless given another database).
    #[arg(long, value_name = "NAMESPACE=DB")]
    pub(crate) kvrocks_namespace: Vec<String>,
    /// A Kvrocks target's namespace for a database, `DB=TOKEN` (repeatable): what would go
    /// to that database on Redis goes to the namespace the token reaches. Database 0 goes
    /// to the default namespace (the --target password) unless given here.
    #[arg(long, value_name = "DB=TOKEN")]
    pub(crate) target_kvrocks_namespace: Vec<String>,
    /// Kvrocks types whose keys are left out, comma-separated (`json`, `bloom`, or the names
    /// TYPE gives): for a target without the modules they need.
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    pub(crate) skip_types: Vec<String>,
    /// Silence from the master (no byte, not even its pings) after which the link is
    /// dropped and resumed, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = replicant_config::DEFAULT_TIMEOUT_MS)]
    pub(crate) source_timeout_ms: u64,
    /// Times in a row a lost target is tried again before the job stops; 0 = forever.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) target_retry_attempts: u32,
    /// Longest pause between two attempts to reach a lost target, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub(crate) target_retry_max_delay_ms: u64,
    /// Admin port (RESP): `REPLICAOF`, `INFO`, `SHUTDOWN`, e.g. `127.0.0.1:6390`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) admin: Option<String>,
    /// Password of the admin port.
    #[arg(long, value_name = "PASSWORD", requires = "admin")]
    pub(crate) admin_password: Option<String>,
    /// Prometheus metrics over HTTP on `/metrics`, e.g. `127.0.0.1:9121`.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
    /// Keep a checkpoint here and resume from it after a restart.
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<std::path::PathBuf>,
    /// Resume at least once instead of exactly once after a crash: no marker keys
    /// (`replicant:applied:N`) on the target, but writes in flight at a SIGKILL may be
    /// applied again. (Exactly once is the default with --state-dir on a standalone target.)
    #[arg(long, requires = "state_dir")]
    pub(crate) at_least_once: bool,
    /// Progress bar: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub(crate) progress: ProgressArg,
    /// TLS options, for whichever of source and target is `rediss://`.
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) parser: ParserArgs,
}

/// How keys are written to the target; shared by `sync` and `rdb restore`, which run the
/// same writer.
#[derive(Debug, Clone, Args)]
pub(crate) struct WriterArgs {
    /// Senders, each with its own connection to the target; keys are spread over them by
    /// hash slot, so each key's writes stay in order.
    #[arg(long, default_value_t = 8)]
    pub(crate) shards: usize,
    /// RESTORE payloads or commands, per key.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    pub(crate) mode: ModeArg,
    /// Commands in flight per connection, at most.
    #[arg(long, default_value_t = 1024)]
    pub(crate) window: usize,
    /// Commands per second sent to the target, at most (protects a production target).
    #[arg(long)]
    pub(crate) max_ops: Option<u64>,
    /// Bytes per second sent to the target, at most.
    #[arg(long)]
    pub(crate) max_bytes: Option<u64>,
    /// What to do when the target already holds keys: refuse, merge (write over them) or
    /// replace (empty the target first).
    #[arg(long, value_enum, default_value_t = ExistingArg::Refuse)]
    pub(crate) existing_data: ExistingArg,
    /// Error replies tolerated (logged and counted) instead of stopping, by first word,
    /// e.g. `--skip-errors BUSYKEY`. Repeatable.
    #[arg(long, value_name = "WORD")]
    pub(crate) skip_errors: Vec<String>,
    /// Never two writes to one key in flight: on a target error, no later write to that key
    /// was sent. Slower for hot keys.
    #[arg(long)]
    pub(crate) strict_key_order: bool,
    /// With commands in flight, silence from the target after which its connection counts
    /// as lost, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = replicant_config::DEFAULT_TIMEOUT_MS)]
    pub(crate) target_timeout_ms: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RdbCommand {
    /// Print an RDB as commands (`| redis-cli --pipe` rebuilds it) or as JSON lines.
    Dump(DumpArgs),
    /// Validate an RDB's structure and checksum and print a summary; exits 1 on error.
    Check(CheckArgs),
    /// Load an RDB into a target (a server or a Redis Cluster) through the same sharded,
    /// pipelined writer as `sync`.
    Restore(RestoreArgs),
}

/// Parser limits, shared by the `rdb` commands.
#[derive(Debug, Clone, Args)]
pub(crate) struct ParserArgs {
    /// Elements per batch (and so per command) for big collections.
    #[arg(long, default_value_t = 512)]
    pub(crate) batch_items: usize,
    /// Bytes per batch; strings bigger than this come out (and are written) in pieces.
    #[arg(long, default_value_t = 1 << 20)]
    pub(crate) batch_bytes: usize,
    /// Values whose encoded size is at most this many bytes may be sent as RESTORE
    /// payloads.
    #[arg(long, default_value_t = 512 << 10)]
    pub(crate) raw_value_max: usize,
    /// Largest single element, packed container or module value held in memory.
    #[arg(long, default_value_t = 512 << 20)]
    pub(crate) max_buffered: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DumpFormat {
    /// RESP commands, for `redis-cli --pipe`.
    Resp,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExistingArg {
    Refuse,
    Merge,
    Replace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgressArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeArg {
    /// RESTORE when the target can load the payload, commands otherwise (strings: SET … PXAT)
    Auto,
    /// Always RESTORE (exact, but needs a target of the same or a newer version).
    Restore,
    /// Always commands (portable; module values still use RESTORE).
    Commands,
}

#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// RDB file, or `-` for standard input.
    pub(crate) file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DumpFormat::Resp)]
    pub(crate) format: DumpFormat,
    /// How keys are written in RESP output.
    #[arg(long, value_enum, default_value_t = ModeArg::Commands)]
    pub(crate) mode: ModeArg,
    /// Version of the server the output is for, e.g. `7.0` or `valkey-8.0` (default: a
    /// recent Redis).
    #[arg(long)]
    pub(crate) target_version: Option<String>,
    #[command(flatten)]
    pub(crate) parser: ParserArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// RDB file, or `-` for standard input.
    pub(crate) file: String,
    /// How many of the largest keys to list.
    #[arg(long, default_value_t = 10)]
    pub(crate) largest: usize,
    #[command(flatten)]
    pub(crate) parser: ParserArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// RDB file, or `-` for standard input.
    pub(crate) file: String,
    /// Target: `redis://[user:pass@]host:port[/db]`. With `/db`, every key goes into
    /// that database; without it, each key keeps its own. A Redis Cluster node URL writes
    /// to the whole cluster.
    #[arg(long)]
    pub(crate) target: String,
    #[command(flatten)]
    pub(crate) writer: WriterArgs,
    /// Progress bar: auto (on a terminal), always, never.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub(crate) progress: ProgressArg,
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    #[command(flatten)]
    pub(crate) parser: ParserArgs,
}

/// TLS options for a `rediss://` endpoint. The server certificate is always verified.
#[derive(Debug, Clone, Args)]
pub(crate) struct TlsArgs {
    /// PEM file of CA certificates to trust (default: the system's).
    #[arg(long)]
    pub(crate) tls_ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for servers that require one.
    #[arg(long, requires = "tls_key_file")]
    pub(crate) tls_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, requires = "tls_cert_file")]
    pub(crate) tls_key_file: Option<std::path::PathBuf>,
    /// Server name for SNI and certificate verification (default: the URL's host).
    #[arg(long)]
    pub(crate) tls_server_name: Option<String>,
}
