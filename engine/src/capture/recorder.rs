//! The run recorder: what `lineagedb run` and a Rust pipeline use to record
//! one execution of a job as a `run:` node, whatever its outcome.
//!
//! [`start_run`] fixes the run's key up front (`run:<job>_<UTC time>@1`, with
//! `_2`, `_3`, ... when that name is taken) so it can be handed to the child
//! process as `LINEAGEDB_RUN`. Input files are hashed when they are declared
//! (before the child can change them), output files when the run finishes.
//! Nothing is written until [`RunRecorder::reserve`], [`RunRecorder::finish`]
//! or [`RunRecorder::fail`]. `reserve` (what `lineagedb run` does before it
//! starts the command) commits the run node with its job, inputs and code
//! revision as one snapshot, with the annotation `status` = `running`, so
//! the command can annotate its own run; `finish`/`fail` then commit how it
//! ended (`status`, `ended_at`, `duration_ms`, `exit_code`, `errorMessage`,
//! `metrics` as annotations) and, on success only, its outputs, as a second
//! snapshot. Without `reserve` the whole run is one snapshot at the end. A
//! recorder killed mid-run leaves a reserved run `running`, an unreserved one
//! not at all; never a half-written snapshot. If another writer took the
//! picked name in the meantime, the run is recorded under the next free name
//! and [`RunOutcome::run`] says which (a reserved run's key is final).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::audit::hex;
use crate::capture::{code_version, ensure_entity};
use crate::db::Database;
use crate::error::{Error, KeyError};
use crate::key::{EntityKey, NodeKey, NodeRef, VersionSel, check_name, check_type};
use crate::storage::codec::SnapshotId;
use crate::value::{Props, Timestamp, Value, props_from_json};
use crate::write::{NewNode, WriteTx};

/// Why a run could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The engine refused a read or a write.
    #[error(transparent)]
    Engine(#[from] Error),
    /// A malformed key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Parameters given as JSON are not an object.
    #[error("run parameters must be a JSON object of name/value pairs, not {found}")]
    Params {
        /// What was given instead.
        found: String,
    },
    /// An input reference names no node.
    #[error("input {reference} does not exist: {reason}")]
    NoInput {
        /// The reference.
        reference: String,
        /// The engine's explanation.
        reason: String,
    },
    /// Metrics given as JSON are not an object.
    #[error("run metrics must be a JSON object of name/value pairs, not {found}")]
    Metrics {
        /// What was given instead.
        found: String,
    },
    /// A job name or an output type is not valid.
    #[error("invalid {what} {text:?}: {reason}")]
    Invalid {
        /// What was being named.
        what: &'static str,
        /// The text given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// `finish` or `fail` was called while the database was released.
    #[error("the run recorder has no database: call reattach after release_database")]
    Detached,
}

/// How a recorded run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The command exited with status 0.
    Succeeded,
    /// The command exited with another status, was killed, or could not start.
    Failed,
}

impl RunStatus {
    /// `succeeded` or `failed`, as stored in the run's `status` property.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }
}

/// What was recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The run's key (the reserved one unless another writer took it meanwhile).
    pub run: NodeKey,
    /// Succeeded or failed.
    pub status: RunStatus,
    /// The snapshot that recorded the run.
    pub snapshot: SnapshotId,
    /// Input versions linked to the run.
    pub inputs: Vec<NodeKey>,
    /// Output versions created (none when the run failed).
    pub outputs: Vec<NodeKey>,
    /// The `code:` version linked to the run, if the code was in git.
    pub code: Option<NodeKey>,
    /// Declared outputs that were not recorded because their file was missing or unreadable.
    pub missing_outputs: Vec<String>,
}

/// The state of a git working tree (it serializes, as part of a [`PendingRun`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GitInfo {
    /// The `code:` entity name: the remote URL (without credentials) or the repository directory's name.
    pub repo: String,
    /// `HEAD`'s commit id.
    pub commit: String,
    /// The branch checked out (`HEAD` when detached).
    pub branch: Option<String>,
    /// Whether the working tree differs from `HEAD`: changed tracked files,
    /// or untracked files that are not ignored.
    pub dirty: bool,
    /// The `origin` remote, without credentials.
    pub remote: Option<String>,
    /// When dirty, a SHA-256 over what differs from `HEAD`: `git diff HEAD
    /// --binary`, then each untracked file's path and SHA-256 (see
    /// `docs/design.md`), so the exact tree that ran can be checked later.
    #[serde(default)]
    pub diff_sha256: Option<String>,
    /// Untracked, not ignored files (relative to the repository's top), at
    /// most [`MAX_UNTRACKED`] of them.
    #[serde(default)]
    pub untracked: Vec<String>,
}

/// Untracked files listed (and hashed into the diff) at most.
pub const MAX_UNTRACKED: usize = 1000;

#[derive(Clone, Debug)]
struct Output {
    type_name: String,
    name: String,
    path: PathBuf,
}

/// One run being recorded. Nothing is written until `finish` or `fail`.
#[derive(Debug)]
pub struct RunRecorder {
    /// `None` while released (see [`RunRecorder::release_database`]).
    db: Option<Database>,
    job: String,
    run_name: String,
    started: Timestamp,
    author: Option<String>,
    /// Its inputs, as the [`PendingRun`] will hold them.
    inputs: Vec<PendingInput>,
    params: Props,
    outputs: Vec<Output>,
    git: Option<GitInfo>,
    command: Option<(Vec<String>, PathBuf)>,
    /// Unique to this run record (see [`PendingRun::token`]).
    token: String,
    /// Metrics to record when it ends.
    metrics: Option<Props>,
    /// Set by [`RunRecorder::reserve`].
    reserved: Option<ReservedRun>,
    /// What the command runs with (see `environment`), found when it is declared.
    env: Option<Props>,
    /// Paths whose untracked files are not code changes (`ignore_untracked`).
    ignored: Vec<PathBuf>,
}

/// Starts recording a run of `job`: reserves the run's name (see
/// [`RunRecorder::run_key`]) and notes the start time.
pub fn start_run(db: &Database, job: &str) -> Result<RunRecorder, RecorderError> {
    let mut recorder = start_run_detached(job)?;
    let read = db.begin_read()?;
    recorder.run_name = free_name(&recorder.run_name, |name| run_exists(&read, name))?;
    recorder.token = record_token(&recorder.run_name, recorder.started);
    recorder.db = Some(db.clone());
    Ok(recorder)
}

/// Starts recording a run of `job` without a database (it could not be
/// opened): the name `<job>_<UTC time>` is not checked against recorded runs
/// (a taken one gets a suffix when the run commits), and node inputs
/// ([`RunRecorder::input_ref_unchecked`]) are resolved when it commits.
pub fn start_run_detached(job: &str) -> Result<RunRecorder, RecorderError> {
    check_name(job).map_err(|e| RecorderError::Invalid {
        what: "job name",
        text: job.into(),
        reason: e.to_string(),
    })?;
    let started = Timestamp::now();
    let stamp = chrono::DateTime::from_timestamp_micros(started.micros())
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| started.micros().to_string());
    let run_name = format!("{job}_{stamp}");
    let token = record_token(&run_name, started);
    Ok(RunRecorder {
        db: None,
        job: job.to_owned(),
        run_name,
        started,
        author: None,
        inputs: Vec::new(),
        params: Props::new(),
        outputs: Vec::new(),
        git: None,
        command: None,
        token,
        metrics: None,
        reserved: None,
        env: None,
        ignored: Vec::new(),
    })
}

/// A token no other run record has: the run name, the start time in
/// microseconds, the process id and 64 random bits.
fn record_token(run_name: &str, started: Timestamp) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(started.micros());
    hasher.write_u32(std::process::id());
    format!("{run_name}.{}.{}.{:016x}", started.micros(), std::process::id(), hasher.finish())
}

/// `base`, or the first of `base_2`, `base_3`, ... that `taken` says is free.
fn free_name(base: &str, mut taken: impl FnMut(&str) -> Result<bool, RecorderError>) -> Result<String, RecorderError> {
    let mut name = base.to_owned();
    let mut n = 1;
    while taken(&name)? {
        n += 1;
        name = format!("{base}_{n}");
    }
    Ok(name)
}

/// Whether a live `run:<name>` exists in the transaction.
fn run_taken(tx: &WriteTx, name: &str) -> Result<bool, RecorderError> {
    Ok(tx.exists(&NodeRef::new("run", name, VersionSel::Latest)?)?)
}

/// Whether any version of `run:<name>` was ever created (deleted ones included).
fn run_exists(read: &crate::read::ReadTx, name: &str) -> Result<bool, RecorderError> {
    match read.history(&EntityKey::new("run", name)?) {
        Ok(events) => Ok(!events.is_empty()),
        Err(Error::NoSuchNode { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl RunRecorder {
    /// The key the run will be recorded under, known before the command
    /// runs: export it to the child as `LINEAGEDB_RUN`.
    pub fn run_key(&self) -> NodeKey {
        NodeKey { type_name: "run".into(), name: self.run_name.clone(), version: 1 }
    }

    /// When the run started.
    pub fn started_at(&self) -> Timestamp {
        self.started
    }

    /// Sets the commit author (default: the database's).
    pub fn author(&mut self, author: impl Into<String>) -> &mut Self {
        self.author = Some(author.into());
        self
    }

    /// Links an existing node version as an input; it must exist now.
    pub fn input_ref(&mut self, r: &NodeRef) -> Result<NodeKey, RecorderError> {
        let read = self.database()?.begin_read()?;
        let key =
            read.resolve(r).map_err(|e| RecorderError::NoInput { reference: r.to_string(), reason: e.to_string() })?;
        self.inputs.push(PendingInput::Node {
            type_name: key.type_name.clone(),
            name: key.name.clone(),
            version: key.version,
        });
        Ok(key)
    }

    /// Links a node as an input without checking it now (the recorder has no
    /// database): it is resolved when the run commits, and the commit fails
    /// if it names no node then.
    pub fn input_ref_unchecked(&mut self, r: &NodeRef) {
        self.inputs.push(PendingInput::Reference { reference: r.to_string() });
    }

    /// Whether the recorder has a database (see [`start_run_detached`]).
    pub fn is_attached(&self) -> bool {
        self.db.is_some()
    }

    /// Declares an input file, hashed now (SHA-256). It is recorded as a
    /// version of `dataset:<name>` (default name: the path as given): the
    /// version with the same hash if there is one, a new version otherwise.
    /// Returns the file's hash.
    pub fn input_file(&mut self, path: impl AsRef<Path>, name: Option<&str>) -> Result<String, RecorderError> {
        let path = path.as_ref();
        let name = name.map_or_else(|| path.display().to_string(), str::to_owned);
        check_name(&name).map_err(|e| RecorderError::Invalid {
            what: "dataset name",
            text: name.clone(),
            reason: e.to_string(),
        })?;
        let Hashed { sha256, size, files } = hash_path(path)?;
        self.inputs.push(PendingInput::File { name, path: path.to_owned(), sha256: sha256.clone(), size, files });
        Ok(sha256)
    }

    /// Records a parameter.
    pub fn param(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Records every entry of a JSON object as a parameter (nested objects stay maps).
    pub fn params_json(&mut self, json: &serde_json::Value) -> Result<&mut Self, RecorderError> {
        let props = props_from_json(json).ok_or_else(|| RecorderError::Params { found: json_kind(json).into() })?;
        self.params.extend(props);
        Ok(self)
    }

    /// Declares an output file: on success, a new version of `type:name`
    /// with the file's SHA-256 (`sha256`, also the external label when no
    /// other version carries it) and size. Nothing is created on failure.
    pub fn output_file(
        &mut self,
        type_name: &str,
        name: &str,
        path: impl AsRef<Path>,
    ) -> Result<&mut Self, RecorderError> {
        check_type(type_name).map_err(|e| RecorderError::Invalid {
            what: "output type",
            text: type_name.into(),
            reason: e.to_string(),
        })?;
        check_name(name).map_err(|e| RecorderError::Invalid {
            what: "output name",
            text: name.into(),
            reason: e.to_string(),
        })?;
        self.outputs.push(Output { type_name: type_name.into(), name: name.into(), path: path.as_ref().to_owned() });
        Ok(self)
    }

    /// Records the git revision of the working tree at `dir`, if it is in
    /// one (and `git` is installed); returns what was found.
    /// An untracked file or directory is not a change of the code: the
    /// database itself, its spool, or its attached database's file is never
    /// one, and `ignore_untracked` adds more, before `code_from_git`.
    pub fn code_from_git(&mut self, dir: impl AsRef<Path>) -> Option<GitInfo> {
        let mut ignored = self.ignored.clone();
        if let Some(path) = self.db.as_ref().and_then(Database::path) {
            ignored.push(path.to_owned());
        }
        self.git = git_info(dir.as_ref(), &ignored);
        self.git.clone()
    }

    /// Untracked files at or below `path` do not make the code dirty (the
    /// database file and its spool, for example).
    pub fn ignore_untracked(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.ignored.push(path.as_ref().to_owned());
        self
    }

    /// Records the command line and its working directory, and what it runs
    /// with (`env`: the Python version and packages of a Python command, the
    /// hashes of lock files in `cwd`), found now, before it runs.
    pub fn command(&mut self, argv: &[String], cwd: impl AsRef<Path>) -> &mut Self {
        self.env = environment(argv, cwd.as_ref());
        self.command = Some((argv.to_vec(), cwd.as_ref().to_owned()));
        self
    }

    /// Lets go of the database while the recorded command runs, so that
    /// the command itself (or another process) can open the same file; call
    /// [`RunRecorder::reattach`] before `finish` or `fail`. Everything
    /// declared so far (inputs already hashed and resolved, params, code)
    /// is kept.
    pub fn release_database(&mut self) {
        self.db = None;
    }

    /// Gives the recorder a database again after `release_database`.
    pub fn reattach(&mut self, db: &Database) {
        self.db = Some(db.clone());
    }

    fn database(&self) -> Result<&Database, RecorderError> {
        self.db.as_ref().ok_or(RecorderError::Detached)
    }

    /// Records the run as finished with `exit_code` (0: succeeded).
    pub fn finish(self, exit_code: i32) -> Result<RunOutcome, RecorderError> {
        let db = self.database()?.clone();
        commit_fresh(self.finished(exit_code), &db)
    }

    /// Records the run as failed without an exit code (it could not start,
    /// was killed by a signal, or the Rust code failed), with `message`.
    pub fn fail(self, message: &str) -> Result<RunOutcome, RecorderError> {
        let db = self.database()?.clone();
        commit_fresh(self.failed(message), &db)
    }

    /// Everything [`RunRecorder::finish`] would commit, without committing
    /// it: outputs are hashed now. Needs no database, so a caller that cannot
    /// reach one can keep the record (it serializes) and commit it later
    /// with [`PendingRun::commit`].
    pub fn finished(self, exit_code: i32) -> PendingRun {
        let status = if exit_code == 0 { RunStatus::Succeeded } else { RunStatus::Failed };
        self.prepare(status, Some(exit_code), None)
    }

    /// Everything [`RunRecorder::fail`] would commit, without committing it.
    pub fn failed(self, message: &str) -> PendingRun {
        self.prepare(RunStatus::Failed, None, Some(message))
    }

    fn prepare(self, mut status: RunStatus, exit_code: Option<i32>, message: Option<&str>) -> PendingRun {
        let ended = Timestamp::now();
        // Outputs are hashed before the transaction so that a slow hash does not hold the writer.
        let mut outputs = Vec::new();
        let mut missing_outputs = Vec::new();
        if status == RunStatus::Succeeded {
            for o in &self.outputs {
                match hash_path(&o.path) {
                    Ok(Hashed { sha256, size, files }) => outputs.push(HashedOutput {
                        type_name: o.type_name.clone(),
                        name: o.name.clone(),
                        path: o.path.clone(),
                        sha256,
                        size,
                        files,
                    }),
                    Err(_) => missing_outputs.push(format!("{}:{} ({})", o.type_name, o.name, o.path.display())),
                }
            }
        }
        // A run that did not write what it declared did not do its job: it
        // failed, and records none of its outputs.
        let missing_message;
        let mut message = message;
        if !missing_outputs.is_empty() {
            status = RunStatus::Failed;
            outputs.clear();
            missing_message = format!(
                "the command exited {} but did not write its declared output(s): {}",
                exit_code.unwrap_or(0),
                missing_outputs.join(", ")
            );
            message = Some(&missing_message);
        }
        let mut props = self.start_props();
        props.insert("status".into(), Value::from(status.as_str()));
        props.insert("ended_at".into(), Value::Timestamp(ended));
        props.insert("duration_ms".into(), Value::Int((ended.micros() - self.started.micros()) / 1000));
        if let Some(code) = exit_code {
            props.insert("exit_code".into(), Value::Int(i64::from(code)));
        }
        if let Some(m) = message {
            props.insert("errorMessage".into(), Value::from(m));
        }
        if let Some(metrics) = &self.metrics {
            props.insert("metrics".into(), Value::Map(metrics.clone()));
        }
        if !missing_outputs.is_empty() {
            props.insert(
                "missing_outputs".into(),
                Value::List(missing_outputs.iter().map(|m| Value::from(m.as_str())).collect()),
            );
        }
        let inputs = self.inputs;
        PendingRun {
            token: self.token,
            job: self.job,
            run_name: self.run_name,
            author: self.author,
            status,
            exit_code,
            props,
            inputs,
            git: self.git,
            outputs,
            missing_outputs,
            reserved: self.reserved,
        }
    }

    /// The run node's properties known when it starts (all but `status`
    /// and what [`END_PROPS`] lists).
    fn start_props(&self) -> Props {
        let mut props = Props::new();
        props.insert("job".into(), Value::from(self.job.as_str()));
        props.insert("started_at".into(), Value::Timestamp(self.started));
        if let Some((argv, cwd)) = &self.command {
            props.insert("command".into(), Value::List(argv.iter().map(|a| Value::from(a.as_str())).collect()));
            props.insert("command_line".into(), Value::String(shell_words(argv)));
            props.insert("cwd".into(), Value::String(cwd.display().to_string()));
        }
        if let Some(host) = hostname() {
            props.insert("host".into(), Value::String(host));
        }
        if let Some(user) = std::env::var("USER").ok().or_else(|| std::env::var("USERNAME").ok()) {
            props.insert("user".into(), Value::String(user));
        }
        props.insert("params".into(), Value::Map(self.params.clone()));
        if let Some(g) = &self.git {
            let mut code = BTreeMap::from([
                ("repo".to_owned(), Value::from(g.repo.as_str())),
                ("commit".to_owned(), Value::from(g.commit.as_str())),
                ("dirty".to_owned(), Value::Bool(g.dirty)),
            ]);
            if let Some(b) = &g.branch {
                code.insert("branch".into(), Value::from(b.as_str()));
            }
            if let Some(r) = &g.remote {
                code.insert("remote".into(), Value::from(r.as_str()));
            }
            if let Some(d) = &g.diff_sha256 {
                code.insert("diff_sha256".into(), Value::from(d.as_str()));
            }
            if !g.untracked.is_empty() {
                code.insert(
                    "untracked".into(),
                    Value::List(g.untracked.iter().map(|u| Value::from(u.as_str())).collect()),
                );
            }
            props.insert("code".into(), Value::Map(code));
        }
        if let Some(env) = &self.env {
            props.insert("env".into(), Value::Map(env.clone()));
        }
        props
    }

    /// Creates the run node now, with `status` = `running`, its job, inputs
    /// and code revision, as one snapshot: the command can then annotate its
    /// own run (`SET $LINEAGEDB_RUN {...}`), and others see it running.
    /// `finish` or `fail` later annotates it with how it ended and links its
    /// outputs. Returns its key, which no other run has: a name taken since
    /// [`start_run`] picked it gets the next suffix here. A recorder killed
    /// after this leaves the run `running`.
    pub fn reserve(&mut self) -> Result<NodeKey, RecorderError> {
        let db = self.database()?.clone();
        let mut tx = db.begin_write()?;
        if let Some(a) = &self.author {
            tx.author(a.clone());
        }
        tx.message(format!("run {} started", self.job));
        let asserted_by = format!("lineagedb run ({})", tx.author_name());
        tx.assert_created(asserted_by);
        self.run_name = free_name(&self.run_name, |name| run_taken(&tx, name))?;
        let new = NewNode {
            type_name: "run".into(),
            name: self.run_name.clone(),
            version: None,
            label: None,
            props: self.start_props(),
        };
        let run = tx.create(new)?.key().clone();
        // How it ends is not known yet: `status` and the rest of END_PROPS
        // are annotations, which `finish` and `fail` change.
        tx.set(&run.to_ref(), Props::from([("status".to_owned(), Value::from("running"))]))?;
        let (inputs, code) = link_start(&mut tx, &run, &self.job, &self.inputs, self.git.as_ref())?;
        let detail = serde_json::json!({
            "run": run.to_string(),
            "job": self.job,
            "status": "running",
            "inputs": inputs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "code": code.as_ref().map(ToString::to_string),
        });
        tx.record_audit("run", vec![run.to_string()], detail)?;
        tx.commit()?;
        self.token = record_token(&self.run_name, self.started);
        self.reserved = Some(ReservedRun {
            run: run.to_string(),
            inputs: inputs.iter().map(ToString::to_string).collect(),
            code: code.as_ref().map(ToString::to_string),
        });
        Ok(run)
    }

    /// Metrics the run reported, from a JSON object (`lineagedb run
    /// --metrics FILE` reads it after the command): recorded as the run's
    /// `metrics` property when it ends.
    pub fn metrics_json(&mut self, json: &serde_json::Value) -> Result<&mut Self, RecorderError> {
        let props = props_from_json(json).ok_or_else(|| RecorderError::Metrics { found: json_kind(json).into() })?;
        self.metrics.get_or_insert_with(Props::new).extend(props);
        Ok(self)
    }
}

/// Links what a run starts from to its node `run`: its job (created if
/// new), its inputs (file inputs as dataset versions) and its code revision.
/// Returns the inputs' keys, without repeats, and the code version's.
fn link_start(
    tx: &mut WriteTx,
    run: &NodeKey,
    job: &str,
    inputs: &[PendingInput],
    git: Option<&GitInfo>,
) -> Result<(Vec<NodeKey>, Option<NodeKey>), RecorderError> {
    let run_ref = run.to_ref();
    let (job, _) = ensure_entity(tx, "job", job, Props::new())?;
    tx.link(&job.to_ref(), &run_ref, "job", Props::new())?;
    let mut keys = Vec::new();
    for input in inputs {
        let (key, edge) = match input {
            PendingInput::Node { type_name, name, version } => {
                (tx.resolve(&NodeRef::new(type_name, name, VersionSel::Number(*version))?)?, Props::new())
            }
            PendingInput::Reference { reference } => {
                let parsed: NodeRef = reference.parse()?;
                let key = tx
                    .resolve(&parsed)
                    .map_err(|e| RecorderError::NoInput { reference: reference.clone(), reason: e.to_string() })?;
                (key, Props::new())
            }
            PendingInput::File { name, path, sha256, size, files } => {
                let hashed = Hashed { sha256: sha256.clone(), size: *size, files: *files };
                let key = file_version(tx, "dataset", name, path, &hashed, true)?;
                (key, Props::from([("path".to_owned(), Value::String(path.display().to_string()))]))
            }
        };
        if !keys.contains(&key) {
            tx.link(&key.to_ref(), &run_ref, "input", edge)?;
            keys.push(key);
        }
    }
    let mut code = None;
    if let Some(g) = git {
        let (key, _) = code_version(tx, &g.repo, "git", &g.commit, g.remote.as_deref())?;
        let mut edge = Props::from([("dirty".to_owned(), Value::Bool(g.dirty))]);
        if let Some(b) = &g.branch {
            edge.insert("branch".into(), Value::from(b.as_str()));
        }
        tx.link(&key.to_ref(), &run_ref, "code", edge)?;
        code = Some(key);
    }
    Ok((keys, code))
}

/// The properties a run gets when it ends, set on a reserved run's node.
const END_PROPS: &[&str] =
    &["status", "ended_at", "duration_ms", "exit_code", "errorMessage", "missing_outputs", "metrics"];

/// A run node created when the run started ([`RunRecorder::reserve`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReservedRun {
    /// The run's key.
    pub run: String,
    /// The keys of the inputs linked then.
    pub inputs: Vec<String>,
    /// The key of the code version linked then.
    pub code: Option<String>,
}

/// Commits a record made in this process: its token cannot have been claimed.
fn commit_fresh(pending: PendingRun, db: &Database) -> Result<RunOutcome, RecorderError> {
    let token = pending.token.clone();
    pending
        .commit(db)?
        .ok_or_else(|| RecorderError::Engine(Error::Storage(format!("the run record {token} was committed already"))))
}

/// A finished run not yet committed ([`RunRecorder::finished`],
/// [`RunRecorder::failed`]): everything its snapshot will hold, with the
/// output files already hashed. It serializes (serde), so a caller that
/// cannot reach the database can keep it in a file and commit it later, from
/// another process. Its `token` makes the commit happen once: committing it
/// again, after a commit that succeeded, changes nothing.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PendingRun {
    /// Unique to this run record; claimed by the commit (`WriteTx::claim_once`).
    pub token: String,
    /// The job.
    pub job: String,
    /// The reserved run name (the key given to the command as `run:<name>@1`).
    pub run_name: String,
    /// The author of the commit, if one was set.
    pub author: Option<String>,
    /// How the run ended.
    pub status: RunStatus,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The run node's properties.
    pub props: Props,
    /// Its inputs, in the order declared.
    pub inputs: Vec<PendingInput>,
    /// The code revision.
    pub git: Option<GitInfo>,
    /// Its outputs, hashed (empty unless it succeeded).
    pub outputs: Vec<HashedOutput>,
    /// Declared outputs that were missing when it ended.
    pub missing_outputs: Vec<String>,
    /// The run node created when it started, if it was ([`RunRecorder::reserve`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved: Option<ReservedRun>,
}

/// An input of a [`PendingRun`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingInput {
    /// An existing node.
    Node {
        /// Its type.
        type_name: String,
        /// Its entity name.
        name: String,
        /// Its version.
        version: u64,
    },
    /// A node reference not resolved when it was declared (the recorder
    /// had no database), such as `dataset:tx@3`: resolved at commit.
    Reference {
        /// The reference as given.
        reference: String,
    },
    /// A file hashed when it was declared.
    File {
        /// The dataset name.
        name: String,
        /// The path as given.
        path: PathBuf,
        /// Its SHA-256, hex (of its manifest, for a directory).
        sha256: String,
        /// Its size in bytes (of all its files, for a directory).
        size: u64,
        /// For a directory, how many files it holds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        files: Option<u64>,
    },
}

/// An output file of a [`PendingRun`], hashed when the run ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HashedOutput {
    /// The node type, such as `model`.
    pub type_name: String,
    /// The entity name.
    pub name: String,
    /// The path as given.
    pub path: PathBuf,
    /// Its SHA-256, hex (of its manifest, for a directory).
    pub sha256: String,
    /// Its size in bytes (of all its files, for a directory).
    pub size: u64,
    /// For a directory, how many files it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
}

impl PendingRun {
    /// Commits the run as one snapshot, unless a transaction committed this
    /// record already (same token): then nothing is written and `None` is
    /// returned.
    pub fn commit(&self, db: &Database) -> Result<Option<RunOutcome>, RecorderError> {
        let mut tx = db.begin_write()?;
        if tx.claim_once(&format!("run:{}", self.token))?.is_some() {
            tx.rollback()?;
            return Ok(None);
        }
        if let Some(a) = &self.author {
            tx.author(a.clone());
        }
        tx.message(format!("run {}", self.job));
        // Every node and edge the run records is asserted once, on its snapshot.
        let asserted_by = format!("lineagedb run ({})", tx.author_name());
        tx.assert_created(asserted_by);

        let reserved = match &self.reserved {
            Some(reserved) => {
                let run: NodeKey = reserved.run.parse()?;
                tx.exists(&run.to_ref())?.then_some((run, reserved))
            }
            None => None,
        };
        let (run, inputs, code) = match reserved {
            // Created when it started: annotated with how it ended.
            Some((run, reserved)) => {
                let end: Props = self
                    .props
                    .iter()
                    .filter(|(k, _)| END_PROPS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                tx.set(&run.to_ref(), end)?;
                let inputs = reserved.inputs.iter().map(|k| k.parse()).collect::<Result<Vec<NodeKey>, _>>()?;
                let code = reserved.code.as_deref().map(str::parse).transpose()?;
                (run, inputs, code)
            }
            // Not reserved (or its node deleted meanwhile): the whole run now,
            // under the name picked at its start unless it was taken meanwhile.
            None => {
                let name = free_name(&self.run_name, |name| run_taken(&tx, name))?;
                let new =
                    NewNode { type_name: "run".into(), name, version: None, label: None, props: self.props.clone() };
                let run = tx.create(new)?.key().clone();
                let (inputs, code) = link_start(&mut tx, &run, &self.job, &self.inputs, self.git.as_ref())?;
                (run, inputs, code)
            }
        };
        let run_ref = run.to_ref();

        let mut created = Vec::new();
        for o in &self.outputs {
            let hashed = Hashed { sha256: o.sha256.clone(), size: o.size, files: o.files };
            let key = file_version(&mut tx, &o.type_name, &o.name, &o.path, &hashed, false)?;
            let edge = Props::from([("path".to_owned(), Value::String(o.path.display().to_string()))]);
            tx.link(&run_ref, &key.to_ref(), "output", edge)?;
            created.push(key);
        }

        let detail = serde_json::json!({
            "run": run.to_string(),
            "job": self.job,
            "status": self.status.as_str(),
            "exit_code": self.exit_code,
            "inputs": inputs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "outputs": created.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "code": code.as_ref().map(ToString::to_string),
        });
        tx.record_audit("run", vec![run.to_string()], detail)?;
        let snapshot = tx.commit()?;
        Ok(Some(RunOutcome {
            run,
            status: self.status,
            snapshot,
            inputs,
            outputs: created,
            code,
            missing_outputs: self.missing_outputs.clone(),
        }))
    }
}

/// The version of `type:name` for a file with this hash. An input reuses a
/// version labelled with the hash or carrying it as `sha256`; an output is
/// always a new version (it was just written), labelled with the hash unless
/// an earlier version already holds that label.
fn file_version(
    tx: &mut WriteTx,
    type_name: &str,
    name: &str,
    path: &Path,
    hashed: &Hashed,
    reuse: bool,
) -> Result<NodeKey, RecorderError> {
    let (sha256, size) = (hashed.sha256.as_str(), hashed.size);
    let by_label = NodeRef::new(type_name, name, VersionSel::Label(sha256.to_owned()))?;
    let labelled = tx.lookup(&by_label)?.map(|(key, _, _)| key);
    if reuse {
        if let Some(key) = labelled {
            return Ok(key);
        }
        let latest = NodeRef::new(type_name, name, VersionSel::Latest)?;
        if let Some((latest, _, _)) = tx.lookup(&latest)? {
            for version in (1..=latest.version).rev() {
                let Some((key, _, props)) = tx.lookup(&latest.entity().version(version).to_ref())? else { continue };
                if matches!(props.get("sha256"), Some(Value::String(s)) if s == sha256) {
                    return Ok(key);
                }
            }
        }
        // A file a run wrote, read under another name (its path): the same
        // content is that output version, so the lineage stays one chain.
        if let Some(key) = tx.content_versions(sha256)?.pop() {
            return Ok(key);
        }
    }
    let mut props = Props::new();
    props.insert("sha256".into(), Value::from(sha256));
    props.insert("size_bytes".into(), Value::Int(i64::try_from(size).unwrap_or(i64::MAX)));
    props.insert("path".into(), Value::String(path.display().to_string()));
    if let Some(files) = hashed.files {
        props.insert("kind".into(), Value::from("directory"));
        props.insert("files".into(), Value::Int(i64::try_from(files).unwrap_or(i64::MAX)));
    }
    let label = if labelled.is_none() { Some(sha256.to_owned()) } else { None };
    let new = NewNode { type_name: type_name.into(), name: name.into(), version: None, label, props };
    let key = tx.create(new)?.key().clone();
    if !reuse {
        tx.note_content(sha256, &key)?;
    }
    Ok(key)
}

/// What hashing a file or a directory found.
struct Hashed {
    sha256: String,
    size: u64,
    /// For a directory, how many files it holds.
    files: Option<u64>,
}

/// Hashes a file, or a directory as its manifest: one line per file below
/// it, `<sha256>  <size>  <path relative to it, with />`, in path order,
/// symbolic links followed; the manifest's SHA-256 is the directory's. The
/// same tree gives the same hash wherever it lies.
fn hash_path(path: &Path) -> Result<Hashed, RecorderError> {
    let io = |source| RecorderError::Io { path: path.to_owned(), source };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        let (sha256, size) = hash_file(path)?;
        return Ok(Hashed { sha256, size, files: None });
    }
    let mut files = Vec::new();
    collect_files(path, Path::new(""), &mut files)?;
    files.sort();
    let mut manifest = Sha256::new();
    let mut total = 0u64;
    for relative in &files {
        let (sha256, size) = hash_file(&path.join(relative))?;
        let shown: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        manifest.update(format!("{sha256}  {size}  {}\n", shown.join("/")).as_bytes());
        total += size;
    }
    Ok(Hashed { sha256: hex(&manifest.finalize()), size: total, files: Some(files.len() as u64) })
}

/// The files below `root/relative`, as paths relative to `root`.
fn collect_files(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<(), RecorderError> {
    let dir = root.join(relative);
    let io = |source| RecorderError::Io { path: dir.clone(), source };
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let child = relative.join(entry.file_name());
        let meta =
            std::fs::metadata(entry.path()).map_err(|source| RecorderError::Io { path: entry.path(), source })?;
        if meta.is_dir() {
            collect_files(root, &child, out)?;
        } else if meta.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

/// SHA-256 (hex) and size of a file, read in chunks.
fn hash_file(path: &Path) -> Result<(String, u64), RecorderError> {
    let io = |source| RecorderError::Io { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex(&hasher.finalize()), size))
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The command line as a shell would read it back.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
            if plain { a.clone() } else { format!("'{}'", a.replace('\'', "'\\''")) }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn hostname() -> Option<String> {
    let from_file = std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned());
    from_file.filter(|h| !h.is_empty()).or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty())).or_else(
        || {
            let out = Command::new("hostname").output().ok()?;
            let h = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            (out.status.success() && !h.is_empty()).then_some(h)
        },
    )
}

/// Runs `git` in `dir`; its trimmed output on success.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The git state of the working tree at `dir`, or `None` outside a repository.
fn git_info(dir: &Path, ignored: &[PathBuf]) -> Option<GitInfo> {
    let commit = git(dir, &["rev-parse", "--verify", "HEAD"])?;
    let branch = git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| !b.is_empty());
    let changed = git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let untracked = untracked_files(&top, ignored);
    let dirty = changed || !untracked.is_empty();
    let diff_sha256 = if dirty { working_tree_diff(&top, &untracked) } else { None };
    let remote =
        git(dir, &["config", "--get", "remote.origin.url"]).filter(|r| !r.is_empty()).map(|r| strip_credentials(&r));
    let repo = match &remote {
        Some(r) => r.clone(),
        None => top.file_name().map_or_else(|| top.display().to_string(), |n| n.to_string_lossy().into_owned()),
    };
    Some(GitInfo { repo, commit, branch, dirty, remote, diff_sha256, untracked })
}

/// The untracked, not ignored files of the repository at `top` (relative to
/// it), except those at or below one of `ignored`; at most [`MAX_UNTRACKED`].
fn untracked_files(top: &Path, ignored: &[PathBuf]) -> Vec<String> {
    let ignored: Vec<PathBuf> = ignored.iter().filter_map(|p| absolute(p)).collect();
    let listed = Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["ls-files", "--others", "--exclude-standard", "-z"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout)
        .unwrap_or_default();
    listed
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| {
            let full = absolute(&top.join(p)).unwrap_or_else(|| top.join(p));
            !ignored.iter().any(|i| full.starts_with(i))
        })
        .take(MAX_UNTRACKED)
        .collect()
}

/// `path` made absolute and, where it exists, free of symbolic links.
fn absolute(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok().or_else(|| std::env::current_dir().ok().map(|cwd| cwd.join(path)))
}

/// The hash of what differs from `HEAD` in the repository at `top`:
/// SHA-256 over the bytes of `git diff HEAD --binary`, then, for each of the
/// `untracked` files in order, its path, a NUL, its SHA-256 in hex and a
/// newline.
fn working_tree_diff(top: &Path, untracked: &[String]) -> Option<String> {
    let diff = Command::new("git").arg("-C").arg(top).args(["diff", "HEAD", "--binary"]).output().ok()?;
    if !diff.status.success() {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(&diff.stdout);
    for path in untracked {
        let sha = hash_file(&top.join(path)).map(|(sha, _)| sha).unwrap_or_else(|_| "unreadable".to_owned());
        hasher.update(format!("{path}\0{sha}\n").as_bytes());
    }
    Some(hex(&hasher.finalize()))
}

/// What the command ran with besides its code: the Python version when it
/// runs Python (`python...` as the program, or a `.py` argument), and the
/// SHA-256 of the dependency lock files in its working directory.
fn environment(argv: &[String], cwd: &Path) -> Option<Props> {
    let mut env = Props::new();
    let program =
        argv.first().map(|p| Path::new(p).file_name().map_or(p.clone(), |n| n.to_string_lossy().into_owned()));
    let python = match program.as_deref() {
        Some(p) if p.starts_with("python") => argv.first().cloned(),
        _ if argv.iter().any(|a| a.ends_with(".py")) => Some("python3".to_owned()),
        _ => None,
    };
    if let Some(python) = python {
        let version =
            Command::new(&python).arg("--version").current_dir(cwd).output().ok().filter(|o| o.status.success());
        if let Some(out) = version {
            // Python 2 printed its version on stderr.
            let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
            let text = String::from_utf8_lossy(&text).trim().trim_start_matches("Python ").to_owned();
            env.insert("python".into(), Value::String(text));
            // The installed packages, as `pip freeze` lists them.
            let freeze = Command::new(&python)
                .args(["-m", "pip", "freeze", "--all", "--disable-pip-version-check"])
                .current_dir(cwd)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success());
            if let Some(out) = freeze {
                let packages: Vec<Value> = String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .take(MAX_PACKAGES)
                    .map(Value::from)
                    .collect();
                env.insert("packages_sha256".into(), Value::String(hex(&Sha256::digest(&out.stdout))));
                env.insert("packages".into(), Value::List(packages));
            }
        }
    }
    let mut locks = Props::new();
    for name in LOCK_FILES {
        if let Ok((sha, _)) = hash_file(&cwd.join(name)) {
            locks.insert((*name).to_owned(), Value::String(sha));
        }
    }
    if !locks.is_empty() {
        env.insert("locks".into(), Value::Map(locks));
    }
    (!env.is_empty()).then_some(env)
}

/// Packages listed at most (`env.packages`; `env.packages_sha256` covers them all).
const MAX_PACKAGES: usize = 2000;

/// Dependency lock and requirement files recorded by hash when the command's
/// working directory holds them.
const LOCK_FILES: &[&str] = &[
    "requirements.txt",
    "requirements.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pdm.lock",
    "environment.yml",
    "conda-lock.yml",
    "package-lock.json",
    "Cargo.lock",
];

/// `https://user:token@host/x.git` -> `https://host/x.git`.
fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if !userinfo.contains('/') {
                return format!("{scheme}://{host}");
            }
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped_from_remotes() {
        assert_eq!(strip_credentials("https://ana:s3cret@git.example/x.git"), "https://git.example/x.git");
        assert_eq!(strip_credentials("git@git.example:acme/x.git"), "git@git.example:acme/x.git");
        assert_eq!(strip_credentials("https://git.example/a@b"), "https://git.example/a@b");
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let argv: Vec<String> = ["python", "train.py", "--lr=0.1", "two words", "it's"].map(String::from).to_vec();
        assert_eq!(shell_words(&argv), r#"python train.py --lr=0.1 'two words' 'it'\''s'"#);
    }
}
