//! The checkpoint: where the stream was applied up to, kept in the state directory so that
//! a restart (after SIGTERM, a crash or SIGKILL) continues with `PSYNC` instead of a new
//! full sync. The file is replaced atomically (write, fsync, rename, fsync the directory),
//! so a reader sees the old checkpoint or the new one, never a mix. A lock file keeps two
//! processes from sharing one state directory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use replicant_repl::{ReplId, ResumePoint};
use serde::{Deserialize, Serialize};

const FILE: &str = "checkpoint.json";
const VERSION: u32 = 1;

/// What the state directory says about the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Checkpoint {
    /// A full sync was being written: the target holds part of a snapshot.
    FullSync { version: u32, source: String, target: String },
    /// Everything up to `offset` of the master's stream `replid` is applied.
    Streaming { version: u32, source: String, target: String, replid: String, offset: u64, db: u64 },
}

impl Checkpoint {
    pub(crate) fn full_sync(source: &str, target: &str) -> Self {
        Checkpoint::FullSync { version: VERSION, source: source.into(), target: target.into() }
    }

    pub(crate) fn streaming(source: &str, target: &str, at: ResumePoint) -> Self {
        Checkpoint::Streaming {
            version: VERSION,
            source: source.into(),
            target: target.into(),
            replid: at.replid.to_string(),
            offset: at.offset,
            db: at.db,
        }
    }

    /// The master and the target this checkpoint is about.
    pub(crate) fn ends(&self) -> (&str, &str) {
        match self {
            Checkpoint::FullSync { source, target, .. } | Checkpoint::Streaming { source, target, .. } => {
                (source, target)
            }
        }
    }

    /// Where to resume, for a streaming checkpoint.
    pub(crate) fn resume_point(&self) -> anyhow::Result<Option<ResumePoint>> {
        match self {
            Checkpoint::FullSync { .. } => Ok(None),
            Checkpoint::Streaming { replid, offset, db, .. } => {
                let id: ReplId = replid.parse().map_err(|_| anyhow::anyhow!("bad replication ID {replid:?}"))?;
                Ok(Some(ResumePoint::new(id, *offset).db(*db)))
            }
        }
    }
}

/// The state directory, locked by this process.
pub(crate) struct StateDir {
    dir: PathBuf,
    _lock: File,
    /// One store at a time: they share the temporary file.
    storing: std::sync::Mutex<()>,
}

impl StateDir {
    /// Creates the directory if needed and takes its lock.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        let path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if lock.try_lock().is_err() {
            bail!("the state directory {} is in use by another replicant process", dir.display());
        }
        Ok(StateDir { dir: dir.to_path_buf(), _lock: lock, storing: std::sync::Mutex::new(()) })
    }

    /// Where the checkpoint is kept.
    pub(crate) fn checkpoint_file(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The checkpoint, if one was written.
    pub(crate) fn load(&self) -> anyhow::Result<Option<Checkpoint>> {
        let path = self.dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let checkpoint: Checkpoint = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a replicant checkpoint; move it away to start over", path.display()))?;
        let (Checkpoint::FullSync { version, .. } | Checkpoint::Streaming { version, .. }) = &checkpoint;
        if *version != VERSION {
            bail!("{} has checkpoint version {version}; this replicant reads version {VERSION}", path.display());
        }
        Ok(Some(checkpoint))
    }

    /// Replaces the checkpoint atomically and durably.
    pub(crate) fn store(&self, checkpoint: &Checkpoint) -> anyhow::Result<()> {
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let mut text = serde_json::to_vec_pretty(checkpoint)?;
        text.push(b'\n');
        let _one_at_a_time = self.storing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().with_context(|| format!("cannot write the checkpoint {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_checkpoint_survives_a_round_trip_and_the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert_eq!(state.load().unwrap(), None);
        let id: ReplId = "8d9f2e3b2c1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e".parse().unwrap();
        let at = ResumePoint::new(id, 1234).db(3);
        state.store(&Checkpoint::full_sync("a:1", "b:2")).unwrap();
        state.store(&Checkpoint::streaming("a:1", "b:2", at)).unwrap();
        let back = state.load().unwrap().unwrap();
        assert_eq!(back.resume_point().unwrap(), Some(at));
        assert_eq!(back.ends(), ("a:1", "b:2"));
        assert!(StateDir::open(dir.path()).is_err(), "a second process took the lock");
        drop(state);
        assert!(StateDir::open(dir.path()).is_ok());
    }

    #[test]
    fn a_damaged_checkpoint_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{\"state\":\"streaming\"").unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let err = format!("{:#}", state.load().unwrap_err());
        assert!(err.contains("not a replicant checkpoint"), "{err}");
    }
}
