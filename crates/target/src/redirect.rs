//! Cluster redirections: a `MOVED` or `ASK` reply (or `TRYAGAIN` while a slot migrates)
//! means the command did not run on this node. With `follow_redirects`, the connection
//! keeps the command and its bytes instead of failing, and the writer runs it again where
//! the cluster says, in order.

use replicant_convert::{CommandInfo, Commands};

/// Why a command has to run elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectKind {
    /// The slot now belongs to `addr` for good: refresh the slot map.
    Moved,
    /// The slot is migrating and this key is already on `addr`: run it there once,
    /// after `ASKING`.
    Ask,
    /// A multi-key command during a migration: run it again on the owner later.
    TryAgain,
}

/// A command the target redirected.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// `MOVED`, `ASK` or `TRYAGAIN`.
    pub kind: RedirectKind,
    /// The node named by the reply (`host:port`; empty for `TRYAGAIN`).
    pub addr: String,
    /// The command, alone.
    pub command: Commands,
}

/// Reads a redirection reply; `None` for any other error.
pub(crate) fn parse(reply: &str) -> Option<(RedirectKind, String)> {
    let mut words = reply.split(' ');
    let kind = match words.next()? {
        "MOVED" => RedirectKind::Moved,
        "ASK" => RedirectKind::Ask,
        "TRYAGAIN" => return Some((RedirectKind::TryAgain, String::new())),
        _ => return None,
    };
    let _slot = words.next()?.parse::<u16>().ok()?;
    let addr = words.next()?.to_string();
    Some((kind, addr))
}

/// The command at `index` of `batch`, alone (needs the batch's bytes).
pub(crate) fn single(batch: &Commands, index: usize) -> Option<Commands> {
    let (info, bytes) = batch.iter().nth(index)?;
    let info: &CommandInfo = info;
    let mut one = Commands::new();
    one.push_encoded(info, batch.note_of(info), bytes);
    Some(one)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redirection_replies_are_read_and_others_are_not() {
        assert_eq!(parse("MOVED 3999 127.0.0.1:6381"), Some((RedirectKind::Moved, "127.0.0.1:6381".into())));
        assert_eq!(parse("ASK 3999 10.0.0.2:7000"), Some((RedirectKind::Ask, "10.0.0.2:7000".into())));
        assert_eq!(
            parse("TRYAGAIN Multiple keys request during rehashing of slot"),
            Some((RedirectKind::TryAgain, String::new()))
        );
        assert_eq!(parse("WRONGTYPE Operation against a key"), None);
        assert_eq!(parse("MOVED notaslot x"), None);
        assert_eq!(parse("MOVED 1"), None);
    }
}
