//! The redb table definitions of format 5 (`docs/design.md` documents each
//! key and value), the counters kept in `meta`, and the postcard encoding of
//! records.

use redb::TableDefinition;

use super::codec::{AdjKey, NodeId, SnapshotId};
use crate::error::{Error, Result};

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Keys of `meta` that record a once-only token (`WriteTx::claim_once`):
/// `once:<token>` -> the snapshot that claimed it (postcard u64).
pub const ONCE_PREFIX: &str = "once:";
/// Keys of `meta` that index recorded file contents (`WriteTx::note_content`):
/// `content:<sha256 hex>` -> the keys of the versions recorded with it
/// (postcard `Vec<String>`, oldest first).
pub const CONTENT_PREFIX: &str = "content:";
/// Keys of `meta` that map another name of a dataset to the entity name it
/// is recorded under (OpenLineage `symlinks`): `name_alias:<type>:<alias>` ->
/// the entity name (postcard `String`).
pub const NAME_ALIAS_PREFIX: &str = "name_alias:";
pub const TYPES: TableDefinition<&str, u32> = TableDefinition::new("types");
pub const LABELS: TableDefinition<&str, u32> = TableDefinition::new("labels");
/// Entity prefix -> its (version, node id) pairs (`node_blocks.rs`).
pub const ENTITIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entities");
/// Node id / 64 -> the records of those 64 ids (`node_blocks.rs`).
pub const NODE_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("node_blocks");
/// Format 3's key dictionary and node records, read only to upgrade a file.
pub(super) const KEYS_V3: TableDefinition<&[u8], u64> = TableDefinition::new("keys");
pub(super) const NODES_V3: TableDefinition<u64, &[u8]> = TableDefinition::new("nodes");
pub const ANNOTATIONS: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("annotations");
/// Outgoing adjacency in blocks of 16 source ids (`blocks` module).
pub const OUT_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("out_blocks");
/// Incoming adjacency in blocks of 16 target ids (`blocks` module).
pub const IN_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("in_blocks");
pub const EDGE_PROPS: TableDefinition<&AdjKey, &[u8]> = TableDefinition::new("edge_props");
pub const EXT_LABELS: TableDefinition<&[u8], u64> = TableDefinition::new("ext_labels");
pub const ALIASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("aliases");
pub const SNAPSHOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshots");
pub const SNAPSHOT_TIMES: TableDefinition<i64, u64> = TableDefinition::new("snapshot_times");
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Counters kept in `meta`, read at the start of every write transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub next_node: NodeId,
    pub last_snapshot: SnapshotId,
    pub last_time: i64,
    pub audit_seq: u64,
    pub audit_tip: [u8; 32],
    /// Live edges whose source id is larger than their target id. While it
    /// is zero, every live edge goes from an older node to a newer one, so an
    /// edge from older to newer cannot close a cycle.
    pub backward_edges: u64,
    /// Bumped whenever a node type or an edge label is added, so readers
    /// can reuse a cached dictionary while it is unchanged.
    pub dict_version: u64,
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_allocvec(value)?)
}

pub fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Corrupt { detail: format!("cannot decode {what}: {e}") })
}
