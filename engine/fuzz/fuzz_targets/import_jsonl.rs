//! Fuzz target: any bytes through the JSON Lines importer, into a fresh
//! in-memory database, twice: failing at the first bad line and skipping bad
//! lines. It must never panic; a failed import commits nothing and names a
//! line of the input; an import that commits leaves a database that
//! `verify` finds sound, and every rejected line is a line of the input.
//!
//! Run with `cargo +nightly fuzz run import_jsonl` from `engine/fuzz/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lineagedb_engine::{Database, ImportOptions, Importer};

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for skip_invalid in [false, true] {
        let db = Database::in_memory().expect("in-memory database");
        let options = ImportOptions { skip_invalid, ..ImportOptions::default() };
        let mut importer = Importer::new(&db, options).expect("begin the import");
        let read = importer.read("fuzz.jsonl", data, &mut |_| {});
        match read.and_then(|()| importer.commit()) {
            Err(error) => {
                assert!(error.line <= lines, "error at line {} of {lines}: {error}", error.line);
                assert!(!error.reason.is_empty());
                let read = db.begin_read().expect("read");
                assert_eq!(read.latest_snapshot(), 0, "a failed import committed: {error}");
            }
            Ok(report) => {
                for rejected in &report.rejected {
                    assert!(rejected.line >= 1 && rejected.line <= lines, "{rejected:?}");
                }
                let read = db.begin_read().expect("read");
                assert_eq!(read.latest_snapshot(), report.snapshot.unwrap_or(0));
                let verified = read.verify().expect("verify");
                assert!(verified.is_ok(), "verify after an import: {:?}", verified.problems);
            }
        }
    }
});
