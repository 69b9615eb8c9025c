//! The warm handle's id-to-key cache: the key (type id, name, version) of
//! every node whose key a read decoded, so that later rows, sorts and
//! `RETURN key` on the same `Database` handle read memory instead of
//! descending the node blocks and decoding record heads.
//!
//! Consistency: a node's key is immutable once committed and a committed id
//! is never given to another node (ids of a transaction that did not commit
//! were never visible to a reader, so never cached). A read transaction only
//! asks for ids it reached in committed state, so an entry is true forever
//! and the writer never has to drop one. Visibility (`created_in`,
//! `deleted_in`) is not cached: it is checked on the records.
//!
//! Layout: `index[id]` is `(offset + 1, len)` into one byte arena (`0`: not
//! cached), each entry `type_id u32 LE | version u64 LE | name`. Over its
//! budget the cache starts again rather than track recency.

use parking_lot::RwLock;

use crate::storage::codec::NodeId;

/// Default memory budget of the key cache: 64 MiB (about 1.5 million keys).
pub const DEFAULT_KEY_CACHE_BUDGET: usize = 64 << 20;

/// A key as cached: the type id (named by the dictionary), the name, the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CachedKey<'a> {
    pub(crate) type_id: u32,
    pub(crate) version: u64,
    pub(crate) name: &'a str,
}

#[derive(Debug, Default)]
struct Keys {
    index: Vec<[u32; 2]>,
    arena: Vec<u8>,
}

impl Keys {
    fn get(&self, id: NodeId) -> Option<CachedKey<'_>> {
        let [start, len] = *self.index.get(usize::try_from(id).ok()?)?;
        if start == 0 {
            return None;
        }
        let bytes = self.arena.get(start as usize - 1..start as usize - 1 + len as usize)?;
        let (head, name) = bytes.split_at(12);
        Some(CachedKey {
            type_id: u32::from_le_bytes(head[..4].try_into().ok()?),
            version: u64::from_le_bytes(head[4..12].try_into().ok()?),
            // Only valid UTF-8 (a name decoded from a record) is ever stored.
            name: std::str::from_utf8(name).ok()?,
        })
    }

    /// The bytes the cache holds, as the budget counts them (the unit test checks the bound).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.arena.len() + self.index.len() * std::mem::size_of::<[u32; 2]>()
    }

    /// Stores a key; false when the arena cannot address it.
    fn insert(&mut self, id: NodeId, key: CachedKey<'_>) -> bool {
        let (Ok(start), Ok(len), Ok(slot)) =
            (u32::try_from(self.arena.len() + 1), u32::try_from(12 + key.name.len()), usize::try_from(id))
        else {
            return false;
        };
        if start.checked_add(len).is_none() {
            return false;
        }
        if self.index.len() <= slot {
            self.index.resize(slot + 1, [0, 0]);
        }
        self.arena.extend_from_slice(&key.type_id.to_le_bytes());
        self.arena.extend_from_slice(&key.version.to_le_bytes());
        self.arena.extend_from_slice(key.name.as_bytes());
        self.index[slot] = [start, len];
        true
    }
}

/// The key cache shared by every clone of a `Database`.
#[derive(Debug)]
pub(crate) struct KeyCache {
    keys: RwLock<Keys>,
    budget: usize,
}

impl KeyCache {
    pub(crate) fn new(budget: usize) -> KeyCache {
        KeyCache { keys: RwLock::new(Keys::default()), budget }
    }

    /// Calls `each(i, key)` for every `ids[i]` cached; returns the
    /// positions of the others, in order.
    pub(crate) fn lookup(&self, ids: &[NodeId], each: &mut dyn FnMut(usize, CachedKey<'_>)) -> Vec<usize> {
        let mut missing = Vec::new();
        if self.budget == 0 {
            missing.extend(0..ids.len());
            return missing;
        }
        let keys = self.keys.read();
        for (i, &id) in ids.iter().enumerate() {
            match keys.get(id) {
                Some(key) => each(i, key),
                None => missing.push(i),
            }
        }
        missing
    }

    /// Remembers keys read from committed records.
    pub(crate) fn insert(&self, found: &[(NodeId, CachedKey<'_>)]) {
        if self.budget == 0 || found.is_empty() {
            return;
        }
        let mut keys = self.keys.write();
        for &(id, key) in found {
            // The entry and the index slots up to `id` count against the budget.
            let slots = usize::try_from(id).unwrap_or(usize::MAX).saturating_add(1);
            let index = slots.max(keys.index.len()).saturating_mul(std::mem::size_of::<[u32; 2]>());
            let size = 12 + key.name.len();
            if keys.arena.len() + size + index > self.budget || !keys.insert(id, key) {
                *keys = Keys::default();
                let alone = slots.saturating_mul(std::mem::size_of::<[u32; 2]>()).saturating_add(size);
                if alone <= self.budget {
                    keys.insert(id, key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_as_stored_and_the_budget_holds() {
        let cache = KeyCache::new(64 << 10);
        let names: Vec<String> = (0..2000).map(|i| format!("name_{i}")).collect();
        let found: Vec<(NodeId, CachedKey<'_>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as NodeId * 3 + 1, CachedKey { type_id: i as u32 % 5, version: i as u64, name: n }))
            .collect();
        cache.insert(&found[..10]);
        let ids: Vec<NodeId> = vec![1, 2, 4, 28];
        let mut got = Vec::new();
        let missing = cache.lookup(&ids, &mut |i, k| got.push((i, k.type_id, k.version, k.name.to_owned())));
        assert_eq!(missing, vec![1]);
        assert_eq!(got, vec![(0, 0, 0, "name_0".into()), (2, 1, 1, "name_1".into()), (3, 4, 9, "name_9".into())]);
        cache.insert(&found);
        assert!(cache.keys.read().bytes() <= 64 << 10);
        let last = found.last().unwrap();
        let mut seen = None;
        cache.lookup(&[last.0], &mut |_, k| seen = Some(k.name.to_owned()));
        assert_eq!(seen.as_deref(), Some("name_1999"));
    }
}
