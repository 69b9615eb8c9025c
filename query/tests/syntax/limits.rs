//! Resource limits: deep nesting is an error, long flat inputs parse, and
//! nothing panics, hangs or overflows the stack.

use std::time::{Duration, Instant};

use lineagedb_query::syntax::{MAX_DEPTH, parse_script, parse_statement};

const TOO_DEEP: &str = "nesting too deep (limit 64)";

fn assert_too_deep(src: &str) {
    let started = Instant::now();
    let err = parse_script(src).expect_err("too deep");
    assert_eq!(err.message, TOO_DEEP);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn limit_is_64() {
    assert_eq!(MAX_DEPTH, 64);
}

#[test]
fn many_open_parentheses() {
    let src = format!("FIND x WHERE {}", "(".repeat(100_000));
    assert_too_deep(&src);
    let err = parse_script(&src).expect_err("too deep");
    // The 65th parenthesis is the fault: FIND x WHERE is 13 bytes.
    assert_eq!(err.offset, 13 + 64);
}

#[test]
fn many_nots() {
    assert_too_deep(&format!("FIND x WHERE {}a = 1", "NOT ".repeat(100_000)));
}

#[test]
fn deeply_nested_lists_and_maps() {
    assert_too_deep(&format!("SET x:y {{a: {}", "[".repeat(100_000)));
    assert_too_deep(&format!("SET x:y {}", "{a: ".repeat(100_000)));
}

#[test]
fn deeply_nested_explain() {
    assert_too_deep(&format!("{}VERIFY", "EXPLAIN ".repeat(100_000)));
}

#[test]
fn nesting_at_the_limit_parses() {
    let depth = MAX_DEPTH;
    let src = format!("FIND x WHERE {}a = 1{}", "(".repeat(depth), ")".repeat(depth));
    assert!(parse_statement(&src).is_ok());
    let src = format!("FIND x WHERE {}a = 1{}", "(".repeat(depth + 1), ")".repeat(depth + 1));
    assert_eq!(parse_statement(&src).map_err(|e| e.message), Err(TOO_DEEP.to_string()));
}

#[test]
fn long_flat_chains_parse_without_deep_trees() {
    let terms: Vec<String> = (0..50_000).map(|i| format!("a = {i}")).collect();
    let src = format!("FIND x WHERE {}", terms.join(" OR "));
    let statement = parse_statement(&src).expect("long OR chain parses");
    let printed = statement.to_string();
    assert_eq!(parse_statement(&printed).expect("reparses"), statement);
    let src = format!("FIND x WHERE {}", terms.join(" AND "));
    assert!(parse_statement(&src).is_ok());
}

#[test]
fn huge_inputs() {
    let script = "SHOW model:fraud@3; ".repeat(50_000);
    assert_eq!(parse_script(&script).map(|s| s.len()), Ok(50_000));
    let long_name = format!("SHOW model:{}", "n".repeat(1_000_000));
    assert!(parse_script(&long_name).is_ok());
    let long_string = format!("SHOW model:\"{}", "s".repeat(1_000_000));
    let err = parse_script(&long_string).expect_err("unterminated");
    assert_eq!(err.message, "unterminated string");
    let garbage = "@".repeat(1_000_000);
    assert!(parse_script(&garbage).is_err());
    let values: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let list = format!("SET x:y {{a: [{}]}}", values.join(", "));
    assert!(parse_script(&list).is_ok());
    let started = Instant::now();
    let entries: Vec<String> = (0..100_000).map(|i| format!("k{i}: {i}")).collect();
    let map = format!("SET x:y {{{}}}", entries.join(", "));
    assert!(parse_script(&map).is_ok());
    let keys: Vec<String> = (0..100_000).map(|i| format!("k{i}")).collect();
    let in_list = format!("FIND x WHERE a IN ({})", keys.join(", "));
    assert!(parse_script(&in_list).is_ok());
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn unclosed_everything() {
    for src in [
        "FIND x WHERE (",
        "FIND x WHERE a IN (1,",
        "SET x:y {",
        "SET x:y {a: [",
        "SET x:y {a: [1",
        "SHOW x:'",
        "SHOW x:\"\\",
        "FIND x WHERE a = t'",
        "EXPLAIN",
        "EXPLAIN EXPLAIN",
        "LINK x:y ->",
        "FIND x WHERE a.",
        "FIND x WHERE a = \"\\u{110000}\"",
        "FIND x WHERE a = \"\\u{",
    ] {
        let err = parse_script(src).expect_err(src);
        let rendered = err.render(src);
        assert!(rendered.contains('^'), "{rendered}");
        assert!(err.offset <= src.len());
    }
}
