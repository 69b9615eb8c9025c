//! The in-memory reference: the generated graph as a petgraph `Graph` and
//! the query mix as a plain BFS (`Bfs`, over `Reversed` for ancestors)
//! filtering by type. No storage at all: the physical limit the targets
//! compare against, and the oracle for expected answers.

use std::collections::HashMap;

use petgraph::Direction as PetDirection;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Bfs, Reversed};

use crate::graph::{EdgeLabel, LineageGraph, NodeType};
use crate::mix::{Direction, Query};

/// The graph in memory, with a key index so queries start from keys like
/// the other engines do.
#[derive(Clone, Debug)]
pub struct MemoryGraph {
    /// Node weights are types, edge weights labels; node index = generated index.
    pub graph: DiGraph<NodeType, EdgeLabel>,
    /// Key text to node.
    pub keys: HashMap<String, NodeIndex>,
}

impl MemoryGraph {
    /// Builds the petgraph graph of `graph`.
    pub fn build(graph: &LineageGraph) -> MemoryGraph {
        let mut g = DiGraph::with_capacity(graph.nodes.len(), graph.edges.len());
        let mut keys = HashMap::with_capacity(graph.nodes.len());
        for node in &graph.nodes {
            let index = g.add_node(node.node_type);
            keys.insert(node.key(), index);
        }
        for e in &graph.edges {
            g.add_edge(NodeIndex::new(e.src as usize), NodeIndex::new(e.dst as usize), e.label);
        }
        MemoryGraph { graph: g, keys }
    }

    /// Adds a node (for the changes made after the load); returns its index.
    pub fn add_node(&mut self, key: String, node_type: NodeType) -> u32 {
        let index = self.graph.add_node(node_type);
        self.keys.insert(key, index);
        index.index() as u32
    }

    /// Adds an edge.
    pub fn add_edge(&mut self, src: u32, dst: u32, label: EdgeLabel) {
        self.graph.add_edge(NodeIndex::new(src as usize), NodeIndex::new(dst as usize), label);
    }

    /// Removes every edge `src -> dst`; returns how many.
    pub fn remove_edges(&mut self, src: u32, dst: u32) -> usize {
        let (a, b) = (NodeIndex::new(src as usize), NodeIndex::new(dst as usize));
        let mut removed = 0;
        while let Some(e) = self.graph.find_edge(a, b) {
            self.graph.remove_edge(e);
            removed += 1;
        }
        removed
    }

    /// Runs one query of the mix; returns node indices in BFS order.
    pub fn run_query(&self, query: &Query) -> Vec<u32> {
        let Some(&start) = self.keys.get(&query.key) else { return Vec::new() };
        let mut out = Vec::new();
        match query.direction {
            Direction::Ancestors => {
                let reversed = Reversed(&self.graph);
                let mut bfs = Bfs::new(reversed, start);
                while let Some(n) = bfs.next(reversed) {
                    if n != start && self.graph[n] == query.want {
                        out.push(n.index() as u32);
                    }
                }
            }
            Direction::Descendants => {
                let mut bfs = Bfs::new(&self.graph, start);
                while let Some(n) = bfs.next(&self.graph) {
                    if n != start && self.graph[n] == query.want {
                        out.push(n.index() as u32);
                    }
                }
            }
        }
        out
    }

    /// Nodes one edge away from `node` in `direction`.
    pub fn neighbors(&self, node: u32, direction: Direction) -> Vec<u32> {
        let dir = match direction {
            Direction::Ancestors => PetDirection::Incoming,
            Direction::Descendants => PetDirection::Outgoing,
        };
        self.graph.neighbors_directed(NodeIndex::new(node as usize), dir).map(|n| n.index() as u32).collect()
    }
}
