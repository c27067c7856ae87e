//! RocksDB WAL files (`NNNNNN.log`), as a Kvrocks checkpoint may hold them when the master
//! was small or idle: the physical record framing, yielding each logical record, which is
//! a WriteBatch rep for [`crate::Batch`] / [`crate::Update`].
//!
//! Layout (`db/log_format.h`, `db/log_writer.cc`): the file is cut in 32 KiB blocks; a
//! record never straddles a block but is fragmented (FIRST, MIDDLE..., LAST) when it does
//! not fit. Each fragment has a header:
//!
//! ```text
//! legacy     := crc32c-masked:u32 LE | len:u16 LE | type:u8               (types 1-4, 9, 10, 130)
//! recyclable := crc32c-masked:u32 LE | len:u16 LE | type:u8 | log:u32 LE (types 5-8, 11, 131)
//! ```
//!
//! The checksum covers the type byte, the log number (recyclable) and the payload. A block
//! tail shorter than a header is zero padding. Metadata records (timestamp sizes,
//! predecessor-WAL info) are skipped; a compression record other than "none" is an error
//! since compressed WALs are not supported here. A recycled file ends where the log number
//! changes, and a preallocated one at its first zero header. A record cut short by the end
//! of the file (a crash or a copy taken mid-write) is a `Truncated` error, which the caller
//! may treat as the end, as RocksDB's point-in-time recovery does.

use std::borrow::Cow;

use crc::{Crc, CRC_32_ISCSI};

use crate::cursor::Cursor;
use crate::error::{KvrocksError, Result};

/// WAL block size.
pub const BLOCK_SIZE: usize = 32 * 1024;
const HEADER_LEN: usize = 7;
const MASK_DELTA: u32 = 0xa282_ead8;
const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// A physical record's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Full,
    First,
    Middle,
    Last,
    /// Skipped metadata.
    Meta,
    /// `kSetCompressionType`.
    Compression,
}

/// One logical WAL record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord<'a> {
    /// Offset of its first fragment's header in the file.
    pub offset: usize,
    /// The payload: borrowed when whole, joined when it was fragmented.
    pub payload: Cow<'a, [u8]>,
}

/// Iterator over the logical records of a WAL file held in memory.
#[derive(Debug, Clone)]
pub struct WalReader<'a> {
    file: &'a [u8],
    pos: usize,
    log_number: Option<u32>,
    pending: Option<(usize, Vec<u8>)>,
    done: bool,
}

impl<'a> WalReader<'a> {
    /// Reads `file`, the whole content of a `.log` file.
    pub fn new(file: &'a [u8]) -> Self {
        Self { file, pos: 0, log_number: None, pending: None, done: false }
    }

    /// The next logical record, `Ok(None)` at the end.
    fn read(&mut self) -> Result<Option<WalRecord<'a>>> {
        loop {
            let Some((offset, kind, payload)) = self.physical()? else {
                return match self.pending.take() {
                    Some((offset, _)) => {
                        Err(KvrocksError::Malformed { what: "WAL record (FIRST without LAST)", offset })
                    }
                    None => Ok(None),
                };
            };
            match (kind, self.pending.as_mut()) {
                (Kind::Meta, _) => {}
                (Kind::Compression, _) => {
                    if payload.first().copied().unwrap_or(0) != 0 {
                        return Err(KvrocksError::Malformed {
                            what: "WAL compression (compressed WALs unsupported)",
                            offset,
                        });
                    }
                }
                (Kind::Full, None) => return Ok(Some(WalRecord { offset, payload: Cow::Borrowed(payload) })),
                (Kind::First, None) => self.pending = Some((offset, payload.to_vec())),
                (Kind::Middle, Some((_, joined))) => joined.extend_from_slice(payload),
                (Kind::Last, Some(_)) => {
                    if let Some((first, mut joined)) = self.pending.take() {
                        joined.extend_from_slice(payload);
                        return Ok(Some(WalRecord { offset: first, payload: Cow::Owned(joined) }));
                    }
                }
                _ => return Err(KvrocksError::Malformed { what: "WAL fragment out of order", offset }),
            }
        }
    }

    /// The next physical record: offset, kind and payload; `None` at the end.
    fn physical(&mut self) -> Result<Option<(usize, Kind, &'a [u8])>> {
        let left_in_block = BLOCK_SIZE - self.pos % BLOCK_SIZE;
        if left_in_block < HEADER_LEN {
            self.pos += left_in_block; // zero trailer
        }
        if self.pos >= self.file.len() {
            return Ok(None);
        }
        let offset = self.pos;
        let mut c = Cursor::at(self.file, offset);
        let stored = unmask(c.u32_le("WAL record checksum")?);
        let len = usize::from(c.u16_le("WAL record length")?);
        let record_type = c.u8("WAL record type")?;
        if record_type == 0 && len == 0 {
            return Ok(None); // preallocated, never written
        }
        let recyclable = matches!(record_type, 5..=8 | 11 | 131);
        let log_number = if recyclable { Some(c.u32_le("WAL log number")?) } else { None };
        let header_len = c.offset() - offset;
        let covered = self.file.get(offset + 6..offset + header_len).unwrap_or_default();
        let payload = c.bytes(len, "WAL record payload")?;
        if offset % BLOCK_SIZE + header_len + len > BLOCK_SIZE {
            return Err(KvrocksError::Malformed { what: "WAL record (crosses a block boundary)", offset });
        }
        let mut digest = CRC32C.digest();
        digest.update(covered);
        digest.update(payload);
        let computed = digest.finalize();
        if computed != stored {
            return Err(KvrocksError::WalChecksum { offset, stored, computed });
        }
        self.pos = c.offset();
        if let Some(number) = log_number {
            if *self.log_number.get_or_insert(number) != number {
                return Ok(None); // left-over of the file's previous use
            }
        }
        Ok(Some((offset, kind_of(record_type, offset)?, payload)))
    }
}

fn kind_of(record_type: u8, offset: usize) -> Result<Kind> {
    Ok(match record_type {
        1 | 5 => Kind::Full,
        2 | 6 => Kind::First,
        3 | 7 => Kind::Middle,
        4 | 8 => Kind::Last,
        9 => Kind::Compression,
        10 | 11 => Kind::Meta,
        // kRecordTypeSafeIgnoreMask: newer metadata an older reader may skip.
        t if t & 0x80 != 0 => Kind::Meta,
        _ => return Err(KvrocksError::Malformed { what: "WAL record type (unknown)", offset: offset + 6 }),
    })
}

impl<'a> Iterator for WalReader<'a> {
    type Item = Result<WalRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.read().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

fn unmask(masked: u32) -> u32 {
    let rot = masked.wrapping_sub(MASK_DELTA);
    rot.rotate_left(15)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mask(crc: u32) -> u32 {
        crc.rotate_right(15).wrapping_add(MASK_DELTA)
    }

    /// Appends one legacy physical record.
    pub(crate) fn push(file: &mut Vec<u8>, record_type: u8, payload: &[u8]) {
        let mut digest = CRC32C.digest();
        digest.update(&[record_type]);
        digest.update(payload);
        file.extend_from_slice(&mask(digest.finalize()).to_le_bytes());
        file.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        file.push(record_type);
        file.extend_from_slice(payload);
    }

    #[test]
    fn mask_round_trip() {
        for crc in [0, 1, 0xdead_beef, u32::MAX] {
            assert_eq!(unmask(mask(crc)), crc);
        }
    }

    #[test]
    fn full_and_fragmented_records() {
        let mut file = Vec::new();
        push(&mut file, 1, b"one");
        push(&mut file, 10, b"\x00\x00\x00\x00\x08\x00"); // timestamp sizes: skipped
        push(&mut file, 2, b"tw");
        push(&mut file, 3, b"o-");
        push(&mut file, 4, b"parts");
        let records: Vec<_> = WalReader::new(&file).map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0], WalRecord { offset: 0, payload: Cow::Borrowed(b"one") });
        assert_eq!(&*records[1].payload, b"two-parts");
        assert_eq!(records[1].offset, 10 + 13);
    }

    #[test]
    fn block_trailer_is_skipped() {
        let mut file = Vec::new();
        push(&mut file, 1, &vec![b'x'; BLOCK_SIZE - HEADER_LEN - 3]);
        file.extend_from_slice(&[0; 3]);
        push(&mut file, 1, b"next");
        let records: Vec<_> = WalReader::new(&file).map(Result::unwrap).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].offset, BLOCK_SIZE);
    }

    #[test]
    fn corruption_and_truncation() {
        let mut file = Vec::new();
        push(&mut file, 1, b"payload");
        let mut bad = file.clone();
        bad[8] ^= 1;
        assert!(matches!(WalReader::new(&bad).next(), Some(Err(KvrocksError::WalChecksum { offset: 0, .. }))));
        let cut = &file[..file.len() - 1];
        assert!(matches!(WalReader::new(cut).next(), Some(Err(KvrocksError::Truncated { .. }))));
        let mut orphan = Vec::new();
        push(&mut orphan, 3, b"middle");
        assert!(matches!(WalReader::new(&orphan).next(), Some(Err(KvrocksError::Malformed { .. }))));
        let mut compressed = Vec::new();
        push(&mut compressed, 9, b"\x07");
        assert!(WalReader::new(&compressed).next().unwrap().is_err());
        let mut preallocated = Vec::new();
        push(&mut preallocated, 1, b"a");
        preallocated.extend_from_slice(&[0; 64]);
        assert_eq!(WalReader::new(&preallocated).count(), 1);
    }
}
