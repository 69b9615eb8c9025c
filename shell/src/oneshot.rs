//! The non-interactive commands: `query` (statements from the command line),
//! `exec` (a script file or stdin) and `verify`.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, anyhow};
use lineagedb_query::{Database, DatabaseBuilder, Format, Session};

use crate::output::{self, Failure, Printer};

/// How long opening a database waits for another process that holds it:
/// `--wait` / `LINEAGEDB_WAIT`, set once by `main`.
static WAIT: OnceLock<Duration> = OnceLock::new();

/// The wait when neither `--wait` nor `LINEAGEDB_WAIT` sets one.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Sets how long every open of this process waits for a busy file.
pub fn set_wait(wait: Duration) {
    let _ = WAIT.set(wait);
}

/// Options for opening a database in this process: its busy wait.
pub fn builder() -> DatabaseBuilder {
    Database::builder().busy_timeout(*WAIT.get().unwrap_or(&DEFAULT_WAIT))
}

/// Opens (creating if missing) the database at `path` for `author`, then
/// commits the run records `lineagedb run` spooled for it (`spool.rs`).
pub fn open_database(path: &Path, author: &str) -> Result<Database, Failure> {
    try_open_database(path, author).map_err(|e| open_failure(path, &e))
}

/// `open_database`, keeping the engine's error for callers that act on it.
pub fn try_open_database(path: &Path, author: &str) -> Result<Database, lineagedb_engine::Error> {
    let db = builder().author(author).create(path)?;
    crate::spool::replay(path, &db);
    Ok(db)
}

/// The message of a failed open: a busy file's error already names the file.
fn open_failure(path: &Path, error: &lineagedb_engine::Error) -> Failure {
    match error {
        lineagedb_engine::Error::Locked { .. } => match crate::serve::serving(path) {
            Some(url) => anyhow!(
                "{error}\nhint: `lineagedb serve` owns it at {url}: send statements to {url}/api/query and \
                 OpenLineage events to {url}/api/v1/lineage"
            )
            .into(),
            None => anyhow!("{error}").into(),
        },
        _ => anyhow!("cannot open database {}: {error}", path.display()).into(),
    }
}

/// Opens the existing database at `path` read-only, unless the spool holds
/// run records to commit (then read-write, which commits them first). `None`
/// when it should be opened read-write instead (it needs crash recovery, or
/// its format an upgrade: the read-write open does that, or reports why not).
fn open_for_reading(path: &Path, builder: DatabaseBuilder) -> Result<Option<Database>, Failure> {
    if !crate::spool::waiting(path).is_empty() {
        return Ok(None);
    }
    match builder.open_read_only(path) {
        Ok(db) => Ok(Some(db)),
        Err(error @ lineagedb_engine::Error::Locked { .. }) => Err(open_failure(path, &error)),
        Err(_) => Ok(None),
    }
}

/// A session on `path` whose commits are recorded as `author`'s.
pub fn open_session(path: &Path, author: &str) -> Result<Session, Failure> {
    let mut session = Session::new(open_database(path, author)?);
    session.set_author(author);
    Ok(session)
}

/// Runs `src` in `session`, printing each result as it comes; stops at the
/// first failing statement, which is reported.
pub fn run_statements(session: &mut Session, src: &str, format: Format) -> Result<(), Failure> {
    let mut printer = Printer::new(io::stdout().lock(), format);
    let outcome = session.execute_streaming(src, &mut printer);
    printer.finish()?;
    match outcome {
        Ok(()) if session.in_transaction() => {
            output::report_open_transaction(src, format)?;
            Err(Failure::Statement)
        }
        Ok(()) => Ok(()),
        Err(error) => {
            output::report_query_error(&error, src, format)?;
            Err(Failure::Statement)
        }
    }
}

/// The statements of `lineagedb query "A" "B" ...` as one script: each
/// argument ends with `;` (added on a line of its own when missing, so that a
/// trailing `-- comment` cannot swallow it) and starts on a new line.
pub fn join_statements(arguments: &[String]) -> String {
    let mut script = String::new();
    for argument in arguments {
        script.push_str(argument);
        if !argument.trim_end().ends_with(';') && arguments.len() > 1 {
            script.push_str("\n;");
        }
        script.push('\n');
    }
    if arguments.len() == 1 {
        script.pop();
    }
    script
}

/// `lineagedb query "STATEMENTS"`.
pub fn query(db: &Path, author: &dyn Fn() -> String, statements: &str, format: Format) -> Result<(), Failure> {
    let mut session = session_for(db, author, statements)?;
    run_statements(&mut session, statements, format)
}

/// `lineagedb exec FILE|-`.
pub fn exec(db: &Path, author: &dyn Fn() -> String, file: &Path, format: Format) -> Result<(), Failure> {
    // Read the script first: a missing file must not create a database.
    let script = read_script(file)?;
    let mut session = session_for(db, author, &script)?;
    run_statements(&mut session, &script, format)
}

/// A session for running `src`. A script that only reads an existing
/// database opens it read-only: nothing is written to the file, other
/// processes may read it meanwhile, and no author needs to be looked up. A
/// script that only reads a database that does not exist is an error (no
/// empty file is created); a script that does not parse reports its error
/// without creating one either.
pub fn session_for(path: &Path, author: &dyn Fn() -> String, src: &str) -> Result<Session, Failure> {
    match lineagedb_query::syntax::parse_script(src) {
        // The parse error is reported by the session; a missing file is not
        // created for a script that cannot run.
        Err(_) if !path.exists() => {
            return Ok(Session::new(Database::in_memory().map_err(|e| anyhow!("cannot start: {e}"))?));
        }
        Ok(statements) if statements.iter().all(|s| s.only_reads()) => {
            if !path.exists() {
                // Reading a file that is not there would create an empty
                // database and answer "nothing": most likely a mistyped path.
                return Err(anyhow!(
                    "no database at {}: pass --db PATH (or set LINEAGEDB_DB) to name an existing one; \
                     a script that writes (CREATE, LINK, ...) creates it",
                    path.display()
                )
                .into());
            }
            if let Some(db) = open_for_reading(path, one_command_caches(builder()))? {
                return Ok(Session::new(db));
            }
        }
        _ => {}
    }
    open_session(path, &author())
}

/// Cache budgets for one command reading a database: large enough that a
/// script's queries share what they read (the adjacency of a walk, the pages
/// of the records around it), small enough that a result of millions of rows
/// streams in bounded memory (the redb page cache would otherwise fill with
/// every record page read, up to its 256 MiB default).
pub fn one_command_caches(builder: DatabaseBuilder) -> DatabaseBuilder {
    builder.page_cache(16 << 20).adjacency_cache(24 << 20).key_cache(16 << 20)
}

/// Reads a script from `file`, or from stdin when `file` is `-`.
pub fn read_script(file: &Path) -> Result<String, Failure> {
    if file == Path::new("-") {
        let mut script = String::new();
        io::stdin()
            .lock()
            .read_to_string(&mut script)
            .context("cannot read the script from stdin: it must be UTF-8 text")?;
        return Ok(script);
    }
    std::fs::read_to_string(file)
        .with_context(|| format!("cannot read script {}", file.display()))
        .map_err(Failure::from)
}

/// Opens the existing database at `db` to read it: read-only when it can be
/// (nothing written, other readers welcome), read-write when the file needs
/// crash recovery. A missing file is an error, never created.
pub fn open_existing(db: &Path, author: &dyn Fn() -> String) -> Result<Database, Failure> {
    if !db.exists() {
        return Err(anyhow!(
            "no database at {}: pass --db PATH (or set LINEAGEDB_DB) to name an existing one",
            db.display()
        )
        .into());
    }
    match open_for_reading(db, builder())? {
        Some(database) => Ok(database),
        None => open_database(db, &author()),
    }
}

/// `lineagedb verify`: exit 1 when the database has problems.
pub fn verify(db: &Path, author: &dyn Fn() -> String) -> Result<(), Failure> {
    let database = open_existing(db, author)?;
    let bar = output::progress_bar(0, "verify [{bar:30}] {pos}/{len} audit entries and nodes ({eta})");
    let report = database
        .begin_read()
        .and_then(|read| {
            read.verify_with_progress(&mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
        })
        .map_err(|e| anyhow!("cannot verify {}: {e}", db.display()))?;
    bar.finish_and_clear();
    let mut stdout = io::stdout().lock();
    let summary = format!(
        "checked {} snapshots, {} nodes, {} edges, {} audit entries",
        report.snapshots, report.nodes, report.edges, report.audit_entries
    );
    if report.is_ok() {
        writeln!(stdout, "ok: {summary}").map_err(Failure::from_stdout)?;
        return Ok(());
    }
    writeln!(stdout, "{summary}").map_err(Failure::from_stdout)?;
    for problem in &report.problems {
        writeln!(stdout, "problem: {problem}").map_err(Failure::from_stdout)?;
    }
    drop(stdout);
    let _ = writeln!(
        io::stderr(),
        "lineagedb: verify found {} problem(s) in {}: the file was changed outside LineageDB or is damaged",
        report.problems.len(),
        db.display()
    );
    Err(Failure::Statement)
}
