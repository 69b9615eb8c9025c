//! Snapshots: every commit is one (id, time, author, message), and every
//! read can go back to any of them and returns exactly what a read then
//! returned, aliases included.

use std::collections::BTreeMap;

use lineagedb_engine::{Database, EntityKey, Error, NodeDetail, Props, ReadTx, Timestamp, Value};

use crate::support::{fresh_db, props, r, snapshot_count};

/// Everything a reader can see at its snapshot, in a comparable form.
#[derive(Debug, PartialEq)]
struct Dump {
    snapshot: u64,
    details: Vec<NodeDetail>,
    aliases: BTreeMap<String, BTreeMap<String, u64>>,
    ancestors: Vec<(String, Vec<(String, u32)>)>,
    snapshot_log: usize,
    audit_entries: usize,
}

fn dump(read: &ReadTx) -> Dump {
    let nodes = read.find(None).unwrap();
    let mut details = Vec::new();
    let mut aliases = BTreeMap::new();
    let mut ancestors = Vec::new();
    for node in &nodes {
        details.push(read.node_detail(&node.key.to_ref()).unwrap());
        let entity = node.key.entity();
        aliases.insert(entity.to_string(), read.aliases(&entity).unwrap());
        let up = read.ancestors(&node.key.to_ref()).collect().unwrap();
        ancestors.push((node.key.to_string(), up.iter().map(|x| (x.node.key.to_string(), x.depth)).collect()));
    }
    Dump {
        snapshot: read.snapshot(),
        details,
        aliases,
        ancestors,
        snapshot_log: read.snapshots(None).unwrap().len(),
        audit_entries: read.audit(&Default::default()).unwrap().len(),
    }
}

/// Runs a scripted history and returns the dump taken right after each commit.
fn scripted_history(db: &Database) -> Vec<Dump> {
    let mut dumps = Vec::new();
    let step = |f: &dyn Fn(&mut lineagedb_engine::WriteTx)| {
        let mut tx = db.begin_write().unwrap();
        f(&mut tx);
        tx.commit().unwrap();
        dump(&db.begin_read().unwrap())
    };
    dumps.push(step(&|tx| {
        tx.create_node("dataset", "tx", props(&[("rows", Value::Int(100)), ("owner", Value::from("ana"))])).unwrap();
        tx.create_node("run", "train_1", Props::new()).unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.link(&r("dataset:tx"), &r("run:train_1"), "input", Props::new()).unwrap();
        tx.link(&r("run:train_1"), &r("model:fraud"), "output", Props::new()).unwrap();
    }));
    dumps.push(step(&|tx| {
        tx.promote(&r("model:fraud@1"), "production", Some("first")).unwrap();
        tx.set(&r("dataset:tx@1"), props(&[("owner", Value::from("bob"))])).unwrap();
    }));
    dumps.push(step(&|tx| {
        tx.create_node("dataset", "tx", props(&[("rows", Value::Int(200))])).unwrap();
        tx.create_node("run", "train_2", Props::new()).unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.link(&r("dataset:tx@2"), &r("run:train_2"), "input", Props::new()).unwrap();
        tx.link(&r("model:fraud@1"), &r("run:train_2"), "warm_start", Props::new()).unwrap();
        tx.link(&r("run:train_2"), &r("model:fraud@2"), "output", Props::new()).unwrap();
        tx.promote(&r("model:fraud@2"), "production", Some("retrained")).unwrap();
    }));
    dumps.push(step(&|tx| {
        tx.unlink(&r("model:fraud@1"), &r("run:train_2"), Some("warm_start")).unwrap();
        tx.delete(&r("dataset:tx@1"), true).unwrap();
    }));
    dumps.push(step(&|tx| {
        tx.promote(&r("model:fraud@1"), "production", Some("rollback")).unwrap();
        tx.create_node("deployment", "api", Props::new()).unwrap();
        tx.link(&r("model:fraud@production"), &r("deployment:api"), "deployed_as", Props::new()).unwrap();
    }));
    dumps
}

#[test]
fn every_commit_is_a_snapshot_with_id_time_author_and_message() {
    let (_dir, db) = fresh_db();
    assert_eq!(snapshot_count(&db), 0);
    for (i, author) in ["ana", "bob", "carol"].iter().enumerate() {
        let mut tx = db.begin_write().unwrap();
        tx.author(*author);
        if i != 1 {
            tx.message(format!("commit {i}"));
        }
        assert_eq!(tx.snapshot(), i as u64 + 1);
        tx.create_node("dataset", "tx", Props::new()).unwrap();
        tx.create_node("dataset", "other", Props::new()).unwrap();
        assert_eq!(tx.commit().unwrap(), i as u64 + 1);
    }
    let read = db.begin_read().unwrap();
    let log = read.snapshots(None).unwrap();
    let ids: Vec<u64> = log.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![3, 2, 1], "newest first");
    assert_eq!(log[0].author, "carol");
    assert_eq!(log[1].author, "bob");
    assert_eq!(log[2].author, "ana");
    assert_eq!(log[0].message.as_deref(), Some("commit 2"));
    assert_eq!(log[1].message, None);
    assert!(log.iter().all(|s| s.changes == 2));
    assert!(log[0].time > log[1].time && log[1].time > log[2].time, "commit times increase");
    assert_eq!(read.snapshots(Some(2)).unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 2]);
    let old = db.begin_read_at(2).unwrap().snapshots(None).unwrap();
    assert_eq!(old.iter().map(|s| s.id).collect::<Vec<_>>(), vec![2, 1]);

    // A transaction that changes nothing makes no snapshot.
    let tx = db.begin_write().unwrap();
    assert_eq!(tx.commit().unwrap(), 3);
    assert_eq!(snapshot_count(&db), 3);
}

#[test]
fn reads_at_any_past_snapshot_return_exactly_what_a_read_then_returned() {
    let (_dir, db) = fresh_db();
    let dumps = scripted_history(&db);
    assert_eq!(dumps.len(), 5);
    // Sanity: the history really changes what is seen.
    assert_ne!(dumps[0], dumps[1]);
    assert_ne!(dumps[2].aliases, dumps[1].aliases);
    for (i, then) in dumps.iter().enumerate() {
        let s = i as u64 + 1;
        assert_eq!(then.snapshot, s);
        assert_eq!(&dump(&db.begin_read_at(s).unwrap()), then, "begin_read_at({s})");
        assert_eq!(&dump(&db.begin_read().unwrap().as_of(s).unwrap()), then, "as_of({s})");
    }
    // The alias moved back: production resolves per snapshot.
    let production = |s: u64| db.begin_read_at(s).unwrap().resolve(&r("model:fraud@production")).unwrap().version;
    assert_eq!((production(2), production(3), production(4), production(5)), (1, 2, 2, 1));
    // The deleted dataset is visible before its deletion only.
    assert!(db.begin_read_at(3).unwrap().node(&r("dataset:tx@1")).is_ok());
    assert!(matches!(db.begin_read_at(4).unwrap().node(&r("dataset:tx@1")), Err(Error::Deleted { .. })));
}

#[test]
fn reads_at_a_time_pick_the_latest_snapshot_at_or_before_it() {
    let (_dir, db) = fresh_db();
    let times = ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"];
    for t in times {
        let mut tx = db.begin_write().unwrap();
        tx.set_time(Timestamp::parse_rfc3339(t).unwrap()).unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.commit().unwrap();
    }
    let ts = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
    let at = |t: &str| db.begin_read_at_time(ts(t)).unwrap();
    assert_eq!(at("2026-01-01T00:00:00Z").snapshot(), 1);
    assert_eq!(at("2026-01-31T23:59:59Z").snapshot(), 1);
    assert_eq!(at("2026-02-01T00:00:00Z").snapshot(), 2);
    assert_eq!(at("2026-02-15T00:00:00Z").resolve(&r("model:fraud")).unwrap().version, 2);
    assert_eq!(at("2030-01-01T00:00:00Z").snapshot(), 3);
    assert!(matches!(
        db.begin_read_at_time(ts("2025-12-31T23:59:59Z")),
        Err(Error::NoSnapshotAtTime { first, .. }) if first == "2026-01-01T00:00:00Z"
    ));
    assert!(
        matches!(db.begin_read().unwrap().as_of_time(ts("2026-02-02T00:00:00Z")), Ok(read) if read.snapshot() == 2)
    );
    // Commit times cannot go backwards.
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.set_time(ts("2026-02-15T00:00:00Z")), Err(Error::TimeGoesBackwards { .. })));
}

#[test]
fn snapshot_ids_outside_the_log_are_refused() {
    let (_dir, db) = fresh_db();
    assert!(matches!(db.begin_read_at(1), Err(Error::NoSuchSnapshot { requested: 1, latest: 0 })));
    crate::support::build(&db, &["model:fraud"], &[]);
    assert!(matches!(db.begin_read_at(0), Err(Error::NoSuchSnapshot { requested: 0, latest: 1 })));
    assert!(matches!(db.begin_read_at(2), Err(Error::NoSuchSnapshot { requested: 2, latest: 1 })));
    assert_eq!(db.begin_read_at(1).unwrap().snapshot(), 1);
}

#[test]
fn an_open_read_transaction_keeps_its_snapshot_while_others_commit() {
    let (_dir, db) = fresh_db();
    crate::support::build(&db, &["dataset:a", "run:r"], &[("dataset:a", "run:r", "input")]);
    let pinned = db.begin_read().unwrap();
    let before = dump(&pinned);
    let mut tx = db.begin_write().unwrap();
    tx.create_node("dataset", "b", Props::new()).unwrap();
    tx.link(&r("dataset:b"), &r("run:r"), "input", Props::new()).unwrap();
    tx.delete(&r("dataset:a"), true).unwrap();
    tx.commit().unwrap();
    assert_eq!(dump(&pinned), before);
    assert_eq!(pinned.latest_snapshot(), 1);
    let after = dump(&db.begin_read().unwrap());
    assert_eq!(after.snapshot, 2);
    assert_ne!(after, before);
    let upstream = db.begin_read().unwrap().ancestors(&r("run:r")).collect().unwrap();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0].node.key.entity(), EntityKey::new("dataset", "b").unwrap());
}
