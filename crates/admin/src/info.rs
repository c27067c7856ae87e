//! [`InfoSection`] and [`render_info`]: the daemon's state in the format of redis-server's `INFO`
//! reply. Which sections a request selects is decided in `command`; this module only builds and renders.

use std::fmt::Display;

/// One `INFO` section: a `# Name` header and `key:value` lines.
///
/// ```
/// use replicant_admin::{render_info, InfoSection};
///
/// let section = InfoSection::new("Replication").field("role", "slave").field("lag_bytes", 0);
/// assert_eq!(render_info([&section]), "# Replication\r\nrole:slave\r\nlag_bytes:0\r\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InfoSection {
    /// The section name as shown in its header, e.g. `Replication`; `INFO replication` matches it
    /// case-insensitively.
    pub name: String,
    /// `key:value` lines, in order.
    pub fields: Vec<(String, String)>,
}

impl InfoSection {
    /// An empty section.
    pub fn new(name: impl Into<String>) -> Self {
        InfoSection { name: name.into(), fields: Vec::new() }
    }

    /// Appends `key:value`. Neither should contain `:`, `\r` or `\n` (line breaks become spaces).
    #[must_use]
    pub fn field(mut self, key: impl Into<String>, value: impl Display) -> Self {
        self.fields.push((key.into(), value.to_string()));
        self
    }

    fn render_into(&self, out: &mut String) {
        push_line(out, "# ", &self.name, "");
        for (key, value) in &self.fields {
            push_line(out, key, ":", value);
        }
    }
}

/// Renders sections as redis-server does: each is `# Name\r\n` then `key:value\r\n` lines, and
/// sections are separated by an empty line (`\r\n`). No sections give an empty string.
pub fn render_info<'a>(sections: impl IntoIterator<Item = &'a InfoSection>) -> String {
    let mut out = String::new();
    for (i, section) in sections.into_iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        section.render_into(&mut out);
    }
    out
}

/// Appends `a b c\r\n`, with any line break inside the parts replaced by a space.
fn push_line(out: &mut String, a: &str, b: &str, c: &str) {
    for part in [a, b, c] {
        out.extend(part.chars().map(|ch| if ch == '\r' || ch == '\n' { ' ' } else { ch }));
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_separated_by_an_empty_line() {
        let server = InfoSection::new("Server").field("version", "0.1.0");
        let repl = InfoSection::new("Replication").field("role", "slave").field("offset", 42u64);
        assert_eq!(
            render_info([&server, &repl]),
            "# Server\r\nversion:0.1.0\r\n\r\n# Replication\r\nrole:slave\r\noffset:42\r\n"
        );
    }

    #[test]
    fn empty_section_and_no_sections() {
        assert_eq!(render_info([&InfoSection::new("Keyspace")]), "# Keyspace\r\n");
        assert_eq!(render_info([]), "");
    }

    #[test]
    fn line_breaks_in_values_cannot_forge_lines() {
        let s = InfoSection::new("X").field("error", "bad\r\nrole:master");
        assert_eq!(render_info([&s]), "# X\r\nerror:bad  role:master\r\n");
    }
}
