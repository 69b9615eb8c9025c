//! Fuzz target: any bytes through the JSON Lines importer, into a fresh
//! in-memory database, twice: failing at the first bad line and skipping bad
//! lines. It must never panic; a failed import commits nothing and names a
//! line of the input; an import that commits leaves a database that
//! `verify` finds sound, and every rejected line is a line of the input.
//!
//! Run with `cargo +nightly fuzz run import_jsonl` from `engine/fuzz/`.

#![no_main]

#[path = "check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;
use lineagedb_engine::{Database, ImportOptions, Importer};

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for skip_invalid in [false, true] {
        let db = Database::in_memory().expect("in-memory database");
        let options = ImportOptions { skip_invalid, ..ImportOptions::default() };
        let mut importer = Importer::new(&db, options).expect("begin the import");
        let read = importer.read("fuzz.jsonl", data, &mut |_| {});
        check::after_import(&db, lines, read.and_then(|()| importer.commit()));
    }
});
