//! The query mix of `quality.md`: `ANCESTORS OF <latest version of a model>
//! WHERE type=dataset` and `DESCENDANTS OF <raw dataset version> WHERE
//! type=model`, sampled deterministically from a generated graph.

use lineagedb_engine::{NodeRef, VersionSel};

use crate::graph::{LineageGraph, NodeType};
use crate::rng::SplitMix64;

/// Which way a query walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Upstream: walk edges backwards.
    Ancestors,
    /// Downstream: walk edges forwards.
    Descendants,
}

/// One query of the mix, with its start in every engine's form.
#[derive(Clone, Debug)]
pub struct Query {
    /// Which way to walk.
    pub direction: Direction,
    /// The start node's index in the generated graph.
    pub start: u32,
    /// The type of the nodes returned (the walk passes through every type).
    pub want: NodeType,
    /// The start node's key, `type:name@version`.
    pub key: String,
    /// The start node as an engine reference.
    pub node_ref: NodeRef,
}

impl Query {
    /// The query in the LineageDB query language.
    pub fn text(&self) -> String {
        let verb = match self.direction {
            Direction::Ancestors => "ANCESTORS",
            Direction::Descendants => "DESCENDANTS",
        };
        format!("{verb} OF {} WHERE type = {}", self.key, self.want.as_str())
    }
}

/// `per_kind` ancestor queries from latest model versions, then `per_kind`
/// descendant queries from raw dataset versions, chosen with `seed`.
pub fn query_mix(graph: &LineageGraph, per_kind: usize, seed: u64) -> Vec<Query> {
    let mut rng = SplitMix64::new(seed ^ 0x5151_5151);
    let mut out = Vec::with_capacity(2 * per_kind);
    for _ in 0..per_kind {
        out.push(query(graph, Direction::Ancestors, *rng.pick(&graph.latest_models), NodeType::Dataset));
    }
    for _ in 0..per_kind {
        out.push(query(graph, Direction::Descendants, *rng.pick(&graph.raw_datasets), NodeType::Model));
    }
    out
}

fn query(graph: &LineageGraph, direction: Direction, start: u32, want: NodeType) -> Query {
    let node = &graph.nodes[start as usize];
    let node_ref = NodeRef {
        type_name: node.node_type.as_str().to_owned(),
        name: node.name.clone(),
        version: VersionSel::Number(node.version),
    };
    Query { direction, start, want, key: node.key(), node_ref }
}
