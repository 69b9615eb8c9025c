//! The syntax of the LineageDB query language: AST, parser, canonical printer
//! and parse errors.
//!
//! This module is pure syntax: it imports nothing from the engine. Parse with
//! [`parse_script`] or [`parse_statement`], print any tree back to canonical
//! text with `Display`, and report a [`ParseError`] with
//! [`ParseError::render`]. Parsing never panics, and nesting (parentheses,
//! `NOT`, lists, maps, `EXPLAIN`) is limited to [`MAX_DEPTH`] levels, so no
//! input can exhaust the stack.

pub mod ast;
mod error;
mod expr;
mod lexer;
mod parser;
mod printer;

pub use ast::{
    At, Audit, CompareOp, Expr, Field, Find, Lineage, LineageDirection, Link, Map, NodeRef, OrderBy, ReportFormat,
    SortOrder, Span, Statement, Value, VersionSelector, Walk, WalkDirection,
};
pub use error::{ParseError, render_fault};
pub use lexer::KEYWORDS;
pub use parser::MAX_DEPTH;

/// Parses a script: statements separated by `;` (the last one optional).
/// Empty statements and `--` comments are ignored.
///
/// ```
/// use lineagedb_query::syntax::parse_script;
/// let statements = parse_script("SHOW model:fraud@3; VERIFY").unwrap();
/// assert_eq!(statements.len(), 2);
/// ```
pub fn parse_script(src: &str) -> Result<Vec<Statement>, ParseError> {
    parser::script(src).map_err(|e| e.into_parse_error(src))
}

/// Parses exactly one statement, optionally followed by `;`.
///
/// ```
/// use lineagedb_query::syntax::parse_statement;
/// let statement = parse_statement("ancestors of model:fraud@3 where type = dataset").unwrap();
/// assert_eq!(
///     statement.to_string(),
///     r#"ANCESTORS OF model:fraud@3 WHERE type = "dataset""#
/// );
/// ```
pub fn parse_statement(src: &str) -> Result<Statement, ParseError> {
    parser::single(src).map_err(|e| e.into_parse_error(src))
}

/// True when `src` ends, ignoring trailing whitespace and comments, with a
/// `;` outside any string or comment: a REPL can stop reading lines.
pub fn statement_is_complete(src: &str) -> bool {
    let mut last_significant = None;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '-' if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' | '\'' => {
                let quote = c;
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else if c == quote {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return false;
                }
                last_significant = Some(quote);
            }
            c if c.is_whitespace() => {}
            c => last_significant = Some(c),
        }
    }
    last_significant == Some(';')
}
