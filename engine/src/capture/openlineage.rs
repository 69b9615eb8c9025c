//! Import of OpenLineage RunEvents (`lineagedb import --format openlineage`):
//! JSON Lines as the `openlineage-python` FileTransport writes them with
//! `append=True`, or one event per file. One import is one transaction and
//! one snapshot; errors are `FILE:LINE: reason` and commit nothing unless
//! `skip_invalid`. With `skip_invalid` a run that cannot be applied is
//! rejected whole and leaves nothing: if something of it was already written
//! (its node, its job, an edge), the import is applied again without it.
//!
//! Mapping: a dataset `(namespace, name)` is `dataset:"<namespace>/<name>"`
//! (`model:` when its `datasetType` facet says `MODEL`), a job is
//! `job:"<namespace>/<name>"`, a run is `run:<runId>` with the edges
//! `job -> run` (`job`), `input -> run` (`input`), `run -> output`
//! (`output`), `parent run -> run` (`parent`) and `code -> run` (`code`).
//!
//! Node content is immutable, so events are collected first and applied at
//! [`OpenLineageImporter::commit`]: the events of one run (in any order, even
//! across files) are sorted by time and merged into one run node, created
//! once. A run already in the database with the same merged content is left
//! alone, so re-importing changes nothing; when later imports bring new events
//! of a known run, the run gets a new version holding the merged state of all
//! its events, linked to everything its previous version was linked to.
//! Datasets are applied in event-time order across runs: a COMPLETE run
//! creates a version of each output (with `produced_by` and `produced_at`),
//! an input binds to the version its `version` facet names (the node's
//! external label) or else to the latest version produced at or before the
//! event, and FAIL or ABORT runs create no output version. A run never reads
//! its own output: a job that reads and writes one table (an incremental
//! model, a MERGE INTO) reads the version before the one it writes, even when
//! its only event is a COMPLETE. An `eventTime` without an offset (what Python
//! clients write from a naive `datetime`) is taken as UTC, and the run says so
//! (`time_assumed_utc`).
//!
//! Static lineage (OpenLineage 2): a `DatasetEvent`'s facets annotate its
//! dataset (`declared_facets`, `facets_declared_at`) on the version its
//! `version` facet names, else the latest (a new version only when the named
//! one is not recorded, a stand-in when there is none); a `JobEvent` gives
//! its job a version carrying its facets
//! (likewise) and links the datasets it declares, `input -> job`
//! (`declares_input`) and `job -> output` (`declares_output`), to their latest
//! versions (a stand-in version 1 when there is none; a dataset declared both
//! ways keeps only its `declares_input` edge). They are applied before the
//! runs of the same import, so a job's runs link to the version with its
//! facets; `VIA input, output` walks run lineage only.
//!
//! A run recorded by an earlier import that read a stand-in version (made
//! because no producer of what it read was known) is bound again when a later
//! import brings a version produced at or before the run started: its input
//! edge moves to that version (the old edge stays as a tombstone for `AS OF`).
//!
//! The `symlinks` facet gives a dataset other names (the Hive table a Spark
//! job writes by its path): each becomes an alias of the dataset's name,
//! recorded in `meta` (`name_alias:dataset:<namespace>/<name>`), and a
//! dataset named by an alias, in this import or a later one, is the dataset
//! it stands for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::capture::{code_version, ensure_entity};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::import::{ImportError, ImportReport, Rejected};
use crate::key::{EntityKey, NodeKey, NodeRef, VersionSel};
use crate::value::{Props, Timestamp, Value};
use crate::write::{Created, NewNode, WriteTx, same_content};

/// Recorded as `asserted_by`, with the author: `openlineage import (ana)`.
const IMPORTER: &str = "openlineage import";

/// Dataset facets that map to their own property or edge property.
const MAPPED_DATASET_FACETS: &[&str] = &["schema", "dataSource", "version", "datasetType", "columnLineage"];

/// How to import OpenLineage events.
#[derive(Clone, Debug, Default)]
pub struct OpenLineageOptions {
    /// Commit the valid events and report the rejected ones instead of failing.
    pub skip_invalid: bool,
    /// Commit author (default: the database's).
    pub author: Option<String>,
    /// Commit message (default: `openlineage import`).
    pub message: Option<String>,
}

/// A run state transition, ordered as a run goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum EventType {
    Start,
    Running,
    Other,
    Complete,
    Fail,
    Abort,
}

impl EventType {
    fn parse(text: &str) -> Option<EventType> {
        Some(match text {
            "START" => EventType::Start,
            "RUNNING" => EventType::Running,
            "OTHER" => EventType::Other,
            "COMPLETE" => EventType::Complete,
            "FAIL" => EventType::Fail,
            "ABORT" => EventType::Abort,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Running => "RUNNING",
            EventType::Other => "OTHER",
            EventType::Complete => "COMPLETE",
            EventType::Fail => "FAIL",
            EventType::Abort => "ABORT",
        }
    }

    /// Progress of the run: `None` for OTHER, which carries metadata only.
    fn progress(self) -> Option<u8> {
        match self {
            EventType::Start => Some(0),
            EventType::Running => Some(1),
            EventType::Other => None,
            EventType::Complete | EventType::Fail | EventType::Abort => Some(2),
        }
    }

    fn status(self) -> &'static str {
        match self {
            EventType::Start | EventType::Running => "running",
            EventType::Complete => "succeeded",
            EventType::Fail => "failed",
            EventType::Abort => "aborted",
            EventType::Other => "unknown",
        }
    }
}

/// One dataset as an event names it.
#[derive(Clone, Debug)]
struct Dataset {
    namespace: String,
    name: String,
    facets: Map<String, Json>,
    io_facets: Map<String, Json>,
}

impl Dataset {
    /// `<namespace>/<name>`: the entity name.
    fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The `version` facet's `datasetVersion`.
    fn version_label(&self) -> Option<String> {
        let v = self.facets.get("version")?.get("datasetVersion")?;
        match v {
            Json::String(s) if !s.is_empty() => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn says_model(&self) -> bool {
        self.facets
            .get("datasetType")
            .and_then(|f| f.get("datasetType"))
            .and_then(Json::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("model"))
    }
}

/// One parsed RunEvent.
#[derive(Clone, Debug)]
struct Event {
    /// Index into `OpenLineageImporter::sources`.
    source: usize,
    kind: EventType,
    time: Timestamp,
    /// The `eventTime` had no offset (`2021-11-03T10:53:52.427343`, as Python
    /// clients write naive datetimes): it was taken as UTC.
    naive_time: bool,
    run_id: String,
    job: String,
    producer: Option<String>,
    run_facets: Map<String, Json>,
    job_facets: Map<String, Json>,
    inputs: Vec<Dataset>,
    outputs: Vec<Dataset>,
}

/// Where an event came from, for errors and rejects.
#[derive(Clone, Debug)]
struct Source {
    file: String,
    line: u64,
    text: String,
}

/// A failure while applying events: the event it is charged to and why.
struct Failure {
    event: usize,
    /// For a static event, its index into `sources` (`event` is unused then).
    source: Option<usize>,
    reason: String,
    /// A storage failure ends the import even with `skip_invalid`.
    fatal: bool,
}

impl Failure {
    fn engine(event: usize, e: Error) -> Failure {
        let fatal = matches!(e, Error::Storage(_) | Error::Corrupt { .. } | Error::Io { .. } | Error::Aborted { .. });
        Failure { event, source: None, reason: e.to_string(), fatal }
    }
}

type Applied<T> = std::result::Result<T, Failure>;

/// A dataset declared by the runs of this import: its type and the latest
/// declaration seen (for facets), by entity name.
#[derive(Default)]
struct DatasetTypes {
    models: HashSet<String>,
    decided: HashMap<String, &'static str>,
}

/// One run of the import after merging.
struct RunPlan {
    run_id: String,
    /// This import's events of the run, sorted by time.
    events: Vec<usize>,
    key: Option<NodeKey>,
    previous: Option<NodeKey>,
    props: Props,
    changed: bool,
}

/// A dataset step of the timeline: an output version to create or an input to bind.
struct Step {
    time: Timestamp,
    /// When the step sorts: `time`, except for an output at the very instant
    /// its own run read its inputs (a run with one COMPLETE event), which
    /// sorts a microsecond later so that the run reads the version before
    /// the one it writes (a job reading and writing one table).
    sort_time: Timestamp,
    /// 0: output (created before inputs that read it at the same instant), 1: input.
    kind: u8,
    run: usize,
    order: usize,
    dataset: Dataset,
    event: usize,
}

/// An OpenLineage import in progress: one write transaction fed from one or
/// more files, applied at `commit`.
pub struct OpenLineageImporter {
    db: Database,
    tx: WriteTx,
    options: OpenLineageOptions,
    report: ImportReport,
    sources: Vec<Source>,
    events: Vec<Event>,
    runs_created: Vec<String>,
    runs_unchanged: u64,
    /// Runs rejected after something of theirs was written, in an earlier
    /// pass: later passes leave them out (see `commit`).
    excluded: HashSet<String>,
    /// The rejected lines of the excluded runs.
    excluded_rejects: Vec<Rejected>,
    /// Runs of this pass rejected after something of theirs was written.
    late: Vec<(String, Vec<Rejected>)>,
    /// DatasetEvents and JobEvents (static lineage), applied before the runs.
    statics: Vec<StaticEvent>,
    /// Input edges moved off a stand-in in this pass: (stand-in, run) -> the version now read.
    rebound: HashMap<(NodeKey, NodeKey), NodeKey>,
}

/// An OpenLineage 2 static lineage event: no run, a dataset's metadata or a
/// job's declared inputs and outputs.
#[derive(Clone, Debug)]
struct StaticEvent {
    /// Index into `OpenLineageImporter::sources`.
    source: usize,
    time: Timestamp,
    producer: Option<String>,
    what: Static,
}

#[derive(Clone, Debug)]
enum Static {
    /// A DatasetEvent: the dataset's facets.
    Dataset(Dataset),
    /// A JobEvent: the job, its facets and the datasets it declares.
    Job { job: String, facets: Map<String, Json>, inputs: Vec<Dataset>, outputs: Vec<Dataset> },
}

/// A line read: a RunEvent, or a static lineage event.
enum Parsed {
    Run(Event),
    Static(StaticEvent),
}

/// The name a static event's rejection is excluded under (see `commit`).
fn static_id(source: usize) -> String {
    format!("static event {source}")
}

impl std::fmt::Debug for OpenLineageImporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenLineageImporter").field("events", &self.events.len()).field("report", &self.report).finish()
    }
}

impl OpenLineageImporter {
    /// Starts the import's transaction.
    pub fn new(db: &Database, options: OpenLineageOptions) -> Result<OpenLineageImporter> {
        let mut tx = db.begin_write()?;
        if let Some(a) = &options.author {
            tx.author(a.clone());
        }
        tx.message(options.message.clone().unwrap_or_else(|| IMPORTER.to_owned()));
        tx.keep_going_on_error(options.skip_invalid);
        // Every node and edge of the import is asserted once, on its snapshot.
        let asserted_by = format!("{IMPORTER} ({})", tx.author_name());
        tx.assert_created(asserted_by);
        Ok(OpenLineageImporter {
            db: db.clone(),
            tx,
            options,
            report: ImportReport::default(),
            sources: Vec::new(),
            events: Vec::new(),
            runs_created: Vec::new(),
            runs_unchanged: 0,
            excluded: HashSet::new(),
            excluded_rejects: Vec::new(),
            late: Vec::new(),
            statics: Vec::new(),
            rebound: HashMap::new(),
        })
    }

    /// Reads JSON Lines, one RunEvent per line. `progress(bytes)` is called
    /// as lines are consumed. Fails at the first bad line unless `skip_invalid`.
    pub fn read(
        &mut self,
        file: &str,
        reader: impl BufRead,
        progress: &mut dyn FnMut(u64),
    ) -> std::result::Result<(), ImportError> {
        crate::import::for_each_line(file, reader, progress, |line_no, text| self.add(file, line_no, text.to_owned()))
    }

    /// Reads one event that fills a whole file (possibly pretty-printed over
    /// many lines); `line` is where it starts, normally 1.
    pub fn read_event(&mut self, file: &str, line: u64, json: &str) -> std::result::Result<(), ImportError> {
        let text = match serde_json::from_str::<Json>(json) {
            // Rejects get the event on one line.
            Ok(value) => value.to_string(),
            Err(_) => json.to_owned(),
        };
        self.add(file, line, text)
    }

    /// Reads a file or a directory: a directory contributes each of its
    /// `.json` and `.jsonl` files in name order; a file holding exactly one
    /// JSON value is one event, anything else is read as JSON Lines.
    pub fn read_path(&mut self, path: &Path, progress: &mut dyn FnMut(u64)) -> std::result::Result<(), ImportError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| ImportError { file: shown.clone(), line: 0, reason: e.to_string() };
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "jsonl"))
                .collect();
            files.sort();
            for file in files {
                self.read_path(&file, progress)?;
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        if serde_json::from_str::<Json>(&text).is_ok() {
            progress(text.len() as u64);
            self.read_event(&shown, 1, &text)
        } else {
            self.read(&shown, text.as_bytes(), progress)
        }
    }

    fn add(&mut self, file: &str, line: u64, text: String) -> std::result::Result<(), ImportError> {
        self.report.records += 1;
        // A DatasetEvent or JobEvent, else a RunEvent (whose parser reports what is wrong).
        let parsed = match parse_static_event(&text) {
            Some(parsed) => parsed.map(Parsed::Static),
            None => parse_event(&text).map(Parsed::Run),
        };
        match parsed {
            Ok(event) => {
                let source = self.sources.len();
                self.sources.push(Source { file: file.into(), line, text });
                match event {
                    Parsed::Run(event) => self.events.push(Event { source, ..event }),
                    Parsed::Static(event) => self.statics.push(StaticEvent { source, ..event }),
                }
                Ok(())
            }
            Err(reason) if self.options.skip_invalid => {
                self.report.rejected.push(Rejected { file: file.into(), line, text, reason });
                Ok(())
            }
            Err(reason) => Err(ImportError { file: file.into(), line, reason }),
        }
    }

    /// Applies every event read and commits the import as one snapshot,
    /// with an `openlineage_import` audit entry. Nothing is committed when
    /// nothing changed.
    ///
    /// With `skip_invalid`, a run rejected after something of it was written
    /// (its node, a job, an edge) must leave nothing: the pass is rolled back
    /// and the import applied again without that run, as many times as such
    /// rejections occur (each pass excludes at least one more run).
    pub fn commit(mut self) -> std::result::Result<ImportReport, ImportError> {
        let fail = |e: Error| ImportError { file: String::new(), line: 0, reason: e.to_string() };
        let base = self.report.clone();
        loop {
            if let Err(f) = self.apply() {
                return Err(match f.source.and_then(|i| self.sources.get(i)) {
                    Some(s) => ImportError { file: s.file.clone(), line: s.line, reason: f.reason },
                    None => self.error_at(f.event, f.reason),
                });
            }
            if self.late.is_empty() {
                break;
            }
            self = self.restart(&base).map_err(fail)?;
        }
        if self.tx.changes() > 0 {
            let detail = serde_json::json!({
                "events": self.report.records,
                "runs_created": self.runs_created.len(),
                "runs_unchanged": self.runs_unchanged,
                "nodes_created": self.report.nodes_created,
                "edges_created": self.report.edges_created,
                "rejected": self.report.rejected.len(),
            });
            let subjects = std::mem::take(&mut self.runs_created);
            self.tx.record_audit("openlineage_import", subjects, detail).map_err(fail)?;
            self.report.snapshot = Some(self.tx.commit().map_err(fail)?);
        } else {
            self.tx.rollback().map_err(fail)?;
        }
        Ok(self.report)
    }

    /// Rolls the pass back and starts a new transaction that leaves out the
    /// runs rejected late in this pass (and in earlier ones).
    fn restart(mut self, base: &ImportReport) -> Result<OpenLineageImporter> {
        for (run_id, rejects) in std::mem::take(&mut self.late) {
            self.excluded.insert(run_id);
            self.excluded_rejects.extend(rejects);
        }
        let OpenLineageImporter { db, tx, options, sources, events, statics, excluded, excluded_rejects, .. } = self;
        tx.rollback()?;
        let mut fresh = OpenLineageImporter::new(&db, options)?;
        fresh.report = base.clone();
        fresh.report.rejected.extend(excluded_rejects.iter().cloned());
        fresh.sources = sources;
        fresh.events = events;
        fresh.statics = statics;
        fresh.excluded = excluded;
        fresh.excluded_rejects = excluded_rejects;
        Ok(fresh)
    }

    fn error_at(&self, event: usize, reason: String) -> ImportError {
        match self.events.get(event).and_then(|e| self.sources.get(e.source)) {
            Some(s) => ImportError { file: s.file.clone(), line: s.line, reason },
            None => ImportError { file: String::new(), line: 0, reason },
        }
    }

    fn apply(&mut self) -> Applied<()> {
        self.resolve_symlinks().map_err(|e| Failure::engine(0, e))?;
        let mut types = DatasetTypes::default();
        for e in &self.events {
            for d in e.inputs.iter().chain(&e.outputs) {
                if d.says_model() {
                    types.models.insert(d.id());
                }
            }
        }
        // Phase 0: static lineage, in event-time order, before the runs, so
        // that a job's declared facets are on the version its runs link to.
        let mut statics: Vec<StaticEvent> =
            self.statics.iter().filter(|e| !self.excluded.contains(&static_id(e.source))).cloned().collect();
        statics.sort_by_key(|e| (e.time, e.source));
        for event in &statics {
            if let Err(reason) = self.apply_static(event, &mut types) {
                let f = Failure { source: Some(event.source), ..Failure::engine(0, reason) };
                if !self.options.skip_invalid || f.fatal {
                    return Err(f);
                }
                let s = &self.sources[event.source];
                let reject =
                    Rejected { file: s.file.clone(), line: s.line, text: s.text.clone(), reason: f.reason.clone() };
                self.report.rejected.push(reject.clone());
                // It may have written part of itself: the pass is applied again without it.
                self.late.push((static_id(event.source), vec![reject]));
            }
        }
        // Group by run, each run's events by time, runs by their first event.
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, e) in self.events.iter().enumerate() {
            if !self.excluded.contains(&e.run_id) {
                groups.entry(e.run_id.as_str()).or_default().push(i);
            }
        }
        let mut plans: Vec<RunPlan> = groups
            .into_iter()
            .map(|(run_id, mut events)| {
                events.sort_by_key(|&i| (self.events[i].time, self.events[i].kind, i));
                RunPlan {
                    run_id: run_id.to_owned(),
                    events,
                    key: None,
                    previous: None,
                    props: Props::new(),
                    changed: false,
                }
            })
            .collect();
        plans.sort_by_key(|p| (self.events[p.events[0]].time, p.events[0]));

        let mut rejected: HashSet<usize> = HashSet::new();
        // Phase 1: every run node with its merged content.
        for (index, plan) in plans.iter_mut().enumerate() {
            if let Err(f) = self.plan_run(plan, &mut types) {
                // plan_run writes last (the run node): a failure wrote nothing.
                self.reject_run(plan, f, index, &mut rejected, false)?;
            }
        }
        // Phase 2: job, parent and code edges, and the edges of a previous version.
        for (index, plan) in plans.iter().enumerate() {
            if plan.changed && !rejected.contains(&index) {
                if let Err(f) = self.link_run(plan) {
                    self.reject_run(plan, f, index, &mut rejected, true)?;
                }
            }
        }
        // Phase 3: datasets, in event-time order across runs.
        let mut steps = Vec::new();
        let mut linked: Vec<HashSet<(EntityKey, bool)>> = vec![HashSet::new(); plans.len()];
        for (index, plan) in plans.iter().enumerate() {
            if !plan.changed || rejected.contains(&index) {
                continue;
            }
            match self.linked_entities(plan) {
                Ok(l) => linked[index] = l,
                Err(f) => {
                    self.reject_run(plan, f, index, &mut rejected, true)?;
                    continue;
                }
            }
            self.dataset_steps(index, plan, &mut steps);
        }
        steps.sort_by_key(|s| (s.sort_time, s.kind, s.run, s.order));
        for step in steps {
            if rejected.contains(&step.run) {
                continue;
            }
            let plan = &plans[step.run];
            if let Err(f) = self.apply_step(plan, &step, &mut linked[step.run], &mut types) {
                self.reject_run(plan, f, step.run, &mut rejected, true)?;
            }
        }
        Ok(())
    }

    /// Another name of a dataset (an identifier of its `symlinks` facet,
    /// such as the Hive table a Spark job writes by its path) is recorded as
    /// an alias of the dataset's name, in this import and for later ones, and
    /// every dataset named by an alias is taken as the dataset it stands for.
    /// First seen wins: a name that is already an entity of its own, or an
    /// alias of another, is not made an alias again.
    fn resolve_symlinks(&mut self) -> Result<()> {
        let mut events = std::mem::take(&mut self.events);
        let mut statics = std::mem::take(&mut self.statics);
        let outcome = (|| {
            let mut datasets: Vec<&mut Dataset> = Vec::new();
            for e in &mut events {
                datasets.extend(e.inputs.iter_mut().chain(e.outputs.iter_mut()));
            }
            for e in &mut statics {
                match &mut e.what {
                    Static::Dataset(d) => datasets.push(d),
                    Static::Job { inputs, outputs, .. } => datasets.extend(inputs.iter_mut().chain(outputs.iter_mut())),
                }
            }
            // Each alias once per pass, and the cheap check first: every event
            // of a Spark job repeats its symlinks.
            let mut seen = HashSet::new();
            for d in &datasets {
                for (namespace, name) in symlinks(d) {
                    let alias = format!("{namespace}/{name}");
                    if alias == d.id()
                        || !seen.insert(alias.clone())
                        || self.tx.name_alias("dataset", &alias)?.is_some()
                    {
                        continue;
                    }
                    if self.tx.name_alias("dataset", &d.id())?.is_some() || self.is_produced(&alias)? {
                        continue;
                    }
                    let target = format!("{}\u{1f}{}", d.namespace, d.name);
                    if self.tx.add_name_alias("dataset", &alias, &target)? == target {
                        // Stand-ins made under the alias before it was known (a
                        // JobEvent or a reader that came first) fold into the dataset.
                        self.fold_stand_ins(&alias, d)?;
                    }
                }
            }
            let mut targets: HashMap<String, Option<String>> = HashMap::new();
            for d in datasets {
                let id = d.id();
                let target = match targets.get(&id) {
                    Some(found) => found.clone(),
                    None => {
                        let found = self.tx.name_alias("dataset", &id)?;
                        targets.insert(id, found.clone());
                        found
                    }
                };
                if let Some((namespace, name)) = target.as_deref().and_then(|t| t.split_once('\u{1f}')) {
                    d.namespace = namespace.to_owned();
                    d.name = name.to_owned();
                }
            }
            Ok(())
        })();
        self.events = events;
        self.statics = statics;
        outcome
    }

    /// The entity a dataset is a version of: `dataset:"<namespace>/<name>"`
    /// (`model:` when its type says so); what LineageDB exported under
    /// namespace `lineagedb` as `<type>:<name>` comes back as that key.
    fn entity_of(&self, d: &Dataset, types: &mut DatasetTypes) -> Result<EntityKey> {
        if d.namespace == LINEAGEDB {
            if let Some((type_name, name)) = d.name.split_once(':') {
                if crate::key::check_type(type_name).is_ok() && !name.is_empty() {
                    return Ok(EntityKey::new(type_name, name)?);
                }
            }
        }
        Ok(EntityKey::new(self.dataset_type(&d.id(), types)?, &d.id())?)
    }

    /// Whether some run produced a version of `dataset:<name>` or `model:<name>`:
    /// an entity of its own, which a symlink does not make an alias.
    fn is_produced(&self, name: &str) -> Result<bool> {
        let read = self.db.begin_read()?;
        for type_name in ["dataset", "model"] {
            let versions = read.versions(&EntityKey::new(type_name, name)?).unwrap_or_default();
            if versions.iter().any(|v| v.props.contains_key("produced_by")) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Moves the edges of the stand-in versions recorded under `alias` to the
    /// latest version of `d` (a stand-in of it when it has none), and deletes
    /// them: what was declared or read under the other name is the dataset's.
    fn fold_stand_ins(&mut self, alias: &str, d: &Dataset) -> Result<()> {
        let read = self.db.begin_read()?;
        for type_name in ["dataset", "model"] {
            let versions = read.versions(&EntityKey::new(type_name, alias)?).unwrap_or_default();
            for version in versions {
                let entity = EntityKey::new(type_name, &d.id())?;
                let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest)?;
                let canonical = match self.tx.lookup(&latest)? {
                    Some((key, _, _)) => key,
                    None => self.create_dataset(&entity, d.version_label(), dataset_props(d))?,
                };
                let detail = read.node_detail(&version.key.to_ref())?;
                for edge in &detail.outgoing {
                    self.link(&canonical.to_ref(), &edge.to.to_ref(), &edge.label, edge.props.clone())?;
                    self.tx.unlink(&version.key.to_ref(), &edge.to.to_ref(), Some(&edge.label))?;
                }
                for edge in &detail.incoming {
                    self.link(&edge.from.to_ref(), &canonical.to_ref(), &edge.label, edge.props.clone())?;
                    self.tx.unlink(&edge.from.to_ref(), &version.key.to_ref(), Some(&edge.label))?;
                }
                self.tx.delete(&version.key.to_ref(), true)?;
            }
        }
        Ok(())
    }

    /// A DatasetEvent annotates the dataset with its facets (see the module
    /// documentation); a JobEvent gives the job a
    /// version with its facets (likewise) and links what it declares:
    /// `input -> job` (`declares_input`) and `job -> output`
    /// (`declares_output`), to each dataset's latest version (a stand-in
    /// version 1 when there is none). Static lineage is kept apart from run
    /// lineage by these labels: `VIA input, output` walks runs only.
    fn apply_static(&mut self, event: &StaticEvent, types: &mut DatasetTypes) -> Result<()> {
        let declared = |props: &mut Props| {
            props.insert("declared_at".into(), Value::Timestamp(event.time));
            if let Some(p) = &event.producer {
                props.insert("declared_by".into(), Value::from(p.as_str()));
            }
        };
        match &event.what {
            Static::Dataset(d) => {
                let entity = self.entity_of(d, types)?;
                // A version facet naming a version not recorded yet makes it;
                // otherwise the facets annotate the version named, or the latest.
                let label = d.version_label();
                let named = match &label {
                    Some(l) => {
                        self.tx.lookup(&NodeRef::new(&entity.type_name, &entity.name, VersionSel::Label(l.clone()))?)?
                    }
                    None => None,
                };
                let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest)?;
                let target = match (named, &label) {
                    (Some((key, _, props)), _) => Some((key, props)),
                    (None, Some(_)) => None,
                    (None, None) => self.tx.lookup(&latest)?.map(|(key, _, props)| (key, props)),
                };
                let (key, current) = match target {
                    Some(found) => found,
                    None => {
                        let mut props = dataset_props(d);
                        declared(&mut props);
                        let key = self.create_dataset(&entity, label, props)?;
                        let current = self.tx.lookup(&key.to_ref())?.map(|(_, _, p)| p).unwrap_or_default();
                        (key, current)
                    }
                };
                let facets = Value::Map(d.facets.iter().map(|(k, v)| (k.clone(), facet_value(v))).collect());
                // Applied already (a re-import of this event, on any version), or said already.
                let when = Value::Timestamp(event.time);
                let known = self.db.begin_read()?.versions(&entity).unwrap_or_default();
                let applied = known.iter().any(|v| {
                    v.props.get("facets_declared_at") == Some(&when) && v.props.get("declared_facets") == Some(&facets)
                });
                if applied || current.get("declared_facets") == Some(&facets) {
                    self.report.nodes_unchanged += 1;
                    return Ok(());
                }
                // Annotations, which later DatasetEvents replace; never content keys.
                let annotations = Props::from([
                    ("declared_facets".to_owned(), facets),
                    ("facets_declared_at".to_owned(), Value::Timestamp(event.time)),
                ]);
                self.tx.set(&key.to_ref(), annotations)?;
            }
            Static::Job { job, facets, inputs, outputs } => {
                let mut props = facet_props(facets);
                let entity = EntityKey::new("job", job)?;
                let latest = NodeRef::new("job", job, VersionSel::Latest)?;
                let job_key = match self.tx.lookup(&latest)? {
                    Some((key, _, current)) if props.iter().all(|(k, v)| current.get(k) == Some(v)) => {
                        self.report.nodes_unchanged += 1;
                        key
                    }
                    _ => {
                        declared(&mut props);
                        let new = NewNode {
                            type_name: "job".into(),
                            name: entity.name.clone(),
                            version: None,
                            label: None,
                            props,
                        };
                        match self.tx.create(new)? {
                            Created::New(key) => {
                                self.report.nodes_created += 1;
                                key
                            }
                            Created::Existing(key) => key,
                        }
                    }
                };
                // What the job declares already (an earlier import of this
                // event): an entity it names once per direction.
                let committed = self.db.begin_read()?;
                let existing = committed.node_detail(&job_key.to_ref()).ok();
                let declares = |label: &str, entity: &EntityKey| {
                    existing.as_ref().is_some_and(|d| {
                        d.incoming.iter().chain(&d.outgoing).any(|e| {
                            let other = if e.to == job_key { &e.from } else { &e.to };
                            e.label == label && other.entity() == *entity
                        })
                    })
                };
                let mut read = Vec::new();
                for d in inputs {
                    let entity = self.entity_of(d, types)?;
                    if declares("declares_input", &entity) {
                        continue;
                    }
                    let key = self.static_version(&entity, d)?;
                    self.link(&key.to_ref(), &job_key.to_ref(), "declares_input", facet_props(&d.io_facets))?;
                    read.push(key);
                }
                for d in outputs {
                    let entity = self.entity_of(d, types)?;
                    if declares("declares_output", &entity) {
                        continue;
                    }
                    let key = self.static_version(&entity, d)?;
                    // A job that declares one table in and out: the input edge says it.
                    if read.contains(&key) {
                        continue;
                    }
                    self.link(&job_key.to_ref(), &key.to_ref(), "declares_output", facet_props(&d.io_facets))?;
                }
            }
        }
        Ok(())
    }

    /// The version static lineage points at: the latest, else a stand-in version 1.
    fn static_version(&mut self, entity: &EntityKey, d: &Dataset) -> Result<NodeKey> {
        let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest)?;
        match self.tx.lookup(&latest)? {
            Some((key, _, _)) => Ok(key),
            None => self.create_dataset(entity, d.version_label(), dataset_props(d)),
        }
    }

    /// With `skip_invalid`, a run that cannot be applied is rejected whole;
    /// otherwise its failure ends the import. `late`: something of the run was
    /// written already, so the pass must be applied again without it.
    fn reject_run(
        &mut self,
        plan: &RunPlan,
        f: Failure,
        index: usize,
        rejected: &mut HashSet<usize>,
        late: bool,
    ) -> Applied<()> {
        if !self.options.skip_invalid || f.fatal {
            return Err(f);
        }
        rejected.insert(index);
        let mut rejects = Vec::with_capacity(plan.events.len());
        for &i in &plan.events {
            let s = &self.sources[self.events[i].source];
            rejects.push(Rejected {
                file: s.file.clone(),
                line: s.line,
                text: s.text.clone(),
                reason: format!("run {}: {}", plan.run_id, f.reason),
            });
        }
        self.report.rejected.extend(rejects.iter().cloned());
        if late {
            self.late.push((plan.run_id.clone(), rejects));
        }
        Ok(())
    }

    fn plan_run(&mut self, plan: &mut RunPlan, types: &mut DatasetTypes) -> Applied<()> {
        let first = plan.events[0];
        let at = |e: Error| Failure::engine(first, e);
        let run_ref = NodeRef::new("run", &plan.run_id, VersionSel::Latest).map_err(|e| at(e.into()))?;
        let existing = self.tx.lookup(&run_ref).map_err(at)?;
        let mut decls = HashMap::new();
        for &i in &plan.events {
            for d in self.events[i].inputs.iter().chain(&self.events[i].outputs) {
                if let std::collections::hash_map::Entry::Vacant(slot) = decls.entry(d.id()) {
                    slot.insert(self.dataset_type(&d.id(), types).map_err(at)?);
                }
            }
        }
        let events: Vec<&Event> = plan.events.iter().map(|&i| &self.events[i]).collect();
        let props = merge_run(&plan.run_id, existing.as_ref().map(|(_, _, p)| p), &events, &decls)?;
        if let Some((key, _, old)) = &existing {
            if same_content(old, &props) {
                plan.key = Some(key.clone());
                self.runs_unchanged += 1;
                self.report.nodes_unchanged += 1;
                return Ok(());
            }
            plan.previous = Some(key.clone());
        }
        let new = NewNode {
            type_name: "run".into(),
            name: plan.run_id.clone(),
            version: None,
            label: None,
            props: props.clone(),
        };
        let key = self.tx.create(new).map_err(at)?.key().clone();
        self.report.nodes_created += 1;
        self.runs_created.push(key.to_string());
        plan.key = Some(key);
        plan.props = props;
        plan.changed = true;
        Ok(())
    }

    /// `model` for a dataset any event of the import says is a model, or
    /// that the database knows only as a model; `dataset` otherwise.
    fn dataset_type(&self, id: &str, types: &mut DatasetTypes) -> Result<&'static str> {
        if let Some(t) = types.decided.get(id) {
            return Ok(t);
        }
        let t = if types.models.contains(id) {
            "model"
        } else {
            let as_model = self.tx.exists(&NodeRef::new("model", id, VersionSel::Latest)?)?;
            let as_dataset = self.tx.exists(&NodeRef::new("dataset", id, VersionSel::Latest)?)?;
            if as_model && !as_dataset { "model" } else { "dataset" }
        };
        types.decided.insert(id.to_owned(), t);
        Ok(t)
    }

    fn link(&mut self, from: &NodeRef, to: &NodeRef, label: &str, props: Props) -> Result<()> {
        if self.tx.link_idempotent(from, to, label, props)? {
            self.report.edges_created += 1;
        } else {
            self.report.edges_unchanged += 1;
        }
        Ok(())
    }

    fn link_run(&mut self, plan: &RunPlan) -> Applied<()> {
        let first = plan.events[0];
        let at = |e: Error| Failure::engine(first, e);
        let Some(run) = plan.key.clone() else { return Ok(()) };
        let run_ref = run.to_ref();
        // The job.
        let job = string_prop(&plan.props, "job").unwrap_or_default();
        let (namespace, name) = job.split_once('/').unwrap_or(("", job.as_str()));
        let mut job_props =
            Props::from([("namespace".to_owned(), Value::from(namespace)), ("name".to_owned(), Value::from(name))]);
        // A new job node carries the job facets its runs report (documentation,
        // jobType, ownership, ...): `facets.jobType.integration` and the like.
        let job_facets: Props = plan
            .events
            .iter()
            .flat_map(|&i| &self.events[i].job_facets)
            .map(|(k, v)| (k.clone(), facet_value(v)))
            .collect();
        if !job_facets.is_empty() {
            job_props.insert("facets".into(), Value::Map(job_facets));
        }
        let (job_key, created) = ensure_entity(&mut self.tx, "job", &job, job_props).map_err(at)?;
        self.report.nodes_created += u64::from(created);
        self.link(&job_key.to_ref(), &run_ref, "job", Props::new()).map_err(at)?;
        // What the previous version was linked to.
        if let Some(previous) = &plan.previous {
            self.copy_edges(previous, &run).map_err(at)?;
        }
        // The parent run, created when the database does not know it.
        if let Some((parent_id, parent_job)) = parent_of(&plan.props) {
            if parent_id != plan.run_id {
                let parent = self.parent_run(&parent_id, parent_job.as_deref()).map_err(at)?;
                self.link(&parent.to_ref(), &run_ref, "parent", Props::new()).map_err(at)?;
            }
        }
        // The source revision.
        if let Some(Value::Map(code)) = plan.props.get("code") {
            let text = |k: &str| match code.get(k) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            };
            if let (Some(commit), Some(repo)) = (text("version"), text("repoUrl").or_else(|| text("url"))) {
                let vcs = text("type").unwrap_or_else(|| "git".into());
                let remote = text("repoUrl");
                let (code_key, created) =
                    code_version(&mut self.tx, &repo, &vcs, &commit, remote.as_deref()).map_err(at)?;
                self.report.nodes_created += u64::from(created);
                let mut edge = Props::new();
                for k in ["path", "branch", "tag", "url"] {
                    if let Some(v) = text(k) {
                        edge.insert(k.into(), Value::String(v));
                    }
                }
                self.link(&code_key.to_ref(), &run_ref, "code", edge).map_err(at)?;
            }
        }
        Ok(())
    }

    fn parent_run(&mut self, run_id: &str, job: Option<&str>) -> Result<NodeKey> {
        let latest = NodeRef::new("run", run_id, VersionSel::Latest)?;
        if let Some((key, _, _)) = self.tx.lookup(&latest)? {
            return Ok(key);
        }
        let mut props = Props::new();
        props.insert("run_id".into(), Value::from(run_id));
        if let Some(job) = job {
            props.insert("job".into(), Value::from(job));
        }
        props.insert("events".into(), Value::List(Vec::new()));
        props.insert("status".into(), Value::from("unknown"));
        let key = self.tx.create_node("run", run_id, props)?;
        self.report.nodes_created += 1;
        Ok(key)
    }

    /// Gives the new version of a run the committed edges of its previous
    /// version, except inputs (bound again) and superseded versions of other runs.
    fn copy_edges(&mut self, previous: &NodeKey, run: &NodeKey) -> Result<()> {
        let read = self.db.begin_read()?;
        let detail = read.node_detail(&previous.to_ref())?;
        for edge in detail.incoming.iter().chain(&detail.outgoing) {
            let incoming = edge.to == *previous;
            // Inputs are bound again: a stand-in version made before its producer was known gives way.
            if incoming && edge.label == "input" {
                continue;
            }
            let other = if incoming { &edge.from } else { &edge.to };
            if other.type_name == "run" && self.tx.resolve(&other.entity_ref()?)? != *other {
                continue;
            }
            let (from, to) = if incoming { (other.to_ref(), run.to_ref()) } else { (run.to_ref(), other.to_ref()) };
            if self.tx.link_idempotent(&from, &to, &edge.label, edge.props.clone())? {
                self.report.edges_created += 1;
            }
        }
        Ok(())
    }

    /// The output entities a new run version already links to, through the
    /// edges copied from its previous version.
    fn linked_entities(&self, plan: &RunPlan) -> Applied<HashSet<(EntityKey, bool)>> {
        let mut out = HashSet::new();
        let Some(previous) = &plan.previous else { return Ok(out) };
        let at = |e: Error| Failure::engine(plan.events[0], e);
        let read = self.db.begin_read().map_err(at)?;
        let detail = read.node_detail(&previous.to_ref()).map_err(at)?;
        for e in &detail.outgoing {
            if e.label == "output" {
                out.insert((e.to.entity(), true));
            }
        }
        Ok(out)
    }

    fn dataset_steps(&self, run: usize, plan: &RunPlan, steps: &mut Vec<Step>) {
        let mut inputs: BTreeMap<String, (Timestamp, usize, Dataset)> = BTreeMap::new();
        let mut outputs: BTreeMap<String, (usize, Dataset)> = BTreeMap::new();
        for &i in &plan.events {
            let e = &self.events[i];
            for d in &e.inputs {
                let slot = inputs.entry(d.id()).or_insert_with(|| (e.time, i, d.clone()));
                slot.2 = d.clone();
            }
            for d in &e.outputs {
                outputs.insert(d.id(), (i, d.clone()));
            }
        }
        // Inputs declared by earlier imports are bound again, at the run's start.
        let first = plan.events[0];
        let start = match plan.props.get("started_at") {
            Some(Value::Timestamp(t)) => *t,
            _ => self.events[first].time,
        };
        for (namespace, name) in declared(&plan.props, "inputs") {
            let id = format!("{namespace}/{name}");
            inputs.entry(id).or_insert_with(|| (start, first, bare_dataset(namespace, name)));
        }
        for (order, (_, (time, event, dataset))) in inputs.into_iter().enumerate() {
            steps.push(Step { time, sort_time: time, kind: 1, run, order, dataset, event });
        }
        if string_prop(&plan.props, "status").as_deref() != Some("succeeded") {
            return;
        }
        let Some(Value::Timestamp(ended)) = plan.props.get("ended_at").cloned() else { return };
        // Outputs declared by earlier imports too; their facets are those seen now, if any.
        let last = *plan.events.last().unwrap_or(&plan.events[0]);
        for (order, (namespace, name)) in declared(&plan.props, "outputs").into_iter().enumerate() {
            let id = format!("{namespace}/{name}");
            let (event, dataset) = outputs.remove(&id).unwrap_or_else(|| (last, bare_dataset(namespace, name)));
            let sort_time = if ended <= start { Timestamp(start.micros() + 1) } else { ended };
            steps.push(Step { time: ended, sort_time, kind: 0, run, order, dataset, event });
        }
    }

    fn apply_step(
        &mut self,
        plan: &RunPlan,
        step: &Step,
        linked: &mut HashSet<(EntityKey, bool)>,
        types: &mut DatasetTypes,
    ) -> Applied<()> {
        let at = |e: Error| Failure::engine(step.event, e);
        let Some(run) = plan.key.clone() else { return Ok(()) };
        let d = &step.dataset;
        let id = d.id();
        let entity = self.entity_of(d, types).map_err(at)?;
        let is_output = step.kind == 0;
        if !linked.insert((entity.clone(), is_output)) {
            return Ok(());
        }
        let columns = column_lineage(plan, &self.events);
        if is_output {
            let naive = plan.props.get("time_assumed_utc") == Some(&Value::Bool(true));
            let key = self.output_version(&entity, d, &plan.run_id, step.time, naive).map_err(at)?;
            let mut edge = facet_props(&d.io_facets);
            if let Some(lineage) = columns.outputs.get(&id) {
                edge.insert("column_lineage".into(), lineage.clone());
            }
            self.link(&run.to_ref(), &key.to_ref(), "output", edge).map_err(at)?;
        } else {
            let key = self.input_version(&entity, d, step.time, &plan.run_id).map_err(at)?;
            let mut edge = facet_props(&d.io_facets);
            if let Some(label) = d.version_label() {
                edge.insert("dataset_version".into(), Value::String(label));
            }
            if let Some(read) = columns.inputs.get(&id) {
                edge.insert("columns".into(), Value::List(read.iter().map(|c| Value::from(c.as_str())).collect()));
            }
            self.link(&key.to_ref(), &run.to_ref(), "input", edge).map_err(at)?;
        }
        Ok(())
    }

    /// The version a COMPLETE run wrote: the one its version facet names if
    /// it exists, an identical latest version (re-import), or a new one.
    fn output_version(
        &mut self,
        entity: &EntityKey,
        d: &Dataset,
        run_id: &str,
        time: Timestamp,
        naive: bool,
    ) -> Result<NodeKey> {
        let label = d.version_label();
        if let Some(label) = &label {
            let by_label = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Label(label.clone()))?;
            if let Some((key, _, _)) = self.tx.lookup(&by_label)? {
                self.report.nodes_unchanged += 1;
                return Ok(key);
            }
        }
        let mut props = dataset_props(d);
        props.insert("produced_by".into(), Value::String(format!("run:{run_id}")));
        props.insert("produced_at".into(), Value::Timestamp(time));
        if naive {
            props.insert("time_assumed_utc".into(), Value::Bool(true));
        }
        let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest)?;
        if let Some((key, l, p)) = self.tx.lookup(&latest)? {
            if l == label && same_content(&p, &props) {
                self.report.nodes_unchanged += 1;
                return Ok(key);
            }
        }
        let key = self.create_dataset(entity, label, props)?;
        self.rebind_stand_ins(entity, &key, time)?;
        Ok(key)
    }

    /// A version produced at `time` that an earlier import did not know:
    /// runs recorded before, which read a stand-in version of the entity (one
    /// no run produced) at or after `time`, read this one instead. Their
    /// input edge moves from the stand-in to `key` (the old edge is kept as
    /// a tombstone, so `AS OF` still shows what was believed then). Runs of
    /// this import bind their inputs themselves.
    fn rebind_stand_ins(&mut self, entity: &EntityKey, key: &NodeKey, time: Timestamp) -> Result<()> {
        let read = self.db.begin_read()?;
        let Ok(versions) = read.versions(entity) else { return Ok(()) };
        let here: HashSet<String> = self.events.iter().map(|e| e.run_id.clone()).collect();
        for version in versions {
            if version.props.contains_key("produced_by") {
                continue;
            }
            let detail = read.node_detail(&version.key.to_ref())?;
            for edge in detail.outgoing.iter().filter(|e| e.label == "input" && e.to.type_name == "run") {
                if here.contains(&edge.to.name) {
                    continue;
                }
                let Ok(run) = read.node(&edge.to.to_ref()) else { continue };
                let read_at = match run.props.get("started_at") {
                    Some(Value::Timestamp(t)) => Some(*t),
                    _ => match run.props.get("events") {
                        Some(Value::List(ids)) => ids
                            .iter()
                            .filter_map(|v| match v {
                                Value::String(s) => parse_event_id(s).map(|(t, _)| t),
                                _ => None,
                            })
                            .min(),
                        _ => None,
                    },
                };
                if read_at.is_none_or(|t| t < time) {
                    continue;
                }
                // Moved already by an earlier output of this import: the later one wins.
                let from =
                    self.rebound.get(&(version.key.clone(), edge.to.clone())).cloned().unwrap_or(version.key.clone());
                if self.tx.unlink(&from.to_ref(), &edge.to.to_ref(), Some("input"))? > 0 {
                    self.link(&key.to_ref(), &edge.to.to_ref(), "input", edge.props.clone())?;
                    self.rebound.insert((version.key.clone(), edge.to.clone()), key.clone());
                }
            }
        }
        Ok(())
    }

    /// The version an input read: the one its version facet names when
    /// known, else the latest produced at or before `time` (versions made
    /// by other tools count as older) by another run than `run_id` (a job
    /// that reads and writes one table reads the version before its own),
    /// else version 1, created if needed.
    fn input_version(&mut self, entity: &EntityKey, d: &Dataset, time: Timestamp, run_id: &str) -> Result<NodeKey> {
        let own = format!("run:{run_id}");
        let label = d.version_label();
        if let Some(label) = &label {
            let by_label = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Label(label.clone()))?;
            if let Some((key, _, _)) = self.tx.lookup(&by_label)? {
                return Ok(key);
            }
        }
        let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest)?;
        let Some((latest, _, _)) = self.tx.lookup(&latest)? else {
            return self.create_dataset(entity, label, dataset_props(d));
        };
        let mut oldest = None;
        for version in (1..=latest.version).rev() {
            let Some((key, _, props)) = self.tx.lookup(&entity.version(version).to_ref())? else { continue };
            if string_prop(&props, "produced_by").as_deref() == Some(own.as_str()) {
                continue;
            }
            match props.get("produced_at") {
                Some(Value::Timestamp(t)) if *t > time => oldest = Some(key),
                _ => return Ok(key),
            }
        }
        // Only this run's own outputs are recorded: linking one as its
        // input closes a cycle, which the link reports.
        Ok(oldest.unwrap_or(latest))
    }

    fn create_dataset(&mut self, entity: &EntityKey, label: Option<String>, props: Props) -> Result<NodeKey> {
        let new =
            NewNode { type_name: entity.type_name.clone(), name: entity.name.clone(), version: None, label, props };
        match self.tx.create(new)? {
            Created::New(key) => {
                self.report.nodes_created += 1;
                Ok(key)
            }
            Created::Existing(key) => {
                self.report.nodes_unchanged += 1;
                Ok(key)
            }
        }
    }
}

trait EntityRef {
    fn entity_ref(&self) -> Result<NodeRef>;
}

impl EntityRef for NodeKey {
    fn entity_ref(&self) -> Result<NodeRef> {
        Ok(NodeRef::new(&self.type_name, &self.name, VersionSel::Latest)?)
    }
}

fn string_prop(props: &Props, key: &str) -> Option<String> {
    match props.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `(parent runId, "<namespace>/<name>" of its job)` from the `parent` facet.
fn parent_of(props: &Props) -> Option<(String, Option<String>)> {
    let parent = Value::get_path(props, &["facets", "parent"])?;
    let Value::Map(parent) = parent else { return None };
    let Some(Value::Map(run)) = parent.get("run") else { return None };
    let Some(Value::String(id)) = run.get("runId") else { return None };
    // The parent's own name, when LineageDB exported it under a derived id.
    let id = match parent.get(LINEAGEDB) {
        Some(Value::Map(m)) => match m.get("run") {
            Some(Value::String(name)) => name,
            _ => id,
        },
        _ => id,
    };
    let job = match parent.get("job") {
        Some(Value::Map(job)) => match (job.get("namespace"), job.get("name")) {
            (Some(Value::String(ns)), Some(Value::String(name))) => Some(job_name(ns, name)),
            _ => None,
        },
        _ => None,
    };
    Some((id.clone(), job))
}

/// The namespace, and the run facet, of what LineageDB exports that was not
/// OpenLineage to begin with: it imports back under its own keys.
const LINEAGEDB: &str = "lineagedb";

/// A job's entity name: `<namespace>/<name>`, or `<name>` in namespace `lineagedb`.
fn job_name(namespace: &str, name: &str) -> String {
    if namespace == LINEAGEDB { name.to_owned() } else { format!("{namespace}/{name}") }
}

/// A facet as a property value, without the `_producer` and `_schemaURL`
/// bookkeeping every facet carries.
fn facet_value(json: &Json) -> Value {
    match json {
        Json::Object(map) => Value::Map(
            map.iter()
                .filter(|(k, _)| k.as_str() != "_producer" && k.as_str() != "_schemaURL")
                .map(|(k, v)| (k.clone(), facet_value(v)))
                .collect(),
        ),
        Json::Array(items) => Value::List(items.iter().map(facet_value).collect()),
        other => Value::from_json(other),
    }
}

/// Input or output facets (`inputStatistics`, ...) as edge properties.
fn facet_props(facets: &Map<String, Json>) -> Props {
    if facets.is_empty() {
        return Props::new();
    }
    Props::from([("facets".to_owned(), Value::Map(facets.iter().map(|(k, v)| (k.clone(), facet_value(v))).collect()))])
}

/// A schema field `{name, type, description?, fields?}`.
fn schema_field(json: &Json) -> Value {
    let mut field = BTreeMap::new();
    for k in ["name", "type", "description"] {
        if let Some(Json::String(s)) = json.get(k) {
            field.insert(k.to_owned(), Value::from(s.as_str()));
        }
    }
    if let Some(Json::Array(nested)) = json.get("fields") {
        if !nested.is_empty() {
            field.insert("fields".into(), Value::List(nested.iter().map(schema_field).collect()));
        }
    }
    Value::Map(field)
}

/// The content of a dataset version from its facets: `schema`, `source`,
/// `dataset_type` and the remaining facets under `facets`.
fn dataset_props(d: &Dataset) -> Props {
    let mut props = Props::new();
    props.insert("namespace".into(), Value::from(d.namespace.as_str()));
    props.insert("name".into(), Value::from(d.name.as_str()));
    // The other names its symlinks give it: `FIND dataset WHERE name = ...` finds it by them.
    let others: Vec<Value> = symlinks(d).into_iter().map(|(ns, name)| Value::String(format!("{ns}/{name}"))).collect();
    if !others.is_empty() {
        props.insert("names".into(), Value::List(others));
    }
    if let Some(Json::Array(fields)) = d.facets.get("schema").and_then(|s| s.get("fields")) {
        props.insert("schema".into(), Value::List(fields.iter().map(schema_field).collect()));
    }
    if let Some(source) = d.facets.get("dataSource") {
        props.insert("source".into(), facet_value(source));
    }
    if let Some(Json::String(t)) = d.facets.get("datasetType").and_then(|f| f.get("datasetType")) {
        props.insert("dataset_type".into(), Value::from(t.as_str()));
    }
    let rest: BTreeMap<String, Value> = d
        .facets
        .iter()
        .filter(|(k, _)| !MAPPED_DATASET_FACETS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), facet_value(v)))
        .collect();
    if !rest.is_empty() {
        props.insert("facets".into(), Value::Map(rest));
    }
    props
}

/// Column lineage of one run: per output, the `column_lineage` edge
/// property; per input, the columns its outputs were computed from.
#[derive(Default)]
struct Columns {
    outputs: HashMap<String, Value>,
    inputs: HashMap<String, BTreeSet<String>>,
}

fn column_lineage(plan: &RunPlan, events: &[Event]) -> Columns {
    let mut latest: BTreeMap<String, &Json> = BTreeMap::new();
    for &i in &plan.events {
        for d in &events[i].outputs {
            if let Some(f) = d.facets.get("columnLineage") {
                latest.insert(d.id(), f);
            }
        }
    }
    let mut out = Columns::default();
    for (output, facet) in latest {
        let Some(Json::Object(fields)) = facet.get("fields") else { continue };
        let mut per_field = BTreeMap::new();
        for (field, spec) in fields {
            let mut inputs = Vec::new();
            for input in spec.get("inputFields").and_then(Json::as_array).into_iter().flatten() {
                let (Some(ns), Some(name), Some(col)) = (
                    input.get("namespace").and_then(Json::as_str),
                    input.get("name").and_then(Json::as_str),
                    input.get("field").and_then(Json::as_str),
                ) else {
                    continue;
                };
                let dataset = format!("{ns}/{name}");
                out.inputs.entry(dataset.clone()).or_default().insert(col.to_owned());
                inputs.push(Value::Map(BTreeMap::from([
                    ("dataset".to_owned(), Value::String(dataset)),
                    ("field".to_owned(), Value::from(col)),
                ])));
            }
            let mut entry = BTreeMap::from([("inputs".to_owned(), Value::List(inputs))]);
            for (from, to) in [("transformationType", "transformation"), ("transformationDescription", "description")] {
                if let Some(Json::String(s)) = spec.get(from) {
                    if !s.is_empty() {
                        entry.insert(to.to_owned(), Value::from(s.as_str()));
                    }
                }
            }
            per_field.insert(field.clone(), Value::Map(entry));
        }
        out.outputs.insert(output, Value::Map(per_field));
    }
    out
}

/// `"START 2026-03-01T01:00:05Z"`: how the run node remembers its events.
fn event_id(kind: EventType, time: Timestamp) -> String {
    format!("{} {}", kind.as_str(), time.to_rfc3339())
}

fn parse_event_id(text: &str) -> Option<(Timestamp, EventType)> {
    let (kind, time) = text.split_once(' ')?;
    Some((Timestamp::parse_rfc3339(time)?, EventType::parse(kind)?))
}

/// A dataset declaration on the run node: `{namespace, name, type, version?}`.
fn declaration(d: &Dataset, type_name: &str) -> Value {
    let mut m = BTreeMap::from([
        ("namespace".to_owned(), Value::from(d.namespace.as_str())),
        ("name".to_owned(), Value::from(d.name.as_str())),
        ("type".to_owned(), Value::from(type_name)),
    ]);
    if let Some(v) = d.version_label() {
        m.insert("version".into(), Value::String(v));
    }
    Value::Map(m)
}

/// `(namespace, name)` of each dataset declared under `inputs` or `outputs`.
fn declared(props: &Props, list: &str) -> Vec<(String, String)> {
    let Some(Value::List(items)) = props.get(list) else { return Vec::new() };
    items
        .iter()
        .filter_map(|v| match v {
            Value::Map(m) => match (m.get("namespace"), m.get("name")) {
                (Some(Value::String(ns)), Some(Value::String(name))) => Some((ns.clone(), name.clone())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// A dataset known by name only (declared in an earlier import).
fn bare_dataset(namespace: String, name: String) -> Dataset {
    Dataset { namespace, name, facets: Map::new(), io_facets: Map::new() }
}

fn declared_id(v: &Value) -> Option<String> {
    let Value::Map(m) = v else { return None };
    match (m.get("namespace"), m.get("name")) {
        (Some(Value::String(ns)), Some(Value::String(name))) => Some(format!("{ns}/{name}")),
        _ => None,
    }
}

/// The content of a run node: the existing content (from earlier imports)
/// merged with this import's events, which are sorted by time. Events the
/// node already records change nothing, so merging is idempotent. A facet
/// from a new event replaces the recorded one unless the event is older
/// than every recorded event.
fn merge_run(
    run_id: &str,
    existing: Option<&Props>,
    events: &[&Event],
    types: &HashMap<String, &'static str>,
) -> Applied<Props> {
    let first = events.first().map_or(0, |e| e.source);
    let old = |k: &str| existing.and_then(|p| p.get(k)).cloned();
    let mut seen: BTreeSet<(Timestamp, EventType)> = BTreeSet::new();
    if let Some(Value::List(ids)) = old("events") {
        seen.extend(ids.iter().filter_map(|v| match v {
            Value::String(s) => parse_event_id(s),
            _ => None,
        }));
    }
    let recorded_until = seen.iter().map(|(t, _)| *t).max();
    let mut job = existing.and_then(|p| string_prop(p, "job"));
    let mut producer = existing.and_then(|p| string_prop(p, "producer"));
    let mut facets = match old("facets") {
        Some(Value::Map(m)) => m,
        _ => BTreeMap::new(),
    };
    let list = |k: &str| match old(k) {
        Some(Value::List(items)) => items,
        _ => Vec::new(),
    };
    let (mut inputs, mut outputs) = (list("inputs"), list("outputs"));
    for (index, e) in events.iter().enumerate() {
        match &job {
            Some(j) if *j != e.job => {
                return Err(Failure {
                    event: index_of(events, index, first),
                    source: None,
                    reason: format!("run {run_id} belongs to job \"{j}\" but this event names job \"{}\"", e.job),
                    fatal: false,
                });
            }
            _ => job = Some(e.job.clone()),
        }
        if !seen.insert((e.time, e.kind)) {
            continue;
        }
        let newer = recorded_until.is_none_or(|t| e.time >= t);
        for (k, v) in e.job_facets.iter().chain(&e.run_facets) {
            if newer || !facets.contains_key(k) {
                facets.insert(k.clone(), facet_value(v));
            }
        }
        if newer || producer.is_none() {
            producer = e.producer.clone().or(producer);
        }
        for (list, datasets) in [(&mut inputs, &e.inputs), (&mut outputs, &e.outputs)] {
            for d in datasets {
                let id = d.id();
                if !list.iter().any(|v| declared_id(v).as_deref() == Some(id.as_str())) {
                    list.push(declaration(d, types.get(&id).copied().unwrap_or("dataset")));
                }
            }
        }
    }
    let mut props = Props::new();
    props.insert("run_id".into(), Value::from(run_id));
    // Said in the node: some times had no offset and were read as UTC.
    if events.iter().any(|e| e.naive_time) || old("time_assumed_utc").is_some() {
        props.insert("time_assumed_utc".into(), Value::Bool(true));
    }
    if let Some(job) = job {
        props.insert("job".into(), Value::String(job));
    }
    if let Some(p) = producer {
        props.insert("producer".into(), Value::String(p));
    }
    props.insert("events".into(), Value::List(seen.iter().map(|(t, k)| Value::String(event_id(*k, *t))).collect()));
    let state = seen.iter().filter_map(|(t, k)| k.progress().map(|p| (p, *t, *k))).max();
    props.insert("status".into(), Value::from(state.map_or("unknown", |(_, _, k)| k.status())));
    if let Some((_, _, kind)) = state {
        props.insert("state".into(), Value::from(kind.as_str()));
    }
    let started = seen.iter().find(|(_, k)| *k == EventType::Start).map(|(t, _)| *t);
    let ended = state.filter(|(p, _, _)| *p == 2).map(|(_, t, _)| t);
    if let Some(t) = started {
        props.insert("started_at".into(), Value::Timestamp(t));
    }
    if let Some(t) = ended {
        props.insert("ended_at".into(), Value::Timestamp(t));
    }
    if let (Some(s), Some(e)) = (started, ended) {
        props.insert("duration_ms".into(), Value::Int((e.micros() - s.micros()) / 1000));
    }
    if let Some(Value::Map(error)) = facets.get("errorMessage") {
        if let Some(Value::String(message)) = error.get("message") {
            props.insert("errorMessage".into(), Value::String(message.clone()));
        }
    }
    if let Some(code) = facets.get("sourceCodeLocation") {
        props.insert("code".into(), code.clone());
    }
    if !facets.is_empty() {
        props.insert("facets".into(), Value::Map(facets));
    }
    if !inputs.is_empty() {
        props.insert("inputs".into(), Value::List(inputs));
    }
    if !outputs.is_empty() {
        props.insert("outputs".into(), Value::List(outputs));
    }
    Ok(props)
}

/// The index into the importer's events of `events[index]`: events carry
/// their source, and sources and events are pushed together.
fn index_of(events: &[&Event], index: usize, fallback: usize) -> usize {
    events.get(index).map_or(fallback, |e| e.source)
}

fn parse_event(text: &str) -> std::result::Result<Event, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = json.as_object().ok_or("expected a JSON object (an OpenLineage RunEvent)")?;
    let run = match obj.get("run") {
        Some(Json::Object(run)) => run,
        Some(_) => return Err("\"run\" must be an object".into()),
        None => {
            return Err("not an OpenLineage event: no \"run\" (a RunEvent), \"dataset\" (a DatasetEvent) \
                        or \"job\" (a JobEvent)"
                .into());
        }
    };
    let run_id = match run.get("runId") {
        Some(Json::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => return Err("\"run.runId\" must be a non-empty string".into()),
    };
    // A run LineageDB exported under a derived id keeps its own name.
    let run_id = match run.get("facets").and_then(|f| f.get(LINEAGEDB)).and_then(|f| f.get("run")) {
        Some(Json::String(name)) if !name.is_empty() => name.clone(),
        _ => run_id,
    };
    let (time, naive_time) = match obj.get("eventTime") {
        Some(Json::String(s)) => event_time(s).ok_or_else(|| {
            format!(
                "\"eventTime\" {s:?} is not an RFC 3339 timestamp such as 2026-03-01T01:00:00Z \
                 (or a time without an offset, taken as UTC)"
            )
        })?,
        _ => return Err("\"eventTime\" must be a string".into()),
    };
    let kind = match obj.get("eventType") {
        None | Some(Json::Null) => EventType::Other,
        Some(Json::String(s)) => EventType::parse(s).ok_or_else(|| {
            format!("unknown \"eventType\" {s:?}: expected START, RUNNING, COMPLETE, FAIL, ABORT or OTHER")
        })?,
        Some(other) => return Err(format!("\"eventType\" must be a string, not {other}")),
    };
    let job = obj.get("job").and_then(Json::as_object).ok_or("\"job\" must be an object")?;
    let (ns, name) = match (job.get("namespace"), job.get("name")) {
        (Some(Json::String(ns)), Some(Json::String(name))) if !name.is_empty() => (ns, name),
        _ => return Err("\"job\" needs \"namespace\" and a non-empty \"name\" (strings)".into()),
    };
    let producer = obj.get("producer").and_then(Json::as_str).map(str::to_owned);
    Ok(Event {
        source: 0,
        kind,
        time,
        naive_time,
        run_id,
        job: job_name(ns, name),
        producer,
        run_facets: facets(run.get("facets"), "run.facets")?,
        job_facets: facets(job.get("facets"), "job.facets")?,
        inputs: datasets(obj.get("inputs"), "inputs", "inputFacets")?,
        outputs: datasets(obj.get("outputs"), "outputs", "outputFacets")?,
    })
}

/// A DatasetEvent or a JobEvent (an object with `dataset`, or `job`, and no
/// `run`), parsed; `None` for anything else (a RunEvent, or not an object,
/// which `parse_event` reports).
fn parse_static_event(text: &str) -> Option<std::result::Result<StaticEvent, String>> {
    let json: Json = serde_json::from_str(text).ok()?;
    let obj = json.as_object()?;
    if obj.contains_key("run") || !(obj.contains_key("dataset") || obj.contains_key("job")) {
        return None;
    }
    Some(parse_static_object(obj))
}

fn parse_static_object(obj: &Map<String, Json>) -> std::result::Result<StaticEvent, String> {
    let time = match obj.get("eventTime") {
        Some(Json::String(s)) => event_time(s)
            .map(|(t, _)| t)
            .ok_or_else(|| format!("\"eventTime\" {s:?} is not an RFC 3339 timestamp such as 2026-03-01T01:00:00Z"))?,
        _ => return Err("\"eventTime\" must be a string".into()),
    };
    let producer = obj.get("producer").and_then(Json::as_str).map(str::to_owned);
    let what = if let Some(d) = obj.get("dataset") {
        let one = Json::Array(vec![d.clone()]);
        let mut found =
            datasets(Some(&one), "dataset", "inputFacets").map_err(|e| e.replace("dataset[0]", "dataset"))?;
        Static::Dataset(found.remove(0))
    } else {
        let job = obj.get("job").and_then(Json::as_object).ok_or("\"job\" must be an object")?;
        let (ns, name) = match (job.get("namespace"), job.get("name")) {
            (Some(Json::String(ns)), Some(Json::String(name))) if !name.is_empty() => (ns, name),
            _ => return Err("\"job\" needs \"namespace\" and a non-empty \"name\" (strings)".into()),
        };
        Static::Job {
            job: job_name(ns, name),
            facets: facets(job.get("facets"), "job.facets")?,
            inputs: datasets(obj.get("inputs"), "inputs", "inputFacets")?,
            outputs: datasets(obj.get("outputs"), "outputs", "outputFacets")?,
        }
    };
    Ok(StaticEvent { source: 0, time, producer, what })
}

/// An event's time: RFC 3339, or a date and time without an offset (what
/// Python clients write from a naive `datetime`), taken as UTC; the flag says
/// which.
fn event_time(text: &str) -> Option<(Timestamp, bool)> {
    if let Some(t) = Timestamp::parse_rfc3339(text) {
        return Some((t, false));
    }
    let text = text.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| (Timestamp(naive.and_utc().timestamp_micros()), true))
}

/// The other names a dataset's `symlinks` facet gives it, as (namespace, name).
fn symlinks(d: &Dataset) -> Vec<(String, String)> {
    let Some(Json::Array(ids)) = d.facets.get("symlinks").and_then(|f| f.get("identifiers")) else {
        return Vec::new();
    };
    ids.iter()
        .filter_map(|id| match (id.get("namespace"), id.get("name")) {
            (Some(Json::String(ns)), Some(Json::String(name))) if !name.is_empty() => Some((ns.clone(), name.clone())),
            _ => None,
        })
        .collect()
}

fn facets(json: Option<&Json>, what: &str) -> std::result::Result<Map<String, Json>, String> {
    match json {
        None | Some(Json::Null) => Ok(Map::new()),
        Some(Json::Object(m)) => Ok(m.clone()),
        Some(other) => Err(format!("\"{what}\" must be an object, not {other}")),
    }
}

fn datasets(json: Option<&Json>, what: &str, io: &str) -> std::result::Result<Vec<Dataset>, String> {
    let items = match json {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Array(items)) => items,
        Some(other) => return Err(format!("\"{what}\" must be an array, not {other}")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (Some(Json::String(namespace)), Some(Json::String(name))) = (d.get("namespace"), d.get("name")) else {
                return Err(format!("\"{what}[{i}]\" needs \"namespace\" and \"name\" (strings)"));
            };
            if name.is_empty() {
                return Err(format!("\"{what}[{i}].name\" cannot be empty"));
            }
            Ok(Dataset {
                namespace: namespace.clone(),
                name: name.clone(),
                facets: facets(d.get("facets"), &format!("{what}[{i}].facets"))?,
                io_facets: facets(d.get(io), &format!("{what}[{i}].{io}"))?,
            })
        })
        .collect()
}
