//! `[log]`: log format, level filter and the progress bar. The level is handed to
//! `tracing`'s `EnvFilter` as it is; only an empty one is refused here.

use serde::Deserialize;

use crate::check::Problems;
use crate::choice::choices;

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Log {
    /// Format of the log lines on standard error (default: text).
    pub format: LogFormat,
    /// `error`, `warn`, `info` (default), `debug`, `trace`, or any `EnvFilter` directive
    /// such as `info,replicant_link=debug`.
    pub level: String,
    /// Progress bar on a terminal (default: auto).
    pub progress: Progress,
}

/// `log.format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `log.progress`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Progress {
    /// A progress bar when standard error is a terminal (default).
    #[default]
    Auto,
    /// Always, terminal or not.
    Always,
    /// Never.
    Never,
}

choices!(LogFormat { Text = "text", Json = "json" });
choices!(Progress { Auto = "auto", Always = "always", Never = "never" });

impl Default for Log {
    fn default() -> Self {
        Log { format: LogFormat::Text, level: "info".to_string(), progress: Progress::Auto }
    }
}

impl Log {
    pub(crate) fn check(&self, out: &mut Problems) {
        out.not_empty("log.level", Some(&self.level));
    }
}
