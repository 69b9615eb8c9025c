//! Nodes are entity versions: keys, version numbering, external labels,
//! latest resolution, typed properties, engine-recorded fields, immutable
//! content and changeable annotations.

use std::collections::BTreeMap;

use lineagedb_engine::{
    Created, EntityKey, Error, HistoryKind, KeyError, NewNode, NodeRef, Props, Timestamp, Value, VersionSel,
};

use crate::support::{build, db_path, fresh_db, k, props, r, snapshot_count};

#[test]
fn versions_are_numbered_per_entity_in_commit_order() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("dataset", "tx", Props::new()).unwrap(), k("dataset:tx@1"));
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@1"));
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("dataset", "tx", Props::new()).unwrap(), k("dataset:tx@2"));
    // Two versions of one entity in the same commit keep counting.
    assert_eq!(tx.create_node("dataset", "tx", Props::new()).unwrap(), k("dataset:tx@3"));
    // Another type with the same name is another entity.
    assert_eq!(tx.create_node("model", "tx", Props::new()).unwrap(), k("model:tx@1"));
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@2"));
    tx.commit().unwrap();

    let read = db.begin_read().unwrap();
    let versions: Vec<u64> =
        read.versions(&EntityKey::new("dataset", "tx").unwrap()).unwrap().iter().map(|n| n.key.version).collect();
    assert_eq!(versions, vec![1, 2, 3]);
    let node = read.node(&r("dataset:tx@2")).unwrap();
    assert_eq!(node.key, k("dataset:tx@2"));
    assert_eq!(node.created_in, 2);
    assert_eq!(read.node(&r("model:fraud@2")).unwrap().created_in, 3);
    assert_eq!(read.types(), vec!["dataset".to_owned(), "model".to_owned()]);
}

#[test]
fn a_version_number_is_never_reused_after_a_rollback() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.create_node("model", "fraud", Props::new()).unwrap();
    tx.commit().unwrap();
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@2"));
    tx.rollback().unwrap();
    // Dropping without commit rolls back too.
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@2"));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@2"));
    assert_eq!(tx.commit().unwrap(), 2);
    assert_eq!(snapshot_count(&db), 2);
}

#[test]
fn latest_resolves_to_the_newest_live_version_at_the_snapshot_read() {
    let (_dir, db) = fresh_db();
    for _ in 0..3 {
        let mut tx = db.begin_write().unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.commit().unwrap();
    }
    let read = db.begin_read().unwrap();
    assert_eq!(read.resolve(&r("model:fraud")).unwrap(), k("model:fraud@3"));
    assert_eq!(read.resolve(&r("model:fraud@latest")).unwrap(), k("model:fraud@3"));
    assert_eq!(r("model:fraud@latest"), r("model:fraud"));
    assert_eq!(read.node(&r("model:fraud")).unwrap().key, k("model:fraud@3"));
    let old = db.begin_read_at(1).unwrap();
    assert_eq!(old.resolve(&r("model:fraud@latest")).unwrap(), k("model:fraud@1"));
    // A version that does not exist yet at snapshot 1.
    assert!(matches!(old.node(&r("model:fraud@3")), Err(Error::NoSuchNode { .. })));

    // Deleting the newest version makes the previous one the latest.
    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("model:fraud@3"), false).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert_eq!(read.resolve(&r("model:fraud")).unwrap(), k("model:fraud@2"));
    // The next version is still 4: numbers are never reused.
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create_node("model", "fraud", Props::new()).unwrap(), k("model:fraud@4"));
    tx.commit().unwrap();
    assert_eq!(db.begin_read().unwrap().resolve(&r("model:fraud")).unwrap(), k("model:fraud@4"));
    assert_eq!(db.begin_read_at(4).unwrap().resolve(&r("model:fraud")).unwrap(), k("model:fraud@2"));
}

#[test]
fn unknown_references_are_clear_errors() {
    let (_dir, db) = fresh_db();
    let read = db.begin_read().unwrap();
    assert!(matches!(read.node(&r("model:fraud")), Err(Error::NoSuchNode { .. })));
    let mut tx = db.begin_write().unwrap();
    tx.create_node("model", "fraud", Props::new()).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    match read.node(&r("model:fraud@7")) {
        Err(Error::NoSuchNode { reference, hint }) => {
            assert_eq!(reference, "model:fraud@7");
            assert_eq!(hint.as_deref(), Some("latest version is 1"));
        }
        other => panic!("expected NoSuchNode, got {other:?}"),
    }
    assert!(matches!(read.node(&r("model:other")), Err(Error::NoSuchNode { .. })));
    assert!(matches!(read.node(&r("dataset:fraud")), Err(Error::NoSuchNode { .. })));
}

#[test]
fn external_version_labels_resolve_with_quoted_selector() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    let first = tx
        .create(NewNode {
            type_name: "dataset".into(),
            name: "tx".into(),
            label: Some("iceberg-8361542".into()),
            ..NewNode::default()
        })
        .unwrap();
    assert_eq!(first, Created::New(k("dataset:tx@1")));
    let second = tx
        .create(NewNode {
            type_name: "dataset".into(),
            name: "tx".into(),
            label: Some("sha256:abc".into()),
            ..NewNode::default()
        })
        .unwrap();
    assert_eq!(second.key(), &k("dataset:tx@2"));
    tx.commit().unwrap();

    let read = db.begin_read().unwrap();
    let by_label = NodeRef::new("dataset", "tx", VersionSel::Label("iceberg-8361542".into())).unwrap();
    assert_eq!(read.resolve(&by_label).unwrap(), k("dataset:tx@1"));
    assert_eq!(read.resolve(&r("dataset:tx@\"sha256:abc\"")).unwrap(), k("dataset:tx@2"));
    let node = read.node(&by_label).unwrap();
    assert_eq!(node.label.as_deref(), Some("iceberg-8361542"));
    assert!(matches!(read.node(&r("dataset:tx@\"nope\"")), Err(Error::NoSuchNode { .. })));

    // A label names one version only.
    let mut tx = db.begin_write().unwrap();
    let taken = tx.create(NewNode {
        type_name: "dataset".into(),
        name: "tx".into(),
        label: Some("sha256:abc".into()),
        ..NewNode::default()
    });
    match taken {
        Err(Error::LabelTaken { label, version, .. }) => {
            assert_eq!(label, "sha256:abc");
            assert_eq!(version, 2);
        }
        other => panic!("expected LabelTaken, got {other:?}"),
    }
    assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    assert_eq!(snapshot_count(&db), 1);
}

#[test]
fn explicit_versions_must_be_next_and_identical_recreation_is_a_no_op() {
    let (_dir, db) = fresh_db();
    let content = props(&[("rows", Value::Int(10))]);
    let new = |version: u64, props: Props| NewNode {
        type_name: "dataset".into(),
        name: "tx".into(),
        version: Some(version),
        label: None,
        props,
    };
    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create(new(1, content.clone())).unwrap(), Created::New(k("dataset:tx@1")));
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    assert_eq!(tx.create(new(1, content.clone())).unwrap(), Created::Existing(k("dataset:tx@1")));
    // Nothing changed, so the commit makes no snapshot.
    assert_eq!(tx.commit().unwrap(), 1);
    assert_eq!(snapshot_count(&db), 1);

    let mut tx = db.begin_write().unwrap();
    assert!(matches!(
        tx.create(new(1, props(&[("rows", Value::Int(11))]))),
        Err(Error::ExistsWithOtherContent { key }) if key == "dataset:tx@1"
    ));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.create(new(5, content.clone())), Err(Error::VersionConflict { requested: 5, next: 2, .. })));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.create(new(0, content.clone())), Err(Error::Key(KeyError::BadVersion { .. }))));
}

/// Versions created one after another in one transaction (as a bulk import
/// does) follow the same rules as across transactions, deletes included.
#[test]
fn explicit_versions_in_one_transaction_follow_the_same_rules() {
    let (_dir, db) = fresh_db();
    let new = |version: u64| NewNode {
        type_name: "dataset".into(),
        name: "tx".into(),
        version: Some(version),
        label: None,
        props: props(&[("v", Value::Int(version as i64))]),
    };
    let mut tx = db.begin_write().unwrap();
    tx.keep_going_on_error(true);
    assert_eq!(tx.create(new(1)).unwrap(), Created::New(k("dataset:tx@1")));
    assert_eq!(tx.create(new(2)).unwrap(), Created::New(k("dataset:tx@2")));
    assert!(matches!(tx.create(new(4)), Err(Error::VersionConflict { requested: 4, next: 3, .. })));
    assert_eq!(tx.create(new(2)).unwrap(), Created::Existing(k("dataset:tx@2")));
    tx.delete(&r("dataset:tx@2"), false).unwrap();
    // A deleted version keeps its number: the next one is 3, and 2 cannot be made again.
    assert!(matches!(tx.create(new(2)), Err(Error::ExistsWithOtherContent { .. })));
    assert_eq!(tx.create(new(3)).unwrap(), Created::New(k("dataset:tx@3")));
    assert!(matches!(tx.create(new(3)), Ok(Created::Existing(_))));
    assert!(matches!(tx.create(new(5)), Err(Error::VersionConflict { requested: 5, next: 4, .. })));
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    let versions: Vec<u64> = read
        .versions(&lineagedb_engine::EntityKey::new("dataset", "tx").unwrap())
        .unwrap()
        .iter()
        .map(|n| n.key.version)
        .collect();
    assert_eq!(versions, vec![1, 3]);
}

#[test]
fn malformed_keys_are_refused() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.create_node("Bad Type", "x", Props::new()), Err(Error::Key(KeyError::BadType { .. }))));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.create_node("model", "", Props::new()), Err(Error::Key(KeyError::EmptyName))));
    drop(tx);
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.create_node("model", "a\0b", Props::new()), Err(Error::Key(KeyError::NulInName { .. }))));
    drop(tx);
    assert!(matches!("model:fraud@0".parse::<NodeRef>(), Err(KeyError::BadVersion { .. })));
    assert!(matches!("fraud".parse::<NodeRef>(), Err(KeyError::Syntax { .. })));
    assert!(matches!("model:fraud@production".parse::<lineagedb_engine::NodeKey>(), Err(KeyError::Syntax { .. })));
    assert_eq!(snapshot_count(&db), 0);
}

#[test]
fn names_that_need_quotes_round_trip_through_their_key_text() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    let key = tx.create_node("dataset", "s3://bucket/tx.parquet", Props::new()).unwrap();
    let spaced = tx.create_node("dataset", "a name with \"quotes\" and spaces", Props::new()).unwrap();
    tx.commit().unwrap();
    assert_eq!(key.to_string(), "dataset:\"s3://bucket/tx.parquet\"@1");
    let read = db.begin_read().unwrap();
    assert_eq!(read.node(&r(&key.to_string())).unwrap().key, key);
    assert_eq!(read.node(&r(&spaced.to_string())).unwrap().key.name, "a name with \"quotes\" and spaces");
}

fn every_kind_of_value() -> Props {
    let mut hyper = BTreeMap::new();
    hyper.insert("lr".to_owned(), Value::Float(0.05));
    hyper.insert("depth".to_owned(), Value::Int(6));
    hyper.insert("layers".to_owned(), Value::List(vec![Value::Int(64), Value::Int(32)]));
    let mut nested = BTreeMap::new();
    nested.insert("inner".to_owned(), Value::Map(BTreeMap::from([("x".to_owned(), Value::Bool(false))])));
    props(&[
        ("name", Value::from("fraud detector")),
        ("rows", Value::Int(-9_007_199_254_740_993)),
        ("max", Value::Int(i64::MAX)),
        ("auc", Value::Float(0.9375)),
        ("tiny", Value::Float(-1.5e-300)),
        ("good", Value::Bool(true)),
        ("trained_at", Value::Timestamp(Timestamp::parse_rfc3339("2026-11-02T10:30:00.123456Z").unwrap())),
        ("columns", Value::List(vec![Value::from("amount"), Value::Int(3), Value::Null, Value::Bool(false)])),
        ("hyperparameters", Value::Map(hyper)),
        ("facets", Value::Map(nested)),
        ("unicode", Value::from("données ✓ 数据")),
    ])
}

#[test]
fn typed_property_values_are_stored_exactly_and_survive_reopening() {
    let (dir, db) = fresh_db();
    let values = every_kind_of_value();
    let mut tx = db.begin_write().unwrap();
    let key = tx.create_node("model", "fraud", values.clone()).unwrap();
    tx.commit().unwrap();
    let node = db.begin_read().unwrap().node(&key.to_ref()).unwrap();
    assert_eq!(node.props, values);
    assert_eq!(Value::get_path(&node.props, &["hyperparameters", "lr"]), Some(&Value::Float(0.05)));
    drop(db);
    let db = lineagedb_engine::Database::open(db_path(&dir)).unwrap();
    assert_eq!(db.begin_read().unwrap().node(&key.to_ref()).unwrap().props, values);
}

#[test]
fn created_at_in_and_by_are_recorded_by_the_engine() {
    let (_dir, db) = fresh_db();
    let t1 = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let mut tx = db.begin_write().unwrap();
    tx.author("alice").message("first");
    tx.set_time(t1).unwrap();
    tx.create_node("dataset", "tx", Props::new()).unwrap();
    assert_eq!(tx.commit().unwrap(), 1);
    let before = Timestamp::now();
    let mut tx = db.begin_write().unwrap();
    tx.author("bob");
    tx.create_node("dataset", "tx", Props::new()).unwrap();
    tx.commit().unwrap();
    let after = Timestamp::now();

    let read = db.begin_read().unwrap();
    let v1 = read.node(&r("dataset:tx@1")).unwrap();
    assert_eq!((v1.created_at, v1.created_in, v1.created_by.as_str()), (t1, 1, "alice"));
    let v2 = read.node(&r("dataset:tx@2")).unwrap();
    assert_eq!((v2.created_in, v2.created_by.as_str()), (2, "bob"));
    assert!(v2.created_at >= before && v2.created_at <= after, "created_at is the commit time");
    let log = read.snapshots(None).unwrap();
    assert_eq!(log[0].time, v2.created_at);
    // The engine's fields are not user properties and cannot be set.
    assert!(v1.props.is_empty());
    for reserved in ["created_at", "created_in", "created_by"] {
        let mut tx = db.begin_write().unwrap();
        assert!(matches!(
            tx.create_node("dataset", "other", props(&[(reserved, Value::Int(1))])),
            Err(Error::ReservedProperty { property }) if property == reserved
        ));
        drop(tx);
        let mut tx = db.begin_write().unwrap();
        assert!(matches!(
            tx.set(&r("dataset:tx@1"), props(&[(reserved, Value::from("me"))])),
            Err(Error::ReservedProperty { .. })
        ));
    }
    assert_eq!(snapshot_count(&db), 2);
}

#[test]
fn content_is_immutable_and_a_refused_set_aborts_the_transaction() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.create_node("model", "fraud", props(&[("auc", Value::Float(0.91)), ("owner", Value::from("ana"))])).unwrap();
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    tx.create_node("model", "other", Props::new()).unwrap();
    match tx.set(&r("model:fraud@1"), props(&[("auc", Value::Float(0.99))])) {
        Err(Error::ContentImmutable { key, property }) => {
            assert_eq!(key, "model:fraud@1");
            assert_eq!(property, "auc");
        }
        other => panic!("expected ContentImmutable, got {other:?}"),
    }
    // Later operations of the aborted transaction are refused, and nothing commits.
    assert!(matches!(tx.create_node("model", "third", Props::new()), Err(Error::Aborted { .. })));
    assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    assert_eq!(snapshot_count(&db), 1);
    let read = db.begin_read().unwrap();
    assert_eq!(read.node(&r("model:fraud@1")).unwrap().props.get("auc"), Some(&Value::Float(0.91)));
    assert!(matches!(read.node(&r("model:other")), Err(Error::NoSuchNode { .. })));
}

#[test]
fn annotations_change_and_old_values_stay_readable_at_earlier_snapshots() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.create_node(
        "model",
        "fraud",
        props(&[("auc", Value::Float(0.91)), ("owner", Value::from("ana")), ("description", Value::from("v1"))]),
    )
    .unwrap();
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    tx.author("bob");
    let tags = Value::List(vec![Value::from("fraud"), Value::from("gbm")]);
    let key = tx.set(&r("model:fraud"), props(&[("owner", Value::from("bob")), ("tags", tags.clone())])).unwrap();
    assert_eq!(key, k("model:fraud@1"));
    tx.commit().unwrap();

    let mut tx = db.begin_write().unwrap();
    tx.set(&r("model:fraud@1"), props(&[("description", Value::from("v3")), ("notes", Value::from("checked"))]))
        .unwrap();
    tx.commit().unwrap();

    // Null removes an annotation.
    let mut tx = db.begin_write().unwrap();
    tx.set(&r("model:fraud@1"), props(&[("notes", Value::Null)])).unwrap();
    tx.commit().unwrap();

    let at = |s: u64| db.begin_read_at(s).unwrap().node(&r("model:fraud@1")).unwrap().props;
    let p1 = at(1);
    assert_eq!(p1.get("owner"), Some(&Value::from("ana")));
    assert_eq!(p1.get("description"), Some(&Value::from("v1")));
    assert_eq!(p1.get("tags"), None);
    let p2 = at(2);
    assert_eq!(p2.get("owner"), Some(&Value::from("bob")));
    assert_eq!(p2.get("tags"), Some(&tags));
    assert_eq!(p2.get("description"), Some(&Value::from("v1")));
    let p3 = at(3);
    assert_eq!(p3.get("description"), Some(&Value::from("v3")));
    assert_eq!(p3.get("notes"), Some(&Value::from("checked")));
    assert_eq!(p3.get("owner"), Some(&Value::from("bob")));
    let p4 = at(4);
    assert_eq!(p4.get("notes"), None);
    assert_eq!(p4.get("auc"), Some(&Value::Float(0.91)), "content stays");
    assert_eq!(db.begin_read().unwrap().node(&r("model:fraud@1")).unwrap().props, p4);

    let history = db.begin_read().unwrap().history(&EntityKey::new("model", "fraud").unwrap()).unwrap();
    let kinds: Vec<(u64, &HistoryKind)> = history.iter().map(|e| (e.snapshot, &e.kind)).collect();
    assert_eq!(kinds.len(), 4);
    assert!(matches!(kinds[0], (1, HistoryKind::Created { version: 1, label: None })));
    assert!(
        matches!(kinds[1], (2, HistoryKind::Annotated { version: 1, props }) if props.get("owner") == Some(&Value::from("bob")))
    );
    assert_eq!(history[1].author, "bob");
    assert!(matches!(kinds[2], (3, HistoryKind::Annotated { .. })));
    assert!(matches!(kinds[3], (4, HistoryKind::Annotated { .. })));
    // History read at snapshot 2 stops there.
    assert_eq!(db.begin_read_at(2).unwrap().history(&EntityKey::new("model", "fraud").unwrap()).unwrap().len(), 2);
}

#[test]
fn keys_complete_by_type_and_name_prefix() {
    let (_dir, db) = fresh_db();
    build(
        &db,
        &["dataset:transactions", "dataset:transactions", "dataset:tiles", "dataset:s3://b/x", "model:fraud"],
        &[],
    );
    let read = db.begin_read().unwrap();
    assert_eq!(read.keys_with_prefix("dataset:tr", 10).unwrap(), ["dataset:transactions@1", "dataset:transactions@2"]);
    assert_eq!(read.keys_with_prefix("dataset:\"s3", 10).unwrap(), ["dataset:\"s3://b/x\"@1"]);
    assert_eq!(read.keys_with_prefix("mod", 10).unwrap(), ["model:fraud@1"]);
    assert_eq!(read.keys_with_prefix("dataset:", 2).unwrap().len(), 2);
    assert!(read.keys_with_prefix("data:", 10).unwrap().is_empty());
}

/// New entities whose keys fall between stored ones (the dictionary is
/// written in runs, one per gap between stored keys), new versions of stored
/// entities, and a type whose range ends the dictionary: every key resolves
/// and `find` lists them in key order, batch or not, with or without
/// mid-transaction flushes.
#[test]
fn new_entities_between_stored_ones_are_all_found() {
    for (batch, write_buffer) in [(false, None), (true, None), (true, Some(256))] {
        let dir = tempfile::tempdir().unwrap();
        let builder = match write_buffer {
            Some(bytes) => lineagedb_engine::Database::builder().write_buffer(bytes),
            None => lineagedb_engine::Database::builder(),
        };
        let db = builder.create(db_path(&dir)).unwrap();
        let first = ["b", "d", "f", "p1", "p3"];
        let mut tx = db.begin_write().unwrap();
        for name in first {
            tx.create_node("dataset", name, Props::new()).unwrap();
        }
        tx.create_node("model", "m", Props::new()).unwrap();
        tx.commit().unwrap();
        let second = ["a", "c", "c1", "c2", "d", "e", "g", "h", "p10", "p11", "p2", "p30", "p31", "p4"];
        let mut tx = db.begin_write().unwrap();
        if batch {
            tx.batch_audit("bulk_load", serde_json::json!({})).unwrap();
        }
        for name in second {
            tx.create_node("dataset", name, Props::new()).unwrap();
        }
        tx.create_node("model", "m", Props::new()).unwrap();
        tx.create_node("model", "n", Props::new()).unwrap();
        tx.commit().unwrap();
        let read = db.begin_read().unwrap();
        let mut names: Vec<&str> = first.iter().chain(second.iter()).copied().collect();
        names.sort_unstable();
        names.dedup();
        let found: Vec<String> = read.find(Some("dataset")).unwrap().iter().map(|n| n.key.to_string()).collect();
        let want: Vec<String> = names
            .iter()
            .flat_map(|n| {
                if *n == "d" {
                    vec!["dataset:d@1".to_owned(), "dataset:d@2".to_owned()]
                } else {
                    vec![format!("dataset:{n}@1")]
                }
            })
            .collect();
        assert_eq!(found, want, "batch {batch}, write buffer {write_buffer:?}");
        assert_eq!(read.resolve(&r("dataset:d")).unwrap(), k("dataset:d@2"));
        assert_eq!(read.resolve(&r("model:m")).unwrap(), k("model:m@2"));
        assert_eq!(read.resolve(&r("model:n")).unwrap(), k("model:n@1"));
        assert!(read.verify().unwrap().is_ok());
    }
}
