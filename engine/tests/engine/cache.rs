//! The warm adjacency cache never serves stale data: one handle reads,
//! commits, reads again, and reads old snapshots; its answers always equal
//! those of a handle with the cache disabled.

use std::collections::BTreeSet;

use lineagedb_engine::{Database, Props, ReadTx};

use crate::support::{build, db_path, expect_reached, fresh_db, r, reached};

fn upstream(read: &ReadTx, key: &str) -> BTreeSet<(String, u32)> {
    reached(&read.ancestors(&r(key)).collect().unwrap())
}

fn downstream(read: &ReadTx, key: &str) -> BTreeSet<(String, u32)> {
    reached(&read.descendants(&r(key)).collect().unwrap())
}

#[test]
fn a_warm_handle_sees_new_edges_unlinks_and_deletes_and_still_reads_the_past() {
    let (_dir, db) = fresh_db();
    let s1 = build(
        &db,
        &["dataset:a", "run:r", "model:m"],
        &[("dataset:a", "run:r", "input"), ("run:r", "model:m", "output")],
    );
    // Warm the cache in both directions.
    let first = upstream(&db.begin_read().unwrap(), "model:m");
    assert_eq!(first, expect_reached(&[("run:r@1", 1), ("dataset:a@1", 2)]));
    assert_eq!(downstream(&db.begin_read().unwrap(), "dataset:a").len(), 2);

    let s2 = build(&db, &["dataset:b"], &[("dataset:b", "run:r", "input")]);
    assert_eq!(
        upstream(&db.begin_read().unwrap(), "model:m"),
        expect_reached(&[("run:r@1", 1), ("dataset:a@1", 2), ("dataset:b@1", 2)])
    );
    assert_eq!(upstream(&db.begin_read_at(s1).unwrap(), "model:m"), first);

    let mut tx = db.begin_write().unwrap();
    tx.unlink(&r("dataset:a"), &r("run:r"), None).unwrap();
    let s3 = tx.commit().unwrap();
    assert_eq!(upstream(&db.begin_read().unwrap(), "model:m"), expect_reached(&[("run:r@1", 1), ("dataset:b@1", 2)]));
    assert!(downstream(&db.begin_read().unwrap(), "dataset:a").is_empty());
    assert_eq!(downstream(&db.begin_read_at(s2).unwrap(), "dataset:a").len(), 2);

    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("run:r"), true).unwrap();
    let s4 = tx.commit().unwrap();
    assert!(upstream(&db.begin_read().unwrap(), "model:m").is_empty());
    assert!(downstream(&db.begin_read().unwrap(), "dataset:b").is_empty());

    // A new version added upstream is reached again through new edges.
    let mut tx = db.begin_write().unwrap();
    let run2 = tx.create_node("run", "r", Props::new()).unwrap();
    tx.link(&r("dataset:a"), &run2.to_ref(), "input", Props::new()).unwrap();
    tx.link(&run2.to_ref(), &r("model:m"), "output", Props::new()).unwrap();
    let s5 = tx.commit().unwrap();
    assert_eq!(upstream(&db.begin_read().unwrap(), "model:m"), expect_reached(&[("run:r@2", 1), ("dataset:a@1", 2)]));

    // Every snapshot, read on the warm handle, in any order.
    let expected = [
        (s1, expect_reached(&[("run:r@1", 1), ("dataset:a@1", 2)])),
        (s2, expect_reached(&[("run:r@1", 1), ("dataset:a@1", 2), ("dataset:b@1", 2)])),
        (s3, expect_reached(&[("run:r@1", 1), ("dataset:b@1", 2)])),
        (s4, BTreeSet::new()),
        (s5, expect_reached(&[("run:r@2", 1), ("dataset:a@1", 2)])),
    ];
    for (s, want) in expected.iter().rev().chain(expected.iter()) {
        assert_eq!(&upstream(&db.begin_read_at(*s).unwrap(), "model:m"), want, "snapshot {s}");
    }
}

#[test]
fn a_read_transaction_opened_before_a_commit_is_not_served_the_new_edges() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:a", "run:r"], &[("dataset:a", "run:r", "input")]);
    let old = db.begin_read().unwrap();
    assert_eq!(upstream(&old, "run:r").len(), 1);
    build(&db, &["dataset:b"], &[("dataset:b", "run:r", "input")]);
    // The new reader warms the cache with the new lists; the old one must not see them.
    assert_eq!(upstream(&db.begin_read().unwrap(), "run:r").len(), 2);
    assert_eq!(upstream(&old, "run:r"), expect_reached(&[("dataset:a@1", 1)]));
    assert_eq!(downstream(&old, "dataset:a"), expect_reached(&[("run:r@1", 1)]));
    assert_eq!(db.begin_read().unwrap().node_detail(&r("run:r")).unwrap().incoming.len(), 2);
    assert_eq!(old.node_detail(&r("run:r")).unwrap().incoming.len(), 1);
}

#[test]
fn answers_with_and_without_the_cache_agree_at_every_snapshot() {
    let (dir, db) = fresh_db();
    // A layered graph built over several commits, with unlinks and deletes.
    let mut answers_warm = Vec::new();
    for round in 0..6u32 {
        let mut tx = db.begin_write().unwrap();
        for i in 0..4u32 {
            tx.create_node("n", &format!("l{round}_{i}"), Props::new()).unwrap();
            if round > 0 {
                for j in 0..4u32 {
                    if (i + j + round) % 3 != 0 {
                        let from = r(&format!("n:l{}_{j}", round - 1));
                        tx.link(&from, &r(&format!("n:l{round}_{i}")), "e", Props::new()).unwrap();
                    }
                }
            }
        }
        if round >= 2 {
            // The edge l{round-2}_0 -> l{round-1}_1 exists when (1 + 0 + round - 1) % 3 != 0.
            if round % 3 != 0 {
                let (from, to) = (r(&format!("n:l{}_0", round - 2)), r(&format!("n:l{}_1", round - 1)));
                assert_eq!(tx.unlink(&from, &to, None).unwrap(), 1);
            }
            tx.delete(&r(&format!("n:l{}_3", round - 2)), true).unwrap();
        }
        tx.commit().unwrap();
        // Warm reads between commits.
        let read = db.begin_read().unwrap();
        answers_warm.push(upstream(&read, &format!("n:l{round}_2")));
    }
    let latest = db.begin_read().unwrap().latest_snapshot();
    let all = |db: &Database| -> Vec<Vec<BTreeSet<(String, u32)>>> {
        (1..=latest)
            .map(|s| {
                let read = db.begin_read_at(s).unwrap();
                read.find(None)
                    .unwrap()
                    .iter()
                    .flat_map(|n| {
                        let key = n.key.to_string();
                        [upstream(&read, &key), downstream(&read, &key)]
                    })
                    .collect()
            })
            .collect()
    };
    let warm_twice = all(&db);
    assert_eq!(all(&db), warm_twice, "a warmer cache gives the same answers");
    drop(db);
    let cold = Database::builder().adjacency_cache(0).open(db_path(&dir)).unwrap();
    assert_eq!(all(&cold), warm_twice);
    for (round, want) in answers_warm.iter().enumerate() {
        let read = cold.begin_read_at(round as u64 + 1).unwrap();
        assert_eq!(&upstream(&read, &format!("n:l{round}_2")), want);
    }
    assert!(answers_warm.last().unwrap().len() > 4, "the graph is deep enough to matter");
    drop(cold);
    // A tiny budget forces the cache to drop and refill lists constantly.
    let tiny = Database::builder().adjacency_cache(512).open(db_path(&dir)).unwrap();
    assert_eq!(all(&tiny), warm_twice);
}

/// Query starts given as exact keys are remembered by the handle; the memory
/// never answers for a node deleted since, a snapshot before the node existed,
/// or a read transaction that began before the node was created.
#[test]
fn remembered_start_keys_respect_deletes_snapshots_and_older_readers() {
    use lineagedb_engine::Error;
    let (_dir, db) = fresh_db();
    let s1 = build(&db, &["dataset:a", "run:r"], &[("dataset:a", "run:r", "input")]);
    let exact = || r("run:r@1");
    // Resolve once so the start key is remembered, then again from memory.
    for _ in 0..2 {
        let up = reached(&db.begin_read().unwrap().ancestors(&exact()).collect().unwrap());
        assert_eq!(up, expect_reached(&[("dataset:a@1", 1)]));
    }
    // A reader that began before a node existed never sees it, even once
    // another reader has remembered its key.
    let before = db.begin_read().unwrap();
    let s2 = build(&db, &["model:m"], &[("run:r", "model:m", "output")]);
    let m = r("model:m@1");
    assert_eq!(reached(&db.begin_read().unwrap().ancestors(&m).collect().unwrap()).len(), 2);
    assert!(matches!(before.ancestors(&m).collect(), Err(Error::NoSuchNode { .. })));
    assert!(matches!(db.begin_read_at(s1).unwrap().ancestors(&m).collect(), Err(Error::NoSuchNode { .. })));
    // Deleted since it was remembered: the current state says so, the past still answers.
    let mut tx = db.begin_write().unwrap();
    tx.delete(&exact(), true).unwrap();
    let s3 = tx.commit().unwrap();
    assert!(matches!(
        db.begin_read().unwrap().ancestors(&exact()).collect(),
        Err(Error::Deleted { snapshot, .. }) if snapshot == s3
    ));
    let past = reached(&db.begin_read_at(s2).unwrap().descendants(&exact()).collect().unwrap());
    assert_eq!(past, expect_reached(&[("model:m@1", 1)]));
    assert!(db.begin_read().unwrap().path(&r("dataset:a@1"), &m).unwrap().is_none());

    // A reader that began before a delete, resolving after it, sees the node
    // alive (its snapshot) but must not teach the handle that it is alive.
    let old = db.begin_read().unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("model:m@1"), true).unwrap();
    tx.commit().unwrap();
    assert!(old.ancestors(&m).collect().is_ok(), "alive in the older reader's snapshot");
    assert!(matches!(db.begin_read().unwrap().ancestors(&m).collect(), Err(Error::Deleted { .. })));
}
