//! `lineagedb run`: runs a command and records it as a `run:` node with its
//! inputs, params, code revision and (when it succeeds) outputs, whatever
//! happens to the command.
//!
//! Everything the user typed is checked before the command starts: a bad
//! `--output`, `--param` or `--params` file, or an input that is neither an
//! existing file nor an existing node, exits 2 without running anything and
//! without recording anything. Once the command has started, a run is
//! recorded however it ends.
//!
//! Signals: while the command runs, the wrapper does not die of SIGINT,
//! SIGTERM or SIGHUP, so that it can record how the command ended. Ctrl-C at a
//! terminal reaches the command directly (it is in the terminal's foreground
//! process group), so SIGINT is not passed on; SIGTERM and SIGHUP, which a
//! scheduler or a closing session sends to the wrapper alone, are forwarded
//! to the command. A run stopped that way is recorded as failed, with the
//! signal that killed the command (or its exit code, if it handled the signal).
//! SIGKILL cannot be caught: a wrapper killed with it records nothing.
//!
//! Exit status: the command's own status; 128+N when it was killed by signal
//! N; 127 when it could not be started because it was not found, 126 when it
//! could not be started for another reason (not executable, permission
//! denied); 2 for a usage error before the command started, or when a
//! command that succeeded could not be recorded or did not write a declared
//! output (the run is then recorded as failed, without outputs).
//!
//! The database is released while the command runs, so the command may use
//! lineagedb on the same file; it is opened again to record the run. The key
//! handed to the child as `LINEAGEDB_RUN` is reserved when the wrapper
//! starts; only if another run of the same job is recorded under that key
//! in the meantime (same job, same second) does the run get a suffixed key,
//! and the wrapper warns.
//!
//! Both opens wait up to `--wait` for a file another process holds. If the
//! first cannot get it (busy past the wait, or an I/O error), the command
//! runs anyway, with node inputs checked only when the run is committed. If
//! the second cannot, or the commit fails, the record goes to the spool
//! beside the database (`spool.rs`), and the next command that opens the
//! database commits it, once; the command's exit status is passed through
//! all the same.

use std::io::{self, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, anyhow};
use lineagedb_engine::{
    Error as EngineError, NodeRef, PendingRun, RecorderError, RunOutcome, RunRecorder, RunStatus, Value, start_run,
    start_run_detached,
};

use crate::cli::{RunArgs, RunFormat};
use crate::oneshot;
use crate::output::{self, Failure};
use crate::spool;

/// The environment variable that carries the run's key to the command.
pub const RUN_ENV: &str = "LINEAGEDB_RUN";

/// Exit status when the command was not found (as in a POSIX shell).
const NOT_FOUND: i32 = 127;
/// Exit status when the command exists but could not be started.
const CANNOT_START: i32 = 126;

/// Runs `lineagedb run`. Returns only on a usage error before the command
/// started, or when the command succeeded and was recorded; otherwise the
/// process exits with the command's status.
pub fn run(db_path: &Path, author: &str, args: &RunArgs) -> Result<(), Failure> {
    let code = run_and_record(db_path, author, args)?;
    if code == 0 {
        return Ok(());
    }
    let _ = io::stderr().flush();
    std::process::exit(code)
}

/// One `--input`: a file to hash or a node to link.
#[derive(Debug)]
enum Input {
    File(PathBuf),
    Node(NodeRef),
}

/// One `--output TYPE:NAME=FILE`.
#[derive(Debug, PartialEq)]
struct Output {
    type_name: String,
    name: String,
    path: PathBuf,
}

/// Everything `lineagedb run` checks before opening the database.
#[derive(Debug)]
struct Plan {
    inputs: Vec<Input>,
    outputs: Vec<Output>,
    params_file: Option<serde_json::Value>,
    params: Vec<(String, Value)>,
    cwd: PathBuf,
}

/// Records the run; the exit status `lineagedb run` should end with.
fn run_and_record(db_path: &Path, author: &str, args: &RunArgs) -> Result<i32, Failure> {
    let plan = plan(args)?;
    // A database that stays busy past --wait, or cannot be reached, does not
    // stop the command: the run is recorded when it ends, or spooled.
    let db = match oneshot::try_open_database(db_path, author) {
        Ok(db) => Some(db),
        Err(error @ (EngineError::Locked { .. } | EngineError::Io { .. })) => {
            eprintln!(
                "lineagedb: warning: {error}\nlineagedb: running the command anyway; the run is recorded when it ends \
                 (node inputs are checked then), or kept in {} until a later command can record it",
                spool::dir(db_path).display()
            );
            None
        }
        Err(error) => return Err(anyhow!("cannot open database {}: {error}", db_path.display()).into()),
    };
    let started = match &db {
        Some(db) => start_run(db, &args.job),
        None => start_run_detached(&args.job),
    };
    let mut recorder = started.map_err(|e| anyhow!("cannot start recording the run: {e}"))?;
    recorder.author(author);
    declare(&mut recorder, &plan)?;
    // The database and its spool are not part of the code, even in its tree.
    recorder
        .ignore_untracked(db_path)
        .ignore_untracked(spool::dir(db_path))
        .ignore_untracked(crate::serve::marker_path(db_path));
    recorder.code_from_git(&plan.cwd);
    recorder.command(&args.command, &plan.cwd);
    // The run exists, as running, before the command starts: the command can
    // annotate it through LINEAGEDB_RUN.
    if recorder.is_attached() {
        recorder.reserve().map_err(|e| anyhow!("cannot record the start of the run: {e}"))?;
    }

    let run_key = recorder.run_key();
    // Let go of the database while the command runs: it may use lineagedb
    // on the same file (redb allows one process at a time).
    recorder.release_database();
    drop(db);
    let program = &args.command[0];
    let catcher = SignalCatcher::start().map_err(|e| anyhow!("cannot set up signal handling: {e}"))?;
    let spawned = Command::new(program).args(&args.command[1..]).env(RUN_ENV, run_key.to_string()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => {
            catcher.stop();
            let message = format!("cannot start {program}: {error}");
            let code = if error.kind() == io::ErrorKind::NotFound { NOT_FOUND } else { CANNOT_START };
            eprintln!("lineagedb: {message}");
            eprintln!("hint: check the command after `--`: it must be a program on PATH or a path to an executable");
            return Ok(commit_or_spool(db_path, author, recorder.failed(&message), code, "could not start", args));
        }
    };
    catcher.forward_to(child.id());
    let waited = child.wait();
    let received = catcher.stop();
    if let Some(names) = signal_names(&received) {
        eprintln!("lineagedb: received {names} while the command ran; recording how it ended");
    }
    if let Some(file) = &args.metrics {
        read_metrics(&mut recorder, file);
    }
    let status = match waited {
        Ok(status) => status,
        Err(error) => {
            // Only possible when the child can no longer be waited for; its status is lost.
            let message = format!("cannot wait for {program}: {error}");
            eprintln!("lineagedb: {message}");
            return Ok(commit_or_spool(db_path, author, recorder.failed(&message), CANNOT_START, "status lost", args));
        }
    };
    let (pending, code, how) = match (status.code(), status.signal()) {
        (Some(code), _) => (recorder.finished(code), code, format!("exit code {code}")),
        (None, Some(signal)) => {
            let how = format!("killed by signal {signal}");
            (recorder.failed(&how), 128 + signal, how)
        }
        (None, None) => (recorder.failed("ended without an exit status"), CANNOT_START, "no exit status".to_owned()),
    };
    Ok(commit_or_spool(db_path, author, pending, code, &how, args))
}

/// Catches SIGINT, SIGTERM and SIGHUP while the command runs (see the module
/// documentation). A flag per signal, set by the signal handler itself,
/// records what arrived (so nothing is missed when the command dies of the
/// same signal at once); a thread forwards SIGTERM and SIGHUP to the command
/// once its process id is known.
struct SignalCatcher {
    flags: Vec<(i32, Arc<AtomicBool>)>,
    handle: signal_hook::iterator::Handle,
    child: Arc<AtomicI32>,
    thread: JoinHandle<()>,
}

impl SignalCatcher {
    fn start() -> io::Result<SignalCatcher> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut flags = Vec::new();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal, Arc::clone(&flag))?;
            flags.push((signal, flag));
        }
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let child = Arc::new(AtomicI32::new(0));
        let target = Arc::clone(&child);
        let thread = std::thread::spawn(move || {
            for signal in signals.forever() {
                let pid = target.load(Ordering::SeqCst);
                if pid > 0 {
                    if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
                        // The command may have exited already: nothing to do then.
                        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
                    }
                }
            }
        });
        Ok(SignalCatcher { flags, handle, child, thread })
    }

    /// Forwards SIGTERM and SIGHUP to process `pid` from now on.
    fn forward_to(&self, pid: u32) {
        self.child.store(i32::try_from(pid).unwrap_or(0), Ordering::SeqCst);
    }

    /// Stops forwarding; returns the signals received. The wrapper keeps
    /// ignoring them while it records the run.
    fn stop(self) -> Vec<i32> {
        self.child.store(0, Ordering::SeqCst);
        self.handle.close();
        let _ = self.thread.join();
        self.flags.iter().filter(|(_, flag)| flag.load(Ordering::SeqCst)).map(|(signal, _)| *signal).collect()
    }
}

/// "SIGTERM", "SIGINT and SIGTERM", ...: the distinct signals in `received`.
fn signal_names(received: &[i32]) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    for &signal in received {
        let name =
            nix::sys::signal::Signal::try_from(signal).map(|s| s.as_str().to_owned()).unwrap_or(signal.to_string());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    match names.len() {
        0 => None,
        1 => names.pop(),
        _ => {
            let last = names.pop().unwrap_or_default();
            Some(format!("{} and {last}", names.join(", ")))
        }
    }
}

/// Checks the arguments: every usage error is found here, before the
/// database is opened or the command started.
fn plan(args: &RunArgs) -> Result<Plan, Failure> {
    let cwd = std::env::current_dir()
        .context("cannot get the current working directory: did it get deleted?")
        .map_err(Failure::from)?;
    let inputs = args.input.iter().map(|text| parse_input(text)).collect::<Result<_, _>>()?;
    let outputs = args.output.iter().map(|text| parse_output(text)).collect::<Result<_, _>>()?;
    let params = args.param.iter().map(|text| parse_param(text)).collect::<Result<_, _>>()?;
    let params_file = args.params.as_deref().map(read_params).transpose()?;
    Ok(Plan { inputs, outputs, params_file, params, cwd })
}

/// An existing path is a file input; anything else must be a node reference.
fn parse_input(text: &str) -> Result<Input, Failure> {
    if Path::new(text).exists() {
        return Ok(Input::File(PathBuf::from(text)));
    }
    text.parse::<NodeRef>().map(Input::Node).map_err(|e| {
        anyhow!(
            "input {text} is neither an existing file nor a node reference ({e})\n\
             hint: pass the path of an existing file, or a node such as dataset:transactions@3"
        )
        .into()
    })
}

/// `TYPE:NAME=FILE`.
fn parse_output(text: &str) -> Result<Output, Failure> {
    let usage = || -> Failure {
        anyhow!("invalid --output {text:?}: expected TYPE:NAME=FILE\nhint: for example --output model:fraud=model.bin")
            .into()
    };
    let (entity, path) = text.split_once('=').ok_or_else(usage)?;
    let (type_name, name) = entity.split_once(':').ok_or_else(usage)?;
    if type_name.is_empty() || name.is_empty() || path.is_empty() {
        return Err(usage());
    }
    Ok(Output { type_name: type_name.to_owned(), name: name.to_owned(), path: PathBuf::from(path) })
}

/// `K=V`, with the value typed (see [`param_value`]).
fn parse_param(text: &str) -> Result<(String, Value), Failure> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), param_value(value))),
        _ => Err(anyhow!("invalid --param {text:?}: expected NAME=VALUE\nhint: for example --param lr=0.1").into()),
    }
}

/// An integer when the text reads back as the same integer (`7`; `007` and
/// `+7` stay text, like identifiers), a float when it is a finite number
/// (`0.1`, `1e-3`; not `nan` or `inf`), `true`/`false` as booleans, else the
/// text.
fn param_value(text: &str) -> Value {
    if let Ok(n) = text.parse::<i64>() {
        return if n.to_string() == text { Value::Int(n) } else { Value::from(text) };
    }
    if text.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(x) = text.parse::<f64>() {
            if x.is_finite() {
                return Value::Float(x);
            }
        }
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::from(text),
    }
}

/// The `--params` file: a JSON object.
fn read_params(path: &Path) -> Result<serde_json::Value, Failure> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read params file {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("params file {} is not valid JSON", path.display()))?;
    if !json.is_object() {
        return Err(anyhow!(
            "params file {} must hold a JSON object of name/value pairs\nhint: for example {{\"lr\": 0.1, \"epochs\": 3}}",
            path.display()
        )
        .into());
    }
    Ok(json)
}

/// Declares inputs, params and outputs. Inputs are hashed or resolved now,
/// before the command can change them.
fn declare(recorder: &mut RunRecorder, plan: &Plan) -> Result<(), Failure> {
    for input in &plan.inputs {
        match input {
            Input::File(path) => {
                let name = dataset_name(path);
                recorder.input_file(path, Some(&name)).map_err(|e| anyhow!("cannot hash input: {e}"))?;
            }
            Input::Node(reference) if !recorder.is_attached() => recorder.input_ref_unchecked(reference),
            Input::Node(reference) => {
                recorder.input_ref(reference).map_err(|e| match e {
                    RecorderError::NoInput { .. } => anyhow!(
                        "{e}\nhint: an input is an existing file or an existing node; \
                         check the reference with `lineagedb query \"HISTORY OF {}\"`",
                        reference.entity()
                    ),
                    other => anyhow!("cannot resolve input {reference}: {other}"),
                })?;
            }
        }
    }
    // The file first, so that a --param on the command line overrides it.
    if let Some(json) = &plan.params_file {
        recorder.params_json(json).map_err(|e| anyhow!("{e}"))?;
    }
    for (name, value) in &plan.params {
        recorder.param(name.clone(), value.clone());
    }
    for o in &plan.outputs {
        recorder.output_file(&o.type_name, &o.name, &o.path).map_err(|e| anyhow!("{e}"))?;
    }
    Ok(())
}

/// The dataset an input file is a version of: its path as given, without
/// `.` components, so that `./tx.csv` and `tx.csv` are the same dataset.
fn dataset_name(path: &Path) -> String {
    let clean: PathBuf = path.components().filter(|c| *c != Component::CurDir).collect();
    if clean.as_os_str().is_empty() { path.display().to_string() } else { clean.display().to_string() }
}

/// Commits the run record, first the records spooled before it; when the
/// database stays busy past `--wait`, cannot be opened, or refuses the
/// commit, keeps the record in the spool (`spool.rs`) for the next command
/// that opens the database. Reports on stderr (stdout belongs to the
/// command) and returns the exit status: the command's, or 2 when a command
/// that succeeded could be neither recorded nor spooled.
fn commit_or_spool(db_path: &Path, author: &str, pending: PendingRun, code: i32, how: &str, args: &RunArgs) -> i32 {
    let reserved = format!("run:{}@1", pending.run_name);
    let committed = oneshot::try_open_database(db_path, author)
        .map_err(|e| e.to_string())
        .and_then(|db| pending.commit(&db).map_err(|e| e.to_string()));
    let reason = match committed {
        Ok(Some(outcome)) => {
            if args.format == Some(RunFormat::Json) {
                print_json(&outcome_json(&outcome));
            }
            return record(&outcome, &reserved, code, how);
        }
        // Only a record read back from the spool can have been committed before.
        Ok(None) => return code,
        Err(reason) => reason,
    };
    match spool::write(db_path, &pending) {
        Ok(file) => {
            if args.format == Some(RunFormat::Json) {
                print_json(&serde_json::json!({
                    "run": reserved,
                    "status": pending.status.as_str(),
                    "exit_code": pending.exit_code,
                    "snapshot": null,
                    "spooled": file.display().to_string(),
                }));
            }
            eprintln!(
                "lineagedb: warning: the command ended ({how}) but the run {reserved} could not be recorded now: {reason}\n\
                 lineagedb: the run record is kept in {} and will be committed, once, by the next lineagedb \
                 command that opens {}",
                file.display(),
                db_path.display()
            );
            code
        }
        Err(error) => {
            output::report_error(&anyhow!(
                "the command ended ({how}) but the run {reserved} could not be recorded ({reason}) \
                 nor kept in the spool {} ({error}); the record follows on stderr as JSON",
                spool::dir(db_path).display()
            ));
            eprintln!("{}", serde_json::to_string(&pending).unwrap_or_default());
            if code == 0 { 2 } else { code }
        }
    }
}

/// Reads the metrics file the command wrote; a missing or malformed one is
/// a warning (the run is recorded without its metrics).
fn read_metrics(recorder: &mut RunRecorder, file: &Path) {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            eprintln!(
                "lineagedb: warning: cannot read the metrics file {}: {error}; the run is recorded without metrics\n\
                 hint: the command must write a JSON object there, such as {{\"mse\": 0.12}}",
                file.display()
            );
            return;
        }
    };
    let parsed = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| e.to_string())
        .and_then(|json| recorder.metrics_json(&json).map(|_| ()).map_err(|e| e.to_string()));
    if let Err(error) = parsed {
        eprintln!(
            "lineagedb: warning: the metrics file {} is not a JSON object of metrics ({error}); the run is recorded \
             without metrics",
            file.display()
        );
    }
}

/// What `lineagedb run --format json` prints.
fn outcome_json(outcome: &RunOutcome) -> serde_json::Value {
    serde_json::json!({
        "run": outcome.run.to_string(),
        "status": outcome.status.as_str(),
        "snapshot": outcome.snapshot,
        "inputs": outcome.inputs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "outputs": outcome.outputs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "code": outcome.code.as_ref().map(ToString::to_string),
        "missing_outputs": outcome.missing_outputs,
        "spooled": null,
    })
}

fn print_json(value: &serde_json::Value) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

/// Reports what was recorded on stderr and returns the command's status.
fn record(outcome: &RunOutcome, reserved: &str, code: i32, how: &str) -> i32 {
    let mut stderr = io::stderr().lock();
    for missing in &outcome.missing_outputs {
        let _ = writeln!(
            stderr,
            "lineagedb: error: declared output {missing} was not written: the file or directory is missing or \
             unreadable, so the run is recorded as failed, without outputs"
        );
    }
    if outcome.run.to_string() != reserved {
        let _ = writeln!(
            stderr,
            "lineagedb: warning: {reserved} was taken meanwhile, the run was recorded as {}",
            outcome.run
        );
    }
    let _ = writeln!(stderr, "lineagedb: {}", summary(outcome, how));
    if !outcome.missing_outputs.is_empty() {
        let _ = writeln!(stderr, "hint: check the path after `=` in --output, relative to the working directory");
        if code == 0 {
            return 2;
        }
    }
    code
}

/// `recorded run:train_20261130T101500Z@1 (succeeded, snapshot 7; outputs model:fraud@2)`,
/// or `(failed: exit code 3, snapshot 8)`.
fn summary(outcome: &RunOutcome, how: &str) -> String {
    let status = match outcome.status {
        RunStatus::Succeeded => "succeeded".to_owned(),
        RunStatus::Failed => format!("failed: {how}"),
    };
    let mut line = format!("recorded {} ({status}, snapshot {}", outcome.run, outcome.snapshot);
    if !outcome.outputs.is_empty() {
        let outputs: Vec<String> = outcome.outputs.iter().map(ToString::to_string).collect();
        line.push_str(&format!("; outputs {}", outputs.join(", ")));
    }
    line.push(')');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_typed_when_they_read_back_the_same() {
        assert_eq!(param_value("3"), Value::Int(3));
        assert_eq!(param_value("-12"), Value::Int(-12));
        assert_eq!(param_value("0.1"), Value::Float(0.1));
        assert_eq!(param_value("1e-3"), Value::Float(0.001));
        assert_eq!(param_value("true"), Value::Bool(true));
        assert_eq!(param_value("false"), Value::Bool(false));
        for text in ["007", "+7", "nan", "inf", "True", "adam", ""] {
            assert_eq!(param_value(text), Value::from(text), "{text}");
        }
    }

    #[test]
    fn input_files_name_their_dataset_by_path_without_dot_components() {
        assert_eq!(dataset_name(Path::new("./tx.csv")), "tx.csv");
        assert_eq!(dataset_name(Path::new("data/./tx.csv")), "data/tx.csv");
        assert_eq!(dataset_name(Path::new("/srv/data/tx.csv")), "/srv/data/tx.csv");
        assert_eq!(dataset_name(Path::new("../tx.csv")), "../tx.csv");
    }

    #[test]
    fn outputs_are_type_name_and_file() {
        let out = parse_output("model:fraud=out/model.bin").expect("valid");
        assert_eq!(
            out,
            Output { type_name: "model".into(), name: "fraud".into(), path: PathBuf::from("out/model.bin") }
        );
        for bad in ["model:fraud", "model=x.bin", ":fraud=x", "model:=x", "model:fraud="] {
            assert!(parse_output(bad).is_err(), "{bad}");
        }
    }
}
