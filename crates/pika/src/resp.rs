//! The RESP command inside a binlog item: one array of bulk strings
//! (`Cmd::ToRedisProtocol`, Pika's `src/pika_command.cc`), parsed into borrowed arguments.
//! Lengths may carry leading zeros: the `padding` item writes `$00012`.

use crate::error::{PikaError, Result};

/// Parses `content` as exactly one RESP array of bulk strings.
pub(crate) fn parse_command(content: &[u8]) -> Result<Vec<&[u8]>> {
    let mut cur = Cursor { buf: content, at: 0 };
    cur.expect(b'*', "expected '*'")?;
    let count = cur.number()?;
    if count == 0 {
        return Err(cur.error("empty command"));
    }
    // Each argument takes at least 6 bytes (`$0\r\n\r\n`): bound the allocation by the input.
    let mut args = Vec::with_capacity(count.min(content.len() / 6));
    for _ in 0..count {
        cur.expect(b'$', "expected '$'")?;
        let len = cur.number()?;
        args.push(cur.take(len)?);
        cur.crlf()?;
    }
    if cur.at != content.len() {
        return Err(cur.error("trailing bytes after the command"));
    }
    Ok(args)
}

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, reason: &'static str) -> PikaError {
        PikaError::Resp { at: self.at, reason }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<()> {
        match self.buf.get(self.at) {
            Some(b) if *b == byte => {
                self.at += 1;
                Ok(())
            }
            _ => Err(self.error(reason)),
        }
    }

    /// Decimal digits then CRLF.
    fn number(&mut self) -> Result<usize> {
        let start = self.at;
        let mut value: usize = 0;
        while let Some(b) = self.buf.get(self.at).filter(|b| b.is_ascii_digit()) {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(usize::from(b - b'0')))
                .ok_or_else(|| self.error("length overflows"))?;
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("expected a length"));
        }
        self.crlf()?;
        Ok(value)
    }

    fn crlf(&mut self) -> Result<()> {
        if self.buf.get(self.at..self.at + 2) == Some(b"\r\n") {
            self.at += 2;
            Ok(())
        } else {
            Err(self.error("expected CRLF"))
        }
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).ok_or_else(|| self.error("length overflows"))?;
        let bytes = self.buf.get(self.at..end).ok_or_else(|| self.error("bulk string runs past the end"))?;
        self.at = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_with_binary_and_padded_lengths() {
        let args = parse_command(b"*3\r\n$3\r\nSET\r\n$1\r\n\r\r\n$00003\r\n\0\r\n\r\n").unwrap();
        assert_eq!(args, vec![&b"SET"[..], b"\r", b"\0\r\n"]);
    }

    #[test]
    fn bad_input_says_where() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "expected '*' at byte 0"),
            (b"*0\r\n", "empty command at byte 4"),
            (b"*1\r\n+OK\r\n", "expected '$' at byte 4"),
            (b"*1\r\n$5\r\nab\r\n", "bulk string runs past the end at byte 8"),
            (b"*1\r\n$2\r\nabX\n", "expected CRLF at byte 10"),
            (b"*1\r\n$2\r\nab\r\nx", "trailing bytes after the command at byte 12"),
            (b"*99999999999999999999999\r\n", "length overflows at byte 20"),
        ];
        for (input, want) in cases {
            let err = parse_command(input).unwrap_err().to_string();
            assert_eq!(err, format!("binlog item content is not a RESP command: {want}"), "{input:?}");
        }
    }
}
