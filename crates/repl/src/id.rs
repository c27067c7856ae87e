//! Replication IDs: 40 hexadecimal characters.

use std::fmt;

/// A master's replication ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplId([u8; 40]);

impl ReplId {
    /// All zeros: what Redis shows when no ID is known.
    pub const ZERO: ReplId = ReplId([b'0'; 40]);

    /// An ID known when compiling; `None` unless `text` is 40 hexadecimal characters.
    pub const fn from_static(text: &[u8; 40]) -> Option<ReplId> {
        let mut rest: &[u8] = text;
        while let [first, tail @ ..] = rest {
            if !first.is_ascii_hexdigit() {
                return None;
            }
            rest = tail;
        }
        Some(ReplId(*text))
    }

    /// Parses 40 hexadecimal characters.
    pub fn parse(text: &[u8]) -> Option<ReplId> {
        let bytes: [u8; 40] = text.try_into().ok()?;
        bytes.iter().all(u8::is_ascii_hexdigit).then_some(ReplId(bytes))
    }

    /// The 40 characters.
    pub fn as_bytes(&self) -> &[u8; 40] {
        &self.0
    }

    /// The 40 characters as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("?")
    }
}

impl fmt::Display for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplId({})", self.as_str())
    }
}

impl std::str::FromStr for ReplId {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReplId::parse(s.as_bytes()).ok_or("a replication ID is 40 hexadecimal characters")
    }
}
