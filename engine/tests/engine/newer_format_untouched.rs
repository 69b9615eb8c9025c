use lineagedb_engine::{Database, Error, tamper_format};

use crate::support::{build, db_path, fresh_db};

#[test]
fn a_refused_newer_format_file_is_left_byte_for_byte_untouched() {
    let (dir, db) = fresh_db();
    build(&db, &["model:fraud"], &[]);
    drop(db);
    let path = db_path(&dir);
    tamper_format(&path, 99).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(Database::open(&path), Err(Error::NewerFormat { found: 99, .. })));
    let after = std::fs::read(&path).unwrap();
    assert!(
        before == after,
        "a refused open rewrote {} bytes of the file",
        before.iter().zip(&after).filter(|(a, b)| a != b).count()
    );
}

#[test]
fn a_file_from_an_older_development_format_is_refused_clearly_and_left_untouched() {
    let (dir, db) = fresh_db();
    build(&db, &["model:fraud"], &[]);
    drop(db);
    let path = db_path(&dir);
    tamper_format(&path, 1).unwrap();
    let before = std::fs::read(&path).unwrap();
    match Database::open(&path) {
        Err(e @ Error::OlderFormat { found: 1, .. }) => assert!(e.to_string().contains("re-create it"), "{e}"),
        other => panic!("expected OlderFormat, got {other:?}"),
    }
    assert!(before == std::fs::read(&path).unwrap(), "a refused open changed the file");
}
