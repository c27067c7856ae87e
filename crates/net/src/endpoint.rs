//! Endpoint URLs: `redis://[user:pass@]host[:port][/db]`, `rediss://` for TLS.

use std::path::PathBuf;

use crate::NetError;

/// TLS settings for a `rediss://` endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// PEM file of the CA certificates to trust; the system's roots when `None`.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for servers that require one.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Name to send as SNI and to verify the certificate against (default: the host).
    pub server_name: Option<String>,
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// TCP port (default 6379).
    pub port: u16,
    /// ACL user, if any.
    pub user: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// Database number from the URL path, if any.
    pub db: Option<u64>,
    /// TLS settings; `Some` for `rediss://`.
    pub tls: Option<TlsOptions>,
    /// For a server whose databases are separate keyspaces reached by authenticating
    /// (Kvrocks namespaces): the password that reaches each database. A connection then
    /// sends `AUTH <its password>` where it would send `SELECT <db>`. See
    /// [`Endpoint::with_db_passwords`].
    pub db_passwords: Option<DbPasswords>,
}

/// Database number → the password that reaches it (Kvrocks: a namespace's token).
pub type DbPasswords = std::sync::Arc<std::collections::BTreeMap<u64, String>>;

impl Endpoint {
    /// Parses a `redis://` or `rediss://` URL.
    pub fn parse(text: &str) -> Result<Self, NetError> {
        let bad = |why: &str| NetError::BadUrl { url: redact(text), why: why.to_string() };
        let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "redis" => None,
            "rediss" => Some(TlsOptions::default()),
            _ => return Err(bad("the scheme must be redis:// or rediss://")),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let user = Some(url.username()).filter(|u| !u.is_empty()).map(percent_decode);
        let password = url.password().map(percent_decode);
        let path = url.path().trim_start_matches('/');
        let db = match path {
            "" => None,
            p => Some(p.parse::<u64>().map_err(|_| bad("the path must be a database number"))?),
        };
        Ok(Endpoint { host, port: url.port().unwrap_or(6379), user, password, db, tls, db_passwords: None })
    }

    /// A plain TCP endpoint.
    pub fn tcp(host: &str, port: u16) -> Self {
        Endpoint { host: host.to_string(), port, user: None, password: None, db: None, tls: None, db_passwords: None }
    }

    /// `host:port`, with IPv6 hosts in brackets.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Reaches each database by authenticating with its password instead of `SELECT`
    /// (a Kvrocks target, whose namespaces are reached by token).
    pub fn with_db_passwords(mut self, passwords: DbPasswords) -> Self {
        self.db_passwords = Some(passwords);
        self
    }

    /// The password that reaches `db`, when databases are reached by password; `None`
    /// inside means `db` has none (writing to it must be refused).
    pub fn db_password(&self, db: u64) -> Option<Option<&str>> {
        self.db_passwords.as_ref().map(|p| p.get(&db).map(String::as_str))
    }

    /// Sets the TLS options (making this a TLS endpoint).
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }
}

/// The URL with its password replaced, for messages.
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => text.to_string(),
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
        let e = Endpoint::parse("redis://app:p%40ss@10.0.0.1:6380/3").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.db), ("10.0.0.1", 6380, Some(3)));
        assert_eq!((e.user.as_deref(), e.password.as_deref()), (Some("app"), Some("p@ss")));
        assert!(e.tls.is_none());
        let e = Endpoint::parse("rediss://:secret@cache.example.com").unwrap();
        assert_eq!((e.user, e.password.as_deref(), e.port), (None, Some("secret"), 6379));
        assert!(e.tls.is_some());
        let e = Endpoint::parse("redis://[::1]:7000").unwrap();
        assert_eq!(e.addr(), "[::1]:7000");
    }

    #[test]
    fn rejects_and_redacts() {
        let err = Endpoint::parse("http://u:topsecret@x").unwrap_err().to_string();
        assert!(!err.contains("topsecret"), "{err}");
        assert!(Endpoint::parse("redis://x/abc").is_err());
    }
}
