//! `lineagedb query`: statements from the command line, exit statuses and
//! error reports.

use crate::common::Fixture;

#[test]
fn query_creates_and_reads_back() {
    let f = Fixture::new();
    let out = f.query("CREATE dataset:transactions SET {rows: 10}; CREATE dataset:transactions;");
    let stdout = out.ok();
    assert!(stdout.contains("dataset:transactions@1"), "{stdout}");
    assert!(stdout.contains("dataset:transactions@2"), "{stdout}");

    let out = f.query("SHOW dataset:transactions@1");
    let stdout = out.ok();
    assert!(stdout.contains("dataset:transactions@1"), "{stdout}");
    assert!(stdout.contains("rows"), "{stdout}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn statements_run_in_order_and_results_print_in_order() {
    let f = Fixture::new();
    f.query("CREATE dataset:a; CREATE run:r; CREATE model:m; LINK dataset:a@1 -> run:r@1; LINK run:r@1 -> model:m@1;")
        .ok();
    let out = f.query("ANCESTORS OF model:m@1 WHERE type=dataset; DESCENDANTS OF dataset:a@1 WHERE type=model;");
    let stdout = out.ok();
    let a = stdout.find("dataset:a@1").expect("the ancestor");
    let m = stdout.find("model:m@1").expect("the descendant");
    assert!(a < m, "results out of order:\n{stdout}");
}

#[test]
fn several_statement_arguments_run_one_after_another() {
    let f = Fixture::new();
    f.run(&[
        "query",
        "--db",
        &f.db_arg(),
        "CREATE dataset:a",
        "CREATE dataset:b; CREATE dataset:c;",
        "CREATE model:m -- last",
    ])
    .ok();
    let (out, lines) = f.query_json("FIND dataset RETURN key");
    out.ok();
    assert_eq!(crate::common::row_keys(&lines[0]), ["dataset:a@1", "dataset:b@1", "dataset:c@1"]);
    // A failing argument stops the rest, as a failing statement does.
    let out = f.run(&["query", "--db", &f.db_arg(), "SHOW dataset:nope", "CREATE dataset:d"]);
    out.exits(1);
    assert!(f.query("SHOW dataset:d").code != 0);
}

#[test]
fn strings_take_the_unicode_escapes_python_json_writes() {
    let f = Fixture::new();
    // json.dumps({"owner": "café 😀"}) writes exactly this.
    f.query(r#"CREATE dataset:tx SET {"owner": "caf\u00e9 \ud83d\ude00"}"#).ok();
    let (out, lines) = f.query_json("SHOW dataset:tx");
    out.ok();
    assert_eq!(lines[0]["node"]["props"]["owner"], "café 😀", "{}", lines[0]);
    let out = f.query(r#"CREATE dataset:bad SET {owner: "\ud83d"}"#);
    out.exits(1);
    assert!(out.stderr.contains("invalid unicode escape"), "{}", out.stderr);
}

#[test]
fn a_parse_error_exits_1_with_the_statement_and_a_caret() {
    let f = Fixture::new();
    let out = f.query("ANCESTOR OF model:fraud@3");
    out.exits(1);
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains("ANCESTOR OF model:fraud@3"), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(!f.db().exists(), "a script that cannot run creates no database");
}

#[test]
fn reading_a_database_that_does_not_exist_is_an_error_and_creates_nothing() {
    let f = Fixture::new();
    let out = f.query("ANCESTORS OF model:fraud@3 WHERE type=dataset");
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: no database at "), "{}", out.stderr);
    assert!(out.stderr.contains("--db PATH"), "{}", out.stderr);
    assert!(!f.db().exists(), "no empty database was created");
    // A script that writes creates it.
    f.query("CREATE dataset:a").ok();
    assert!(f.db().exists());
    f.query("FIND dataset").ok();
}

#[test]
fn a_failing_statement_stops_the_rest() {
    let f = Fixture::new();
    let out = f.query("CREATE dataset:a; SHOW dataset:a@9; CREATE dataset:b;");
    out.exits(1);
    assert!(out.stdout.contains("dataset:a@1"), "the first statement ran:\n{}", out.stdout);
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains("dataset:a@9"), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);

    let found = f.query("FIND dataset");
    let stdout = found.ok();
    assert!(stdout.contains("dataset:a@1"), "{stdout}");
    assert!(!stdout.contains("dataset:b"), "the statement after the error ran:\n{stdout}");
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    f.run(&["query"]).exits(2);
    f.run(&["query", "--format", "yaml", "SNAPSHOTS"]).exits(2);
    f.run(&["frobnicate"]).exits(2);
    f.run(&["exec"]).exits(2);
    let out = f.run(&["--no-such-option"]);
    out.exits(2);
    assert!(!f.dir().join("lineage.redb").exists(), "a usage error must not create a database");
}

#[test]
fn a_file_that_is_not_a_database_exits_2_and_is_left_untouched() {
    let f = Fixture::new();
    let path = f.write("notes.txt", "these are not the droids you are looking for\n");
    let out = f.run(&["query", "--db", &path.display().to_string(), "SNAPSHOTS"]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains("notes.txt"), "the message names the file: {}", out.stderr);
    let text = std::fs::read_to_string(&path).expect("file still there");
    assert_eq!(text, "these are not the droids you are looking for\n");
}

#[test]
fn help_and_version_exit_0() {
    let f = Fixture::new();
    let help = f.run(&["--help"]);
    for command in ["query", "exec", "import", "run", "report", "audit", "verify", "archive", "demo"] {
        assert!(help.ok().contains(command), "`{command}` missing from --help:\n{}", help.stdout);
    }
    assert!(f.run(&["--version"]).ok().contains("lineagedb"));
}

#[test]
fn a_query_that_only_reads_leaves_the_file_untouched() {
    let f = Fixture::new();
    f.query("CREATE dataset:tx; CREATE model:fraud; LINK dataset:tx -> model:fraud AS input").ok();
    let before = std::fs::read(f.db()).expect("database file");
    let out = f.query("ANCESTORS OF model:fraud; SNAPSHOTS; VERIFY");
    assert!(out.ok().contains("dataset:tx@1"), "{}", out.stdout);
    f.run(&["verify", "--db", &f.db_arg()]).ok();
    assert!(before == std::fs::read(f.db()).expect("database file"), "a read-only query changed the file");
    // A script that writes still opens the database for writing.
    f.query("CREATE dataset:tx").ok();
    assert!(before != std::fs::read(f.db()).expect("database file"));
}

#[test]
fn as_of_a_time_copied_from_a_table_includes_that_whole_second() {
    let f = Fixture::new();
    f.query("CREATE dataset:a").ok();
    // The table prints the commit time to the second.
    let table = f.query("SNAPSHOTS").ok().to_owned();
    let printed = table
        .split_whitespace()
        .find(|word| word.len() == 20 && word.ends_with('Z') && word.contains('T'))
        .unwrap_or_else(|| panic!("no time in\n{table}"))
        .to_owned();
    let (out, lines) = f.query_json(&format!("FIND dataset RETURN key AS OF '{printed}'"));
    out.ok();
    assert_eq!(crate::common::row_keys(&lines[0]), ["dataset:a@1"]);
    let (out, lines) = f.query_json(&format!("AUDIT UNTIL '{printed}'"));
    out.ok();
    assert!(lines[0].to_string().contains("dataset:a@1"), "{}", lines[0]);
    // A time with a fraction is taken as written: the start of the second is
    // before the commit (unless it committed on the second exactly).
    let (_, snapshots) = f.query_json("SNAPSHOTS");
    let exact = snapshots[0]["snapshots"][0]["time"].as_str().expect("time").to_owned();
    if exact.contains('.') {
        f.query(&format!("FIND dataset AS OF '{}'", printed.replace('Z', ".000000Z"))).exits(1);
    }
}
