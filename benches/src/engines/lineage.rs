//! LineageDB through its public engine API: bulk load in a few large write
//! transactions, and the query mix as `ancestors/descendants(..).only_type(..)
//! .collect_ids()` on a warm handle, at the head or `AS OF` a snapshot.

use std::collections::HashMap;
use std::path::Path;

use lineagedb_engine::{Database, NewNode, NodeId, NodeKey, NodeRef, Props, ReadTx, SnapshotId, VersionSel};

use crate::error::Result;
use crate::graph::{GenNode, LineageGraph};
use crate::mix::{Direction, Query};

/// How a load names the ends of each edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// By the node ids `create_with_id` returned (`link_ids`): what a
    /// program that creates the nodes itself does, and what the SQLite load
    /// does (it inserts edges by integer id).
    Ids,
    /// By exact key (`link` with a `NodeRef` per node, built inside the
    /// timed load): what a loader that keeps no ids does.
    Keys,
}

/// Creates a fresh database at `path` and loads `graph` in `commits` write
/// transactions (at least one): each creates a contiguous range of nodes in
/// order, then the edges entering them, in destination order (so every edge's
/// cycle check starts from a node with no outgoing edges yet). Edges are
/// linked by node id. Returns the snapshot of each commit.
pub fn load(path: &Path, graph: &LineageGraph, commits: usize) -> Result<(Database, Vec<SnapshotId>)> {
    load_linking(path, graph, commits, Linking::Ids)
}

/// `load`, naming edge ends as `linking` says.
pub fn load_linking(
    path: &Path,
    graph: &LineageGraph,
    commits: usize,
    linking: Linking,
) -> Result<(Database, Vec<SnapshotId>)> {
    let db = Database::create(path)?;
    let snapshots = load_into(&db, graph, commits, linking)?;
    Ok((db, snapshots))
}

/// Loads `graph` into an empty `db`; see [`load`].
pub fn load_into(db: &Database, graph: &LineageGraph, commits: usize, linking: Linking) -> Result<Vec<SnapshotId>> {
    let commits = commits.max(1);
    let n = graph.nodes.len();
    let refs: Vec<NodeRef> = match linking {
        Linking::Keys => graph.nodes.iter().map(node_ref).collect(),
        Linking::Ids => Vec::new(),
    };
    let mut ids: Vec<NodeId> = Vec::with_capacity(if linking == Linking::Ids { n } else { 0 });
    let mut snapshots = Vec::with_capacity(commits);
    let mut edge = 0;
    for batch in 0..commits {
        let (lo, hi) = (n * batch / commits, n * (batch + 1) / commits);
        let mut tx = db.begin_write()?;
        tx.message(format!("benchmark load {}/{commits}", batch + 1));
        // A bulk load: one audit entry covering the batch, as `lineagedb import` does.
        tx.batch_audit("bulk_load", serde_json::json!({"batch": batch + 1}))?;
        for (i, node) in graph.nodes[lo..hi].iter().enumerate() {
            let props = lineagedb_engine::props_from_json(&graph.props((lo + i) as u32)).unwrap_or_default();
            let new = NewNode {
                type_name: node.node_type.as_str().to_owned(),
                name: node.name.clone(),
                version: Some(node.version),
                label: None,
                props,
            };
            match linking {
                Linking::Ids => ids.push(tx.create_with_id(new)?.1),
                Linking::Keys => {
                    tx.create(new)?;
                }
            }
        }
        while edge < graph.edges.len() && (graph.edges[edge].dst as usize) < hi {
            let e = graph.edges[edge];
            let (src, dst) = (e.src as usize, e.dst as usize);
            match linking {
                Linking::Ids => tx.link_ids(ids[src], ids[dst], e.label.as_str(), Props::new())?,
                Linking::Keys => tx.link(&refs[src], &refs[dst], e.label.as_str(), Props::new())?,
            }
            edge += 1;
        }
        snapshots.push(tx.commit()?);
    }
    Ok(snapshots)
}

/// The engine reference naming exactly `node`.
pub fn node_ref(node: &GenNode) -> NodeRef {
    NodeRef {
        type_name: node.node_type.as_str().to_owned(),
        name: node.name.clone(),
        version: VersionSel::Number(node.version),
    }
}

/// Runs one query of the mix in a read transaction at the head, or at `at`.
/// This is the timed unit: begin the read, resolve the start, walk, return ids.
pub fn run_query(db: &Database, query: &Query, at: Option<SnapshotId>) -> Result<Vec<(NodeId, u32)>> {
    let read = match at {
        Some(snapshot) => db.begin_read_at(snapshot)?,
        None => db.begin_read()?,
    };
    run_in(&read, query)
}

/// Runs one query of the mix in an open read transaction.
pub fn run_in(read: &ReadTx, query: &Query) -> Result<Vec<(NodeId, u32)>> {
    let walk = match query.direction {
        Direction::Ancestors => read.ancestors(&query.node_ref),
        Direction::Descendants => read.descendants(&query.node_ref),
    };
    Ok(walk.only_type(query.want.as_str()).collect_ids()?)
}

/// Maps LineageDB node ids to generated node indices through their keys
/// (never assuming how the engine numbers nodes). `keys` maps key text to index.
#[derive(Debug, Default)]
pub struct IdMap {
    known: HashMap<NodeId, u32>,
}

impl IdMap {
    /// The generated indices of `ids`, sorted.
    pub fn indices(&mut self, db: &Database, keys: &HashMap<String, u32>, ids: &[(NodeId, u32)]) -> Result<Vec<u32>> {
        let read = db.begin_read()?;
        let mut out = Vec::with_capacity(ids.len());
        for &(id, _) in ids {
            let index = match self.known.get(&id) {
                Some(&i) => i,
                None => {
                    let key: NodeKey = read.key_by_id(id)?;
                    let text = key.to_string();
                    let i = *keys.get(&text).ok_or_else(|| crate::error::Error::Mismatch {
                        query: String::new(),
                        detail: format!("lineagedb returned `{text}`, which the generated graph does not have"),
                    })?;
                    self.known.insert(id, i);
                    i
                }
            };
            out.push(index);
        }
        out.sort_unstable();
        Ok(out)
    }
}
