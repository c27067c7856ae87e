//! [`Control`]: what the admin port and the metrics endpoint ask of the daemon. The daemon implements
//! it; this crate only calls it.

use crate::InfoSection;

/// What the admin port and the metrics endpoint ask of the daemon.
///
/// `attach`, `detach` and `shutdown` run on tokio's blocking pool and may block (drain, checkpoint).
/// `info` and `metrics` run on the async runtime and must return quickly: take a snapshot, do not wait.
pub trait Control: Send + Sync + 'static {
    /// `REPLICAOF host port`: follow this master (stop following any other). Returns the status line to
    /// reply with, e.g. "OK" or "OK Already connected to specified master", or Err(message) for an
    /// `-ERR` reply.
    fn attach(&self, host: &str, port: u16) -> Result<String, String>;
    /// `REPLICAOF NO ONE`: stop following (drain, final checkpoint) and wait for the next REPLICAOF.
    fn detach(&self) -> Result<String, String>;
    /// Every INFO section, in order.
    fn info(&self) -> Vec<InfoSection>;
    /// `SHUTDOWN`: drain, final checkpoint, exit the process (the daemon does it after replying).
    fn shutdown(&self);
    /// Prometheus text exposition of every metric (see [`crate::Metrics`]).
    fn metrics(&self) -> String;
}
