//! Crash safety of `archive import`: the `archive_importer` binary is killed
//! with SIGKILL at random moments while it rebuilds a new database from an
//! archive. After every kill the database must open and be either empty
//! (the import's one transaction never committed) or complete: every
//! snapshot of the archive, `verify` passing, and its own archive identical
//! to the one imported, byte for byte.
//!
//! `LINEAGEDB_CRASH_ITERATIONS` sets the number of kills (default 6).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lineagedb_engine::Database;
use lineagedb_tests::{SplitMix64, Workload, commit_once, head_of, import_once};

const DEFAULT_ITERATIONS: usize = 6;

fn iterations() -> usize {
    std::env::var("LINEAGEDB_CRASH_ITERATIONS")
        .ok()
        .map(|text| {
            text.trim().parse().unwrap_or_else(|_| panic!("LINEAGEDB_CRASH_ITERATIONS={text:?} is not a count"))
        })
        .unwrap_or(DEFAULT_ITERATIONS)
}

/// A source database of both workloads (a few thousand nodes), and its archive.
fn source_archive(dir: &Path) -> Vec<u8> {
    let db = Database::create(dir.join("source.lineagedb")).expect("source database");
    for round in 0..12 {
        let head = head_of(&db.begin_read().expect("read")).expect("head");
        if round % 2 == 0 {
            commit_once(&db, head.as_ref()).expect("commit");
        } else {
            import_once(&db, head.as_ref()).expect("import");
        }
    }
    let mut archive = Vec::new();
    db.export_archive(&mut archive, &mut |_, _| {}).expect("export");
    archive
}

/// Runs the importer; kills it `kill_after` after it is ready (never, with
/// `None`). Returns whether it reported the commit, and how long it ran.
fn run_importer(db: &Path, archive: &Path, kill_after: Option<Duration>) -> (bool, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_archive_importer"))
        .arg(db)
        .arg(archive)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn archive_importer");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
    let started = Instant::now();
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).any(|l| l.starts_with("committed")));
    match kill_after {
        Some(delay) => {
            std::thread::sleep(delay);
            child.kill().expect("kill");
        }
        None => assert!(child.wait().expect("wait").success(), "the importer failed"),
    }
    let _ = child.wait();
    let committed = reader.join().expect("stdout reader");
    (committed, started.elapsed())
}

/// The database at `path` is empty, or holds the whole archive.
fn check(path: &Path, archive: &[u8], reported: bool, iteration: usize) -> bool {
    let db = Database::open(path).unwrap_or_else(|e| panic!("iteration {iteration}: the database does not open: {e}"));
    let read = db.begin_read().expect("read");
    if read.latest_snapshot() == 0 {
        assert!(!reported, "iteration {iteration}: the import was reported committed but the database is empty");
        assert!(read.find(None).expect("find").is_empty(), "iteration {iteration}: nodes without a snapshot");
        assert!(read.verify().expect("verify").is_ok(), "iteration {iteration}: the empty database fails verify");
        return false;
    }
    let report = read.verify().expect("verify");
    assert!(report.is_ok(), "iteration {iteration}: {:?}", report.problems);
    let mut again = Vec::new();
    db.export_archive(&mut again, &mut |_, _| {}).expect("export");
    assert!(again == archive, "iteration {iteration}: the rebuilt database differs from the archive");
    true
}

#[test]
fn a_killed_archive_import_leaves_an_empty_or_a_complete_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = source_archive(dir.path());
    let archive_path = dir.path().join("source.archive");
    std::fs::write(&archive_path, &archive).expect("write the archive");
    assert!(Workload::Imports.node_count(2) > 0);

    // Once to the end: how long an import takes here.
    let path = dir.path().join("full.lineagedb");
    let (reported, took) = run_importer(&path, &archive_path, None);
    assert!(reported && check(&path, &archive, true, 0));

    let (mut empty, mut complete) = (0, 0);
    let window = took.as_millis().max(20) as u64;
    for iteration in 1..=iterations() {
        let mut rng = SplitMix64(0xA2C4_1BE5 ^ (iteration as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let path = dir.path().join(format!("killed-{iteration}.lineagedb"));
        // Most kills land during the import; some after it ended.
        let delay = Duration::from_millis(rng.below(window + window / 4));
        let (reported, _) = run_importer(&path, &archive_path, Some(delay));
        let whole = check(&path, &archive, reported, iteration);
        eprintln!(
            "iteration {iteration}: killed after {} ms of ~{window} ms: {}",
            delay.as_millis(),
            if whole { "complete" } else { "empty" }
        );
        if whole { complete += 1 } else { empty += 1 }
    }
    eprintln!("{empty} kill(s) left an empty database, {complete} a complete one");
    assert!(empty > 0, "vacuous: no kill landed during an import");
}
