//! The running CRC-64/REDIS (Jones polynomial, reflected, init 0, no final xor) that
//! RDB files end with. With the `fast-crc` feature (default) it is computed with SIMD by
//! `crc-fast`; without it, by the table-driven `crc` crate. Both give the same value.

/// An incremental CRC-64/REDIS.
#[derive(Clone)]
pub(crate) struct Crc64(Inner);

#[cfg(feature = "fast-crc")]
type Inner = crc_fast::Digest;

#[cfg(not(feature = "fast-crc"))]
type Inner = crc::Digest<'static, u64, crc::Table<16>>;

#[cfg(not(feature = "fast-crc"))]
static TABLE: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS);

impl Crc64 {
    pub(crate) fn new() -> Self {
        #[cfg(feature = "fast-crc")]
        return Crc64(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc64Redis));
        #[cfg(not(feature = "fast-crc"))]
        return Crc64(TABLE.digest());
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The CRC of everything given so far.
    pub(crate) fn value(&self) -> u64 {
        #[cfg(feature = "fast-crc")]
        return self.0.finalize();
        #[cfg(not(feature = "fast-crc"))]
        return self.0.clone().finalize();
    }
}

/// The CRC-64/REDIS of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut c = Crc64::new();
    c.update(bytes);
    c.value()
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_value_of_the_catalogue() {
        assert_eq!(super::crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn matches_the_table_driven_crate() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let reference = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_REDIS).checksum(&data);
        let mut c = super::Crc64::new();
        for chunk in data.chunks(777) {
            c.update(chunk);
        }
        assert_eq!(c.value(), reference);
    }
}
