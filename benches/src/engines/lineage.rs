//! LineageDB through its public engine API: bulk load in a few large write
//! transactions, and the query mix as `ancestors/descendants(..).only_type(..)
//! .collect_ids()` on a warm handle, at the head or `AS OF` a snapshot.

use std::collections::HashMap;
use std::path::Path;

use lineagedb_engine::{Database, NewNode, NodeId, NodeKey, NodeRef, Props, ReadTx, SnapshotId, VersionSel};

use crate::error::Result;
use crate::graph::{GenNode, LineageGraph};
use crate::mix::{Direction, Query};

/// Creates a fresh database at `path` and loads `graph` in `commits` write
/// transactions (at least one): each creates a contiguous range of nodes in
/// order, then the edges entering them, in destination order (so every edge's
/// cycle check starts from a node with no outgoing edges yet). Returns the
/// snapshot of each commit.
pub fn load(path: &Path, graph: &LineageGraph, commits: usize) -> Result<(Database, Vec<SnapshotId>)> {
    let db = Database::create(path)?;
    let snapshots = load_into(&db, graph, commits)?;
    Ok((db, snapshots))
}

/// Loads `graph` into an empty `db`; see [`load`].
pub fn load_into(db: &Database, graph: &LineageGraph, commits: usize) -> Result<Vec<SnapshotId>> {
    let commits = commits.max(1);
    let n = graph.nodes.len();
    let refs: Vec<NodeRef> = graph.nodes.iter().map(node_ref).collect();
    let mut snapshots = Vec::with_capacity(commits);
    let mut edge = 0;
    for batch in 0..commits {
        let (lo, hi) = (n * batch / commits, n * (batch + 1) / commits);
        let mut tx = db.begin_write()?;
        tx.message(format!("benchmark load {}/{commits}", batch + 1));
        // A bulk load: one audit entry covering the batch, as `lineagedb import` does.
        tx.batch_audit("bulk_load", serde_json::json!({"batch": batch + 1}))?;
        for node in &graph.nodes[lo..hi] {
            tx.create(NewNode {
                type_name: node.node_type.as_str().to_owned(),
                name: node.name.clone(),
                version: Some(node.version),
                label: None,
                props: Props::new(),
            })?;
        }
        while edge < graph.edges.len() && (graph.edges[edge].dst as usize) < hi {
            let e = graph.edges[edge];
            tx.link(&refs[e.src as usize], &refs[e.dst as usize], e.label.as_str(), Props::new())?;
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
