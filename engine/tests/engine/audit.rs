//! The audit log: one hash-chained entry per mutation, filters, and `verify`
//! detecting edited or removed entries in the file.

use lineagedb_engine::{
    AuditFilter, Database, EntityKey, Error, Props, Timestamp, Value, props_to_json, tamper_audit, tamper_remove_audit,
};
use tempfile::TempDir;

use crate::support::{build, db_path, expect_reached, fresh_db, k, props, r, reached};

/// A database with one mutation of every kind; returns its directory, closed.
fn every_mutation() -> TempDir {
    let (dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.author("ana").message("import");
    tx.create_node("dataset", "tx", props(&[("rows", Value::Int(5))])).unwrap(); // 1
    tx.create_node("run", "train", Props::new()).unwrap(); // 2
    tx.create_node("model", "fraud", Props::new()).unwrap(); // 3
    tx.link(&r("dataset:tx"), &r("run:train"), "input", Props::new()).unwrap(); // 4
    tx.link(&r("run:train"), &r("model:fraud"), "output", Props::new()).unwrap(); // 5
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.author("bob");
    tx.set(&r("model:fraud@1"), props(&[("description", Value::from("gbm"))])).unwrap(); // 6
    tx.promote(&r("model:fraud@1"), "production", Some("ok")).unwrap(); // 7
    let detail = props_to_json(&props(&[("lines", Value::Int(3))]));
    tx.record_audit("import_batch", vec!["dataset:tx@1".into()], detail).unwrap(); // 8
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.author("carol");
    tx.unlink(&r("run:train"), &r("model:fraud"), None).unwrap(); // 9
    tx.delete(&r("model:fraud@1"), false).unwrap(); // 10
    tx.commit().unwrap();
    drop(db);
    dir
}

#[test]
fn every_mutation_appends_a_hash_chained_entry() {
    let dir = every_mutation();
    let db = Database::open(db_path(&dir)).unwrap();
    let read = db.begin_read().unwrap();
    let entries = read.audit(&AuditFilter::default()).unwrap();
    let ops: Vec<&str> = entries.iter().map(|e| e.op.as_str()).collect();
    assert_eq!(
        ops,
        [
            "create_node",
            "create_node",
            "create_node",
            "link",
            "link",
            "set",
            "promote",
            "import_batch",
            "unlink",
            "delete"
        ]
    );
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<u64>>());
    let snapshots: Vec<u64> = entries.iter().map(|e| e.snapshot).collect();
    assert_eq!(snapshots, [1, 1, 1, 1, 1, 2, 2, 2, 3, 3]);
    let authors: Vec<&str> = entries.iter().map(|e| e.author.as_str()).collect();
    assert_eq!(authors, ["ana", "ana", "ana", "ana", "ana", "bob", "bob", "bob", "carol", "carol"]);
    assert_eq!(entries[3].subjects, ["dataset:tx@1", "run:train@1"]);
    assert_eq!(entries[9].subjects, ["model:fraud@1"]);
    assert!(entries[0].detail.contains("dataset:tx@1"));
    let log = read.snapshots(None).unwrap();
    for e in &entries {
        assert_eq!(e.time, log.iter().find(|s| s.id == e.snapshot).unwrap().time);
        assert_eq!(e.hash.len(), 64);
        assert_eq!(e.digest.len(), 64);
        assert!(e.hash.chars().all(|c| c.is_ascii_hexdigit()));
    }
    assert_eq!(entries[0].prev_hash, "0".repeat(64));
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "entry {} chains to {}", pair[1].seq, pair[0].seq);
    }
    let hashes: std::collections::BTreeSet<&String> = entries.iter().map(|e| &e.hash).collect();
    assert_eq!(hashes.len(), entries.len());
    // Snapshots count their mutations.
    assert_eq!(log.iter().map(|s| s.changes).collect::<Vec<_>>(), [2, 3, 5]);

    let report = read.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.audit_entries, 10);
    assert_eq!(report.nodes, 3);
    assert_eq!(report.edges, 2);
    assert_eq!(report.snapshots, 3);
    // Reads at an older snapshot see the log as it was then.
    assert_eq!(db.begin_read_at(1).unwrap().audit(&AuditFilter::default()).unwrap().len(), 5);
}

#[test]
fn audit_filters_select_by_entity_node_author_time_and_limit() {
    let dir = every_mutation();
    let db = Database::open(db_path(&dir)).unwrap();
    let read = db.begin_read().unwrap();
    let seqs = |filter: AuditFilter| -> Vec<u64> { read.audit(&filter).unwrap().iter().map(|e| e.seq).collect() };
    assert_eq!(
        seqs(AuditFilter { entity: Some(EntityKey::new("model", "fraud").unwrap()), ..Default::default() }),
        [3, 5, 6, 7, 9, 10]
    );
    assert_eq!(seqs(AuditFilter { node: Some(k("dataset:tx@1")), ..Default::default() }), [1, 4, 8]);
    assert_eq!(seqs(AuditFilter { author: Some("bob".into()), ..Default::default() }), [6, 7, 8]);
    assert_eq!(seqs(AuditFilter { limit: Some(2), ..Default::default() }), [1, 2]);
    let log = read.snapshots(None).unwrap();
    let t2 = log.iter().find(|s| s.id == 2).unwrap().time;
    assert_eq!(seqs(AuditFilter { since: Some(t2), until: Some(t2), ..Default::default() }), [6, 7, 8]);
    assert_eq!(seqs(AuditFilter { since: Some(Timestamp(t2.micros() + 1)), ..Default::default() }), [9, 10]);
    assert!(seqs(AuditFilter { author: Some("mallory".into()), ..Default::default() }).is_empty());
}

#[test]
fn a_failed_transaction_leaves_no_audit_entry() {
    let (_dir, db) = fresh_db();
    crate::support::build(&db, &["job:a", "job:b"], &[("job:a", "job:b", "next")]);
    let mut tx = db.begin_write().unwrap();
    tx.create_node("job", "c", Props::new()).unwrap();
    assert!(matches!(tx.link(&r("job:b"), &r("job:a"), "next", Props::new()), Err(Error::Cycle { .. })));
    assert!(tx.commit().is_err());
    let read = db.begin_read().unwrap();
    assert_eq!(read.audit(&AuditFilter::default()).unwrap().len(), 3);
    assert!(read.verify().unwrap().is_ok());
    // The next entry continues the chain without a gap.
    crate::support::build(&db, &["job:c"], &[]);
    let entries = db.begin_read().unwrap().audit(&AuditFilter::default()).unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(entries[3].prev_hash, entries[2].hash);
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

/// Reopens a tampered file and returns what `verify` found.
fn problems_after(dir: &TempDir) -> Vec<String> {
    let db = Database::open(db_path(dir)).expect("a tampered file still opens");
    let report = db.begin_read().unwrap().verify().unwrap();
    assert!(!report.is_ok());
    report.problems
}

#[test]
fn editing_an_entry_detail_is_detected() {
    let dir = every_mutation();
    tamper_audit(&db_path(&dir), 4, |e| e.detail = e.detail.replace("input", "validation")).unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("audit entry 4")), "{problems:?}");
}

#[test]
fn editing_an_entry_author_is_detected() {
    let dir = every_mutation();
    tamper_audit(&db_path(&dir), 7, |e| e.author = "mallory".into()).unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("audit entry 7") && p.contains("altered")), "{problems:?}");
}

#[test]
fn replacing_an_entry_hash_breaks_the_chain_at_the_next_entry() {
    let dir = every_mutation();
    tamper_audit(&db_path(&dir), 5, |e| {
        e.op = "unlink".into();
        e.hash = [0xab; 32];
    })
    .unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("audit entry 5")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("audit entry 6") && p.contains("chain")), "{problems:?}");
}

#[test]
fn removing_an_entry_is_detected() {
    let dir = every_mutation();
    tamper_remove_audit(&db_path(&dir), 6).unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("audit entry 6 is missing")), "{problems:?}");
}

#[test]
fn removing_the_last_entry_is_detected() {
    let dir = every_mutation();
    tamper_remove_audit(&db_path(&dir), 10).unwrap();
    let problems = problems_after(&dir);
    assert!(!problems.is_empty());
    assert!(problems.iter().any(|p| p.contains("10 were written") || p.contains("last audit entry")), "{problems:?}");
}

#[test]
fn removing_the_first_entry_is_detected() {
    let dir = every_mutation();
    tamper_remove_audit(&db_path(&dir), 1).unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("audit entry 1")), "{problems:?}");
}

#[test]
fn tamper_helpers_refuse_an_entry_that_does_not_exist() {
    let dir = every_mutation();
    assert!(matches!(tamper_audit(&db_path(&dir), 99, |e| e.author.clear()), Err(Error::Corrupt { .. })));
    let db = Database::open(db_path(&dir)).unwrap();
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

#[test]
fn a_batch_that_links_unlinks_and_links_again_still_verifies() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.batch_audit("bulk", serde_json::json!({})).unwrap();
    tx.create_node("dataset", "a", Props::new()).unwrap();
    tx.create_node("run", "r", Props::new()).unwrap();
    let cols = Props::from([("cols".to_owned(), Value::Int(3))]);
    tx.link(&r("dataset:a@1"), &r("run:r@1"), "input", cols).unwrap();
    tx.unlink(&r("dataset:a@1"), &r("run:r@1"), None).unwrap();
    tx.link(&r("dataset:a@1"), &r("run:r@1"), "input", Props::new()).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    let report = read.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let ops: Vec<String> = read.audit(&AuditFilter::default()).unwrap().into_iter().map(|e| e.op).collect();
    assert_eq!(ops, ["unlink", "bulk"]);
}

#[test]
fn verify_reports_progress_up_to_every_audit_entry_and_node() {
    let (_dir, db) = fresh_db();
    crate::support::build(&db, &["dataset:a", "run:r", "model:m"], &[("dataset:a", "run:r", "input")]);
    let read = db.begin_read().unwrap();
    let mut last = (0, 0);
    let report = read.verify_with_progress(&mut |done, total| last = (done, total)).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(last, (report.audit_entries + report.nodes, report.audit_entries + report.nodes));
    assert_eq!(last.0, 4 + 3);
}

#[test]
fn a_reordered_or_misplaced_adjacency_block_is_detected() {
    let (dir, db) = fresh_db();
    crate::support::build(
        &db,
        &["dataset:a", "run:r", "model:m"],
        &[("dataset:a", "run:r", "input"), ("run:r", "model:m", "output")],
    );
    drop(db);
    // Nodes 1 and 2 each have one outgoing edge, both in block 0 (stored as
    // a slot count, three run lengths, then two 5-byte runs of one-byte
    // numbers): repeat node 1's entry in its run (a neighbor delta of 0).
    lineagedb_engine::tamper_adjacency_block(&db_path(&dir), true, 0, |bytes| {
        assert_eq!(bytes[..4], [3, 0, 5, 5]);
        let repeat: Vec<u8> = std::iter::once(0).chain(bytes[5..9].iter().copied()).collect();
        bytes[2] = 10;
        bytes.splice(9..9, repeat);
    })
    .unwrap();
    let problems = problems_after(&dir);
    assert!(
        problems.iter().any(|p| p.contains("adjacency block 0 of out_blocks is damaged") && p.contains("out of order")),
        "{problems:?}"
    );
    // An incoming block cut in the middle of an entry.
    let (dir, db) = fresh_db();
    crate::support::build(&db, &["dataset:a", "run:r"], &[("dataset:a", "run:r", "input")]);
    drop(db);
    lineagedb_engine::tamper_adjacency_block(&db_path(&dir), false, 0, |bytes| bytes.truncate(bytes.len() - 1))
        .unwrap();
    let problems = problems_after(&dir);
    assert!(
        problems.iter().any(|p| p.contains("of in_blocks is damaged") && p.contains("runs add up to")),
        "{problems:?}"
    );
}

#[test]
fn a_damaged_node_block_is_reported_by_verify() {
    let (dir, db) = fresh_db();
    crate::support::build(&db, &["dataset:a", "run:r"], &[("dataset:a", "run:r", "input")]);
    drop(db);
    // Node ids 1 and 2 share block 0; cut it inside the second record.
    lineagedb_engine::tamper_node_block(&db_path(&dir), 0, |bytes| bytes.truncate(bytes.len() - 3)).unwrap();
    let problems = problems_after(&dir);
    assert!(problems.iter().any(|p| p.contains("node block 0 (node ids 0 to 63)")), "{problems:?}");
}

/// A bulk load's nodes are buffered until commit; reads, links and deletes in
/// the same transaction see them, and the batch digest covers them as created.
#[test]
fn a_batch_sees_its_own_new_nodes_and_its_digest_verifies_after_a_delete() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:raw"], &[]);
    let mut tx = db.begin_write().unwrap();
    tx.batch_audit("bulk_load", serde_json::json!({})).unwrap();
    for name in ["a", "b", "c"] {
        tx.create_node("dataset", name, Props::new()).unwrap();
    }
    assert_eq!(tx.create_node("dataset", "a", Props::new()).unwrap(), k("dataset:a@2"));
    assert_eq!(tx.resolve(&r("dataset:a")).unwrap(), k("dataset:a@2"));
    assert!(tx.exists(&r("dataset:c@1")).unwrap());
    tx.link(&r("dataset:raw@1"), &r("dataset:a@1"), "derived", Props::new()).unwrap();
    tx.link(&r("dataset:a@1"), &r("dataset:b@1"), "derived", Props::new()).unwrap();
    tx.delete(&r("dataset:c@1"), false).unwrap();
    let refused = tx.link(&r("dataset:b@1"), &r("dataset:c@1"), "derived", Props::new());
    assert!(matches!(refused, Err(Error::Deleted { .. })), "{refused:?}");
    tx.rollback().unwrap();

    let mut tx = db.begin_write().unwrap();
    tx.batch_audit("bulk_load", serde_json::json!({})).unwrap();
    for name in ["a", "b", "c"] {
        tx.create_node("dataset", name, Props::new()).unwrap();
    }
    tx.link(&r("dataset:raw@1"), &r("dataset:a@1"), "derived", Props::new()).unwrap();
    tx.link(&r("dataset:a@1"), &r("dataset:b@1"), "derived", Props::new()).unwrap();
    tx.delete(&r("dataset:c@1"), false).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    let report = read.verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        reached(&read.ancestors(&r("dataset:b@1")).collect().unwrap()),
        expect_reached(&[("dataset:a@1", 1), ("dataset:raw@1", 2)])
    );
    assert!(matches!(read.node(&r("dataset:c@1")), Err(Error::Deleted { .. })));
}

/// Batches large enough that their digest is hashed on a worker thread while
/// the nodes are created (chunks of 4,096): the digest `verify` recomputes
/// from the stored content matches, with edges that carry properties, edges
/// written early by a read in the middle of the batch, a node created and
/// deleted in the batch, and write buffers that flush mid-transaction.
#[test]
fn large_batch_digests_verify() {
    for write_buffer in [None, Some(64 * 1024)] {
        let dir = tempfile::tempdir().unwrap();
        let builder = match write_buffer {
            Some(bytes) => Database::builder().write_buffer(bytes),
            None => Database::builder(),
        };
        let db = builder.create(db_path(&dir)).unwrap();
        for round in 0..2 {
            let mut tx = db.begin_write().unwrap();
            tx.batch_audit("bulk_load", serde_json::json!({"round": round})).unwrap();
            let n = 9_000;
            let mut keys = Vec::new();
            for i in 0..n {
                let p = if i % 7 == 0 { props(&[("rows", Value::Int(i))]) } else { Props::new() };
                keys.push(tx.create_node("dataset", &format!("d{}", i % 5_000), p).unwrap());
            }
            for i in 1..keys.len() {
                let (from, to) = ((&keys[i - 1]).into(), (&keys[i]).into());
                let p = if i % 11 == 0 { props(&[("w", Value::Float(0.5))]) } else { Props::new() };
                tx.link(&from, &to, "derived", p).unwrap();
                if i == 6_000 {
                    // Unlinking reads adjacency: the buffered edges are written
                    // early. Linked again with other properties, the edge is
                    // buffered again and its last content is what counts.
                    tx.unlink(&from, &to, None).unwrap();
                    tx.link(&from, &to, "derived", props(&[("w", Value::Float(2.0))])).unwrap();
                }
            }
            tx.create_node("model", &format!("gone{round}"), Props::new()).unwrap();
            tx.delete(&r(&format!("model:gone{round}")), false).unwrap();
            tx.commit().unwrap();
        }
        let report = db.begin_read().unwrap().verify().unwrap();
        assert!(report.is_ok(), "write buffer {write_buffer:?}: {:?}", report.problems);
        let entries = db.begin_read().unwrap().audit(&AuditFilter::default()).unwrap();
        let batches: Vec<_> = entries.iter().filter(|e| e.op == "bulk_load").collect();
        assert_eq!(batches.len(), 2);
        assert!(batches[0].detail.contains("\"nodes_created\":9001"), "{}", batches[0].detail);
    }
}
