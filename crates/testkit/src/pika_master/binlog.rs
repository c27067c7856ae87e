//! The mock's binlog of one database: the items it holds, where each starts and ends in
//! `write2file<N>` files, and which positions a TrySync may name.
//!
//! Positions follow Pika's on-disk layout (`Binlog::Put`/`Produce`/`EmitPhysicalRecord`,
//! `src/pika_binlog.cc`), so that they are the numbers a real master would send:
//!
//! * Each item is written as physical records of an 8-byte header (`len:3 | time:4 |
//!   type:1`) plus data, in 64 KiB blocks; an item crossing a block is split (FIRST, MIDDLE,
//!   LAST), and a block tail shorter than a header is zero-filled. The capture agrees: the
//!   item of 29 content bytes at 0:5462 ends at 0:5533 = 5462 + 8 + 34 + 29.
//! * The item's 34-byte header carries the producer position *before* the write (the
//!   previous item's end) and `logic_id` = the previous one + 1 (`Binlog::Put(string)`).
//! * A file is rolled when it has grown past `binlog-file-size` (default 100 MiB), before
//!   the next item: that item then starts at `(N + 1):0` while its header still says where
//!   file N ended.
//! * The BinlogSync `binlog_offset` of an item is where it ends (the reader's position
//!   after it), with term 0 and index = its logic id.

use replicant_pika::{BinlogItem, BinlogPos, LogOffset};

/// Bytes of a binlog block (`kBlockSize`).
pub(crate) const BLOCK_SIZE: u64 = 64 << 10;
/// Bytes of a physical record header (`kHeaderSize`).
pub(crate) const RECORD_HEADER: u64 = 8;
/// `binlog-file-size` in the default pika.conf: 100 MiB.
pub const DEFAULT_BINLOG_FILE_SIZE: u64 = 100 << 20;

/// One item the mock holds.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// Where the item really starts (after a roll, `(N + 1):0`).
    pub(crate) start: BinlogPos,
    /// Where it ends, with its term and logic id: its BinlogSync `binlog_offset`.
    pub(crate) end: LogOffset,
    /// The encoded item: 34-byte header and RESP content.
    pub(crate) bytes: Vec<u8>,
}

/// What a TrySync from a position gets (`TrySyncOffsetCheck`, `src/pika_repl_server_conn.cc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// An item boundary the binlog holds (or its end).
    Ok,
    /// Past the end: `kSyncPointLarger`.
    Larger,
    /// Before what the binlog still holds: `kSyncPointBePurged`.
    Purged,
    /// Not where an item starts or ends: `kError`.
    NotBoundary,
}

/// The binlog of one database.
#[derive(Debug, Clone)]
pub(crate) struct Binlog {
    /// Where the mock's binlog starts: nothing before it is held.
    begin: BinlogPos,
    /// Positions before this are purged (at least `begin`).
    purged_before: BinlogPos,
    items: Vec<Held>,
    /// The producer position: the last item's end (or `begin`), and the last logic id.
    end: LogOffset,
    file_size: u64,
}

impl Binlog {
    /// An empty binlog at `begin`, whose next item gets logic id `last_logic_id + 1`.
    pub(crate) fn new(begin: BinlogPos, last_logic_id: u64, file_size: u64) -> Binlog {
        Binlog {
            begin,
            purged_before: begin,
            items: Vec::new(),
            end: LogOffset { pos: begin, term: 0, index: last_logic_id },
            file_size,
        }
    }

    /// The producer position (`GetProducerStatus`) with the last logic id.
    pub(crate) fn end(&self) -> LogOffset {
        self.end
    }

    pub(crate) fn items(&self) -> &[Held] {
        &self.items
    }

    /// Purges everything before `pos` (never less than the binlog's beginning).
    pub(crate) fn purge_before(&mut self, pos: BinlogPos) {
        self.purged_before = pos.max(self.begin);
    }

    /// Writes `content` (a RESP command) as the next item, executed at `exec_time`.
    pub(crate) fn append(&mut self, content: &[u8], exec_time: u32) -> LogOffset {
        self.append_with(content, exec_time, |_| {})
    }

    /// As [`append`](Self::append), with the encoded item handed to `tamper` first; the
    /// item's end follows the bytes as changed.
    pub(crate) fn append_with(
        &mut self,
        content: &[u8],
        exec_time: u32,
        tamper: impl FnOnce(&mut Vec<u8>),
    ) -> LogOffset {
        let header_pos = self.end.pos;
        let logic_id = self.end.index + 1;
        let item = BinlogItem {
            exec_time,
            term_id: 0,
            logic_id,
            filenum: header_pos.filenum,
            offset: header_pos.offset,
            content,
        };
        let mut bytes = Vec::new();
        // Only a content over 4 GiB fails to encode; the mock's never is.
        let _ = item.encode(&mut bytes);
        tamper(&mut bytes);
        let start = self.roll(header_pos);
        let end = LogOffset { pos: physical_end(start, bytes.len() as u64), term: 0, index: logic_id };
        self.items.push(Held { start, end, bytes });
        self.end = end;
        end
    }

    /// Appends an item encoded elsewhere (a capture's) that ended at `end`; `Err` says why
    /// it does not follow this binlog's layout.
    pub(crate) fn append_encoded(&mut self, bytes: Vec<u8>, end: LogOffset) -> Result<(), String> {
        let item = BinlogItem::decode(&bytes).map_err(|e| e.to_string())?;
        if item.start() != self.end.pos || item.logic_id != self.end.index + 1 {
            return Err(format!(
                "item {} (header {}) does not follow the binlog's end {}",
                item.logic_id,
                item.start(),
                self.end
            ));
        }
        let start = self.roll(item.start());
        let expected = physical_end(start, bytes.len() as u64);
        if expected != end.pos || end.index != item.logic_id {
            return Err(format!("item {} ends at {end}, the layout says {expected}", item.logic_id));
        }
        self.items.push(Held { start, end, bytes });
        self.end = end;
        Ok(())
    }

    /// Where the next item really starts: `header_pos`, or the next file once this one has
    /// grown past the file size.
    fn roll(&self, header_pos: BinlogPos) -> BinlogPos {
        if header_pos.offset > self.file_size {
            BinlogPos::new(header_pos.filenum + 1, 0)
        } else {
            header_pos
        }
    }

    /// What a TrySync from `pos` gets, checked in Pika's order.
    pub(crate) fn check(&self, pos: BinlogPos) -> Check {
        if pos > self.end.pos {
            Check::Larger
        } else if pos < self.purged_before {
            Check::Purged
        } else if pos == self.end.pos || self.items.iter().any(|it| it.start == pos || it.end.pos == pos) {
            Check::Ok
        } else {
            Check::NotBoundary
        }
    }

    /// The index of the first item that starts at or after `pos`.
    pub(crate) fn first_from(&self, pos: BinlogPos) -> usize {
        self.items.partition_point(|it| it.start < pos)
    }
}

/// Where an item of `len` encoded bytes written at `start` ends, records and padding
/// included (`Binlog::Produce`).
pub(crate) fn physical_end(start: BinlogPos, len: u64) -> BinlogPos {
    let mut offset = start.offset;
    let mut block = offset % BLOCK_SIZE;
    let mut left = len;
    loop {
        if BLOCK_SIZE - block < RECORD_HEADER {
            offset += BLOCK_SIZE - block;
            block = 0;
        }
        let fragment = left.min(BLOCK_SIZE - block - RECORD_HEADER);
        offset += RECORD_HEADER + fragment;
        block += RECORD_HEADER + fragment;
        left -= fragment;
        if left == 0 {
            return BinlogPos::new(start.filenum, offset);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nw:a\r\n$1\r\n1\r\n";

    #[test]
    fn positions_follow_pika_s_layout() {
        // The capture's first live write: 0:5462, 29 content bytes, ends at 0:5533.
        let mut log = Binlog::new(BinlogPos::new(0, 5462), 56, DEFAULT_BINLOG_FILE_SIZE);
        let end = log.append(SET, 1_796_660_611);
        assert_eq!(end, LogOffset { pos: BinlogPos::new(0, 5533), term: 0, index: 57 });
        let item = BinlogItem::decode(&log.items()[0].bytes).unwrap();
        assert_eq!((item.start(), item.logic_id, item.exec_time), (BinlogPos::new(0, 5462), 57, 1_796_660_611));
        // An item crossing a block: two records; a tail shorter than a header is skipped.
        assert_eq!(physical_end(BinlogPos::new(0, 65_500), 100), BinlogPos::new(0, 65_500 + 8 + 100 + 8));
        assert_eq!(physical_end(BinlogPos::new(0, 65_530), 10), BinlogPos::new(0, 65_536 + 8 + 10));
        assert_eq!(physical_end(BinlogPos::new(3, 0), 3 * BLOCK_SIZE), BinlogPos::new(3, 3 * BLOCK_SIZE + 4 * 8));
    }

    #[test]
    fn files_roll_after_the_size_and_headers_keep_the_old_end() {
        let mut log = Binlog::new(BinlogPos::new(0, 0), 0, 100);
        let first = log.append(SET, 1);
        let second = log.append(SET, 1);
        assert_eq!((first.pos, second.pos), (BinlogPos::new(0, 71), BinlogPos::new(0, 142)));
        let third = log.append(SET, 1);
        assert_eq!(third.pos, BinlogPos::new(1, 71));
        let held = &log.items()[2];
        assert_eq!(held.start, BinlogPos::new(1, 0));
        assert_eq!(BinlogItem::decode(&held.bytes).unwrap().start(), BinlogPos::new(0, 142));
        assert_eq!(log.first_from(BinlogPos::new(0, 142)), 2);
        assert_eq!(log.check(BinlogPos::new(0, 142)), Check::Ok);
        assert_eq!(log.check(BinlogPos::new(1, 0)), Check::Ok);
    }

    #[test]
    fn try_sync_checks_in_pika_s_order() {
        let mut log = Binlog::new(BinlogPos::new(0, 100), 0, DEFAULT_BINLOG_FILE_SIZE);
        log.append(SET, 1);
        log.append(SET, 1);
        assert_eq!(log.check(BinlogPos::new(0, 100)), Check::Ok);
        assert_eq!(log.check(BinlogPos::new(0, 171)), Check::Ok);
        assert_eq!(log.check(BinlogPos::new(0, 242)), Check::Ok);
        assert_eq!(log.check(BinlogPos::new(0, 243)), Check::Larger);
        assert_eq!(log.check(BinlogPos::new(1, 0)), Check::Larger);
        assert_eq!(log.check(BinlogPos::new(0, 99)), Check::Purged);
        assert_eq!(log.check(BinlogPos::new(0, 150)), Check::NotBoundary);
        log.purge_before(BinlogPos::new(0, 171));
        assert_eq!(log.check(BinlogPos::new(0, 100)), Check::Purged);
        assert_eq!(log.first_from(BinlogPos::new(0, 171)), 1);
        let mut copy = Binlog::new(BinlogPos::new(0, 100), 0, DEFAULT_BINLOG_FILE_SIZE);
        for held in log.items() {
            copy.append_encoded(held.bytes.clone(), held.end).unwrap();
        }
        let wrong = copy.append_encoded(log.items()[0].bytes.clone(), log.items()[0].end).unwrap_err();
        assert!(wrong.contains("does not follow"), "{wrong}");
    }
}
