//! `lineagedb report REF`: the lineage report on one node, as Markdown (the
//! default), JSON, DOT or HTML, on stdout or into a file. The same document
//! as the `REPORT` statement; `--as-of` regenerates an earlier one, whose
//! digest must then match.

use std::io::{self, Write};
use std::path::Path;

use anyhow::anyhow;
use lineagedb_engine::NodeRef;
use lineagedb_query::ReportDocument;
use lineagedb_query::syntax::ReportFormat;

use crate::cli::ReportArgs;
use crate::output::{self, Failure, Point};

/// `lineagedb report`.
pub fn run(db: &Path, author: &dyn Fn() -> String, args: &ReportArgs) -> Result<(), Failure> {
    // Usage errors first: nothing is opened for a command that cannot run.
    let reference: NodeRef = args.reference.parse().map_err(|e| {
        anyhow!(
            "invalid REF {:?}: {e}\nhint: name a node as type:name@version, an alias or latest, e.g. model:fraud@3",
            args.reference
        )
    })?;
    let as_of = args.as_of.as_deref().map(|text| Point::parse("--as-of", text)).transpose()?;
    if let Some(path) = &args.output {
        output::check_not_database(path, db)?;
    }
    let database = crate::oneshot::open_existing(db, author)?;
    let read = database.begin_read().map_err(|e| anyhow!("cannot read {}: {e}", db.display()))?;
    let read = match as_of {
        None => Ok(read),
        Some(Point::Snapshot(n)) => read.as_of(n),
        Some(Point::Time(t)) => read.as_of_time(t),
    }
    .map_err(|e| anyhow!("--as-of {}: {e}", args.as_of.as_deref().unwrap_or_default()))?;
    let report = read.report(&reference).map_err(|e| anyhow!("cannot report on {}: {e}", args.reference))?;
    let format = args.format.map_or(ReportFormat::Markdown, ReportFormat::from);
    let mut text = ReportDocument::new(report, Some(format)).render(format);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match &args.output {
        None => io::stdout().lock().write_all(text.as_bytes()).map_err(Failure::from_stdout),
        Some(path) => output::write_file_atomically(path, |file| file.write_all(text.as_bytes())),
    }
}
