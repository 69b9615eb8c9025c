//! Shared helpers: a fresh database loaded with the fixture lineage graph,
//! and running a script to the text a user would see.

use std::path::PathBuf;
use std::time::Duration;

use lineagedb_engine::Timestamp;
use lineagedb_query::{Database, Format, Session};

/// `query/test_data/...`
pub fn test_data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data").join(path)
}

/// The first commit time of the fixture.
pub const FIXTURE_START: &str = "2026-11-01T00:00:00Z";

/// A session on a fresh in-memory database holding the fixture graph, with
/// deterministic commit times (one hour apart) and author `tester` for
/// writes made by the test itself.
pub fn fixture() -> Session {
    let db = Database::in_memory().expect("in-memory database");
    let mut session = Session::new(db);
    let start = Timestamp::parse_rfc3339(FIXTURE_START).expect("valid time");
    session.set_commit_clock(start, Duration::from_secs(3600));
    session.set_author("fixture");
    let src = std::fs::read_to_string(test_data("fixture.lql")).expect("fixture.lql is readable");
    if let Err(e) = session.execute(&src) {
        panic!("the fixture does not load:\n{}", e.render(&src));
    }
    assert!(!session.in_transaction(), "the fixture leaves no transaction open");
    session.set_author("tester");
    session
}

/// Runs `src` and returns what a user sees: each result rendered in
/// `format`, one per line group, then the error if there is one.
pub fn run_to_text(session: &mut Session, src: &str, format: Format) -> String {
    let mut out = Vec::new();
    let outcome = session.execute_each(src, &mut |r| out.push(r.render(format)));
    if let Err(e) = outcome {
        out.push(match format {
            Format::Json => e.to_json().to_string(),
            _ => e.render(src),
        });
    }
    out.join("\n")
}

/// Runs `src`, expecting success, and returns the JSON of each result.
pub fn json(session: &mut Session, src: &str) -> Vec<serde_json::Value> {
    match session.execute(src) {
        Ok(results) => results.iter().map(|r| r.to_json()).collect(),
        Err(e) => panic!("query failed:\n{}", e.render(src)),
    }
}
