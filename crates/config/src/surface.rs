//! `[admin]` and `[metrics]`: the addresses the daemon listens on for its RESP admin port
//! and its Prometheus endpoint. Addresses are parsed while the file is read, so a bad
//! one is reported with its line; what is risky but allowed (an open admin port) becomes
//! a warning.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

use crate::check::Problems;

/// `[admin]`: the RESP admin port (`REPLICAOF`, `INFO`, `SHUTDOWN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Admin {
    /// IP address and port to listen on; `None` (default): no admin port.
    #[serde(deserialize_with = "listen_addr")]
    pub listen: Option<SocketAddr>,
    /// Password clients must send with `AUTH`; `None` (default): none.
    pub password: Option<String>,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Metrics {
    /// IP address and port to serve `/metrics` on; `None` (default): no endpoint.
    #[serde(deserialize_with = "listen_addr")]
    pub listen: Option<SocketAddr>,
}

impl Admin {
    pub(crate) fn check(&self, out: &mut Problems) {
        if self.password.as_deref() == Some("") {
            out.push("admin.password", "must not be empty");
        }
    }

    pub(crate) fn warnings(&self, out: &mut Vec<String>) {
        if let Some(addr) = self.listen.filter(|a| !a.ip().is_loopback()) {
            if self.password.is_none() {
                out.push(format!(
                    "admin.listen: {addr} is not a loopback address and admin.password is not \
                     set: anyone who can reach it can control replicant"
                ));
            }
        }
    }
}

/// Reads `"IP:PORT"` into a socket address, naming the expected form when it is not one.
fn listen_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!("not a socket address (IP:PORT, e.g. 127.0.0.1:6390 or [::1]:6390): {text:?}"))
    })
}
