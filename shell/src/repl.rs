//! The interactive shell: line editing and persistent history (rustyline),
//! tab completion, multi-line statements (a statement runs once its input
//! ends with `;`), meta-commands (`.help`, `.format`, `.timing`, `.open`,
//! `.read`, `.quit`) and errors that show the statement with a caret and
//! never leave the shell.
//!
//! When stdin is not a terminal the same loop reads lines without prompts, so
//! the shell can be scripted: `echo 'SNAPSHOTS;' | lineagedb`.
//!
//! The shell holds the database file only while a statement runs, or while a
//! `BEGIN ... COMMIT` is open: at the prompt other processes may read and
//! write it. Each statement opens it again (read-only when it only reads),
//! waiting up to `--wait` for a process that holds it.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use lineagedb_query::syntax::statement_is_complete;
use lineagedb_query::{Format, NodeRow, QueryError, QueryResult, ResultSink, RowsHeader, Session};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::complete::LineHelper;
use crate::oneshot;
use crate::output::{self, Failure, Printer};

/// The meta-commands: name, arguments, one-line help.
pub const META_COMMANDS: &[(&str, &str, &str)] = &[
    (".help", "", "show this help"),
    (".format", "table|json|csv", "choose how results are printed"),
    (".timing", "on|off", "print the time each statement takes"),
    (".open", "PATH", "open another database (created if missing)"),
    (".read", "FILE", "run the statements of a script file"),
    (".quit", "", "leave the shell (also Ctrl-D)"),
];

const PROMPT: &str = "lineagedb> ";
const CONTINUATION: &str = "      ...> ";
const PROMPT_TX: &str = "lineagedb(tx)> ";
const CONTINUATION_TX: &str = "          ...> ";

/// What to do after a meta-command.
enum Next {
    Continue,
    Quit,
}

/// The state of one shell.
pub struct Repl {
    /// Open only while a statement runs or a transaction is open.
    session: Option<Session>,
    db_path: PathBuf,
    author: String,
    format: Format,
    timing: bool,
    /// Whether any statement failed (the exit status when scripted).
    failed: bool,
}

impl std::fmt::Debug for Repl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repl").field("db_path", &self.db_path).field("timing", &self.timing).finish_non_exhaustive()
    }
}

impl Repl {
    /// A shell on `session`, the database at `db_path`.
    pub fn new(session: Session, db_path: PathBuf, author: String, format: Format) -> Repl {
        Repl { session: Some(session), db_path, author, format, timing: false, failed: false }
    }

    /// Reads and runs statements until `.quit` or the end of input. When stdin
    /// is not a terminal and a statement failed, returns
    /// [`Failure::Statement`] so that scripts see a non-zero exit status.
    pub fn run(mut self) -> Result<(), Failure> {
        let interactive = io::stdin().is_terminal();
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .history_ignore_dups(true)
            .map_err(|e| anyhow!("cannot set up line editing: {e}"))?
            .max_history_size(10_000)
            .map_err(|e| anyhow!("cannot set up line editing: {e}"))?
            .build();
        let mut editor: Editor<LineHelper, DefaultHistory> =
            Editor::with_config(config).map_err(|e| anyhow!("cannot set up line editing: {e}"))?;
        editor.set_helper(Some(LineHelper::new(self.db_path.clone())));
        let history = history_path().filter(|_| interactive);
        if let Some(path) = &history {
            // A missing or unreadable history file only means no history.
            let _ = editor.load_history(path);
        }
        if interactive {
            let _ = writeln!(
                io::stderr(),
                "LineageDB {} on {}\nStatements end with `;`. Enter .help for help, .quit or Ctrl-D to leave.",
                env!("CARGO_PKG_VERSION"),
                self.db_path.display()
            );
        }

        let outcome = self.read_loop(&mut editor, interactive);
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        if self.in_transaction() {
            let _ = writeln!(io::stderr(), "lineagedb: left with a transaction open: its changes were not committed");
        }
        match outcome {
            Err(Failure::ClosedPipe) => Ok(()),
            Err(other) => Err(other),
            Ok(()) if self.failed && !interactive => Err(Failure::Statement),
            Ok(()) => Ok(()),
        }
    }

    fn read_loop(&mut self, editor: &mut Editor<LineHelper, DefaultHistory>, interactive: bool) -> Result<(), Failure> {
        let mut buffer = String::new();
        loop {
            self.release_if_idle(editor);
            let prompt = match (buffer.is_empty(), self.in_transaction()) {
                (true, false) => PROMPT,
                (false, false) => CONTINUATION,
                (true, true) => PROMPT_TX,
                (false, true) => CONTINUATION_TX,
            };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    // Ctrl-C: forget the statement being typed.
                    buffer.clear();
                    continue;
                }
                Err(ReadlineError::Eof) => {
                    // Scripts may end without a final `;`.
                    if !interactive && !buffer.trim().is_empty() {
                        self.execute(&buffer)?;
                    }
                    return Ok(());
                }
                Err(error) => return Err(anyhow!("cannot read input: {error}").into()),
            };
            if buffer.is_empty() {
                let trimmed = line.trim();
                if trimmed.is_empty() || trimmed.starts_with("--") {
                    continue;
                }
                if trimmed.starts_with('.') {
                    let _ = editor.add_history_entry(trimmed);
                    match self.meta_command(trimmed, editor)? {
                        Next::Continue => continue,
                        Next::Quit => return Ok(()),
                    }
                }
            }
            buffer.push_str(&line);
            buffer.push('\n');
            if statement_is_complete(&buffer) {
                let statement = std::mem::take(&mut buffer);
                let _ = editor.add_history_entry(statement.trim_end());
                self.execute(&statement)?;
            }
        }
    }

    fn in_transaction(&self) -> bool {
        self.session.as_ref().is_some_and(Session::in_transaction)
    }

    /// Lets go of the database unless a transaction is open, so that other
    /// processes can use it while the prompt waits; completion follows.
    fn release_if_idle(&mut self, editor: &mut Editor<LineHelper, DefaultHistory>) {
        if !self.in_transaction() {
            self.session = None;
        }
        if let Some(helper) = editor.helper_mut() {
            helper.set_held(self.session.as_ref().map(|s| s.database().clone()));
        }
    }

    /// Runs `src`, printing results as they come and the error, if any,
    /// opening the database for it unless a transaction holds it open.
    /// Fails only when stdout is gone.
    fn execute(&mut self, src: &str) -> Result<(), Failure> {
        let format = self.format;
        let timing = self.timing;
        let started = Instant::now();
        if self.session.is_none() {
            let author = self.author.clone();
            match oneshot::session_for(&self.db_path, &|| author.clone(), src) {
                Ok(session) => self.session = Some(session),
                Err(Failure::Other(error)) => {
                    self.failed = true;
                    warn(&format!("{error:#}"));
                    return Ok(());
                }
                Err(other) => return Err(other),
            }
        }
        let Some(session) = self.session.as_mut() else { return Ok(()) };
        let mut timed = Timed { printer: Printer::new(io::stdout().lock(), format), timing, started };
        let outcome = session.execute_streaming(src, &mut timed);
        timed.printer.finish()?;
        if !session.in_transaction() {
            self.session = None;
        }
        if let Err(error) = outcome {
            self.failed = true;
            self.report(&error, src)?;
        }
        Ok(())
    }

    fn report(&self, error: &QueryError, src: &str) -> Result<(), Failure> {
        output::report_query_error(error, src, self.format)
    }

    fn meta_command(&mut self, line: &str, editor: &mut Editor<LineHelper, DefaultHistory>) -> Result<Next, Failure> {
        let line = line.trim_end_matches(';').trim();
        let (command, argument) = match line.split_once(char::is_whitespace) {
            Some((command, argument)) => (command, argument.trim()),
            None => (line, ""),
        };
        match command {
            ".help" => self.print(&help_text())?,
            ".quit" | ".exit" => return Ok(Next::Quit),
            ".format" => match argument {
                "" => self.print(&format!("format: {}\n", self.format))?,
                text => match text.parse::<Format>() {
                    Ok(format) => self.format = format,
                    Err(_) => warn(&format!("unknown format `{text}`: use .format table, json or csv")),
                },
            },
            ".timing" => match argument.to_ascii_lowercase().as_str() {
                "on" => self.timing = true,
                "off" => self.timing = false,
                "" => self.print(&format!("timing: {}\n", if self.timing { "on" } else { "off" }))?,
                other => warn(&format!("unknown setting `{other}`: use .timing on or .timing off")),
            },
            ".open" => self.open(argument, editor),
            ".read" => self.read(argument)?,
            other => warn(&format!("unknown command `{other}`: enter .help for the list")),
        }
        Ok(Next::Continue)
    }

    /// `.open PATH`: switches to another database; the current one stays open
    /// if that fails.
    fn open(&mut self, argument: &str, editor: &mut Editor<LineHelper, DefaultHistory>) {
        if argument.is_empty() {
            warn(&format!("usage: .open PATH (the open database is {})", self.db_path.display()));
            return;
        }
        if self.in_transaction() {
            warn("a transaction is open: end it with COMMIT or ROLLBACK before .open");
            return;
        }
        let path = PathBuf::from(argument);
        if same_file(&path, &self.db_path) {
            warn(&format!("{} is already open", path.display()));
            return;
        }
        // Opened once to create it, recover it or refuse it now; each
        // statement opens it again.
        match oneshot::open_session(&path, &self.author) {
            Ok(session) => {
                drop(session);
                if let Some(helper) = editor.helper_mut() {
                    helper.set_path(path.clone());
                }
                self.session = None;
                self.db_path = path;
                let _ = writeln!(io::stderr(), "opened {}", self.db_path.display());
            }
            Err(Failure::Other(error)) => warn(&format!("{error:#}")),
            Err(_) => warn(&format!("cannot open {}", path.display())),
        }
    }

    /// `.read FILE`: runs a script; stops at its first error.
    fn read(&mut self, argument: &str) -> Result<(), Failure> {
        if argument.is_empty() {
            warn("usage: .read FILE");
            return Ok(());
        }
        match std::fs::read_to_string(argument) {
            Ok(script) => self.execute(&script),
            Err(error) => {
                warn(&format!("cannot read script {argument}: {error}"));
                Ok(())
            }
        }
    }

    fn print(&self, text: &str) -> Result<(), Failure> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).map_err(Failure::from_stdout)
    }
}

/// A problem with a meta-command: reported, and the shell goes on.
fn warn(message: &str) {
    let _ = writeln!(io::stderr(), "lineagedb: {message}");
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `$LINEAGEDB_HISTORY`, else `~/.lineagedb_history`; none without a home.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LINEAGEDB_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|home| PathBuf::from(home).join(".lineagedb_history"))
}

fn format_duration(elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    if ms < 1000.0 { format!("{ms:.3} ms") } else { format!("{:.3} s", ms / 1000.0) }
}

fn help_text() -> String {
    let mut text = String::from(
        "Statements end with `;` and may span several lines; Ctrl-C cancels the\n\
         statement being typed.\n\
         Reading:  ANCESTORS OF ref, DESCENDANTS OF ref, LINEAGE OF ref, FIND type,\n\
         \x20         PATH FROM ref TO ref, SHOW ref, HISTORY OF entity, DIFF ref ref,\n\
         \x20         REPORT ref, SNAPSHOTS, AUDIT, VERIFY, EXPLAIN statement\n\
         Writing:  CREATE, LINK, UNLINK, SET, DELETE, PROMOTE, BEGIN ... COMMIT, ROLLBACK\n\
         References: model:fraud@3, model:fraud@production, dataset:transactions (the\n\
         latest version). Tab completes keywords, types and node keys.\n\nCommands:\n",
    );
    for (name, arguments, help) in META_COMMANDS {
        text.push_str(&format!("  {name:<8} {arguments:<15} {help}\n"));
    }
    text
}

/// Prints results as they come and, with `.timing on`, each statement's
/// time (to its last row) on stderr.
struct Timed<W: Write> {
    printer: Printer<W>,
    timing: bool,
    started: Instant,
}

impl<W: Write> Timed<W> {
    fn done(&mut self) {
        if self.timing {
            let _ = writeln!(io::stderr(), "time: {}", format_duration(self.started.elapsed()));
        }
        self.started = Instant::now();
    }
}

impl<W: Write> ResultSink for Timed<W> {
    fn begin_rows(&mut self, header: RowsHeader) {
        self.printer.begin_rows(header);
    }

    fn row(&mut self, row: NodeRow) {
        self.printer.row(row);
    }

    fn end_rows(&mut self) {
        self.printer.end_rows();
        self.done();
    }

    fn result(&mut self, result: QueryResult) {
        self.printer.print(&result);
        self.done();
    }
}
