//! Drives the parser from a file or standard input: reads in 64 KiB steps into a buffer
//! that holds only what the parser has not consumed, and hands each event to a callback
//! together with the stream offset just past it.

use std::fs::File;
use std::io::Read;

use anyhow::{bail, Context};
use replicant_rdb::{Event, Parser, ParserConfig, Status};

const READ_STEP: usize = 64 << 10;

/// An RDB source: a file, or `-` for standard input.
pub(crate) struct Input {
    pub(crate) name: String,
    reader: Box<dyn Read + Send>,
}

impl Input {
    pub(crate) fn open(path: &str) -> anyhow::Result<Input> {
        if path == "-" {
            return Ok(Input { name: "<stdin>".into(), reader: Box::new(std::io::stdin()) });
        }
        let file = File::open(path).with_context(|| format!("cannot open {path}"))?;
        Ok(Input { name: path.to_string(), reader: Box::new(file) })
    }
}

/// What was left after the RDB ended.
pub(crate) struct Finished {
    /// Bytes of the RDB.
    pub(crate) rdb_bytes: u64,
    /// Bytes after the RDB's end (a diskless-sync end mark, for instance).
    pub(crate) trailing: u64,
}

/// Parses the whole input, calling `on_event` for each event.
pub(crate) fn parse_input(
    input: &mut Input,
    cfg: ParserConfig,
    mut on_event: impl FnMut(&Event<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Finished> {
    let mut parser = Parser::new(cfg);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_STEP * 2);
    let mut start = 0usize;
    let mut offset = 0u64;
    let mut eof = false;
    loop {
        let pending = buf.get(start..).unwrap_or_default();
        let status = match parser.parse(pending) {
            Ok(status) => status,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("{} is not a valid RDB", input.name))),
        };
        match status {
            Status::Event { event, consumed } => {
                offset += consumed as u64;
                let end = matches!(event, Event::End(_));
                on_event(&event)?;
                start += consumed;
                if end {
                    let mut trailing = (buf.len() - start) as u64;
                    if !eof {
                        trailing += std::io::copy(&mut input.reader, &mut std::io::sink())?;
                    }
                    return Ok(Finished { rdb_bytes: offset, trailing });
                }
            }
            Status::NeedMore { needed } => {
                if eof {
                    parser.finish(pending).with_context(|| format!("{} is not a valid RDB", input.name))?;
                    bail!("{}: the parser stopped without reaching the end", input.name);
                }
                buf.drain(..start);
                start = 0;
                eof =
                    fill(&mut input.reader, &mut buf, needed).with_context(|| format!("cannot read {}", input.name))?;
            }
        }
    }
}

/// Reads until `buf` holds at least `needed` bytes (and at least one read step more than
/// now) or the input ends; `true` at the end.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, needed: usize) -> std::io::Result<bool> {
    let target = needed.max(buf.len() + READ_STEP);
    while buf.len() < target {
        let old = buf.len();
        buf.resize(target, 0);
        let n = loop {
            match reader.read(buf.get_mut(old..).unwrap_or_default()) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        };
        buf.truncate(old + n);
        if n == 0 {
            return Ok(true);
        }
        if buf.len() >= needed {
            break;
        }
    }
    Ok(false)
}
