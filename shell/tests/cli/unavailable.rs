//! Subcommands documented for later releases are in the command line but
//! exit 2 with a clear message and no output.

use crate::common::Fixture;

#[test]
fn subcommands_of_later_releases_exit_2() {
    let f = Fixture::new();
    let cases: [(&[&str], &str); 2] = [
        (&["archive", "export", "-o", "all.archive"], "archive export"),
        (&["archive", "import", "all.archive"], "archive import"),
    ];
    for (args, name) in cases {
        let out = f.run(args);
        out.exits(2);
        assert!(
            out.stderr.starts_with(&format!("lineagedb: `{name}` is not available in this build yet")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

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
