//! Blocked adjacency (format 3): both adjacency directions are stored per
//! block of 16 consecutive node ids, one redb entry per block, so a bulk load
//! writes one entry per 16 nodes instead of one per edge end, and a node's
//! edges are read with one point lookup. `docs/design.md` documents the layout.
//!
//! An adjacency block (`out_blocks`, `in_blocks`, key `node >> 4`) is a run of
//! fixed 40-byte entries sorted by their first 28 bytes, the adjacency key
//! `node | neighbor | label | created_in`, each followed by its 12-byte value
//! `deleted_in | neighbor_type`. One node's entries are a contiguous run found
//! by binary search.

use super::codec::{AdjEntry, AdjKey, AdjValue, NodeId, decode_adj};

/// Node ids per adjacency block: a power of two.
pub const ADJ_SHIFT: u32 = 4;
/// Bytes of one adjacency entry: key then value.
pub const ENTRY: usize = 28 + 12;

/// The adjacency block holding the entries of `node`.
#[inline]
pub fn adj_block_of(node: NodeId) -> u64 {
    node >> ADJ_SHIFT
}

/// The adjacency entries of one node within an adjacency block.
pub fn adj_run(block: &[u8], node: NodeId) -> &[u8] {
    let prefix = node.to_be_bytes();
    entries_with_prefix(block, &prefix)
}

/// The entries of a block whose key starts with `prefix` (at most 28 bytes).
pub fn entries_with_prefix<'b>(block: &'b [u8], prefix: &[u8]) -> &'b [u8] {
    let n = block.len() / ENTRY;
    let key = |i: usize| &block[i * ENTRY..i * ENTRY + prefix.len()];
    let lo = partition(n, |i| key(i) < prefix);
    let hi = lo + partition(n - lo, |i| key(lo + i) == prefix);
    &block[lo * ENTRY..hi * ENTRY]
}

/// The number of leading indices in `0..n` for which `pred` holds (`pred`
/// holds for a prefix of them).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

/// Decodes packed entries: (owning node, entry).
pub fn decode_entries(run: &[u8]) -> impl Iterator<Item = (NodeId, AdjEntry)> + '_ {
    run.chunks_exact(ENTRY).map(|e| {
        let (key, value) = split_entry(e);
        let mut id = [0u8; 8];
        id.copy_from_slice(&key[0..8]);
        (u64::from_be_bytes(id), decode_adj(key, value))
    })
}

fn split_entry(e: &[u8]) -> (&AdjKey, &AdjValue) {
    let key: &AdjKey = e[0..28].try_into().expect("28-byte key");
    let value: &AdjValue = e[28..40].try_into().expect("12-byte value");
    (key, value)
}

/// An adjacency block being modified in a write transaction: entries sorted
/// by key, keys unique.
#[derive(Clone, Debug, Default)]
pub struct AdjBlockBuf {
    entries: Vec<[u8; ENTRY]>,
}

impl AdjBlockBuf {
    pub fn from_bytes(bytes: &[u8]) -> AdjBlockBuf {
        let entries = bytes.chunks_exact(ENTRY).map(|e| e.try_into().expect("40-byte entry")).collect();
        AdjBlockBuf { entries }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.entries.as_flattened()
    }

    pub fn len(&self) -> usize {
        self.entries.len() * ENTRY
    }

    /// Inserts or replaces the entry with `key`. Keys arriving in ascending
    /// order (a bulk load) are appended.
    pub fn put(&mut self, key: &AdjKey, value: &AdjValue) {
        let mut entry = [0u8; ENTRY];
        entry[..28].copy_from_slice(key);
        entry[28..].copy_from_slice(value);
        match self.entries.last() {
            Some(last) if last[..28] < key[..] => self.entries.push(entry),
            None => self.entries.push(entry),
            Some(_) => match self.entries.binary_search_by(|e| e[..28].cmp(&key[..])) {
                Ok(i) => self.entries[i] = entry,
                Err(i) => self.entries.insert(i, entry),
            },
        }
    }
}

/// What is wrong with adjacency block `block`, if anything: a length that is
/// not whole entries, an entry of a node outside the block, or entries out of
/// key order (lookups binary-search the block, so order is load-bearing).
pub fn block_problem(block: u64, bytes: &[u8]) -> Option<String> {
    if bytes.len() % ENTRY != 0 {
        return Some(format!("{} bytes, not a whole number of {ENTRY}-byte entries", bytes.len()));
    }
    let mut previous: Option<&[u8]> = None;
    for entry in bytes.chunks_exact(ENTRY) {
        let mut node = [0u8; 8];
        node.copy_from_slice(&entry[..8]);
        let node = u64::from_be_bytes(node);
        if adj_block_of(node) != block {
            return Some(format!("holds an entry of node #{node}, which belongs to block {}", adj_block_of(node)));
        }
        if previous.is_some_and(|p| p >= &entry[..28]) {
            return Some(format!("entries of node #{node} are out of order or repeated"));
        }
        previous = Some(&entry[..28]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::codec::{LIVE, adj_key, adj_value};
    use super::*;

    #[test]
    fn adjacency_runs_are_found_per_node_in_any_insert_order() {
        let mut b = AdjBlockBuf::default();
        for (node, other) in [(5, 9), (2, 7), (5, 3), (2, 1), (7, 1)] {
            b.put(&adj_key(node, other, 1, 1), &adj_value(LIVE, 0));
        }
        b.put(&adj_key(5, 9, 1, 1), &adj_value(4, 0));
        let bytes = b.as_bytes();
        let of = |n| decode_entries(adj_run(bytes, n)).map(|(_, e)| (e.neighbor, e.deleted_in)).collect::<Vec<_>>();
        assert_eq!(of(2), vec![(1, LIVE), (7, LIVE)]);
        assert_eq!(of(5), vec![(3, LIVE), (9, 4)]);
        assert_eq!(of(7), vec![(1, LIVE)]);
        assert!(of(6).is_empty());
        let between = entries_with_prefix(bytes, &adj_key(5, 9, 0, 0)[..16]);
        assert_eq!(between.len(), ENTRY);
        assert_eq!(block_problem(0, bytes), None);
        let mut swapped = bytes.to_vec();
        swapped[..2 * ENTRY].rotate_left(ENTRY);
        assert!(block_problem(0, &swapped).is_some_and(|p| p.contains("out of order")));
        assert!(block_problem(1, bytes).is_some_and(|p| p.contains("belongs to block 0")));
        assert!(block_problem(0, &bytes[..ENTRY + 3]).is_some_and(|p| p.contains("whole number")));
    }
}
