//! `lineagedb exec`: scripts from a file or stdin, stopping at the first error.

use crate::common::Fixture;

const SCRIPT: &str = "-- a small pipeline\n\
    CREATE dataset:raw SET {rows: 100};\n\
    CREATE run:clean_1;\n\
    CREATE dataset:clean;\n\
    LINK dataset:raw@1 -> run:clean_1@1 AS input;\n\
    LINK run:clean_1@1 -> dataset:clean@1 AS output;\n\
    ANCESTORS OF dataset:clean@1 WHERE type=dataset;\n";

#[test]
fn exec_runs_a_script_file() {
    let f = Fixture::new();
    let script = f.write("pipeline.lql", SCRIPT);
    let out = f.run(&["exec", "--db", &f.db_arg(), &script.display().to_string()]);
    let stdout = out.ok();
    assert!(stdout.contains("dataset:raw@1"), "{stdout}");
    assert!(stdout.contains("dataset:clean@1"), "{stdout}");
}

#[test]
fn exec_reads_stdin_given_a_dash() {
    let f = Fixture::new();
    let out = f.run_with_stdin(&["exec", "--db", &f.db_arg(), "--format", "json", "-"], SCRIPT);
    out.ok();
    let lines = crate::common::json_lines(&out.stdout);
    assert_eq!(lines.len(), 6, "one line per statement:\n{}", out.stdout);
    assert_eq!(crate::common::row_keys(&lines[5]), ["dataset:raw@1"]);
}

#[test]
fn exec_stops_at_the_first_error_and_points_at_its_line() {
    let f = Fixture::new();
    let script = f.write(
        "broken.lql",
        "CREATE dataset:a;\nCREATE dataset:b;\nLINK dataset:a@1 -> dataset:nope@1;\nCREATE dataset:c;\n",
    );
    let out = f.run(&["exec", "--db", &f.db_arg(), &script.display().to_string()]);
    out.exits(1);
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains("dataset:nope@1"), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);
    assert!(out.stderr.contains('3'), "the error names line 3: {}", out.stderr);

    let found = f.query("FIND dataset");
    let stdout = found.ok();
    assert!(stdout.contains("dataset:a@1") && stdout.contains("dataset:b@1"), "{stdout}");
    assert!(!stdout.contains("dataset:c"), "the script went on after the error:\n{stdout}");
}

#[test]
fn exec_of_a_missing_file_exits_2_without_creating_a_database() {
    let f = Fixture::new();
    let out = f.run(&["exec", "--db", &f.db_arg(), "no-such-script.lql"]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: cannot read script"), "{}", out.stderr);
    assert!(out.stderr.contains("no-such-script.lql"), "{}", out.stderr);
    assert!(!f.db().exists(), "the database was created");
}
