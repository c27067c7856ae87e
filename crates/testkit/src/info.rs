//! Facts about the connected server: its version and which commands it
//! knows. Version-dependent behaviour in the testkit is decided here.

use redis::{Connection, Value};

use crate::reply::{into_array, into_text, query};

/// `redis_version` from `INFO server` as `(major, minor, patch)`.
///
/// Valkey reports a Redis-compatible `redis_version` (e.g. 7.2.4) here.
pub fn server_version(conn: &mut Connection) -> (u32, u32, u32) {
    let info = into_text(query(conn, redis::cmd("INFO").arg("server")));
    let line = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .unwrap_or_else(|| panic!("INFO server has no redis_version:\n{info}"));
    parse_version(line.trim())
}

fn parse_version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}

/// Whether the server knows the command `name` (via `COMMAND INFO`, which
/// answers nil for unknown commands rather than failing).
pub fn supports_command(conn: &mut Connection, name: &str) -> bool {
    let reply = query(conn, redis::cmd("COMMAND").arg("INFO").arg(name));
    into_array(reply).first().is_some_and(|entry| !matches!(entry, Value::Nil))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("7.0.15"), (7, 0, 15));
        assert_eq!(parse_version("7.4"), (7, 4, 0));
        assert_eq!(parse_version("255.255.255"), (255, 255, 255));
    }
}
