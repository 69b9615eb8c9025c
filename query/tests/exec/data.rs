//! Data-driven cases: every `test_data/exec/*.test` file is a list of
//! queries with their expected output, run in order on one fresh fixture
//! database (so writes in a file are seen by the cases after them).
//!
//! Format: a line `>>>` (optionally `>>> json` or `>>> csv`; the default is
//! `table`), the query (one or more lines), a line `---`, the expected output
//! (results, then the rendered error if the query fails). Lines starting with
//! `#` between cases are comments. Run with `UPDATE_EXPECT=1` to rewrite the
//! expectations, then review the diff.

use lineagedb_query::{Format, Session};

use super::support::{fixture, run_to_text, test_data};

#[derive(Debug)]
enum Item {
    Comment(String),
    Case { format: Option<String>, input: String, expect: String },
}

fn parse(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix(">>>") {
            let format = Some(rest.trim().to_owned()).filter(|f| !f.is_empty());
            let mut input = Vec::new();
            for l in lines.by_ref() {
                if l == "---" {
                    break;
                }
                input.push(l);
            }
            let mut expect = Vec::new();
            while let Some(l) = lines.peek() {
                if l.starts_with(">>>") || l.starts_with('#') {
                    break;
                }
                expect.push(*l);
                lines.next();
            }
            while expect.last().is_some_and(|l| l.trim().is_empty()) {
                expect.pop();
            }
            items.push(Item::Case { format, input: input.join("\n"), expect: expect.join("\n") });
        } else if !line.trim().is_empty() {
            items.push(Item::Comment(line.to_owned()));
        }
    }
    items
}

fn print(items: &[Item]) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Item::Comment(c) => {
                out.push_str(c);
                out.push('\n');
            }
            Item::Case { format, input, expect } => {
                out.push_str(">>>");
                if let Some(f) = format {
                    out.push(' ');
                    out.push_str(f);
                }
                out.push('\n');
                out.push_str(input);
                out.push_str("\n---\n");
                if !expect.is_empty() {
                    out.push_str(expect);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Runs one case and compares; returns the actual output.
fn check(session: &mut Session, format: Format, input: &str, expect: &str, failures: &mut Vec<String>) -> String {
    let actual = run_to_text(session, input, format);
    let actual: String = actual.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    if actual != expect {
        failures.push(format!("query:\n{input}\n--- expected:\n{expect}\n--- actual:\n{actual}\n"));
    }
    actual
}

#[test]
fn data_driven_cases() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let dir = test_data("exec");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("test_data/exec exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable test file");
        let mut items = parse(&text);
        let mut session = fixture();
        let mut file_failures = Vec::new();
        for item in &mut items {
            let Item::Case { format, input, expect } = item else { continue };
            cases += 1;
            let f: Format = format.as_deref().unwrap_or("table").parse().expect("a known format");
            let actual = check(&mut session, f, input, expect, &mut file_failures);
            if update {
                *expect = actual;
            }
        }
        if update {
            std::fs::write(&path, print(&items)).expect("writable test file");
        } else {
            for f in file_failures {
                failures.push(format!("{}:\n{f}", path.display()));
            }
        }
    }
    assert!(cases > 0);
    assert!(failures.is_empty(), "{} failing case(s):\n\n{}", failures.len(), failures.join("\n"));
}
