//! `DIFF a b`: what changed between two nodes, typically two versions of a
//! model. Four parts, each compared at the latest snapshot:
//!
//! - inputs: every upstream node (any depth) other than `run` and `code`
//!   nodes, matched by entity (`type:name`): added, removed, or another version;
//! - properties: the nodes' own properties, nested maps flattened to dotted
//!   paths (`hyperparameters.lr`);
//! - runs: the producing runs (direct upstream `run` nodes) and, when each side
//!   has exactly one, their property (parameter) changes;
//! - code: upstream `code` nodes (any depth) matched by entity, whose version differs,
//!   with their property changes.

use std::collections::{BTreeMap, BTreeSet};

use lineagedb_engine::{Database, EntityKey, Node, NodeKey, Props, ReadTx, Value};
use serde_json::{Value as Json, json};

use super::{Cx, reader, resolve};
use crate::error::QueryError;
use crate::result::QueryResult;
use crate::syntax::NodeRef;

/// One changed property path; `None` means absent on that side.
#[derive(Clone, Debug, PartialEq)]
pub struct PropChange {
    /// Dotted path (`hyperparameters.lr`).
    pub path: String,
    /// Value on the left side.
    pub from: Option<Value>,
    /// Value on the right side.
    pub to: Option<Value>,
}

/// An upstream entity whose versions differ between the two sides.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityChange {
    /// `type:name`.
    pub entity: String,
    /// Keys of that entity upstream of the left side (empty: added).
    pub from: Vec<String>,
    /// Keys of that entity upstream of the right side (empty: removed).
    pub to: Vec<String>,
    /// Property changes, when each side has exactly one version.
    pub changes: Vec<PropChange>,
}

/// The result of `DIFF`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DiffResult {
    /// Left key.
    pub from: String,
    /// Right key.
    pub to: String,
    /// Upstream inputs (not runs, not code) that were added, removed or changed version.
    pub inputs: Vec<EntityChange>,
    /// Changes of the two nodes' own properties.
    pub properties: Vec<PropChange>,
    /// Producing runs on the left.
    pub runs_from: Vec<String>,
    /// Producing runs on the right.
    pub runs_to: Vec<String>,
    /// Parameter changes between the producing runs (when each side has one).
    pub run_changes: Vec<PropChange>,
    /// Upstream code whose version differs.
    pub code: Vec<EntityChange>,
}

/// A flat line of a diff, for tables and CSV.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChangeLine {
    pub section: &'static str,
    pub item: String,
    pub from: String,
    pub to: String,
}

fn opt_value(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "(absent)".to_owned(), ToString::to_string)
}

fn keys_cell(keys: &[String]) -> String {
    if keys.is_empty() { "(absent)".to_owned() } else { keys.join(" ") }
}

fn prop_json(c: &PropChange) -> Json {
    json!({"path": c.path, "from": c.from.as_ref().map(Value::to_json), "to": c.to.as_ref().map(Value::to_json)})
}

fn entity_json(c: &EntityChange) -> Json {
    json!({"entity": c.entity, "from": c.from, "to": c.to, "changes": c.changes.iter().map(prop_json).collect::<Vec<_>>()})
}

impl DiffResult {
    /// The diff as flat lines, what explains a model first: the producing
    /// runs' parameters, the metrics, the inputs, the code, the producing
    /// run; then the other properties, and last the runs' other details
    /// (times, durations, host), which differ between any two runs.
    pub(crate) fn changes(&self) -> Vec<ChangeLine> {
        let line = |section: &'static str, c: &PropChange| ChangeLine {
            section,
            item: c.path.clone(),
            from: opt_value(&c.from),
            to: opt_value(&c.to),
        };
        let is_metric = |c: &&PropChange| c.path.starts_with("metrics.") || c.path == "metrics";
        let is_param = |c: &&PropChange| c.path.starts_with("params.") || c.path == "params";
        let mut out = Vec::new();
        out.extend(self.run_changes.iter().filter(is_param).map(|c| line("run param", c)));
        out.extend(self.properties.iter().filter(is_metric).map(|c| line("metric", c)));
        out.extend(self.run_changes.iter().filter(is_metric).map(|c| line("run metric", c)));
        for c in &self.inputs {
            let section = match (c.from.is_empty(), c.to.is_empty()) {
                (true, _) => "input added",
                (_, true) => "input removed",
                _ => "input changed",
            };
            out.push(ChangeLine { section, item: c.entity.clone(), from: keys_cell(&c.from), to: keys_cell(&c.to) });
        }
        for c in &self.code {
            out.push(ChangeLine {
                section: "code",
                item: c.entity.clone(),
                from: keys_cell(&c.from),
                to: keys_cell(&c.to),
            });
            for p in &c.changes {
                out.push(ChangeLine {
                    section: "code prop",
                    item: format!("{} {}", c.entity, p.path),
                    from: opt_value(&p.from),
                    to: opt_value(&p.to),
                });
            }
        }
        if self.runs_from != self.runs_to {
            out.push(ChangeLine {
                section: "run",
                item: "producing run".into(),
                from: keys_cell(&self.runs_from),
                to: keys_cell(&self.runs_to),
            });
        }
        out.extend(self.properties.iter().filter(|c| !is_metric(c)).map(|c| line("property", c)));
        out.extend(self.run_changes.iter().filter(|c| !is_param(c) && !is_metric(c)).map(|c| line("run detail", c)));
        out
    }

    /// `{"diff": {...}}` as documented in `docs/query-language.md`.
    pub(crate) fn to_json(&self) -> Json {
        let section = |f: fn(&EntityChange) -> bool| -> Vec<Json> {
            self.inputs.iter().filter(|c| f(c)).map(entity_json).collect()
        };
        json!({"diff": {
            "from": self.from,
            "to": self.to,
            "inputs": {
                "added": section(|c| c.from.is_empty()).iter().map(|j| j["entity"].clone()).collect::<Vec<_>>(),
                "removed": section(|c| c.to.is_empty()).iter().map(|j| j["entity"].clone()).collect::<Vec<_>>(),
                "changed": section(|c| !c.from.is_empty() && !c.to.is_empty()),
            },
            "properties": self.properties.iter().map(prop_json).collect::<Vec<_>>(),
            "runs": {
                "from": self.runs_from,
                "to": self.runs_to,
                "changes": self.run_changes.iter().map(prop_json).collect::<Vec<_>>(),
            },
            "code": self.code.iter().map(entity_json).collect::<Vec<_>>(),
        }})
    }
}

/// Flattens nested maps into dotted paths; other values are leaves.
pub(crate) fn flatten(props: &Props) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, map: &BTreeMap<String, Value>, out: &mut BTreeMap<String, Value>) {
        for (k, v) in map {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            match v {
                Value::Map(inner) if !inner.is_empty() => walk(&path, inner, out),
                other => {
                    out.insert(path, other.clone());
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", props, &mut out);
    out
}

/// Property changes from `a` to `b`.
pub(crate) fn prop_changes(a: &Props, b: &Props) -> Vec<PropChange> {
    let (fa, fb) = (flatten(a), flatten(b));
    let paths: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    paths
        .into_iter()
        .filter(|p| fa.get(*p) != fb.get(*p))
        .map(|p| PropChange { path: p.clone(), from: fa.get(p).cloned(), to: fb.get(p).cloned() })
        .collect()
}

/// Upstream nodes of `key` grouped by entity.
fn upstream(cx: &Cx<'_>, read: &ReadTx, key: &NodeKey) -> Result<BTreeMap<EntityKey, Vec<Node>>, QueryError> {
    let reached = read.ancestors(&key.to_ref()).collect().map_err(|e| cx.engine(cx.span, e))?;
    let mut out: BTreeMap<EntityKey, Vec<Node>> = BTreeMap::new();
    for r in reached {
        out.entry(r.node.key.entity()).or_default().push(r.node);
    }
    for nodes in out.values_mut() {
        nodes.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(out)
}

fn entity_changes(
    left: &BTreeMap<EntityKey, Vec<Node>>,
    right: &BTreeMap<EntityKey, Vec<Node>>,
    keep: impl Fn(&EntityKey) -> bool,
) -> Vec<EntityChange> {
    let entities: BTreeSet<&EntityKey> = left.keys().chain(right.keys()).filter(|e| keep(e)).collect();
    let empty = Vec::new();
    let mut out = Vec::new();
    for e in entities {
        let l = left.get(e).unwrap_or(&empty);
        let r = right.get(e).unwrap_or(&empty);
        let lk: Vec<String> = l.iter().map(|n| n.key.to_string()).collect();
        let rk: Vec<String> = r.iter().map(|n| n.key.to_string()).collect();
        if lk == rk {
            continue;
        }
        let changes = match (l.as_slice(), r.as_slice()) {
            ([a], [b]) => prop_changes(&a.props, &b.props),
            _ => Vec::new(),
        };
        out.push(EntityChange { entity: e.to_string(), from: lk, to: rk, changes });
    }
    out
}

/// `DIFF left right`.
pub(crate) fn diff(cx: &Cx<'_>, db: &Database, left: &NodeRef, right: &NodeRef) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, None)?;
    let a = resolve(cx, &read, left)?;
    let b = resolve(cx, &read, right)?;
    let engine = |e| cx.engine(cx.span, e);
    let na = read.node_detail(&a.to_ref()).map_err(engine)?;
    let nb = read.node_detail(&b.to_ref()).map_err(engine)?;
    let ua = upstream(cx, &read, &a)?;
    let ub = upstream(cx, &read, &b)?;
    let inputs = entity_changes(&ua, &ub, |e| e.type_name != "run" && e.type_name != "code");
    let code = entity_changes(&ua, &ub, |e| e.type_name == "code");
    let runs_of = |d: &lineagedb_engine::NodeDetail| -> Vec<NodeKey> {
        let mut runs: Vec<NodeKey> =
            d.incoming.iter().filter(|e| e.from.type_name == "run").map(|e| e.from.clone()).collect();
        runs.sort();
        runs.dedup();
        runs
    };
    let (ra, rb) = (runs_of(&na), runs_of(&nb));
    let run_changes = match (ra.as_slice(), rb.as_slice()) {
        ([x], [y]) if x != y => {
            let px = read.node(&x.to_ref()).map_err(engine)?;
            let py = read.node(&y.to_ref()).map_err(engine)?;
            prop_changes(&px.props, &py.props)
        }
        _ => Vec::new(),
    };
    Ok(QueryResult::Diff(Box::new(DiffResult {
        from: a.to_string(),
        to: b.to_string(),
        inputs,
        properties: prop_changes(&na.node.props, &nb.node.props),
        runs_from: ra.iter().map(ToString::to_string).collect(),
        runs_to: rb.iter().map(ToString::to_string).collect(),
        run_changes,
        code,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_maps_flatten_to_paths() {
        let json = serde_json::json!({"hyperparameters": {"lr": 0.1, "depth": 6}, "owner": "ana", "empty": {}});
        let a = lineagedb_engine::props_from_json(&json).unwrap_or_default();
        let json = serde_json::json!({"hyperparameters": {"lr": 0.2, "depth": 6}, "owner": "ana"});
        let b = lineagedb_engine::props_from_json(&json).unwrap_or_default();
        let changes = prop_changes(&a, &b);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["empty", "hyperparameters.lr"]);
        assert_eq!(changes[1].to, Some(Value::Float(0.2)));
    }
}
