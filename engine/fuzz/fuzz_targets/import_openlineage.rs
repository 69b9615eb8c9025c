//! Fuzz target: any bytes through the OpenLineage importer, as JSON Lines
//! and as one event per file, into a fresh in-memory database: failing at
//! the first bad event and skipping bad events. It must never panic; a
//! failed import commits nothing and names a line of the input; an import
//! that commits leaves a database that `verify` finds sound.
//!
//! Run with `cargo +nightly fuzz run import_openlineage` from `engine/fuzz/`.

#![no_main]

#[path = "check.rs"]
mod check;

use libfuzzer_sys::fuzz_target;
use lineagedb_engine::{Database, OpenLineageImporter, OpenLineageOptions};

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    let text = std::str::from_utf8(data).ok();
    for (skip_invalid, whole_file) in [(false, false), (true, false), (false, true), (true, true)] {
        if whole_file && text.is_none() {
            continue;
        }
        let db = Database::in_memory().expect("in-memory database");
        let options = OpenLineageOptions { skip_invalid, ..OpenLineageOptions::default() };
        let mut importer = OpenLineageImporter::new(&db, options).expect("begin the import");
        let read = match (whole_file, text) {
            (true, Some(text)) => importer.read_event("event.json", 1, text),
            _ => importer.read("events.jsonl", data, &mut |_| {}),
        };
        check::after_import(&db, lines, read.and_then(|()| importer.commit()));
    }
});
