//! Node records packed in blocks of 64 consecutive ids (table
//! `node_blocks`), and the versions of an entity packed in one value (table
//! `entities`): one redb entry per 64 nodes and one per entity, instead of
//! one per node in each. redb costs about half a microsecond per entry
//! inserted, which made these two tables most of a bulk load.
//!
//! Block layout: `n: u8` (slots present, `1..=64`), then `n` end offsets
//! (`u32` LE, into the data that follows), then the records' bytes. Slot `i`
//! holds node `block * 64 + i`; an empty slot (a record is never empty) is a
//! node id not assigned. Entity value: `(version u64 LE, node id u64 LE)`
//! pairs, versions ascending.

use crate::error::{Error, Result};

use super::NodeId;

/// Node ids per block.
pub const NODES_PER_BLOCK: u64 = 64;

/// The block holding node `id`.
pub fn node_block_of(id: NodeId) -> u64 {
    id / NODES_PER_BLOCK
}

fn slot_of(id: NodeId) -> usize {
    (id % NODES_PER_BLOCK) as usize
}

fn damaged(block: &[u8], why: &str) -> Error {
    Error::Corrupt { detail: format!("a node block ({} bytes) is damaged: {why}", block.len()) }
}

/// Every slot of a block, empty ones as `None`, with the block's bytes.
pub fn slots(block: &[u8]) -> Result<Vec<Option<&[u8]>>> {
    let n = *block.first().ok_or_else(|| damaged(block, "it is empty"))? as usize;
    if n == 0 || n as u64 > NODES_PER_BLOCK {
        return Err(damaged(block, "its slot count is out of range"));
    }
    let data = 1 + 4 * n;
    if block.len() < data {
        return Err(damaged(block, "its offsets are cut short"));
    }
    let mut out = Vec::with_capacity(n);
    let mut start = 0usize;
    for i in 0..n {
        let end = u32::from_le_bytes(block[1 + 4 * i..5 + 4 * i].try_into().expect("4 bytes")) as usize;
        if end < start || data + end > block.len() {
            return Err(damaged(block, "an offset points outside it"));
        }
        out.push((end > start).then(|| &block[data + start..data + end]));
        start = end;
    }
    if data + start != block.len() {
        return Err(damaged(block, "bytes follow its last record"));
    }
    Ok(out)
}

/// The record of node `id` in its block.
pub fn record(block: &[u8], id: NodeId) -> Result<Option<&[u8]>> {
    let n = *block.first().ok_or_else(|| damaged(block, "it is empty"))? as usize;
    let slot = slot_of(id);
    if slot >= n {
        return Ok(None);
    }
    let data = 1 + 4 * n;
    let offset = |i: usize| -> Result<usize> {
        let bytes = block.get(1 + 4 * i..5 + 4 * i).ok_or_else(|| damaged(block, "its offsets are cut short"))?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
    };
    let start = if slot == 0 { 0 } else { offset(slot - 1)? };
    let end = offset(slot)?;
    if end < start || data + end > block.len() {
        return Err(damaged(block, "an offset points outside it"));
    }
    Ok((end > start).then(|| &block[data + start..data + end]))
}

/// Encodes slots (`None`: an id not assigned) as a block.
pub fn encode(slots: &[Option<&[u8]>]) -> Vec<u8> {
    assert!(!slots.is_empty() && slots.len() as u64 <= NODES_PER_BLOCK, "a node block holds 1 to 64 slots");
    let size: usize = slots.iter().flatten().map(|r| r.len()).sum();
    let mut out = Vec::with_capacity(1 + 4 * slots.len() + size);
    out.push(slots.len() as u8);
    let mut end = 0u32;
    for s in slots {
        end += s.map_or(0, |r| r.len() as u32);
        out.extend_from_slice(&end.to_le_bytes());
    }
    for s in slots.iter().flatten() {
        out.extend_from_slice(s);
    }
    out
}

/// A block with node `id`'s slot set to `record`, from the stored block (if any).
pub fn with_record(block: Option<&[u8]>, id: NodeId, record: &[u8]) -> Result<Vec<u8>> {
    let mut all = match block {
        Some(b) => slots(b)?,
        None => Vec::new(),
    };
    let slot = slot_of(id);
    if all.len() <= slot {
        all.resize(slot + 1, None);
    }
    all[slot] = Some(record);
    Ok(encode(&all))
}

/// The (version, node id) pairs of an entity value, versions ascending.
pub fn versions(value: &[u8]) -> impl Iterator<Item = (u64, NodeId)> + '_ {
    value.chunks_exact(16).map(|pair| {
        let version = u64::from_le_bytes(pair[..8].try_into().expect("8 bytes"));
        (version, u64::from_le_bytes(pair[8..].try_into().expect("8 bytes")))
    })
}

/// The node id of `version` in an entity value. Versions are numbered 1, 2,
/// 3, ... so version `v` is usually pair `v - 1`; otherwise binary search.
pub fn find_version(value: &[u8], version: u64) -> Option<NodeId> {
    let pair = |i: usize| -> (u64, NodeId) {
        let p = &value[16 * i..16 * i + 16];
        (
            u64::from_le_bytes(p[..8].try_into().expect("8 bytes")),
            u64::from_le_bytes(p[8..].try_into().expect("8 bytes")),
        )
    };
    let n = value.len() / 16;
    if let Some(guess) = version.checked_sub(1).filter(|g| *g < n as u64) {
        if pair(guess as usize).0 == version {
            return Some(pair(guess as usize).1);
        }
    }
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match pair(mid).0.cmp(&version) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(pair(mid).1),
        }
    }
    None
}

/// Appends a (version, node id) pair to an entity value.
pub fn push_version(value: &mut Vec<u8>, version: u64, id: NodeId) {
    value.extend_from_slice(&version.to_le_bytes());
    value.extend_from_slice(&id.to_le_bytes());
}

/// Whether an entity value is well formed: whole pairs, versions ascending.
pub fn entity_value_ok(value: &[u8]) -> bool {
    value.len() % 16 == 0 && !value.is_empty() && versions(value).zip(versions(value).skip(1)).all(|(a, b)| a.0 < b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_with_gaps_and_replacement() {
        let block = encode(&[Some(b"zero"), None, Some(b"two!!")]);
        assert_eq!(slots(&block).unwrap(), vec![Some(&b"zero"[..]), None, Some(&b"two!!"[..])]);
        assert_eq!(record(&block, 64).unwrap(), Some(&b"zero"[..]));
        assert_eq!(record(&block, 65).unwrap(), None);
        assert_eq!(record(&block, 66).unwrap(), Some(&b"two!!"[..]));
        assert_eq!(record(&block, 67).unwrap(), None);
        let grown = with_record(Some(&block), 64 + 5, b"five").unwrap();
        assert_eq!(record(&grown, 69).unwrap(), Some(&b"five"[..]));
        assert_eq!(record(&grown, 66).unwrap(), Some(&b"two!!"[..]));
        let replaced = with_record(Some(&grown), 64, b"0").unwrap();
        assert_eq!(slots(&replaced).unwrap()[0], Some(&b"0"[..]));
        assert_eq!(slots(&replaced).unwrap().len(), 6);
        assert_eq!(with_record(None, 3, b"x").unwrap(), encode(&[None, None, None, Some(b"x")]));
    }

    #[test]
    fn damaged_blocks_are_errors_not_panics() {
        let block = encode(&[Some(b"abc"), Some(b"de")]);
        for cut in 0..block.len() {
            assert!(slots(&block[..cut]).is_err(), "cut at {cut}");
            let _ = record(&block[..cut], 1);
        }
        let mut bad = block.clone();
        bad[1] = 200;
        assert!(slots(&bad).is_err());
        assert!(record(&bad, 0).is_err());
        assert!(slots(&[0]).is_err());
    }

    #[test]
    fn entity_values_list_versions_in_order() {
        let mut v = Vec::new();
        push_version(&mut v, 1, 10);
        push_version(&mut v, 3, 42);
        assert_eq!(versions(&v).collect::<Vec<_>>(), vec![(1, 10), (3, 42)]);
        assert_eq!((find_version(&v, 1), find_version(&v, 3), find_version(&v, 2)), (Some(10), Some(42), None));
        assert_eq!((find_version(&v, 0), find_version(&v, 4)), (None, None));
        assert!(entity_value_ok(&v));
        push_version(&mut v, 2, 43);
        assert!(!entity_value_ok(&v));
        assert!(!entity_value_ok(&v[..20]));
    }
}
