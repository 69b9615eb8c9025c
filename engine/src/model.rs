//! Public result types of reads: nodes, edges, history, snapshots, audit
//! entries. They carry keys and values, never storage details.

use crate::key::{EntityKey, NodeKey};
use crate::storage::codec::{NodeId, SnapshotId};
use crate::value::{Props, Timestamp};

/// One node (one version of an entity) as seen at a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Compact internal id; stable for the life of the file.
    pub id: NodeId,
    /// `type:name@version`.
    pub key: NodeKey,
    /// External version label (Iceberg snapshot, content hash, ...).
    pub label: Option<String>,
    /// Content properties merged with the annotations current at the snapshot.
    pub props: Props,
    /// Commit time of the snapshot that created the node.
    pub created_at: Timestamp,
    /// The snapshot that created the node.
    pub created_in: SnapshotId,
    /// Author of that snapshot.
    pub created_by: String,
    /// The snapshot that deleted the node, if it is deleted at the snapshot read.
    pub deleted_in: Option<SnapshotId>,
}

/// An edge as seen at a snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// Source node.
    pub from: NodeKey,
    /// Target node.
    pub to: NodeKey,
    /// Edge label (`input`, `output`, `code`, ...).
    pub label: String,
    /// Edge properties.
    pub props: Props,
    /// The snapshot that created the edge.
    pub created_in: SnapshotId,
}

/// A node with its aliases and its edges, as `SHOW` prints it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeDetail {
    /// The node.
    pub node: Node,
    /// Aliases that point at this version at the snapshot read.
    pub aliases: Vec<String>,
    /// Edges into the node.
    pub incoming: Vec<Edge>,
    /// Edges out of the node.
    pub outgoing: Vec<Edge>,
}

/// A node reached by a traversal, with its shortest distance from the start.
#[derive(Clone, Debug, PartialEq)]
pub struct Reached {
    /// The node.
    pub node: Node,
    /// Number of edges on a shortest path from the start.
    pub depth: u32,
}

/// The subgraph around a node: what `LINEAGE OF` returns.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Subgraph {
    /// Reached nodes (not the start), by depth then key.
    pub nodes: Vec<Reached>,
    /// Every edge walked between the start and reached nodes.
    pub edges: Vec<Edge>,
}

/// A shortest path: `nodes[i] -[labels[i]]-> nodes[i+1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// Keys along the path, start and end included.
    pub nodes: Vec<NodeKey>,
    /// Edge labels between consecutive nodes.
    pub labels: Vec<String>,
}

/// One commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Snapshot id.
    pub id: SnapshotId,
    /// Commit time.
    pub time: Timestamp,
    /// Commit author.
    pub author: String,
    /// Commit message.
    pub message: Option<String>,
    /// Number of mutations in the commit.
    pub changes: u64,
}

/// What happened to an entity.
#[derive(Clone, Debug, PartialEq)]
pub enum HistoryKind {
    /// A version was created.
    Created {
        /// The version.
        version: u64,
        /// Its external label.
        label: Option<String>,
    },
    /// Annotations of a version changed; `props` is the overlay after the change.
    Annotated {
        /// The version.
        version: u64,
        /// The annotation overlay after the change.
        props: Props,
    },
    /// A version was deleted (tombstoned).
    Deleted {
        /// The version.
        version: u64,
    },
    /// An alias moved.
    AliasMoved {
        /// The alias.
        alias: String,
        /// The version now holding it (`None`: removed).
        version: Option<u64>,
        /// The version that held it before.
        previous: Option<u64>,
        /// Why, as given by the promoter.
        reason: Option<String>,
    },
}

/// One entry of `HISTORY OF`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    /// The entity.
    pub entity: EntityKey,
    /// Snapshot of the event.
    pub snapshot: SnapshotId,
    /// Time of the event.
    pub time: Timestamp,
    /// Author of the event.
    pub author: String,
    /// What happened.
    pub kind: HistoryKind,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Sequence number, 1, 2, 3, ...
    pub seq: u64,
    /// Snapshot the mutation belongs to.
    pub snapshot: SnapshotId,
    /// Time of the mutation.
    pub time: Timestamp,
    /// Who made it.
    pub author: String,
    /// Operation: `create_node`, `link`, `unlink`, `set`, `delete`, `promote`, or one recorded by a tool.
    pub op: String,
    /// Keys the mutation concerns.
    pub subjects: Vec<String>,
    /// JSON description of the change.
    pub detail: String,
    /// SHA-256 of `detail`, hex.
    pub digest: String,
    /// Hash of the previous entry, hex.
    pub prev_hash: String,
    /// Hash of this entry, hex.
    pub hash: String,
}

/// Which audit entries to return.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only entries whose subjects include this entity (any version).
    pub entity: Option<EntityKey>,
    /// Only entries whose subjects include this exact node.
    pub node: Option<NodeKey>,
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only entries at or before this time.
    pub until: Option<Timestamp>,
    /// Only entries by this author.
    pub author: Option<String>,
    /// At most this many entries (the newest are dropped).
    pub limit: Option<usize>,
}

/// The outcome of `verify`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct VerifyReport {
    /// Audit entries checked.
    pub audit_entries: u64,
    /// Nodes checked.
    pub nodes: u64,
    /// Edge entries checked (each direction counted once).
    pub edges: u64,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Every problem found; empty when the database is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}
