//! Binlog items, the `binlog` bytes of a BinlogSync response, as Pika 3.5/4.x encode them
//! (`PikaBinlogTransverter::BinlogEncode`, `src/pika_binlog_transverter.cc`): a 34-byte
//! little-endian header then the RESP command.
//!
//! ```text
//! type:u16 (1 = TypeFirst) | exec_time:u32 | term_id:u32 | logic_id:u64 |
//! filenum:u32 | offset:u64 | content_len:u32 | content (content_len bytes)
//! ```
//!
//! `filenum`/`offset` are where the item *starts* in the master's binlog; the response's
//! `binlog_offset` is where it ends. Filler items (`padding`, `dummy`) are recognised so
//! callers can skip them.

use crate::error::{PikaError, Result};
use crate::position::BinlogPos;
use crate::resp::parse_command;

/// Bytes of an item header (`BINLOG_ENCODE_LEN`).
pub const ITEM_HEADER_LEN: usize = 34;

/// The only item type Pika writes (`TypeFirst`).
pub const TYPE_FIRST: u16 = 1;

/// One binlog item, borrowing its content from the response buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinlogItem<'a> {
    /// Unix seconds when the master executed the command (0 in padding items).
    pub exec_time: u32,
    /// Consensus term.
    pub term_id: u32,
    /// The item's logic index in the master's binlog.
    pub logic_id: u64,
    /// Binlog file where the item starts.
    pub filenum: u32,
    /// Offset in that file where the item starts.
    pub offset: u64,
    /// The RESP-encoded command.
    pub content: &'a [u8],
}

/// What an item carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload<'a> {
    /// A command to replay: its arguments, name first.
    Command(Vec<&'a [u8]>),
    /// A `padding` or `dummy` item: nothing to replay.
    Filler(Filler),
}

/// The kinds of filler item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filler {
    /// `padding <stars>` (`ConstructPaddingBinlog`), written to fill a binlog block.
    Padding,
    /// `dummy` (`DummyCmd`, `kCmdDummy`).
    Dummy,
}

impl<'a> BinlogItem<'a> {
    /// Decodes an item; the content length must account for every byte after the header.
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        let (header, content) = buf
            .split_first_chunk::<ITEM_HEADER_LEN>()
            .ok_or(PikaError::ItemTooShort { len: buf.len(), header: ITEM_HEADER_LEN })?;
        let found = u16::from_le_bytes(field(header, 0));
        if found != TYPE_FIRST {
            return Err(PikaError::ItemType { found });
        }
        let declared = u32::from_le_bytes(field(header, 30));
        if usize::try_from(declared).ok() != Some(content.len()) {
            return Err(PikaError::ItemLength { declared, actual: content.len() });
        }
        Ok(Self {
            exec_time: u32::from_le_bytes(field(header, 2)),
            term_id: u32::from_le_bytes(field(header, 6)),
            logic_id: u64::from_le_bytes(field(header, 10)),
            filenum: u32::from_le_bytes(field(header, 18)),
            offset: u64::from_le_bytes(field(header, 22)),
            content,
        })
    }

    /// Appends the encoded item to `out` (Pika's layout; for tests and mock masters).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let len = u32::try_from(self.content.len())
            .map_err(|_| PikaError::ItemLength { declared: u32::MAX, actual: self.content.len() })?;
        out.reserve(ITEM_HEADER_LEN + self.content.len());
        out.extend_from_slice(&TYPE_FIRST.to_le_bytes());
        out.extend_from_slice(&self.exec_time.to_le_bytes());
        out.extend_from_slice(&self.term_id.to_le_bytes());
        out.extend_from_slice(&self.logic_id.to_le_bytes());
        out.extend_from_slice(&self.filenum.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(self.content);
        Ok(())
    }

    /// Where the item starts in the master's binlog.
    pub fn start(&self) -> BinlogPos {
        BinlogPos::new(self.filenum, self.offset)
    }

    /// The command, or which filler this is.
    pub fn payload(&self) -> Result<Payload<'a>> {
        let args = parse_command(self.content)?;
        Ok(match args.first() {
            Some(name) if name.eq_ignore_ascii_case(b"padding") => Payload::Filler(Filler::Padding),
            Some(name) if name.eq_ignore_ascii_case(b"dummy") => Payload::Filler(Filler::Dummy),
            _ => Payload::Command(args),
        })
    }
}

/// The `N` header bytes at `at`; the header is fixed-size, so `at + N` is in bounds.
fn field<const N: usize>(header: &[u8; ITEM_HEADER_LEN], at: usize) -> [u8; N] {
    let mut out = [0; N];
    if let Some(src) = header.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let it = BinlogItem { exec_time: 7, term_id: 1, logic_id: 57, filenum: 2, offset: 5462, content };
        it.encode(&mut out).unwrap();
        out
    }

    #[test]
    fn header_layout_is_pika_s() {
        let bytes = item(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(bytes.len(), ITEM_HEADER_LEN + 14);
        assert_eq!(&bytes[..2], &[1, 0]);
        assert_eq!(&bytes[10..18], &57u64.to_le_bytes());
        assert_eq!(&bytes[22..30], &5462u64.to_le_bytes());
        assert_eq!(&bytes[30..34], &14u32.to_le_bytes());
        let it = BinlogItem::decode(&bytes).unwrap();
        assert_eq!((it.exec_time, it.term_id, it.logic_id), (7, 1, 57));
        assert_eq!(it.start(), BinlogPos::new(2, 5462));
        assert_eq!(it.payload().unwrap(), Payload::Command(vec![&b"PING"[..]]));
    }

    #[test]
    fn fillers_are_recognised() {
        // As ConstructPaddingBinlog writes it: five-digit length, stars.
        let padding = item(b"*2\r\n$7\r\npadding\r\n$00003\r\n***\r\n");
        assert_eq!(BinlogItem::decode(&padding).unwrap().payload().unwrap(), Payload::Filler(Filler::Padding));
        let dummy = item(b"*1\r\n$5\r\ndummy\r\n");
        assert_eq!(BinlogItem::decode(&dummy).unwrap().payload().unwrap(), Payload::Filler(Filler::Dummy));
    }

    #[test]
    fn bad_headers_are_clear_errors() {
        let good = item(b"*1\r\n$4\r\nPING\r\n");
        let short = BinlogItem::decode(&good[..33]).unwrap_err();
        assert_eq!(short.to_string(), "binlog item of 33 bytes is shorter than its 34-byte header");
        let mut wrong_type = good.clone();
        wrong_type[0] = 2;
        let err = BinlogItem::decode(&wrong_type).unwrap_err();
        assert_eq!(err.to_string(), "binlog item type 2 at byte 0, expected 1 (TypeFirst)");
        let err = BinlogItem::decode(&good[..good.len() - 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "binlog item content length 14 at byte 30 does not match the 13 bytes after the header"
        );
        let mut long = good.clone();
        long[30] = 0xff;
        long[33] = 0xff;
        assert!(matches!(BinlogItem::decode(&long), Err(PikaError::ItemLength { .. })));
    }
}
