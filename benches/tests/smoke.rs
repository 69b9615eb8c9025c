//! Smoke run of the side-by-side benchmark: a small graph through LineageDB,
//! SQLite and petgraph, asserting the engines agree (the run fails on any
//! differing answer), that `AS OF` answers match the loaded state, and that
//! the JSON Lines export is well formed and both engines import all of it.
//! No timing is asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

use lineagedb_benches::{Config, LineageGraph, Scale, run, write_jsonl};

/// The `lineagedb` binary of this build (`target/debug/lineagedb`, beside the
/// `deps/` folder that holds this test), built first when a run of this
/// package alone has not built it: the CLI path runs it in a fresh process.
fn lineagedb_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let bin = profile_dir.join("lineagedb");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "lineagedb", "--bin", "lineagedb"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cannot run cargo to build the lineagedb binary");
        assert!(status.success(), "cargo build -p lineagedb failed: the CLI path needs the binary");
    }
    assert!(bin.exists(), "no lineagedb binary at {}", bin.display());
    bin
}

#[test]
fn engines_agree_on_the_query_mix() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        nodes: 10_000,
        per_kind: 100,
        passes: 1,
        load_commits: 3,
        later_commits: 4,
        jsonl: Some(dir.path().join("graph.jsonl")),
        dir: Some(dir.path().to_owned()),
        bin: Some(lineagedb_binary()),
        ..Config::default()
    };
    let report = run(&config, |_| {}).unwrap();
    assert_eq!(report.queries, 200);
    assert!(report.nodes >= 10_000 && report.edges > report.nodes);
    assert!(report.answer_nodes > report.queries, "answers are not trivial: {}", report.answer_nodes);
    assert!(report.head_snapshot > report.base_snapshot);
    assert_eq!(report.jsonl_lines, Some(report.nodes + report.edges));
    assert_eq!(report.lineage.per_query.len(), 200);
    // Every load and the import of the JSON Lines file ran once per pass
    // (the import checks that both engines loaded every node and edge).
    for times in [&report.load_lineage, &report.load_sqlite, &report.load_lineage_keys] {
        assert_eq!(times.len(), config.load_passes);
    }
    assert_eq!((report.import_lineage.len(), report.import_sqlite.len()), (3, 3));
    let printed = report.to_string();
    assert!(printed.contains("sqlite / lineagedb"), "{printed}");
    assert!(printed.contains("bulk load linking by key"), "{printed}");
    assert!(printed.contains("JSON Lines import of the same file"), "{printed}");
}

#[test]
fn jsonl_lines_are_nodes_then_edges() {
    let graph = LineageGraph::generate(Scale::nodes(500), 9);
    let mut out = Vec::new();
    let lines = write_jsonl(&graph, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let parsed: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed.len(), lines);
    let first = &parsed[0]["node"];
    assert_eq!(first["type"], graph.nodes[0].node_type.as_str());
    assert_eq!(first["version"], 1);
    let edge = &parsed[graph.nodes.len()]["edge"];
    let e = graph.edges[0];
    assert_eq!(edge["from"], graph.nodes[e.src as usize].key());
    assert_eq!(edge["to"], graph.nodes[e.dst as usize].key());
    assert_eq!(edge["label"], e.label.as_str());
}
