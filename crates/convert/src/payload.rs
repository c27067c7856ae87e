//! `DUMP`/`RESTORE` payloads: `type | value | u16 LE RDB version | u64 LE CRC-64`, as
//! `createDumpPayload` in Redis's `cluster.c` builds them.

use replicant_rdb::RawValue;

static CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

/// Length of a payload built from `raw`.
pub fn payload_len(raw: &RawValue<'_>) -> usize {
    1 + raw.value.len() + 2 + 8
}

/// Writes the payload for `raw` to `out`.
pub fn write_payload(raw: &RawValue<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(raw.type_byte);
    out.extend_from_slice(raw.value);
    out.extend_from_slice(&raw.version.to_le_bytes());
    let crc = CRC64.checksum(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_redis_dump_of_a_string() {
        // DUMP of SET mykey 10 on an RDB-10 server (rdb-format.md §1.9).
        let mut parser = replicant_rdb::Parser::default();
        let file = b"REDIS0010\xfe\x00\x00\x05mykey\xc0\x0a\xff\x00\x00\x00\x00\x00\x00\x00\x00";
        let mut input: &[u8] = file;
        let mut payload = Vec::new();
        loop {
            let replicant_rdb::Status::Event { event, consumed } = parser.parse(input).unwrap() else {
                panic!("whole file given")
            };
            if let replicant_rdb::Event::Key(k) = event {
                write_payload(&k.raw.unwrap(), &mut payload);
            }
            let end = matches!(event, replicant_rdb::Event::End(_));
            input = &input[consumed..];
            if end {
                break;
            }
        }
        assert_eq!(payload, b"\x00\xc0\x0a\x0a\x00\x6e\x9f\x57\x45\x0e\xae\x63\xbb");
    }
}
