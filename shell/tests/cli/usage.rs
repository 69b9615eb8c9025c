//! Usage errors: a subcommand's arguments are checked before anything runs.

use crate::common::Fixture;

#[test]
fn their_arguments_are_still_checked() {
    let f = Fixture::new();
    // `import` needs --format and a file; `run` needs the command after `--`.
    f.run(&["import", "events.jsonl"]).exits(2);
    f.run(&["run", "--job", "train"]).exits(2);
    let out = f.run(&["import", "--format", "parquet", "x"]);
    out.exits(2);
    assert!(out.stderr.contains("parquet"), "{}", out.stderr);
}
