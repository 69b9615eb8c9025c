//! The database file: everything survives closing and reopening, and files
//! that are not (or no longer) LineageDB databases give a clear error,
//! never a panic, and are left byte for byte as they were.

use std::path::Path;

use lineagedb_engine::{
    AuditFilter, Database, EntityKey, Error, FORMAT_VERSION, Props, Value, downgrade_to_format_3,
    downgrade_to_format_4, tamper_format,
};

use crate::support::{build, db_path, fresh_db, k, props, r};

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// Opens `path` with both `open` and `create` and returns the errors; checks
/// the file is unchanged after each attempt.
fn refuse(path: &Path) -> Vec<Error> {
    refuse_checking_bytes(path, true)
}

fn refuse_checking_bytes(path: &Path, unchanged: bool) -> Vec<Error> {
    let before = bytes(path);
    let mut errors = Vec::new();
    let attempts: [fn(&Path) -> lineagedb_engine::Result<Database>; 2] =
        [|p| Database::open(p), |p| Database::create(p)];
    for attempt in attempts {
        let result = std::panic::catch_unwind(|| attempt(path));
        match result {
            Ok(Ok(_)) => panic!("{} was opened but must be refused", path.display()),
            Ok(Err(e)) => errors.push(e),
            Err(_) => panic!("opening {} panicked", path.display()),
        }
        if unchanged {
            assert!(bytes(path) == before, "{} was modified by a refused open", path.display());
        }
    }
    let cached = Database::builder().adjacency_cache(0).open(path);
    assert!(cached.is_err());
    if unchanged {
        assert!(bytes(path) == before);
    }
    errors
}

#[test]
fn a_text_file_is_not_a_database_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "dataset,rows\ntransactions,100\n".repeat(500)).unwrap();
    for e in refuse(&path) {
        assert!(matches!(&e, Error::NotLineageDb { path: p, .. } if p == &path), "{e:?}");
        let message = e.to_string();
        assert!(message.contains("not a LineageDB database") && message.contains("untouched"), "{message}");
    }
}

#[test]
fn short_and_zeroed_garbage_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("three.bin", vec![1u8, 2, 3]),
        ("zeros.bin", vec![0u8; 4096]),
        ("almost.bin", b"redb\x1a\x0a".to_vec()),
        ("noise.bin", (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &content).unwrap();
        for e in refuse(&path) {
            assert!(matches!(e, Error::NotLineageDb { .. }), "{name}: {e:?}");
        }
        assert_eq!(bytes(&path), content);
    }
}

#[test]
fn a_truncated_database_is_refused_without_panicking_or_writing() {
    let (dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    for i in 0..300 {
        tx.create_node("dataset", &format!("d{i}"), props(&[("payload", Value::from("x".repeat(200)))])).unwrap();
    }
    tx.commit().unwrap();
    drop(db);
    let original = bytes(&db_path(&dir));
    assert!(original.len() > 8192);
    let truncated = dir.path().join("truncated.redb");
    std::fs::write(&truncated, &original[..original.len() / 2]).unwrap();
    for e in refuse(&truncated) {
        assert!(
            matches!(e, Error::NotLineageDb { .. } | Error::Corrupt { .. } | Error::Storage(_)),
            "a clear error, got {e:?}"
        );
    }
    // The original is still fine.
    let db = Database::open(db_path(&dir)).unwrap();
    assert_eq!(db.begin_read().unwrap().find(Some("dataset")).unwrap().len(), 300);
}

#[test]
fn a_newer_format_is_refused_with_the_versions_named() {
    let (dir, db) = fresh_db();
    build(&db, &["model:fraud"], &[]);
    drop(db);
    tamper_format(&db_path(&dir), 99).unwrap();
    // Byte-for-byte equality is not asserted here: a refused open of a
    // newer-format file currently lets redb rewrite allocator pages (reported
    // separately). What is asserted: the error, and that no data is lost.
    for e in refuse_checking_bytes(&db_path(&dir), false) {
        match &e {
            Error::NewerFormat { found, supported, .. } => {
                assert_eq!((*found, *supported), (99, FORMAT_VERSION));
                assert!(e.to_string().contains("upgrade"), "{e}");
            }
            other => panic!("expected NewerFormat, got {other:?}"),
        }
    }
    tamper_format(&db_path(&dir), FORMAT_VERSION).unwrap();
    let db = Database::open(db_path(&dir)).unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.resolve(&r("model:fraud")).unwrap(), k("model:fraud@1"));
    assert!(read.verify().unwrap().is_ok());
}

#[test]
fn opening_a_missing_file_is_an_error_but_create_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.redb");
    assert!(
        matches!(Database::open(&path), Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(!path.exists());
    let db = Database::create(&path).unwrap();
    assert_eq!(db.path(), Some(path.as_path()));
    assert_eq!(db.begin_read().unwrap().latest_snapshot(), 0);
}

#[test]
fn an_empty_file_becomes_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.redb");
    std::fs::write(&path, b"").unwrap();
    let db = Database::open(&path).unwrap();
    build(&db, &["model:fraud"], &[]);
    drop(db);
    assert_eq!(Database::open(&path).unwrap().begin_read().unwrap().latest_snapshot(), 1);
}

#[test]
fn a_file_open_in_another_handle_is_reported_as_locked() {
    let (dir, db) = fresh_db();
    build(&db, &["model:fraud"], &[]);
    let second = Database::open(db_path(&dir));
    assert!(matches!(second, Err(Error::Locked { .. })), "{second:?}");
    // The first handle is unaffected, and clones share it.
    let clone = db.clone();
    assert_eq!(clone.begin_read().unwrap().latest_snapshot(), 1);
}

#[test]
fn an_open_with_a_busy_timeout_waits_for_the_holder_to_let_go() {
    let (dir, db) = fresh_db();
    build(&db, &["model:fraud"], &[]);
    let path = db_path(&dir);
    // Given up on after the wait, naming how long it waited.
    let start = std::time::Instant::now();
    match Database::builder().busy_timeout(std::time::Duration::from_millis(100)).open(&path) {
        Err(Error::Locked { waited, holders, .. }) => {
            assert!(waited >= std::time::Duration::from_millis(100), "{waited:?}");
            assert!(start.elapsed() >= std::time::Duration::from_millis(100));
            if std::path::Path::new("/proc/self/fd").exists() {
                assert!(holders.iter().any(|h| h.starts_with("this process")), "{holders:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    // Read-only opens wait the same way.
    let read_only = Database::builder().busy_timeout(std::time::Duration::from_millis(50)).open_read_only(&path);
    assert!(matches!(read_only, Err(Error::Locked { .. })), "{read_only:?}");
    // Opened as soon as the holder lets go.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(db);
    });
    let second = Database::builder().busy_timeout(std::time::Duration::from_secs(20)).open(&path).expect("opened");
    releaser.join().unwrap();
    assert_eq!(second.begin_read().unwrap().latest_snapshot(), 1);
    // Read-only handles share the file with each other.
    drop(second);
    let a = Database::open_read_only(&path).expect("first reader");
    let b = Database::builder().busy_timeout(std::time::Duration::ZERO).open_read_only(&path).expect("second reader");
    assert_eq!(a.begin_read().unwrap().latest_snapshot(), b.begin_read().unwrap().latest_snapshot());
}

#[test]
fn everything_survives_closing_and_reopening() {
    let (dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.author("ana").message("first");
    tx.create_node("dataset", "tx", props(&[("rows", Value::Int(7))])).unwrap();
    tx.create_node("model", "fraud", Props::new()).unwrap();
    tx.link(&r("dataset:tx"), &r("model:fraud"), "input", props(&[("cols", Value::Int(3))])).unwrap();
    tx.promote(&r("model:fraud@1"), "production", Some("first")).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.author("bob");
    tx.create_node("model", "fraud", Props::new()).unwrap();
    tx.promote(&r("model:fraud@2"), "production", None).unwrap();
    tx.unlink(&r("dataset:tx"), &r("model:fraud@1"), None).unwrap();
    tx.commit().unwrap();

    let snapshot = |db: &Database| {
        let read = db.begin_read().unwrap();
        let entity = EntityKey::new("model", "fraud").unwrap();
        (
            read.snapshots(None).unwrap(),
            read.find(None).unwrap(),
            read.history(&entity).unwrap(),
            read.audit(&AuditFilter::default()).unwrap(),
            db.begin_read_at(1).unwrap().node_detail(&r("model:fraud@1")).unwrap(),
            db.begin_read_at(1).unwrap().resolve(&r("model:fraud@production")).unwrap(),
        )
    };
    let before = snapshot(&db);
    drop(db);
    let db = Database::open(db_path(&dir)).unwrap();
    let after = snapshot(&db);
    assert_eq!(after, before);
    assert_eq!(after.5, k("model:fraud@1"));
    assert_eq!(db.begin_read().unwrap().resolve(&r("model:fraud@production")).unwrap(), k("model:fraud@2"));
    assert_eq!(after.4.incoming.len(), 1);
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
    // Writing continues where it stopped: versions, snapshots and the chain.
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@3"));
    assert_eq!(tx.commit().unwrap(), 3);
    let entries = db.begin_read().unwrap().audit(&AuditFilter::default()).unwrap();
    assert_eq!(entries.last().unwrap().prev_hash, before.3.last().unwrap().hash);
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

#[test]
fn a_read_only_open_reads_everything_writes_nothing_and_shares_the_file() {
    let (dir, db) = fresh_db();
    build(&db, &["dataset:tx", "model:fraud"], &[("dataset:tx", "model:fraud", "input")]);
    drop(db);
    let path = db_path(&dir);
    let before = std::fs::read(&path).unwrap();
    let first = Database::open_read_only(&path).unwrap();
    let second = Database::open_read_only(&path).unwrap();
    for db in [&first, &second] {
        let up = db.begin_read().unwrap().ancestors(&"model:fraud".parse().unwrap()).collect().unwrap();
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].node.key.to_string(), "dataset:tx@1");
    }
    match first.begin_write() {
        Err(e @ Error::ReadOnly { .. }) => assert!(e.to_string().contains("read-only"), "{e}"),
        other => panic!("expected ReadOnly, got {other:?}"),
    }
    drop((first, second));
    assert!(before == std::fs::read(&path).unwrap(), "a read-only open changed the file");
    assert!(matches!(Database::open_read_only(dir.path().join("missing.redb")), Err(Error::Io { .. })));
}

/// Everything a format 3 file holds reads the same after the in-place
/// upgrade; a read-only open says the upgrade is needed and writes nothing.
#[test]
fn a_format_3_file_is_upgraded_in_place_by_a_read_write_open() {
    upgraded_in_place(3, downgrade_to_format_3);
}

/// The same for a format 4 file (adjacency blocks of fixed entries).
#[test]
fn a_format_4_file_is_upgraded_in_place_by_a_read_write_open() {
    upgraded_in_place(4, downgrade_to_format_4);
}

fn upgraded_in_place(found: u32, downgrade: fn(&std::path::Path) -> lineagedb_engine::Result<()>) {
    let (dir, db) = fresh_db();
    // More than one node block (64 ids), several versions, a deletion, a
    // node created and deleted in one commit; edges within and across
    // adjacency blocks (16 ids), one of them unlinked.
    let names: Vec<String> = (0..150).map(|i| format!("dataset:d{}", i % 40)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    build(
        &db,
        &refs[..100],
        &[("dataset:d3@1", "dataset:d4@1", "derived"), ("dataset:d3@1", "dataset:d30@2", "derived")],
    );
    build(&db, &refs[100..], &[("dataset:d1@3", "dataset:d2@3", "derived"), ("dataset:d3@1", "dataset:d39@3", "copy")]);
    let mut tx = db.begin_write().unwrap();
    tx.unlink(&r("dataset:d3@1"), &r("dataset:d4@1"), None).unwrap();
    tx.create_node("model", "m", props(&[("auc", Value::Float(0.9))])).unwrap();
    tx.link(&r("dataset:d2@3"), &r("model:m"), "input", Props::new()).unwrap();
    tx.link(&r("dataset:d3@1"), &r("model:m"), "input", Props::new()).unwrap();
    tx.create_node("model", "gone", Props::new()).unwrap();
    tx.delete(&r("model:gone"), false).unwrap();
    tx.delete(&r("dataset:d5@1"), false).unwrap();
    tx.commit().unwrap();
    let answers = |db: &Database| {
        let read = db.begin_read().unwrap();
        let history: Vec<String> = read
            .versions(&EntityKey::new("dataset", "d1").unwrap())
            .unwrap()
            .iter()
            .map(|n| n.key.to_string())
            .collect();
        let up: Vec<String> =
            read.ancestors(&r("model:m")).collect().unwrap().iter().map(|n| n.node.key.to_string()).collect();
        let down: Vec<String> =
            read.descendants(&r("dataset:d3@1")).collect().unwrap().iter().map(|n| n.node.key.to_string()).collect();
        let was: Vec<String> = db
            .begin_read_at(2)
            .unwrap()
            .descendants(&r("dataset:d3@1"))
            .collect()
            .unwrap()
            .iter()
            .map(|n| n.node.key.to_string())
            .collect();
        let old = db.begin_read_at(2).unwrap().node(&r("dataset:d5@1")).map(|n| n.key.to_string());
        let now = read.node(&r("dataset:d5@1")).map(|n| n.key.to_string()).map_err(|e| e.to_string());
        let m = read.node(&r("model:m")).unwrap();
        assert!(read.verify().unwrap().is_ok());
        format!(
            "{history:?} {up:?} {down:?} {was:?} {old:?} {now:?} {:?} {:?}",
            m.props,
            read.resolve(&r("dataset:d39")).map(|k| k.to_string())
        )
    };
    let before = answers(&db);
    drop(db);
    let path = db_path(&dir);
    downgrade(&path).unwrap();

    let untouched = bytes(&path);
    match Database::open_read_only(&path) {
        Err(e @ Error::NeedsUpgrade { current: FORMAT_VERSION, .. }) => {
            assert!(matches!(e, Error::NeedsUpgrade { found: f, .. } if f == found), "{e}");
            assert!(e.to_string().contains("read-write"), "{e}");
        }
        other => panic!("expected NeedsUpgrade, got {:?}", other.map(|_| ())),
    }
    assert_eq!(bytes(&path), untouched, "a read-only open must not write");

    let db = Database::open(&path).unwrap();
    assert_eq!(answers(&db), before);
    // Writing after the upgrade continues the same entities and ids.
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("dataset", "d1", Props::new()).unwrap(), k("dataset:d1@5"));
    tx.commit().unwrap();
    drop(db);
    let db = Database::open_read_only(&path).unwrap();
    assert_eq!(db.begin_read().unwrap().resolve(&r("dataset:d1")).unwrap(), k("dataset:d1@5"));
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}
