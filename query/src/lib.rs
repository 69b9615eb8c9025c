//! LineageDB query language: parse a script, run it against a [`Database`],
//! get typed results, print them as a table, JSON Lines or CSV.
//!
//! ```
//! use lineagedb_query::{Database, Format, run};
//! let db = Database::in_memory()?;
//! run(&db, "CREATE dataset:raw; CREATE model:fraud; LINK dataset:raw@1 -> model:fraud@1 AS input")?;
//! let results = run(&db, "ANCESTORS OF model:fraud WHERE type = dataset")?;
//! assert_eq!(results[0].render(Format::Json).contains("dataset:raw@1"), true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For a REPL that keeps a `BEGIN ... COMMIT` transaction open across
//! inputs, use a [`Session`]. The syntax layer (AST, parser, printer) is
//! public in [`syntax`].
pub mod syntax;

mod error;
mod exec;
mod render;
mod report;
mod result;
mod session;
mod sink;

pub use error::{ErrorKind, QueryError};
pub use exec::diff::{DiffResult, EntityChange, PropChange};
pub use lineagedb_engine::{Database, DatabaseBuilder, Timestamp};
pub use render::{DEFAULT_TABLE_WIDTH, Format, RowsWriter, set_table_width, table_width};
pub use report::ReportDocument;
pub use result::{
    AuditRows, HistoryResult, LineageGraph, LineageNode, NodeRow, NodeRows, PathResult, Plan, PlanStep, QueryResult,
    RowsHeader, TxAction, TxOutcome, WriteOutcome,
};
pub use session::{Session, run};
pub use sink::ResultSink;
