//! Conversion of raw RESP replies (`redis::Value`) into plain Rust values.
//!
//! The testkit talks to servers with `redis::cmd(..).query::<Value>()` so it
//! stays binary-safe and independent of the client's typed conversions. The
//! helpers here consume those replies and panic, showing the reply, whenever
//! its shape is not the expected one. Both RESP2 (flat arrays) and RESP3
//! (maps, sets) shapes are accepted.

use redis::{Cmd, Connection, Value};

/// Runs `cmd` and returns the raw reply, panicking on any error.
pub(crate) fn query(conn: &mut Connection, cmd: &Cmd) -> Value {
    match cmd.query::<Value>(conn) {
        Ok(value) => value,
        Err(err) => panic!("redis command {} failed: {err}", describe(cmd)),
    }
}

/// Runs `cmd` and returns the raw reply, or `None` when the server answered
/// with an error (used for optional capabilities).
pub(crate) fn try_query(conn: &mut Connection, cmd: &Cmd) -> Option<Value> {
    cmd.query::<Value>(conn).ok()
}

fn describe(cmd: &Cmd) -> String {
    let words: Vec<String> = cmd
        .args_iter()
        .take(4)
        .map(|arg| match arg {
            redis::Arg::Simple(bytes) => escape(&bytes[..bytes.len().min(40)]),
            _ => "<cursor>".to_owned(),
        })
        .collect();
    words.join(" ")
}

/// Bytes of a string-like reply (bulk, simple, integer, OK).
pub(crate) fn into_bytes(value: Value) -> Vec<u8> {
    match value {
        Value::BulkString(bytes) => bytes,
        Value::SimpleString(text) => text.into_bytes(),
        Value::Int(n) => n.to_string().into_bytes(),
        Value::Okay => b"OK".to_vec(),
        Value::Double(d) => d.to_string().into_bytes(),
        Value::VerbatimString { text, .. } => text.into_bytes(),
        other => panic!("expected a string reply, got {other:?}"),
    }
}

/// Text of a string-like reply (lossy UTF-8).
pub(crate) fn into_text(value: Value) -> String {
    String::from_utf8_lossy(&into_bytes(value)).into_owned()
}

/// Integer reply; numeric bulk strings are accepted too.
pub(crate) fn into_int(value: Value) -> i64 {
    match value {
        Value::Int(n) => n,
        other => {
            let text = into_text(other);
            text.trim().parse().unwrap_or_else(|_| panic!("expected an integer reply, got {text:?}"))
        }
    }
}

/// Integer reply, `None` for a nil reply.
pub(crate) fn into_opt_int(value: Value) -> Option<i64> {
    match value {
        Value::Nil => None,
        other => Some(into_int(other)),
    }
}

/// Elements of an array-like reply; nil counts as empty.
pub(crate) fn into_array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        Value::Nil => Vec::new(),
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("expected an array reply, got {other:?}"),
    }
}

/// Consecutive pairs of a flat array (or a RESP3 map).
pub(crate) fn into_pairs(value: Value) -> Vec<(Value, Value)> {
    if let Value::Map(pairs) = value {
        return pairs;
    }
    let items = into_array(value);
    assert!(items.len().is_multiple_of(2), "odd-length pair array: {items:?}");
    let mut iter = items.into_iter();
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (iter.next(), iter.next()) {
        pairs.push((name, value));
    }
    pairs
}

/// A name/value reply such as `XINFO STREAM .. FULL`, looked up by name.
pub(crate) struct Fields(Vec<(String, Value)>);

impl Fields {
    pub(crate) fn new(value: Value) -> Self {
        let pairs = into_pairs(value);
        Self(pairs.into_iter().map(|(k, v)| (into_text(k), v)).collect())
    }

    /// Removes and returns the field `name`; nil when absent.
    pub(crate) fn take(&mut self, name: &str) -> Value {
        match self.0.iter().position(|(k, _)| k == name) {
            Some(index) => self.0.swap_remove(index).1,
            None => Value::Nil,
        }
    }
}

/// Renders a reply roughly as `redis-cli --no-raw` would, one item per line.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::Nil => "(nil)".to_owned(),
        Value::Int(n) => n.to_string(),
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Okay => "OK".to_owned(),
        Value::Double(d) => d.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Array(items) | Value::Set(items) => render_lines(items.iter()),
        Value::Map(pairs) => render_lines(pairs.iter().flat_map(|(k, v)| [k, v])),
        other => format!("{other:?}"),
    }
}

fn render_lines<'a>(items: impl Iterator<Item = &'a Value>) -> String {
    items.map(render).collect::<Vec<_>>().join("\n")
}

/// Escapes bytes for display: printable ASCII as is, the rest as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    bytes.iter().flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect()
}
