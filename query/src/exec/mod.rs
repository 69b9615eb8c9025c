//! The executor: turns parsed statements into engine calls and typed
//! results. Reads open their own read transaction (at `AS OF` when given);
//! writes run inside the write transaction the session hands them.
//!
//! Every error names the place in the source it is about: the offending
//! reference when there is one, else the clause or the statement.

pub(crate) mod diff;
pub(crate) mod explain;
pub(crate) mod filter;
pub(crate) mod read;
pub(crate) mod rows;
pub(crate) mod write;

use lineagedb_engine::{Database, Error as EngineError, NodeKey, NodeRef as EngineRef, ReadTx, Timestamp, VersionSel};

use crate::error::{ErrorKind, QueryError};
use crate::result::QueryResult;
use crate::sink::{Collect, ResultSink};
use crate::syntax::{At, NodeRef, Span, Statement, VersionSelector};

/// The source text and the statement being run: everything an error needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cx<'a> {
    /// The whole script.
    pub src: &'a str,
    /// The statement's span.
    pub span: Span,
}

impl<'a> Cx<'a> {
    /// An execution error at `span`.
    pub fn error(&self, span: Span, message: impl Into<String>) -> QueryError {
        QueryError::at(ErrorKind::Execution, self.src, span, message)
    }

    /// An execution error about the whole statement.
    pub fn statement_error(&self, message: impl Into<String>) -> QueryError {
        self.error(self.span, message)
    }

    /// An engine error reported at `span`.
    pub fn engine(&self, span: Span, e: EngineError) -> QueryError {
        self.error(span, e.to_string())
    }

    /// The span of a clause keyword in the statement (`AS OF`, `SINCE`),
    /// found case-insensitively; the statement's span when not found.
    pub fn clause_span(&self, words: &[&str]) -> Span {
        let text = self.span.slice(self.src);
        let lower = text.to_ascii_lowercase();
        let first = words[0];
        let mut from = 0;
        while let Some(pos) = lower[from..].find(first).map(|p| p + from) {
            let before_ok = pos == 0 || !lower.as_bytes()[pos - 1].is_ascii_alphanumeric();
            let mut end = pos + first.len();
            let mut ok = before_ok && lower.as_bytes().get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
            for w in &words[1..] {
                if !ok {
                    break;
                }
                let rest = &lower[end..];
                let trimmed = rest.trim_start();
                end += rest.len() - trimmed.len();
                ok = end > pos + first.len() && trimmed.starts_with(w);
                end += w.len();
            }
            if ok {
                return Span::new(self.span.start + pos, self.span.start + end);
            }
            from = pos + first.len();
        }
        self.span
    }
}

/// Converts a reference of the language into an engine reference
/// (no version: the latest).
pub(crate) fn engine_ref(cx: &Cx<'_>, r: &NodeRef) -> Result<EngineRef, QueryError> {
    let version = match &r.version {
        None | Some(VersionSelector::Latest) => VersionSel::Latest,
        Some(VersionSelector::Number(n)) => VersionSel::Number(*n),
        Some(VersionSelector::Alias(a)) => VersionSel::Alias(a.clone()),
        Some(VersionSelector::Label(l)) => VersionSel::Label(l.clone()),
    };
    EngineRef::new(&r.node_type, &r.name, version).map_err(|e| cx.error(r.span, e.to_string()))
}

/// Resolves a reference at the snapshot `read` reads, reporting a failure at the reference.
pub(crate) fn resolve(cx: &Cx<'_>, read: &ReadTx, r: &NodeRef) -> Result<NodeKey, QueryError> {
    let er = engine_ref(cx, r)?;
    read.resolve(&er).map_err(|e| cx.engine(r.span, e))
}

/// Parses the `at` of `AS OF`, `SINCE`, `UNTIL` as a time.
pub(crate) fn parse_time(cx: &Cx<'_>, span: Span, text: &str) -> Result<Timestamp, QueryError> {
    Timestamp::parse_rfc3339(text).ok_or_else(|| {
        cx.error(span, format!("invalid timestamp {text:?}"))
            .with_hint("write an RFC 3339 time such as '2026-11-30T12:00:00Z', or a snapshot id")
    })
}

/// The last microsecond a time written to the second stands for: tables
/// print times to the second, so `AS OF '2026-12-07T10:15:03Z'` copied from
/// one must include a snapshot committed at 10:15:03.4. A time written with a
/// fraction is taken as written.
pub(crate) fn end_of_written_second(text: &str, t: Timestamp) -> Timestamp {
    // The fraction, if any, follows the seconds: `HH:MM:SS.fff`.
    let has_fraction = text.find(['T', 't', ' ']).is_some_and(|at| text[at..].contains('.'));
    if has_fraction { t } else { Timestamp(t.micros().saturating_add(999_999)) }
}

/// A read transaction at the latest snapshot, or `AS OF` the given point.
pub(crate) fn reader(cx: &Cx<'_>, db: &Database, as_of: Option<&At>) -> Result<ReadTx, QueryError> {
    let read = db.begin_read().map_err(|e| cx.engine(cx.span, e))?;
    let Some(at) = as_of else { return Ok(read) };
    let span = cx.clause_span(&["as", "of"]);
    match at {
        At::Snapshot(n) => read.as_of(*n).map_err(|e| cx.engine(span, e)),
        At::Time(text) => {
            let t = parse_time(cx, span, text)?;
            read.as_of_time(end_of_written_second(text, t)).map_err(|e| match e {
                // Say the time as written, not the end of its second.
                lineagedb_engine::Error::NoSnapshotAtTime { first, .. } => {
                    cx.engine(span, lineagedb_engine::Error::NoSnapshotAtTime { time: t.to_string(), first })
                }
                other => cx.engine(span, other),
            })
        }
    }
}

/// Runs a statement that does not write, handing its result to `sink`
/// (node rows one at a time).
pub(crate) fn run_read_into(
    db: &Database,
    src: &str,
    statement: &Statement,
    sink: &mut dyn ResultSink,
) -> Result<(), QueryError> {
    let cx = Cx { src, span: statement.span() };
    match statement {
        Statement::Walk(w, _) => read::walk(&cx, db, w, sink),
        Statement::Find(f, _) => read::find(&cx, db, f, sink),
        s => {
            sink.result(run_read(db, src, s)?);
            Ok(())
        }
    }
}

/// Runs a statement that does not write: every read, and `EXPLAIN`.
pub(crate) fn run_read(db: &Database, src: &str, statement: &Statement) -> Result<QueryResult, QueryError> {
    let cx = Cx { src, span: statement.span() };
    match statement {
        Statement::Walk(..) | Statement::Find(..) => {
            let mut result = None;
            run_read_into(db, src, statement, &mut Collect { on_result: &mut |r| result = Some(r), rows: None })?;
            result.ok_or_else(|| cx.statement_error("internal: the statement returned no rows"))
        }
        Statement::Lineage(l, _) => read::lineage(&cx, db, l),
        Statement::Path { from, to, as_of, .. } => read::path(&cx, db, from, to, as_of.as_ref()),
        Statement::Show { target, as_of, .. } => read::show(&cx, db, target, as_of.as_ref()),
        Statement::History { entity, .. } => read::history(&cx, db, entity),
        Statement::Diff { left, right, .. } => diff::diff(&cx, db, left, right),
        Statement::Snapshots { limit, .. } => read::snapshots(&cx, db, *limit),
        Statement::Audit(a, _) => read::audit(&cx, db, a),
        Statement::Verify { .. } => read::verify(&cx, db),
        Statement::Explain { statement, .. } => Ok(QueryResult::Explain(explain::plan(statement))),
        Statement::Report { target, as_of, format, .. } => read::report(&cx, db, target, as_of.as_ref(), *format),
        _ => Err(cx.statement_error("internal: statement is not a read")),
    }
}

/// Clamps a `DEPTH` or `LIMIT` written as u64.
pub(crate) fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Clamps a `LIMIT` to usize.
pub(crate) fn clamp_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
