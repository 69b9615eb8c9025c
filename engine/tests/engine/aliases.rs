//! Aliases (stages): promote, resolve `@alias` at any snapshot, and the full
//! history of every move with author, time and reason.

use std::collections::BTreeMap;

use lineagedb_engine::{EntityKey, Error, HistoryKind, NodeRef, Props, VersionSel};

use crate::support::{fresh_db, k, r, snapshot_count};

fn three_versions(db: &lineagedb_engine::Database) {
    let mut tx = db.begin_write().unwrap();
    for _ in 0..3 {
        tx.create_node("model", "fraud", Props::new()).unwrap();
    }
    tx.commit().unwrap();
}

fn promote(db: &lineagedb_engine::Database, author: &str, key: &str, alias: &str, reason: Option<&str>) -> Option<u64> {
    let mut tx = db.begin_write().unwrap();
    tx.author(author);
    let previous = tx.promote(&r(key), alias, reason).unwrap();
    tx.commit().unwrap();
    previous
}

#[test]
fn promote_moves_an_alias_and_resolution_follows_the_snapshot_read() {
    let (_dir, db) = fresh_db();
    three_versions(&db); // snapshot 1
    assert_eq!(promote(&db, "ana", "model:fraud@2", "production", Some("best auc")), None); // 2
    assert_eq!(promote(&db, "bob", "model:fraud@3", "production", Some("retrained")), Some(2)); // 3
    assert_eq!(promote(&db, "ana", "model:fraud@1", "champion", None), None); // 4
    assert_eq!(promote(&db, "carol", "model:fraud@2", "production", Some("rollback: drift")), Some(3)); // 5

    let production = NodeRef::new("model", "fraud", VersionSel::Alias("production".into())).unwrap();
    let at = |s: u64| db.begin_read_at(s).unwrap().resolve(&production);
    assert!(matches!(at(1), Err(Error::NoSuchAlias { alias, .. }) if alias == "production"));
    assert_eq!(at(2).unwrap(), k("model:fraud@2"));
    assert_eq!(at(3).unwrap(), k("model:fraud@3"));
    assert_eq!(at(4).unwrap(), k("model:fraud@3"));
    assert_eq!(at(5).unwrap(), k("model:fraud@2"));
    assert_eq!(db.begin_read().unwrap().resolve(&r("model:fraud@production")).unwrap(), k("model:fraud@2"));
    assert_eq!(db.begin_read().unwrap().node(&r("model:fraud@champion")).unwrap().key, k("model:fraud@1"));

    let entity = EntityKey::new("model", "fraud").unwrap();
    let aliases_at = |s: u64| db.begin_read_at(s).unwrap().aliases(&entity).unwrap();
    assert!(aliases_at(1).is_empty());
    assert_eq!(aliases_at(3), BTreeMap::from([("production".to_owned(), 3)]));
    assert_eq!(aliases_at(5), BTreeMap::from([("champion".to_owned(), 1), ("production".to_owned(), 2)]));
    let detail = db.begin_read_at(3).unwrap().node_detail(&r("model:fraud@3")).unwrap();
    assert_eq!(detail.aliases, vec!["production".to_owned()]);
    assert!(db.begin_read_at(5).unwrap().node_detail(&r("model:fraud@3")).unwrap().aliases.is_empty());

    // An unknown alias names the ones that exist.
    match db.begin_read().unwrap().resolve(&r("model:fraud@staging")) {
        Err(Error::NoSuchAlias { entity, alias, hint }) => {
            assert_eq!((entity.as_str(), alias.as_str()), ("model:fraud", "staging"));
            let hint = hint.expect("a hint");
            assert!(hint.contains("production") && hint.contains("champion"), "{hint}");
        }
        other => panic!("expected NoSuchAlias, got {other:?}"),
    }
}

#[test]
fn every_alias_move_is_in_the_history_with_author_time_and_reason() {
    let (_dir, db) = fresh_db();
    three_versions(&db);
    promote(&db, "ana", "model:fraud@2", "production", Some("best auc"));
    promote(&db, "bob", "model:fraud@3", "production", None);
    promote(&db, "carol", "model:fraud@2", "production", Some("rollback"));

    let read = db.begin_read().unwrap();
    let log = read.snapshots(None).unwrap();
    let history = read.history(&EntityKey::new("model", "fraud").unwrap()).unwrap();
    let moves: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.kind {
            HistoryKind::AliasMoved { alias, version, previous, reason } => {
                Some((e.snapshot, e.author.clone(), e.time, alias.clone(), *version, *previous, reason.clone()))
            }
            _ => None,
        })
        .collect();
    let time_of = |s: u64| log.iter().find(|x| x.id == s).unwrap().time;
    assert_eq!(
        moves,
        vec![
            (2, "ana".into(), time_of(2), "production".into(), Some(2), None, Some("best auc".into())),
            (3, "bob".into(), time_of(3), "production".into(), Some(3), Some(2), None),
            (4, "carol".into(), time_of(4), "production".into(), Some(2), Some(3), Some("rollback".into())),
        ]
    );
    let created = history.iter().filter(|e| matches!(e.kind, HistoryKind::Created { .. })).count();
    assert_eq!(created, 3);
    assert!(history.windows(2).all(|w| w[0].snapshot <= w[1].snapshot), "history is in snapshot order");

    // History read at snapshot 3 does not see the rollback yet.
    let old = db.begin_read_at(3).unwrap().history(&EntityKey::new("model", "fraud").unwrap()).unwrap();
    assert_eq!(old.iter().filter(|e| matches!(e.kind, HistoryKind::AliasMoved { .. })).count(), 2);

    // Each move is also in the audit log.
    let promotes: Vec<_> = read
        .audit(&lineagedb_engine::AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.op == "promote")
        .map(|e| (e.snapshot, e.author, e.subjects))
        .collect();
    assert_eq!(
        promotes,
        vec![
            (2, "ana".to_owned(), vec!["model:fraud@2".to_owned()]),
            (3, "bob".to_owned(), vec!["model:fraud@3".to_owned()]),
            (4, "carol".to_owned(), vec!["model:fraud@2".to_owned()]),
        ]
    );
}

#[test]
fn invalid_aliases_and_promoting_missing_versions_are_refused() {
    let (_dir, db) = fresh_db();
    three_versions(&db);
    for bad in ["latest", "LATEST", "", "two words", "9lives"] {
        let mut tx = db.begin_write().unwrap();
        assert!(tx.promote(&r("model:fraud@1"), bad, None).is_err(), "alias {bad:?} must be refused");
        assert!(matches!(tx.commit(), Err(Error::Aborted { .. })));
    }
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.promote(&r("model:fraud@9"), "production", None), Err(Error::NoSuchNode { .. })));
    drop(tx);
    assert_eq!(snapshot_count(&db), 1);
}

#[test]
fn an_alias_on_a_deleted_version_does_not_resolve_to_a_live_node() {
    let (_dir, db) = fresh_db();
    three_versions(&db);
    promote(&db, "ana", "model:fraud@2", "production", None);
    let mut tx = db.begin_write().unwrap();
    tx.delete(&r("model:fraud@2"), false).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert!(matches!(read.node(&r("model:fraud@production")), Err(Error::Deleted { .. })));
    assert_eq!(db.begin_read_at(2).unwrap().node(&r("model:fraud@production")).unwrap().key, k("model:fraud@2"));
    let mut tx = db.begin_write().unwrap();
    assert!(matches!(tx.promote(&r("model:fraud@2"), "staging", None), Err(Error::Deleted { .. })));
}
