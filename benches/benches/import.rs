//! Criterion benchmark of bulk load throughput through the engine API into
//! a fresh durable file (10k-node graph, one write transaction), with SQLite
//! loading the same rows for reference. Throughput is in records (nodes + edges).
//!
//! Run: `cargo bench -p lineagedb-benches --bench import`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lineagedb_benches::engines::{lineage, sqlite};
use lineagedb_benches::{LineageGraph, Scale};

fn import(c: &mut Criterion) {
    let graph = LineageGraph::generate(Scale::SMALL, 42);
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    group.throughput(Throughput::Elements(graph.records() as u64));
    group.bench_function("lineagedb_10k_nodes", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| black_box(lineage::load(&dir.path().join("import.redb"), &graph, 1).expect("load").1),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sqlite_10k_nodes", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                sqlite::load(&dir.path().join("import.db"), &graph).expect("load");
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
