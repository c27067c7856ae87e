//! Tests of `replicant-config`: parsing (`parse`), validation and warnings (`validate`),
//! scan mode (`scan`), and the example file shipped in `config/replicant.toml` (`example`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod example;
mod parse;
mod scan;
mod validate;

use replicant_config::{Config, ConfigError};

/// The smallest configuration that validates.
const MINIMAL: &str = "\
[source]
url = \"redis://127.0.0.1:6379\"
[target]
url = \"redis://127.0.0.1:6380\"
";

/// Parses `text`, expecting a parse error; returns its message.
fn parse_error(text: &str) -> String {
    match Config::from_toml_str(text, "t.toml") {
        Err(e @ ConfigError::Parse { .. }) => e.to_string(),
        other => panic!("expected a parse error for {text:?}, got {other:?}"),
    }
}

/// The minimal valid configuration, changed by `edit`.
fn minimal_with(edit: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::from_toml_str(MINIMAL, "t.toml").unwrap();
    edit(&mut config);
    config
}

/// Validates `config`, expecting a refusal; returns the message lines.
fn refusals(config: &Config) -> Vec<String> {
    match config.validate() {
        Err(e @ ConfigError::Invalid(_)) => e.to_string().lines().map(str::to_string).collect(),
        other => panic!("expected Invalid for {config:?}, got {other:?}"),
    }
}
