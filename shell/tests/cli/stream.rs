//! Streamed results: a walk returning a very large number of rows prints
//! them as they come, so the peak memory of `lineagedb query --format json`
//! stays bounded by the walk's state, not by the output.
//!
//! The graph is built with the engine API (bulk, by id): one raw dataset
//! read by `CHAINS` pipelines, each a chain of derived datasets carrying
//! realistic properties (owner, row count, schema list), so every depth
//! level of `DESCENDANTS OF` the raw dataset holds `CHAINS` rows. The rows
//! returned: `LINEAGEDB_STREAM_ROWS` (default 400,000, about 90 MiB of JSON;
//! set it to 1000000 for the full-size check, about a minute in a debug
//! build). The bound is 100 MiB of peak RSS of the query process (its
//! `ru_maxrss`); holding the result whole (the nodes with their properties,
//! then the JSON line) took several times that.

use std::io::Read;
use std::process::Stdio;

use lineagedb_engine::{Database, NewNode, Props, Value};

use crate::common::Fixture;

/// Parallel chains below the root: the width of every depth level.
const CHAINS: usize = 1000;
/// Peak resident memory allowed to the query process.
const BOUND_KIB: i64 = 100 << 10;

fn rows_wanted() -> usize {
    std::env::var("LINEAGEDB_STREAM_ROWS").ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(400_000)
}

fn dataset_props(i: usize) -> Props {
    let mut props = Props::new();
    props.insert("owner".into(), Value::String(format!("team-{}@example.com", i % 7)));
    props.insert("rows".into(), Value::Int((i as i64 * 7919) % 50_000_000));
    let schema = ["id", "ts", "amount", "country", "user_id", "label", "score"];
    props.insert("schema".into(), Value::List(schema.iter().map(|c| Value::String((*c).into())).collect()));
    props
}

/// Builds the graph: the root and `rows` datasets below it in `CHAINS` chains.
fn build(db: &Database, rows: usize) {
    let mut tx = db.begin_write().unwrap();
    tx.batch_audit("bulk_load", serde_json::json!({"test": "stream"})).unwrap();
    let new = |name: String, i: usize| NewNode {
        type_name: "dataset".into(),
        name,
        version: None,
        label: None,
        props: dataset_props(i),
    };
    let (_, root) = tx.create_with_id(new("raw_events".into(), 0)).unwrap();
    let mut tips = vec![root; CHAINS];
    for i in 0..rows {
        let chain = i % CHAINS;
        let (_, id) = tx.create_with_id(new(format!("derived_{chain}_{}", i / CHAINS), i + 1)).unwrap();
        tx.link_ids(tips[chain], id, "input", Props::new()).unwrap();
        tips[chain] = id;
    }
    tx.commit().unwrap();
}

/// The largest resident set of any waited-for child so far, in KiB.
fn children_peak_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap().max_rss()
}

/// Set in the copy of this test binary that runs the query (see below).
const MEASURE_DB: &str = "LINEAGEDB_STREAM_MEASURE_DB";
const THIS_TEST: &str = "stream::a_large_json_result_streams_with_bounded_memory";

/// The peak RSS of a child counts the memory its parent had when it forked
/// (Linux keeps the high-water mark across `exec`), and this test process is
/// large once it has built the graph. So the query runs from a fresh copy of
/// this test binary (environment `MEASURE_DB` set), small when it forks; that
/// copy reports the child's peak and what it read on stdout.
#[test]
fn a_large_json_result_streams_with_bounded_memory() {
    if let Ok(db) = std::env::var(MEASURE_DB) {
        measure(&db);
        return;
    }
    let rows = rows_wanted();
    let f = Fixture::new();
    {
        let db = Database::create(f.db()).unwrap();
        build(&db, rows);
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", THIS_TEST, "--nocapture", "--test-threads", "1"])
        .env(MEASURE_DB, f.db())
        .env("LINEAGEDB_STREAM_ROWS", rows.to_string())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the measuring copy failed:\n{printed}");
    let report = printed
        .lines()
        .find_map(|l| l.split_once("stream-measure: ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no report:\n{printed}"));
    let numbers: Vec<i64> = report.split_whitespace().map(|n| n.parse().unwrap()).collect();
    let (peak, bytes) = (numbers[0], numbers[1]);
    assert!(peak > 0, "no peak measured: {report}");
    assert!(
        peak < BOUND_KIB,
        "peak RSS of `lineagedb query --format json` returning {rows} rows ({} MiB printed) was {} MiB, over the {} MiB bound",
        bytes >> 20,
        peak >> 10,
        BOUND_KIB >> 10
    );
}

/// Runs the query on `db`, checks its output as it streams past without
/// holding it, and prints `stream-measure: PEAK_KIB BYTES`.
fn measure(db: &str) {
    let rows = rows_wanted();
    let mut child = std::process::Command::new(crate::common::BIN)
        .args(["query", "--db", db, "--format", "json", "DESCENDANTS OF dataset:raw_events@1"])
        .env_remove("LINEAGEDB_DB")
        .env_remove("LINEAGEDB_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Read the output as it comes, without holding it: count the rows
    // (each row object starts with its first key, `depth`), keep the head
    // and the tail to check.
    let mut out = child.stdout.take().unwrap();
    let marker = b"{\"depth\":";
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let (mut printed, mut counted) = (0usize, 0usize);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = out.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        printed += n;
        if head.len() < 4096 {
            head.extend_from_slice(&chunk[..n.min(4096)]);
        }
        // The tail keeps the bytes a marker may straddle.
        let carried = tail.len().min(marker.len() - 1);
        let mut window = tail[tail.len() - carried..].to_vec();
        window.extend_from_slice(&chunk[..n]);
        counted += window.windows(marker.len()).filter(|w| *w == marker).count();
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > 8192 {
            tail.drain(..tail.len() - 4096);
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let tail = String::from_utf8_lossy(&tail).into_owned();
    assert!(
        head.starts_with(r#"{"rows":[{"depth":1,"key":"dataset:derived_0_0@1","#),
        "{}",
        &head[..200.min(head.len())]
    );
    assert!(
        head.contains(r#""schema":["id","ts","amount""#),
        "rows carry their properties: {}",
        &head[..400.min(head.len())]
    );
    let last_depth = (rows - 1) / CHAINS + 1;
    assert!(
        tail.contains(&format!(r#"{{"depth":{last_depth},"#)),
        "rows come by depth: ...{}",
        &tail[tail.len().saturating_sub(300)..]
    );
    assert!(tail.ends_with("}]}\n"), "one complete JSON line: ...{}", &tail[tail.len().saturating_sub(100)..]);
    assert_eq!(counted, rows, "every row printed");
    let status = child.wait().unwrap();
    assert!(status.success(), "query failed: {status}");
    println!("stream-measure: {} {printed}", children_peak_kib());
}
