//! Writing results and errors: results go to stdout in the chosen format,
//! errors to stderr prefixed `lineagedb:` (and, in JSON mode, also to stdout
//! as an `{"error": ...}` line). A reader closing stdout early (`| head`) is
//! reported as [`Failure::ClosedPipe`], which the binary treats as success.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use lineagedb_query::syntax::{Statement, parse_script};
use lineagedb_query::{Format, NodeRow, QueryError, QueryResult, ResultSink, RowsHeader, RowsWriter};

/// Why a command did not finish normally; decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// A statement failed; its error has already been reported (exit 1).
    Statement,
    /// The reader of stdout went away (exit 0, quietly).
    ClosedPipe,
    /// A usage or I/O problem, not yet reported (exit 2).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Other(error)
    }
}

impl Failure {
    /// Classifies an error writing to stdout.
    pub fn from_stdout(error: io::Error) -> Failure {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::ClosedPipe
        } else {
            Failure::Other(anyhow::anyhow!("cannot write to stdout: {error}"))
        }
    }
}

/// Prints the results of one script as they come, remembering the first
/// write error (the callback that receives results cannot return one).
pub struct Printer<W: Write> {
    out: io::BufWriter<W>,
    format: Format,
    printed: usize,
    error: Option<io::Error>,
    /// The node rows being printed as they come.
    rows: Option<RowsWriter>,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out` in `format`.
    pub fn new(out: W, format: Format) -> Printer<W> {
        Printer { out: io::BufWriter::with_capacity(1 << 16, out), format, printed: 0, error: None, rows: None }
    }

    /// Writes one result. Tables and CSV blocks are separated by a blank line;
    /// JSON results are one per line. After a write error, does nothing.
    pub fn print(&mut self, result: &QueryResult) {
        if self.error.is_some() {
            return;
        }
        let separate = self.printed > 0 && self.format != Format::Json;
        self.printed += 1;
        self.error = write_result(&mut self.out, result, self.format, separate).err();
    }

    /// The first write error, as a [`Failure`]. Rows left unfinished by a
    /// failed statement stay as printed (a JSON line without its end).
    pub fn finish(mut self) -> Result<(), Failure> {
        if self.error.is_none() {
            if self.rows.take().is_some() {
                self.error = self.out.write_all(b"\n").err();
            }
            self.error = self.error.take().or_else(|| self.out.flush().err());
        }
        match self.error {
            Some(error) => Err(Failure::from_stdout(error)),
            None => Ok(()),
        }
    }
}

/// Node rows are printed as they come, each statement's output the same
/// bytes as its whole result would print.
impl<W: Write> ResultSink for Printer<W> {
    fn begin_rows(&mut self, header: RowsHeader) {
        if self.error.is_some() {
            return;
        }
        let separate = self.printed > 0 && self.format != Format::Json;
        self.printed += 1;
        if separate {
            if let Err(e) = self.out.write_all(b"\n") {
                self.error = Some(e);
                return;
            }
        }
        match RowsWriter::begin(self.format, header, &mut self.out) {
            Ok(rows) => self.rows = Some(rows),
            Err(e) => self.error = Some(e),
        }
    }

    fn row(&mut self, row: NodeRow) {
        if self.error.is_some() {
            return;
        }
        if let Some(rows) = &mut self.rows {
            self.error = rows.row(&row, &mut self.out).err();
        }
    }

    fn end_rows(&mut self) {
        if let Some(rows) = self.rows.take() {
            if self.error.is_none() {
                self.error = rows.end(&mut self.out).err();
            }
        }
    }

    fn result(&mut self, result: QueryResult) {
        self.print(&result);
    }
}

fn write_result(out: &mut dyn Write, result: &QueryResult, format: Format, separate: bool) -> io::Result<()> {
    let text = result.render(format);
    if separate {
        out.write_all(b"\n")?;
    }
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reports a failed statement: the human message (with the statement and a
/// caret) on stderr and, in JSON mode, the error object on stdout.
pub fn report_query_error(error: &QueryError, src: &str, format: Format) -> Result<(), Failure> {
    let rendered = error.render(src);
    let mut stderr = io::stderr().lock();
    // Nothing useful can be done when stderr itself is closed.
    let _ = writeln!(stderr, "lineagedb: {}", first_line(&rendered, &error.message));
    let _ = write!(stderr, "{}", indent_rest(&rendered));
    let _ = stderr.flush();
    if format == Format::Json {
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{}", error.to_json()).and_then(|()| stdout.flush()).map_err(Failure::from_stdout)?;
    }
    Ok(())
}

/// Reports a script that ended inside `BEGIN ... COMMIT`: its writes were
/// rolled back, so this is a failed statement.
pub fn report_open_transaction(src: &str, format: Format) -> Result<(), Failure> {
    let (line, column) = parse_script(src)
        .ok()
        .and_then(|statements| {
            statements.iter().rev().find(|s| matches!(s, Statement::Begin { .. })).map(|s| s.span().line_column(src))
        })
        .unwrap_or((1, 1));
    let message = "BEGIN without COMMIT: the transaction was rolled back";
    let hint = "end the script with COMMIT; to keep its writes";
    let _ = writeln!(io::stderr().lock(), "lineagedb: {message} at line {line}, column {column}\nhint: {hint}");
    if format == Format::Json {
        let error = serde_json::json!({"error": {"message": message, "line": line, "column": column, "hint": hint}});
        let mut stdout = io::stdout().lock();
        writeln!(stdout, "{error}").and_then(|()| stdout.flush()).map_err(Failure::from_stdout)?;
    }
    Ok(())
}

/// Reports a usage or I/O error on stderr.
pub fn report_error(error: &anyhow::Error) {
    let _ = writeln!(io::stderr().lock(), "lineagedb: {error:#}");
}

/// The first line of the rendered error without its `error: ` tag (the
/// `lineagedb:` prefix replaces it), or the bare message.
fn first_line<'a>(rendered: &'a str, message: &'a str) -> &'a str {
    let line = rendered.lines().next().filter(|line| !line.trim().is_empty()).unwrap_or(message);
    line.strip_prefix("error: ").unwrap_or(line)
}

/// Everything after the first line of the rendered error, newline-terminated.
fn indent_rest(rendered: &str) -> String {
    let mut rest = String::new();
    for line in rendered.lines().skip(1) {
        rest.push_str(line);
        rest.push('\n');
    }
    rest
}

/// A progress bar on stderr with `template` when stderr is a terminal;
/// hidden (and free) otherwise, so pipes and logs stay quiet.
pub fn progress_bar(total: u64, template: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A point in the history named on the command line (`--as-of`, `--since`,
/// `--until`): all digits is a snapshot number, anything else an RFC 3339 time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A snapshot number.
    Snapshot(u64),
    /// An RFC 3339 time.
    Time(lineagedb_engine::Timestamp),
}

const POINT_HINT: &str = "write a snapshot number such as 12 (see `lineagedb query SNAPSHOTS`) \
                          or an RFC 3339 time such as 2026-11-30T12:00:00Z";

impl Point {
    /// Parses the value `text` of `flag`; the error names both.
    pub fn parse(flag: &str, text: &str) -> Result<Point, Failure> {
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return trimmed.parse().map(Point::Snapshot).map_err(|_| {
                anyhow::anyhow!("invalid {flag} {text:?}: the snapshot number is too large\nhint: {POINT_HINT}").into()
            });
        }
        lineagedb_engine::Timestamp::parse_rfc3339(trimmed).map(Point::Time).ok_or_else(|| {
            anyhow::anyhow!("invalid {flag} {text:?}: not a snapshot number nor an RFC 3339 time\nhint: {POINT_HINT}")
                .into()
        })
    }
}

/// Refuses `-o` naming the database itself, which writing would destroy.
pub fn check_not_database(output: &Path, db: &Path) -> Result<(), Failure> {
    if let (Ok(output), Ok(db)) = (std::fs::canonicalize(output), std::fs::canonicalize(db))
        && output == db
    {
        return Err(anyhow::anyhow!(
            "-o {} is the database itself: writing there would replace it\nhint: name another file",
            output.display()
        )
        .into());
    }
    Ok(())
}

/// Writes `path` through `write` into a temporary file beside it, synced,
/// then renamed over `path`: `path` is either left as it was or replaced by
/// the complete output, never half-written.
pub fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> Result<(), Failure> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".to_owned());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let outcome = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            write(&mut file)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = outcome {
        let _ = std::fs::remove_file(&temporary);
        return Err(anyhow::anyhow!("cannot write {}: {error}", path.display()).into());
    }
    Ok(())
}

/// The width tables fit in: `COLUMNS` when it holds a number (as shells set
/// it, and as scripts may to choose a width), else the width of the terminal
/// stdout writes to, else 80 (a pipe or a file).
pub fn table_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()) {
        return columns;
    }
    match terminal_size::terminal_size_of(io::stdout()) {
        Some((terminal_size::Width(w), _)) if w > 0 => usize::from(w),
        _ => lineagedb_query::DEFAULT_TABLE_WIDTH,
    }
}
