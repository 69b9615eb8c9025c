//! `lineagedb export --format openlineage`: the graph as OpenLineage RunEvents
//! (JSON Lines, one event a line), on stdout or into a file written whole,
//! for a central Marquez or DataHub; `--since N` only what changed after
//! snapshot N. The mapping is `lineagedb_engine::openlineage_events`'.

use std::io::{self, Write};
use std::path::Path;

use anyhow::anyhow;

use crate::cli::ExportArgs;
use crate::output::{self, Failure};

/// `lineagedb export`.
pub fn run(db: &Path, author: &dyn Fn() -> String, args: &ExportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.output {
        output::check_not_database(path, db)?;
    }
    let database = crate::oneshot::open_existing(db, author)?;
    let read = database.begin_read().map_err(|e| anyhow!("cannot read {}: {e}", db.display()))?;
    if let Some(since) = args.since {
        if since > read.latest_snapshot() {
            return Err(anyhow!(
                "--since {since}: the latest snapshot is {}\nhint: pass a snapshot id that SNAPSHOTS lists",
                read.latest_snapshot()
            )
            .into());
        }
    }
    let events = lineagedb_engine::openlineage_events(&read, args.since)
        .map_err(|e| anyhow!("cannot export {}: {e}", db.display()))?;
    let mut text = String::new();
    for event in &events {
        text.push_str(&event.to_string());
        text.push('\n');
    }
    match &args.output {
        None => io::stdout().lock().write_all(text.as_bytes()).map_err(Failure::from_stdout)?,
        Some(path) => output::write_file_atomically(path, |file| file.write_all(text.as_bytes()))?,
    }
    let _ =
        writeln!(io::stderr(), "lineagedb: exported {} run event(s) as of snapshot {}", events.len(), read.snapshot());
    Ok(())
}
