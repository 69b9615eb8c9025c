//! `QueryError`: every failure of a query, parse or execution, with the
//! position of the fault in the source, an optional hint, and the caret
//! rendering the shell prints.

use std::fmt;

use crate::syntax::{ParseError, Span};

/// What kind of failure a [`QueryError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text does not parse; nothing ran.
    Parse,
    /// A statement parsed but could not run (unknown node, cycle, ...).
    Execution,
    /// Misuse of `BEGIN` / `COMMIT` / `ROLLBACK`, or a transaction that was rolled back.
    Transaction,
    /// A statement that exists in the language but not in this build.
    Unsupported,
}

/// A query that failed: what is wrong, where, and possibly how to fix it.
///
/// `Display` gives the one-line form (`message at line L, column C`);
/// [`QueryError::render`] adds the source line with a caret under the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryError {
    /// What is wrong: lowercase, no trailing period.
    pub message: String,
    /// 1-based line of the fault.
    pub line: usize,
    /// 1-based column of the fault, counted in chars.
    pub column: usize,
    /// A suggestion, such as `swap FROM and TO`.
    pub hint: Option<String>,
    /// Byte offset of the fault in the source.
    pub offset: usize,
    /// Byte length of the offending text (at least one caret is drawn).
    pub len: usize,
    /// The family of the failure.
    pub kind: ErrorKind,
}

impl QueryError {
    /// An error about the text `span` covers in `src`.
    pub(crate) fn at(kind: ErrorKind, src: &str, span: Span, message: impl Into<String>) -> QueryError {
        let offset = span.start.min(src.len());
        let (line, column) = span.line_column(src);
        QueryError {
            message: message.into(),
            line,
            column,
            hint: None,
            offset,
            len: span.end.saturating_sub(span.start),
            kind,
        }
    }

    /// Adds (or extends) the hint.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> QueryError {
        let hint = hint.into();
        self.hint = Some(match self.hint.take() {
            Some(old) => format!("{old}; {hint}"),
            None => hint,
        });
        self
    }

    /// The error with the offending source line and a caret under the fault:
    ///
    /// ```text
    /// error: no node dataset:tx@9: latest version is 7 at line 1, column 14
    ///   |
    /// 1 | ANCESTORS OF dataset:tx@9
    ///   |              ^^^^^^^^^^^^
    /// ```
    pub fn render(&self, src: &str) -> String {
        let headline = format!("error: {self}");
        crate::syntax::render_fault(src, self.offset, self.len, self.line, &headline, self.hint.as_deref())
    }

    /// `{"error": {"message": ..., "line": L, "column": C}}`, plus `"hint"` when there is one.
    pub fn to_json(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("message".into(), self.message.clone().into());
        error.insert("line".into(), self.line.into());
        error.insert("column".into(), self.column.into());
        if let Some(hint) = &self.hint {
            error.insert("hint".into(), hint.clone().into());
        }
        serde_json::json!({ "error": error })
    }
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> QueryError {
        QueryError {
            message: e.message,
            line: e.line,
            column: e.column,
            hint: e.hint,
            offset: e.offset,
            len: e.len,
            kind: ErrorKind::Parse,
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {}, column {}", self.message, self.line, self.column)
    }
}

impl std::error::Error for QueryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_puts_a_caret_under_the_span() {
        let src = "SHOW a:b;\nSHOW model:x@9";
        let e = QueryError::at(ErrorKind::Execution, src, Span::new(15, 24), "no node model:x@9")
            .with_hint("latest version is 1");
        assert_eq!((e.line, e.column), (2, 6));
        assert_eq!(
            e.render(src),
            "error: no node model:x@9 at line 2, column 6\n  |\n2 | SHOW model:x@9\n  |      ^^^^^^^^^\nhint: latest version is 1"
        );
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"message": "no node model:x@9", "line": 2, "column": 6, "hint": "latest version is 1"}})
        );
    }
}
