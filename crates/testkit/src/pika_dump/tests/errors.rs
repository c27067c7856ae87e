//! Dumps that do not read: each a `PikaError` naming the directory or key; and a sink that
//! stops the reader.

use rocksdb::{ColumnFamilyDescriptor, Options, DB};

use super::*;
use crate::pika_dump::{Expiry, Generation, PikaDump, V4_FAMILIES};
use replicant_pika::PikaError;

fn read(dir: &Path, format: DumpFormat) -> Result<DumpSummary, PikaError> {
    read_dump(dir, &DumpLayout::new(0, format), super::super::now_ms(), |_| true)
}

#[test]
fn an_undecodable_record_is_an_error_naming_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = PikaDump::create(tmp.path(), Generation::V4 { instances: 1 }).unwrap();
    // A meta value whose type byte is none of Pika's.
    d.raw_put("0", "default", &floyd_meta_key(b"bad\0key"), &[9; 45]);
    let dir = d.finish().unwrap();
    let e = read(&dir, DumpFormat::Floyd { instances: 1 }).unwrap_err();
    assert!(matches!(&e, PikaError::DumpKey { key, .. } if key == b"bad\0key"), "{e}");
    assert!(e.to_string().contains("\"bad\\x00key\"") && e.to_string().contains("unknown type"), "{e}");
}

#[test]
fn a_hash_field_cut_short_is_an_error_naming_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = PikaDump::create(tmp.path(), Generation::V4 { instances: 1 }).unwrap();
    // A hash of version 42 whose only field has a value too short for its 24-byte suffix.
    d.raw_put("0", "default", &floyd_meta_key(b"h"), &floyd_meta_value(DataType::Hashes, 1, 42, 0, 0));
    d.raw_put("0", "hash_data_cf", &floyd_data_key(b"h", 42, b"f"), b"short");
    let dir = d.finish().unwrap();
    let e = read(&dir, DumpFormat::Floyd { instances: 1 }).unwrap_err();
    assert!(matches!(&e, PikaError::DumpKey { key, .. } if key == b"h"), "{e}");
    assert!(e.to_string().contains("24-byte suffix"), "{e}");
}

#[test]
fn instances_missing_or_extra_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = PikaDump::create(tmp.path(), Generation::V4 { instances: 2 }).unwrap();
    d.string(b"s", b"v", Expiry::None);
    let dir = d.finish().unwrap();
    let e = read(&dir, DumpFormat::Floyd { instances: 3 }).unwrap_err();
    assert!(matches!(&e, PikaError::Dump { why, .. } if why.contains("no instance directory 2/")), "{e}");
    let e = read(&dir, DumpFormat::Floyd { instances: 1 }).unwrap_err();
    assert!(matches!(&e, PikaError::Dump { why, .. } if why.contains("beyond")), "{e}");
    let e = DumpFormat::detect(&dir.join("nothing")).unwrap_err();
    assert!(e.to_string().contains("neither a Pika 4.x dump"), "{e}");
}

/// An instance whose `list_data_cf` was made with RocksDB's default comparator is not a
/// Pika one: RocksDB refuses to open it with Pika's, and the error says so.
#[test]
fn a_directory_without_pikas_comparators_does_not_open() {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    let families = V4_FAMILIES.iter().map(|f| ColumnFamilyDescriptor::new(*f, Options::default()));
    drop(DB::open_cf_descriptors(&opts, tmp.path().join("0"), families).unwrap());
    let e = read(tmp.path(), DumpFormat::Floyd { instances: 1 }).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, PikaError::Dump { .. }), "{text}");
    assert!(text.contains("floyd.ListsDataKeyComparator") && text.contains("does not match"), "{text}");
    // Not a RocksDB directory at all.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let e = read(&tmp.path().join("empty"), DumpFormat::Floyd { instances: 1 }).unwrap_err();
    assert!(matches!(e, PikaError::Dump { .. }), "{e}");
}

#[test]
fn a_sink_that_says_stop_stops_the_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = PikaDump::create(tmp.path(), Generation::V4 { instances: 2 }).unwrap();
    for i in 0..5000 {
        d.string(format!("k{i}").as_bytes(), b"v", Expiry::None);
    }
    let dir = d.finish().unwrap();
    let mut pieces = 0;
    let layout = DumpLayout::new(0, DumpFormat::Floyd { instances: 2 });
    let summary = read_dump(&dir, &layout, super::super::now_ms(), |_| {
        pieces += 1;
        false
    })
    .unwrap();
    assert_eq!(pieces, 1);
    assert!(summary.stopped && summary.keys < 5000, "{summary:?}");
}
