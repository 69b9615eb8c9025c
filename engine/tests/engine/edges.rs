//! Edges: labels and properties, the DAG rule (a cycle is refused with an
//! error naming it and nothing of the transaction commits), duplicates,
//! unlink and delete as tombstones.

use lineagedb_engine::{Error, Props, Value};

use crate::support::{build, fresh_db, k, props, r, snapshot_count};

#[test]
fn edges_carry_labels_and_properties() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    let ds = tx.create_node("dataset", "tx", Props::new()).unwrap();
    let run = tx.create_node("run", "train_1", Props::new()).unwrap();
    let model = tx.create_node("model", "fraud", Props::new()).unwrap();
    let columns = Value::List(vec![Value::from("amount"), Value::from("merchant")]);
    tx.link(&ds.to_ref(), &run.to_ref(), "input", props(&[("columns", columns.clone())])).unwrap();
    tx.link(&run.to_ref(), &model.to_ref(), "output", Props::new()).unwrap();
    // Another label between the same pair is another edge.
    tx.link(&ds.to_ref(), &run.to_ref(), "validation", Props::new()).unwrap();
    let snapshot = tx.commit().unwrap();

    let read = db.begin_read().unwrap();
    let run_detail = read.node_detail(&r("run:train_1")).unwrap();
    assert_eq!(run_detail.node.key, run);
    assert_eq!(run_detail.incoming.len(), 2);
    let input = run_detail.incoming.iter().find(|e| e.label == "input").expect("input edge");
    assert_eq!((&input.from, &input.to), (&ds, &run));
    assert_eq!(input.props.get("columns"), Some(&columns));
    assert_eq!(input.created_in, snapshot);
    assert!(run_detail.incoming.iter().any(|e| e.label == "validation" && e.props.is_empty()));
    assert_eq!(run_detail.outgoing.len(), 1);
    assert_eq!(run_detail.outgoing[0].label, "output");
    assert_eq!(run_detail.outgoing[0].to, model);
    let ds_detail = read.node_detail(&ds.to_ref()).unwrap();
    assert!(ds_detail.incoming.is_empty());
    assert_eq!(ds_detail.outgoing.len(), 2);
}

#[test]
fn an_edge_closing_a_cycle_is_refused_with_the_cycle_named_and_nothing_commits() {
    let (_dir, db) = fresh_db();
    build(&db, &["job:a", "job:b", "job:c"], &[("job:a", "job:b", "next"), ("job:b", "job:c", "next")]);
    assert_eq!(snapshot_count(&db), 1);

    let mut tx = db.begin_write().unwrap();
    tx.create_node("job", "d", Props::new()).unwrap();
    tx.link(&r("job:c"), &r("job:d"), "next", Props::new()).unwrap();
    let err = tx.link(&r("job:c"), &r("job:a"), "back", Props::new()).unwrap_err();
    match &err {
        Error::Cycle { from, to, cycle } => {
            assert_eq!(from, "job:c@1");
            assert_eq!(to, "job:a@1");
            assert_eq!(cycle, &vec!["job:c@1", "job:a@1", "job:b@1", "job:c@1"]);
        }
        other => panic!("expected Cycle, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("job:c@1 -> job:a@1 -> job:b@1 -> job:c@1"), "{message}");
    assert!(matches!(tx.commit(), Err(Error::Aborted { first }) if first.contains("cycle")));

    assert_eq!(snapshot_count(&db), 1);
    let read = db.begin_read().unwrap();
    assert!(matches!(read.node(&r("job:d")), Err(Error::NoSuchNode { .. })));
    assert!(read.node_detail(&r("job:c")).unwrap().outgoing.is_empty());
    assert!(read.verify().unwrap().is_ok());
}

#[test]
fn self_loops_and_cycles_through_uncommitted_edges_are_refused() {
    let (_dir, db) = fresh_db();
    build(&db, &["job:a"], &[]);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.link(&r("job:a"), &r("job:a"), "self", Props::new()),
        Err(Error::Cycle { cycle, .. }) if cycle == ["job:a@1", "job:a@1"]
    ));
    drop(tx);

    let mut tx = db.begin_write().unwrap();
    tx.create_node("job", "b", Props::new()).unwrap();
    tx.create_node("job", "c", Props::new()).unwrap();
    tx.link(&r("job:a"), &r("job:b"), "next", Props::new()).unwrap();
    tx.link(&r("job:b"), &r("job:c"), "next", Props::new()).unwrap();
    assert!(matches!(
        tx.link(&r("job:c"), &r("job:a"), "next", Props::new()),
        Err(Error::Cycle { cycle, .. }) if cycle.len() == 4
    ));
    assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    assert_eq!(snapshot_count(&db), 1);
    assert!(matches!(db.begin_read().unwrap().node(&r("job:b")), Err(Error::NoSuchNode { .. })));
}

#[test]
fn unlinked_and_deleted_edges_no_longer_count_towards_cycles() {
    let (_dir, db) = fresh_db();
    build(&db, &["job:a", "job:b"], &[("job:a", "job:b", "next")]);
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.unlink(&r("job:a"), &r("job:b"), None).unwrap(), 1);
    tx.link(&r("job:b"), &r("job:a"), "next", Props::new()).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.path(&r("job:b"), &r("job:a")).unwrap().map(|p| p.nodes.len()), Some(2));
    assert_eq!(read.path(&r("job:a"), &r("job:b")).unwrap(), None);
    // Versions are not lineage: a new version of `a` may feed `b` again.
    let mut tx = db.begin_write().unwrap();
    let a2 = tx.create_node("job", "a", Props::new()).unwrap();
    tx.link(&a2.to_ref(), &r("job:b"), "next", Props::new()).unwrap();
    tx.commit().unwrap();
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

#[test]
fn the_same_live_edge_twice_is_refused() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:tx", "run:r"], &[("dataset:tx", "run:r", "input")]);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.link(&r("dataset:tx"), &r("run:r"), "input", Props::new()),
        Err(Error::DuplicateEdge { label, .. }) if label == "input"
    ));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(!tx.link_idempotent(&r("dataset:tx"), &r("run:r"), "input", Props::new()).unwrap());
    assert_eq!(tx.commit().unwrap(), 1, "an idempotent no-op makes no snapshot");
    assert_eq!(db.begin_read().unwrap().node_detail(&r("run:r")).unwrap().incoming.len(), 1);
}

#[test]
fn unlink_is_a_tombstone_visible_to_earlier_snapshots() {
    let (_dir, db) = fresh_db();
    let s1 = build(
        &db,
        &["dataset:tx", "run:r"],
        &[("dataset:tx", "run:r", "input"), ("dataset:tx", "run:r", "validation")],
    );
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.unlink(&r("dataset:tx"), &r("run:r"), Some("input")).unwrap(), 1);
    let s2 = tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.unlink(&r("dataset:tx"), &r("run:r"), None).unwrap(), 1);
    let s3 = tx.commit().unwrap();

    let labels = |s: u64| -> Vec<String> {
        db.begin_read_at(s).unwrap().node_detail(&r("run:r")).unwrap().incoming.into_iter().map(|e| e.label).collect()
    };
    assert_eq!(labels(s1), vec!["input", "validation"]);
    assert_eq!(labels(s2), vec!["validation"]);
    assert!(labels(s3).is_empty());
    // The edge can be added again later; the old one stays history.
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.unlink(&r("dataset:tx"), &r("run:r"), None), Err(Error::NoSuchEdge { label: None, .. })));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.unlink(&r("dataset:tx"), &r("run:r"), Some("never")),
        Err(Error::NoSuchEdge { label: Some(l), .. }) if l == "never"
    ));
    drop(tx);
    let s4 = build(&db, &[], &[("dataset:tx", "run:r", "input")]);
    assert_eq!(labels(s4), vec!["input"]);
    assert_eq!(db.begin_read().unwrap().node_detail(&r("run:r")).unwrap().incoming[0].created_in, s4);
    assert_eq!(labels(s1), vec!["input", "validation"]);
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

#[test]
fn delete_is_refused_with_live_edges_unless_detached_and_is_a_tombstone() {
    let (_dir, db) = fresh_db();
    let s1 = build(
        &db,
        &["dataset:tx", "run:r", "model:m"],
        &[("dataset:tx", "run:r", "input"), ("run:r", "model:m", "output")],
    );

    let mut tx = db.begin_write().unwrap();
    match tx.delete(&r("run:r"), false) {
        Err(Error::HasLiveEdges { key, count }) => {
            assert_eq!(key, "run:r@1");
            assert_eq!(count, 2);
        }
        other => panic!("expected HasLiveEdges, got {other:?}"),
    }
    assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    assert_eq!(snapshot_count(&db), 1);

    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.delete(&r("run:r"), true).unwrap(), k("run:r@1"));
    let s2 = tx.commit().unwrap();

    let now = db.begin_read().unwrap();
    assert!(
        matches!(now.node(&r("run:r@1")), Err(Error::Deleted { key, snapshot }) if key == "run:r@1" && snapshot == s2)
    );
    assert!(matches!(now.node(&r("run:r")), Err(Error::NoSuchNode { .. })));
    assert!(now.find(Some("run")).unwrap().is_empty());
    assert!(now.node_detail(&r("dataset:tx")).unwrap().outgoing.is_empty());
    assert!(now.node_detail(&r("model:m")).unwrap().incoming.is_empty());
    assert!(now.ancestors(&r("model:m")).collect().unwrap().is_empty());
    // The record is kept: by id it shows when it was deleted.
    let id = db.begin_read_at(s1).unwrap().node(&r("run:r")).unwrap().id;
    assert_eq!(now.node_by_id(id).unwrap().deleted_in, Some(s2));

    let then = db.begin_read_at(s1).unwrap();
    let detail = then.node_detail(&r("run:r@1")).unwrap();
    assert_eq!(detail.node.deleted_in, None);
    assert_eq!((detail.incoming.len(), detail.outgoing.len()), (1, 1));
    assert_eq!(then.ancestors(&r("model:m")).collect().unwrap().len(), 2);

    // Nothing can link to a deleted node; a node without edges deletes without detach.
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.link(&r("dataset:tx"), &r("run:r@1"), "input", Props::new()), Err(Error::Deleted { .. })));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("model:m"), false).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.delete(&r("model:m@1"), false), Err(Error::Deleted { .. })));
    drop(tx);
    assert!(db.begin_read().unwrap().verify().unwrap().is_ok());
}

#[test]
fn edge_labels_must_not_be_empty_and_endpoints_must_exist() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:tx", "run:r"], &[]);
    let mut tx = db.begin_write().unwrap();
    assert!(tx.link(&r("dataset:tx"), &r("run:r"), "", Props::new()).is_err());
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.link(&r("dataset:tx"), &r("run:missing"), "input", Props::new()),
        Err(Error::NoSuchNode { .. })
    ));
    assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    assert_eq!(snapshot_count(&db), 1);
}

/// Edges between a committed node and a node of the running transaction are
/// buffered until commit; duplicates, relinks and unlinks among them behave
/// as for any edge, before and after the commit.
#[test]
fn edges_between_old_and_new_nodes_are_checked_before_they_are_written() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:raw", "model:old"], &[]);
    // A transaction that creates a run and links it to the two committed nodes.
    let begin = || {
        let mut tx = db.begin_write().unwrap();
        tx.create_node("run", "train", Props::new()).unwrap();
        tx.link(&r("dataset:raw@1"), &r("run:train@1"), "input", Props::new()).unwrap();
        tx.link(&r("run:train@1"), &r("model:old@1"), "output", props(&[("w", Value::Int(1))])).unwrap();
        tx
    };
    let mut tx = begin();
    let twice = tx.link(&r("dataset:raw@1"), &r("run:train@1"), "input", Props::new());
    assert!(matches!(twice, Err(Error::DuplicateEdge { .. })), "{twice:?}");
    tx.rollback().unwrap();

    let mut tx = begin();
    // The same edge again, idempotently: unchanged when equal, refused when not.
    assert!(!tx.link_idempotent(&r("dataset:raw@1"), &r("run:train@1"), "input", Props::new()).unwrap());
    let other = tx.link_idempotent(&r("run:train@1"), &r("model:old@1"), "output", props(&[("w", Value::Int(2))]));
    assert!(matches!(other, Err(Error::DuplicateEdge { .. })), "{other:?}");
    tx.rollback().unwrap();

    for commit in [false, true] {
        let mut tx = begin();
        assert_eq!(tx.unlink(&r("run:train@1"), &r("model:old@1"), None).unwrap(), 1);
        tx.link(&r("run:train@1"), &r("model:old@1"), "output", Props::new()).unwrap();
        if commit {
            tx.commit().unwrap();
        } else {
            // Closing a cycle through the buffered edges is refused.
            let cycle = tx.link(&r("model:old@1"), &r("dataset:raw@1"), "feeds", Props::new());
            assert!(matches!(cycle, Err(Error::Cycle { .. })), "{cycle:?}");
            tx.rollback().unwrap();
        }
    }
    let read = db.begin_read().unwrap();
    let up: Vec<String> =
        read.ancestors(&r("model:old@1")).collect().unwrap().iter().map(|n| n.node.key.to_string()).collect();
    assert_eq!(up, vec!["run:train@1".to_owned(), "dataset:raw@1".to_owned()]);
    let edges = read.node_detail(&r("run:train@1")).unwrap().outgoing;
    assert_eq!(edges.len(), 1);
    assert!(
        edges[0].props.keys().all(|k| k.starts_with("asserted_")),
        "the relinked edge has no properties of its own: {:?}",
        edges[0].props
    );
    assert!(read.verify().unwrap().is_ok());
}

/// Linking by the ids `create_with_id` returns: the same edges, rules and
/// errors as linking by key, for nodes of the transaction and stored ones.
#[test]
fn nodes_are_linked_by_id() {
    use lineagedb_engine::{Created, NewNode};
    let new = |t: &str, n: &str| NewNode { type_name: t.into(), name: n.into(), ..NewNode::default() };
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    let (created, ds) = tx.create_with_id(new("dataset", "tx")).unwrap();
    assert_eq!(created, Created::New(k("dataset:tx@1")));
    let (_, run) = tx.create_with_id(new("run", "train")).unwrap();
    tx.link_ids(ds, run, "input", props(&[("rows", Value::Int(5))])).unwrap();
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    let (_, model) = tx.create_with_id(new("model", "fraud")).unwrap();
    // A stored node and a new one.
    tx.link_ids(run, model, "output", Props::new()).unwrap();
    // The same rules as `link`: a duplicate and a cycle are refused, naming keys.
    match tx.link_ids(run, model, "output", Props::new()) {
        Err(Error::DuplicateEdge { from, to, .. }) => {
            assert_eq!((from.as_str(), to.as_str()), ("run:train@1", "model:fraud@1"))
        }
        other => panic!("expected DuplicateEdge, got {other:?}"),
    }
    tx.rollback().unwrap();
    let mut tx = db.begin_write().unwrap();
    let (_, model) = tx.create_with_id(new("model", "fraud")).unwrap();
    tx.link_ids(run, model, "output", Props::new()).unwrap();
    assert!(matches!(tx.link_ids(model, ds, "feedback", Props::new()), Err(Error::Cycle { .. })));
    tx.rollback().unwrap();

    let mut tx = db.begin_write().unwrap();
    let (_, model) = tx.create_with_id(new("model", "fraud")).unwrap();
    tx.link_ids(run, model, "output", Props::new()).unwrap();
    // An identical explicit version again: the same id, nothing new.
    let (again, id) = tx.create_with_id(NewNode { version: Some(1), ..new("model", "fraud") }).unwrap();
    assert_eq!((again, id), (Created::Existing(k("model:fraud@1")), model));
    tx.keep_going_on_error(true);
    match tx.link_ids(run, 999, "output", Props::new()) {
        Err(e @ Error::NoSuchNode { .. }) => assert!(e.to_string().contains("#999"), "{e}"),
        other => panic!("expected NoSuchNode, got {other:?}"),
    }
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    let up: Vec<String> =
        read.ancestors(&r("model:fraud")).collect().unwrap().iter().map(|n| n.node.key.to_string()).collect();
    assert_eq!(up, ["run:train@1", "dataset:tx@1"]);
    assert!(read.verify().unwrap().is_ok());

    // A deleted node cannot be linked.
    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("dataset:tx"), true).unwrap();
    match tx.link_ids(ds, model, "input", Props::new()) {
        Err(e @ Error::Deleted { .. }) => assert!(e.to_string().contains("dataset:tx@1"), "{e}"),
        other => panic!("expected Deleted, got {other:?}"),
    }
}
