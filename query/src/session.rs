//! `Session`: runs scripts against a database and keeps an open
//! `BEGIN ... COMMIT` transaction across calls, as a REPL needs.
//!
//! Invariants: a script is parsed whole before anything runs, so a parse
//! error changes nothing. Outside a transaction every write is its own
//! snapshot. Inside one, the first error rolls the whole transaction back and
//! leaves transaction mode. Reads inside a transaction see committed state
//! only, not the transaction's pending writes.

use lineagedb_engine::{Database, Timestamp, WriteTx};

use crate::error::{ErrorKind, QueryError};
use crate::exec::{self, Cx};
use crate::result::{QueryResult, TxAction, TxOutcome};
use crate::sink::{Collect, ResultSink};
use crate::syntax::{Span, Statement, parse_script};

/// An open `BEGIN ... COMMIT` transaction.
#[derive(Debug)]
struct OpenTx {
    tx: WriteTx,
    keys: Vec<String>,
    begin: Span,
}

/// A database with an optional open transaction and a default author.
#[derive(Debug)]
pub struct Session {
    db: Database,
    author: Option<String>,
    open: Option<OpenTx>,
    /// Fixed commit times: the next time to use and the step between commits.
    clock: Option<(i64, i64)>,
}

impl Session {
    /// A session on `db`, with no transaction open.
    pub fn new(db: Database) -> Session {
        Session { db, author: None, open: None, clock: None }
    }

    /// The author recorded on commits (`BEGIN AUTHOR` overrides it for one transaction).
    pub fn set_author(&mut self, author: impl Into<String>) {
        self.author = Some(author.into());
    }

    /// Stamps the following write transactions `first`, `first + step`,
    /// `first + 2 * step`, ... instead of the wall-clock time, so that a demo
    /// or a test database is the same on every run. Each time must be after
    /// the database's last snapshot, else the write fails.
    pub fn set_commit_clock(&mut self, first: Timestamp, step: std::time::Duration) {
        let step = i64::try_from(step.as_micros()).unwrap_or(i64::MAX).max(1);
        self.clock = Some((first.micros(), step));
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Whether a `BEGIN` is waiting for its `COMMIT` or `ROLLBACK`.
    pub fn in_transaction(&self) -> bool {
        self.open.is_some()
    }

    /// Runs a script and returns every statement's result; stops at the first error.
    pub fn execute(&mut self, src: &str) -> Result<Vec<QueryResult>, QueryError> {
        let mut out = Vec::new();
        self.execute_each(src, &mut |r| out.push(r))?;
        Ok(out)
    }

    /// Runs a script, handing each statement's result to `on_result` as soon
    /// as it completes; stops at the first error.
    pub fn execute_each(&mut self, src: &str, on_result: &mut dyn FnMut(QueryResult)) -> Result<(), QueryError> {
        self.execute_streaming(src, &mut Collect { on_result, rows: None })
    }

    /// Runs a script, handing results to `sink` as they are produced: node
    /// rows one at a time (a result of millions of rows is never held whole),
    /// every other result as soon as its statement completes; stops at the
    /// first error.
    pub fn execute_streaming(&mut self, src: &str, sink: &mut dyn ResultSink) -> Result<(), QueryError> {
        let statements = parse_script(src)?;
        for statement in &statements {
            let outcome = match statement {
                s if s.only_reads() => exec::run_read_into(&self.db, src, s, sink),
                s => self.execute_statement(src, s).map(|result| sink.result(result)),
            };
            if let Err(e) = outcome {
                return Err(self.abort_open(e));
            }
        }
        Ok(())
    }

    /// Rolls back an open transaction after an error and says so in the error.
    fn abort_open(&mut self, e: QueryError) -> QueryError {
        match self.open.take() {
            Some(open) => {
                // The transaction is abandoned either way; a failing rollback changes nothing.
                let _ = open.tx.rollback();
                QueryError {
                    message: format!("{}; the transaction was rolled back, nothing was committed", e.message),
                    ..e
                }
            }
            None => e,
        }
    }

    /// Rolls back a transaction still open at the end of a one-shot script.
    pub(crate) fn finish_script(&mut self, src: &str) -> Result<(), QueryError> {
        let Some(open) = self.open.take() else { return Ok(()) };
        let _ = open.tx.rollback();
        Err(QueryError::at(
            ErrorKind::Transaction,
            src,
            open.begin,
            "BEGIN without COMMIT: the transaction was rolled back",
        )
        .with_hint("end the script with COMMIT; to keep its writes"))
    }

    fn begin_write(&mut self, cx: &Cx<'_>) -> Result<WriteTx, QueryError> {
        let mut tx = self.db.begin_write().map_err(|e| cx.engine(cx.span, e))?;
        if let Some(author) = &self.author {
            tx.author(author.clone());
        }
        if let Some((next, step)) = &mut self.clock {
            tx.set_time(Timestamp(*next)).map_err(|e| cx.engine(cx.span, e))?;
            *next = next.saturating_add(*step);
        }
        Ok(tx)
    }

    fn execute_statement(&mut self, src: &str, statement: &Statement) -> Result<QueryResult, QueryError> {
        let cx = Cx { src, span: statement.span() };
        let tx_error = |message: &str, hint: &str| {
            QueryError::at(ErrorKind::Transaction, src, statement.span(), message).with_hint(hint)
        };
        match statement {
            Statement::Begin { author, message, .. } => {
                if self.open.is_some() {
                    return Err(tx_error(
                        "BEGIN inside a transaction: transactions do not nest",
                        "COMMIT or ROLLBACK the open transaction first",
                    ));
                }
                let mut tx = self.begin_write(&cx)?;
                if let Some(a) = author {
                    tx.author(a.clone());
                }
                if let Some(m) = message {
                    tx.message(m.clone());
                }
                self.open = Some(OpenTx { tx, keys: Vec::new(), begin: statement.span() });
                Ok(QueryResult::Transaction(TxOutcome { action: TxAction::Begin, snapshot: None, keys: Vec::new() }))
            }
            Statement::Commit { .. } => {
                let Some(open) = self.open.take() else {
                    return Err(tx_error(
                        "COMMIT without BEGIN: no transaction is open",
                        "each write outside BEGIN ... COMMIT commits by itself",
                    ));
                };
                let snapshot = open.tx.commit().map_err(|e| cx.engine(cx.span, e))?;
                Ok(QueryResult::Transaction(TxOutcome {
                    action: TxAction::Commit,
                    snapshot: Some(snapshot),
                    keys: open.keys,
                }))
            }
            Statement::Rollback { .. } => {
                let Some(open) = self.open.take() else {
                    return Err(tx_error(
                        "ROLLBACK without BEGIN: no transaction is open",
                        "each write outside BEGIN ... COMMIT commits by itself",
                    ));
                };
                open.tx.rollback().map_err(|e| cx.engine(cx.span, e))?;
                Ok(QueryResult::Transaction(TxOutcome { action: TxAction::Rollback, snapshot: None, keys: open.keys }))
            }
            s if s.is_write() => {
                if let Some(open) = &mut self.open {
                    let outcome = exec::write::apply(&mut open.tx, src, s)?;
                    for k in &outcome.keys {
                        if !open.keys.contains(k) {
                            open.keys.push(k.clone());
                        }
                    }
                    return Ok(QueryResult::Write(outcome));
                }
                let mut tx = self.begin_write(&cx)?;
                let mut outcome = match exec::write::apply(&mut tx, src, s) {
                    Ok(o) => o,
                    Err(e) => {
                        let _ = tx.rollback();
                        return Err(e);
                    }
                };
                outcome.snapshot = Some(tx.commit().map_err(|e| cx.engine(cx.span, e))?);
                Ok(QueryResult::Write(outcome))
            }
            s => exec::run_read(&self.db, src, s),
        }
    }
}

/// Runs a script on `db` and returns every statement's result. A `BEGIN`
/// left without `COMMIT` at the end is rolled back and reported as an error.
pub fn run(db: &Database, src: &str) -> Result<Vec<QueryResult>, QueryError> {
    let mut session = Session::new(db.clone());
    let results = session.execute(src)?;
    session.finish_script(src)?;
    Ok(results)
}
