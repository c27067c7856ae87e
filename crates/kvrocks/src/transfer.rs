//! The full-sync transfer, sans-IO: the reply to `_fetch_meta` (a raw line naming the
//! files of the checkpoint the master just made, or an error line) and the reply to
//! `_fetch_file a,b,c` (for each file in order, `<size>\r\n` then exactly that many raw
//! bytes, no trailing CRLF; `CommandFetchMeta`/`CommandFetchFile` in Kvrocks'
//! `src/commands/cmd_replication.cc`). File bytes are handed out as they arrive, so a
//! checkpoint of any size goes to disk without being held in memory.

use crate::error::{KvrocksError, Result};

/// Longest line accepted before its CRLF (a file list of thousands of SSTs fits).
const MAX_LINE: usize = 1 << 20;

/// What the master answered to `_fetch_meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaReply {
    /// The checkpoint's file names, in the master's order.
    Files(Vec<String>),
    /// An error line (`-can't create db checkpoint`, `-NOAUTH …`), without the `-`.
    Error(String),
}

/// Reads the `_fetch_meta` reply from the start of `buf`: `Ok(None)` until its line is
/// complete, else the reply and the bytes it took.
pub fn parse_meta(buf: &[u8]) -> Result<Option<(MetaReply, usize)>> {
    let Some(end) = line_end(buf, "_fetch_meta reply")? else { return Ok(None) };
    let line = buf.get(..end).unwrap_or_default();
    let used = end + 2;
    if let Some(error) = line.strip_prefix(b"-") {
        return Ok(Some((MetaReply::Error(String::from_utf8_lossy(error).into_owned()), used)));
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| KvrocksError::Malformed { what: "_fetch_meta file list (not UTF-8)", offset: 0 })?;
    let files: Vec<String> = text.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect();
    if files.iter().any(|n| !is_plain_name(n)) {
        return Err(KvrocksError::Malformed { what: "_fetch_meta file name (not a plain file name)", offset: 0 });
    }
    Ok(Some((MetaReply::Files(files), used)))
}

/// A file name a checkpoint may hold: no path separators, no `..`, printable ASCII.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\')
}

/// One step of a `_fetch_file` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEvent<'a> {
    /// File `index` of the requested list starts; `size` bytes follow.
    Start {
        /// Its position in the requested list.
        index: usize,
        /// Its size, as the master announced it.
        size: u64,
    },
    /// The next bytes of the current file.
    Data(&'a [u8]),
    /// The current file is complete.
    End,
}

/// Splits a `_fetch_file` reply into files.
#[derive(Debug, Clone)]
pub struct FileReceiver {
    files: usize,
    index: usize,
    /// Bytes of the current file still to come; `None` between files.
    remaining: Option<u64>,
    /// Bytes of the reply taken so far (for error offsets).
    taken: u64,
}

impl FileReceiver {
    /// A receiver for a request naming `files` files.
    pub fn new(files: usize) -> Self {
        FileReceiver { files, index: 0, remaining: None, taken: 0 }
    }

    /// Whether every requested file was received whole.
    pub fn is_done(&self) -> bool {
        self.index == self.files && self.remaining.is_none()
    }

    /// The file being received, or the next one.
    pub fn current(&self) -> usize {
        self.index
    }

    /// Reads the next step from the start of `buf`: `Ok(None)` when more bytes are needed
    /// (or every file is done), else the step and the bytes it took.
    pub fn feed<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(FileEvent<'a>, usize)>> {
        match self.remaining {
            Some(0) => {
                self.remaining = None;
                self.index += 1;
                Ok(Some((FileEvent::End, 0)))
            }
            Some(left) => {
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                if take == 0 {
                    return Ok(None);
                }
                self.remaining = Some(left - take as u64);
                self.taken += take as u64;
                Ok(Some((FileEvent::Data(buf.get(..take).unwrap_or_default()), take)))
            }
            None if self.index == self.files => Ok(None),
            None => self.header(buf),
        }
    }

    fn header<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(FileEvent<'a>, usize)>> {
        let offset = usize::try_from(self.taken).unwrap_or(usize::MAX);
        let Some(end) = line_end(buf, "_fetch_file size line")? else { return Ok(None) };
        let line = buf.get(..end).unwrap_or_default();
        if line.first() == Some(&b'-') {
            return Err(KvrocksError::Malformed { what: "_fetch_file reply (the master sent an error)", offset });
        }
        let size = crate::log_data::parse_decimal(line)
            .ok_or(KvrocksError::Malformed { what: "_fetch_file size line (expected <digits>)", offset })?;
        self.remaining = Some(size);
        self.taken += (end + 2) as u64;
        Ok(Some((FileEvent::Start { index: self.index, size }, end + 2)))
    }
}

/// The position of the first CRLF in `buf`, `None` if not buffered yet.
fn line_end(buf: &[u8], what: &'static str) -> Result<Option<usize>> {
    let window = buf.get(..buf.len().min(MAX_LINE + 2)).unwrap_or(buf);
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(pos) => Ok(Some(pos)),
        None if buf.len() > MAX_LINE + 1 => Err(KvrocksError::Malformed { what, offset: 0 }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_meta_reply_lists_plain_file_names_or_says_why_not() {
        let reply = b"OPTIONS-000013,MANIFEST-000011,CURRENT,000010.log\r\n";
        for cut in 0..reply.len() {
            assert_eq!(parse_meta(&reply[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (meta, used) = parse_meta(reply).unwrap().unwrap();
        assert_eq!(used, reply.len());
        let names = ["OPTIONS-000013", "MANIFEST-000011", "CURRENT", "000010.log"].map(String::from).to_vec();
        assert_eq!(meta, MetaReply::Files(names));
        let (error, _) = parse_meta(b"-can't create db checkpoint\r\n").unwrap().unwrap();
        assert_eq!(error, MetaReply::Error("can't create db checkpoint".into()));
        assert!(parse_meta(b"../../etc/passwd\r\n").is_err());
        assert!(parse_meta(b"a,/abs\r\n").is_err());
    }

    /// Feeds `reply` in pieces of `step` bytes; the files it held.
    fn receive(reply: &[u8], files: usize, step: usize) -> Vec<Vec<u8>> {
        let mut rx = FileReceiver::new(files);
        let (mut out, mut buf, mut fed) = (Vec::new(), Vec::new(), 0);
        loop {
            match rx.feed(&buf).unwrap() {
                Some((event, used)) => {
                    match event {
                        FileEvent::Start { index, .. } => {
                            assert_eq!(index, out.len());
                            out.push(Vec::new());
                        }
                        FileEvent::Data(d) => out.last_mut().unwrap().extend_from_slice(d),
                        FileEvent::End => {}
                    }
                    buf.drain(..used);
                }
                None if fed < reply.len() => {
                    let end = (fed + step).min(reply.len());
                    buf.extend_from_slice(&reply[fed..end]);
                    fed = end;
                }
                None => break,
            }
        }
        assert!(rx.is_done() && buf.is_empty());
        out
    }

    #[test]
    fn files_are_split_at_their_sizes_however_the_bytes_arrive() {
        let reply = b"5\r\nhello0\r\n3\r\n\r\n\r";
        for step in [1, 2, 3, 7, 100] {
            assert_eq!(receive(reply, 3, step), [b"hello".to_vec(), Vec::new(), b"\r\n\r".to_vec()], "step {step}");
        }
    }

    #[test]
    fn a_bad_size_line_is_an_error_with_its_offset() {
        let mut rx = FileReceiver::new(2);
        let (_, used) = rx.feed(b"1\r\nx").unwrap().unwrap();
        assert_eq!(used, 3);
        rx.feed(b"x").unwrap();
        rx.feed(b"").unwrap();
        let e = rx.feed(b"abc\r\n").unwrap_err().to_string();
        assert!(e.contains("size line") && e.contains("offset 4"), "{e}");
        assert!(FileReceiver::new(1).feed(b"-ERR no such file\r\n").is_err());
    }
}
