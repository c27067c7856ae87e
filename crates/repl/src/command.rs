//! RESP multibulk commands as the master streams them, parsed in place: the arguments
//! borrow the input. Written here rather than with `redis-protocol` because this is the
//! hot path of the live stream and that crate allocates a frame vector per command.

/// One replicated command.
#[derive(Clone, Copy)]
pub struct Command<'a> {
    input: &'a [u8],
    args: &'a [(usize, usize)],
    /// The master's replication offset just after this command.
    pub offset: u64,
    /// The database the command applies to (for `SELECT`, the one it selects).
    pub db: u64,
    /// The command's size in the stream, in bytes.
    pub size: usize,
}

impl<'a> Command<'a> {
    pub(crate) fn new(input: &'a [u8], args: &'a [(usize, usize)], offset: u64, db: u64, size: usize) -> Self {
        Command { input, args, offset, db, size }
    }

    /// The command name as sent (any case).
    pub fn name(&self) -> &'a [u8] {
        self.arg(0).unwrap_or_default()
    }

    /// Whether the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The `i`th argument (0 is the name).
    pub fn arg(&self, i: usize) -> Option<&'a [u8]> {
        let (start, len) = *self.args.get(i)?;
        self.input.get(start..start + len)
    }

    /// All arguments, the name first.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let (input, args) = (self.input, self.args);
        args.iter().map(move |(s, l)| input.get(*s..*s + *l).unwrap_or_default())
    }

    /// Number of arguments, the name included.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether the command has no arguments at all (never produced by the parser).
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The exact bytes of the command in the stream.
    pub fn raw(&self) -> &'a [u8] {
        let end = self.args.last().map_or(0, |(s, l)| s + l + 2);
        self.input.get(..end).unwrap_or_default()
    }

    /// Commands that only keep the link alive or talk about replication (`PING`,
    /// `REPLCONF`): never forwarded to a target.
    pub fn is_link_control(&self) -> bool {
        self.is("PING") || self.is("REPLCONF")
    }
}

impl std::fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let args: Vec<String> = self.args().map(|a| a.escape_ascii().to_string()).collect();
        f.debug_struct("Command").field("args", &args).field("offset", &self.offset).field("db", &self.db).finish()
    }
}

/// Outcome of looking for a command at the front of the input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A whole command of this many bytes; its argument ranges were pushed.
    Complete(usize),
    /// The input must hold at least this many bytes.
    Incomplete(usize),
}

/// Parses `*<n>\r\n($<len>\r\n<bytes>\r\n){n}` at the front of `input`.
pub(crate) fn parse(input: &[u8], args: &mut Vec<(usize, usize)>, limit: usize) -> Result<Parsed, String> {
    args.clear();
    let Some((n, mut pos)) = header(input, 0, b'*')? else {
        return Ok(Parsed::Incomplete(input.len() + 1));
    };
    if n == 0 || n > limit / 4 {
        return Err(format!("command with {n} arguments"));
    }
    for _ in 0..n {
        let Some((len, at)) = header(input, pos, b'$')? else {
            return Ok(Parsed::Incomplete(input.len() + 1));
        };
        if len > limit {
            return Err(format!("argument of {len} bytes is over the limit of {limit}"));
        }
        let end = at + len + 2;
        if end > limit.saturating_add(1024) && end > input.len() {
            return Err(format!("command of more than {limit} bytes"));
        }
        if input.len() < end {
            return Ok(Parsed::Incomplete(end));
        }
        if input.get(at + len..end) != Some(b"\r\n") {
            return Err(format!("argument at {at} does not end with CRLF"));
        }
        args.push((at, len));
        pos = end;
    }
    Ok(Parsed::Complete(pos))
}

/// Reads `<kind><decimal>\r\n` at `pos`: the number and the position after the line.
/// One pass over at most 22 bytes (`usize` has at most 20 digits).
fn header(input: &[u8], pos: usize, kind: u8) -> Result<Option<(usize, usize)>, String> {
    let Some(rest) = input.get(pos..) else { return Ok(None) };
    let Some(&first) = rest.first() else { return Ok(None) };
    if first != kind {
        return Err(format!("expected {:?} at {pos}, found {:?}", kind as char, first as char));
    }
    let mut n: usize = 0;
    for (i, &b) in rest.iter().enumerate().skip(1).take(22) {
        match b {
            b'0'..=b'9' => {
                n = n
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(usize::from(b - b'0')))
                    .ok_or_else(|| format!("length at {pos} overflows"))?;
            }
            b'\r' if i > 1 => {
                return match rest.get(i + 1) {
                    Some(b'\n') => Ok(Some((n, pos + i + 2))),
                    Some(_) => Err(format!("bad length line at {pos}")),
                    None => Ok(None),
                };
            }
            _ => return Err(format!("bad length line at {pos}")),
        }
    }
    if rest.len() >= 23 {
        Err(format!("length line at {pos} too long"))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_borrows() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\nx\r\n*1\r\n";
        let mut args = Vec::new();
        assert_eq!(parse(input, &mut args, 1 << 20).unwrap(), Parsed::Complete(30));
        let cmd = Command::new(input, &args, 30, 0, 30);
        let got: Vec<&[u8]> = cmd.args().collect();
        assert_eq!(got, vec![&b"SET"[..], b"k", b"v\r\nx"]);
        assert!(cmd.is("set"));
        assert_eq!(cmd.raw(), &input[..30]);
    }

    #[test]
    fn incomplete_at_every_split() {
        let input = b"*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n";
        let mut args = Vec::new();
        for cut in 0..input.len() {
            assert!(matches!(parse(&input[..cut], &mut args, 1 << 20).unwrap(), Parsed::Incomplete(n) if n > cut));
        }
        assert_eq!(parse(input, &mut args, 1 << 20).unwrap(), Parsed::Complete(input.len()));
    }

    #[test]
    fn rejects_garbage_and_huge_lengths() {
        let mut args = Vec::new();
        assert!(parse(b"+OK\r\n", &mut args, 1024).is_err());
        assert!(parse(b"*1\r\n$99999999999\r\n", &mut args, 1024).is_err());
        assert!(parse(b"*99999999\r\n", &mut args, 1024).is_err());
        assert!(parse(b"*1\r\n$2\r\nabXY", &mut args, 1024).is_err());
        assert!(parse(b"*x\r\n", &mut args, 1024).is_err());
    }
}
