//! The replica's side of RsyncService (Pika 3.5.0 to 4.0.1, `src/rsync_client.cc`) as a
//! sans-IO transfer: [`Transfer`] says which request to send next and where each received
//! chunk goes (a file name and an offset); it never holds a file, except the tiny `info`.
//!
//! Like Pika's client it asks for the file list (`kRsyncMeta`), sorts it, deals the files
//! round-robin to up to 4 readers (`reader_index`), and each reader asks for its files one
//! chunk (≤ 4 MiB) at a time, the next chunk at `offset + count` until `eof`. Every reply
//! must carry the snapshot UUID of the meta reply; the chunk `checksum` is always empty in
//! those versions, so it is passed along, not checked. Instead the `info` file, whose MD5
//! *is* the UUID, is checked and parsed into [`DumpInfo`]: where to TrySync from after
//! loading the dump.

mod info;

use std::collections::{BTreeSet, VecDeque};

use bytes::Bytes;

pub use info::{DumpInfo, MAX_INFO_LEN};

use crate::error::{PikaError, Result};
use crate::proto::rsync::{FileRequest, FileResponse, RsyncRequest, RsyncResponse, StatusCode, Type};
use info::InfoCollector;

/// Largest chunk a request asks for (Pika's `kBytesPerRequest`).
pub const MAX_CHUNK: u64 = 4 << 20;

/// Most readers a master serves on one connection (`kMaxRsyncParallelNum`).
pub const MAX_READERS: usize = 4;

/// The dump file naming the binlog position.
pub const INFO_FILE: &str = "info";

/// What to fetch and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferConfig {
    /// The database (`db0`, …).
    pub db: String,
    /// Parallel readers, 1 to [`MAX_READERS`]. Default 4 (Pika's `max-rsync-parallel-num`).
    pub readers: usize,
    /// Bytes asked per request, 1 to [`MAX_CHUNK`]. Default [`MAX_CHUNK`].
    pub chunk: u64,
}

impl TransferConfig {
    /// Fetch `db` with Pika's defaults.
    pub fn new(db: impl Into<String>) -> Self {
        Self { db: db.into(), readers: MAX_READERS, chunk: MAX_CHUNK }
    }
}

/// What a response means for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The master is still making the dump: wait (Pika waits 1 s) and [`Transfer::retry_meta`].
    NotReady,
    /// The dump's files (sorted, each a safe relative path), all to be fetched.
    Meta {
        /// The snapshot UUID.
        snapshot_uuid: String,
        /// The files.
        files: Vec<String>,
    },
    /// Bytes to write.
    Chunk(Chunk),
}

/// Bytes of one file at one offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The file, relative to the dump directory (checked by [`check_file_name`]).
    pub file: String,
    /// Where these bytes go in it.
    pub offset: u64,
    /// The bytes (a slice of the received frame).
    pub data: Bytes,
    /// This chunk ends the file.
    pub eof: bool,
}

#[derive(Debug, Default)]
struct Reader {
    queue: VecDeque<String>,
    /// The outstanding request: file and offset.
    current: Option<(String, u64)>,
}

/// One RsyncService transfer of one database's dump.
#[derive(Debug)]
pub struct Transfer {
    config: TransferConfig,
    uuid: Option<String>,
    files: Vec<String>,
    readers: Vec<Reader>,
    out: VecDeque<RsyncRequest>,
    info: InfoCollector,
    dump_info: Option<DumpInfo>,
}

impl Transfer {
    /// A transfer that starts by asking for the file list (queued).
    pub fn new(mut config: TransferConfig) -> Self {
        config.readers = config.readers.clamp(1, MAX_READERS);
        config.chunk = config.chunk.clamp(1, MAX_CHUNK);
        let mut transfer = Self {
            config,
            uuid: None,
            files: Vec::new(),
            readers: Vec::new(),
            out: VecDeque::new(),
            info: InfoCollector::default(),
            dump_info: None,
        };
        transfer.retry_meta();
        transfer
    }

    /// Queues the meta request again (after [`Progress::NotReady`]).
    pub fn retry_meta(&mut self) {
        self.out.push_back(self.request(Type::RsyncMeta, 0, None));
    }

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<RsyncRequest> {
        self.out.pop_front()
    }

    /// Handles one response from the master.
    pub fn handle_response(&mut self, response: RsyncResponse) -> Result<Progress> {
        match Type::try_from(response.r#type) {
            Ok(Type::RsyncMeta) => self.on_meta(response),
            Ok(Type::RsyncFile) => self.on_file(response).map(Progress::Chunk),
            Err(_) => Err(PikaError::Unexpected {
                what: format!("rsync response type {}", response.r#type),
                state: "fetching",
            }),
        }
    }

    /// Every file has been received whole.
    pub fn is_done(&self) -> bool {
        self.uuid.is_some() && self.readers.iter().all(|r| r.current.is_none() && r.queue.is_empty())
    }

    /// The snapshot UUID, once the meta reply came.
    pub fn snapshot_uuid(&self) -> Option<&str> {
        self.uuid.as_deref()
    }

    /// The dump's files, once the meta reply came.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// The dump's `info`, once received and checked.
    pub fn dump_info(&self) -> Option<&DumpInfo> {
        self.dump_info.as_ref()
    }

    fn request(&self, kind: Type, reader: usize, file_req: Option<FileRequest>) -> RsyncRequest {
        RsyncRequest {
            r#type: kind as i32,
            reader_index: i32::try_from(reader).unwrap_or(0),
            db_name: self.config.db.clone(),
            slot_id: 0,
            file_req,
        }
    }

    fn on_meta(&mut self, response: RsyncResponse) -> Result<Progress> {
        if self.uuid.is_some() {
            return Err(PikaError::Unexpected { what: "second rsync meta reply".into(), state: "fetching" });
        }
        if response.code != StatusCode::Ok as i32 {
            return Ok(Progress::NotReady);
        }
        let names = response.meta_resp.map(|meta| meta.filenames).unwrap_or_default();
        names.iter().try_for_each(|name| check_file_name(name))?;
        let files: Vec<String> = names.into_iter().collect::<BTreeSet<_>>().into_iter().collect();
        self.readers = (0..self.config.readers).map(|_| Reader::default()).collect();
        for (n, file) in files.iter().enumerate() {
            if let Some(reader) = self.readers.get_mut(n % self.config.readers) {
                reader.queue.push_back(file.clone());
            }
        }
        for reader in 0..self.readers.len() {
            self.next_file(reader);
        }
        self.files.clone_from(&files);
        self.uuid = Some(response.snapshot_uuid.clone());
        Ok(Progress::Meta { snapshot_uuid: response.snapshot_uuid, files })
    }

    /// Starts `reader` on its next file, if it has one.
    fn next_file(&mut self, reader: usize) {
        let Some(file) = self.readers.get_mut(reader).and_then(|r| r.queue.pop_front()) else { return };
        self.ask(reader, file, 0);
    }

    fn ask(&mut self, reader: usize, file: String, offset: u64) {
        let file_req = FileRequest { filename: file.clone(), count: self.config.chunk, offset };
        let request = self.request(Type::RsyncFile, reader, Some(file_req));
        if let Some(r) = self.readers.get_mut(reader) {
            r.current = Some((file, offset));
        }
        self.out.push_back(request);
    }

    fn on_file(&mut self, response: RsyncResponse) -> Result<Chunk> {
        let file_resp = response.file_resp.unwrap_or_default();
        let what = || format!("{}@{}", file_resp.filename, file_resp.offset);
        if response.code != StatusCode::Ok as i32 {
            return Err(PikaError::RsyncRefused { what: what(), code: response.code });
        }
        let expected = self.uuid.clone().unwrap_or_default();
        if response.snapshot_uuid != expected {
            return Err(PikaError::SnapshotChanged { expected, got: response.snapshot_uuid });
        }
        let reader = self.check_outstanding(response.reader_index, &file_resp)?;
        let chunk = check_chunk(file_resp)?;
        if chunk.file == INFO_FILE {
            self.collect_info(&chunk, &expected)?;
        }
        if chunk.eof {
            self.finish_file(reader);
        } else {
            self.ask(reader, chunk.file.clone(), chunk.offset + chunk.data.len() as u64);
        }
        Ok(chunk)
    }

    /// The reader the chunk answers; it must be what that reader asked for.
    fn check_outstanding(&self, reader_index: i32, resp: &FileResponse) -> Result<usize> {
        let reader = usize::try_from(reader_index).ok().filter(|r| *r < self.readers.len());
        let current = reader.and_then(|r| self.readers.get(r)).and_then(|r| r.current.as_ref());
        match (reader, current) {
            (Some(reader), Some((file, offset))) if *file == resp.filename && *offset == resp.offset => Ok(reader),
            (_, current) => Err(PikaError::UnexpectedChunk {
                reader: reader_index,
                expected: current.map_or_else(|| "nothing".to_owned(), |(f, o)| format!("{f}@{o}")),
                got_file: resp.filename.clone(),
                got_offset: resp.offset,
            }),
        }
    }

    fn finish_file(&mut self, reader: usize) {
        if let Some(r) = self.readers.get_mut(reader) {
            r.current = None;
        }
        self.next_file(reader);
    }

    fn collect_info(&mut self, chunk: &Chunk, uuid: &str) -> Result<()> {
        self.info.push(&chunk.data)?;
        if chunk.eof {
            self.dump_info = Some(self.info.finish(uuid)?);
        }
        Ok(())
    }
}

/// The chunk's data must be `count` bytes, and a chunk that is not the end must move on.
fn check_chunk(resp: FileResponse) -> Result<Chunk> {
    let bad = |reason| PikaError::BadChunk {
        file: resp.filename.clone(),
        offset: resp.offset,
        count: resp.count,
        len: resp.data.len(),
        reason,
    };
    if resp.count != resp.data.len() as u64 {
        return Err(bad("count is not the data length"));
    }
    if resp.data.is_empty() && resp.eof == 0 {
        return Err(bad("empty chunk before the end of the file"));
    }
    Ok(Chunk { eof: resp.eof != 0, file: resp.filename, offset: resp.offset, data: resp.data })
}

/// A file name from the master must be a plain relative path (`0/000012.sst`, `info`):
/// no root, no `.`/`..`, no empty component, no backslash or NUL.
pub fn check_file_name(name: &str) -> Result<()> {
    let plain = |part: &str| !part.is_empty() && part != "." && part != ".." && !part.contains(['\\', '\0']);
    if name.split('/').all(plain) {
        Ok(())
    } else {
        Err(PikaError::BadFileName { name: name.to_owned() })
    }
}

#[cfg(test)]
mod tests;
