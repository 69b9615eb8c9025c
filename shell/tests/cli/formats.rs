//! Output formats: JSON Lines (one object per statement), CSV, tables, and
//! errors as JSON objects.

use crate::common::{Fixture, json_lines, row_keys};

fn pipeline(f: &Fixture) {
    f.query(
        "CREATE dataset:raw SET {rows: 100}; CREATE run:train_1 SET {params: {lr: 0.1}}; CREATE model:fraud; \
         LINK dataset:raw@1 -> run:train_1@1 AS input; LINK run:train_1@1 -> model:fraud@1 AS output;",
    )
    .ok();
}

#[test]
fn json_output_is_one_object_per_statement() {
    let f = Fixture::new();
    let (out, lines) = f.query_json("CREATE dataset:x SET {owner: \"risk\"}; CREATE dataset:x;");
    out.ok();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["ok"], true, "{}", lines[0]);
    assert!(lines[0]["snapshot"].is_u64(), "{}", lines[0]);
    assert_eq!(lines[0]["keys"], serde_json::json!(["dataset:x@1"]));
    assert_eq!(lines[1]["keys"], serde_json::json!(["dataset:x@2"]));
    assert!(lines[1]["snapshot"].as_u64() > lines[0]["snapshot"].as_u64());

    pipeline(&f);
    let (out, lines) = f.query_json("ANCESTORS OF model:fraud@1; PATH FROM dataset:raw@1 TO model:fraud@1;");
    out.ok();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(row_keys(&lines[0]), ["run:train_1@1", "dataset:raw@1"]);
    let run = &lines[0]["rows"][0];
    assert_eq!(run["type"], "run");
    assert_eq!(run["name"], "train_1");
    assert_eq!(run["version"], 1);
    assert_eq!(run["depth"], 1);
    assert_eq!(run["props"]["params"]["lr"], 0.1);
    assert_eq!(lines[1]["path"], serde_json::json!(["dataset:raw@1", "run:train_1@1", "model:fraud@1"]));
    assert_eq!(lines[1]["labels"], serde_json::json!(["input", "output"]));
}

#[test]
fn json_lineage_has_nodes_and_edges() {
    let f = Fixture::new();
    pipeline(&f);
    let (out, lines) = f.query_json("LINEAGE OF model:fraud@1 UPSTREAM");
    out.ok();
    assert_eq!(lines.len(), 1);
    assert!(lines[0]["nodes"].as_array().is_some_and(|n| n.len() >= 2), "{}", lines[0]);
    let edges = lines[0]["edges"].as_array().expect("edges");
    assert!(edges.iter().any(|e| e["from"] == "dataset:raw@1" && e["to"] == "run:train_1@1" && e["label"] == "input"));
}

#[test]
fn json_errors_are_an_error_object_on_stdout_and_a_message_on_stderr() {
    let f = Fixture::new();
    let (out, lines) = f.query_json("CREATE dataset:a;\nSHOW dataset:a@7;");
    out.exits(1);
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0]["ok"], true);
    let error = &lines[1]["error"];
    assert!(error["message"].as_str().is_some_and(|m| m.contains("dataset:a@7")), "{error}");
    assert_eq!(error["line"], 2, "{error}");
    assert!(error["column"].as_u64().is_some_and(|c| c >= 1), "{error}");
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);
}

#[test]
fn csv_output_has_a_header_and_one_line_per_row() {
    let f = Fixture::new();
    pipeline(&f);
    let out = f.run(&["query", "--db", &f.db_arg(), "--format", "csv", "ANCESTORS OF model:fraud@1"]);
    let stdout = out.ok();
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "header and two rows:\n{stdout}");
    assert!(lines[0].contains("key"), "{stdout}");
    assert!(lines[1].contains("run:train_1@1"), "{stdout}");
    assert!(lines[2].contains("dataset:raw@1"), "{stdout}");
}

#[test]
fn the_format_may_come_before_the_subcommand() {
    let f = Fixture::new();
    let out = f.run(&["--format", "json", "query", "--db", &f.db_arg(), "CREATE dataset:x"]);
    out.ok();
    assert_eq!(json_lines(&out.stdout)[0]["keys"], serde_json::json!(["dataset:x@1"]));
}

#[test]
fn tables_fit_an_80_column_terminal() {
    let f = Fixture::new();
    pipeline(&f);
    let out = f.query("ANCESTORS OF model:fraud@1; FIND dataset; HISTORY OF model:fraud; SNAPSHOTS;");
    let stdout = out.ok();
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "line wider than 80 columns:\n{line}\n\n{stdout}");
    }
}
