//! Blocked adjacency: both adjacency directions are stored per block of 16
//! consecutive node ids, one redb entry per block, so a bulk load writes one
//! entry per 16 nodes instead of one per edge end, and a node's edges are
//! read with one point lookup. `docs/design.md` documents the layout.
//!
//! In memory, while a write transaction edits it, a block is a run of fixed
//! 40-byte entries sorted by their first 28 bytes, the adjacency key
//! `node | neighbor | label | created_in`, each followed by its 12-byte value
//! `deleted_in | neighbor_type` (`AdjBlockBuf`; one node's entries are a
//! contiguous run found by binary search).
//!
//! On disk (format 5) the same entries are stored compactly as LEB128
//! varints: a slot count `n` (a byte, at most 16), the byte length of each of
//! the first `n` nodes' runs, then the runs. A run lists the node's entries
//! in key order, each as `neighbor delta | label | created_in | deleted_in | neighbor_type`:
//! the first neighbor relative to the node (zigzag), the next ones relative
//! to the previous neighbor; `deleted_in` is 0 for a live edge, else the
//! snapshot plus one. A lineage entry takes 5 to 8 bytes instead of 40.

use super::codec::{AdjEntry, AdjKey, AdjValue, LIVE, NodeId, adj_key, adj_value, decode_adj};

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
/// by key, keys unique (after `settle`, if entries were appended unsorted).
#[derive(Clone, Debug, Default)]
pub struct AdjBlockBuf {
    entries: Vec<[u8; ENTRY]>,
    /// Entries from this index on were appended by `push_unsorted`.
    unsorted_from: Option<usize>,
}

impl AdjBlockBuf {
    /// The stored (compact) block `block`, for editing.
    pub fn decode(block: u64, stored: &[u8]) -> Result<AdjBlockBuf, String> {
        let mut entries = Vec::new();
        for_each_stored(block, stored, |node, e| {
            let mut entry = [0u8; ENTRY];
            entry[..28].copy_from_slice(&adj_key(node, e.neighbor, e.label, e.created_in));
            entry[28..].copy_from_slice(&adj_value(e.deleted_in, e.neighbor_type));
            entries.push(entry);
        })?;
        Ok(AdjBlockBuf { entries, unsorted_from: None })
    }

    /// A block as formats 3 and 4 stored it (fixed entries), to upgrade it.
    pub fn from_fixed(block: u64, bytes: &[u8]) -> Result<AdjBlockBuf, String> {
        if bytes.len() % ENTRY != 0 {
            return Err(format!("is {} bytes, not a whole number of {ENTRY}-byte entries", bytes.len()));
        }
        let entries: Vec<[u8; ENTRY]> =
            bytes.chunks_exact(ENTRY).map(|e| e.try_into().expect("chunks of ENTRY bytes")).collect();
        for (i, entry) in entries.iter().enumerate() {
            let node = be64(&entry[..8]);
            if adj_block_of(node) != block {
                return Err(format!("holds an entry of node #{node}, which belongs to block {}", adj_block_of(node)));
            }
            if i > 0 && entries[i - 1][..28] >= entry[..28] {
                return Err(format!("entries of node #{node} are out of order or repeated"));
            }
        }
        Ok(AdjBlockBuf { entries, unsorted_from: None })
    }

    /// The block as it is stored (compact), `block` being its number.
    pub fn encode(&self, block: u64) -> Vec<u8> {
        encode_entries(block, &self.entries)
    }

    /// The fixed-width entries, in key order.
    pub fn as_bytes(&self) -> &[u8] {
        self.entries.as_flattened()
    }

    pub fn len(&self) -> usize {
        self.entries.len() * ENTRY
    }

    /// Appends an entry without keeping the order; `settle` restores it
    /// (many edges added at once are sorted per block, which is cheaper than
    /// sorting all of them). True if the block was in order before.
    pub fn push_unsorted(&mut self, key: &AdjKey, value: &AdjValue) -> bool {
        let first = self.unsorted_from.is_none();
        self.unsorted_from.get_or_insert(self.entries.len());
        if self.entries.capacity() == 0 {
            // Room for a block's usual share of a bulk load (about 23 entries
            // of 16 nodes on the benchmark graph), not 4, 8, 16, 32 by doubling.
            self.entries.reserve(16);
        }
        let mut entry = [0u8; ENTRY];
        entry[..28].copy_from_slice(key);
        entry[28..].copy_from_slice(value);
        self.entries.push(entry);
        first
    }

    /// Sorts entries appended by `push_unsorted` into place; of entries with
    /// the same key, the one added last stays (as `put` replaces).
    pub fn settle(&mut self) {
        let Some(from) = self.unsorted_from.take() else { return };
        let sorted = |a: &[u8; ENTRY], b: &[u8; ENTRY]| a[..28] < b[..28];
        let in_order = self.entries[from..].is_sorted_by(sorted)
            && (from == 0 || sorted(&self.entries[from - 1], &self.entries[from]));
        if in_order {
            return;
        }
        // Stable: among equal keys the order of addition is kept.
        self.entries.sort_by(|a, b| a[..28].cmp(&b[..28]));
        self.entries.dedup_by(|later, kept| {
            let same = later[..28] == kept[..28];
            if same {
                *kept = *later;
            }
            same
        });
    }

    /// Inserts or replaces the entry with `key`. Keys arriving in ascending
    /// order (a bulk load) are appended.
    pub fn put(&mut self, key: &AdjKey, value: &AdjValue) {
        self.settle();
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

/// What is wrong with stored adjacency block `block`, if anything: bytes
/// that do not decode, or entries out of key order (order is load-bearing:
/// deltas and lookups rely on it).
pub fn block_problem(block: u64, bytes: &[u8]) -> Option<String> {
    for_each_stored(block, bytes, |_, _| {}).err()
}

/// Reads a LEB128 varint at `*at`, moving past it.
fn varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or("ends inside a number")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            if shift == 63 && byte > 1 {
                break;
            }
            return Ok(value);
        }
    }
    Err("holds a number too large".into())
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Encodes fixed entries (sorted by key, all of nodes of `block`) compactly.
fn encode_entries(block: u64, entries: &[[u8; ENTRY]]) -> Vec<u8> {
    let first_node = block << ADJ_SHIFT;
    let mut runs = vec![Vec::new(); 1 << ADJ_SHIFT];
    let mut previous: Option<(u64, u64)> = None;
    for entry in entries {
        let (key, value) = split_entry(entry);
        let (node, e) = (be64(&key[..8]), decode_adj(key, value));
        let run = &mut runs[(node - first_node) as usize];
        let delta = match previous {
            Some((n, neighbor)) if n == node => e.neighbor - neighbor,
            _ => zigzag(e.neighbor.wrapping_sub(node) as i64),
        };
        previous = Some((node, e.neighbor));
        put_varint(run, delta);
        put_varint(run, u64::from(e.label));
        put_varint(run, e.created_in);
        put_varint(run, if e.deleted_in == LIVE { 0 } else { e.deleted_in + 1 });
        put_varint(run, u64::from(e.neighbor_type));
    }
    let slots = runs.iter().rposition(|r| !r.is_empty()).map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(1 + slots + runs.iter().map(Vec::len).sum::<usize>());
    out.push(slots as u8);
    for run in &runs[..slots] {
        put_varint(&mut out, run.len() as u64);
    }
    for run in &runs[..slots] {
        out.extend_from_slice(run);
    }
    out
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// The run lengths of a stored block and where its runs start.
fn run_lengths(bytes: &[u8]) -> Result<(Vec<usize>, usize), String> {
    let slots = *bytes.first().ok_or("is empty")? as usize;
    if slots > 1 << ADJ_SHIFT {
        return Err(format!("claims {slots} nodes, more than the {} of a block", 1 << ADJ_SHIFT));
    }
    let mut at = 1;
    let mut lengths = Vec::with_capacity(slots);
    for _ in 0..slots {
        lengths.push(usize::try_from(varint(bytes, &mut at)?).map_err(|_| "holds a run too long")?);
    }
    let total = lengths.iter().try_fold(0usize, |a, l| a.checked_add(*l)).ok_or("holds runs too long")?;
    if at.checked_add(total) != Some(bytes.len()) {
        return Err(format!("is {} bytes, but its runs add up to {}", bytes.len(), at + total));
    }
    Ok((lengths, at))
}

/// Decodes the run of `node`, calling `each` with every entry in key order.
fn decode_run(node: NodeId, run: &[u8], mut each: impl FnMut(AdjEntry)) -> Result<(), String> {
    let mut at = 0;
    let mut previous: Option<(u64, u32, u64)> = None;
    while at < run.len() {
        let delta = varint(run, &mut at)?;
        let neighbor = match previous {
            None => node.wrapping_add(unzigzag(delta) as u64),
            Some((p, _, _)) => p.checked_add(delta).ok_or("holds a neighbor id out of range")?,
        };
        let label = u32::try_from(varint(run, &mut at)?).map_err(|_| "holds a label id out of range")?;
        let created_in = varint(run, &mut at)?;
        let deleted_in = match varint(run, &mut at)? {
            0 => LIVE,
            d => d - 1,
        };
        let neighbor_type = u32::try_from(varint(run, &mut at)?).map_err(|_| "holds a type id out of range")?;
        if previous.is_some_and(|p| p >= (neighbor, label, created_in)) {
            return Err(format!("entries of node #{node} are out of order or repeated"));
        }
        previous = Some((neighbor, label, created_in));
        each(AdjEntry { neighbor, created_in, deleted_in, label, neighbor_type });
    }
    Ok(())
}

/// Decodes every entry of stored block `block`: (owning node, entry), in key order.
pub fn for_each_stored(block: u64, bytes: &[u8], mut each: impl FnMut(NodeId, AdjEntry)) -> Result<(), String> {
    let (lengths, mut at) = run_lengths(bytes)?;
    for (slot, len) in lengths.into_iter().enumerate() {
        let node = (block << ADJ_SHIFT) + slot as u64;
        decode_run(node, &bytes[at..at + len], |e| each(node, e))?;
        at += len;
    }
    Ok(())
}

/// The entries of `node` in stored block `bytes`, in key order.
pub fn stored_run(bytes: &[u8], node: NodeId) -> Result<Vec<AdjEntry>, String> {
    let (lengths, mut at) = run_lengths(bytes)?;
    let slot = (node & ((1 << ADJ_SHIFT) - 1)) as usize;
    let Some(len) = lengths.get(slot) else { return Ok(Vec::new()) };
    at += lengths[..slot].iter().sum::<usize>();
    let mut out = Vec::new();
    decode_run(node, &bytes[at..at + len], |e| out.push(e))?;
    Ok(out)
}

/// The bytes of an adjacency block as a reader meets them: the write
/// transaction's own edited version (fixed entries) or the stored one.
#[derive(Clone, Copy)]
pub enum BlockBytes<'b> {
    Buffered(&'b [u8]),
    Stored(&'b [u8]),
}

impl BlockBytes<'_> {
    /// The entries of `node`, in key order.
    pub fn run(self, node: NodeId) -> Result<Vec<AdjEntry>, String> {
        match self {
            BlockBytes::Buffered(b) => Ok(decode_entries(adj_run(b, node)).map(|(_, e)| e).collect()),
            BlockBytes::Stored(b) => stored_run(b, node),
        }
    }

    /// The entries from `node` to `neighbor` (all labels and snapshots).
    pub fn between(self, node: NodeId, neighbor: NodeId) -> Result<Vec<AdjEntry>, String> {
        match self {
            BlockBytes::Buffered(b) => {
                let prefix = adj_key(node, neighbor, 0, 0);
                Ok(decode_entries(entries_with_prefix(b, &prefix[..16])).map(|(_, e)| e).collect())
            }
            BlockBytes::Stored(b) => {
                let mut run = stored_run(b, node)?;
                run.retain(|e| e.neighbor == neighbor);
                Ok(run)
            }
        }
    }

    /// Every entry of block `block`: (owning node, entry), in key order.
    pub fn all(self, block: u64, out: &mut Vec<(NodeId, AdjEntry)>) -> Result<(), String> {
        match self {
            BlockBytes::Buffered(b) => {
                out.extend(decode_entries(b));
                Ok(())
            }
            BlockBytes::Stored(b) => for_each_stored(block, b, |node, e| out.push((node, e))),
        }
    }

    /// What is wrong with the block, if anything (see `block_problem`).
    pub fn problem(self, block: u64) -> Option<String> {
        match self {
            BlockBytes::Buffered(_) => None,
            BlockBytes::Stored(b) => block_problem(block, b),
        }
    }
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
        // The stored form holds the same entries, in the same order.
        let stored = b.encode(0);
        assert_eq!(block_problem(0, &stored), None);
        for node in 0..16 {
            let fixed: Vec<AdjEntry> = decode_entries(adj_run(bytes, node)).map(|(_, e)| e).collect();
            assert_eq!(stored_run(&stored, node).unwrap(), fixed, "node {node}");
        }
        assert_eq!(AdjBlockBuf::decode(0, &stored).unwrap().as_bytes(), bytes);
    }

    #[test]
    fn unsorted_appends_settle_like_puts() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for round in 0..200 {
            let (mut put, mut pushed) = (AdjBlockBuf::default(), AdjBlockBuf::default());
            // Some entries first, as a block loaded from disk would have.
            for _ in 0..next(5) {
                let (node, other, label) = (next(16), next(40), 1 + next(2) as u32);
                put.put(&adj_key(node, other, label, 1), &adj_value(LIVE, 0));
                pushed.put(&adj_key(node, other, label, 1), &adj_value(LIVE, 0));
            }
            // Then a batch, with repeated keys whose last value must win.
            for i in 0..next(30) {
                let (node, other, label) = (next(16), next(40), 1 + next(2) as u32);
                let value = adj_value(if i % 3 == 0 { 7 } else { LIVE }, i as u32);
                put.put(&adj_key(node, other, label, 1), &value);
                pushed.push_unsorted(&adj_key(node, other, label, 1), &value);
            }
            pushed.settle();
            assert_eq!(pushed.as_bytes(), put.as_bytes(), "round {round}");
        }
    }

    #[test]
    fn stored_blocks_round_trip_extreme_values() {
        // Neighbors far below and above the node, the largest ids, deleted
        // and live edges, parallel edges with other labels and snapshots.
        let node = (7u64 << ADJ_SHIFT) + 3;
        let mut b = AdjBlockBuf::default();
        let cases = [
            (0, 0, 0, LIVE, 0),
            (node - 1, 5, 2, 9, 3),
            (node + 1, 5, 2, LIVE, u32::MAX),
            (node + 1, 5, 3, 4, 1),
            (node + 1, u32::MAX, 1, LIVE, 1),
            (u64::MAX - 1, 1, u64::MAX - 1, u64::MAX - 1, 2),
        ];
        for (neighbor, label, created, deleted, ty) in cases {
            b.put(&adj_key(node, neighbor, label, created), &adj_value(deleted, ty));
        }
        b.put(&adj_key(node + 12, node, 1, 1), &adj_value(LIVE, 1));
        let stored = b.encode(7);
        assert_eq!(block_problem(7, &stored), None);
        let run = stored_run(&stored, node).unwrap();
        let want: Vec<_> = cases
            .iter()
            .map(|&(neighbor, label, created_in, deleted_in, neighbor_type)| AdjEntry {
                neighbor,
                created_in,
                deleted_in,
                label,
                neighbor_type,
            })
            .collect();
        assert_eq!(run, want);
        assert_eq!(stored_run(&stored, node + 12).unwrap().len(), 1);
        assert!(stored_run(&stored, node + 13).unwrap().is_empty());
        assert_eq!(AdjBlockBuf::decode(7, &stored).unwrap().as_bytes(), b.as_bytes());
        assert_eq!(AdjBlockBuf::default().encode(3), vec![0]);
    }

    #[test]
    fn damaged_stored_blocks_are_named() {
        let mut b = AdjBlockBuf::default();
        for other in [3, 9, 20] {
            b.put(&adj_key(2, other, 1, 1), &adj_value(LIVE, 0));
        }
        let stored = b.encode(0);
        assert!(block_problem(0, &stored[..stored.len() - 1]).is_some_and(|p| p.contains("bytes")));
        assert!(block_problem(0, &[]).is_some_and(|p| p.contains("empty")));
        assert!(block_problem(0, &[17]).is_some_and(|p| p.contains("more than")));
        // Second entry's neighbor delta set to 0: a repeated entry.
        let mut repeated = stored.clone();
        let second = 4 + 5; // header (count, three lengths) then the first entry
        repeated[second] = 0;
        assert!(
            block_problem(0, &repeated).is_some_and(|p| p.contains("out of order")),
            "{:?}",
            block_problem(0, &repeated)
        );
        assert!(AdjBlockBuf::decode(0, &repeated).is_err());
        assert!(stored_run(&repeated, 2).is_err());
        let mut unterminated = stored.clone();
        let last = unterminated.len() - 1;
        unterminated[last] |= 0x80;
        assert!(block_problem(0, &unterminated).is_some());
    }
}
