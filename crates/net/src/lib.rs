//! Reaching a Redis-protocol server: [`Endpoint`] parses `redis://` and `rediss://` URLs,
//! [`connect`] opens a TCP connection and, for `rediss://`, a TLS session whose server
//! certificate is always verified (system roots or a CA file), optionally with a client
//! certificate and an explicit SNI name.

#![deny(missing_docs)]

mod endpoint;
mod stream;

pub use endpoint::{DbPasswords, Endpoint, TlsOptions};
pub use stream::{connect, Stream};

/// What can go wrong reaching an endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The URL is not `redis://` or `rediss://[user:pass@]host[:port][/db]`.
    #[error("bad URL {url:?}: {why}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The TCP connection failed.
    #[error("cannot connect to {addr}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS setup or handshake failed.
    #[error("TLS with {addr}: {why}")]
    Tls {
        /// `host:port`.
        addr: String,
        /// What failed (certificate files, verification, handshake).
        why: String,
    },
}
