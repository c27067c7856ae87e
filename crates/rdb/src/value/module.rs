//! Module values (type 7) and the module opcode streams shared with MODULE_AUX and
//! KEY_META: validated and passed on whole, since only the module can interpret them.

use super::{Cx, Single, Step};
use crate::event::ModuleId;
use crate::reader::{Cursor, Len, Res};
use crate::Error;

const OP_EOF: u64 = 0;
const OP_SINT: u64 = 1;
const OP_UINT: u64 = 2;
const OP_FLOAT: u64 = 3;
const OP_DOUBLE: u64 = 4;
const OP_STRING: u64 = 5;

/// Reads a whole module value as one unit: module id, then its opcode stream.
pub(crate) fn step(cx: &mut Cx<'_, '_>) -> Res<Step> {
    let id = cx.cur.len()?;
    skip_module_ops(&mut cx.cur)?;
    Ok(Step::Single(Single::Module(ModuleId(id))))
}

/// Walks an opcode stream up to and including its EOF marker, without decoding strings.
pub(crate) fn skip_module_ops(cur: &mut Cursor<'_>) -> Res<()> {
    loop {
        let at = cur.offset();
        match cur.len()? {
            OP_EOF => return Ok(()),
            OP_SINT | OP_UINT => {
                cur.len()?;
            }
            OP_FLOAT => {
                cur.take(4)?;
            }
            OP_DOUBLE => {
                cur.take(8)?;
            }
            OP_STRING => skip_string(cur)?,
            op => return Err(Error::corrupt(at, format!("unknown module opcode {op}")).into()),
        }
    }
}

fn skip_string(cur: &mut Cursor<'_>) -> Res<()> {
    let at = cur.offset();
    let n = match cur.len_or_special()? {
        Len::Plain(n) => n,
        Len::Special(0) => 1,
        Len::Special(1) => 2,
        Len::Special(2) => 4,
        Len::Special(3) => {
            let clen = cur.len()?;
            cur.len()?;
            clen
        }
        Len::Special(e) => return Err(Error::corrupt(at, format!("unknown string encoding {e}")).into()),
    };
    let n = usize::try_from(n).map_err(|_| Error::corrupt(at, "string length overflows"))?;
    cur.take(n)?;
    Ok(())
}
