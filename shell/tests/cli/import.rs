//! `lineagedb import --format jsonl`: one snapshot per import, errors that
//! name the file and line with nothing committed, idempotent re-import, and
//! `--skip-invalid`.

use crate::common::{Fixture, json_lines, row_keys};

const LINEAGE: &str = r#"{"node": {"type": "dataset", "name": "transactions", "version": 1, "props": {"rows": 1000}}}
{"node": {"type": "run", "name": "train_1", "props": {"learning_rate": 0.1}}}
{"edge": {"from": "dataset:transactions@1", "to": "run:train_1@1", "label": "input"}}
{"node": {"type": "model", "name": "fraud"}}
{"edge": {"from": "run:train_1@1", "to": "model:fraud@1", "label": "output"}}
{"alias": {"ref": "model:fraud@1", "alias": "production", "reason": "first model"}}
"#;

fn snapshot_count(f: &Fixture) -> usize {
    let (out, lines) = f.query_json("SNAPSHOTS");
    out.ok();
    lines[0]["snapshots"].as_array().map_or(0, Vec::len)
}

#[test]
fn an_import_is_one_snapshot_that_queries_answer() {
    let f = Fixture::new();
    let file = f.write("lineage.jsonl", LINEAGE);
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &file.display().to_string()]);
    let stdout = out.ok();
    assert!(stdout.contains("imported 6 records: 3 nodes created"), "{stdout}");
    assert!(stdout.contains("snapshot 1"), "{stdout}");
    assert_eq!(snapshot_count(&f), 1);
    let (out, lines) = f.query_json("ANCESTORS OF model:fraud@production WHERE type=dataset");
    out.ok();
    assert_eq!(row_keys(&lines[0]), ["dataset:transactions@1"]);
    assert!(lines[0]["rows"][0]["props"]["asserted_by"].as_str().is_some_and(|s| s.contains("tester")));
}

#[test]
fn re_importing_the_same_file_changes_nothing() {
    let f = Fixture::new();
    let file = f.write("lineage.jsonl", LINEAGE).display().to_string();
    f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &file]).ok();
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &file]);
    let stdout = out.ok();
    assert!(stdout.contains("nothing changed"), "{stdout}");
    assert_eq!(snapshot_count(&f), 1);
}

#[test]
fn a_bad_line_in_the_middle_names_file_and_line_and_commits_nothing() {
    let f = Fixture::new();
    let bad = LINEAGE.replace(r#""to": "model:fraud@1""#, r#""to": "model:fraud@4""#);
    let file = f.write("bad.jsonl", &bad).display().to_string();
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &file]);
    out.exits(1);
    let expected = format!("lineagedb: {file}:5: no node model:fraud@4: latest version is 1");
    assert!(out.stderr.starts_with(&expected), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was imported"), "{}", out.stderr);
    assert_eq!(snapshot_count(&f), 0);
    let out = f.query("FIND *");
    assert!(!out.ok().contains("dataset:transactions"), "{}", out.stdout);
}

#[test]
fn skip_invalid_commits_the_rest_and_writes_the_rejects() {
    let f = Fixture::new();
    let bad = LINEAGE.replace(r#""to": "model:fraud@1""#, r#""to": "model:fraud@4""#) + "not json\n";
    let file = f.write("bad.jsonl", &bad).display().to_string();
    let rejects = f.dir().join("rejects.jsonl");
    let out = f.run(&[
        "import",
        "--db",
        &f.db_arg(),
        "--format",
        "jsonl",
        "--skip-invalid",
        &rejects.display().to_string(),
        &file,
    ]);
    let stdout = out.ok();
    assert!(stdout.contains("2 lines rejected"), "{stdout}");
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    let lines = json_lines(&text);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line"], 5);
    assert!(lines[0]["reason"].as_str().is_some_and(|r| r.contains("no node model:fraud@4")));
    assert_eq!(lines[1]["line"], 7);
    assert_eq!(lines[1]["text"], "not json");
    assert_eq!(snapshot_count(&f), 1);
}

#[test]
fn a_missing_input_exits_2_without_creating_a_database() {
    let f = Fixture::new();
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", "missing.jsonl"]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: cannot read missing.jsonl"), "{}", out.stderr);
    assert!(!f.db().exists());
}

/// The OpenLineage events the real `openlineage-python` client wrote (see
/// tests/fixtures/openlineage/generate.py).
fn openlineage_fixture(name: &str) -> String {
    format!("{}/../tests/fixtures/openlineage/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn openlineage_events_import_as_lineage_that_queries_answer() {
    let f = Fixture::new();
    let events = openlineage_fixture("events.jsonl");
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "openlineage", &events]);
    assert!(out.ok().contains("snapshot 1"), "{}", out.stdout);
    let (out, lines) =
        f.query_json(r#"ANCESTORS OF model:"mlflow://registry/fraud_detector" WHERE type=dataset ORDER BY key"#);
    out.ok();
    assert_eq!(
        row_keys(&lines[0]),
        [
            r#"dataset:"s3://acme-lake/clean/transactions"@1"#,
            r#"dataset:"s3://acme-lake/features/fraud"@1"#,
            r#"dataset:"s3://acme-lake/raw/transactions"@1"#,
        ]
    );
    let (out, lines) = f.query_json(r#"DESCENDANTS OF dataset:"s3://acme-lake/raw/transactions"@1 WHERE type=model"#);
    out.ok();
    assert_eq!(row_keys(&lines[0]), [r#"model:"mlflow://registry/fraud_detector"@1"#]);
    // The same events as one file per event: nothing changes.
    let dir = openlineage_fixture("events");
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "openlineage", &dir]);
    assert!(out.ok().contains("nothing changed"), "{}", out.stdout);
    f.run(&["verify", "--db", &f.db_arg()]).ok();
}

#[test]
fn the_openlineage_clients_own_full_example_imports_a_job_that_rewrites_its_table() {
    let f = Fixture::new();
    let file = openlineage_fixture("upstream/example_full_event.json");
    let out = f.run(&["import", "--db", &f.db_arg(), "--format", "openlineage", &file]);
    out.ok();
    let (out, lines) = f.query_json(
        r#"ANCESTORS OF dataset:"my-datasource-namespace/instance.schema.table"@2 VIA input, output RETURN key"#,
    );
    out.ok();
    assert_eq!(
        row_keys(&lines[0]),
        ["run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1", r#"dataset:"my-datasource-namespace/instance.schema.table"@1"#]
    );
}

#[test]
fn dash_imports_standard_input_in_either_format() {
    let f = Fixture::new();
    f.run_with_stdin(&["import", "--db", &f.db_arg(), "--format", "jsonl", "-"], LINEAGE).ok();
    let (out, lines) = f.query_json("ANCESTORS OF model:fraud@1 WHERE type=dataset RETURN key");
    out.ok();
    assert_eq!(row_keys(&lines[0]), ["dataset:transactions@1"]);
    // One pretty-printed OpenLineage event, as `curl` or `jq` would pipe it.
    let event = std::fs::read_to_string(openlineage_fixture("upstream/example_full_event.json")).expect("read");
    f.run_with_stdin(&["import", "--db", &f.db_arg(), "--format", "openlineage", "-"], &event).ok();
    let (out, lines) = f.query_json("FIND run RETURN key");
    out.ok();
    assert!(row_keys(&lines[0]).contains(&"run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1".to_owned()), "{}", lines[0]);
    // Errors name standard input and the line.
    let out =
        f.run_with_stdin(&["import", "--db", &f.db_arg(), "--format", "openlineage", "-"], "{\"eventTime\": 1}\n{\n");
    out.exits(1);
    assert!(out.stderr.contains("stdin:1:"), "{}", out.stderr);
}

#[test]
fn openlineage_facets_are_properties_a_query_reads() {
    let f = Fixture::new();
    let file = openlineage_fixture("events.jsonl");
    f.run(&["import", "--db", &f.db_arg(), "--format", "openlineage", &file]).ok();
    // Job facets on the job node, run facets on the run.
    let (out, lines) = f.query_json(r#"FIND job WHERE facets.jobType.integration = "PYTHON" RETURN key"#);
    out.ok();
    assert_eq!(row_keys(&lines[0]).len(), 4, "{}", lines[0]);
    let (out, lines) = f.query_json(
        r#"FIND run WHERE facets.processing_engine.name = "Airflow" RETURN key, facets.processing_engine.version"#,
    );
    out.ok();
    assert_eq!(row_keys(&lines[0]), ["run:0195a0c0-0000-7000-8000-000000000004@1"]);
    assert_eq!(lines[0]["rows"][0]["facets.processing_engine.version"], "2.10.4");
}

#[test]
fn a_dataset_is_found_by_the_other_names_its_symlinks_give_it() {
    let f = Fixture::new();
    let file = openlineage_fixture("events_v2.jsonl");
    f.run(&["import", "--db", &f.db_arg(), "--format", "openlineage", &file]).ok();
    let (out, lines) =
        f.query_json(r#"FIND dataset WHERE name = "hive://metastore.acme.invalid:9083/sales.orders" RETURN key"#);
    out.ok();
    assert_eq!(row_keys(&lines[0]), [r#"dataset:"s3://acme-warehouse/warehouse/orders"@2"#]);
    // Its own name still finds it, and other names find nothing else.
    let (_, lines) = f.query_json(r#"FIND dataset WHERE name = "s3://acme-warehouse/warehouse/orders" RETURN key"#);
    assert_eq!(row_keys(&lines[0]).len(), 2);
    let (_, lines) = f.query_json(
        r#"FIND dataset WHERE name IN ("nope", "hive://metastore.acme.invalid:9083/sales.orders") RETURN key"#,
    );
    assert_eq!(row_keys(&lines[0]).len(), 1);
}
