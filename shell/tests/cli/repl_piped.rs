//! The shell with stdin from a pipe: it reads lines without prompts, runs
//! statements once they end with `;`, reports errors and goes on.

use crate::common::{Fixture, json_lines};

#[test]
fn a_piped_shell_runs_multi_line_statements_and_goes_on_after_errors() {
    let f = Fixture::new();
    let input = "CREATE dataset:a\n  SET {rows: 1};\nSHOW dataset:a@9;\n-- a comment line\nSHOW\n dataset:a@1\n;\n";
    let out = f.run_with_stdin(&["--db", &f.db_arg()], input);
    // Scripted shells report a failed statement in the exit status.
    out.exits(1);
    assert!(out.stdout.contains("dataset:a@1"), "{}", out.stdout);
    assert!(out.stdout.contains("rows"), "the statement after the error ran:\n{}", out.stdout);
    assert!(out.stderr.contains("dataset:a@9"), "{}", out.stderr);
    assert!(out.stderr.contains('^'), "{}", out.stderr);
    assert!(!out.stdout.contains("lineagedb>"), "no prompts without a terminal:\n{}", out.stdout);
}

#[test]
fn the_last_statement_may_end_without_a_semicolon() {
    let f = Fixture::new();
    let out = f.run_with_stdin(&["--db", &f.db_arg()], "CREATE dataset:a;\nFIND dataset");
    assert!(out.ok().matches("dataset:a@1").count() >= 2, "{}", out.stdout);
}

#[test]
fn meta_commands_set_the_format_and_timing() {
    let f = Fixture::new();
    let input = ".format json\nCREATE dataset:a;\n.timing on\nFIND dataset;\n.timing off\n.format\n";
    let out = f.run_with_stdin(&["--db", &f.db_arg()], input);
    let stdout = out.ok();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let results = json_lines(&lines[..2].join("\n"));
    assert_eq!(results[0]["keys"], serde_json::json!(["dataset:a@1"]));
    assert_eq!(results[1]["rows"][0]["key"], "dataset:a@1");
    assert_eq!(lines[2], "format: json");
    assert_eq!(out.stderr.matches("time: ").count(), 1, "{}", out.stderr);
}

#[test]
fn read_runs_a_script_and_open_switches_database() {
    let f = Fixture::new();
    let script = f.write("setup.lql", "CREATE dataset:from_script;\nCREATE dataset:from_script;\n");
    let other = f.dir().join("other.redb");
    let input = format!(
        ".read {}\n.open {}\nCREATE model:elsewhere;\nFIND *;\n.help\n.bogus\n.quit\nCREATE dataset:after_quit;\n",
        script.display(),
        other.display()
    );
    let out = f.run_with_stdin(&["--db", &f.db_arg()], &input);
    let stdout = out.ok();
    assert!(stdout.contains("dataset:from_script@2"), "{stdout}");
    assert!(stdout.contains("model:elsewhere@1"), "{stdout}");
    assert!(stdout.contains(".timing"), "the help lists the commands:\n{stdout}");
    assert!(stdout.lines().all(|line| line.chars().count() <= 80), "wider than 80 columns:\n{stdout}");
    assert!(out.stderr.contains("unknown command `.bogus`"), "{}", out.stderr);

    let here = f.query("FIND *");
    let here = here.ok();
    assert!(here.contains("dataset:from_script@2") && !here.contains("model:elsewhere"), "{here}");
    assert!(!here.contains("after_quit"), ".quit stops reading: {here}");
    let there = f.run(&["query", "--db", &other.display().to_string(), "FIND *"]);
    assert!(there.ok().contains("model:elsewhere@1"), "{}", there.stdout);
}

#[test]
fn a_transaction_spans_statements_of_the_shell() {
    let f = Fixture::new();
    let input =
        "BEGIN AUTHOR \"ana\" MESSAGE \"two at once\";\nCREATE dataset:a;\nCREATE dataset:b;\nCOMMIT;\nSNAPSHOTS;\n";
    let out = f.run_with_stdin(&["--db", &f.db_arg()], input);
    let stdout = out.ok();
    assert!(stdout.contains("two at once"), "{stdout}");
    assert!(stdout.contains("ana"), "{stdout}");
}
