//! Typed results of statements: what each statement returns, independent of
//! how it is printed, and its JSON form (one object per statement, the shapes
//! documented in `docs/query-language.md`).

use lineagedb_engine::{
    AuditEntry, Edge, HistoryEvent, HistoryKind, Node, NodeDetail, NodeKey, Snapshot, SnapshotId, Value, VerifyReport,
    props_to_json,
};
use serde_json::{Map, Value as Json, json};

/// The result of one statement.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum QueryResult {
    /// `ANCESTORS`, `DESCENDANTS`, `FIND`: node rows.
    Nodes(NodeRows),
    /// `LINEAGE`: a subgraph.
    Lineage(LineageGraph),
    /// `PATH`: a shortest path (possibly none).
    Path(PathResult),
    /// `CREATE`, `LINK`, `UNLINK`, `SET`, `DELETE`, `PROMOTE`.
    Write(WriteOutcome),
    /// `SHOW`: one node with its aliases and edges.
    Node(Box<NodeDetail>),
    /// `HISTORY OF`.
    History(HistoryResult),
    /// `DIFF`.
    Diff(Box<crate::exec::diff::DiffResult>),
    /// `SNAPSHOTS`: the commit log, newest first.
    Snapshots(Vec<Snapshot>),
    /// `AUDIT`: audit entries, oldest first.
    Audit(AuditRows),
    /// `VERIFY`.
    Verify(VerifyReport),
    /// `REPORT`: the lineage report on one node.
    Report(Box<crate::report::ReportDocument>),
    /// `EXPLAIN`.
    Explain(Plan),
    /// `BEGIN`, `COMMIT`, `ROLLBACK`.
    Transaction(TxOutcome),
}

/// A column of `RETURN`: a built-in field or a property path.
pub type ColumnName = String;

/// Node rows, with the columns `RETURN` asked for (empty: the default shape).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NodeRows {
    /// `RETURN` columns by name; empty means every row is printed whole.
    pub columns: Vec<ColumnName>,
    /// The rows, in output order.
    pub rows: Vec<NodeRow>,
    /// Whether the rows come from a walk (and so carry a depth).
    pub walk: bool,
    /// How many rows `LIMIT` cut off.
    pub omitted: usize,
}

/// One node of a result. A row costs what its output needs: the key always,
/// the whole node only when the statement prints or tests more than what the
/// key says.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeRow {
    /// The node's key.
    pub key: NodeKey,
    /// The whole node (properties, label, creation), loaded when the
    /// statement needs it: no `RETURN` (the row is printed whole), or a
    /// `RETURN`, `WHERE` or `ORDER BY` naming a property, `created_at` or
    /// `created_by`. `None` for rows of keys, types, names, versions,
    /// depths and aliases only.
    pub node: Option<Box<Node>>,
    /// Shortest distance from the start, for walks.
    pub depth: Option<u32>,
    /// Values of the `RETURN` columns, parallel to [`NodeRows::columns`].
    pub values: Vec<Value>,
}

/// What node rows will be, told before the first row when rows stream
/// (see [`crate::ResultSink`]).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RowsHeader {
    /// `RETURN` columns by name; empty means every row is printed whole.
    pub columns: Vec<ColumnName>,
    /// Whether the rows come from a walk (and so carry a depth).
    pub walk: bool,
    /// How many rows `LIMIT` cuts off.
    pub omitted: usize,
    /// How many rows follow.
    pub rows: usize,
}

/// One node of a `LINEAGE` subgraph with its distance from the start.
#[derive(Clone, Debug, PartialEq)]
pub struct LineageNode {
    /// The node.
    pub node: Node,
    /// Shortest distance from the start (0: the start).
    pub depth: u32,
}

/// The subgraph `LINEAGE` returns. The start node is the first node, at depth 0.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LineageGraph {
    /// Nodes by depth then key, the start first.
    pub nodes: Vec<LineageNode>,
    /// Edges between returned nodes.
    pub edges: Vec<Edge>,
}

/// A shortest path; empty when there is none.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PathResult {
    /// The start as written.
    pub from: String,
    /// The goal as written.
    pub to: String,
    /// Keys along the path, start and goal included; empty: no path.
    pub nodes: Vec<String>,
    /// Edge labels between consecutive nodes.
    pub labels: Vec<String>,
}

/// What a write statement did.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteOutcome {
    /// A one-line description for people (`created model:fraud@3`).
    pub summary: String,
    /// The snapshot it committed as; `None` inside `BEGIN ... COMMIT`.
    pub snapshot: Option<SnapshotId>,
    /// The keys the write concerns, canonical.
    pub keys: Vec<String>,
}

/// `HISTORY OF entity`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryResult {
    /// The entity.
    pub entity: String,
    /// Its events in snapshot order.
    pub events: Vec<HistoryEvent>,
}

/// `AUDIT` entries.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AuditRows {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// How many matching entries `LIMIT` cut off.
    pub omitted: usize,
}

/// An `EXPLAIN` plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The statement explained, in canonical text.
    pub statement: String,
    /// The steps, in execution order.
    pub steps: Vec<PlanStep>,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanStep {
    /// Short operator name: `resolve`, `walk`, `filter`, `sort`, `limit`, ...
    pub op: String,
    /// What the step does, with its parameters.
    pub detail: String,
}

/// Which transaction statement ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxAction {
    /// `BEGIN`
    Begin,
    /// `COMMIT`
    Commit,
    /// `ROLLBACK`
    Rollback,
}

/// The outcome of `BEGIN`, `COMMIT` or `ROLLBACK`.
#[derive(Clone, Debug, PartialEq)]
pub struct TxOutcome {
    /// The statement.
    pub action: TxAction,
    /// The snapshot committed (`COMMIT` only).
    pub snapshot: Option<SnapshotId>,
    /// Keys written by the transaction (`COMMIT`: committed, `ROLLBACK`: discarded).
    pub keys: Vec<String>,
}

impl TxAction {
    fn as_str(self) -> &'static str {
        match self {
            TxAction::Begin => "begin",
            TxAction::Commit => "commit",
            TxAction::Rollback => "rollback",
        }
    }
}

/// The JSON object of one node: key, type, name, version, depth (walks), props.
pub(crate) fn node_json(node: &Node, depth: Option<u32>) -> Map<String, Json> {
    let mut o = Map::new();
    o.insert("key".into(), node.key.to_text().into());
    o.insert("type".into(), node.key.type_name.clone().into());
    o.insert("name".into(), node.key.name.clone().into());
    o.insert("version".into(), node.key.version.into());
    if let Some(d) = depth {
        o.insert("depth".into(), d.into());
    }
    o.insert("props".into(), props_to_json(&node.props));
    o
}

/// The JSON object of one edge.
pub(crate) fn edge_json(e: &Edge) -> Json {
    json!({"from": e.from.to_string(), "to": e.to.to_string(), "label": e.label, "props": props_to_json(&e.props)})
}

impl NodeRows {
    /// The rows' header: what [`crate::ResultSink::begin_rows`] is told.
    pub fn header(&self) -> RowsHeader {
        RowsHeader { columns: self.columns.clone(), walk: self.walk, omitted: self.omitted, rows: self.rows.len() }
    }
}

/// The JSON object of one row: the node whole, or its `RETURN` columns.
pub(crate) fn row_json(columns: &[ColumnName], row: &NodeRow) -> Json {
    if columns.is_empty() {
        return match &row.node {
            Some(node) => Json::Object(node_json(node, row.depth)),
            // Rows printed whole always carry their node; a key is what is left.
            None => json!({"key": row.key.to_text()}),
        };
    }
    let mut o = Map::new();
    for (column, value) in columns.iter().zip(&row.values) {
        o.insert(column.clone(), value.to_json());
    }
    Json::Object(o)
}

impl HistoryResult {
    fn event_json(e: &HistoryEvent) -> Json {
        let mut o = Map::new();
        o.insert("snapshot".into(), e.snapshot.into());
        o.insert("time".into(), e.time.to_string().into());
        o.insert("author".into(), e.author.clone().into());
        match &e.kind {
            HistoryKind::Created { version, label } => {
                o.insert("event".into(), "created".into());
                o.insert("key".into(), e.entity.version(*version).to_string().into());
                o.insert("label".into(), label.clone().into());
            }
            HistoryKind::Annotated { version, props } => {
                o.insert("event".into(), "annotated".into());
                o.insert("key".into(), e.entity.version(*version).to_string().into());
                o.insert("props".into(), props_to_json(props));
            }
            HistoryKind::Deleted { version } => {
                o.insert("event".into(), "deleted".into());
                o.insert("key".into(), e.entity.version(*version).to_string().into());
            }
            HistoryKind::AliasMoved { alias, version, previous, reason } => {
                o.insert("event".into(), "alias_moved".into());
                o.insert("alias".into(), alias.clone().into());
                o.insert("key".into(), version.map(|v| e.entity.version(v).to_string()).into());
                o.insert("previous".into(), previous.map(|v| e.entity.version(v).to_string()).into());
                o.insert("reason".into(), reason.clone().into());
            }
        }
        Json::Object(o)
    }
}

/// The JSON object of an audit entry; `detail` is parsed back into JSON.
pub(crate) fn audit_json(e: &AuditEntry) -> Json {
    let detail = serde_json::from_str::<Json>(&e.detail).unwrap_or_else(|_| Json::String(e.detail.clone()));
    json!({
        "seq": e.seq, "snapshot": e.snapshot, "time": e.time.to_string(), "author": e.author, "op": e.op,
        "subjects": e.subjects, "detail": detail, "digest": e.digest, "prev_hash": e.prev_hash, "hash": e.hash,
    })
}

impl QueryResult {
    /// The JSON form of the result: one object, the shapes documented in
    /// `docs/query-language.md`.
    pub fn to_json(&self) -> Json {
        match self {
            QueryResult::Nodes(rows) => {
                let mut o = Map::new();
                o.insert("rows".into(), Json::Array(rows.rows.iter().map(|r| row_json(&rows.columns, r)).collect()));
                if rows.omitted > 0 {
                    o.insert("omitted".into(), rows.omitted.into());
                }
                Json::Object(o)
            }
            QueryResult::Lineage(g) => json!({
                "nodes": g.nodes.iter().map(|r| Json::Object(node_json(&r.node, Some(r.depth)))).collect::<Vec<_>>(),
                "edges": g.edges.iter().map(edge_json).collect::<Vec<_>>(),
            }),
            QueryResult::Path(p) => json!({"path": p.nodes, "labels": p.labels}),
            QueryResult::Write(w) => json!({"ok": true, "snapshot": w.snapshot, "keys": w.keys}),
            QueryResult::Node(d) => {
                let mut o = node_json(&d.node, None);
                o.insert("label".into(), d.node.label.clone().into());
                o.insert("created_at".into(), d.node.created_at.to_string().into());
                o.insert("created_in".into(), d.node.created_in.into());
                o.insert("created_by".into(), d.node.created_by.clone().into());
                o.insert("aliases".into(), d.aliases.clone().into());
                o.insert("incoming".into(), d.incoming.iter().map(edge_json).collect());
                o.insert("outgoing".into(), d.outgoing.iter().map(edge_json).collect());
                json!({ "node": o })
            }
            QueryResult::History(h) => json!({
                "entity": h.entity,
                "history": h.events.iter().map(HistoryResult::event_json).collect::<Vec<_>>(),
            }),
            QueryResult::Diff(d) => d.to_json(),
            QueryResult::Report(r) => match r.format {
                None | Some(crate::syntax::ReportFormat::Json) => r.json.clone(),
                Some(f) => json!({"format": f.to_string(), "digest": r.digest, "document": r.render(f)}),
            },
            QueryResult::Snapshots(s) => json!({
                "snapshots": s.iter().map(|s| json!({
                    "id": s.id, "time": s.time.to_string(), "author": s.author, "message": s.message, "changes": s.changes,
                })).collect::<Vec<_>>(),
            }),
            QueryResult::Audit(a) => {
                let mut o = Map::new();
                o.insert("audit".into(), a.entries.iter().map(audit_json).collect());
                if a.omitted > 0 {
                    o.insert("omitted".into(), a.omitted.into());
                }
                Json::Object(o)
            }
            QueryResult::Verify(v) => json!({
                "verify": {
                    "ok": v.is_ok(), "audit_entries": v.audit_entries, "nodes": v.nodes, "edges": v.edges,
                    "snapshots": v.snapshots, "problems": v.problems,
                }
            }),
            QueryResult::Explain(p) => json!({
                "plan": {
                    "statement": p.statement,
                    "steps": p.steps.iter().map(|s| json!({"op": s.op, "detail": s.detail})).collect::<Vec<_>>(),
                }
            }),
            QueryResult::Transaction(t) => json!({
                "ok": true, "transaction": t.action.as_str(), "snapshot": t.snapshot, "keys": t.keys,
            }),
        }
    }
}
