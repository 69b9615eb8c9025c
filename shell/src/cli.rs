//! The command line: every subcommand and option of `lineagedb`, parsed with
//! clap, and the defaults that depend on the environment (database path,
//! author).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lineagedb_query::Format;

/// The database a command opens when neither `--db` nor `LINEAGEDB_DB` names one.
pub const DEFAULT_DB: &str = "lineage.redb";

/// LineageDB: an embedded graph database for ML model lineage.
///
/// Without a subcommand, opens the interactive shell (REPL) on the database.
/// With stdin from a pipe or file the shell reads statements from it without
/// prompts, and exits 1 if any of them failed.
#[derive(Debug, Parser)]
#[command(
    name = "lineagedb",
    version,
    about,
    long_about,
    after_help = "Exit status: 0 on success, 1 when a statement fails, 2 on a usage or I/O error.\n\
                  Run `lineagedb demo` for a worked example."
)]
pub struct Cli {
    /// The database file, created by the first command that writes to it [default: ./lineage.redb]
    #[arg(long, global = true, env = "LINEAGEDB_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Author recorded on the commits you make [default: $LINEAGEDB_AUTHOR,
    /// else git's user.name, else the OS user]
    #[arg(long, global = true, value_name = "NAME")]
    pub author: Option<String>,

    /// Output format of the shell
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,

    /// How long to wait, in seconds, for a database another process holds
    /// (a writer needs the file to itself; readers share it) before failing
    #[arg(long, global = true, env = "LINEAGEDB_WAIT", value_name = "SECONDS", default_value = "30",
          value_parser = parse_wait)]
    pub wait: std::time::Duration,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run statements given on the command line and print their results
    Query {
        /// Output format
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<OutputFormat>,
        /// One or more statements, separated by `;`; several arguments run one after another
        #[arg(value_name = "STATEMENTS", required = true, num_args = 1..)]
        statements: Vec<String>,
    },
    /// Run a script file, or stdin with `-`; stops at the first error
    Exec {
        /// Output format
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<OutputFormat>,
        /// The script, or `-` for stdin
        #[arg(value_name = "FILE|-")]
        file: PathBuf,
    },
    /// Bulk-import nodes, edges and aliases (JSON Lines or OpenLineage events)
    Import(ImportArgs),
    /// Run a command and record it as a run, with its inputs, outputs, params and code
    Run(RunArgs),
    /// Write the lineage report of a node
    Report(ReportArgs),
    /// Export the hash-chained audit log
    Audit(AuditArgs),
    /// Check the audit hash chain and the graph invariants
    Verify,
    /// Export the graph in a format other tools read (OpenLineage RunEvents)
    Export(ExportArgs),
    /// Serve the OpenLineage HTTP endpoint and a JSON API on the database (one process owns the file)
    Serve(ServeArgs),
    /// Write the complete record to a portable archive, or rebuild a database from one
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Build a worked fraud-detection lineage example and open the shell on it
    Demo {
        /// Build the example and print the welcome, without opening the shell
        #[arg(long)]
        no_repl: bool,
    },
}

/// Arguments of `lineagedb import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Input format
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ImportFormat,
    /// Commit the valid lines and write each rejected line, with its reason, to this file
    #[arg(long, value_name = "REJECTS_FILE")]
    pub skip_invalid: Option<PathBuf>,
    /// Files to import (directories: their .json and .jsonl files; `-`: standard input)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `lineagedb run`.
#[derive(Debug, Args)]
#[command(
    after_help = "The command gets the run's key (e.g. run:train_20261130T101500Z@1) in LINEAGEDB_RUN: the run is\n\
                        recorded as running before it starts, so the command may annotate it\n\
                        (lineagedb query 'SET $LINEAGEDB_RUN {metrics: {mse: 0.1}}').\n\
                        Inputs are hashed or resolved before it starts; outputs are recorded only if it succeeds.\n\
                        The database is released while the command runs: the command may use lineagedb on it.\n\
                        If it stays busy past --wait when the run ends, the record is kept in DB.spool/ beside it\n\
                        and the next lineagedb command that opens the database commits it, once.\n\
                        Ctrl-C reaches the command and SIGTERM and SIGHUP are passed on to it; the run is then\n\
                        recorded with the signal or exit code that ended the command (failed unless it exits 0).\n\n\
                        Exit status: the command's; 128+N if it was killed by signal N; 127 if it was not found,\n\
                        126 if it could not be started; 2 on a usage error (nothing is run or recorded)."
)]
pub struct RunArgs {
    /// Name of the job this run belongs to
    #[arg(long, value_name = "NAME")]
    pub job: String,
    /// An input: a file, hashed (the same content reuses its dataset version), or an existing node such as dataset:tx@3
    #[arg(long, value_name = "REF|FILE")]
    pub input: Vec<String>,
    /// An output file, recorded as a new version of TYPE:NAME when the command succeeds
    #[arg(long, value_name = "TYPE:NAME=FILE")]
    pub output: Vec<String>,
    /// A parameter of the run: integers, floats and true/false are typed, anything else is text
    #[arg(long, value_name = "K=V")]
    pub param: Vec<String>,
    /// Parameters from a JSON object in a file (--param overrides them)
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Metrics from a JSON object in a file the command writes, read after it ends
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Also print what was recorded: `json` prints one JSON object on stdout after the command's own output
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<RunFormat>,
    /// The command to run, after `--`
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `lineagedb serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "POST /api/v1/lineage (one OpenLineage event) and /api/v1/lineage/batch (an array), as Marquez;\n\
                        POST /api/query (statements, --format json objects), GET /api/node/KEY."
)]
pub struct ServeArgs {
    /// Address and port to listen on (a non-loopback address needs --token)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    pub bind: String,
    /// Require `Authorization: Bearer TOKEN` on every request
    #[arg(long, value_name = "TOKEN", env = "LINEAGEDB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Let POST /api/query run statements that write
    #[arg(long)]
    pub allow_writes: bool,
    /// Requests served at once; more are answered 503 with Retry-After (the OpenLineage clients retry 503)
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_requests: u32,
}

/// Arguments of `lineagedb export`.
#[derive(Debug, Args)]
#[command(after_help = "Every run becomes one OpenLineage RunEvent (spec 2-0-2) with its job, inputs, outputs and\n\
                        parent, one JSON object a line; `lineagedb import --format openlineage` reads them back.")]
pub struct ExportArgs {
    /// The format to write
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Only the runs created or linked after this snapshot
    #[arg(long, value_name = "SNAPSHOT")]
    pub since: Option<u64>,
    /// Write to this file (replaced whole) instead of stdout
    #[arg(short, long, value_name = "FILE", conflicts_with = "to")]
    pub output: Option<PathBuf>,
    /// POST the events to this OpenLineage HTTP endpoint instead, such as Marquez's
    /// http://localhost:5000/api/v1/lineage
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// Bearer token for --to [default: $OPENLINEAGE_API_KEY]
    #[arg(long, value_name = "TOKEN", env = "OPENLINEAGE_API_KEY", hide_env_values = true)]
    pub token: Option<String>,
    /// Events per request with --to: 1 posts each event alone (what /api/v1/lineage takes); more posts JSON
    /// arrays (for a batch endpoint such as /api/v1/lineage/batch)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub batch: u32,
    /// Attempts per request with --to before giving up (connection errors, 429 and 5xx are retried)
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
}

/// Formats of `lineagedb export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// OpenLineage RunEvents, JSON Lines
    Openlineage,
}

/// Arguments of `lineagedb report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The node to report on, e.g. model:fraud@3
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Report format [default: markdown]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ReportFormat>,
    /// Take the report as of this snapshot number or RFC 3339 time (to regenerate an earlier report)
    #[arg(long, value_name = "T")]
    pub as_of: Option<String>,
    /// Write the report to this file (replaced whole, once complete) instead of stdout
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `lineagedb audit`.
#[derive(Debug, Args)]
#[command(after_help = "Every field of each entry is written (seq, snapshot, time, author, op, subjects, detail,\n\
                        digest, prev_hash, hash), oldest first, so the hash chain can be checked outside LineageDB.\n\
                        T is a snapshot number (e.g. 12) or an RFC 3339 time (e.g. 2026-11-30T12:00:00Z); both ends\n\
                        are inclusive. The database is opened read-only. See docs/audit-export.md.\n\n\
                        Exit status: 0 on success (also when a reader closes stdout early); 2 on a usage or I/O error\n\
                        (no database at PATH, a bad --entity, --since or --until).")]
pub struct AuditArgs {
    /// Export format [default: jsonl]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<AuditFormat>,
    /// Only the entries of this entity (model:fraud, every version) or node (model:fraud@3, model:fraud@production)
    #[arg(long, value_name = "REF")]
    pub entity: Option<String>,
    /// Only entries at or after this snapshot number or RFC 3339 time
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only entries at or before this snapshot number or RFC 3339 time
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Only entries made by this author (exact match; the global --author names who writes, not whom to filter)
    #[arg(long, value_name = "AUTHOR")]
    pub by: Option<String>,
    /// Write to this file (replaced whole, only once the export is complete) instead of stdout
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `lineagedb archive export|import`.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Write every snapshot, node, edge, alias move and audit entry to one file
    Export {
        /// The archive to write
        #[arg(short = 'o', value_name = "FILE")]
        output: PathBuf,
    },
    /// Rebuild an empty database from an archive
    Import {
        /// The archive to read
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Output formats of statements' results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text tables
    Table,
    /// One JSON object per statement, one per line (JSON Lines)
    Json,
    /// Comma-separated values
    Csv,
}

impl From<ReportFormat> for lineagedb_query::syntax::ReportFormat {
    fn from(format: ReportFormat) -> lineagedb_query::syntax::ReportFormat {
        use lineagedb_query::syntax::ReportFormat as F;
        match format {
            ReportFormat::Markdown => F::Markdown,
            ReportFormat::Json => F::Json,
            ReportFormat::Dot => F::Dot,
            ReportFormat::Html => F::Html,
        }
    }
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Table => Format::Table,
            OutputFormat::Json => Format::Json,
            OutputFormat::Csv => Format::Csv,
        }
    }
}

/// Formats of `lineagedb import`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportFormat {
    /// One node, edge or alias object per line
    Jsonl,
    /// OpenLineage RunEvents
    Openlineage,
}

/// Formats of `lineagedb run --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunFormat {
    /// One JSON object: the run, its status, snapshot, inputs, outputs and code
    Json,
}

/// Formats of `lineagedb report`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportFormat {
    /// Markdown
    Markdown,
    /// JSON
    Json,
    /// Graphviz
    Dot,
    /// One self-contained HTML file
    Html,
}

/// Formats of `lineagedb audit`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AuditFormat {
    /// JSON Lines
    Jsonl,
    /// Comma-separated values
    Csv,
}

impl Cli {
    /// The database path: `--db`, `LINEAGEDB_DB`, else `./lineage.redb`.
    pub fn db_path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }

    /// The author: `--author`, `LINEAGEDB_AUTHOR`, git's `user.name`, the OS user.
    pub fn author(&self) -> String {
        if let Some(author) = self.author.as_deref().filter(|a| !a.trim().is_empty()) {
            return author.to_owned();
        }
        default_author()
    }
}

/// `LINEAGEDB_AUTHOR`, else git's `user.name` when git is installed and set,
/// else the OS user, else `unknown`.
fn default_author() -> String {
    if let Some(author) = std::env::var("LINEAGEDB_AUTHOR").ok().filter(|a| !a.trim().is_empty()) {
        return author;
    }
    if let Some(name) = git_user_name() {
        return name;
    }
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn git_user_name() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["config", "user.name"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let name = String::from_utf8(output.stdout).ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// `--wait SECONDS`: a non-negative number of seconds, such as `30` or `0.5`.
fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds: use for example 30, 0.5 or 0 (do not wait)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn waits_are_seconds() {
        assert_eq!(parse_wait("30"), Ok(std::time::Duration::from_secs(30)));
        assert_eq!(parse_wait("0.25"), Ok(std::time::Duration::from_millis(250)));
        assert_eq!(parse_wait("0"), Ok(std::time::Duration::ZERO));
        for bad in ["-1", "soon", "", "inf", "NaN"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
