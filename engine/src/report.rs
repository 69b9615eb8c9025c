//! The lineage report on one node (`REPORT` in the query language,
//! `lineagedb report` on the command line): what produced it, from which data
//! and code, who promoted it, what depends on it now, and the audit entries
//! behind all of it, gathered in one read transaction so every part is of the
//! same snapshot. Rendering (Markdown, JSON, DOT, HTML) and the report's
//! digest live in the query crate; this is the data.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{Error, Result};
use crate::key::{NodeKey, NodeRef};
use crate::model::{AuditEntry, AuditFilter, Edge, HistoryKind, Node, Reached, Snapshot};
use crate::read::ReadTx;
use crate::storage::codec::SnapshotId;
use crate::value::Timestamp;

/// Everything a reviewer needs about one node, at one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The snapshot the report was taken at.
    pub snapshot: Snapshot,
    /// The node reported on (depth 0).
    pub subject: ReportNode,
    /// Every alias the subject's version held, now or in the past, oldest first.
    pub aliases: Vec<AliasSpan>,
    /// The runs with an edge into the subject (for a model: its training runs).
    pub runs: Vec<ProducingRun>,
    /// Every node upstream of the subject, by depth then key.
    pub upstream: Vec<ReportNode>,
    /// The edges between the subject and its upstream nodes.
    pub upstream_edges: Vec<Edge>,
    /// The upstream nodes and the subject in topological order: every node
    /// comes after everything it was made from.
    pub chain: Vec<NodeKey>,
    /// Every node downstream of the subject (deployments, models built on
    /// it, ...), by depth then key.
    pub downstream: Vec<ReportNode>,
    /// The edges between the subject and its downstream nodes.
    pub downstream_edges: Vec<Edge>,
    /// The audit entries of the report, oldest first: every entry naming the
    /// subject, every entry about report nodes only (a shared job's links to
    /// runs outside the lineage are left out), the batch entries (imports,
    /// recorded runs) of the snapshots that created one of its nodes or
    /// edges, and the promotions that moved an alias away from the subject.
    pub audit: Vec<AuditEntry>,
}

/// A node of the report with its distance from the subject and its record digest.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportNode {
    /// The node as seen at the report's snapshot.
    pub node: Node,
    /// Edges on a shortest path from the subject (0 for the subject).
    pub depth: u32,
    /// SHA-256 (hex) of the node's stored content as created: the hash the
    /// audit log's batch digests and `verify` use for it.
    pub record_digest: String,
}

/// A period during which the subject held an alias.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasSpan {
    /// The alias (`production`, `champion`, ...).
    pub alias: String,
    /// The snapshot that moved the alias to the subject.
    pub since: SnapshotId,
    /// When.
    pub since_time: Timestamp,
    /// Who moved it.
    pub by: String,
    /// Why, as given by the promoter.
    pub reason: Option<String>,
    /// The version that held the alias before.
    pub previous: Option<u64>,
    /// The snapshot that moved the alias away, or `None` while the subject holds it.
    pub until: Option<SnapshotId>,
}

/// A run with an edge into the subject, with what it was given.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducingRun {
    /// The run node.
    pub run: Node,
    /// The label of the edge from the run to the subject (`output`).
    pub label: String,
    /// The jobs the run is an execution of (edges from `job` nodes).
    pub jobs: Vec<NodeKey>,
    /// The code versions it ran (edges from `code` nodes; the edge holds
    /// `branch` and `dirty` when the run wrapper recorded them).
    pub code: Vec<(Node, Edge)>,
    /// Every other node with an edge into the run (data, earlier models), with that edge.
    pub inputs: Vec<(Node, Edge)>,
}

impl ReadTx {
    /// The lineage report on the node `r` resolves to, at this transaction's snapshot.
    pub fn report(&self, r: &NodeRef) -> Result<Report> {
        let subject = self.node(r)?;
        let snapshot = self.snapshots(Some(1))?.into_iter().next().ok_or_else(|| Error::NoSuchNode {
            reference: r.to_string(),
            hint: Some("the database has no snapshot yet".to_owned()),
        })?;
        let subject_ref = subject.key.to_ref();
        let up = self.lineage(&subject_ref, true, false, None)?;
        let down = self.lineage(&subject_ref, false, true, None)?;
        let subject = self.report_node(subject, 0)?;
        let upstream = up.nodes.into_iter().map(|n| self.reached(n)).collect::<Result<Vec<_>>>()?;
        let downstream = down.nodes.into_iter().map(|n| self.reached(n)).collect::<Result<Vec<_>>>()?;
        let by_key: HashMap<&NodeKey, &Node> = upstream.iter().map(|n| (&n.node.key, &n.node)).collect();
        let runs = producing_runs(&subject.node.key, &up.edges, &by_key);
        let chain = topological(&subject.node.key, &upstream, &up.edges)?;
        let aliases = self.alias_spans(&subject.node)?;
        let nodes = std::iter::once(&subject).chain(&upstream).chain(&downstream);
        let audit = self.audit_of(&subject.node.key, &aliases, nodes, up.edges.iter().chain(&down.edges))?;
        Ok(Report {
            snapshot,
            subject,
            aliases,
            runs,
            upstream,
            upstream_edges: up.edges,
            chain,
            downstream,
            downstream_edges: down.edges,
            audit,
        })
    }

    fn reached(&self, r: Reached) -> Result<ReportNode> {
        self.report_node(r.node, r.depth)
    }

    fn report_node(&self, node: Node, depth: u32) -> Result<ReportNode> {
        let digest = self.record_digest(node.id)?;
        Ok(ReportNode { node, depth, record_digest: digest })
    }

    /// The periods during which `node`'s version held each alias of its entity.
    fn alias_spans(&self, node: &Node) -> Result<Vec<AliasSpan>> {
        let version = node.key.version;
        let mut spans: Vec<AliasSpan> = Vec::new();
        for event in self.history(&node.key.entity())? {
            let HistoryKind::AliasMoved { alias, version: to, previous, reason } = event.kind else { continue };
            let open = spans.iter_mut().find(|s| s.alias == alias && s.until.is_none());
            match (open, to == Some(version)) {
                // Moved to another version (or removed) while the subject held it.
                (Some(span), false) => span.until = Some(event.snapshot),
                // Promoted again while already holding it: the same period.
                (Some(_), true) => {}
                (None, true) => spans.push(AliasSpan {
                    alias,
                    since: event.snapshot,
                    since_time: event.time,
                    by: event.author,
                    reason,
                    previous,
                    until: None,
                }),
                (None, false) => {}
            }
        }
        Ok(spans)
    }

    /// The audit entries of the report, in one pass over the log, oldest
    /// first: every entry naming the subject; every entry all of whose
    /// subjects are `nodes` (a shared job's links to runs outside the lineage
    /// are not about it); the batch entries (no subjects) of the snapshots
    /// that created one of `nodes` or `edges`; and the promotions that ended
    /// one of the subject's alias periods.
    fn audit_of<'a>(
        &self,
        subject: &NodeKey,
        aliases: &[AliasSpan],
        nodes: impl Iterator<Item = &'a ReportNode>,
        edges: impl Iterator<Item = &'a Edge>,
    ) -> Result<Vec<AuditEntry>> {
        let mut keys: HashSet<String> = HashSet::new();
        let mut created: HashSet<SnapshotId> = edges.map(|e| e.created_in).collect();
        for n in nodes {
            keys.insert(n.node.key.to_string());
            created.insert(n.node.created_in);
        }
        // The promotions that moved an alias away from the subject name the
        // new holder only; they belong to the subject's alias history too.
        let moved_away: HashSet<SnapshotId> = aliases.iter().filter_map(|a| a.until).collect();
        let entity = format!("{}@", subject.entity());
        let subject = subject.to_string();
        let mut out = Vec::new();
        self.audit_each(&AuditFilter::default(), &mut |e| {
            let within = !e.subjects.is_empty() && e.subjects.iter().all(|s| keys.contains(s));
            let batch = e.subjects.is_empty() && created.contains(&e.snapshot);
            let moved = e.op == "promote"
                && moved_away.contains(&e.snapshot)
                && e.subjects.iter().any(|s| s.starts_with(&entity));
            if within || batch || moved || e.subjects.contains(&subject) {
                out.push(e);
            }
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(out)
    }
}

/// The runs with an edge into `subject`, each with its jobs, code and inputs
/// (from the upstream edges).
fn producing_runs(subject: &NodeKey, edges: &[Edge], by_key: &HashMap<&NodeKey, &Node>) -> Vec<ProducingRun> {
    let mut runs = Vec::new();
    for e in edges.iter().filter(|e| &e.to == subject && e.from.type_name == "run") {
        let Some(run) = by_key.get(&e.from) else { continue };
        let mut produced = ProducingRun {
            run: (*run).clone(),
            label: e.label.clone(),
            jobs: Vec::new(),
            code: Vec::new(),
            inputs: Vec::new(),
        };
        for into_run in edges.iter().filter(|x| x.to == e.from) {
            let Some(from) = by_key.get(&into_run.from) else { continue };
            match from.key.type_name.as_str() {
                "job" => produced.jobs.push(from.key.clone()),
                "code" => produced.code.push(((*from).clone(), into_run.clone())),
                _ => produced.inputs.push(((*from).clone(), into_run.clone())),
            }
        }
        runs.push(produced);
    }
    runs
}

/// The upstream nodes and the subject in an order where every node comes
/// after its sources (Kahn's algorithm on a petgraph graph). Among the nodes
/// ready at each step the farthest from the subject goes first, then the
/// smallest key: the order is the same every time and reads from the raw
/// data towards the subject.
fn topological(subject: &NodeKey, upstream: &[ReportNode], edges: &[Edge]) -> Result<Vec<NodeKey>> {
    let mut graph: DiGraph<(u32, &NodeKey), ()> = DiGraph::new();
    let mut index: HashMap<&NodeKey, NodeIndex> = HashMap::new();
    for (depth, key) in upstream.iter().map(|n| (n.depth, &n.node.key)).chain(std::iter::once((0, subject))) {
        index.insert(key, graph.add_node((depth, key)));
    }
    for e in edges {
        if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
            graph.add_edge(a, b, ());
        }
    }
    let mut waiting: HashMap<NodeIndex, usize> =
        graph.node_indices().map(|i| (i, graph.neighbors_directed(i, Direction::Incoming).count())).collect();
    let ready_entry = |i: NodeIndex| {
        let (depth, key) = graph[i];
        (depth, Reverse(key), i)
    };
    let mut ready: BinaryHeap<_> = waiting.iter().filter(|(_, n)| **n == 0).map(|(i, _)| ready_entry(*i)).collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some((_, Reverse(key), i)) = ready.pop() {
        order.push(key.clone());
        for next in graph.neighbors_directed(i, Direction::Outgoing) {
            let n = waiting.get_mut(&next).expect("every node has a count");
            *n -= 1;
            if *n == 0 {
                ready.push(ready_entry(next));
            }
        }
    }
    if order.len() != graph.node_count() {
        return Err(Error::Corrupt { detail: format!("the lineage of {subject} has a cycle") });
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use crate::{Database, NodeRef, Props, Value};

    fn r(text: &str) -> NodeRef {
        text.parse().expect("a valid reference")
    }

    fn props(pairs: &[(&str, Value)]) -> Props {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    /// raw -> clean_run -> clean -> train_run -> model -> deployment, with a
    /// job and code on the training run, and an unrelated dataset.
    fn graph() -> Database {
        let db = Database::in_memory().unwrap();
        let mut tx = db.begin_write().unwrap();
        tx.author("ana");
        for (t, n, p) in [
            ("dataset", "raw", props(&[("source", Value::from("s3://raw")), ("sha256", Value::from("aa11"))])),
            ("run", "clean_1", Props::new()),
            ("dataset", "clean", Props::new()),
            ("dataset", "unrelated", Props::new()),
        ] {
            tx.create_node(t, n, p).unwrap();
        }
        tx.link(&r("dataset:raw@1"), &r("run:clean_1@1"), "input", Props::new()).unwrap();
        tx.link(&r("run:clean_1@1"), &r("dataset:clean@1"), "output", Props::new()).unwrap();
        tx.commit().unwrap(); // 1
        let mut tx = db.begin_write().unwrap();
        tx.author("bruno");
        tx.create_node("job", "train", Props::new()).unwrap();
        tx.create_node("code", "repo", props(&[("commit", Value::from("c0ffee"))])).unwrap();
        tx.create_node("run", "train_1", props(&[("command", Value::from("python train.py"))])).unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.link(&r("job:train@1"), &r("run:train_1@1"), "job", Props::new()).unwrap();
        tx.link(&r("code:repo@1"), &r("run:train_1@1"), "code", props(&[("branch", Value::from("main"))])).unwrap();
        tx.link(&r("dataset:clean@1"), &r("run:train_1@1"), "input", Props::new()).unwrap();
        tx.link(&r("run:train_1@1"), &r("model:fraud@1"), "output", Props::new()).unwrap();
        tx.commit().unwrap(); // 2
        let mut tx = db.begin_write().unwrap();
        tx.promote(&r("model:fraud@1"), "production", Some("best auc")).unwrap();
        tx.create_node("deployment", "api", Props::new()).unwrap();
        tx.link(&r("model:fraud@1"), &r("deployment:api@1"), "serves", Props::new()).unwrap();
        tx.commit().unwrap(); // 3
        let mut tx = db.begin_write().unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.promote(&r("model:fraud@2"), "production", None).unwrap();
        tx.commit().unwrap(); // 4
        db
    }

    fn keys(nodes: &[super::ReportNode]) -> Vec<String> {
        nodes.iter().map(|n| n.node.key.to_string()).collect()
    }

    #[test]
    fn a_report_names_the_run_its_code_inputs_chain_consumers_and_alias_periods() {
        let db = graph();
        let report = db.begin_read().unwrap().report(&r("model:fraud@1")).unwrap();
        assert_eq!(report.snapshot.id, 4);
        assert_eq!(report.subject.node.key.to_string(), "model:fraud@1");
        let [run] = &report.runs[..] else { panic!("one producing run: {:?}", report.runs) };
        assert_eq!(run.run.key.to_string(), "run:train_1@1");
        assert_eq!(run.label, "output");
        assert_eq!(run.jobs.iter().map(ToString::to_string).collect::<Vec<_>>(), ["job:train@1"]);
        let [(code, edge)] = &run.code[..] else { panic!("one code version") };
        assert_eq!(code.props.get("commit"), Some(&Value::from("c0ffee")));
        assert_eq!(edge.props.get("branch"), Some(&Value::from("main")));
        let inputs: Vec<String> = run.inputs.iter().map(|(n, e)| format!("{} {}", n.key, e.label)).collect();
        assert_eq!(inputs, ["dataset:clean@1 input"]);

        assert_eq!(
            keys(&report.upstream),
            ["run:train_1@1", "code:repo@1", "dataset:clean@1", "job:train@1", "run:clean_1@1", "dataset:raw@1"]
        );
        assert!(!keys(&report.upstream).contains(&"dataset:unrelated@1".to_owned()));
        assert_eq!(keys(&report.downstream), ["deployment:api@1"]);

        // Every edge goes forward in the chain, which ends with the subject.
        let chain: Vec<String> = report.chain.iter().map(ToString::to_string).collect();
        assert_eq!(chain.len(), report.upstream.len() + 1);
        assert_eq!(chain.last().map(String::as_str), Some("model:fraud@1"));
        assert_eq!(chain.first().map(String::as_str), Some("dataset:raw@1"));
        let at = |k: &str| chain.iter().position(|c| c == k).expect("in the chain");
        for e in &report.upstream_edges {
            assert!(at(&e.from.to_string()) < at(&e.to.to_string()), "{} -> {} out of order", e.from, e.to);
        }

        let [span] = &report.aliases[..] else { panic!("one alias period: {:?}", report.aliases) };
        assert_eq!((span.alias.as_str(), span.since, span.until), ("production", 3, Some(4)));
        assert_eq!(span.reason.as_deref(), Some("best auc"));

        // Audit: entries of the report's nodes only.
        let subjects: Vec<&str> = report.audit.iter().flat_map(|e| e.subjects.iter().map(String::as_str)).collect();
        assert!(subjects.contains(&"dataset:raw@1") && subjects.contains(&"deployment:api@1"));
        assert!(!subjects.contains(&"dataset:unrelated@1"));
        // Version 2's promotion names only version 2, but it ended the subject's alias period.
        let promotions: Vec<(u64, &[String])> =
            report.audit.iter().filter(|e| e.op == "promote").map(|e| (e.snapshot, &e.subjects[..])).collect();
        assert_eq!(promotions.len(), 2, "{promotions:?}");
        assert_eq!(promotions[1], (4, &["model:fraud@2".to_owned()][..]));
        assert!(report.audit.windows(2).all(|w| w[0].seq < w[1].seq));
    }

    #[test]
    fn a_report_as_of_an_earlier_snapshot_sees_only_that_snapshot() {
        let db = graph();
        let report = db.begin_read().unwrap().as_of(2).unwrap().report(&r("model:fraud@1")).unwrap();
        assert_eq!(report.snapshot.id, 2);
        assert!(report.downstream.is_empty());
        assert!(report.aliases.is_empty());
        assert!(report.audit.iter().all(|e| e.snapshot <= 2));
        // Held now: the alias period is open at snapshot 3.
        let report = db.begin_read().unwrap().as_of(3).unwrap().report(&r("model:fraud@production")).unwrap();
        assert_eq!(report.subject.node.key.to_string(), "model:fraud@1");
        assert_eq!(report.aliases[0].until, None);
    }

    #[test]
    fn a_source_dataset_has_no_run_and_every_node_downstream() {
        let db = graph();
        let read = db.begin_read().unwrap();
        let report = read.report(&r("dataset:raw@1")).unwrap();
        assert!(report.runs.is_empty(), "nothing produced the raw data");
        assert_eq!(
            keys(&report.downstream),
            ["run:clean_1@1", "dataset:clean@1", "run:train_1@1", "model:fraud@1", "deployment:api@1"]
        );
        assert_eq!(report.chain.iter().map(ToString::to_string).collect::<Vec<_>>(), ["dataset:raw@1"]);
        // Digests cover the node id: two nodes with the same content differ.
        let other = read.report(&r("dataset:clean@1")).unwrap();
        assert_eq!(report.subject.record_digest.len(), 64);
        assert_ne!(report.subject.record_digest, other.subject.record_digest);
        assert!(read.report(&r("dataset:nothing@1")).is_err());
    }
}
