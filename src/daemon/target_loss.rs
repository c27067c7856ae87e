//! A lost target, and what comes back: which errors mean the target was lost (so that trying
//! again may help), whether the server that answers again may be written on (one that lost
//! its data may not; a promoted replica may, where exactly-once markers say what it lacks),
//! and where the stream resumes on it.

use anyhow::Context;
use replicant_link::LinkError;
use replicant_pipeline::{Writer, WriterError};
use replicant_repl::ResumePoint;
use replicant_sentinel::SentinelError;
use replicant_target::TargetError;

use super::job::Start;
use super::precheck::Found;

/// Resumes `writer` at `at` (the checkpoint, or what the target acknowledged before it was
/// lost); where the stream goes on, which is earlier when the target lacks writes it had
/// acknowledged and its markers say which.
pub(crate) async fn resume_writer(
    writer: &mut Writer,
    at: ResumePoint,
    start: &Start,
    from_checkpoint: bool,
) -> anyhow::Result<ResumePoint> {
    let origin = if from_checkpoint { "the checkpoint" } else { "where the last job left the target" };
    tracing::info!(replid = %at.replid, offset = at.offset, db = at.db, "Resuming from {origin}.");
    let applied = start.lost_target.as_ref().map(|l| &l.marks);
    let (from, markers) = match writer.resume_exactly(at, applied).await {
        Ok(resumed) => resumed,
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => {
            return Err(e).context(
                "the target that came back lacks writes it had acknowledged, and its exactly-once markers cannot \
                 say which; start again with a full sync: remove the checkpoint, and run with \
                 target.existing_data = \"replace\"",
            )
        }
    };
    if from.offset < at.offset {
        tracing::warn!(
            from = from.offset,
            acknowledged = at.offset,
            "The target lacks writes it had acknowledged (restored from an older state, or a replica promoted in \
             a failover); its markers say which: asking the master for the stream from there."
        );
    }
    if writer.exactly_once() {
        tracing::info!(markers, "Exactly once: commands the target applied after the checkpoint are skipped.");
    }
    Ok(from)
}

/// A target that comes back from a loss must hold what it acknowledged. One with no key
/// although keys had been written lost them (restarted without persistence): streaming on
/// would leave a hole. One that is a replica promoted in a failover (its second replication
/// ID is the lost server's) may lack the last writes the lost server acknowledged: with
/// exactly-once markers their comparison says which (`Writer::resume_exactly`); without,
/// nothing can, and the job stops.
pub(crate) fn came_back_changed(start: &Start, found: &Found, exactly_once: bool) -> anyhow::Result<()> {
    let Some(lost) = &start.lost_target else { return Ok(()) };
    if lost.applied > 0 && found.keys == 0 {
        anyhow::bail!(
            "the target came back empty after it was lost, although {} keys and commands had been applied: it \
             lost its data (restarted without persistence?). Continuing would leave a hole; start again with a \
             full sync: remove the checkpoint, and run with target.existing_data = \"replace\"",
            lost.applied
        );
    }
    let promoted = found.histories.iter().any(|(_, second)| lost.replids.iter().any(|id| id == second));
    if promoted && exactly_once {
        tracing::warn!(
            "The target came back as a replica promoted in a failover; its exactly-once markers say which \
             acknowledged writes it lacks."
        );
    } else if promoted {
        anyhow::bail!(
            "the target came back as a replica promoted in a failover (its second replication ID is the lost \
             server's): it may lack writes the lost server had acknowledged, and without exactly-once markers \
             (writer.exactly_once, a state directory) nothing can tell which. Continuing could leave a hole; start \
             again with a full sync: remove the checkpoint, and run with target.existing_data = \"replace\""
        );
    }
    Ok(())
}

/// Whether an error means the target could not be reached or dropped its connections (so
/// that trying again may help), as opposed to a refused command or a bad setting.
pub(crate) fn target_lost(e: &anyhow::Error) -> bool {
    e.chain().any(is_loss)
}

pub(crate) fn link_lost_target(e: &LinkError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if is_loss(c) {
            return true;
        }
        cause = c.source();
    }
    false
}

fn is_loss(c: &(dyn std::error::Error + 'static)) -> bool {
    c.downcast_ref::<WriterError>().is_some_and(WriterError::is_retryable)
        || c.downcast_ref::<TargetError>().is_some_and(TargetError::is_connection)
        // Only the target's Sentinels are asked where this is called.
        || c.downcast_ref::<SentinelError>().is_some_and(SentinelError::is_transient)
}
