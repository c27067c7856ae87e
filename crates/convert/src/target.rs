//! What the target can load: which RESTORE payload versions and which commands.

/// The target's server family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Redis (or a server that reports itself as Redis).
    Redis,
    /// Valkey 8 and later.
    Valkey,
}

/// The facts about a target that decide how values are written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetProfile {
    /// Redis or Valkey.
    pub family: Family,
    /// Server version (major, minor). For Valkey, the Valkey version.
    pub version: (u32, u32),
}

impl TargetProfile {
    /// A recent Redis: every command feature, RDB payloads up to version 13.
    pub fn latest() -> Self {
        TargetProfile { family: Family::Redis, version: (8, 6) }
    }

    /// A Redis server of this version.
    pub fn redis(major: u32, minor: u32) -> Self {
        TargetProfile { family: Family::Redis, version: (major, minor) }
    }

    /// A Valkey server of this version.
    pub fn valkey(major: u32, minor: u32) -> Self {
        TargetProfile { family: Family::Valkey, version: (major, minor) }
    }

    /// Reads `INFO server` output: `valkey_version` wins over `redis_version`.
    pub fn from_info(info: &str) -> Option<Self> {
        let field =
            |name: &str| info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).and_then(parse_version);
        if let Some((a, b)) = field("valkey_version") {
            return Some(TargetProfile::valkey(a, b));
        }
        field("redis_version").map(|(a, b)| TargetProfile::redis(a, b))
    }

    /// The highest RDB version a Redis of this version writes and loads.
    fn redis_rdb_version(version: (u32, u32)) -> u16 {
        match version {
            (0..=2, _) => 6,
            (3, 0..=1) => 6,
            (3, _) => 7,
            (4, _) => 8,
            (5..=6, _) => 9,
            (7, 0..=1) => 10,
            (7, 2..=3) => 11,
            (7, _) | (8, 0..=5) => 12,
            _ => 13,
        }
    }

    /// Whether the target accepts a RESTORE payload of this RDB version.
    pub fn loads_payload(&self, payload: u16) -> bool {
        match self.family {
            Family::Redis => payload <= Self::redis_rdb_version(self.version),
            Family::Valkey if self.version.0 >= 9 => payload <= 11 || payload == 80,
            Family::Valkey => payload <= 11,
        }
    }

    /// Whether the target has this Redis-version feature (Valkey counts as Redis 7.2).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        let effective = match self.family {
            Family::Redis => self.version,
            Family::Valkey => (7, 2),
        };
        effective >= (major, minor)
    }

    /// Whether the target has hash-field expiry (Redis 7.4+, Valkey 9+).
    pub fn has_field_expiry(&self) -> bool {
        match self.family {
            Family::Redis => self.version >= (7, 4),
            Family::Valkey => self.version.0 >= 9,
        }
    }
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_versions() {
        assert!(TargetProfile::redis(7, 0).loads_payload(10));
        assert!(!TargetProfile::redis(7, 0).loads_payload(11));
        assert!(TargetProfile::redis(7, 4).loads_payload(12));
        assert!(!TargetProfile::valkey(8, 0).loads_payload(12));
        assert!(TargetProfile::valkey(9, 0).loads_payload(80));
        let t = TargetProfile::from_info("# Server\r\nredis_version:7.2.4\r\nvalkey_version:9.0.1\r\n").unwrap();
        assert_eq!(t, TargetProfile::valkey(9, 0));
        let t = TargetProfile::from_info("redis_version:7.0.15\r\n").unwrap();
        assert_eq!(t, TargetProfile::redis(7, 0));
    }
}
