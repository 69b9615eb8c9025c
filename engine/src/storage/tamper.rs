//! Test-only helpers (the `testing` feature): rewrite stored records, blocks
//! and the format marker behind the engine's back, for the corruption,
//! tamper and upgrade tests. Never compiled into a normal build.

use std::path::Path;

use redb::ReadableTable;

use super::upgrade::rewrite_blocks;

use super::*;

/// Test-only access for tamper and corruption tests: rewrites raw records.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_audit(path: &Path, seq: u64, edit: impl FnOnce(&mut AuditRecord)) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut audit = tx.open_table(AUDIT)?;
        let record: Option<AuditRecord> = match audit.get(seq)? {
            Some(v) => Some(decode(v.value(), "audit entry")?),
            None => None,
        };
        match record {
            Some(mut r) => {
                edit(&mut r);
                let bytes = encode(&r)?;
                audit.insert(seq, bytes.as_slice())?;
            }
            None => return Err(Error::Corrupt { detail: format!("no audit entry {seq}") }),
        }
    }
    tx.commit()?;
    Ok(())
}

/// Test-only: rewrites a node record behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_node(path: &Path, id: NodeId, edit: impl FnOnce(&mut crate::value::Props)) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut blocks = tx.open_table(NODE_BLOCKS)?;
        let block = blocks.get(node_blocks::node_block_of(id))?.map(|v| v.value().to_vec());
        let record: Option<NodeRecord> =
            match block.as_deref().map(|b| node_blocks::record(b, id)).transpose()?.flatten() {
                Some(bytes) => Some(decode(bytes, "node record")?),
                None => None,
            };
        let mut record = record.ok_or_else(|| Error::Corrupt { detail: format!("no node {id}") })?;
        edit(&mut record.props);
        let bytes = encode(&record)?;
        let new = node_blocks::with_record(block.as_deref(), id, &bytes)?;
        blocks.insert(node_blocks::node_block_of(id), new.as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Test-only: rewrites the bytes of an adjacency block behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_adjacency_block(path: &Path, outgoing: bool, block: u64, edit: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    tamper_block(path, if outgoing { OUT_BLOCKS } else { IN_BLOCKS }, block, edit)
}

/// Test-only: rewrites the bytes of a node block behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_node_block(path: &Path, block: u64, edit: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    tamper_block(path, NODE_BLOCKS, block, edit)
}

#[cfg(any(test, feature = "testing"))]
pub(super) fn tamper_block(
    path: &Path,
    def: TableDefinition<u64, &[u8]>,
    block: u64,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(def)?;
        let mut bytes = match table.get(block)? {
            Some(v) => v.value().to_vec(),
            None => return Err(Error::Corrupt { detail: format!("no block {block} in {def}") }),
        };
        edit(&mut bytes);
        table.insert(block, bytes.as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Test-only: removes an audit entry, as an attacker editing the file would.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_remove_audit(path: &Path, seq: u64) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    tx.open_table(AUDIT)?.remove(seq)?;
    tx.commit()?;
    Ok(())
}

/// Test-only: writes a future format version into the file.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_format(path: &Path, format: u32) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    tx.open_table(META)?.insert("format", format.to_le_bytes().as_slice())?;
    tx.commit()?;
    Ok(())
}

/// Test-only: rewrites a current file as format 4 wrote it (adjacency blocks
/// of fixed 40-byte entries), to test the upgrade.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn downgrade_to_format_4(path: &Path) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    fixed_adjacency(&tx)?;
    tx.open_table(META)?.insert("format", 4u32.to_le_bytes().as_slice())?;
    tx.commit()?;
    Ok(())
}

#[cfg(any(test, feature = "testing"))]
pub(super) fn fixed_adjacency(tx: &redb::WriteTransaction) -> Result<()> {
    for def in [OUT_BLOCKS, IN_BLOCKS] {
        rewrite_blocks(tx, def, |block, bytes| {
            let buf = AdjBlockBuf::decode(block, bytes).map_err(|p| Error::Corrupt { detail: p })?;
            Ok(buf.as_bytes().to_vec())
        })?;
    }
    Ok(())
}

/// Test-only: rewrites a current file as format 3 wrote it (one `nodes`
/// entry per node, one `keys` entry per version, fixed adjacency entries),
/// to test the upgrade.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn downgrade_to_format_3(path: &Path) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    fixed_adjacency(&tx)?;
    {
        let mut nodes = tx.open_table(NODES_V3)?;
        for item in tx.open_table(NODE_BLOCKS)?.iter()? {
            let (block, bytes) = item?;
            for (slot, record) in node_blocks::slots(bytes.value())?.into_iter().enumerate() {
                if let Some(record) = record {
                    nodes.insert(block.value() * node_blocks::NODES_PER_BLOCK + slot as u64, record)?;
                }
            }
        }
        let mut keys = tx.open_table(KEYS_V3)?;
        for item in tx.open_table(ENTITIES)?.iter()? {
            let (entity, value) = item?;
            for (version, id) in node_blocks::versions(value.value()) {
                let mut key = entity.value().to_vec();
                key.extend_from_slice(&version.to_be_bytes());
                keys.insert(key.as_slice(), id)?;
            }
        }
        tx.open_table(META)?.insert("format", 3u32.to_le_bytes().as_slice())?;
    }
    tx.delete_table(NODE_BLOCKS)?;
    tx.delete_table(ENTITIES)?;
    tx.commit()?;
    Ok(())
}
