//! What both importer targets check after an import into a fresh database.

use lineagedb_engine::{Database, ImportError, ImportReport};

/// A failed import committed nothing and names a line of the input's
/// `lines`; an import that committed left a database `verify` finds sound,
/// and every line it rejected is a line of the input.
pub fn after_import(db: &Database, lines: u64, result: Result<ImportReport, ImportError>) {
    let read = db.begin_read().expect("read");
    match result {
        Err(error) => {
            assert!(error.line <= lines, "error at line {} of {lines}: {error}", error.line);
            assert!(!error.reason.is_empty());
            assert_eq!(read.latest_snapshot(), 0, "a failed import committed: {error}");
        }
        Ok(report) => {
            for rejected in &report.rejected {
                assert!(rejected.line <= lines, "{rejected:?}");
            }
            assert_eq!(read.latest_snapshot(), report.snapshot.unwrap_or(0));
            let verified = read.verify().expect("verify");
            assert!(verified.is_ok(), "verify after an import: {:?}", verified.problems);
        }
    }
}
