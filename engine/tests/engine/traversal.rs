//! The typed read API: ancestors and descendants with depth, label and type
//! restrictions and predicates, shortest paths, node details, lineage
//! subgraphs, and walks with no depth cap. Every read works at any snapshot.

use lineagedb_engine::{Database, Error, Props};

use crate::support::{build, expect_reached, fresh_db, k, r, reached};

/// A small training pipeline; `dataset:raw` feeds `run:train` both directly
/// and through `run:etl`, so shortest depths matter.
fn pipeline(db: &Database) -> u64 {
    build(
        db,
        &[
            "dataset:raw",
            "run:etl",
            "dataset:clean",
            "dataset:labels",
            "code:repo",
            "run:train",
            "model:fraud",
            "deployment:api",
        ],
        &[
            ("dataset:raw", "run:etl", "input"),
            ("run:etl", "dataset:clean", "output"),
            ("dataset:clean", "run:train", "input"),
            ("dataset:labels", "run:train", "input"),
            ("dataset:raw", "run:train", "input"),
            ("code:repo", "run:train", "code"),
            ("run:train", "model:fraud", "output"),
            ("model:fraud", "deployment:api", "deployed_as"),
        ],
    )
}

#[test]
fn ancestors_report_every_upstream_node_with_its_shortest_depth() {
    let (_dir, db) = fresh_db();
    pipeline(&db);
    let read = db.begin_read().unwrap();
    let up = read.ancestors(&r("model:fraud")).collect().unwrap();
    assert_eq!(
        reached(&up),
        expect_reached(&[
            ("run:train@1", 1),
            ("dataset:clean@1", 2),
            ("dataset:labels@1", 2),
            ("dataset:raw@1", 2),
            ("code:repo@1", 2),
            ("run:etl@1", 3),
        ])
    );
    // Ordered by depth, then key.
    let order: Vec<String> = up.iter().map(|x| x.node.key.to_string()).collect();
    assert_eq!(
        order,
        ["run:train@1", "code:repo@1", "dataset:clean@1", "dataset:labels@1", "dataset:raw@1", "run:etl@1"]
    );
    assert!(read.ancestors(&r("dataset:raw")).collect().unwrap().is_empty());
}

#[test]
fn max_depth_via_only_type_and_filter_restrict_a_walk() {
    let (_dir, db) = fresh_db();
    pipeline(&db);
    let read = db.begin_read().unwrap();
    let fraud = r("model:fraud@1");
    assert_eq!(reached(&read.ancestors(&fraud).max_depth(1).collect().unwrap()), expect_reached(&[("run:train@1", 1)]));
    assert_eq!(read.ancestors(&fraud).max_depth(2).collect().unwrap().len(), 5);
    assert!(read.ancestors(&fraud).max_depth(0).collect().unwrap().is_empty());
    assert_eq!(
        reached(&read.ancestors(&fraud).only_type("dataset").collect().unwrap()),
        expect_reached(&[("dataset:clean@1", 2), ("dataset:labels@1", 2), ("dataset:raw@1", 2)])
    );
    assert_eq!(
        reached(&read.ancestors(&fraud).only_type("dataset").only_type("code").max_depth(2).collect().unwrap()),
        expect_reached(&[("dataset:clean@1", 2), ("dataset:labels@1", 2), ("dataset:raw@1", 2), ("code:repo@1", 2)])
    );
    // Only following data edges leaves the code out but still reaches the ETL run.
    assert_eq!(
        reached(&read.ancestors(&fraud).via(["output", "input"]).collect().unwrap()),
        expect_reached(&[
            ("run:train@1", 1),
            ("dataset:clean@1", 2),
            ("dataset:labels@1", 2),
            ("dataset:raw@1", 2),
            ("run:etl@1", 3),
        ])
    );
    assert_eq!(
        reached(&read.ancestors(&fraud).via(["output"]).collect().unwrap()),
        expect_reached(&[("run:train@1", 1)])
    );
    assert!(read.ancestors(&fraud).via(["no_such_label"]).collect().unwrap().is_empty());
    // The type restriction filters results, not the walk.
    assert_eq!(
        reached(&read.descendants(&r("dataset:raw")).only_type("model").collect().unwrap()),
        expect_reached(&[("model:fraud@1", 2)])
    );
    assert_eq!(
        reached(&read.ancestors(&fraud).filter(|n| n.key.name.contains('e')).collect().unwrap()),
        expect_reached(&[("dataset:clean@1", 2), ("dataset:labels@1", 2), ("code:repo@1", 2), ("run:etl@1", 3)])
    );
    let ids = read.ancestors(&fraud).only_type("run").collect_ids().unwrap();
    assert_eq!(ids.iter().map(|(_, d)| *d).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(read.key_by_id(ids[1].0).unwrap(), k("run:etl@1"));
}

#[test]
fn descendants_walk_edges_forwards() {
    let (_dir, db) = fresh_db();
    pipeline(&db);
    let read = db.begin_read().unwrap();
    assert_eq!(
        reached(&read.descendants(&r("dataset:raw")).collect().unwrap()),
        expect_reached(&[
            ("run:etl@1", 1),
            ("run:train@1", 1),
            ("dataset:clean@1", 2),
            ("model:fraud@1", 2),
            ("deployment:api@1", 3),
        ])
    );
    assert_eq!(
        reached(&read.descendants(&r("dataset:raw")).via(["input", "output"]).max_depth(2).collect().unwrap()),
        expect_reached(&[("run:etl@1", 1), ("run:train@1", 1), ("dataset:clean@1", 2), ("model:fraud@1", 2)])
    );
    assert!(read.descendants(&r("deployment:api")).collect().unwrap().is_empty());
    assert!(matches!(read.descendants(&r("model:missing")).collect(), Err(Error::NoSuchNode { .. })));
}

#[test]
fn version_succession_is_not_lineage() {
    let (_dir, db) = fresh_db();
    pipeline(&db);
    let mut tx = db.begin_write().unwrap();
    tx.create_node("model", "fraud", Props::new()).unwrap();
    tx.commit().unwrap();
    let read = db.begin_read().unwrap();
    assert!(read.ancestors(&r("model:fraud")).collect().unwrap().is_empty());
    assert!(read.descendants(&r("model:fraud@1")).collect().unwrap().iter().all(|x| x.node.key.name != "fraud"));
}

#[test]
fn path_finds_a_shortest_directed_path_at_any_snapshot() {
    let (_dir, db) = fresh_db();
    let s1 = pipeline(&db);
    let read = db.begin_read().unwrap();
    let path = read.path(&r("dataset:raw"), &r("deployment:api")).unwrap().expect("a path");
    assert_eq!(path.nodes, [k("dataset:raw@1"), k("run:train@1"), k("model:fraud@1"), k("deployment:api@1")]);
    assert_eq!(path.labels, ["input", "output", "deployed_as"]);
    assert_eq!(read.path(&r("deployment:api"), &r("dataset:raw")).unwrap(), None, "edges are directed");
    assert_eq!(read.path(&r("dataset:labels"), &r("run:etl")).unwrap(), None);
    let same = read.path(&r("model:fraud"), &r("model:fraud@1")).unwrap().unwrap();
    assert_eq!((same.nodes.len(), same.labels.len()), (1, 0));

    let mut tx = db.begin_write().unwrap();
    tx.unlink(&r("dataset:raw"), &r("run:train"), None).unwrap();
    tx.commit().unwrap();
    let long = db.begin_read().unwrap().path(&r("dataset:raw"), &r("deployment:api")).unwrap().unwrap();
    assert_eq!(long.nodes.len(), 6);
    assert_eq!(long.labels, ["input", "output", "input", "output", "deployed_as"]);
    let old = db.begin_read_at(s1).unwrap().path(&r("dataset:raw"), &r("deployment:api")).unwrap().unwrap();
    assert_eq!(old, path);
    // Depths change with the snapshot too.
    let depth_of_raw = |read: &lineagedb_engine::ReadTx| {
        read.ancestors(&r("model:fraud")).collect().unwrap().iter().find(|x| x.node.key.name == "raw").unwrap().depth
    };
    assert_eq!(depth_of_raw(&db.begin_read().unwrap()), 4);
    assert_eq!(depth_of_raw(&db.begin_read_at(s1).unwrap()), 2);
}

#[test]
fn node_detail_and_lineage_show_the_edges_around_a_node() {
    let (_dir, db) = fresh_db();
    pipeline(&db);
    let read = db.begin_read().unwrap();
    let detail = read.node_detail(&r("run:train")).unwrap();
    let incoming: Vec<(String, String)> =
        detail.incoming.iter().map(|e| (e.label.clone(), e.from.to_string())).collect();
    assert_eq!(
        incoming,
        [
            ("code".to_owned(), "code:repo@1".to_owned()),
            ("input".to_owned(), "dataset:clean@1".to_owned()),
            ("input".to_owned(), "dataset:labels@1".to_owned()),
            ("input".to_owned(), "dataset:raw@1".to_owned()),
        ]
    );
    assert!(detail.incoming.iter().all(|e| e.to == k("run:train@1")));
    assert_eq!(detail.outgoing.len(), 1);
    assert_eq!(detail.outgoing[0].to, k("model:fraud@1"));

    let around = read.lineage(&r("run:train"), true, true, Some(1)).unwrap();
    assert_eq!(
        reached(&around.nodes),
        expect_reached(&[
            ("code:repo@1", 1),
            ("dataset:clean@1", 1),
            ("dataset:labels@1", 1),
            ("dataset:raw@1", 1),
            ("model:fraud@1", 1),
        ])
    );
    assert_eq!(around.edges.len(), 5);
    let up = read.lineage(&r("model:fraud"), true, false, None).unwrap();
    assert_eq!(up.nodes.len(), 6);
    assert_eq!(up.edges.len(), 7, "every edge between the model and its ancestors");
}

#[test]
fn walks_have_no_depth_cap() {
    const HOPS: usize = 10_000;
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    let mut previous = tx.create_node("step", "n00000", Props::new()).unwrap();
    for i in 1..=HOPS {
        let next = tx.create_node("step", &format!("n{i:05}"), Props::new()).unwrap();
        tx.link(&previous.to_ref(), &next.to_ref(), "next", Props::new()).unwrap();
        previous = next;
    }
    tx.commit().unwrap();

    let read = db.begin_read().unwrap();
    let last = r(&format!("step:n{HOPS:05}"));
    let up = read.ancestors(&last).collect().unwrap();
    assert_eq!(up.len(), HOPS);
    for (i, x) in up.iter().enumerate() {
        let depth = i as u32 + 1;
        assert_eq!(x.depth, depth);
        assert_eq!(x.node.key.name, format!("n{:05}", HOPS - i - 1));
    }
    let down = read.descendants(&r("step:n00000")).max_depth(2_500).collect().unwrap();
    assert_eq!(down.len(), 2_500);
    assert_eq!(down.last().unwrap().node.key.name, "n02500");
    let path = read.path(&r("step:n00000"), &last).unwrap().unwrap();
    assert_eq!(path.nodes.len(), HOPS + 1);
    // Closing the 10,000-hop loop is refused and names the whole cycle.
    let mut tx = db.begin_write().unwrap();
    match tx.link(&last, &r("step:n00000"), "next", Props::new()) {
        Err(Error::Cycle { cycle, .. }) => assert_eq!(cycle.len(), HOPS + 2),
        other => panic!("expected Cycle, got {other:?}"),
    }
}
