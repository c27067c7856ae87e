//! `[sync]`: how the copy runs — once or continuously, what to do when only a new full
//! sync is on offer, how keys are written, whether `PUBLISH` is forwarded. Every value
//! here is valid by type; there is nothing to check.

use serde::Deserialize;

use crate::choice::choices;

/// `[sync]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Sync {
    /// Exit 0 once the snapshot is applied on the target (default false: follow the
    /// write stream until stopped).
    pub once: bool,
    /// What to do when the master can only offer a new full sync (default: stop).
    pub full_resync: FullResync,
    /// How snapshot keys are written (default: auto).
    pub mode: Mode,
    /// Forward `PUBLISH` from the master's write stream (default false).
    pub forward_publish: bool,
}

/// `sync.full_resync`: what to do when a partial resync (`PSYNC`) is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FullResync {
    /// Stop with a message: the master's backlog no longer holds our offset (default).
    #[default]
    Stop,
    /// Take the new full sync and go on.
    Accept,
}

/// `sync.mode`: how snapshot keys are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// `RESTORE` when the target can load the source's payloads, commands otherwise
    /// (default).
    #[default]
    Auto,
    /// Always `RESTORE` (exact; the target must read the source's RDB version).
    Restore,
    /// Always commands (portable; module values still use `RESTORE`).
    Commands,
}

choices!(FullResync { Stop = "stop", Accept = "accept" });
choices!(Mode { Auto = "auto", Restore = "restore", Commands = "commands" });
