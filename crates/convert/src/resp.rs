//! RESP encoding of commands into a byte buffer, with a log of what each command was (name,
//! database, key) so that a target's reply can be traced back to it.

use std::ops::Range;

/// What one encoded command was, for error messages and routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInfo {
    /// The command name (`RESTORE`, `RPUSH`, …).
    pub name: &'static str,
    /// The source database the command belongs to.
    pub db: u64,
    /// The hash slot of the command's key (0 for keyless commands): where it is routed.
    pub slot: u16,
    /// Whether the command has a key (keyless ones, like `SELECT` or `FUNCTION LOAD`, are
    /// not bound to a shard).
    pub keyed: bool,
    /// The source replication offset after the command it came from (0 when not from a
    /// stream); set by [`Commands::stamp`].
    pub offset: u64,
    /// One of several commands that rebuild one key of a snapshot (set by the converter):
    /// such keys may be kept on one connection each.
    pub bulk: bool,
    key: Range<usize>,
}

/// A growing buffer of encoded commands.
#[derive(Debug, Default, Clone)]
pub struct Commands {
    buf: Vec<u8>,
    /// Where each command starts in `buf`.
    starts: Vec<usize>,
    info: Vec<CommandInfo>,
    keys: Vec<u8>,
    /// Arguments still expected by the command being written.
    open: usize,
}

/// How many bytes of a key are kept for messages.
const KEY_NOTE_MAX: usize = 256;

impl Commands {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `bytes` encoded bytes and `commands` commands.
    pub fn with_capacity(bytes: usize, commands: usize) -> Self {
        Commands {
            buf: Vec::with_capacity(bytes),
            starts: Vec::with_capacity(commands),
            info: Vec::with_capacity(commands),
            keys: Vec::with_capacity(commands * 16),
            open: 0,
        }
    }

    /// Bytes the buffer holds room for.
    pub fn capacity_bytes(&self) -> usize {
        self.buf.capacity() + self.keys.capacity()
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// One entry per command, in order.
    pub fn info(&self) -> &[CommandInfo] {
        &self.info
    }

    /// The key a command touched (at most 256 bytes of it), for messages.
    pub fn key_of(&self, info: &CommandInfo) -> &[u8] {
        self.keys.get(info.key.clone()).unwrap_or_default()
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.info.len()
    }

    /// Whether no command was written.
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
    }

    /// Each command with its encoded bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&CommandInfo, &[u8])> {
        let ends = self.starts.iter().skip(1).copied().chain(std::iter::once(self.buf.len()));
        self.info
            .iter()
            .zip(self.starts.iter().zip(ends))
            .map(|(info, (s, e))| (info, self.buf.get(*s..e).unwrap_or_default()))
    }

    /// Appends a command already encoded elsewhere, with what it was.
    pub fn push_encoded(&mut self, info: &CommandInfo, key_note: &[u8], bytes: &[u8]) {
        let start = self.keys.len();
        self.keys.extend_from_slice(key_note.get(..KEY_NOTE_MAX).unwrap_or(key_note));
        self.info.push(CommandInfo { key: start..self.keys.len(), ..info.clone() });
        self.starts.push(self.buf.len());
        self.buf.extend_from_slice(bytes);
    }

    /// Appends an encoded command that came from elsewhere (the replication stream).
    pub fn push_raw(&mut self, name: &'static str, db: u64, key: Option<&[u8]>, bytes: &[u8]) {
        self.note(name, db, key);
        self.buf.extend_from_slice(bytes);
    }

    /// Appends an encoded command from elsewhere whose key's slot is already known.
    pub fn push_keyed(&mut self, name: &'static str, db: u64, key: &[u8], slot: u16, bytes: &[u8]) {
        self.note_slot(name, db, Some((key, slot)));
        self.buf.extend_from_slice(bytes);
    }

    /// Records what the next command is and where it starts.
    fn note(&mut self, name: &'static str, db: u64, key: Option<&[u8]>) {
        self.note_slot(name, db, key.map(|k| (k, crate::slot::key_slot(k))));
    }

    fn note_slot(&mut self, name: &'static str, db: u64, key: Option<(&[u8], u16)>) {
        let start = self.keys.len();
        let (k, slot) = key.unwrap_or_default();
        self.keys.extend_from_slice(k.get(..KEY_NOTE_MAX).unwrap_or(k));
        let keyed = key.is_some();
        self.info.push(CommandInfo { name, db, slot, keyed, offset: 0, bulk: false, key: start..self.keys.len() });
        self.starts.push(self.buf.len());
    }

    /// Records `offset` as the source offset of every command.
    pub fn stamp(&mut self, offset: u64) {
        for info in &mut self.info {
            info.offset = offset;
        }
    }

    /// Records `offset` as the source offset of the commands from the `from`-th on.
    pub fn stamp_from(&mut self, from: usize, offset: u64) {
        for info in self.info.iter_mut().skip(from) {
            info.offset = offset;
        }
    }

    /// Marks the keyed commands from the `from`-th on as [`CommandInfo::bulk`].
    pub fn mark_bulk_from(&mut self, from: usize) {
        for info in self.info.iter_mut().skip(from).filter(|i| i.keyed) {
            info.bulk = true;
        }
    }

    /// Records `offset` as the source offset of the last command.
    pub fn stamp_last(&mut self, offset: u64) {
        if let Some(info) = self.info.last_mut() {
            info.offset = offset;
        }
    }

    /// Bytes encoded so far.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// Forgets everything written.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.starts.clear();
        self.info.clear();
        self.keys.clear();
        self.open = 0;
    }

    /// Keeps the first `n` commands, dropping the ones after them.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.info.len() {
            return;
        }
        let (byte_end, key_end) = match (self.starts.get(n), self.info.get(n)) {
            (Some(start), Some(info)) => (*start, info.key.start),
            _ => (self.buf.len(), self.keys.len()),
        };
        self.buf.truncate(byte_end);
        self.keys.truncate(key_end);
        self.starts.truncate(n);
        self.info.truncate(n);
        self.open = 0;
    }

    /// Drops the encoded bytes once they were sent, keeping what each command was.
    pub fn release_bytes(&mut self) {
        self.buf = Vec::new();
        self.starts = Vec::new();
    }

    /// Moves the contents out, leaving this buffer empty.
    pub fn take(&mut self) -> Commands {
        std::mem::take(self)
    }

    /// Starts a command of `args` arguments (the name included); the caller then adds
    /// `args - 1` arguments.
    pub fn begin(&mut self, name: &'static str, args: usize, db: u64, key: &[u8]) -> &mut Self {
        self.start(name, args, db, Some(key))
    }

    /// Starts a command that has no key (`SELECT`, `FUNCTION LOAD`, …).
    pub fn begin_keyless(&mut self, name: &'static str, args: usize, db: u64) -> &mut Self {
        self.start(name, args, db, None)
    }

    fn start(&mut self, name: &'static str, args: usize, db: u64, key: Option<&[u8]>) -> &mut Self {
        debug_assert_eq!(self.open, 0, "previous command incomplete");
        self.note(name, db, key);
        self.push_len_line(b'*', args);
        self.open = args;
        self.arg(name.as_bytes())
    }

    /// Adds a bulk-string argument.
    pub fn arg(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.reserve(bytes.len() + 16);
        self.push_len_line(b'$', bytes.len());
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
        self.open = self.open.saturating_sub(1);
        self
    }

    /// Adds a bulk-string argument of `len` bytes written by `write` straight into the
    /// buffer (no intermediate copy).
    pub fn arg_from(&mut self, len: usize, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        let mark = self.buf.len();
        self.buf.reserve(len + 16);
        self.push_len_line(b'$', len);
        let start = self.buf.len();
        write(&mut self.buf);
        if self.buf.len() - start != len {
            // `len` was wrong: write the argument again with its true length.
            let value = self.buf.split_off(start);
            self.buf.truncate(mark);
            self.open += 1;
            return self.arg(&value);
        }
        self.buf.extend_from_slice(b"\r\n");
        self.open = self.open.saturating_sub(1);
        self
    }

    /// Adds an integer argument.
    pub fn int(&mut self, v: i64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        let s = b.format(v);
        self.arg_str(s)
    }

    /// Adds an unsigned integer argument.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        let mut b = itoa::Buffer::new();
        let s = b.format(v);
        self.arg_str(s)
    }

    /// Adds a score argument, in a form Redis parses back to the same double.
    pub fn score(&mut self, v: f64) -> &mut Self {
        if v == f64::INFINITY {
            self.arg(b"+inf")
        } else if v == f64::NEG_INFINITY {
            self.arg(b"-inf")
        } else if let Some((m, places)) = short_decimal(v) {
            let mut digits = itoa::Buffer::new();
            let mut text = [0u8; 24];
            let len = write_decimal(digits.format(m.unsigned_abs()).as_bytes(), m < 0, places, &mut text);
            self.arg(text.get(..len).unwrap_or_default())
        } else {
            let mut b = ryu::Buffer::new();
            let s = b.format_finite(v);
            let s = s.strip_suffix(".0").unwrap_or(s);
            self.arg_str(s)
        }
    }

    fn arg_str(&mut self, s: &str) -> &mut Self {
        self.arg(s.as_bytes())
    }

    /// Appends a whole command from its arguments; `key` is `None` for keyless commands.
    pub fn command(&mut self, name: &'static str, db: u64, key: Option<&[u8]>, args: &[&[u8]]) {
        self.start(name, args.len() + 1, db, key);
        for a in args {
            self.arg(a);
        }
    }

    /// `prefix` (`*` or `$`), the decimal `n` and CRLF. Lengths below 100, nearly all of
    /// them, are written as one fixed-size piece, without formatting.
    fn push_len_line(&mut self, prefix: u8, n: usize) {
        if n < 10 {
            self.buf.extend_from_slice(&[prefix, b'0' + n as u8, b'\r', b'\n']);
        } else if n < 100 {
            self.buf.extend_from_slice(&[prefix, b'0' + (n / 10) as u8, b'0' + (n % 10) as u8, b'\r', b'\n']);
        } else {
            let mut b = itoa::Buffer::new();
            self.buf.push(prefix);
            self.buf.extend_from_slice(b.format(n).as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        }
    }
}

/// Scores with at most two decimals (integers, halves, cents: the common ones) as an
/// integer `m` and a number of decimal places, such that `m / 10^places` parses back to
/// exactly `v`: the division is correctly rounded, as is the target's `strtod`.
fn short_decimal(v: f64) -> Option<(i64, u32)> {
    const LIMIT: f64 = 1e15; // well inside the integers a double holds exactly
    if v == 0.0 && v.is_sign_negative() {
        return None; // "-0" would not survive as an integer
    }
    for (places, scale) in [(0u32, 1.0f64), (1, 10.0), (2, 100.0)] {
        let scaled = (v * scale).round();
        if scaled.abs() < LIMIT && scaled / scale == v {
            return Some((scaled as i64, places));
        }
    }
    None
}

/// Writes `digits` (of `|m|`) with a decimal point `places` digits from the right, and a
/// sign; returns the length written to `out` (at most 24 bytes for `|m| < 10^15`).
fn write_decimal(digits: &[u8], negative: bool, places: u32, out: &mut [u8; 24]) -> usize {
    let places = places as usize;
    let mut n = 0;
    let mut put = |b: u8, n: &mut usize| {
        if let Some(slot) = out.get_mut(*n) {
            *slot = b;
            *n += 1;
        }
    };
    if negative {
        put(b'-', &mut n);
    }
    let pad = (places + 1).saturating_sub(digits.len());
    let padded = std::iter::repeat_n(&b'0', pad).chain(digits.iter());
    let whole = (digits.len() + pad).saturating_sub(places);
    for (i, d) in padded.enumerate() {
        if i == whole && places > 0 {
            put(b'.', &mut n);
        }
        put(*d, &mut n);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_binary_safe_commands() {
        let mut c = Commands::new();
        c.command("SET", 0, Some(b"k\r\n"), &[b"k\r\n", b"\x00v"]);
        assert_eq!(c.bytes(), b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$2\r\n\x00v\r\n");
        assert_eq!(c.key_of(&c.info()[0]), b"k\r\n");
    }

    #[test]
    fn length_lines_in_every_width() {
        for len in [0usize, 9, 10, 99, 100, 12345] {
            let value = vec![b'x'; len];
            let mut c = Commands::new();
            c.command("SET", 0, Some(b"k"), &[b"k", &value]);
            let expected = [format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${len}\r\n").as_bytes(), &value, b"\r\n"].concat();
            assert_eq!(c.bytes(), expected.as_slice(), "a value of {len} bytes");
        }
    }

    #[test]
    fn iterates_commands_with_their_bytes() {
        let mut c = Commands::new();
        c.begin_keyless("SELECT", 2, 1).uint(1);
        c.command("SET", 1, Some(b"{a}x"), &[b"{a}x", b"1"]);
        let items: Vec<(&str, bool, u16, Vec<u8>)> =
            c.iter().map(|(i, b)| (i.name, i.keyed, i.slot, b.to_vec())).collect();
        assert_eq!(items[0], ("SELECT", false, 0, b"*2\r\n$6\r\nSELECT\r\n$1\r\n1\r\n".to_vec()));
        assert_eq!(items[1].3, b"*3\r\n$3\r\nSET\r\n$4\r\n{a}x\r\n$1\r\n1\r\n".to_vec());
        assert_eq!(items[1].2, crate::key_slot(b"a"));
        let mut d = Commands::new();
        for (info, bytes) in c.iter() {
            d.push_encoded(info, c.key_of(info), bytes);
        }
        assert_eq!(d.bytes(), c.bytes());
    }

    #[test]
    fn writes_arguments_in_place_with_their_true_length() {
        let mut c = Commands::new();
        c.begin("X", 3, 0, b"k")
            .arg_from(3, |b| b.extend_from_slice(b"abc"))
            .arg_from(1, |b| b.extend_from_slice(b"de"));
        assert_eq!(c.bytes(), b"*3\r\n$1\r\nX\r\n$3\r\nabc\r\n$2\r\nde\r\n");
    }

    #[test]
    fn scores_round_trip() {
        let values = [
            0.1,
            1.0,
            -2.5,
            1e300,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.7976931348623157e308,
            -0.0,
            0.05,
            -0.07,
            12.34,
            999_999_999_999_999.0,
            1e15,
            0.1 + 0.2,
            1.005,
            -1234.5,
        ];
        for v in values {
            let mut c = Commands::new();
            c.begin("X", 2, 0, b"").score(v);
            let text = std::str::from_utf8(c.bytes()).unwrap();
            let arg = text.rsplit("\r\n").nth(1).unwrap();
            let back: f64 = match arg {
                "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                s => s.parse().unwrap(),
            };
            assert_eq!(back.to_bits(), v.to_bits(), "{arg}");
        }
    }

    #[test]
    fn short_scores_are_written_as_plain_decimals() {
        let text = |v: f64| {
            let mut c = Commands::new();
            c.begin("X", 2, 0, b"").score(v);
            let text = String::from_utf8(c.bytes().to_vec()).unwrap();
            text.rsplit("\r\n").nth(1).unwrap().to_string()
        };
        assert_eq!(text(3.0), "3");
        assert_eq!(text(-1.5), "-1.5");
        assert_eq!(text(0.05), "0.05");
        assert_eq!(text(-0.5), "-0.5");
        assert_eq!(text(1.25), "1.25");
        assert_eq!(text(-0.0), "-0");
        assert_eq!(text(0.1 + 0.2), "0.30000000000000004");
    }
}
