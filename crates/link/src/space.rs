//! The free-space check made before a source's snapshot files are fetched to disk (a
//! Kvrocks checkpoint, a Pika dump): a refusal before a byte is fetched, since a disk that
//! fills up mid-transfer helps nobody.

use std::path::Path;

use crate::LinkError;

/// Free space kept beyond the snapshot's size (its live logs are not in the size).
pub const SPACE_MARGIN: u64 = 64 << 20;

/// Refuses to fetch `what` of `need` bytes (`None`: unknown, not refused) into `dir` when
/// its file system has less free space than that plus [`SPACE_MARGIN`].
pub fn check_free_space(dir: &Path, need: Option<u64>, what: &str) -> Result<(), LinkError> {
    let (Some(need), Some(free)) = (need, free_space(dir)) else { return Ok(()) };
    if free < need.saturating_add(SPACE_MARGIN) {
        return Err(LinkError::Source(
            format!(
                "{what} takes about {} MiB and {} has {} MiB free (needed: its size plus {} MiB): free space \
                 there or set state.dir to a larger disk; nothing was fetched",
                need >> 20,
                dir.display(),
                free >> 20,
                SPACE_MARGIN >> 20
            )
            .into(),
        ));
    }
    Ok(())
}

/// Bytes free for an unprivileged user on the file system of `dir` (or of its nearest
/// existing parent).
fn free_space(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_bigger_than_the_free_space_is_refused_before_fetching() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_free_space(dir.path(), Some(1 << 20), "the dump").is_ok());
        assert!(check_free_space(dir.path(), None, "the dump").is_ok(), "an unknown size is not refused");
        let e = check_free_space(&dir.path().join("not/yet"), Some(u64::MAX / 2), "the master's dump").unwrap_err();
        let text = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
        assert!(text.starts_with("the master's dump takes") && text.contains("nothing was fetched"), "{text}");
    }
}
