//! Helpers shared by every test module: a fresh database per test, short
//! ways to write references and properties, and result flattening.

use std::collections::BTreeSet;
use std::path::PathBuf;

use lineagedb_engine::{Database, NodeKey, NodeRef, Props, Reached, Value};
use tempfile::TempDir;

/// A fresh file-backed database in its own temporary directory. Keep the
/// `TempDir` alive as long as the database is used.
pub fn fresh_db() -> (TempDir, Database) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Database::builder().author("tester").create(db_path(&dir)).expect("create database");
    (dir, db)
}

/// The database file inside a directory made by `fresh_db`.
pub fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("lineage.redb")
}

/// Parses a reference such as `model:fraud@3`, `model:fraud@production` or `dataset:tx`.
pub fn r(text: &str) -> NodeRef {
    text.parse().unwrap_or_else(|e| panic!("bad reference {text:?} in a test: {e}"))
}

/// Parses an exact key such as `model:fraud@3`.
pub fn k(text: &str) -> NodeKey {
    text.parse().unwrap_or_else(|e| panic!("bad key {text:?} in a test: {e}"))
}

/// Builds a property map.
pub fn props(pairs: &[(&str, Value)]) -> Props {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
}

/// `(key text, depth)` of traversal results, as a set.
pub fn reached(results: &[Reached]) -> BTreeSet<(String, u32)> {
    results.iter().map(|r| (r.node.key.to_string(), r.depth)).collect()
}

/// Builds the expected `(key, depth)` set from literals.
pub fn expect_reached(pairs: &[(&str, u32)]) -> BTreeSet<(String, u32)> {
    pairs.iter().map(|(key, depth)| ((*key).to_owned(), *depth)).collect()
}

/// The number of snapshots committed so far.
pub fn snapshot_count(db: &Database) -> u64 {
    let read = db.begin_read().expect("begin read");
    let count = read.snapshots(None).expect("snapshot log").len() as u64;
    assert_eq!(count, read.latest_snapshot(), "snapshot ids are 1..=latest without gaps");
    count
}

/// Creates `type:name` nodes (one version each) and the given edges in one
/// commit; returns the snapshot id.
pub fn build(db: &Database, nodes: &[&str], edges: &[(&str, &str, &str)]) -> u64 {
    let mut tx = db.begin_write().expect("begin write");
    for node in nodes {
        let (type_name, name) = node.split_once(':').expect("type:name");
        tx.create_node(type_name, name, Props::new()).expect("create node");
    }
    for (from, to, label) in edges {
        tx.link(&r(from), &r(to), label, Props::new()).expect("link");
    }
    tx.commit().expect("commit")
}
