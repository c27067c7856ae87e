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
    /// Where the command's note is in the key log: its key, then (for commands with
    /// several keys) the others, each as `len: u16 LE` + bytes.
    key: Range<usize>,
    /// The length of the first key within the note.
    first: usize,
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
/// How many keys after the first a note names (the rest are counted).
const MORE_KEYS_MAX: usize = 8;
/// The longest note: the first key and the others named.
const NOTE_MAX: usize = (KEY_NOTE_MAX + 2) * (MORE_KEYS_MAX + 1) + 6;
/// The note's mark before the count of keys left out.
const MORE_KEYS_OMITTED: u16 = u16::MAX;

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

    /// The key a command touched (at most 256 bytes of it), for routing and messages.
    pub fn key_of(&self, info: &CommandInfo) -> &[u8] {
        let end = info.key.end.min(info.key.start + info.first);
        self.keys.get(info.key.start..end).unwrap_or_default()
    }

    /// What is noted about a command's keys (its key, and the others of a multi-key
    /// command): what [`Commands::push_encoded`] takes to copy the command elsewhere.
    pub fn note_of(&self, info: &CommandInfo) -> &[u8] {
        self.keys.get(info.key.clone()).unwrap_or_default()
    }

    /// Every key noted for a command, for messages: `key "k"`, `keys "a", "b"` (at most
    /// nine named, the rest counted), or an empty string for a command without keys.
    pub fn keys_text(&self, info: &CommandInfo) -> String {
        let first = self.key_of(info);
        let mut named = vec![first];
        let mut rest = self.note_of(info).get(first.len()..).unwrap_or_default();
        let mut omitted = 0u32;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = u16::from_le_bytes(*len);
            if len == MORE_KEYS_OMITTED {
                omitted = tail.first_chunk::<4>().map_or(0, |n| u32::from_le_bytes(*n));
                break;
            }
            let (key, tail) = tail.split_at(usize::from(len).min(tail.len()));
            named.push(key);
            rest = tail;
        }
        if named.len() == 1 && first.is_empty() && !info.keyed {
            return String::new();
        }
        let quoted: Vec<String> = named.iter().map(|k| format!("\"{}\"", k.escape_ascii())).collect();
        let mut text = format!("{} {}", if named.len() > 1 { "keys" } else { "key" }, quoted.join(", "));
        if omitted > 0 {
            text.push_str(&format!(" and {omitted} more"));
        }
        text
    }

    /// Notes every key of the last command, for messages about commands with several
    /// keys. A keyed command's first key stays the one it is routed by.
    pub fn note_keys_of_last(&mut self, keys: &[&[u8]]) {
        let Some(info) = self.info.last_mut() else { return };
        if info.key.end != self.keys.len() || keys.is_empty() {
            return;
        }
        let routed = self.keys.get(info.key.clone()).unwrap_or_default();
        let first = if info.keyed && !routed.is_empty() {
            routed.to_vec()
        } else {
            keys.first().copied().unwrap_or_default().to_vec()
        };
        let mut others: Vec<&[u8]> = keys.to_vec();
        if let Some(at) = others.iter().position(|k| *k == first.as_slice()) {
            others.remove(at);
        }
        self.keys.truncate(info.key.start);
        self.keys.extend_from_slice(first.get(..KEY_NOTE_MAX).unwrap_or(&first));
        info.first = self.keys.len() - info.key.start;
        for key in others.iter().take(MORE_KEYS_MAX) {
            let key = key.get(..KEY_NOTE_MAX).unwrap_or(key);
            self.keys.extend_from_slice(&(key.len() as u16).to_le_bytes());
            self.keys.extend_from_slice(key);
        }
        if let Some(omitted) = others.len().checked_sub(MORE_KEYS_MAX).filter(|n| *n > 0) {
            self.keys.extend_from_slice(&MORE_KEYS_OMITTED.to_le_bytes());
            self.keys.extend_from_slice(&u32::try_from(omitted).unwrap_or(u32::MAX).to_le_bytes());
        }
        info.key.end = self.keys.len();
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

    /// Appends a command already encoded elsewhere, with what it was and its note (what
    /// [`Commands::note_of`] gave there; [`Commands::key_of`] is enough when only its
    /// first key matters).
    pub fn push_encoded(&mut self, info: &CommandInfo, note: &[u8], bytes: &[u8]) {
        let start = self.keys.len();
        self.keys.extend_from_slice(note.get(..NOTE_MAX).unwrap_or(note));
        let first = info.first.min(self.keys.len() - start);
        self.info.push(CommandInfo { key: start..self.keys.len(), first, ..info.clone() });
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
        let key = start..self.keys.len();
        let first = key.len();
        self.info.push(CommandInfo { name, db, slot, keyed, offset: 0, bulk: false, key, first });
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
    fn every_key_of_a_multi_key_command_is_named_and_travels_with_it() {
        let mut c = Commands::new();
        c.push_raw("RENAME", 9, None, b"*3\r\n$6\r\nRENAME\r\n$1\r\na\r\n$1\r\nb\r\n");
        c.note_keys_of_last(&[b"a", b"b"]);
        c.push_keyed("SMOVE", 0, b"src", 7, b"");
        c.note_keys_of_last(&[b"src", b"dst"]);
        let keys: Vec<&[u8]> = (0..20u8).map(|i| std::slice::from_ref(&[b'k'; 20][usize::from(i)])).collect();
        c.push_raw("DEL", 0, None, b"");
        c.note_keys_of_last(&keys);
        c.command("FLUSHALL", 0, None, &[]);
        let info = c.info().to_vec();
        assert_eq!(c.keys_text(&info[0]), r#"keys "a", "b""#);
        assert_eq!(c.key_of(&info[0]), b"a");
        assert!(!info[0].keyed, "noting keys does not route the command");
        assert_eq!((c.key_of(&info[1]), c.keys_text(&info[1]).as_str()), (&b"src"[..], r#"keys "src", "dst""#));
        assert!(c.keys_text(&info[2]).ends_with(r#""k" and 11 more"#), "{}", c.keys_text(&info[2]));
        assert_eq!(c.keys_text(&info[3]), "");
        let mut copy = Commands::new();
        for (i, bytes) in c.iter() {
            copy.push_encoded(i, c.note_of(i), bytes);
        }
        let copied = copy.info().to_vec();
        assert_eq!(copy.keys_text(&copied[1]), r#"keys "src", "dst""#);
        assert_eq!(copy.key_of(&copied[1]), b"src");
        let mut first_only = Commands::new();
        first_only.push_encoded(&info[1], c.key_of(&info[1]), b"");
        assert_eq!(first_only.keys_text(&first_only.info()[0]), r#"key "src""#);
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
