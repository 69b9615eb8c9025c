//! Tests of the query language syntax: data-driven parse and error cases
//! from `test_data/parse/`, spans, the REPL helper, resource limits, and
//! property tests (round trip of generated trees, no panic on any input).

#[path = "syntax/arb.rs"]
mod arb;
#[path = "syntax/limits.rs"]
mod limits;
#[path = "syntax/spans.rs"]
mod spans;

use std::path::PathBuf;

use lineagedb_query::syntax::{Statement, parse_script, parse_statement};

/// One case of a data file: its input and expected output.
struct Case {
    input: String,
    expected: String,
}

fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test_data/parse").join(name)
}

/// Splits a data file into cases: `>>>`, input lines, `---`, expected lines.
/// Lines before the first `>>>` and `#` lines outside inputs are comments.
fn read_cases(name: &str) -> (String, Vec<Case>) {
    let path = data_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut cases: Vec<Case> = Vec::new();
    let mut state = None; // None: outside; Some(true): input; Some(false): expected
    for line in text.lines() {
        if line == ">>>" {
            cases.push(Case { input: String::new(), expected: String::new() });
            state = Some(true);
            continue;
        }
        let Some(case) = cases.last_mut() else { continue };
        match state {
            Some(true) if line == "---" => state = Some(false),
            Some(true) => {
                case.input.push_str(line);
                case.input.push('\n');
            }
            Some(false) if line.is_empty() || line.starts_with('#') => state = None,
            Some(false) => {
                case.expected.push_str(line);
                case.expected.push('\n');
            }
            None => {}
        }
    }
    (text, cases)
}

/// Compares every case's actual output (from `run`) with its expectation.
/// With `UPDATE_EXPECT=1`, rewrites the file with the actual outputs instead.
fn check(name: &str, run: impl Fn(&str) -> String) {
    let (text, cases) = read_cases(name);
    assert!(!cases.is_empty(), "{name} has no cases");
    let actual: Vec<String> = cases.iter().map(|case| run(&case.input)).collect();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        write_expectations(name, &text, &actual);
        return;
    }
    let mut failures = Vec::new();
    for (case, actual) in cases.iter().zip(&actual) {
        if case.expected.trim_end() != actual.trim_end() {
            failures.push(format!("input:\n{}expected:\n{}actual:\n{}\n", case.input, case.expected, actual));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases in {name} differ (rerun with UPDATE_EXPECT=1 to accept):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Rewrites the expected part of every case, keeping inputs and comments.
fn write_expectations(name: &str, text: &str, actual: &[String]) {
    let mut out = String::new();
    let mut index = 0;
    let mut skipping = false;
    for line in text.lines() {
        if skipping {
            if line.is_empty() || line.starts_with('#') || line == ">>>" {
                skipping = false;
            } else {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
        if line == "---" {
            let actual = actual[index].trim_end();
            if !actual.is_empty() {
                out.push_str(actual);
                out.push('\n');
            }
            index += 1;
            skipping = true;
        }
    }
    std::fs::write(data_path(name), out).expect("write expectations");
}

/// Parses a script, prints each statement on its own line, and checks each
/// printed statement parses back to an equal tree that prints the same.
fn canonical(input: &str) -> String {
    let statements = match parse_script(input) {
        Ok(statements) => statements,
        Err(e) => return format!("unexpected error:\n{}", e.render(input)),
    };
    let mut out = String::new();
    for statement in &statements {
        let printed = statement.to_string();
        assert_round_trip(statement, &printed);
        out.push_str(&printed);
        out.push('\n');
    }
    out
}

fn assert_round_trip(statement: &Statement, printed: &str) {
    match parse_statement(printed) {
        Ok(reparsed) => {
            assert_eq!(&reparsed, statement, "round trip of {printed}");
            assert_eq!(reparsed.to_string(), printed, "printing is not stable");
        }
        Err(e) => panic!("canonical text does not parse:\n{}", e.render(printed)),
    }
}

#[test]
fn parse_ok_cases() {
    check("ok.txt", canonical);
}

#[test]
fn parse_error_cases() {
    check("errors.txt", |input| match parse_script(input) {
        Ok(statements) => format!("unexpected success: {statements:?}"),
        Err(e) => e.render(input),
    });
}

#[test]
fn parse_statement_wants_exactly_one() {
    assert!(parse_statement("VERIFY;").is_ok());
    assert!(parse_statement(" ; VERIFY ;; -- done").is_ok());
    let err = parse_statement("VERIFY; COMMIT").expect_err("two statements");
    assert_eq!(err.message, "expected a single statement, found a second one starting with `COMMIT`");
    assert_eq!((err.line, err.column), (1, 9));
    let err = parse_statement("  -- nothing").expect_err("no statement");
    assert_eq!(err.message, "expected a statement, found end of input");
}

#[test]
fn statement_is_complete_for_repl() {
    use lineagedb_query::syntax::statement_is_complete;
    assert!(statement_is_complete("VERIFY;"));
    assert!(statement_is_complete("VERIFY;  \n -- comment\n"));
    assert!(statement_is_complete("SHOW model:\"a;b\";"));
    assert!(statement_is_complete("BEGIN; COMMIT;"));
    assert!(!statement_is_complete("VERIFY"));
    assert!(!statement_is_complete(""));
    assert!(!statement_is_complete("VERIFY -- ends here;"));
    assert!(!statement_is_complete("SHOW model:\"a;"));
    assert!(!statement_is_complete("SHOW model:'it\\';"));
    assert!(!statement_is_complete("VERIFY; SHOW model:x"));
}

#[test]
fn keywords_are_uppercase_and_sorted() {
    use lineagedb_query::syntax::KEYWORDS;
    assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]), "KEYWORDS sorted, no duplicates");
    for keyword in KEYWORDS {
        assert_eq!(keyword.to_ascii_uppercase(), *keyword);
    }
    for statement in ["ANCESTORS", "DESCENDANTS", "LINEAGE", "PATH", "FIND", "SHOW", "HISTORY"] {
        assert!(KEYWORDS.contains(&statement), "{statement}");
    }
}

#[test]
fn error_fields_and_display() {
    let src = "ANCESTORS OF model:fraud@3 WHER type=dataset";
    let err = parse_statement(src).expect_err("typo");
    assert_eq!((err.line, err.column, err.offset, err.len), (1, 28, 27, 4));
    assert_eq!(err.hint.as_deref(), Some("did you mean WHERE?"));
    assert!(err.to_string().ends_with("at line 1, column 28"), "{err}");
    assert!(!err.message.ends_with('.'));
}
