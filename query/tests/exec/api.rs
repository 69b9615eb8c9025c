//! The embedding API: `run`, `Session` transactions, error positions and
//! the JSON shapes a program relies on.

use lineagedb_query::{Database, ErrorKind, Format, QueryResult, run};
use serde_json::json;

use super::support::{fixture, json};

#[test]
fn run_answers_a_query_string() {
    let db = Database::in_memory().expect("db");
    let results = run(&db, "CREATE dataset:raw; CREATE model:m; LINK dataset:raw -> model:m AS input").expect("writes");
    assert_eq!(results.len(), 3);
    assert_eq!(results[2].to_json(), json!({"ok": true, "snapshot": 3, "keys": ["dataset:raw@1", "model:m@1"]}));
    let rows = run(&db, "ANCESTORS OF model:m@1").expect("reads");
    assert_eq!(
        rows[0].to_json(),
        json!({"rows": [{"key": "dataset:raw@1", "type": "dataset", "name": "raw", "version": 1, "depth": 1, "props": {}}]})
    );
}

#[test]
fn a_transaction_commits_once_and_reports_its_keys() {
    let mut s = fixture();
    let before = json(&mut s, "SNAPSHOTS LIMIT 1")[0]["snapshots"][0]["id"].clone();
    let out = json(&mut s, "BEGIN AUTHOR 'ci' MESSAGE 'nightly'; CREATE dataset:new_a; CREATE dataset:new_b");
    assert!(s.in_transaction());
    assert_eq!(out[1], json!({"ok": true, "snapshot": null, "keys": ["dataset:new_a@1"]}));
    // Reads inside the transaction see committed state only.
    let err = s.execute("SHOW dataset:new_a").expect_err("pending writes are not visible to reads");
    assert!(err.message.contains("no node dataset:new_a"), "{}", err.message);
    assert!(!s.in_transaction(), "an error inside a transaction rolls it back");
    assert!(err.message.contains("the transaction was rolled back"), "{}", err.message);
    let after = json(&mut s, "SNAPSHOTS LIMIT 1")[0]["snapshots"][0]["id"].clone();
    assert_eq!(before, after, "nothing of the rolled back transaction was committed");

    let out =
        json(&mut s, "BEGIN MESSAGE 'two nodes'; CREATE dataset:new_a; LINK dataset:new_a -> model:fraud@3; COMMIT");
    let last = &out[3];
    assert_eq!(last["transaction"], "commit");
    assert_eq!(last["keys"], json!(["dataset:new_a@1", "model:fraud@3"]));
    let snapshot = last["snapshot"].as_u64().expect("a snapshot id");
    let snaps = json(&mut s, "SNAPSHOTS LIMIT 1");
    assert_eq!(snaps[0]["snapshots"][0]["id"], snapshot);
    assert_eq!(snaps[0]["snapshots"][0]["author"], "tester");
    assert_eq!(snaps[0]["snapshots"][0]["message"], "two nodes");
    assert_eq!(snaps[0]["snapshots"][0]["changes"], 2);
}

#[test]
fn a_transaction_spans_several_calls() {
    let mut s = fixture();
    s.execute("BEGIN").expect("begin");
    s.execute("CREATE model:other").expect("create");
    assert!(s.in_transaction());
    let out = s.execute("ROLLBACK").expect("rollback");
    assert_eq!(out[0].to_json()["transaction"], "rollback");
    assert!(!s.in_transaction());
    assert!(s.execute("SHOW model:other").is_err(), "rolled back writes are gone");
}

#[test]
fn transaction_statements_out_of_place_are_errors() {
    let mut s = fixture();
    let e = s.execute("COMMIT").expect_err("no transaction");
    assert_eq!(e.kind, ErrorKind::Transaction);
    assert!(e.message.starts_with("COMMIT without BEGIN"), "{}", e.message);
    let e = s.execute("ROLLBACK").expect_err("no transaction");
    assert!(e.message.starts_with("ROLLBACK without BEGIN"), "{}", e.message);
    s.execute("BEGIN").expect("begin");
    let e = s.execute("BEGIN").expect_err("no nesting");
    assert!(e.message.contains("transactions do not nest"), "{}", e.message);
    assert!(!s.in_transaction());
}

#[test]
fn run_rolls_back_an_unterminated_transaction() {
    let db = Database::in_memory().expect("db");
    let src = "CREATE dataset:a;\nBEGIN;\nCREATE dataset:b";
    let e = run(&db, src).expect_err("BEGIN without COMMIT");
    assert_eq!((e.line, e.column), (2, 1));
    let shown = run(&db, "FIND dataset").expect("find");
    assert_eq!(shown[0].to_json()["rows"].as_array().map(Vec::len), Some(1), "only the first write committed");
}

#[test]
fn a_parse_error_runs_nothing() {
    let db = Database::in_memory().expect("db");
    let src = "CREATE dataset:a;\nDESCENDENTS OF dataset:a";
    let e = run(&db, src).expect_err("does not parse");
    assert_eq!(e.kind, ErrorKind::Parse);
    assert_eq!((e.line, e.column), (2, 1));
    assert_eq!(e.hint.as_deref(), Some("did you mean DESCENDANTS?"));
    assert!(run(&db, "SHOW dataset:a").is_err(), "the CREATE before the bad statement did not run");
}

#[test]
fn execution_errors_point_at_the_reference() {
    let mut s = fixture();
    let src = "SHOW model:fraud@3;\nLINK model:fraud@3 -> deployment:nope@1";
    let e = s.execute(src).expect_err("unknown node");
    assert_eq!((e.line, e.column), (2, 23));
    assert_eq!(e.len, "deployment:nope@1".len());
    let text = e.render(src);
    assert!(text.starts_with("error: no node deployment:nope@1"), "{text}");
    assert!(
        text.contains("\n2 | LINK model:fraud@3 -> deployment:nope@1\n  |                       ^^^^^^^^^^^^^^^^^"),
        "{text}"
    );
    assert_eq!(e.to_json()["error"]["line"], 2);
    let e = s.execute("SHOW dataset:tx@9").expect_err("no such version");
    assert_eq!(e.message, "no node dataset:tx@9: latest version is 7");
}

#[test]
fn execute_each_streams_results_until_the_first_error() {
    let mut s = fixture();
    let mut seen = Vec::new();
    let outcome = s
        .execute_each("SHOW model:fraud@1; SHOW model:fraud@2; SHOW model:fraud@9; SHOW model:fraud@3", &mut |r| {
            seen.push(r)
        });
    assert!(outcome.is_err());
    assert_eq!(seen.len(), 2);
    assert!(matches!(seen[0], QueryResult::Node(_)));
}

#[test]
fn json_output_is_one_line_per_statement() {
    let mut s = fixture();
    let results = s
        .execute("LINEAGE OF model:fraud@3; SHOW model:fraud@2; HISTORY OF model:fraud; DIFF model:fraud@2 model:fraud@3; AUDIT LIMIT 3; VERIFY; EXPLAIN FIND model")
        .expect("reads");
    for r in &results {
        let line = r.render(Format::Json);
        assert!(!line.contains('\n'), "{line}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).expect("valid JSON"), r.to_json());
    }
}

#[test]
fn tables_fit_the_width_set() {
    let mut s = fixture();
    let results = s
        .execute("FIND *; LINEAGE OF model:fraud@3; SHOW dataset:customers; HISTORY OF model:fraud; AUDIT LIMIT 20; SNAPSHOTS LIMIT 5; DIFF model:fraud@1 model:fraud@3; VERIFY; EXPLAIN DESCENDANTS OF dataset:raw_1@4 DEPTH 4 VIA input, output WHERE type = model AND auc > 0.9 ORDER BY auc DESC LIMIT 1")
        .expect("reads");
    assert_eq!(results.len(), 9);
    // The fixture's keys fit side by side at 100 columns, and every table
    // keeps to that width.
    lineagedb_query::set_table_width(100);
    for r in &results {
        for line in r.render(Format::Table).lines() {
            assert!(line.chars().count() <= 100, "too wide: {line}");
        }
    }
}

#[test]
fn as_of_reads_the_past_and_resolves_aliases_then() {
    let mut s = fixture();
    let now = json(&mut s, "SHOW model:fraud@production");
    assert_eq!(now[0]["node"]["key"], "model:fraud@2");
    let then = json(&mut s, "SHOW model:fraud@production AS OF 25");
    assert_eq!(then[0]["node"]["key"], "model:fraud@1");
    // Snapshot n was committed at hour n-1: hour 24 is snapshot 25.
    let by_time = json(&mut s, "SHOW model:fraud@production AS OF '2026-11-02T00:30:00Z'");
    assert_eq!(by_time[0]["node"]["key"], "model:fraud@1");
    let e = s.execute("SHOW model:fraud AS OF 'yesterday'").expect_err("not a time");
    assert!(e.message.starts_with("invalid timestamp"), "{}", e.message);
    assert_eq!(e.column, "SHOW model:fraud ".len() + 1, "the caret is on AS OF");
}
