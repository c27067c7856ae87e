//! A `DUMP` payload: the key's RDB value (its type byte, then the value as an RDB file
//! holds it), then the RDB version that wrote it (2 bytes, little-endian) and a CRC-64 of
//! everything before the CRC (8 bytes, little-endian), as Redis' `createDumpPayload`
//! writes and `verifyDumpPayload` checks them.

/// Bytes of the footer: version and CRC.
pub const FOOTER_LEN: usize = 10;

/// A checked payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// The value: its type byte, then its RDB encoding.
    pub value: &'a [u8],
    /// The RDB version of the server that dumped it.
    pub rdb_version: u16,
}

/// Why a payload does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Shorter than a type byte and the footer.
    TooShort(usize),
    /// The CRC does not match.
    Crc {
        /// The footer's.
        stored: u64,
        /// The bytes'.
        computed: u64,
    },
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::TooShort(len) => write!(f, "is {len} bytes, shorter than a value and its 10-byte footer"),
            PayloadError::Crc { stored, computed } => {
                write!(f, "fails its CRC-64 check (stored {stored:#018x}, computed {computed:#018x})")
            }
        }
    }
}

/// Checks `bytes` (a `DUMP` reply) and splits off its footer. A stored CRC of 0 is
/// accepted unchecked, as Redis does for servers with `rdbchecksum no`.
pub fn split(bytes: &[u8]) -> Result<Payload<'_>, PayloadError> {
    let too_short = || PayloadError::TooShort(bytes.len());
    let body_len = bytes.len().checked_sub(8).filter(|n| *n > 2).ok_or_else(too_short)?;
    let (body, crc) = bytes.split_at_checked(body_len).ok_or_else(too_short)?;
    let (value, version) = body.split_at_checked(body.len() - 2).ok_or_else(too_short)?;
    let stored = u64::from_le_bytes(crc.try_into().map_err(|_| too_short())?);
    if stored != 0 {
        let computed = replicant_rdb::crc64(body);
        if computed != stored {
            return Err(PayloadError::Crc { stored, computed });
        }
    }
    let rdb_version = u16::from_le_bytes(version.try_into().map_err(|_| too_short())?);
    Ok(Payload { value, rdb_version })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// `DUMP` of `SET k hello` on Redis 7.0.15 (RDB 10).
    const HELLO: &[u8] = b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a";

    fn with_crc(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&replicant_rdb::crc64(body).to_le_bytes());
        out
    }

    #[test]
    fn a_payload_splits_into_value_and_version() {
        let bytes = with_crc(b"\x00\x05hello\x0b\x00");
        let p = split(&bytes).unwrap();
        assert_eq!(p.value, b"\x00\x05hello");
        assert_eq!(p.rdb_version, 11);
    }

    #[test]
    fn a_real_redis_payload_checks_out() {
        let p = split(HELLO).unwrap();
        assert_eq!((p.value, p.rdb_version), (&b"\x00\x05hello"[..], 10));
    }

    #[test]
    fn a_flipped_bit_fails_the_crc_and_short_payloads_are_refused() {
        let mut bytes = with_crc(b"\x00\x05hello\x0b\x00");
        bytes[3] ^= 1;
        assert!(matches!(split(&bytes), Err(PayloadError::Crc { .. })));
        assert_eq!(split(b"\x00\x0b\x00"), Err(PayloadError::TooShort(3)));
        assert_eq!(split(b""), Err(PayloadError::TooShort(0)));
        let unchecked = [b"\x00\x01x\x0b\x00".as_slice(), &[0; 8]].concat();
        assert_eq!(split(&unchecked).unwrap().value, b"\x00\x01x");
    }
}
