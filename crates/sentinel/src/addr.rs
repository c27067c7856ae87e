//! [`MasterAddr`]: the address of a master as the sentinels report it, and how it becomes
//! an [`Endpoint`] with the server's credentials.

use std::fmt;

use replicant_net::Endpoint;

/// The address of a master, as reported by the sentinels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MasterAddr {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl MasterAddr {
    /// An address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        MasterAddr { host: host.into(), port }
    }

    /// The `template` endpoint (credentials, TLS options, database) pointed at this
    /// address.
    pub fn to_endpoint(&self, template: &Endpoint) -> Endpoint {
        let mut endpoint = template.clone();
        endpoint.host.clone_from(&self.host);
        endpoint.port = self.port;
        endpoint
    }
}

/// `host:port`, with an IPv6 host in brackets (`[::1]:6379`).
impl fmt::Display for MasterAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_host_and_port() {
        assert_eq!(MasterAddr::new("10.0.0.7", 6380).to_string(), "10.0.0.7:6380");
        assert_eq!(MasterAddr::new("::1", 6380).to_string(), "[::1]:6380");
    }

    #[test]
    fn endpoint_keeps_the_template_credentials() {
        let template = Endpoint::parse("rediss://app:secret@placeholder:1/2").unwrap();
        let endpoint = MasterAddr::new("10.0.0.7", 6380).to_endpoint(&template);
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("10.0.0.7", 6380));
        assert_eq!((endpoint.user.as_deref(), endpoint.password.as_deref()), (Some("app"), Some("secret")));
        assert_eq!((endpoint.db, endpoint.tls.is_some()), (Some(2), true));
    }
}
