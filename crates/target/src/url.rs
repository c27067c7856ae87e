//! Target URLs: `redis://[user:pass@]host:port[/db]`.

use crate::TargetError;

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port (default 6379).
    pub port: u16,
    /// ACL user name, if any.
    pub user: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Database to write every key into, if given.
    pub db: Option<u64>,
}

impl TargetUrl {
    /// Parses a `redis://` URL.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let bad = |why: &str| TargetError::BadUrl { url: text.to_string(), why: why.to_string() };
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "redis" {
            return Err(bad("the scheme must be redis:// (rediss:// TLS is not supported yet)"));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let decode = |s: &str| percent_decode(s);
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(decode);
        let password = url.password().map(decode);
        let path = url.path().trim_start_matches('/');
        let db = if path.is_empty() {
            None
        } else {
            Some(path.parse::<u64>().map_err(|_| bad("the path must be a database number"))?)
        };
        Ok(TargetUrl { host, port: url.port().unwrap_or(6379), user, password, db })
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part() {
        let u = TargetUrl::parse("redis://app:p%40ss@10.0.0.1:6380/3").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("10.0.0.1", 6380, Some(3)));
        assert_eq!((u.user.as_deref(), u.password.as_deref()), (Some("app"), Some("p@ss")));
        let u = TargetUrl::parse("redis://:secret@localhost").unwrap();
        assert_eq!((u.user, u.password.as_deref(), u.port), (None, Some("secret"), 6379));
        assert!(TargetUrl::parse("http://x").is_err());
        assert!(TargetUrl::parse("redis://x/abc").is_err());
    }
}
