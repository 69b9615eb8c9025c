//! The OpenLineage importer on the fixtures written by the real
//! `openlineage-python` client, and on small hand-written event streams.

use std::collections::BTreeSet;

use lineagedb_engine::{EntityKey, HistoryKind, Timestamp, Value};
use serde_json::json;

use crate::support::{fixture, fresh_db, graph, import_paths, import_text, k, keys, node, r, set};

const RAW: &str = "dataset:\"s3://acme-lake/raw/transactions\"";
const CLEAN: &str = "dataset:\"s3://acme-lake/clean/transactions\"";
const FEATURES: &str = "dataset:\"s3://acme-lake/features/fraud\"";
const MODEL: &str = "model:\"mlflow://registry/fraud_detector\"";
const SCORES: &str = "dataset:\"s3://acme-lake/scores/fraud\"";
const NIGHTLY: &str = "run:0195a0c0-0000-7000-8000-000000000001";
const CLEAN_RUN: &str = "run:0195a0c0-0000-7000-8000-000000000002";
const FEATURES_RUN: &str = "run:0195a0c0-0000-7000-8000-000000000003";
const TRAIN_RUN: &str = "run:0195a0c0-0000-7000-8000-000000000004";
const EXPORT_RUN: &str = "run:0195a0c0-0000-7000-8000-000000000005";
const CODE: &str = "code:\"https://git.example.invalid/acme/fraud-pipeline.git\"";

fn at(key: &str, version: u64) -> String {
    format!("{key}@{version}")
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        other => panic!("expected a string, found {other:?}"),
    }
}

fn time(text: &str) -> Value {
    Value::Timestamp(Timestamp::parse_rfc3339(text).expect("timestamp"))
}

#[test]
fn fixture_lineage_answers_ancestors_and_descendants() {
    let (_dir, db) = fresh_db();
    let report = import_paths(&db, &[fixture("events.jsonl")], false).expect("imports");
    assert_eq!(report.snapshot, Some(1));
    assert_eq!(report.records, 11);
    assert!(report.rejected.is_empty());

    let read = db.begin_read().expect("read");
    let model = r(&at(MODEL, 1));
    let upstream = read.ancestors(&model).only_type("dataset").collect().expect("walk");
    assert_eq!(keys(&upstream), set(&[&at(RAW, 1), &at(CLEAN, 1), &at(FEATURES, 1)]));
    let runs = read.ancestors(&model).only_type("run").collect().expect("walk");
    assert_eq!(keys(&runs), set(&[&at(NIGHTLY, 1), &at(CLEAN_RUN, 1), &at(FEATURES_RUN, 1), &at(TRAIN_RUN, 1)]));
    let code = read.ancestors(&model).only_type("code").collect().expect("walk");
    assert_eq!(keys(&code), set(&[&at(CODE, 1)]));

    let raw = r(&at(RAW, 1));
    let models = read.descendants(&raw).only_type("model").collect().expect("walk");
    assert_eq!(keys(&models), set(&[&at(MODEL, 1)]));
    let consumers = read.descendants(&raw).only_type("run").collect().expect("walk");
    assert_eq!(
        keys(&consumers),
        set(&[&at(CLEAN_RUN, 1), &at(FEATURES_RUN, 1), &at(TRAIN_RUN, 1), &at(EXPORT_RUN, 1)])
    );
    assert!(read.verify().expect("verify").is_ok());
}

#[test]
fn a_failed_run_records_its_error_and_its_output_gets_no_version() {
    let (_dir, db) = fresh_db();
    import_paths(&db, &[fixture("events.jsonl")], false).expect("imports");
    let run = node(&db, EXPORT_RUN);
    assert_eq!(text(run.props.get("status")), "failed");
    assert_eq!(text(run.props.get("state")), "FAIL");
    assert_eq!(text(run.props.get("errorMessage")), "MemoryError: unable to allocate 12.0 GiB for the score matrix");
    assert_eq!(run.props.get("ended_at"), Some(&time("2026-03-01T02:20:00Z")));
    let read = db.begin_read().expect("read");
    assert!(read.node(&r(SCORES)).is_err(), "a failed run's output must not get a version");
    let detail = read.node_detail(&r(EXPORT_RUN)).expect("detail");
    assert!(detail.outgoing.is_empty(), "{:?}", detail.outgoing);
    // The model input is bound through its version facet, the node's external label.
    let input: Vec<_> = detail.incoming.iter().filter(|e| e.label == "input").collect();
    assert_eq!(input.len(), 1);
    assert_eq!(input[0].from, k(&at(MODEL, 1)));
    assert_eq!(input[0].props.get("dataset_version"), Some(&Value::from("7")));
    assert_eq!(read.node(&r(&format!("{MODEL}@\"7\""))).expect("by label").key, k(&at(MODEL, 1)));
}

#[test]
fn re_importing_the_same_events_changes_nothing() {
    let (_dir, db) = fresh_db();
    let first = import_paths(&db, &[fixture("events.jsonl")], false).expect("imports");
    assert_eq!(first.snapshot, Some(1));
    let before = graph(&db);
    let again = import_paths(&db, &[fixture("events.jsonl")], false).expect("re-imports");
    assert_eq!(again.snapshot, None);
    assert_eq!((again.nodes_created, again.edges_created), (0, 0));
    // The same events one per file are the same events.
    let files = import_paths(&db, &[fixture("events")], false).expect("imports the directory");
    assert_eq!(files.snapshot, None);
    assert_eq!(db.begin_read().expect("read").latest_snapshot(), 1);
    assert_eq!(graph(&db), before);
}

#[test]
fn one_event_per_file_gives_the_same_graph_as_json_lines() {
    let (_a, from_lines) = fresh_db();
    let (_b, from_files) = fresh_db();
    import_paths(&from_lines, &[fixture("events.jsonl")], false).expect("imports lines");
    let report = import_paths(&from_files, &[fixture("events")], false).expect("imports files");
    assert_eq!(report.records, 11);
    assert_eq!(graph(&from_files), graph(&from_lines));
    let (nodes, edges) = graph(&from_files);
    assert_eq!(nodes.len(), 15, "{nodes:#?}");
    assert!(edges.contains(&format!("{} -parent-> {}", at(NIGHTLY, 1), at(TRAIN_RUN, 1))), "{edges:#?}");
    assert!(edges.contains(&format!("{} -job-> {}", "job:\"fraud-pipeline/train_fraud\"@1", at(TRAIN_RUN, 1))));
}

#[test]
fn out_of_order_events_merge_into_one_run_node() {
    let (_dir, db) = fresh_db();
    import_paths(&db, &[fixture("events.jsonl")], false).expect("imports");
    let read = db.begin_read().expect("read");
    let versions = read.versions(&EntityKey::new("run", "0195a0c0-0000-7000-8000-000000000003").expect("key"));
    assert_eq!(versions.expect("versions").len(), 1);
    let run = node(&db, FEATURES_RUN);
    assert_eq!(text(run.props.get("status")), "succeeded");
    assert_eq!(text(run.props.get("state")), "COMPLETE");
    assert_eq!(run.props.get("started_at"), Some(&time("2026-03-01T01:12:00Z")));
    assert_eq!(run.props.get("ended_at"), Some(&time("2026-03-01T01:30:00Z")));
    assert_eq!(run.props.get("duration_ms"), Some(&Value::Int(18 * 60 * 1000)));
    let events = Value::List(
        ["START 2026-03-01T01:12:00Z", "RUNNING 2026-03-01T01:20:00Z", "COMPLETE 2026-03-01T01:30:00Z"]
            .map(Value::from)
            .to_vec(),
    );
    assert_eq!(run.props.get("events"), Some(&events));
    let features = node(&db, FEATURES);
    assert_eq!(features.key, k(&at(FEATURES, 1)));
    assert_eq!(features.props.get("produced_by"), Some(&Value::from(FEATURES_RUN)));
    assert_eq!(features.props.get("produced_at"), Some(&time("2026-03-01T01:30:00Z")));
}

#[test]
fn facets_map_to_properties_edges_and_code_nodes() {
    let (_dir, db) = fresh_db();
    import_paths(&db, &[fixture("events.jsonl")], false).expect("imports");
    let read = db.begin_read().expect("read");

    let raw = node(&db, RAW);
    assert_eq!(raw.label.as_deref(), Some("2026-02-28"));
    let clean = node(&db, CLEAN);
    assert_eq!(clean.label.as_deref(), Some("clean-2026-03-01"));
    let schema = json!([
        {"name": "tx_id", "type": "STRING"},
        {"name": "amount", "type": "DECIMAL(12,2)"},
        {"name": "merchant", "type": "STRING"}
    ]);
    assert_eq!(clean.props.get("schema"), Some(&Value::from_json(&schema)));
    assert_eq!(
        clean.props.get("source"),
        Some(&Value::from_json(&json!({"name": "acme-lake", "uri": "s3://acme-lake"})))
    );
    assert_eq!(text(clean.props.get("asserted_by")), "openlineage import (tester)");
    assert_eq!(text(node(&db, MODEL).props.get("dataset_type")), "MODEL");

    let detail = read.node_detail(&r(CLEAN_RUN)).expect("detail");
    let input = detail.incoming.iter().find(|e| e.label == "input").expect("input edge");
    assert_eq!(input.from, k(&at(RAW, 1)));
    assert_eq!(input.props.get("columns"), Some(&Value::from_json(&json!(["amount", "merchant", "tx_id"]))));
    assert_eq!(text(input.props.get("asserted_by")), "openlineage import (tester)");
    let output = detail.outgoing.iter().find(|e| e.label == "output").expect("output edge");
    assert_eq!(output.to, k(&at(CLEAN, 1)));
    let amount = Value::get_path(&output.props, &["column_lineage", "amount"]).expect("column lineage of amount");
    let expected = json!({"inputs": [{"dataset": "s3://acme-lake/raw/transactions", "field": "amount"}], "transformation": "IDENTITY"});
    assert_eq!(amount, &Value::from_json(&expected));

    let train = node(&db, TRAIN_RUN);
    assert_eq!(Value::get_path(&train.props, &["facets", "processing_engine", "name"]), Some(&Value::from("Airflow")));
    assert_eq!(Value::get_path(&train.props, &["facets", "jobType", "jobType"]), Some(&Value::from("TASK")));
    assert_eq!(Value::get_path(&train.props, &["code", "path"]), Some(&Value::from("train/train.py")));
    assert_eq!(text(train.props.get("job")), "fraud-pipeline/train_fraud");

    let code = node(&db, CODE);
    assert_eq!(code.label.as_deref(), Some("3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39"));
    let code_edges = read.node_detail(&r(CODE)).expect("detail").outgoing;
    let to: Vec<String> = code_edges.iter().filter(|e| e.label == "code").map(|e| e.to.to_string()).collect();
    assert_eq!(to, vec![at(CLEAN_RUN, 1), at(FEATURES_RUN, 1), at(TRAIN_RUN, 1)]);

    let nightly = node(&db, NIGHTLY);
    assert_eq!(text(nightly.props.get("status")), "succeeded");
    assert!(read.audit(&Default::default()).expect("audit").iter().any(|a| a.op == "openlineage_import"));
}

fn start_events_only() -> String {
    std::fs::read_to_string(fixture("events.jsonl"))
        .expect("fixture")
        .lines()
        .filter(|l| l.contains("\"eventType\": \"START\""))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn events_arriving_in_a_later_import_make_a_new_run_version() {
    let (_dir, db) = fresh_db();
    let first = import_text(&db, "start.jsonl", &start_events_only(), false).expect("imports the starts");
    assert_eq!(first.records, 5);
    let train = node(&db, TRAIN_RUN);
    assert_eq!((train.key.version, text(train.props.get("status"))), (1, "running".to_owned()));
    // The export run's START names the model (version "7") as its input, so
    // that version exists, produced by nobody yet.
    let model = node(&db, MODEL);
    assert_eq!((model.key.version, model.label.as_deref()), (1, Some("7")));
    assert!(!model.props.contains_key("produced_by"));

    let second = import_paths(&db, &[fixture("events.jsonl")], false).expect("imports everything");
    assert_eq!(second.snapshot, Some(2));
    let train = node(&db, TRAIN_RUN);
    assert_eq!((train.key.version, text(train.props.get("status"))), (2, "succeeded".to_owned()));
    assert_eq!(train.props.get("started_at"), Some(&time("2026-03-01T01:31:00Z")));
    let read = db.begin_read().expect("read");
    // The first import bound the reads of clean and features data to stand-in
    // versions (their producers were unknown); the new run versions bind to
    // the versions produced before they started.
    let upstream = read.ancestors(&r(&at(MODEL, 1))).only_type("dataset").collect().expect("walk");
    assert_eq!(keys(&upstream), set(&[&at(RAW, 1), &at(CLEAN, 2), &at(FEATURES, 2)]));
    let stand_in = read.node(&r(&at(CLEAN, 1))).expect("stand-in");
    assert!(!stand_in.props.contains_key("produced_by"));
    // COMPLETE names the same version "7": the train run is linked to it, no new version.
    let producers = read.ancestors(&r(&at(MODEL, 1))).max_depth(1).collect().expect("walk");
    assert_eq!(keys(&producers), set(&[&at(TRAIN_RUN, 2)]));
    assert!(read.node(&r(&at(MODEL, 2))).is_err());
    // The first version stays as it was recorded.
    assert_eq!(text(read.node(&r(&at(TRAIN_RUN, 1))).expect("v1").props.get("status")), "running");

    let third = import_paths(&db, &[fixture("events.jsonl"), fixture("events")], false).expect("re-imports");
    assert_eq!(third.snapshot, None);
}

fn event(kind: &str, clock: &str, run: &str, job: &str, inputs: &[&str], outputs: &[&str]) -> String {
    let ds = |name: &&str| json!({"namespace": "file", "name": name});
    json!({
        "eventType": kind,
        "eventTime": format!("2026-04-01T{clock}Z"),
        "run": {"runId": run},
        "job": {"namespace": "etl", "name": job},
        "inputs": inputs.iter().map(ds).collect::<Vec<_>>(),
        "outputs": outputs.iter().map(ds).collect::<Vec<_>>(),
        "producer": "test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    })
    .to_string()
}

#[test]
fn inputs_bind_to_the_latest_version_at_the_event_time() {
    let (_dir, db) = fresh_db();
    let lines = [
        event("START", "01:00:00", "w1", "write", &[], &["tx"]),
        event("COMPLETE", "01:05:00", "w1", "write", &[], &["tx"]),
        event("START", "02:00:00", "w2", "write", &[], &["tx"]),
        event("COMPLETE", "02:05:00", "w2", "write", &[], &["tx"]),
        // Started between the two writes: reads the first version.
        event("START", "01:30:00", "r1", "read", &["tx"], &[]),
        event("COMPLETE", "03:00:00", "r1", "read", &["tx"], &[]),
        // Started after the second write.
        event("START", "02:30:00", "r2", "read", &["tx"], &[]),
        event("COMPLETE", "02:40:00", "r2", "read", &["tx"], &[]),
        // Reads a dataset nobody wrote: version 1 is created.
        event("START", "04:00:00", "r3", "read", &["elsewhere"], &[]),
    ]
    .join("\n");
    let report = import_text(&db, "binding.jsonl", &lines, false).expect("imports");
    assert_eq!(report.snapshot, Some(1));
    let read = db.begin_read().expect("read");
    let input_of = |run: &str| -> Vec<String> {
        let detail = read.node_detail(&r(run)).expect("detail");
        detail.incoming.iter().filter(|e| e.label == "input").map(|e| e.from.to_string()).collect()
    };
    assert_eq!(input_of("run:r1"), vec!["dataset:\"file/tx\"@1"]);
    assert_eq!(input_of("run:r2"), vec!["dataset:\"file/tx\"@2"]);
    assert_eq!(input_of("run:r3"), vec!["dataset:\"file/elsewhere\"@1"]);
    assert_eq!(text(node(&db, "run:r3").props.get("status")), "running");
    let history = read.history(&EntityKey::new("dataset", "file/tx").expect("key")).expect("history");
    let created = history.iter().filter(|h| matches!(h.kind, HistoryKind::Created { .. })).count();
    assert_eq!(created, 2);
}

#[test]
fn a_parent_run_missing_from_the_database_is_created() {
    let (_dir, db) = fresh_db();
    let mut child: serde_json::Value =
        serde_json::from_str(&event("START", "01:00:00", "child", "task", &[], &[])).expect("json");
    child["run"]["facets"] =
        json!({"parent": {"run": {"runId": "dag-run-1"}, "job": {"namespace": "etl", "name": "dag"}}});
    import_text(&db, "child.jsonl", &child.to_string(), false).expect("imports");
    let parent = node(&db, "run:dag-run-1");
    assert_eq!(text(parent.props.get("status")), "unknown");
    assert_eq!(text(parent.props.get("job")), "etl/dag");
    let read = db.begin_read().expect("read");
    let up = read.ancestors(&r("run:child")).only_type("run").collect().expect("walk");
    assert_eq!(keys(&up), set(&["run:dag-run-1@1"]));

    // The parent's own events arrive later: its node gets a version with them, still the child's parent.
    let parent_events = [
        event("START", "00:59:00", "dag-run-1", "dag", &[], &[]),
        event("COMPLETE", "02:00:00", "dag-run-1", "dag", &[], &[]),
    ]
    .join("\n");
    import_text(&db, "dag.jsonl", &parent_events, false).expect("imports");
    let parent = node(&db, "run:dag-run-1");
    assert_eq!((parent.key.version, text(parent.props.get("status"))), (2, "succeeded".to_owned()));
    let read = db.begin_read().expect("read");
    let down = read.descendants(&r("run:dag-run-1")).only_type("run").collect().expect("walk");
    assert_eq!(keys(&down), set(&["run:child@1"]));
}

#[test]
fn a_bad_event_names_its_file_and_line_and_commits_nothing() {
    let (_dir, db) = fresh_db();
    let good = event("START", "01:00:00", "a", "job", &["in"], &[]);
    let bad_time = good.replace("2026-04-01T01:00:00Z", "yesterday");
    let err = import_text(&db, "bad.jsonl", &format!("{good}\n\n{bad_time}\n"), false).expect_err("must fail");
    assert_eq!((err.file.as_str(), err.line), ("bad.jsonl", 3));
    assert!(
        err.to_string().starts_with("bad.jsonl:3: \"eventTime\" \"yesterday\" is not an RFC 3339 timestamp"),
        "{err}"
    );
    assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);

    let err = import_text(&db, "x.jsonl", "{\"eventTime\": \"2026-04-01T00:00:00Z\", \"dataset\": {}}\n", false)
        .expect_err("a DatasetEvent needs its dataset's name");
    assert!(err.to_string().starts_with("x.jsonl:1: \"dataset\" needs \"namespace\" and \"name\""), "{err}");
    let err = import_text(&db, "x.jsonl", "{\"eventTime\": \"2026-04-01T00:00:00Z\", \"other\": {}}\n", false)
        .expect_err("neither a run, a dataset nor a job");
    assert!(err.to_string().starts_with("x.jsonl:1: not an OpenLineage event"), "{err}");
    let err = import_text(&db, "x.jsonl", "{nope\n", false).expect_err("invalid JSON");
    assert!(err.to_string().starts_with("x.jsonl:1: invalid JSON"), "{err}");
    let mut jobless: serde_json::Value = serde_json::from_str(&good).expect("json");
    jobless["job"] = json!({});
    let jobless = jobless.to_string();
    let err = import_text(&db, "x.jsonl", &jobless, false).expect_err("job needs a name");
    assert!(err.to_string().contains("\"job\" needs \"namespace\""), "{err}");
    // A run that changes job between events is an error on the offending event.
    let moved = [good.clone(), event("COMPLETE", "02:00:00", "a", "other", &[], &[])].join("\n");
    let err = import_text(&db, "moved.jsonl", &moved, false).expect_err("must fail");
    assert_eq!(err.line, 2, "{err}");
    assert!(err.reason.contains("belongs to job \"etl/job\""), "{err}");
    assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);

    let report = import_text(&db, "bad.jsonl", &format!("{good}\n{bad_time}\n"), true).expect("skips");
    assert_eq!(report.snapshot, Some(1));
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 2);
    assert_eq!(report.rejected[0].text, bad_time);
    assert!(db.begin_read().expect("read").node(&r("run:a")).is_ok());

    // With skip_invalid, a run that cannot be applied is rejected whole.
    let lines = [
        event("START", "01:00:00", "m", "job", &[], &[]),
        event("COMPLETE", "02:00:00", "m", "other", &[], &[]),
        event("START", "03:00:00", "fine", "job", &[], &[]),
    ]
    .join("\n");
    let report = import_text(&db, "mixed.jsonl", &lines, true).expect("skips");
    let rejected: Vec<u64> = report.rejected.iter().map(|x| x.line).collect();
    assert_eq!(rejected, vec![1, 2]);
    assert!(report.rejected[0].reason.starts_with("run m: run m belongs to job"), "{}", report.rejected[0].reason);
    let read = db.begin_read().expect("read");
    assert!(read.node(&r("run:m")).is_err());
    assert!(read.node(&r("run:fine")).is_ok());
}

/// With `skip_invalid`, a run rejected after its node was written leaves
/// nothing behind: here the parent run reads what its child wrote, which would
/// close a cycle (parent -> child -> output -> parent).
#[test]
fn a_run_rejected_late_leaves_nothing_behind() {
    let (_dir, db) = fresh_db();
    let mut child: serde_json::Value =
        serde_json::from_str(&event("COMPLETE", "02:00:00", "child", "task", &[], &["x"])).expect("json");
    child["run"]["facets"] = json!({"parent": {"run": {"runId": "dag"}, "job": {"namespace": "etl", "name": "dag"}}});
    let lines = [
        event("START", "01:00:00", "dag", "dag", &[], &[]),
        child.to_string(),
        event("COMPLETE", "03:00:00", "dag", "dag", &["x"], &[]),
        event("COMPLETE", "04:00:00", "other", "report", &["x"], &[]),
    ]
    .join("\n");
    // Without skip_invalid the cycle fails the import and nothing is committed.
    let err = import_text(&db, "cycle.jsonl", &lines, false).expect_err("a cycle");
    assert!(err.reason.contains("cycle"), "{err}");
    assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);

    let report = import_text(&db, "cycle.jsonl", &lines, true).expect("skips the bad run");
    let rejected: Vec<u64> = report.rejected.iter().map(|x| x.line).collect();
    assert_eq!(rejected, vec![1, 3], "{:#?}", report.rejected);
    assert!(report.rejected.iter().all(|x| x.reason.starts_with("run dag: ")), "{:#?}", report.rejected);
    let read = db.begin_read().expect("read");
    // The rejected run's own facts are absent: no job node, no input edge, no
    // status from its events. The child still names it as parent, so it
    // exists as the stand-in an unknown parent always gets.
    let dag = node(&db, "run:dag");
    assert_eq!(text(dag.props.get("status")), "unknown");
    assert!(read.node(&r("job:\"etl/dag\"")).is_err(), "the rejected run's job was not recorded");
    let down = read.descendants(&r("dataset:\"file/x\"@1")).collect().expect("walk");
    assert_eq!(keys(&down), set(&["run:other@1"]));
    assert!(read.verify().expect("verify").is_ok());
}

/// `tests/fixtures/openlineage/upstream/<name>`: events from the OpenLineage project itself.
fn upstream(name: &str) -> std::path::PathBuf {
    fixture("upstream").join(name)
}

#[test]
fn a_job_that_reads_and_writes_one_table_reads_the_version_before_its_own() {
    let (_dir, db) = fresh_db();
    // The Python client's own full example: one COMPLETE event, the same table in and out.
    let report = import_paths(&db, &[upstream("example_full_event.json")], false).expect("imports");
    assert_eq!(report.snapshot, Some(1));
    let table = "dataset:\"my-datasource-namespace/instance.schema.table\"";
    let run = "run:ea041791-68bc-4ae1-bd89-4c8106a157e4";
    let read = db.begin_read().expect("read");
    assert_eq!(
        keys(&read.ancestors(&r(&at(table, 2))).collect().expect("walk")),
        set(&[
            &at(table, 1),
            &format!("{run}@1"),
            "job:\"my-scheduler-namespace/myjob.mytask\"@1",
            "run:3f5e83fa-3480-44ff-99c5-ff943904e5e8@1"
        ])
    );
    assert_eq!(text(node(&db, &at(table, 2)).props.get("produced_by")), run);
    assert!(!node(&db, &at(table, 1)).props.contains_key("produced_by"), "the version read is a stand-in");
    // The facets came along.
    let run_node = node(&db, &format!("{run}@1"));
    assert!(run_node.props.get("facets").is_some_and(|f| format!("{f:?}").contains("nominalTime")), "{run_node:?}");
    // Importing it again changes nothing.
    let again = import_paths(&db, &[upstream("example_full_event.json")], false).expect("imports again");
    assert_eq!(again.snapshot, None, "{again:?}");
    // A later run of the same incremental job reads the version the first one wrote.
    let later = event("COMPLETE", "01:00:00", "inc2", "merge", &["t"], &["t"]);
    let first = event("COMPLETE", "00:30:00", "inc1", "merge", &["t"], &["t"]);
    import_text(&db, "inc.jsonl", &format!("{first}\n{later}\n"), false).expect("imports");
    let t = "dataset:\"file/t\"";
    let read = db.begin_read().expect("read");
    let upstream_of_last: BTreeSet<String> =
        keys(&read.ancestors(&r(&at(t, 3))).only_type("dataset").collect().expect("walk"));
    assert_eq!(upstream_of_last, set(&[&at(t, 1), &at(t, 2)]));
}

#[test]
fn an_event_time_without_an_offset_is_taken_as_utc_and_the_run_says_so() {
    let (_dir, db) = fresh_db();
    let naive = event("COMPLETE", "10:53:52", "n1", "job", &["in"], &["out"]).replace("T10:53:52Z", "T10:53:52.427343");
    import_text(&db, "naive.jsonl", &naive, false).expect("a naive time imports");
    let run = node(&db, "run:n1@1");
    assert_eq!(run.props.get("ended_at"), Some(&time("2026-04-01T10:53:52.427343Z")));
    assert_eq!(run.props.get("time_assumed_utc"), Some(&Value::Bool(true)));
    let out = node(&db, "dataset:\"file/out\"@1");
    assert_eq!(out.props.get("time_assumed_utc"), Some(&Value::Bool(true)), "what the run created says so too");
    let aware = event("COMPLETE", "10:53:52", "a1", "job", &["in"], &["out"]);
    import_text(&db, "aware.jsonl", &aware, false).expect("imports");
    assert!(!node(&db, "run:a1@1").props.contains_key("time_assumed_utc"));
}

#[test]
fn dataset_and_job_events_record_static_lineage_apart_from_runs() {
    let (_dir, db) = fresh_db();
    let dataset_event = json!({
        "eventTime": "2026-04-01T00:00:00Z",
        "dataset": {"namespace": "pg", "name": "public.orders", "facets": {
            "schema": {"fields": [{"name": "id", "type": "INT"}, {"name": "total", "type": "DECIMAL"}]},
            "ownership": {"owners": [{"name": "team:sales"}]}}},
        "producer": "https://example.invalid/catalog",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
    });
    let job_event = json!({
        "eventTime": "2026-04-01T00:05:00Z",
        "job": {"namespace": "dbt", "name": "orders_daily", "facets": {
            "jobType": {"processingType": "BATCH", "integration": "DBT", "jobType": "MODEL"},
            "documentation": {"description": "daily orders"}}},
        "inputs": [{"namespace": "pg", "name": "public.orders"}],
        "outputs": [{"namespace": "pg", "name": "public.orders_daily"}],
        "producer": "https://example.invalid/dbt",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
    });
    // A run of the same job, with its own run lineage.
    let run = event("COMPLETE", "01:00:00", "r1", "orders_daily", &["raw"], &["cooked"]).replace("\"etl\"", "\"dbt\"");
    let text = format!("{dataset_event}\n{job_event}\n{run}\n");
    let report = import_text(&db, "static.jsonl", &text, false).expect("imports");
    assert_eq!(report.snapshot, Some(1));
    let orders = node(&db, "dataset:\"pg/public.orders\"@1");
    assert!(orders.props.contains_key("schema"), "{orders:?}");
    assert!(format!("{:?}", orders.props.get("facets")).contains("team:sales"), "{orders:?}");
    let job = node(&db, "job:\"dbt/orders_daily\"@1");
    assert!(format!("{:?}", job.props).contains("daily orders"), "{job:?}");
    let read = db.begin_read().expect("read");
    // Static lineage is there, under its own labels...
    let declared =
        keys(&read.descendants(&r("job:\"dbt/orders_daily\"@1")).via(["declares_output"]).collect().expect("walk"));
    assert_eq!(declared, set(&["dataset:\"pg/public.orders_daily\"@1"]));
    let declared_in =
        keys(&read.ancestors(&r("job:\"dbt/orders_daily\"@1")).via(["declares_input"]).collect().expect("walk"));
    assert_eq!(declared_in, set(&["dataset:\"pg/public.orders\"@1"]));
    // ...and kept apart from what the run read: VIA input, output walks runs only.
    let run_lineage = keys(
        &read
            .ancestors(&r("dataset:\"file/cooked\"@1"))
            .via(["input", "output"])
            .only_type("dataset")
            .collect()
            .expect("walk"),
    );
    assert_eq!(run_lineage, set(&["dataset:\"file/raw\"@1"]));
    // Importing them again changes nothing.
    let again = import_text(&db, "static.jsonl", &text, false).expect("imports again");
    assert_eq!(again.snapshot, None, "{again:?}");
    // Changed facets annotate the same version (no version facet names a new one).
    let changed = dataset_event.to_string().replace("team:sales", "team:finance").replace("00:00:00Z", "03:00:00Z");
    import_text(&db, "changed.jsonl", &changed, false).expect("imports");
    let orders = node(&db, "dataset:\"pg/public.orders\"");
    assert_eq!(orders.key.version, 1);
    assert!(format!("{:?}", orders.props.get("declared_facets")).contains("team:finance"), "{orders:?}");
    // A version facet naming a new version makes it.
    let versioned = dataset_event
        .to_string()
        .replace("\"facets\":{", "\"facets\":{\"version\":{\"datasetVersion\":\"v2\"},")
        .replace("00:00:00Z", "04:00:00Z");
    import_text(&db, "versioned.jsonl", &versioned, false).expect("imports");
    assert_eq!(node(&db, "dataset:\"pg/public.orders\"@2").label.as_deref(), Some("v2"));
}

#[test]
fn a_stand_in_input_is_bound_again_when_its_producer_arrives_in_a_later_import() {
    let (_dir, db) = fresh_db();
    // The reader's events arrive first: what it read is not known, a stand-in version is made.
    let reader = [
        event("START", "02:00:00", "reader", "score", &["tx"], &[]),
        event("COMPLETE", "02:10:00", "reader", "score", &["tx"], &[]),
    ]
    .join("\n");
    import_text(&db, "reader.jsonl", &reader, false).expect("imports");
    let tx = "dataset:\"file/tx\"";
    assert!(!node(&db, &at(tx, 1)).props.contains_key("produced_by"), "a stand-in");
    // The writer, which finished before the reader started, arrives next.
    let writer = [
        event("START", "01:00:00", "writer", "load", &[], &["tx"]),
        event("COMPLETE", "01:30:00", "writer", "load", &[], &["tx"]),
    ]
    .join("\n");
    import_text(&db, "writer.jsonl", &writer, false).expect("imports");
    let read = db.begin_read().expect("read");
    let upstream = keys(&read.ancestors(&r("run:reader@1")).collect().expect("walk"));
    assert!(upstream.contains(&at(tx, 2)), "the reader now reads what the writer wrote: {upstream:?}");
    assert!(upstream.contains("run:writer@1"), "{upstream:?}");
    assert!(!upstream.contains(&at(tx, 1)), "the stand-in edge is gone: {upstream:?}");
    // What was believed before is still there AS OF the first import.
    let before = keys(&read.as_of(1).expect("as of").ancestors(&r("run:reader@1")).collect().expect("walk"));
    assert_eq!(before, set(&[&at(tx, 1), "job:\"etl/score\"@1"]));
    // A writer that finished after the reader started changes nothing for it.
    let late = [event("COMPLETE", "03:00:00", "late", "load", &[], &["tx"])].join("\n");
    import_text(&db, "late.jsonl", &late, false).expect("imports");
    let read = db.begin_read().expect("read");
    let upstream = keys(&read.ancestors(&r("run:reader@1")).only_type("dataset").collect().expect("walk"));
    assert_eq!(upstream, set(&[&at(tx, 2)]));
}

#[test]
fn a_symlink_names_the_same_dataset_in_this_import_and_later_ones() {
    let (_dir, db) = fresh_db();
    // Spark writes the table by its path and says its Hive name in `symlinks`.
    let spark = json!({
        "eventType": "COMPLETE", "eventTime": "2026-04-01T01:00:00Z",
        "run": {"runId": "spark-1"}, "job": {"namespace": "spark", "name": "load_orders"},
        "inputs": [],
        "outputs": [{"namespace": "s3://warehouse", "name": "db/orders", "facets": {"symlinks": {
            "identifiers": [{"namespace": "hive://metastore", "name": "db.orders", "type": "TABLE"}]}}}],
        "producer": "test", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    });
    import_text(&db, "spark.jsonl", &spark.to_string(), false).expect("imports");
    // dbt, in a later import, reads it by the Hive name.
    let dbt = event("COMPLETE", "02:00:00", "dbt-1", "orders_daily", &[], &["daily"])
        .replace("\"inputs\":[]", "\"inputs\":[{\"namespace\":\"hive://metastore\",\"name\":\"db.orders\"}]");
    import_text(&db, "dbt.jsonl", &dbt, false).expect("imports");
    let read = db.begin_read().expect("read");
    let upstream = keys(&read.ancestors(&r("dataset:\"file/daily\"@1")).collect().expect("walk"));
    assert!(upstream.contains("dataset:\"s3://warehouse/db/orders\"@1"), "{upstream:?}");
    assert!(upstream.contains("run:spark-1@1"), "the lineage reaches the Spark run: {upstream:?}");
    assert!(read.node(&r("dataset:\"hive://metastore/db.orders\"")).is_err(), "no second entity for the alias");
    assert_eq!(
        node(&db, "dataset:\"s3://warehouse/db/orders\"@1").props.get("names"),
        Some(&Value::List(vec![Value::from("hive://metastore/db.orders")]))
    );
}

#[test]
fn what_real_producers_send_imports_as_one_lineage() {
    // tests/fixtures/openlineage/generate_v2.py, through the real client: a
    // DatasetEvent, a JobEvent, a Spark run naming its table's Hive name in
    // `symlinks`, and an incremental dbt model with naive event times.
    let (_dir, db) = fresh_db();
    let report = import_paths(&db, &[fixture("events_v2.jsonl")], false).expect("imports");
    assert_eq!(report.records, 8);
    assert!(report.rejected.is_empty());
    let orders = "dataset:\"s3://acme-warehouse/warehouse/orders\"";
    let daily = "dataset:\"hive://metastore.acme.invalid:9083/analytics.orders_daily\"";
    let spark = "run:0196b1d0-0000-7000-8000-000000000001@1";
    let (dbt1, dbt2) = ("run:0196b1d0-0000-7000-8000-000000000002@1", "run:0196b1d0-0000-7000-8000-000000000003@1");
    let read = db.begin_read().expect("read");
    // The dbt model read the table Spark wrote, by its Hive name, and its own previous output.
    let runs =
        keys(&read.ancestors(&r(&at(daily, 3))).via(["input", "output"]).only_type("run").collect().expect("walk"));
    assert_eq!(runs, set(&[spark, dbt1, dbt2]));
    let read_by_second: BTreeSet<String> =
        keys(&read.ancestors(&r(dbt2)).via(["input"]).only_type("dataset").collect().expect("walk"));
    assert_eq!(read_by_second, set(&[&at(orders, 2), &at(daily, 2)]));
    assert!(read.node(&r("dataset:\"hive://metastore.acme.invalid:9083/sales.orders\"")).is_err());
    // The DatasetEvent's facets, the JobEvent's declared lineage, the naive times.
    assert!(format!("{:?}", node(&db, &at(orders, 1)).props).contains("team:sales"));
    let declared =
        keys(&read.descendants(&r("job:\"dbt/orders_daily\"@1")).via(["declares_output"]).collect().expect("walk"));
    assert_eq!(declared, set(&[&at(daily, 1)]));
    assert_eq!(node(&db, dbt1).props.get("time_assumed_utc"), Some(&Value::Bool(true)));
    assert_eq!(node(&db, dbt1).props.get("ended_at"), Some(&time("2026-03-02T02:05:00Z")));
    // Importing it again changes nothing.
    let again = import_paths(&db, &[fixture("events_v2.jsonl")], false).expect("imports again");
    assert_eq!(again.snapshot, None, "{again:?}");
}

#[test]
fn unknown_and_future_facets_never_fail_an_import() {
    let (_dir, db) = fresh_db();
    let mut e: serde_json::Value =
        serde_json::from_str(&event("COMPLETE", "01:00:00", "f1", "job", &["in"], &["out"])).expect("json");
    e["run"]["facets"] = json!({
        "acme_cost": {"_producer": "x", "_schemaURL": "https://acme.invalid/cost.json", "usd": 1.5},
        "not_an_object": 7,
        "nested": {"a": [1, {"b": null}], "_deleted": true}
    });
    e["outputs"][0]["facets"] = json!({"futureFacet": {"anything": ["goes"]}, "schema": {"fields": "not a list"}});
    e["outputs"][0]["outputFacets"] = json!({"rowCountV9": 12});
    import_text(&db, "future.jsonl", &e.to_string(), false).expect("unknown facets import");
    let run = node(&db, "run:f1@1");
    let facets = format!("{:?}", run.props.get("facets"));
    assert!(facets.contains("acme_cost") && facets.contains("not_an_object"), "{facets}");
    assert!(format!("{:?}", node(&db, "dataset:\"file/out\"@1").props).contains("futureFacet"));
}
