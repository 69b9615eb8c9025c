//! The one error type of the benchmark harness: an engine failed, or the
//! engines disagreed about an answer.

/// What can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// LineageDB returned an error.
    #[error("lineagedb: {0}")]
    Lineage(#[from] lineagedb_engine::Error),
    /// SQLite returned an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing a file failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Two engines returned different answers to the same query.
    #[error("answers differ for `{query}`: {detail}")]
    Mismatch {
        /// The query text.
        query: String,
        /// Which engines and how.
        detail: String,
    },
    /// An input file the benchmark reads is not what it wrote.
    #[error("{0}")]
    Invalid(String),
}

/// Result of a benchmark step.
pub type Result<T> = std::result::Result<T, Error>;
