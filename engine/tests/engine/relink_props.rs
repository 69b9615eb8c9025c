use lineagedb_engine::{Props, Value};

use crate::support::{build, fresh_db, props, r};

#[test]
fn relinking_in_the_same_transaction_with_other_properties_replaces_them() {
    let (_dir, db) = fresh_db();
    build(&db, &["dataset:a", "run:r"], &[]);
    let mut tx = db.begin_write().unwrap();
    tx.link(&r("dataset:a"), &r("run:r"), "input", props(&[("cols", Value::Int(3))])).unwrap();
    tx.unlink(&r("dataset:a"), &r("run:r"), None).unwrap();
    tx.link(&r("dataset:a"), &r("run:r"), "input", Props::new()).unwrap();
    tx.commit().unwrap();
    let detail = db.begin_read().unwrap().node_detail(&r("run:r")).unwrap();
    assert_eq!(detail.incoming.len(), 1);
    assert_eq!(detail.incoming[0].props, Props::new(), "the edge was linked without properties");
}
