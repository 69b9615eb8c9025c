//! The in-place upgrade of format 3 and 4 files to format 5, in one redb
//! transaction (a crash leaves the file as it was).

use redb::ReadableTable;

use super::*;

/// Rewrites a format 3 or 4 file as the current format in one transaction
/// (a crash leaves it as it was). From format 3: the records of `nodes` into
/// `node_blocks`, the versions of `keys` into `entities`, the two old tables
/// dropped. From formats 3 and 4: the adjacency blocks stored compactly.
pub(super) fn upgrade(db: &redb::Database, from: u32) -> Result<()> {
    let tx = db.begin_write()?;
    if from == 3 {
        nodes_from_format_3(&tx)?;
        tx.delete_table(NODES_V3)?;
        tx.delete_table(KEYS_V3)?;
    }
    if from <= 4 {
        for (def, dir) in [(OUT_BLOCKS, Dir::Out), (IN_BLOCKS, Dir::In)] {
            rewrite_blocks(&tx, def, |block, bytes| {
                AdjBlockBuf::from_fixed(block, bytes)
                    .map(|b| b.encode(block))
                    .map_err(|problem| damaged_block(dir, block, format!("{problem} (format {from})")))
            })?;
        }
    }
    tx.open_table(META)?.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
    tx.commit()?;
    Ok(())
}

/// Rewrites every entry of a block table with `f`.
pub(super) fn rewrite_blocks(
    tx: &redb::WriteTransaction,
    def: TableDefinition<u64, &[u8]>,
    f: impl Fn(u64, &[u8]) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut table = tx.open_table(def)?;
    let mut rewritten = Vec::new();
    for item in table.iter()? {
        let (block, bytes) = item?;
        rewritten.push((block.value(), f(block.value(), bytes.value())?));
    }
    for (block, bytes) in rewritten {
        table.insert(block, bytes.as_slice())?;
    }
    Ok(())
}

/// Format 3's node records and key dictionary, in format 4's tables.
pub(super) fn nodes_from_format_3(tx: &redb::WriteTransaction) -> Result<()> {
    {
        let old_nodes = tx.open_table(NODES_V3)?;
        let mut blocks = tx.open_table(NODE_BLOCKS)?;
        let mut slots: Vec<Option<Vec<u8>>> = Vec::new();
        let mut block = None;
        let mut write = |block: u64, slots: &mut Vec<Option<Vec<u8>>>| -> Result<()> {
            let refs: Vec<Option<&[u8]>> = slots.iter().map(|s| s.as_deref()).collect();
            blocks.insert(block, node_blocks::encode(&refs).as_slice())?;
            slots.clear();
            Ok(())
        };
        for item in old_nodes.iter()? {
            let (id, record) = item?;
            let id = id.value();
            let b = node_blocks::node_block_of(id);
            if block != Some(b) {
                if let Some(done) = block {
                    write(done, &mut slots)?;
                }
                block = Some(b);
            }
            let slot = (id % node_blocks::NODES_PER_BLOCK) as usize;
            slots.resize(slot, None);
            slots.push(Some(record.value().to_vec()));
        }
        if let Some(done) = block {
            write(done, &mut slots)?;
        }
        let old_keys = tx.open_table(KEYS_V3)?;
        let mut entities = tx.open_table(ENTITIES)?;
        let mut current: Option<Vec<u8>> = None;
        let mut value = Vec::new();
        for item in old_keys.iter()? {
            let (key, id) = item?;
            let key = key.value();
            let bad = || Error::Corrupt { detail: "a key of the format 3 key dictionary is malformed".into() };
            let (entity, version) = key.split_at_checked(key.len().checked_sub(8).ok_or_else(bad)?).ok_or_else(bad)?;
            if current.as_deref() != Some(entity) {
                if let Some(done) = current.take() {
                    entities.insert(done.as_slice(), value.as_slice())?;
                }
                current = Some(entity.to_vec());
                value.clear();
            }
            node_blocks::push_version(
                &mut value,
                u64::from_be_bytes(version.try_into().map_err(|_| bad())?),
                id.value(),
            );
        }
        if let Some(done) = current {
            entities.insert(done.as_slice(), value.as_slice())?;
        }
    }
    Ok(())
}
