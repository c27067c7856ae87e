//! `replicant rdb dump`: RESP commands for `redis-cli --pipe`, or JSON lines.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use replicant_convert::{Commands, ConvertConfig, Converter, TargetProfile};

use super::feed::{parse_input, Input};
use super::json::JsonDump;
use crate::cli::{DumpArgs, DumpFormat};

const FLUSH_AT: usize = 1 << 20;

pub(crate) fn dump(args: &DumpArgs) -> anyhow::Result<ExitCode> {
    let mut input = Input::open(&args.file)?;
    let out = BufWriter::with_capacity(FLUSH_AT, std::io::stdout().lock());
    let parser = args.parser.config();
    match args.format {
        DumpFormat::Json => {
            let mut json = JsonDump::new(out);
            parse_input(&mut input, parser, |event| Ok(json.event(event)?))?;
            json.into_inner().flush()?;
        }
        DumpFormat::Resp => {
            let target = match &args.target_version {
                Some(v) => super::parse_target_version(v)?,
                None => TargetProfile::latest(),
            };
            let cfg = ConvertConfig::default().mode(args.mode.into()).target(target);
            let mut converter = Converter::new(cfg);
            let mut cmds = Commands::new();
            let mut out = out;
            parse_input(&mut input, parser, |event| {
                converter.event(event, &mut cmds)?;
                if cmds.bytes().len() >= FLUSH_AT {
                    out.write_all(cmds.bytes())?;
                    cmds.clear();
                }
                Ok(())
            })?;
            out.write_all(cmds.bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
