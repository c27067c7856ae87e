//! Everything between values: the magic line, opcodes and their payloads, the start of
//! each key (with the fast path for small strings), and the EOF trailer with its CRC.

use super::{KeyCtx, Out, Parser, Ready, Top};
use crate::event::{Checksum, ModuleId};
use crate::format::{Encoding, Format, Kind, Opcode};
use crate::reader::{Cursor, Len, Res, ENC_LZF};
use crate::slot::Slot;
use crate::value::{skip_module_ops, ItemKind, ValueState};
use crate::Error;

impl Parser {
    pub(super) fn magic(&mut self, cur: &mut Cursor<'_>) -> Res<Option<Ready>> {
        let magic = cur.take(Format::MAGIC_LEN)?;
        let format = Format::from_magic(magic)?;
        self.format = Some(format);
        self.scan = cur.offset();
        self.top = Top::Body;
        Ok(Some(Ready::Header(format)))
    }

    /// One opcode with its payload, or the start of a key.
    pub(super) fn body(&mut self, cur: &mut Cursor<'_>, input: &[u8]) -> Res<Option<Ready>> {
        let format = self.format.ok_or(Error::Finished)?;
        let at = cur.offset();
        let byte = cur.u8()?;
        let limit = self.cfg.max_buffered;
        let ready = match format.decode(byte, at)? {
            Opcode::Eof => return self.trailer(cur, input, format, at).map(Some),
            Opcode::SelectDb => {
                self.db = cur.len()?;
                Some(Ready::SelectDb(self.db))
            }
            Opcode::ExpireSec => {
                let secs = i32::from_le_bytes(cur.array()?);
                self.prefix.expire = Some(i64::from(secs) * 1000);
                None
            }
            Opcode::ExpireMs => {
                self.prefix.expire = Some(cur.millis()?);
                None
            }
            Opcode::Freq => {
                self.prefix.freq = Some(cur.u8()?);
                None
            }
            Opcode::Idle => {
                self.prefix.idle = Some(cur.len()?);
                None
            }
            Opcode::ResizeDb => Some(Ready::ResizeDb(cur.len()?, cur.len()?)),
            Opcode::SlotInfo => Some(Ready::SlotInfo(cur.len()?, cur.len()?, cur.len()?)),
            Opcode::Aux => {
                let key = cur.string(&mut self.scratch, limit)?;
                let value = cur.string(&mut self.scratch, limit)?;
                Some(Ready::Aux { key, value })
            }
            Opcode::Function2 => Some(Ready::Function(cur.string(&mut self.scratch, limit)?)),
            Opcode::ModuleAux => Some(module_aux(cur, at)?),
            Opcode::KeyMeta => {
                let classes = cur.count()?;
                for _ in 0..classes {
                    cur.take(4)?;
                    skip_module_ops(cur)?;
                }
                self.prefix.meta += classes;
                None
            }
            Opcode::SlotImport => {
                let job = cur.string(&mut self.scratch, limit)?;
                let start = self.slots.len();
                for _ in 0..cur.count()? {
                    self.slots.extend([Slot::Uint(cur.len()?), Slot::Uint(cur.len()?)]);
                }
                Some(Ready::SlotImport { job, start, end: self.slots.len() })
            }
            Opcode::FunctionPreGa => {
                return Err(Error::Unsupported {
                    what: "function of a Redis 7.0 release candidate (opcode 246)",
                    offset: at,
                }
                .into())
            }
            Opcode::ModulePreGa => {
                return Err(Error::Unsupported { what: "value of a pre-GA module (type 6)", offset: at }.into())
            }
            Opcode::Value(enc) => {
                let key = cur.string(&mut self.scratch, limit)?;
                self.start_key(key, enc, byte, at, cur.offset());
                if enc == Encoding::String {
                    self.small_string(cur);
                }
                None
            }
        };
        self.scan = cur.offset();
        Ok(ready)
    }

    pub(super) fn start_key(&mut self, key: Slot, enc: Encoding, type_byte: u8, offset: u64, value_start: u64) {
        let raw_limit = if enc.kind() == Kind::Module { self.cfg.max_buffered } else { self.cfg.raw_value_max } as u64;
        self.key = Some(KeyCtx {
            db: self.db,
            key,
            enc,
            type_byte,
            offset,
            value_start,
            value_end: value_start,
            prefix: std::mem::take(&mut self.prefix),
            raw_limit,
            raw_ok: raw_limit > 0,
            emitted: false,
            done: false,
            items: 0,
        });
        self.value = ValueState::start(enc);
        self.top = Top::Value;
    }

    /// Fast path for the commonest value, a plain string of at most one piece, or an
    /// integer, or an LZF-compressed one of at most a piece both ways, that is already in
    /// the input: read with its key, yielding exactly the events the general path would.
    /// Anything else (including any error, which the general path then reports) is left
    /// to the string decoder.
    pub(super) fn small_string(&mut self, cur: &mut Cursor<'_>) {
        let (mark, scratch_mark) = (cur.pos(), self.scratch.len());
        let at = cur.offset();
        let piece = self.cfg.batch_bytes as u64;
        let read = match cur.len_or_special() {
            Ok(Len::Plain(n)) if n <= piece => {
                let (start, len) = (cur.offset(), n as usize);
                cur.take(len).map(|_| Slot::Input { start, len })
            }
            // A compressed string bigger than a piece is left to the string decoder,
            // which expands it a piece at a time.
            Ok(Len::Special(ENC_LZF)) => match cur.lzf_lengths() {
                Ok((clen, ulen)) if clen <= piece && ulen <= piece => {
                    cur.lzf_block(at, clen, ulen, &mut self.scratch, self.cfg.max_buffered)
                }
                _ => {
                    cur.set_pos(mark);
                    return;
                }
            },
            Ok(Len::Special(enc)) => cur.special_string(enc, at, &mut self.scratch, self.cfg.max_buffered),
            _ => {
                cur.set_pos(mark);
                return;
            }
        };
        let Ok(slot) = read else {
            cur.set_pos(mark);
            self.scratch.truncate(scratch_mark);
            return;
        };
        let end = cur.offset();
        let Some(key) = self.key.as_mut() else { return };
        key.done = true;
        key.value_end = end;
        key.items = 1;
        key.raw_ok = key.raw_ok && end - key.value_start <= key.raw_limit;
        if key.raw_ok && !self.cfg.decode_raw_values {
            self.scratch.truncate(scratch_mark);
            return; // handed out raw only: no pieces to queue
        }
        let first = self.slots.len();
        self.slots.push(slot);
        self.queue.push_back(Out::Chunk { kind: ItemKind::StringPiece, start: first, end: first + 1 });
        self.queue.push_back(Out::KeyEnd(end));
    }

    /// The EOF opcode and, from RDB 5, the CRC-64 of everything before it.
    pub(super) fn trailer(&mut self, cur: &mut Cursor<'_>, input: &[u8], format: Format, eof_at: u64) -> Res<Ready> {
        let checksum = if format.has_checksum() {
            let stored = cur.u64_le()?;
            let upto = usize::try_from(eof_at + 1 - self.consumed).unwrap_or(0);
            let mut digest = self.crc.clone();
            digest.update(input.get(..upto).unwrap_or_default());
            let actual = digest.value();
            match stored {
                0 => Checksum::Disabled,
                s if s == actual => Checksum::Verified(s),
                s => return Err(Error::ChecksumMismatch { offset: eof_at + 1, expected: s, actual }.into()),
            }
        } else {
            Checksum::Absent
        };
        self.scan = cur.offset();
        self.top = Top::Done;
        Ok(Ready::End(checksum))
    }
}

fn module_aux(cur: &mut Cursor<'_>, at: u64) -> Res<Ready> {
    let module = ModuleId(cur.len()?);
    let when_op = cur.len()?;
    if when_op != 2 {
        return Err(Error::corrupt(at, format!("module aux 'when' has opcode {when_op}, expected 2")).into());
    }
    let when = cur.len()?;
    let start = cur.offset();
    skip_module_ops(cur)?;
    let raw = Slot::Input { start, len: (cur.offset() - start) as usize };
    Ok(Ready::ModuleAux { module, when, raw })
}
