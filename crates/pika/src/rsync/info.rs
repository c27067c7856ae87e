//! The dump's `info` file (`DB::DoBgSave`, Pika's `src/pika_db.cc`): lines `<secs>s`,
//! master ip, master port, binlog filenum, binlog offset (Pika 4.0.1 writes these five;
//! the replica also reads an optional term and index, `DB::TryUpdateMasterOffset`).
//! Its MD5 in hex is the snapshot UUID the RsyncService announces.

use md5::{Digest, Md5};

use crate::error::{PikaError, Result};
use crate::position::BinlogPos;

/// The largest `info` file accepted (a real one is about 30 bytes).
pub const MAX_INFO_LEN: usize = 4096;

/// What the `info` file says: where to TrySync from after loading the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpInfo {
    /// Seconds the master's bgsave took.
    pub bgsave_secs: u64,
    /// The master's host.
    pub master_ip: String,
    /// The master's port.
    pub master_port: u16,
    /// The binlog position the dump is consistent with.
    pub pos: BinlogPos,
    /// Consensus term, if written.
    pub term: Option<u32>,
    /// Logic index, if written.
    pub index: Option<u64>,
}

impl DumpInfo {
    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |line, reason| PikaError::InfoFile { line, reason };
        let text = std::str::from_utf8(bytes).map_err(|_| bad(0, "not UTF-8"))?;
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        if lines.len() > 7 {
            return Err(bad(8, "more than 7 lines"));
        }
        let line = |n: usize| lines.get(n - 1).copied().ok_or(bad(n, "missing"));
        let secs = line(1)?.strip_suffix('s').ok_or(bad(1, "expected <seconds>s"))?;
        let num = |n: usize, text: &str| text.parse::<u64>().map_err(|_| bad(n, "not a number"));
        let opt = |n: usize| lines.get(n - 1).map(|t| num(n, t)).transpose();
        let narrow = |n: usize, v: u64| u32::try_from(v).map_err(|_| bad(n, "out of range"));
        Ok(Self {
            bgsave_secs: num(1, secs)?,
            master_ip: line(2)?.to_owned(),
            master_port: u16::try_from(num(3, line(3)?)?).map_err(|_| bad(3, "out of range"))?,
            pos: BinlogPos::new(narrow(4, num(4, line(4)?)?)?, num(5, line(5)?)?),
            term: opt(6)?.map(|t| narrow(6, t)).transpose()?,
            index: opt(7)?,
        })
    }
}

/// Collects the `info` file as it arrives (it is tiny) and checks it against the UUID.
#[derive(Debug, Default)]
pub(crate) struct InfoCollector {
    bytes: Vec<u8>,
}

impl InfoCollector {
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<()> {
        if self.bytes.len() + data.len() > MAX_INFO_LEN {
            return Err(PikaError::InfoFile { line: 0, reason: "larger than 4096 bytes" });
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    /// Checks the MD5 against `uuid` and parses.
    pub(crate) fn finish(&mut self, uuid: &str) -> Result<DumpInfo> {
        let bytes = std::mem::take(&mut self.bytes);
        let actual: String = Md5::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        if !actual.eq_ignore_ascii_case(uuid) {
            return Err(PikaError::InfoChecksum { expected: uuid.to_owned(), actual });
        }
        DumpInfo::parse(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = b"0s\n127.0.0.1\n19421\n0\n5462\n";

    #[test]
    fn parses_pika_4_info() {
        let info = DumpInfo::parse(INFO).unwrap();
        assert_eq!(info.pos, BinlogPos::new(0, 5462));
        assert_eq!((info.master_ip.as_str(), info.master_port, info.bgsave_secs), ("127.0.0.1", 19421, 0));
        assert_eq!((info.term, info.index), (None, None));
        let with_logic = DumpInfo::parse(b"3s\nh\n1\n2\n5\n7\n9\n").unwrap();
        assert_eq!((with_logic.term, with_logic.index), (Some(7), Some(9)));
    }

    #[test]
    fn checks_the_uuid() {
        let mut collector = InfoCollector::default();
        collector.push(&INFO[..5]).unwrap();
        collector.push(&INFO[5..]).unwrap();
        assert_eq!(collector.finish("3e79fe1a60f452d73a5d84d43680878d").unwrap().pos.offset, 5462);
        collector.push(INFO).unwrap();
        let err = collector.finish("00000000000000000000000000000000").unwrap_err();
        assert!(err.to_string().starts_with("dump info file hashes to 3e79fe1a"), "{err}");
    }

    #[test]
    fn bad_files() {
        let cases: [(&[u8], &str); 4] = [
            (b"0\nh\n1\n2\n3\n", "line 1: expected <seconds>s"),
            (b"0s\nh\n99999\n2\n3\n", "line 3: out of range"),
            (b"0s\nh\n1\n2\n", "line 5: missing"),
            (b"0s\nh\n1\nx\n3\n", "line 4: not a number"),
        ];
        for (input, want) in cases {
            assert_eq!(DumpInfo::parse(input).unwrap_err().to_string(), format!("dump info file, {want}"));
        }
    }
}
