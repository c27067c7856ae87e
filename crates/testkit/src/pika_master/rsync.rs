//! The RsyncService port (master port + 10001): the dump's file list and its files by
//! offset, as `RsyncServerConn::Handle{Meta,File}RsyncRequest` (`src/rsync_server.cc`)
//! answer, and the faults a test can arm.
//!
//! * Meta → the dump's files (`DB::GetBgSaveMetaData`, `src/pika_db.cc`: Pika 4.x lists
//!   each instance directory `0/`, `1/`, … up to `db-instance-num`; Pika 3.5.x the type
//!   directories `strings/`, `hashes/`, `lists/`, `zsets/`, `sets/` in that order, never
//!   `streams/`, although its bgsave writes one; each directory's files in directory order,
//!   a missing directory skipped, then `info`) and the snapshot UUID, the MD5 of `info`;
//!   `kErr` with an empty UUID for an unknown database, a database without a dump, or
//!   while [`meta_not_ready`](super::MockPika::meta_not_ready) lasts (Pika: bgsave running).
//!   The `info` file is served as the dump directory holds it: 3.5.x and 4.0.1 both write
//!   five lines, `<secs>s`, host, port, binlog filenum, offset (`DB::DoBgSave`).
//! * File → `count` bytes at `offset` (never past a 16 MiB read-ahead block, as
//!   `RsyncReader::Read`), `eof` when the chunk ends the file, `checksum` empty, the UUID
//!   again; `kErr` for a file the dump does not hold or an offset past its end.
//! * Faults: [`corrupt_uuid_once`](super::MockPika::corrupt_uuid_once) sends one file
//!   chunk with another UUID; [`cut_transfer_after`](super::MockPika::cut_transfer_after)
//!   closes the connection in the middle of the chunk that takes the file bytes served past
//!   the limit (once).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use replicant_pika::proto::rsync::{FileResponse, MetaResponse, RsyncRequest, RsyncResponse, StatusCode, Type};

use super::wire::{decode_rsync_request, encode_rsync_response, read_some, split_frame, write_all};
use super::{lock, md5, Conn, Shared, POLL};

/// `RsyncReader`'s read-ahead block: no chunk crosses one.
const READ_BLOCK: u64 = 16 << 20;

/// `kMaxRsyncParallelNum`: the readers a connection has.
const READERS: i32 = 4;

/// The UUID a corrupted chunk carries.
pub(crate) const WRONG_UUID: &str = "00000000000000000000000000000000";

/// The directories 3.5.x's `DB::GetBgSaveMetaData` lists, in its order (`streams` is not
/// among them).
pub(crate) const V35_LISTED: [&str; 5] = ["strings", "hashes", "lists", "zsets", "sets"];

/// Which Pika's dump layout the RsyncService lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Pika 4.x: instance directories `0/` … `instances - 1/`.
    V4 {
        /// `db-instance-num`.
        instances: i32,
    },
    /// Pika 3.5.x: the type directories of [`V35_LISTED`].
    V35,
}

/// Where a database's dump comes from.
#[derive(Debug, Clone)]
pub(crate) enum Dump {
    /// A directory with `info` and instance directories `0/`, `1/`, … (read on request).
    Dir(PathBuf),
    /// Files held in memory, in listing order, and their UUID (a capture's).
    Memory { uuid: String, files: Vec<(String, Vec<u8>)> },
}

impl Dump {
    /// Whether this is a directory in Pika 3.5's layout (`strings/` and no instance `0/`).
    pub(crate) fn is_v35_dir(&self) -> bool {
        matches!(self, Dump::Dir(dir) if dir.join("strings").is_dir() && !dir.join("0").is_dir())
    }

    /// The file list and UUID, as a master of `layout` lists them; `None` when there is
    /// nothing to serve.
    fn meta(&self, layout: Layout) -> Option<(Vec<String>, String)> {
        match self {
            Dump::Memory { uuid, files } => Some((files.iter().map(|(n, _)| n.clone()).collect(), uuid.clone())),
            Dump::Dir(dir) => {
                let info = std::fs::read(dir.join("info")).ok()?;
                let listed: Vec<String> = match layout {
                    Layout::V4 { instances } => (0..instances).map(|index| index.to_string()).collect(),
                    Layout::V35 => V35_LISTED.iter().map(|name| (*name).to_owned()).collect(),
                };
                let mut names = Vec::new();
                for sub in listed {
                    let Ok(entries) = std::fs::read_dir(dir.join(&sub)) else { continue };
                    names.extend(entries.filter_map(|e| Some(format!("{sub}/{}", e.ok()?.file_name().to_str()?))));
                }
                names.push("info".to_owned());
                Some((names, md5::hex(&info)))
            }
        }
    }

    /// Up to `count` bytes of `name` at `offset`, and whether they end the file.
    fn read(&self, name: &str, offset: u64, count: u64) -> Result<(Vec<u8>, bool), String> {
        let count = count.min(READ_BLOCK - offset % READ_BLOCK);
        match self {
            Dump::Memory { files, .. } => {
                let (_, data) = files.iter().find(|(n, _)| n == name).ok_or_else(|| format!("no file {name}"))?;
                let size = data.len() as u64;
                if offset > size {
                    return Err(format!("offset {offset} past the end of {name} ({size} bytes)"));
                }
                let end = size.min(offset + count);
                Ok((data[offset as usize..end as usize].to_vec(), end == size))
            }
            Dump::Dir(dir) => {
                let path = safe_path(dir, name).ok_or_else(|| format!("no file {name}"))?;
                let mut file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let size = file.metadata().map_err(|e| e.to_string())?.len();
                if offset > size {
                    return Err(format!("offset {offset} past the end of {name} ({size} bytes)"));
                }
                let mut data = Vec::new();
                file.seek(SeekFrom::Start(offset)).map_err(|e| e.to_string())?;
                file.take(count).read_to_end(&mut data).map_err(|e| e.to_string())?;
                let end = offset + data.len() as u64;
                Ok((data, end == size))
            }
        }
    }
}

/// `name` under `dir` when it is a plain relative path.
fn safe_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let plain = |part: &str| !part.is_empty() && part != "." && part != "..";
    name.split('/').all(plain).then(|| dir.join(name)).filter(|p| p.is_file())
}

/// The faults a test arms on the RsyncService.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    pub(crate) corrupt_uuid: bool,
    /// Close the connection once this many file bytes were served.
    pub(crate) cut_after: Option<u64>,
    /// Answer this many more meta requests with `kErr`.
    pub(crate) meta_not_ready: u32,
    /// File bytes served so far, on every connection.
    pub(crate) served: u64,
}

/// Serves one connection until it closes, the mock stops or a cut fault fires.
pub(super) fn serve(shared: &Arc<Shared>, conn: &Arc<Conn>, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(POLL));
    let alive = || !shared.stopped() && !conn.is_closed();
    let mut input = Vec::new();
    while alive() {
        match read_some(&mut stream, &mut input) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        loop {
            let request = match split_frame(&mut input).and_then(|f| f.map(|f| decode_rsync_request(&f)).transpose()) {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(e) => {
                    shared.note(format!("rsync {}: {e}, closing", conn.id));
                    return;
                }
            };
            let (frame, cut) = match answer(shared, conn, &request) {
                Reply::Send(frame, cut) => (frame, cut),
                Reply::Nothing => continue,
                Reply::Close => return,
            };
            let out = cut.map_or(&frame[..], |at| &frame[..at.min(frame.len())]);
            if write_all(&mut stream, out, alive).is_err() || cut.is_some() {
                return;
            }
        }
    }
}

/// What to do about a request.
enum Reply {
    /// Send this frame, or its first bytes and close.
    Send(Vec<u8>, Option<usize>),
    /// Nothing (Pika logs "Invalid RsyncRequest type").
    Nothing,
    /// Close the connection.
    Close,
}

/// The answer to `request`.
fn answer(shared: &Shared, conn: &Conn, request: &RsyncRequest) -> Reply {
    let file_req = request.file_req.clone().unwrap_or_default();
    let kind = Type::try_from(request.r#type);
    shared.request(match kind {
        Ok(Type::RsyncMeta) => format!("RsyncMeta {} reader {}", request.db_name, request.reader_index),
        _ => format!(
            "RsyncFile {} reader {} {} offset {} count {}",
            request.db_name, request.reader_index, file_req.filename, file_req.offset, file_req.count
        ),
    });
    let mut response = RsyncResponse {
        r#type: request.r#type,
        reader_index: request.reader_index,
        snapshot_uuid: String::new(),
        db_name: request.db_name.clone(),
        slot_id: 0,
        code: StatusCode::Ok as i32,
        meta_resp: None,
        file_resp: None,
    };
    let dump = shared.dumps.get(&request.db_name).filter(|_| shared.settings.dbs.contains(&request.db_name));
    let meta = dump.and_then(|d| d.meta(shared.settings.layout()));
    let mut faults = lock(&shared.faults);
    match kind {
        Ok(Type::RsyncMeta) => {
            let ready = faults.meta_not_ready == 0;
            faults.meta_not_ready = faults.meta_not_ready.saturating_sub(1);
            match meta.filter(|_| ready) {
                Some((filenames, uuid)) => {
                    shared.note(format!(
                        "rsync {}: meta of {}: {} files, uuid {uuid}",
                        conn.id,
                        request.db_name,
                        filenames.len()
                    ));
                    response.snapshot_uuid = uuid;
                    response.meta_resp = Some(MetaResponse { filenames });
                }
                None => {
                    shared.note(format!("rsync {}: meta of {}: not ready (kErr)", conn.id, request.db_name));
                    response.code = StatusCode::Err as i32;
                }
            }
            Reply::Send(encode_rsync_response(&response), None)
        }
        Ok(Type::RsyncFile) if (0..READERS).contains(&request.reader_index) => {
            let Some((dump, (_, uuid))) = dump.zip(meta) else {
                response.code = StatusCode::Err as i32;
                return Reply::Send(encode_rsync_response(&response), None);
            };
            response.snapshot_uuid = uuid;
            match dump.read(&file_req.filename, file_req.offset, file_req.count) {
                Err(e) => {
                    shared.note(format!("rsync {}: {e} (kErr)", conn.id));
                    response.code = StatusCode::Err as i32;
                }
                Ok((data, eof)) => {
                    if std::mem::take(&mut faults.corrupt_uuid) {
                        shared.note(format!(
                            "rsync {}: fault: chunk of {} with uuid {WRONG_UUID}",
                            conn.id, file_req.filename
                        ));
                        response.snapshot_uuid = WRONG_UUID.to_owned();
                    }
                    faults.served += data.len() as u64;
                    response.file_resp = Some(FileResponse {
                        eof: i32::from(eof),
                        count: data.len() as u64,
                        offset: file_req.offset,
                        data: data.into(),
                        checksum: String::new(),
                        filename: file_req.filename.clone(),
                    });
                }
            }
            let frame = encode_rsync_response(&response);
            let cut = match faults.cut_after {
                Some(limit) if faults.served > limit => {
                    faults.cut_after = None;
                    let over = usize::try_from(faults.served - limit).unwrap_or(usize::MAX);
                    let at = frame.len().saturating_sub(over).max(1);
                    shared.note(format!(
                        "rsync {}: fault: cut after {limit} file bytes, {at} of {} sent",
                        conn.id,
                        frame.len()
                    ));
                    Some(at)
                }
                _ => None,
            };
            Reply::Send(frame, cut)
        }
        Ok(Type::RsyncFile) => {
            shared.note(format!("rsync {}: reader index {} out of range, closing", conn.id, request.reader_index));
            Reply::Close
        }
        Err(_) => {
            shared.note(format!("rsync {}: invalid request type {}", conn.id, request.r#type));
            Reply::Nothing
        }
    }
}
