//! Every example of `docs/query-language.md` (the ```sql blocks) runs
//! successfully against the fixture database: blocks that only read share
//! one fixture, a block that writes gets a fresh one.

use lineagedb_query::syntax::{Statement, parse_script};

use super::support::fixture;

#[test]
fn every_example_in_the_reference_runs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query-language.md");
    let text = std::fs::read_to_string(path).expect("docs/query-language.md exists");
    let mut blocks = Vec::new();
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```sql" => current = Some((i + 1, Vec::new())),
            None => {}
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some((_, lines)) => lines.push(line),
        }
    }
    assert!(blocks.len() >= 20, "the reference has examples ({} found)", blocks.len());
    let mut shared = fixture();
    for (line, lines) in blocks {
        let src = lines.join("\n");
        let writes = match parse_script(&src) {
            Ok(statements) => statements.iter().any(|s| s.is_write() || matches!(s, Statement::Begin { .. })),
            Err(e) => panic!("example at docs/query-language.md:{line} does not parse:\n{}", e.render(&src)),
        };
        let mut fresh;
        let session = if writes {
            fresh = fixture();
            &mut fresh
        } else {
            &mut shared
        };
        if let Err(e) = session.execute(&src) {
            panic!("example at docs/query-language.md:{line} fails:\n{}", e.render(&src));
        }
        assert!(!session.in_transaction(), "example at line {line} leaves a transaction open");
    }
}
