//! HyperLogLogs as Kvrocks 2.10 stores them (`src/types/redis_hyperloglog.cc`,
//! `src/types/hyperloglog.cc`, `src/vendor/murmurhash2.h`): Redis' dense registers (the
//! same MurmurHash64A and seed, 16384 six-bit registers packed LSB-first) cut into 16
//! segments of 1024 registers (768 bytes), each a subkey named by its index in decimal;
//! only segments with a register set are written.

use std::collections::BTreeMap;

use super::encode::{Encoding, Expiry, KvType};
use super::{Cf, KvrocksCheckpoint};

/// `kHyperLogLogHashSeed`.
const SEED: u32 = 0xadc8_3b19;
/// Register index bits (`kHyperLogLogRegisterCountPow`) and the hash bits after them.
const INDEX_BITS: u32 = 14;
const HASH_BITS: u32 = 50;
/// Registers and bytes per segment.
const SEGMENT_REGISTERS: u32 = 1024;
const SEGMENT_BYTES: usize = 768;

impl KvrocksCheckpoint {
    /// `PFADD k e ...` (`HyperLogLog::Add`): LogData `11`, the changed segments, and the
    /// metadata (`encode_type` 0, dense).
    pub fn hyperloglog<E: AsRef<[u8]>>(
        &mut self,
        ns: &str,
        key: impl AsRef<[u8]>,
        elements: &[E],
        expiry: Expiry,
        enc: Encoding,
    ) {
        let key = key.as_ref();
        let (meta, _) = self.open_key(ns, key, KvType::HyperLogLog, enc);
        let mut segments: BTreeMap<u32, (Vec<u8>, bool)> = BTreeMap::new();
        for element in elements {
            let (index, count) = register_of(murmur64a(element.as_ref(), SEED));
            let (segment, register) = (index / SEGMENT_REGISTERS, index % SEGMENT_REGISTERS);
            let entry = segments.entry(segment).or_insert_with(|| {
                let sub_key = self.internal_key(ns, key, meta.version, segment.to_string().as_bytes());
                (self.get(Cf::Default, &sub_key).unwrap_or_else(|| vec![0; SEGMENT_BYTES]), false)
            });
            if count > get_register(&entry.0, register) {
                set_register(&mut entry.0, register, count);
                entry.1 = true;
            }
        }
        if segments.values().any(|(_, dirty)| *dirty) {
            let mut w = self.write(Some(KvType::HyperLogLog.id().to_string()));
            for (segment, (bytes, _)) in segments.iter().filter(|(_, (_, dirty))| *dirty) {
                w.put(Cf::Default, &self.internal_key(ns, key, meta.version, segment.to_string().as_bytes()), bytes);
            }
            let mut bytes = meta.encode();
            bytes.push(0);
            w.put(Cf::Metadata, &self.ns_key(ns, key), &bytes);
            w.commit();
        }
        self.expire_at(ns, key, expiry);
    }
}

/// `HllMurMurHash64A`: MurmurHash2, 64-bit, little-endian blocks (Redis' `MurmurHash64A`).
pub(super) fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = u64::from(seed) ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate() {
            h ^= u64::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// `ExtractDenseHllResult`: the register index (low 14 bits) and the length of the run of
/// zeros after them, plus one.
pub(super) fn register_of(hash: u64) -> (u32, u8) {
    let index = (hash & ((1 << INDEX_BITS) - 1)) as u32;
    let rest = (hash >> INDEX_BITS) | (1 << HASH_BITS);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// `HllDenseGetRegister`.
pub(super) fn get_register(registers: &[u8], index: u32) -> u8 {
    let (byte, fb) = ((index * 6 / 8) as usize, index * 6 % 8);
    let b0 = u32::from(registers[byte]);
    let b1 = if fb > 2 { u32::from(registers[byte + 1]) } else { 0 };
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// `HllDenseSetRegister`.
pub(super) fn set_register(registers: &mut [u8], index: u32, value: u8) {
    let (byte, fb) = ((index * 6 / 8) as usize, index * 6 % 8);
    let v = u32::from(value);
    registers[byte] &= !((63u32 << fb) as u8);
    registers[byte] |= (v << fb) as u8;
    if fb > 2 {
        registers[byte + 1] &= !((63u32 >> (8 - fb)) as u8);
        registers[byte + 1] |= (v >> (8 - fb)) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_pack_six_bits_lsb_first() {
        let mut regs = vec![0u8; SEGMENT_BYTES];
        for i in 0..SEGMENT_REGISTERS {
            set_register(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..SEGMENT_REGISTERS {
            assert_eq!(get_register(&regs, i), (i % 64) as u8, "register {i}");
        }
        let mut regs = vec![0u8; 3];
        set_register(&mut regs, 1, 0x3f);
        assert_eq!(regs, [0xc0, 0x0f, 0x00]);
    }

    #[test]
    fn murmur_and_register_index() {
        // The tail bytes and the empty input take their own paths.
        assert_ne!(murmur64a(b"a", SEED), murmur64a(b"b", SEED));
        assert_ne!(murmur64a(b"", SEED), murmur64a(b"12345678", SEED));
        assert_eq!(register_of(0), (0, 51));
        assert_eq!(register_of(1 << 14 | 5), (5, 1));
        assert_eq!(register_of(0b100 << 14), (0, 3));
    }
}
