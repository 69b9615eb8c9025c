//! `lineagedb demo`: the worked example builds, every query its welcome
//! suggests succeeds, and the shell runs on it.

use crate::common::{Fixture, Outcome, row_keys, suggested_queries};

#[test]
fn every_query_the_welcome_suggests_succeeds() {
    let f = Fixture::new();
    let out = f.run(&["demo", "--no-repl", "--db", &f.db_arg()]);
    let welcome = out.ok();
    assert!(welcome.contains(&f.db_arg()), "the welcome names the file:\n{welcome}");
    let queries = suggested_queries(welcome);
    assert!(queries.len() >= 5, "{welcome}");
    for query in &queries {
        // A terminal of 132 columns shows every suggested query without
        // making a line wider (80 would: the DIFF shows two 40-digit commit
        // hashes side by side, and hashes are never split).
        let out = Outcome::from(
            f.command().args(["query", "--db", &f.db_arg(), query]).env("COLUMNS", "132").output().expect("run"),
        );
        assert_eq!(out.code, 0, "`{query}` failed:\n{}", out.stderr);
        assert!(!out.stdout.trim().is_empty(), "`{query}` printed nothing");
        assert!(out.stderr.is_empty(), "`{query}`: {}", out.stderr);
        for line in out.stdout.lines() {
            assert!(line.chars().count() <= 132, "`{query}` is wider than 132 columns:\n{line}");
        }
    }
    for line in welcome.lines().filter(|line| !line.contains(&f.db_arg())) {
        assert!(line.chars().count() <= 80, "welcome wider than 80 columns:\n{line}");
    }
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok: "));
}

#[test]
fn the_demo_graph_answers_lineage_questions() {
    let f = Fixture::new();
    f.run(&["demo", "--no-repl", "--db", &f.db_arg()]).ok();

    let (out, lines) = f.query_json("ANCESTORS OF model:fraud@production WHERE type=dataset");
    out.ok();
    let keys = row_keys(&lines[0]);
    for key in ["dataset:fraud_features@1", "dataset:transactions_clean@1", "dataset:transactions@1"] {
        assert!(keys.contains(&key.to_owned()), "{key} missing from {keys:?}");
    }
    assert!(
        !keys.iter().any(|k| k.starts_with("dataset:transactions@2")),
        "production is @2 after the rollback: {keys:?}"
    );

    let (out, lines) = f.query_json("DESCENDANTS OF dataset:transactions@1 WHERE type=model");
    out.ok();
    assert_eq!(row_keys(&lines[0]).len(), 3, "{}", lines[0]);

    let (out, lines) = f.query_json("SHOW model:fraud@production AS OF 5; SHOW model:fraud@production AS OF 7");
    out.ok();
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    assert!(text[0].contains("model:fraud@2"), "{}", text[0]);
    assert!(text[1].contains("model:fraud@3"), "{}", text[1]);

    let (out, lines) = f.query_json("DIFF model:fraud@2 model:fraud@3");
    out.ok();
    let code = &lines[0]["diff"]["code"][0];
    assert_eq!(code["from"], serde_json::json!(["code:fraud-repo@2"]), "{}", lines[0]);
    assert_eq!(code["to"], serde_json::json!(["code:fraud-repo@3"]), "{}", lines[0]);

    let at_132 = |query: &str| {
        Outcome::from(
            f.command().args(["query", "--db", &f.db_arg(), query]).env("COLUMNS", "132").output().expect("run"),
        )
    };
    let history = at_132("HISTORY OF model:fraud");
    let history = history.ok();
    // Alias moves show both versions and the reason; times print to the second.
    for expected in ["bruno.ml", "carla.mlops", "production: @2 -> @3", "production: @3 -> @2", "reason: rollback:"] {
        assert!(history.contains(expected), "{expected} missing from:\n{history}");
    }
    assert!(!history.contains('…'), "nothing is cut:\n{history}");
    let snapshots = at_132("SNAPSHOTS");
    let snapshots = snapshots.ok();
    assert!(snapshots.contains("roll back"), "{snapshots}");
    assert!(!snapshots.contains('…'), "nothing is cut:\n{snapshots}");
    let diff = at_132("DIFF model:fraud@2 model:fraud@3");
    let diff = diff.ok();
    assert!(diff.contains("run:train_fraud_2@1") && diff.contains("run:train_fraud_3@1"), "{diff}");
    assert!(!diff.contains('…'), "nothing is cut:\n{diff}");
    for table in [&history, &snapshots, &diff] {
        assert!(table.lines().all(|l| l.chars().count() <= 132), "a line is wider than 132:\n{table}");
    }
    // What explains a model comes first, the runs' times last.
    let position = |text: &str| diff.find(text).unwrap_or_else(|| panic!("no {text} in\n{diff}"));
    assert!(position("params.max_depth") < position("metrics.auc"), "{diff}");
    assert!(position("metrics.auc") < position("dataset:fraud_features"), "{diff}");
    assert!(position("code:fraud-repo") < position("started_at"), "{diff}");
    assert!(diff.contains("run detail"), "{diff}");
    // `…:SS.ffffff`: a time with a fraction of a second.
    let fraction = |t: &str| {
        t.as_bytes().windows(4).any(|w| w[0] == b':' && w[1..3].iter().all(u8::is_ascii_digit) && w[3] == b'.')
    };
    for table in [&history, &snapshots] {
        assert!(table.contains("Z  ") && !fraction(table), "times to the second:\n{table}");
    }
}

#[test]
fn the_demo_refuses_a_database_that_holds_data() {
    let f = Fixture::new();
    f.query("CREATE dataset:precious").ok();
    let out = f.run(&["demo", "--no-repl", "--db", &f.db_arg()]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains("already holds data"), "{}", out.stderr);
    let found = f.query("FIND *");
    assert!(!found.ok().contains("model:fraud"), "the demo wrote into the database");
}

#[test]
fn without_a_terminal_the_demo_shell_reads_stdin() {
    let f = Fixture::new();
    let out = f.run_with_stdin(&["demo", "--db", &f.db_arg()], "HISTORY OF model:fraud;\n");
    let stdout = out.ok();
    assert!(stdout.contains("Try:"), "{stdout}");
    assert!(stdout.contains("model:fraud@3"), "{stdout}");
}

#[test]
fn without_db_the_demo_uses_a_fresh_temporary_file() {
    let f = Fixture::new();
    let out = f.command().env("TMPDIR", f.dir()).args(["demo", "--no-repl"]).output().expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Vec<_> = std::fs::read_dir(f.dir())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("lineagedb-demo-"))
        .collect();
    assert_eq!(created.len(), 1, "{stdout}");
    assert!(stdout.contains(&*created[0].file_name().to_string_lossy()), "{stdout}");
}
