//! `lineagedb demo`: builds a worked fraud-detection lineage example (the
//! script `demo.lql`, written in the query language) into a database, prints
//! a welcome with queries to try, and opens the shell on it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use lineagedb_query::Format;

use crate::oneshot;
use crate::output::{self, Failure};
use crate::repl::Repl;

/// The example, in the query language.
const SCRIPT: &str = include_str!("demo.lql");

/// Queries the welcome suggests, each with what it shows. Every one of them is
/// run by the tests against a freshly built demo.
pub const TRY: &[(&str, &str)] = &[
    ("ANCESTORS OF model:fraud@production WHERE type=dataset;", "the data behind the model in production"),
    ("DESCENDANTS OF dataset:transactions@1 WHERE type=model;", "every model built on january's raw data"),
    ("HISTORY OF model:fraud;", "every version and alias move, with author and time"),
    ("DIFF model:fraud@2 model:fraud@3;", "what changed between two model versions"),
    ("PATH FROM dataset:transactions@1 TO deployment:fraud-api@1;", "how raw data reached the api"),
    ("SHOW model:fraud@production AS OF 5;", "what production served at snapshot 5"),
    ("SNAPSHOTS;", "the commit log"),
    ("REPORT model:fraud@production;", "the lineage report a reviewer reads, with its digest"),
];

/// Where the demo goes without `--db`: a new file in the temporary directory.
fn fresh_path() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!("lineagedb-demo-{}-{nanos}.redb", std::process::id()))
}

/// Builds the example into `db` (a fresh temporary file when `None`), prints
/// the welcome and, unless `no_repl`, opens the shell on it.
pub fn run(db: Option<&Path>, author: &str, format: Format, no_repl: bool) -> Result<(), Failure> {
    let path = db.map_or_else(fresh_path, Path::to_owned);
    let mut session = oneshot::open_session(&path, author)?;
    let snapshots = session
        .database()
        .begin_read()
        .and_then(|read| read.snapshots(Some(1)))
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    let has_data = !snapshots.is_empty();
    if has_data {
        return Err(anyhow!(
            "{} already holds data: the demo needs an empty database; pass --db with a new file, \
             or leave out --db to use a temporary one",
            path.display()
        )
        .into());
    }
    if let Err(error) = session.execute(SCRIPT) {
        output::report_query_error(&error, SCRIPT, Format::Table)?;
        return Err(anyhow!("the demo script failed: this is a bug in lineagedb, please report it").into());
    }
    print_welcome(&path)?;
    if no_repl {
        return Ok(());
    }
    Repl::new(session, path, author.to_owned(), format).run()
}

fn print_welcome(path: &Path) -> Result<(), Failure> {
    let mut text = format!(
        "Built the fraud-detection demo in {}.\n\n\
         Raw card transactions (dataset:transactions@1..2) are cleaned and turned\n\
         into features. Three training runs (run:train_fraud_1..3), each at a\n\
         code:fraud-repo commit with its hyperparameters, produce model:fraud@1..3.\n\
         Version 2 went to production, version 3 replaced it and was rolled back\n\
         to 2 after an incident; deployment:fraud-api records what the scoring api\n\
         served. 8 snapshots by three authors.\n\nTry:\n",
        path.display()
    );
    for (query, what) in TRY {
        text.push_str(&format!("  {query}\n      -- {what}\n"));
    }
    text.push_str("\nTab completes keywords and keys (try `model:f` then Tab). .help for help.\n\n");
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(Failure::from_stdout)
}
