//! A reader that closes stdout early (`lineagedb query ... | head -1`) is not
//! an error.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

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
    let mut child = f
        .command()
        .args(["query", "--db", &f.db_arg(), "--format", "json", &statements])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lineagedb");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read the first line");
    assert!(first.contains("dataset:table_0@1"), "{first}");
    drop(stdout);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "nothing on stderr, got: {stderr}");
}
