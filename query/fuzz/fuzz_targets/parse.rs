//! Fuzz target: any UTF-8 text through `parse_script`. Parsing must never
//! panic, errors must point inside the input, and every statement that
//! parses must print to canonical text that parses back to an equal tree.
//!
//! Run with `cargo fuzz run parse` from `query/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lineagedb_query::syntax::{parse_script, parse_statement, statement_is_complete};

fuzz_target!(|src: &str| {
    let _ = statement_is_complete(src);
    match parse_script(src) {
        Ok(statements) => {
            for statement in statements {
                let printed = statement.to_string();
                let reparsed = parse_statement(&printed)
                    .unwrap_or_else(|e| panic!("canonical text does not parse:\n{}", e.render(&printed)));
                assert_eq!(reparsed, statement, "round trip of {printed}");
                assert_eq!(reparsed.to_string(), printed, "printing is not stable");
            }
        }
        Err(e) => {
            assert!(e.offset <= src.len());
            assert!(e.line >= 1 && e.column >= 1);
            let _ = e.render(src);
        }
    }
});
