//! [`Problems`], the list every section's `check` adds its refusals to, with the common
//! rules (ranges, lower bounds, non-empty strings) worded once. `Config::validate` runs
//! the checks and turns a non-empty list into `ConfigError::Invalid`.

use std::fmt::Display;
use std::path::Path;

use crate::{ConfigError, FieldError};

/// Refusals collected so far, in the order the checks found them.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldError>);

impl Problems {
    /// Refuses `field` for `reason`.
    pub(crate) fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError { field: field.into(), reason: reason.into() });
    }

    /// Refuses `value` unless `min <= value <= max`.
    pub(crate) fn range<T: PartialOrd + Display>(&mut self, field: &str, value: T, min: T, max: T) {
        if value < min || value > max {
            self.push(field, format!("must be between {min} and {max} (got {value})"));
        }
    }

    /// Refuses `value` unless `value >= min`.
    pub(crate) fn at_least<T: PartialOrd + Display>(&mut self, field: &str, value: T, min: T) {
        if value < min {
            self.push(field, format!("must be at least {min} (got {value})"));
        }
    }

    /// Refuses a string that is set but empty (or only blanks).
    pub(crate) fn not_empty(&mut self, field: &str, value: Option<&str>) {
        if value.is_some_and(|v| v.trim().is_empty()) {
            self.push(field, "must not be empty");
        }
    }

    /// Refuses a path that is set but empty.
    pub(crate) fn path_not_empty(&mut self, field: &str, value: Option<&Path>) {
        if value.is_some_and(|p| p.as_os_str().is_empty()) {
            self.push(field, "must not be empty");
        }
    }

    /// `Ok` when nothing was refused.
    pub(crate) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.0))
        }
    }
}
