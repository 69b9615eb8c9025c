//! `lineagedb import`: bulk import of JSON Lines lineage records or
//! OpenLineage RunEvents into one snapshot, with a progress bar on a terminal, `FILE:LINE: reason` errors
//! (nothing committed) and `--skip-invalid REJECTS_FILE`.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use lineagedb_engine::{ImportError, ImportOptions, ImportReport, Importer, OpenLineageImporter, OpenLineageOptions};

use crate::cli::{ImportArgs, ImportFormat};
use crate::oneshot::open_database;
use crate::output::{self, Failure};

/// Runs `lineagedb import`.
pub fn run(db_path: &Path, author: &str, args: &ImportArgs) -> Result<(), Failure> {
    // Check every input first: a missing file must not create a database.
    let mut total = 0;
    for path in &args.files {
        total += input_size(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    let db = open_database(db_path, author)?;
    let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
    let message = Some(format!("import {}", names.join(", ")));
    let skip_invalid = args.skip_invalid.is_some();
    let bar = output::progress_bar(total, "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})");
    let mut importer = match args.format {
        ImportFormat::Jsonl => {
            let options = ImportOptions {
                skip_invalid,
                importer: "lineagedb import".into(),
                author: Some(author.to_owned()),
                message,
            };
            AnyImporter::Jsonl(Box::new(
                Importer::new(&db, options).map_err(|e| anyhow!("cannot start the import: {e}"))?,
            ))
        }
        ImportFormat::Openlineage => {
            let options = OpenLineageOptions { skip_invalid, author: Some(author.to_owned()), message };
            AnyImporter::OpenLineage(Box::new(
                OpenLineageImporter::new(&db, options).map_err(|e| anyhow!("cannot start the import: {e}"))?,
            ))
        }
    };
    for path in &args.files {
        bar.set_message(path.display().to_string());
        if let Err(error) = importer.read(path, &mut |bytes| bar.inc(bytes)) {
            bar.finish_and_clear();
            eprintln!("lineagedb: {error}");
            eprintln!(
                "hint: nothing was imported; fix the line or pass --skip-invalid REJECTS_FILE to import the rest"
            );
            return Err(Failure::Statement);
        }
    }
    let report = match importer.commit() {
        Ok(report) => report,
        Err(error) => {
            bar.finish_and_clear();
            eprintln!("lineagedb: the import could not be committed, nothing was imported: {}", error.reason);
            return Err(Failure::Statement);
        }
    };
    bar.finish_and_clear();
    if let Some(rejects) = &args.skip_invalid {
        write_rejects(rejects, &report)?;
    }
    let mut out = io::stdout().lock();
    writeln!(out, "{}", summary(&report)).map_err(Failure::from_stdout)?;
    Ok(())
}

/// Either importer, behind one interface.
enum AnyImporter {
    Jsonl(Box<Importer>),
    OpenLineage(Box<OpenLineageImporter>),
}

impl AnyImporter {
    fn read(&mut self, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<(), ImportError> {
        if is_stdin(path) {
            return self.read_stdin(progress);
        }
        match self {
            AnyImporter::Jsonl(importer) => {
                let name = path.display().to_string();
                let file =
                    File::open(path).map_err(|e| ImportError { file: name.clone(), line: 0, reason: e.to_string() })?;
                importer.read(&name, BufReader::with_capacity(1 << 20, file), progress)
            }
            AnyImporter::OpenLineage(importer) => importer.read_path(path, progress),
        }
    }

    /// Standard input: JSON Lines, or (OpenLineage) one event that fills it,
    /// as from `curl` or `jq`. Errors name it `stdin`.
    fn read_stdin(&mut self, progress: &mut dyn FnMut(u64)) -> Result<(), ImportError> {
        let name = "stdin";
        match self {
            AnyImporter::Jsonl(importer) => importer.read(name, io::stdin().lock(), progress),
            AnyImporter::OpenLineage(importer) => {
                let mut text = String::new();
                io::Read::read_to_string(&mut io::stdin().lock(), &mut text).map_err(|e| ImportError {
                    file: name.into(),
                    line: 0,
                    reason: e.to_string(),
                })?;
                progress(text.len() as u64);
                if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
                    importer.read_event(name, 1, &text)
                } else {
                    importer.read(name, text.as_bytes(), &mut |_| {})
                }
            }
        }
    }

    fn commit(self) -> Result<ImportReport, ImportError> {
        match self {
            AnyImporter::Jsonl(importer) => importer.commit(),
            AnyImporter::OpenLineage(importer) => importer.commit(),
        }
    }
}

/// Bytes to read from a file, or from every file of a directory of events.
fn input_size(path: &Path) -> io::Result<u64> {
    if is_stdin(path) {
        return Ok(0);
    }
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        File::open(path)?;
        return Ok(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

/// `-`: standard input.
fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// One line saying what the import did.
fn summary(r: &ImportReport) -> String {
    let snapshot = match r.snapshot {
        Some(s) => format!("snapshot {s}"),
        None => "nothing changed, no snapshot".to_owned(),
    };
    let mut text = format!(
        "imported {} records: {} nodes created ({} unchanged), {} edges created ({} unchanged), {} aliases moved ({} unchanged); {snapshot}",
        r.records,
        r.nodes_created,
        r.nodes_unchanged,
        r.edges_created,
        r.edges_unchanged,
        r.aliases_moved,
        r.aliases_unchanged
    );
    if !r.rejected.is_empty() {
        text.push_str(&format!("; {} lines rejected", r.rejected.len()));
    }
    text
}

/// Writes each rejected line with its position and reason, as JSON Lines.
fn write_rejects(path: &Path, report: &ImportReport) -> Result<(), Failure> {
    let mut out = io::BufWriter::new(
        File::create(path).with_context(|| format!("cannot write the rejects file {}", path.display()))?,
    );
    for r in &report.rejected {
        let line = serde_json::json!({"file": r.file, "line": r.line, "reason": r.reason, "text": r.text});
        writeln!(out, "{line}").with_context(|| format!("cannot write the rejects file {}", path.display()))?;
    }
    out.flush().with_context(|| format!("cannot write the rejects file {}", path.display()))?;
    Ok(())
}
