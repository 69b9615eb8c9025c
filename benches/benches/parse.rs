//! Criterion benchmark of the query parser on a short script of typical
//! statements.
//!
//! Run: `cargo bench -p lineagedb-benches --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lineagedb_query::syntax::parse_script;

const SCRIPT: &str = r#"
ANCESTORS OF model:fraud@latest WHERE type = dataset;
DESCENDANTS OF dataset:"s3://bucket/transactions.parquet"@5 DEPTH 10 VIA input, output WHERE type = model AS OF 42;
PATH FROM dataset:p1_raw0@3 TO model:p1_model0@17 AS OF "2024-05-01T00:00:00Z";
FIND model WHERE owner = 'risk' ORDER BY created_at DESC LIMIT 10;
HISTORY OF model:fraud;
SHOW model:fraud@production;
"#;

fn parse(c: &mut Criterion) {
    let statements = parse_script(SCRIPT).expect("the benchmark script parses");
    assert_eq!(statements.len(), 6);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(SCRIPT.len() as u64));
    group.bench_function("script_6_statements", |b| b.iter(|| black_box(parse_script(black_box(SCRIPT)))));
    group.bench_function("ancestors_statement", |b| {
        b.iter(|| black_box(parse_script(black_box("ANCESTORS OF model:fraud@3 WHERE type = dataset"))))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
