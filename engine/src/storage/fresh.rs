//! Nodes created by a write transaction and not yet written to redb.
//!
//! A bulk load creates many nodes of many entities, and redb pays per entry
//! written. So new nodes are held here, encoded, and written at commit (or
//! when the buffer grows large): records in blocks of consecutive ids
//! (`node_blocks`), each entity's new versions once, in key order
//! (`entities`). Until then every read of the write transaction sees them
//! through `WriteView`, which consults this buffer before the tables, and
//! resolving a key the transaction created costs one hash lookup here.

use rustc_hash::{FxHashMap, FxHashSet};

use super::NodeId;
use super::codec::write_version_key;

#[derive(Clone, Copy)]
struct FreshNode {
    /// Where the encoded record starts in `Fresh::bytes`.
    start: usize,
    len: u32,
}

/// What a write transaction read of an entity's stored dictionary entry
/// (table `entities`) before it buffered the entity's first version, so the
/// entry is written at commit without reading it again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoredEntity {
    /// Not looked up: read it at commit.
    #[default]
    Unknown,
    /// No stored entry.
    Absent,
    /// The stored entry's value: (version, id) pairs.
    Versions(Box<[u8]>),
}

/// An entity's buffered versions as (version, index), ascending: the first
/// inline (most entities get one version per import), the others in `rest`.
struct Versions {
    first: (u64, u32),
    rest: Vec<(u64, u32)>,
    stored: StoredEntity,
}

impl Versions {
    fn latest(&self) -> (u64, u32) {
        self.rest.last().copied().unwrap_or(self.first)
    }

    fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        std::iter::once(self.first).chain(self.rest.iter().copied())
    }

    fn find(&self, version: u64) -> Option<u32> {
        if self.first.0 == version {
            return Some(self.first.1);
        }
        self.rest.binary_search_by_key(&version, |(v, _)| *v).ok().map(|i| self.rest[i].1)
    }
}

/// New nodes with consecutive ids, `first` upwards.
#[derive(Default)]
pub(super) struct Fresh {
    first: NodeId,
    bytes: Vec<u8>,
    nodes: Vec<FreshNode>,
    /// Entity prefix (`type_id BE4 | name | 0`) -> its buffered versions.
    entities: FxHashMap<Box<[u8]>, Versions>,
    /// Indexes of records rewritten after their creation (a node created
    /// and deleted in one transaction); `nodes` holds their current spans.
    replaced: FxHashSet<u32>,
    scratch: Vec<u8>,
}

impl Fresh {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Buffered nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes held, roughly.
    pub fn size(&self) -> usize {
        self.bytes.len() + self.nodes.len() * std::mem::size_of::<FreshNode>() + self.entities.len() * 64
    }

    /// Whether node `id` can be appended: the buffer holds consecutive ids.
    pub fn accepts(&self, id: NodeId) -> bool {
        self.nodes.is_empty() || id == self.first + self.nodes.len() as u64
    }

    /// Appends a new node; the caller checked `accepts(id)`. `stored` is
    /// what the caller read of the entity's stored entry, if the entity has
    /// no buffered version yet (ignored otherwise).
    pub fn push(&mut self, id: NodeId, type_id: u32, name: &str, version: u64, record: &[u8], stored: StoredEntity) {
        debug_assert!(self.accepts(id));
        if self.nodes.is_empty() {
            self.first = id;
        }
        let index = self.nodes.len() as u32;
        entity_prefix_into(&mut self.scratch, type_id, name);
        match self.entities.get_mut(self.scratch.as_slice()) {
            // Versions are created in ascending order; keep them sorted anyway.
            Some(versions) => {
                versions.rest.push((version, index));
                if versions.rest.len() > 1 && versions.rest[versions.rest.len() - 2].0 > version {
                    versions.rest.sort_unstable();
                }
                if versions.rest[0].0 < versions.first.0 {
                    std::mem::swap(&mut versions.first, &mut versions.rest[0]);
                    versions.rest.sort_unstable();
                }
            }
            None => {
                let versions = Versions { first: (version, index), rest: Vec::new(), stored };
                self.entities.insert(self.scratch.as_slice().into(), versions);
            }
        }
        self.nodes.push(FreshNode { start: self.bytes.len(), len: record.len() as u32 });
        self.bytes.extend_from_slice(record);
    }

    fn index(&self, id: NodeId) -> Option<usize> {
        let offset = id.checked_sub(self.first)?;
        (offset < self.nodes.len() as u64).then_some(offset as usize)
    }

    fn current(&self, index: usize) -> &[u8] {
        let n = &self.nodes[index];
        &self.bytes[n.start..n.start + n.len as usize]
    }

    /// The encoded record of buffered node `id`.
    pub fn record(&self, id: NodeId) -> Option<&[u8]> {
        Some(self.current(self.index(id)?))
    }

    /// Replaces the record of buffered node `id` (its key does not change);
    /// false if `id` is not buffered.
    pub fn replace(&mut self, id: NodeId, record: &[u8]) -> bool {
        let Some(index) = self.index(id) else { return false };
        self.replaced.insert(index as u32);
        self.nodes[index] = FreshNode { start: self.bytes.len(), len: record.len() as u32 };
        self.bytes.extend_from_slice(record);
        true
    }

    fn entity(&self, type_id: u32, name: &str) -> Option<&Versions> {
        // The entity prefix, built on the stack for the usual short names.
        let mut stack = [0u8; 128];
        let len = 5 + name.len();
        if len <= stack.len() {
            stack[..4].copy_from_slice(&type_id.to_be_bytes());
            stack[4..4 + name.len()].copy_from_slice(name.as_bytes());
            return self.entities.get(&stack[..len]);
        }
        let mut prefix = Vec::with_capacity(len);
        entity_prefix_into(&mut prefix, type_id, name);
        self.entities.get(prefix.as_slice())
    }

    /// The highest buffered version of the entity, if any (every buffered
    /// version is newer than every stored one).
    pub fn max_version(&self, type_id: u32, name: &str) -> Option<u64> {
        self.entity(type_id, name).map(|v| v.latest().0)
    }

    /// The entity's buffered versions with their ids, ascending.
    pub fn versions(&self, type_id: u32, name: &str) -> Vec<(u64, NodeId)> {
        let first = self.first;
        self.entity(type_id, name).map_or_else(Vec::new, |v| v.iter().map(|(v, i)| (v, first + u64::from(i))).collect())
    }

    /// The id of one buffered version of the entity.
    pub fn version_id(&self, type_id: u32, name: &str, version: u64) -> Option<NodeId> {
        self.entity(type_id, name)?.find(version).map(|i| self.first + u64::from(i))
    }

    /// The id of a buffered version whose record was not rewritten since
    /// its creation (so it is live), if any.
    pub fn unchanged_version_id(&self, type_id: u32, name: &str, version: u64) -> Option<NodeId> {
        let id = self.version_id(type_id, name, version)?;
        (!self.replaced.contains(&((id - self.first) as u32))).then_some(id)
    }

    /// Every buffered (entity prefix, version, id, what was read of the
    /// entity's stored entry), in (entity, version) order.
    pub fn sorted_keys(&self) -> Vec<(&[u8], u64, NodeId, &StoredEntity)> {
        let mut entities: Vec<(&[u8], &Versions)> = self.entities.iter().map(|(p, v)| (&p[..], v)).collect();
        // Entity prefixes end with their only NUL after the type id, so no
        // prefix is a proper prefix of another: ordering by (prefix, version)
        // is the byte order of `prefix | version BE8`.
        entities.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(self.nodes.len());
        for (prefix, versions) in entities {
            out.extend(versions.iter().map(|(v, i)| (prefix, v, self.first + u64::from(i), &versions.stored)));
        }
        out
    }

    /// Buffered keys (`version_key` bytes) under a byte prefix, sorted, with
    /// their ids.
    pub fn keys_with_prefix(&self, prefix: &[u8]) -> Vec<(Vec<u8>, NodeId)> {
        let mut out = Vec::new();
        let mut key = Vec::new();
        for (entity, versions) in &self.entities {
            for (version, index) in versions.iter() {
                key.clear();
                key.extend_from_slice(entity);
                key.extend_from_slice(&version.to_be_bytes());
                if key.starts_with(prefix) {
                    out.push((key.clone(), self.first + u64::from(index)));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Every buffered record as it is now, in id order.
    pub fn records(&self) -> impl Iterator<Item = (NodeId, &[u8])> + '_ {
        (0..self.nodes.len()).map(|i| (self.first + i as u64, self.current(i)))
    }
}

/// `type_id BE4 | name | 0` into `buf` (the key of table `entities`).
fn entity_prefix_into(buf: &mut Vec<u8>, type_id: u32, name: &str) {
    write_version_key(buf, type_id, name, 0);
    buf.truncate(buf.len() - 8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::codec::version_key;

    #[test]
    fn buffered_versions_are_found_by_entity_and_sorted_as_the_keys_table() {
        let mut f = Fresh::default();
        f.push(10, 1, "b", 1, b"r10", StoredEntity::Unknown);
        f.push(11, 1, "a", 1, b"r11", StoredEntity::Unknown);
        f.push(12, 1, "b", 2, b"r12", StoredEntity::Unknown);
        f.push(13, 2, "a", 1, b"r13", StoredEntity::Unknown);
        assert!(f.accepts(14) && !f.accepts(16));
        assert_eq!(f.record(12), Some(&b"r12"[..]));
        assert_eq!(f.record(14), None);
        assert_eq!(f.max_version(1, "b"), Some(2));
        assert_eq!(f.max_version(1, "c"), None);
        assert_eq!(f.versions(1, "b"), vec![(1, 10), (2, 12)]);
        assert_eq!(f.version_id(1, "b", 1), Some(10));
        assert_eq!(f.version_id(1, "b", 3), None);
        assert_eq!(f.unchanged_version_id(1, "a", 1), Some(11));
        let sorted: Vec<(Vec<u8>, NodeId)> = f
            .sorted_keys()
            .into_iter()
            .map(|(p, v, id, _)| {
                let mut k = p.to_vec();
                k.extend_from_slice(&v.to_be_bytes());
                (k, id)
            })
            .collect();
        let mut expected = vec![
            (version_key(1, "b", 1), 10),
            (version_key(1, "a", 1), 11),
            (version_key(1, "b", 2), 12),
            (version_key(2, "a", 1), 13),
        ];
        expected.sort();
        assert_eq!(sorted, expected);
        assert_eq!(f.keys_with_prefix(&1u32.to_be_bytes()).len(), 3);
        assert!(f.replace(11, b"new"));
        assert!(!f.replace(14, b"new"));
        assert_eq!(f.unchanged_version_id(1, "a", 1), None);
        assert_eq!(f.version_id(1, "a", 1), Some(11));
        assert_eq!(f.record(11), Some(&b"new"[..]));
        let now: Vec<_> = f.records().collect();
        assert_eq!(now, vec![(10, &b"r10"[..]), (11, &b"new"[..]), (12, &b"r12"[..]), (13, &b"r13"[..])]);
    }
}
