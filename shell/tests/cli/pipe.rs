//! A reader that closes stdout early (`lineagedb query ... | head -1`) is not
//! an error.

use crate::common::Fixture;

#[test]
fn a_closed_stdout_is_not_an_error() {
    let f = Fixture::new();
    let mut script = String::from("BEGIN;\n");
    for i in 0..300 {
        script.push_str(&format!("CREATE dataset:table_{i} SET {{owner: \"data-platform\", rows: {i}}};\n"));
    }
    script.push_str("COMMIT;\n");
    f.run_with_stdin(&["exec", "--db", &f.db_arg(), "-"], &script).ok();

    // Far more output than a pipe buffer holds, so the writer meets the closed pipe.
    let statements = "FIND dataset;".repeat(40);
    let (first, out) = f.close_after_first_line(&["query", "--db", &f.db_arg(), "--format", "json", &statements]);
    assert!(first.contains("dataset:table_0@1"), "{first}");
    out.exits(0);
    assert!(out.stderr.is_empty(), "nothing on stderr, got: {}", out.stderr);
}
