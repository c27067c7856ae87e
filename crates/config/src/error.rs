//! Errors: [`ConfigError`] for reading, parsing and validating a configuration,
//! [`FieldError`] for one invalid value, and the rendering of a TOML error as
//! `FILE:LINE:COL: key.path: message`. What makes a value invalid is decided by the
//! sections' own `check`s, not here.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong loading a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or does not fit the schema (an unknown key, a wrong type,
    /// an unknown choice).
    #[error("{origin}:{}{message}", location_prefix(location))]
    Parse {
        /// Where the text came from (a file name), as given by the caller.
        origin: String,
        /// Line and column of the error, when the TOML parser reports one.
        location: Option<Location>,
        /// The parser's message, led by the dotted key path when it names a key.
        message: String,
    },
    /// Values that parse but are not allowed: each on its own line.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<FieldError>),
}

/// A position in the configuration text, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line number.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

/// One invalid value: the dotted path of the key and why it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted key path, e.g. `writer.shards` or `writer.skip_errors[1]`.
    pub field: String,
    /// Why the value is refused, e.g. `must be between 1 and 1024 (got 0)`.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl ConfigError {
    /// Turns a `toml` error on `text` into [`ConfigError::Parse`].
    pub(crate) fn from_toml(error: &toml::de::Error, text: &str, origin: &str) -> Self {
        let location = error.span().map(|span| locate(text, span.start));
        let message = match key_path(error) {
            Some(path) => format!("{path}: {}", error.message()),
            None => error.message().to_string(),
        };
        ConfigError::Parse { origin: origin.to_string(), location, message }
    }
}

/// The dotted path of the key the error is about, if any.
///
/// `toml` records the keys it was inside but exposes them only through `Display`, and
/// only when the error carries no input (the input is shown instead otherwise): a copy
/// without input prints the message, then ``in `a.b` ``.
fn key_path(error: &toml::de::Error) -> Option<String> {
    let mut bare = error.clone();
    bare.set_input(None);
    let shown = bare.to_string();
    let line = shown.lines().rev().find(|l| l.starts_with("in `"))?;
    let path = line.strip_prefix("in `")?.strip_suffix('`')?;
    Some(path.to_string()).filter(|p| !p.is_empty())
}

/// Line and column (1-based, in characters) of byte `offset` in `text`.
fn locate(text: &str, offset: usize) -> Location {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
    Location { line, column }
}

fn location_prefix(location: &Option<Location>) -> String {
    match location {
        Some(l) => format!("{}:{}: ", l.line, l.column),
        None => " ".to_string(),
    }
}

fn join_lines(errors: &[FieldError]) -> String {
    errors.iter().map(FieldError::to_string).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(locate(text, 0), Location { line: 1, column: 1 });
        assert_eq!(locate(text, 6), Location { line: 2, column: 1 });
        assert_eq!(locate(text, 10), Location { line: 2, column: 4 });
        assert_eq!(locate(text, 999), Location { line: 3, column: 1 });
    }

    #[test]
    fn lists_each_field_error_on_its_own_line() {
        let e = ConfigError::Invalid(vec![
            FieldError { field: "a.b".into(), reason: "bad".into() },
            FieldError { field: "c".into(), reason: "worse".into() },
        ]);
        assert_eq!(e.to_string(), "a.b: bad\nc: worse");
    }
}
