//! Snapshot bytes through the parser into the sink: every event delivered in order, keys
//! counted in the status. Shared by the link (bytes from a master's socket) and by RDB
//! files.

use std::sync::atomic::Ordering;

use replicant_rdb::{Event as RdbEvent, Parser, Status};

use crate::{LinkError, LinkStatus, Sink};

/// How far one pass over the snapshot bytes at hand got.
pub(crate) enum Fed {
    /// The RDB ended.
    Ended,
    /// The parser needs this many bytes (from the first one it did not consume) to go on.
    NeedMore(usize),
}

/// Parses what `region` holds, delivering each event to `sink`; returns the bytes
/// consumed and how the pass ended. A parse error is [`LinkError::Rdb`].
pub(crate) fn feed<S: Sink>(
    parser: &mut Parser,
    region: &[u8],
    sink: &mut S,
    status: &LinkStatus,
) -> Result<(usize, Fed), LinkError> {
    let mut used = 0;
    loop {
        match parser.parse(region.get(used..).unwrap_or_default())? {
            Status::Event { event, consumed } => {
                if let RdbEvent::Key(_) = event {
                    status.rdb_keys.fetch_add(1, Ordering::Relaxed);
                }
                let end = matches!(event, RdbEvent::End(_));
                sink.rdb_event(&event).map_err(LinkError::Sink)?;
                used += consumed;
                if end {
                    return Ok((used, Fed::Ended));
                }
            }
            Status::NeedMore { needed } => return Ok((used, Fed::NeedMore(needed))),
        }
    }
}
