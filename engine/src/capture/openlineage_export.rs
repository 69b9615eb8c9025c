//! Export as OpenLineage (`lineagedb export --format openlineage`): every
//! run of the graph as one RunEvent of spec 2-0-2, with its job, inputs,
//! outputs and parent, so that a central Marquez or DataHub can take a
//! team's lineage. The import (`openlineage.rs`) reads them back.
//!
//! Mapping, the import's read backwards:
//! - a run is one event: `eventType` its `state` when the import recorded
//!   one, else from its `status` (succeeded: COMPLETE, failed: FAIL,
//!   running: RUNNING, else OTHER); `eventTime` its `ended_at`, else
//!   `started_at`, else its creation; `runId` its `run_id` (or its name) when
//!   that is a UUID, else a UUID derived from its key (SHA-256 of
//!   `lineagedb:<key>`, version and variant bits set), the same on every
//!   export;
//! - its job is the `job` node linked to it (`job:"ns/name"` gives
//!   namespace `ns` and name `name`; other names get namespace `lineagedb`),
//!   else its `job` property; a `code` node linked to it is its
//!   `sourceCodeLocation` job facet; a run whose name is no UUID carries it in
//!   a `lineagedb` run facet (and in its children's `parent` facet);
//! - inputs are the nodes linked to it as `input`, outputs those it links to
//!   as `output`; a node the import made keeps its `namespace` and `name`,
//!   any other is namespace `lineagedb`, name `<type>:<name>`, which the
//!   import reads back as that key, so that the whole graph round-trips; each carries
//!   the `version` facet (its external label, else its version number), the
//!   `datasetType` facet `MODEL` for models, and `schema` and `dataSource`
//!   when it has them;
//! - the run's recorded OpenLineage facets go back as run facets, with
//!   `_producer` and `_schemaURL` added where missing; a `parent` edge is the
//!   `parent` facet;
//! - `since`: only the runs created, or linked to anything, after that snapshot.
//!
//! - a run whose start is known (`started_at`) and that ended also gets a
//!   START event at its start, with its inputs;
//! - a job with `declares_input` / `declares_output` edges is a JobEvent
//!   with those datasets and its recorded facets; a dataset version a
//!   DatasetEvent annotated (`declared_facets`) is a DatasetEvent.
//!
//! Not exported: nodes that neither a run nor a declaration touches.

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::key::NodeKey;
use crate::model::{Edge, Node};
use crate::read::ReadTx;
use crate::storage::codec::SnapshotId;
use crate::value::Value;

/// The producer URI every exported event and facet carries.
pub const EXPORT_PRODUCER: &str = "https://github.com/lineagedb/lineagedb";
/// The schema the events follow.
pub const RUN_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const FACET_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/BaseFacet";

/// The graph at `read`'s snapshot (what changed after `since`, when given)
/// as OpenLineage events, in time order: per run a START (when its start is
/// known and it ended) and its final event; a JobEvent per job that declares
/// inputs or outputs (`declares_input`, `declares_output`); a DatasetEvent
/// per dataset version a DatasetEvent annotated (`declared_facets`).
pub fn openlineage_events(read: &ReadTx, since: Option<SnapshotId>) -> Result<Vec<Json>> {
    let mut events: Vec<(String, Json)> = Vec::new();
    let changed = |e: &Edge| since.is_none_or(|s| e.created_in > s);
    for run in read.find(Some("run"))? {
        let detail = read.node_detail(&run.key.to_ref())?;
        if since.is_some_and(|s| run.created_in <= s) && !detail.incoming.iter().chain(&detail.outgoing).any(changed) {
            continue;
        }
        let last = run_event(read, &run, &detail.incoming, &detail.outgoing)?;
        let started = match run.props.get("started_at") {
            Some(Value::Timestamp(t)) => Some(t.to_rfc3339()),
            _ => None,
        };
        if let Some(started) = started.filter(|s| *s != event_time(&run) && TERMINAL.contains(&event_type(&run))) {
            let mut start = last.clone();
            start["eventType"] = json!("START");
            start["eventTime"] = json!(started.clone());
            start["outputs"] = json!([]);
            events.push((started, start));
        }
        events.push((event_time(&run), last));
    }
    for job in read.find(Some("job"))? {
        let detail = read.node_detail(&job.key.to_ref())?;
        let declared: Vec<&Edge> = detail
            .incoming
            .iter()
            .chain(&detail.outgoing)
            .filter(|e| e.label == "declares_input" || e.label == "declares_output")
            .collect();
        if declared.is_empty() || (since.is_some_and(|s| job.created_in <= s) && !declared.iter().any(|e| changed(e))) {
            continue;
        }
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for e in declared {
            if e.label == "declares_input" {
                inputs.push(dataset(&read.node(&e.from.to_ref())?));
            } else {
                outputs.push(dataset(&read.node(&e.to.to_ref())?));
            }
        }
        let (namespace, name) = job_of_key(&job.key);
        let mut job_json = json!({"namespace": namespace, "name": name});
        let facets = recorded_facets(&job.props, |_| true);
        if !facets.is_empty() {
            job_json["facets"] = Json::Object(facets);
        }
        let time = match job.props.get("declared_at") {
            Some(Value::Timestamp(t)) => t.to_rfc3339(),
            _ => job.created_at.to_rfc3339(),
        };
        let event = json!({"eventTime": time, "job": job_json, "inputs": inputs, "outputs": outputs,
            "producer": EXPORT_PRODUCER, "schemaURL": JOB_EVENT_SCHEMA});
        events.push((time, event));
    }
    for type_name in ["dataset", "model"] {
        for node in read.find(Some(type_name))? {
            let (Some(Value::Map(declared)), Some(Value::Timestamp(at))) =
                (node.props.get("declared_facets"), node.props.get("facets_declared_at"))
            else {
                continue;
            };
            let annotated_since = || -> Result<bool> {
                Ok(read.history(&node.key.entity())?.iter().any(|h| since.is_some_and(|s| h.snapshot > s)))
            };
            if since.is_some_and(|s| node.created_in <= s) && !annotated_since()? {
                continue;
            }
            let mut d = dataset(&node);
            for (k, v) in declared {
                d["facets"][k] = facet(v.to_json());
            }
            let time = at.to_rfc3339();
            let event = json!({"eventTime": time, "dataset": d, "producer": EXPORT_PRODUCER,
                "schemaURL": DATASET_EVENT_SCHEMA});
            events.push((time, event));
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(events.into_iter().map(|(_, e)| e).collect())
}

/// Final states, after which a run's START is exported too.
const TERMINAL: [&str; 3] = ["COMPLETE", "FAIL", "ABORT"];
const JOB_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent";
const DATASET_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent";

/// The facets recorded in `props["facets"]` that `keep` keeps, each with the
/// `_producer` and `_schemaURL` a facet needs.
fn recorded_facets(props: &crate::value::Props, keep: impl Fn(&str) -> bool) -> Map<String, Json> {
    let mut out = Map::new();
    if let Some(Value::Map(recorded)) = props.get("facets") {
        for (k, v) in recorded.iter().filter(|(k, _)| keep(k)) {
            out.insert(k.clone(), facet(v.to_json()));
        }
    }
    out
}

fn run_event(read: &ReadTx, run: &Node, incoming: &[Edge], outgoing: &[Edge]) -> Result<Json> {
    let mut inputs = Vec::new();
    let mut job = None;
    let mut parent = None;
    let mut code = None;
    for edge in incoming {
        match edge.label.as_str() {
            "job" => job = Some(job_of_key(&edge.from)),
            "input" => inputs.push(dataset(&read.node(&edge.from.to_ref())?)),
            "parent" => parent = Some(read.node(&edge.from.to_ref())?),
            "code" => code = Some((read.node(&edge.from.to_ref())?, edge.props.clone())),
            _ => {}
        }
    }
    let mut outputs = Vec::new();
    for edge in outgoing.iter().filter(|e| e.label == "output") {
        outputs.push(dataset(&read.node(&edge.to.to_ref())?));
    }
    let (namespace, name) = job.unwrap_or_else(|| match run.props.get("job") {
        Some(Value::String(j)) => split_job(j),
        _ => ("lineagedb".to_owned(), run.key.name.clone()),
    });
    // Job facets were recorded with the run's; `parent` is rebuilt from the edge.
    let mut facets = recorded_facets(&run.props, |k| k != "parent" && !JOB_FACETS.contains(&k));
    if let Some(p) = &parent {
        let (pns, pname) = match p.props.get("job") {
            Some(Value::String(j)) => split_job(j),
            _ => ("lineagedb".to_owned(), p.key.name.clone()),
        };
        let mut parent_facet = json!({"run": {"runId": run_id(p)}, "job": {"namespace": pns, "name": pname}});
        if !is_uuid(&p.key.name) {
            parent_facet[LINEAGEDB_FACET] = json!({"run": p.key.name});
        }
        facets.insert("parent".into(), facet(parent_facet));
    }
    // A run that is not an OpenLineage one keeps its name through a facet of its own.
    if !is_uuid(&run.key.name) && !matches!(run.props.get("run_id"), Some(Value::String(id)) if is_uuid(id)) {
        facets.insert(LINEAGEDB_FACET.into(), facet(json!({"run": run.key.name})));
    }
    let mut job_facets = recorded_facets(&run.props, |k| JOB_FACETS.contains(&k));
    // The code revision a run wrapper recorded, as the source code location.
    if let (Some((node, edge)), false) = (&code, job_facets.contains_key("sourceCodeLocation")) {
        let text = |props: &crate::value::Props, k: &str| match props.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        if let Some(commit) = text(&node.props, "commit").or_else(|| node.label.clone()) {
            let mut location = json!({"type": text(&node.props, "vcs").unwrap_or_else(|| "git".into()),
                "url": node.key.name, "version": commit});
            if let Some(remote) = text(&node.props, "remote") {
                location["repoUrl"] = json!(remote);
            }
            if let Some(branch) = text(edge, "branch") {
                location["branch"] = json!(branch);
            }
            job_facets.insert("sourceCodeLocation".into(), facet(location));
        }
    }
    let mut run_json = json!({"runId": run_id(run)});
    if !facets.is_empty() {
        run_json["facets"] = Json::Object(facets);
    }
    let mut job_json = json!({"namespace": namespace, "name": name});
    if !job_facets.is_empty() {
        job_json["facets"] = Json::Object(job_facets);
    }
    Ok(json!({
        "eventType": event_type(run),
        "eventTime": event_time(run),
        "run": run_json,
        "job": job_json,
        "inputs": inputs,
        "outputs": outputs,
        "producer": EXPORT_PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }))
}

/// The run facet (and parent facet member) carrying the name of a run that
/// is not an OpenLineage one, so that the import gives it back its key.
const LINEAGEDB_FACET: &str = "lineagedb";

/// Job facets of the spec, which the import records with the run's.
const JOB_FACETS: &[&str] = &["documentation", "sourceCodeLocation", "sql", "jobType", "ownership", "tags"];

fn event_type(run: &Node) -> &'static str {
    const TYPES: [&str; 6] = ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"];
    if let Some(Value::String(state)) = run.props.get("state") {
        if let Some(t) = TYPES.iter().find(|t| **t == state.as_str()) {
            return t;
        }
    }
    match run.props.get("status") {
        Some(Value::String(s)) if s == "succeeded" => "COMPLETE",
        Some(Value::String(s)) if s == "failed" => "FAIL",
        Some(Value::String(s)) if s == "running" => "RUNNING",
        _ => "OTHER",
    }
}

fn event_time(run: &Node) -> String {
    let time = ["ended_at", "started_at"].iter().find_map(|k| match run.props.get(*k) {
        Some(Value::Timestamp(t)) => Some(*t),
        _ => None,
    });
    time.unwrap_or(run.created_at).to_rfc3339()
}

/// The run's UUID: its recorded `run_id` or its name when that is one, else
/// one derived from its key.
fn run_id(run: &Node) -> String {
    let recorded = match run.props.get("run_id") {
        Some(Value::String(id)) => Some(id.as_str()),
        _ => None,
    };
    if let Some(id) = recorded.into_iter().chain([run.key.name.as_str()]).find(|id| is_uuid(id)) {
        return id.to_owned();
    }
    derived_uuid(&run.key)
}

fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A UUID (version 8, "custom") made from SHA-256 of `lineagedb:<key>`.
fn derived_uuid(key: &NodeKey) -> String {
    let digest = Sha256::digest(format!("lineagedb:{key}").as_bytes());
    let mut b: [u8; 16] = digest[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn split_job(job: &str) -> (String, String) {
    match job.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => (ns.to_owned(), name.to_owned()),
        _ => ("lineagedb".to_owned(), job.to_owned()),
    }
}

fn job_of_key(key: &NodeKey) -> (String, String) {
    split_job(&key.name)
}

/// A node as an OpenLineage dataset.
fn dataset(node: &Node) -> Json {
    let text = |k: &str| match node.props.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (namespace, name) = match (text("namespace"), text("name")) {
        (Some(ns), Some(name)) if format!("{ns}/{name}") == node.key.name => (ns, name),
        _ => ("lineagedb".to_owned(), format!("{}:{}", node.key.type_name, node.key.name)),
    };
    // The facets the import kept as they were (symlinks, ownership, custom ones), then the mapped ones.
    let mut facets = recorded_facets(&node.props, |_| true);
    let version = node.label.clone().unwrap_or_else(|| node.key.version.to_string());
    facets.insert("version".into(), facet(json!({"datasetVersion": version})));
    if node.key.type_name == "model" {
        facets.insert("datasetType".into(), facet(json!({"datasetType": "MODEL"})));
    }
    if let Some(Value::List(fields)) = node.props.get("schema") {
        let fields: Vec<Json> = fields
            .iter()
            .filter_map(|f| match f {
                Value::Map(m) => {
                    Some(Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect::<Map<String, Json>>()))
                }
                _ => None,
            })
            .filter(|f| f.get("name").is_some_and(Json::is_string))
            .map(|mut f| {
                if !f.get("type").is_some_and(Json::is_string) {
                    f["type"] = json!("UNKNOWN");
                }
                f
            })
            .collect();
        facets.insert("schema".into(), facet(json!({"fields": fields})));
    }
    if let Some(source) = node.props.get("source") {
        let source = match source {
            Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            other => json!({"name": other.to_json()}),
        };
        facets.insert("dataSource".into(), facet(source));
    }
    json!({"namespace": namespace, "name": name, "facets": facets})
}

/// A facet with the `_producer` and `_schemaURL` every facet needs.
fn facet(value: Json) -> Json {
    let mut object = match value {
        Json::Object(m) => m,
        other => Map::from_iter([("value".to_owned(), other)]),
    };
    object.entry("_producer").or_insert_with(|| json!(EXPORT_PRODUCER));
    object.entry("_schemaURL").or_insert_with(|| json!(FACET_SCHEMA));
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_run_ids_are_uuids_and_stable() {
        let key: NodeKey = "run:train_20261207T000000Z@1".parse().expect("key");
        let id = derived_uuid(&key);
        assert!(is_uuid(&id), "{id}");
        assert_eq!(id, derived_uuid(&key));
        assert_eq!(&id[14..15], "8", "version 8");
        assert!(!is_uuid("train_1"));
        assert!(is_uuid("0195a0c0-0000-7000-8000-000000000001"));
    }

    #[test]
    fn jobs_split_at_their_first_slash() {
        assert_eq!(split_job("airflow/dag.task"), ("airflow".to_owned(), "dag.task".to_owned()));
        assert_eq!(split_job("train"), ("lineagedb".to_owned(), "train".to_owned()));
    }
}
