//! `verify`: recompute the audit hash chain and check the graph invariants
//! (both adjacency directions agree, no edge dangles or outlives its nodes,
//! every key maps to its node, node content matches its audit entry, and the
//! live graph is a DAG).

use std::collections::{HashMap, HashSet};

use crate::audit::{entry_hash, sha256};
use crate::db::Dict;
use crate::error::Result;
use crate::model::VerifyReport;
use crate::storage::StoreRead;
use crate::storage::codec::{Dir, LIVE, NodeId, NodeRecord, adj_key};

/// The content hash of a node for batch digests: SHA-256 of its id and its
/// postcard record as created (without the later tombstone).
pub(crate) fn node_content_hash(id: NodeId, record: &NodeRecord) -> Result<[u8; 32]> {
    let bytes = match record.deleted_in {
        None => crate::storage::encode(record)?,
        Some(_) => crate::storage::encode(&NodeRecord { deleted_in: None, ..record.clone() })?,
    };
    Ok(encoded_node_hash(id, &bytes))
}

/// `node_content_hash` of a live node from its encoded record.
pub(crate) fn encoded_node_hash(id: NodeId, encoded: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::default();
    hasher.update(id.to_be_bytes());
    hasher.update(encoded);
    hasher.finalize().into()
}

/// The content hash of an edge for batch digests: SHA-256 of its adjacency
/// key and its postcard properties.
pub(crate) fn edge_content_hash(key: &[u8; 28], props: &crate::value::Props) -> Result<[u8; 32]> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::default();
    hasher.update(key);
    if props.is_empty() {
        // postcard's encoding of an empty map: its length, 0.
        hasher.update([0u8]);
    } else {
        hasher.update(crate::storage::encode(props)?);
    }
    Ok(hasher.finalize().into())
}

/// An edge's adjacency key with its content hash.
pub(crate) type EdgeHash = ([u8; 28], [u8; 32]);

/// SHA-256 over the content hashes of `edges`, in key order (sorted here).
pub(crate) fn edges_digest(edges: &mut [EdgeHash]) -> [u8; 32] {
    use sha2::Digest;
    edges.sort_unstable_by_key(|a| a.0);
    let mut hasher = sha2::Sha256::default();
    for (_, hash) in edges.iter() {
        hasher.update(hash);
    }
    hasher.finalize().into()
}

/// The content digest of a batch: SHA-256 of the nodes digest and the edges digest.
pub(crate) fn combine_digests(nodes: &[u8; 32], edges: &[u8; 32]) -> [u8; 32] {
    let mut both = [0u8; 64];
    both[..32].copy_from_slice(nodes);
    both[32..].copy_from_slice(edges);
    sha256(&both)
}

/// `progress(done, total)` is called as audit entries and nodes are checked
/// (the bulk of the work); edges and the DAG check follow.
pub(crate) fn verify(tables: &dyn StoreRead, dict: &Dict, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
    let counters = tables.counters()?;
    let mut report = VerifyReport::default();
    let problems = &mut report.problems;

    // 1. The audit chain.
    let entries = tables.audit(1, u64::MAX)?;
    report.audit_entries = entries.len() as u64;
    let mut prev = [0u8; 32];
    let mut expected_seq = 1;
    let mut created: HashMap<String, String> = HashMap::new();
    // Batch entries (bulk imports): snapshot -> (seq, content digest).
    let mut batches: HashMap<u64, (u64, String)> = HashMap::new();
    // Per batch snapshot: the running digest of its nodes, in id order.
    let mut batch_nodes: HashMap<u64, sha2::Sha256> = HashMap::new();
    let total = entries.len() as u64 + counters.next_node.saturating_sub(1);
    let mut done = 0u64;
    let mut tick = |progress: &mut dyn FnMut(u64, u64)| {
        done += 1;
        if done % 4096 == 0 || done == total {
            progress(done, total);
        }
    };
    for e in &entries {
        tick(progress);
        if e.seq != expected_seq {
            problems.push(format!("audit entry {expected_seq} is missing (next entry found is {})", e.seq));
            expected_seq = e.seq;
        }
        if e.prev != prev {
            problems.push(format!("audit entry {} does not chain to the entry before it", e.seq));
        }
        if sha256(e.detail.as_bytes()) != e.digest {
            problems.push(format!("audit entry {} was altered: its detail does not match its digest", e.seq));
        }
        if entry_hash(e) != e.hash {
            problems.push(format!("audit entry {} was altered: its hash does not match its content", e.seq));
        }
        if e.op == "create_node" {
            if let Some(key) = e.subjects.first() {
                created.insert(key.clone(), e.detail.clone());
            }
        }
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&e.detail) {
            if let Some(serde_json::Value::String(content)) = map.get("content_sha256") {
                batches.insert(e.snapshot, (e.seq, content.clone()));
            }
        }
        prev = e.hash;
        expected_seq += 1;
    }
    if report.audit_entries != counters.audit_seq {
        problems.push(format!(
            "the audit log holds {} entries but {} were written",
            report.audit_entries, counters.audit_seq
        ));
    }
    if prev != counters.audit_tip {
        problems.push("the last audit entry is not the one last written (entries were dropped or appended)".to_owned());
    }

    // 2. Nodes and the key dictionary.
    let mut nodes: HashMap<NodeId, NodeRecord> = HashMap::new();
    let damaged = tables.node_store_problems()?;
    let blocks_damaged = !damaged.is_empty();
    problems.extend(damaged);
    for id in 1..counters.next_node {
        tick(progress);
        let record = match tables.node(id) {
            // Reported above, block by block.
            Err(crate::error::Error::Corrupt { .. }) if blocks_damaged => continue,
            other => other?,
        };
        match record {
            Some(record) => {
                let key = match dict.type_name(record.type_id) {
                    Ok(t) => crate::key::NodeKey {
                        type_name: t.to_owned(),
                        name: record.name.clone(),
                        version: record.version,
                    },
                    Err(e) => {
                        problems.push(format!("node {id}: {e}"));
                        continue;
                    }
                };
                if tables.node_id(record.type_id, &record.name, record.version)? != Some(id) {
                    problems.push(format!("key {key} does not map to its node"));
                }
                let text = key.to_string();
                match created.get(&text) {
                    Some(detail)
                        if *detail
                            == crate::write::create_detail(
                                id,
                                &text,
                                record.label.as_deref(),
                                &record.props,
                                record.created_in,
                            ) => {}
                    Some(_) => problems
                        .push(format!("{text} differs from what its audit entry recorded (content was altered)")),
                    None if batches.contains_key(&record.created_in) => {
                        let hash = node_content_hash(id, &record)?;
                        sha2::Digest::update(batch_nodes.entry(record.created_in).or_default(), hash);
                    }
                    None => problems.push(format!("{text} has no audit entry for its creation")),
                }
                nodes.insert(id, record);
            }
            None => problems.push(format!("node id {id} was assigned but has no record")),
        }
    }
    report.nodes = nodes.len() as u64;

    // 3. Edges: the adjacency blocks decode (runs in key order, lengths that
    // add up), both directions agree, nothing dangles or outlives its nodes.
    for dir in [Dir::Out, Dir::In] {
        problems.extend(tables.adjacency_block_problems(dir)?);
    }
    let out: HashSet<(NodeId, NodeId, u32, u64, u64)> = tables
        .all_adjacency(Dir::Out, true)?
        .into_iter()
        .map(|(n, e)| (n, e.neighbor, e.label, e.created_in, e.deleted_in))
        .collect();
    let inn: HashSet<(NodeId, NodeId, u32, u64, u64)> = tables
        .all_adjacency(Dir::In, true)?
        .into_iter()
        .map(|(n, e)| (e.neighbor, n, e.label, e.created_in, e.deleted_in))
        .collect();
    report.edges = out.len() as u64;
    // Problems name nodes by key where the node record exists.
    let name = |id: NodeId| {
        nodes
            .get(&id)
            .and_then(|r| crate::resolve::key_of(dict, r).ok())
            .map_or_else(|| format!("node #{id}"), |k| k.to_string())
    };
    for edge in out.symmetric_difference(&inn) {
        problems.push(format!(
            "edge {} -> {} (snapshot {}) is recorded in one direction only",
            name(edge.0),
            name(edge.1),
            edge.3
        ));
    }
    let mut live: Vec<(NodeId, NodeId)> = Vec::new();
    let mut backward = 0u64;
    let mut batch_edges: HashMap<u64, Vec<EdgeHash>> = HashMap::new();
    for &(from, to, label, created_in, deleted_in) in &out {
        if batches.contains_key(&created_in) {
            let key = adj_key(from, to, label, created_in);
            let hash = edge_content_hash(&key, &tables.edge_props(&key)?)?;
            batch_edges.entry(created_in).or_default().push((key, hash));
        }
        if deleted_in == LIVE && from >= to {
            backward += 1;
        }
        for end in [from, to] {
            let edge = || format!("edge {} -> {}", name(from), name(to));
            match nodes.get(&end) {
                None => problems.push(format!("{} points at missing node #{end}", edge())),
                Some(n) => {
                    if created_in < n.created_in {
                        problems.push(format!("{} exists before {} was created", edge(), name(end)));
                    }
                    if n.deleted_in.is_some_and(|d| deleted_in > d) {
                        problems.push(format!("{} outlives deleted {}", edge(), name(end)));
                    }
                }
            }
        }
        if deleted_in == LIVE {
            live.push((from, to));
        }
    }

    if backward != counters.backward_edges {
        problems.push(format!(
            "{backward} live edges run from a newer node to an older one, but {} were counted",
            counters.backward_edges
        ));
    }
    for (snapshot, (seq, recorded)) in &batches {
        let nodes: [u8; 32] = sha2::Digest::finalize(batch_nodes.remove(snapshot).unwrap_or_default()).into();
        let mut edges = batch_edges.remove(snapshot).unwrap_or_default();
        let content = combine_digests(&nodes, &edges_digest(&mut edges));
        if crate::audit::hex(&content) != *recorded {
            problems.push(format!("nodes or edges of snapshot {snapshot} differ from what audit entry {seq} recorded (content was altered)"));
        }
    }

    // 4. The live graph is a DAG.
    let graph: petgraph::graphmap::DiGraphMap<NodeId, ()> = live.into_iter().collect();
    if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
        problems.push(format!("the live graph has a cycle through {}", name(cycle.node_id())));
    }

    // 5. Snapshots are numbered without gaps.
    let snapshots = tables.snapshots(1, counters.last_snapshot)?;
    report.snapshots = snapshots.len() as u64;
    for (i, s) in snapshots.iter().enumerate() {
        if s.id != i as u64 + 1 {
            problems.push(format!("snapshot {} is missing", i + 1));
            break;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_hash_of_empty_props_matches_their_encoding() {
        let key = adj_key(3, 9, 1, 2);
        let mut bytes = key.to_vec();
        bytes.extend(crate::storage::encode(&crate::value::Props::new()).unwrap());
        assert_eq!(edge_content_hash(&key, &crate::value::Props::new()).unwrap(), sha256(&bytes));
    }
}
