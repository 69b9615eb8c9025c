//! `lineagedb archive export -o FILE` and `lineagedb archive import FILE`:
//! the complete record of a database in one portable file, and a database
//! rebuilt from it (docs/archive.md).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::anyhow;
use lineagedb_engine::{ArchiveManifest, Error};

use crate::oneshot::{open_database, open_existing};
use crate::output::{self, Failure};

/// `lineagedb archive export -o FILE`.
pub fn export(db: &Path, author: &dyn Fn() -> String, file: &Path) -> Result<(), Failure> {
    output::check_not_database(file, db)?;
    let database = open_existing(db, author)?;
    let bar = output::progress_bar(0, "archive [{bar:30}] {pos}/{len} nodes ({eta})");
    let mut manifest = None;
    output::write_file_atomically(file, |out| {
        let mut out = BufWriter::new(out);
        let written = database
            .export_archive(&mut out, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(io::Error::other)?;
        out.flush()?;
        manifest = Some(written);
        Ok(())
    })?;
    bar.finish_and_clear();
    let manifest = manifest.ok_or_else(|| anyhow!("the archive of {} was not written", db.display()))?;
    let mut out = io::stdout().lock();
    writeln!(out, "archived {} to {}: {}", db.display(), file.display(), summary(&manifest))
        .map_err(Failure::from_stdout)
}

/// `lineagedb archive import FILE`: into a new or empty database only.
pub fn import(db: &Path, author: &str, file: &Path) -> Result<(), Failure> {
    let input = File::open(file).map_err(|e| anyhow!("cannot read {}: {e}", file.display()))?;
    let size = input.metadata().map(|m| m.len()).unwrap_or(0);
    let existed = db.exists();
    let database = open_database(db, author)?;
    let bar = output::progress_bar(size, "import [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})");
    let name = file.display().to_string();
    let result = database.import_archive(&mut BufReader::new(input), &name, &mut |bytes| bar.inc(bytes));
    bar.finish_and_clear();
    match result {
        Ok(manifest) => {
            let mut out = io::stdout().lock();
            writeln!(out, "rebuilt {} from {}: {}", db.display(), file.display(), summary(&manifest))
                .map_err(Failure::from_stdout)
        }
        Err(error) => {
            drop(database);
            if !existed {
                // The refused import leaves no empty database behind.
                let _ = std::fs::remove_file(db);
            }
            match error {
                Error::NotEmpty { .. } => Err(anyhow!(
                    "cannot import into {}: {error}\nhint: pass --db with a new file, e.g. --db restored.redb",
                    db.display()
                )
                .into()),
                Error::BadArchive { .. } => {
                    eprintln!("lineagedb: {error}");
                    eprintln!("hint: nothing was imported; the archive is damaged or was edited since it was written");
                    Err(Failure::Statement)
                }
                other => Err(anyhow!("cannot import {}: {other}", file.display()).into()),
            }
        }
    }
}

fn summary(m: &ArchiveManifest) -> String {
    let count = |kind: &str| m.counts.get(kind).copied().unwrap_or(0);
    format!(
        "{} snapshot(s), {} node(s), {} edge(s), {} alias move(s), {} audit entr{}; sha256 {}",
        count("snapshots"),
        count("nodes"),
        count("edges"),
        count("aliases"),
        count("audit"),
        if count("audit") == 1 { "y" } else { "ies" },
        m.sha256
    )
}
