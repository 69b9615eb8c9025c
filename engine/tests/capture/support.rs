//! Helpers shared by the capture tests: a fresh database per test, the
//! fixture paths, imports, and short ways to list what a traversal reached.

use std::collections::BTreeSet;
use std::path::PathBuf;

use lineagedb_engine::{
    Database, ImportError, ImportReport, Node, NodeKey, NodeRef, OpenLineageImporter, OpenLineageOptions, Reached,
};
use tempfile::TempDir;

/// A fresh file-backed database in its own temporary directory. Keep the
/// `TempDir` alive as long as the database is used.
pub fn fresh_db() -> (TempDir, Database) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Database::builder().author("tester").create(dir.path().join("lineage.redb")).expect("create database");
    (dir, db)
}

/// `tests/fixtures/openlineage/<name>` at the workspace root.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/openlineage").join(name)
}

/// Imports files or directories (as `lineagedb import --format openlineage` does).
pub fn import_paths(db: &Database, paths: &[PathBuf], skip_invalid: bool) -> Result<ImportReport, ImportError> {
    let options = OpenLineageOptions { skip_invalid, ..OpenLineageOptions::default() };
    let mut importer = OpenLineageImporter::new(db, options).expect("begin import");
    for path in paths {
        importer.read_path(path, &mut |_| {})?;
    }
    importer.commit()
}

/// Imports JSON Lines text as the file `file`.
pub fn import_text(db: &Database, file: &str, text: &str, skip_invalid: bool) -> Result<ImportReport, ImportError> {
    let options = OpenLineageOptions { skip_invalid, ..OpenLineageOptions::default() };
    let mut importer = OpenLineageImporter::new(db, options).expect("begin import");
    importer.read(file, text.as_bytes(), &mut |_| {})?;
    importer.commit()
}

/// Parses a reference such as `model:fraud@3` or `dataset:"s3://b/x"`.
pub fn r(text: &str) -> NodeRef {
    text.parse().unwrap_or_else(|e| panic!("bad reference {text:?} in a test: {e}"))
}

/// The node a reference resolves to at the latest snapshot.
pub fn node(db: &Database, reference: &str) -> Node {
    db.begin_read().expect("read").node(&r(reference)).unwrap_or_else(|e| panic!("{reference}: {e}"))
}

/// Keys of traversal results, as a set of strings.
pub fn keys(results: &[Reached]) -> BTreeSet<String> {
    results.iter().map(|r| r.node.key.to_string()).collect()
}

/// A set of strings from literals.
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Every node key and every edge (`from -label-> to`) at the latest snapshot.
pub fn graph(db: &Database) -> (BTreeSet<String>, BTreeSet<String>) {
    let read = db.begin_read().expect("read");
    let nodes = read.find(None).expect("find");
    let mut edges = BTreeSet::new();
    for n in &nodes {
        let detail = read.node_detail(&n.key.to_ref()).expect("detail");
        for e in detail.outgoing {
            edges.insert(format!("{} -{}-> {}", e.from, e.label, e.to));
        }
    }
    (nodes.iter().map(|n| n.key.to_string()).collect(), edges)
}

/// An exact key.
pub fn k(text: &str) -> NodeKey {
    text.parse().unwrap_or_else(|e| panic!("bad key {text:?} in a test: {e}"))
}
