//! On-disk record layouts: postcard-encoded records and the fixed-width
//! big-endian keys of the hot tables. `docs/design.md` documents each one.

use serde::{Deserialize, Serialize};

use crate::value::Props;

/// Compact integer id of a node, assigned 1, 2, 3, ... in creation order.
pub type NodeId = u64;
/// Snapshot id, 1, 2, 3, ... in commit order.
pub type SnapshotId = u64;

/// `deleted_in` value of an adjacency entry that is still live.
pub const LIVE: u64 = u64::MAX;

/// A node record (table `nodes`). Everything but `deleted_in` is immutable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    // The first five fields are `NodeHeader`: keep them first and in order.
    pub type_id: u32,
    pub version: u64,
    pub created_in: SnapshotId,
    pub deleted_in: Option<SnapshotId>,
    pub name: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub props: Props,
}

/// A `NodeRecord` borrowed from its parts, encoded to the same bytes (postcard
/// writes `&str` as it writes `String`): how new nodes are encoded without
/// cloning their name, label, author and properties.
#[derive(Serialize)]
pub struct NodeRecordRef<'a> {
    pub type_id: u32,
    pub version: u64,
    pub created_in: SnapshotId,
    pub deleted_in: Option<SnapshotId>,
    pub name: &'a str,
    pub label: Option<&'a str>,
    pub created_at: i64,
    pub created_by: &'a str,
    pub props: &'a Props,
}

/// The leading fields of a `NodeRecord`, decoded without the properties:
/// what resolving a reference needs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NodeHeader {
    pub type_id: u32,
    pub version: u64,
    pub created_in: SnapshotId,
    pub deleted_in: Option<SnapshotId>,
    pub name: String,
}

/// `NodeHeader` borrowing its name from the stored bytes: what reading the
/// keys of many nodes needs, with one allocation a key instead of a record.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct NodeHeaderRef<'a> {
    pub type_id: u32,
    pub version: u64,
    pub created_in: SnapshotId,
    pub deleted_in: Option<SnapshotId>,
    pub name: &'a str,
}

/// The first four fields of a `NodeRecord`, decoded without allocating:
/// what linking a node by id needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct NodeStamp {
    pub type_id: u32,
    pub version: u64,
    pub created_in: SnapshotId,
    pub deleted_in: Option<SnapshotId>,
}

impl NodeHeader {
    /// Visible at snapshot `at`.
    pub fn visible_at(&self, at: SnapshotId) -> bool {
        self.created_in <= at && self.deleted_in.is_none_or(|d| d > at)
    }
}

impl NodeRecord {
    /// Visible at snapshot `at`.
    pub fn visible_at(&self, at: SnapshotId) -> bool {
        self.created_in <= at && self.deleted_in.is_none_or(|d| d > at)
    }
}

/// A commit (table `snapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub id: SnapshotId,
    pub time: i64,
    pub author: String,
    pub message: Option<String>,
    pub changes: u64,
    /// Who asserted the nodes and edges created in this snapshot that carry
    /// no `asserted_by` of their own (a bulk import): read back as their
    /// `asserted_by`, with the snapshot time as `asserted_at`.
    pub asserted_by: Option<String>,
}

/// One move of an alias (table `aliases`). `version: None` removes the alias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub version: Option<u64>,
    pub previous: Option<u64>,
    pub snapshot: SnapshotId,
    pub time: i64,
    pub author: String,
    pub reason: Option<String>,
}

/// One audit entry (table `audit`), hash-chained to the previous one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub snapshot: SnapshotId,
    pub time: i64,
    pub author: String,
    pub op: String,
    pub subjects: Vec<String>,
    pub detail: String,
    pub digest: [u8; 32],
    pub prev: [u8; 32],
    pub hash: [u8; 32],
}

/// Direction of an adjacency table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Edges leaving the node (`out_blocks`): towards descendants.
    Out,
    /// Edges entering the node (`in_blocks`): towards ancestors.
    In,
}

/// One adjacency entry, decoded: the hot-path form of an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdjEntry {
    pub neighbor: NodeId,
    pub created_in: SnapshotId,
    /// `LIVE` while the edge exists.
    pub deleted_in: SnapshotId,
    pub label: u32,
    pub neighbor_type: u32,
}

impl AdjEntry {
    /// Visible at snapshot `at`.
    #[inline]
    pub fn visible_at(&self, at: SnapshotId) -> bool {
        self.created_in <= at && self.deleted_in > at
    }
}

/// Adjacency key: `node BE8 | neighbor BE8 | label BE4 | created_in BE8`.
pub type AdjKey = [u8; 28];
/// Adjacency value: `deleted_in BE8 | neighbor_type BE4`.
pub type AdjValue = [u8; 12];

pub fn adj_key(node: NodeId, neighbor: NodeId, label: u32, created_in: SnapshotId) -> AdjKey {
    let mut k = [0u8; 28];
    k[0..8].copy_from_slice(&node.to_be_bytes());
    k[8..16].copy_from_slice(&neighbor.to_be_bytes());
    k[16..20].copy_from_slice(&label.to_be_bytes());
    k[20..28].copy_from_slice(&created_in.to_be_bytes());
    k
}

pub fn adj_value(deleted_in: SnapshotId, neighbor_type: u32) -> AdjValue {
    let mut v = [0u8; 12];
    v[0..8].copy_from_slice(&deleted_in.to_be_bytes());
    v[8..12].copy_from_slice(&neighbor_type.to_be_bytes());
    v
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn be32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// Decodes an adjacency key and value.
pub fn decode_adj(key: &AdjKey, value: &AdjValue) -> AdjEntry {
    AdjEntry {
        neighbor: be64(&key[8..16]),
        label: be32(&key[16..20]),
        created_in: be64(&key[20..28]),
        deleted_in: be64(&value[0..8]),
        neighbor_type: be32(&value[8..12]),
    }
}

/// `type_id BE4 | name | 0x00`: the prefix of every key of an entity.
pub fn entity_prefix(type_id: u32, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + name.len() + 8);
    k.extend_from_slice(&type_id.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k.push(0);
    k
}

/// An exact key as bytes: entity prefix then version BE8. Byte order is
/// (entity, version) order; in-memory maps of exact keys use it (format 3
/// stored it in its `keys` table).
pub fn version_key(type_id: u32, name: &str, version: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + name.len() + 8);
    write_version_key(&mut k, type_id, name, version);
    k
}

/// Replaces the contents of `buf` with `version_key(type_id, name, version)`.
pub fn write_version_key(buf: &mut Vec<u8>, type_id: u32, name: &str, version: u64) {
    buf.clear();
    buf.extend_from_slice(&type_id.to_be_bytes());
    buf.extend_from_slice(name.as_bytes());
    buf.push(0);
    buf.extend_from_slice(&version.to_be_bytes());
}

/// Key of table `aliases`: entity prefix, alias, 0x00, snapshot BE8.
pub fn alias_key(type_id: u32, name: &str, alias: &str, snapshot: SnapshotId) -> Vec<u8> {
    let mut k = alias_prefix(type_id, name, alias);
    k.extend_from_slice(&snapshot.to_be_bytes());
    k
}

/// Prefix of every move of one alias.
pub fn alias_prefix(type_id: u32, name: &str, alias: &str) -> Vec<u8> {
    let mut k = entity_prefix(type_id, name);
    k.extend_from_slice(alias.as_bytes());
    k.push(0);
    k
}

/// Splits the alias-specific tail of an `aliases` key: (alias, snapshot).
pub fn split_alias_tail(tail: &[u8]) -> Option<(&str, SnapshotId)> {
    if tail.len() < 9 {
        return None;
    }
    let alias = std::str::from_utf8(&tail[..tail.len() - 9]).ok()?;
    Some((alias, be64(&tail[tail.len() - 8..])))
}

/// Key of table `ext_labels`: entity prefix then the label.
pub fn label_key(type_id: u32, name: &str, label: &str) -> Vec<u8> {
    let mut k = entity_prefix(type_id, name);
    k.extend_from_slice(label.as_bytes());
    k
}

/// Key of table `annotations`: node BE8 | snapshot BE8.
pub fn annotation_key(node: NodeId, snapshot: SnapshotId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[0..8].copy_from_slice(&node.to_be_bytes());
    k[8..16].copy_from_slice(&snapshot.to_be_bytes());
    k
}

pub fn annotation_snapshot(key: &[u8; 16]) -> SnapshotId {
    be64(&key[8..16])
}

/// The smallest key strictly greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjacency_keys_round_trip_and_sort_by_node() {
        let k = adj_key(7, 9, 3, 12);
        let e = decode_adj(&k, &adj_value(LIVE, 4));
        assert_eq!(e, AdjEntry { neighbor: 9, created_in: 12, deleted_in: LIVE, label: 3, neighbor_type: 4 });
        assert!(adj_key(7, u64::MAX, 0, 0) < adj_key(8, 0, 0, 0));
    }

    #[test]
    fn borrowed_node_records_encode_like_owned_ones() {
        let mut props = Props::new();
        props.insert("rows".into(), crate::value::Value::Int(3));
        let owned = NodeRecord {
            type_id: 2,
            version: 7,
            created_in: 4,
            deleted_in: None,
            name: "tx".into(),
            label: Some("v1".into()),
            created_at: -5,
            created_by: "ana".into(),
            props: props.clone(),
        };
        let borrowed = NodeRecordRef {
            type_id: 2,
            version: 7,
            created_in: 4,
            deleted_in: None,
            name: "tx",
            label: Some("v1"),
            created_at: -5,
            created_by: "ana",
            props: &props,
        };
        assert_eq!(postcard::to_allocvec(&owned).unwrap(), postcard::to_allocvec(&borrowed).unwrap());
    }

    #[test]
    fn version_keys_sort_by_entity_then_version() {
        assert!(version_key(2, "a", 1) < version_key(2, "a", 2));
        assert!(version_key(2, "a", u64::MAX) < version_key(2, "a.", 1));
    }
}
