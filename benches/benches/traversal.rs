//! Criterion benchmarks of warm traversals on a durable file: the query mix's
//! `ANCESTORS ... WHERE type=dataset` and `DESCENDANTS ... WHERE type=model`,
//! the same `AS OF` the loaded snapshot after later commits, and `PATH` from
//! a raw dataset to its farthest downstream model.
//!
//! Graph size: `LINEAGEDB_BENCH_NODES` (default 100000).
//! Run: `cargo bench -p lineagedb-benches --bench traversal`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lineagedb_benches::engines::lineage::{self, node_ref};
use lineagedb_benches::engines::memory::MemoryGraph;
use lineagedb_benches::{Direction, LineageGraph, Query, Scale, later_commits, query_mix};
use lineagedb_engine::{Database, NodeRef, SnapshotId};

struct Fixture {
    _dir: tempfile::TempDir,
    db: Database,
    ups: Vec<Query>,
    downs: Vec<Query>,
    paths: Vec<(NodeRef, NodeRef)>,
    base: SnapshotId,
}

fn fixture() -> Fixture {
    let nodes = std::env::var("LINEAGEDB_BENCH_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let graph = LineageGraph::generate(Scale::nodes(nodes), 42);
    let mix = query_mix(&graph, 100, 42);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (db, snapshots) = lineage::load(&dir.path().join("bench.redb"), &graph, 4).expect("load");
    let base = *snapshots.last().expect("a snapshot");
    let mut memory = MemoryGraph::build(&graph);
    let paths = mix
        .iter()
        .filter(|q| q.direction == Direction::Descendants)
        .filter_map(|q| {
            let farthest = *memory.run_query(q).last()?;
            Some((q.node_ref.clone(), node_ref(&graph.nodes[farthest as usize])))
        })
        .collect();
    let mut keys = graph.key_index();
    later_commits(&db, &graph, &mix, 10, &mut memory, &mut keys).expect("later commits");
    let (ups, downs) = mix.into_iter().partition(|q| q.direction == Direction::Ancestors);
    Fixture { _dir: dir, db, ups, downs, paths, base }
}

/// Runs each query of `queries` in turn, one per iteration.
fn cycle(c: &mut Criterion, name: &str, db: &Database, queries: &[Query], at: Option<SnapshotId>) {
    for q in queries {
        lineage::run_query(db, q, at).expect("warm-up query");
    }
    let mut i = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            let q = &queries[i % queries.len()];
            i += 1;
            black_box(lineage::run_query(db, q, at).expect("query").len())
        })
    });
}

fn traversal(c: &mut Criterion) {
    let f = fixture();
    cycle(c, "traversal/ancestors_type_dataset", &f.db, &f.ups, None);
    cycle(c, "traversal/descendants_type_model", &f.db, &f.downs, None);
    cycle(c, "as_of/ancestors_type_dataset_as_of_load", &f.db, &f.ups, Some(f.base));
    cycle(c, "as_of/descendants_type_model_as_of_load", &f.db, &f.downs, Some(f.base));
    let mut i = 0;
    c.bench_function("path/raw_to_farthest_model", |b| {
        b.iter(|| {
            let (from, to) = &f.paths[i % f.paths.len()];
            i += 1;
            let read = f.db.begin_read().expect("read");
            black_box(read.path(from, to).expect("path").map(|p| p.nodes.len()))
        })
    });
}

criterion_group!(benches, traversal);
criterion_main!(benches);
