//! The writer's error type.

/// What stopped the writer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// The target refused a command, could not be reached, or broke the connection.
    #[error(transparent)]
    Target(#[from] replicant_target::TargetError),
    /// A key could not be converted for this target.
    #[error(transparent)]
    Convert(#[from] replicant_convert::ConvertError),
    /// A command the source ran cannot run on a cluster target.
    #[error("{what} cannot run on a cluster target: {why}")]
    Cluster {
        /// The command.
        what: String,
        /// Why not.
        why: &'static str,
    },
    /// The target's cluster slot map could not be read or is incomplete.
    #[error("cannot read the target's cluster slot map: {0}")]
    SlotMap(String),
    /// An exactly-once marker on the target cannot be used.
    #[error("cannot resume exactly once: {0}")]
    Marker(String),
    /// A sender stopped without saying why.
    #[error("a target sender stopped")]
    Stopped,
}
