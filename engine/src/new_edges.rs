//! The edges a write transaction linked to or from one of its own new nodes.
//!
//! Such an edge can exist only if this transaction linked it, so `link`
//! asks this record instead of reading adjacency (which would first have to
//! write every buffered edge into its block). A bulk load links millions of
//! edges, mostly into new nodes and in destination order, so edges into a
//! new node are kept in a short list per node, indexed by the node's id:
//! neighbouring lookups touch neighbouring memory, where one hash set of
//! every edge cost a cache miss or two per link. A node with very many
//! incoming edges gets a hash set of its own, so its checks stay cheap.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::storage::codec::NodeId;

/// No entry (end of a list).
const NONE: u32 = u32::MAX;
/// A list this long becomes a set.
const LIST_MAX: u32 = 32;

#[derive(Debug, Default)]
pub(crate) struct NewEdges {
    first_new: NodeId,
    /// Per new node (`id - first_new`): its last incoming edge in `entries`.
    heads: Vec<u32>,
    /// Per new node: how many incoming edges its list holds.
    lens: Vec<u32>,
    /// (source, label, previous entry of the same target).
    entries: Vec<(NodeId, u32, u32)>,
    /// Incoming edges of new nodes whose list grew past `LIST_MAX`.
    sets: FxHashMap<u32, FxHashSet<(NodeId, u32)>>,
    /// Edges from a new node into an older one.
    into_old: FxHashSet<(NodeId, NodeId, u32)>,
}

impl NewEdges {
    /// Nodes with ids from `first_new` on are this transaction's.
    pub fn new(first_new: NodeId) -> NewEdges {
        NewEdges { first_new, ..NewEdges::default() }
    }

    /// Notes the edge `from -> to` with `label` (one end must be a new node);
    /// returns whether it had been noted before.
    pub fn note(&mut self, from: NodeId, to: NodeId, label: u32) -> bool {
        debug_assert!(from >= self.first_new || to >= self.first_new);
        if to < self.first_new {
            return !self.into_old.insert((from, to, label));
        }
        let node = (to - self.first_new) as usize;
        if node >= self.heads.len() {
            self.heads.resize(node + 1, NONE);
            self.lens.resize(node + 1, 0);
        }
        let key = node as u32;
        if let Some(set) = self.sets.get_mut(&key) {
            return !set.insert((from, label));
        }
        let mut next = self.heads[node];
        while next != NONE {
            let (source, l, previous) = self.entries[next as usize];
            if source == from && l == label {
                return true;
            }
            next = previous;
        }
        self.entries.push((from, label, self.heads[node]));
        self.heads[node] = (self.entries.len() - 1) as u32;
        self.lens[node] += 1;
        if self.lens[node] > LIST_MAX {
            let mut set = FxHashSet::default();
            let mut next = self.heads[node];
            while next != NONE {
                let (source, l, previous) = self.entries[next as usize];
                set.insert((source, l));
                next = previous;
            }
            self.sets.insert(key, set);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_edge_is_new_once_whichever_end_is_new() {
        let mut e = NewEdges::new(100);
        assert!(!e.note(5, 100, 1));
        assert!(e.note(5, 100, 1));
        assert!(!e.note(5, 100, 2), "another label is another edge");
        assert!(!e.note(6, 100, 1));
        assert!(!e.note(100, 7, 1), "from a new node into an older one");
        assert!(e.note(100, 7, 1));
        assert!(!e.note(101, 150, 1), "a target far past the others");
        assert!(e.note(101, 150, 1));
        assert!(!e.note(5, 101, 1));
    }

    #[test]
    fn a_node_with_many_incoming_edges_still_answers_exactly() {
        let mut e = NewEdges::new(1);
        for from in 0..1000 {
            assert!(!e.note(from * 7, 3, 1));
        }
        for from in 0..1000 {
            assert!(e.note(from * 7, 3, 1), "{from}");
            assert!(!e.note(from * 7 + 1, 3, 1));
        }
        assert!(!e.note(0, 3, 2));
    }
}
