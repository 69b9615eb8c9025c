//! `WriteTables`: the typed writes of a write transaction, with its buffers
//! of changed adjacency blocks and of new nodes, written at commit (or when
//! they pass `FLUSH_BYTES`) while helper threads hash the batch and build the
//! new edges' blocks.

use redb::ReadableTable;

use super::*;

/// Adjacency blocks changed by the write transaction and not yet written to
/// redb: a block changed many times (a bulk load appends to each block edge
/// by edge) is written once, at commit or when the buffered bytes pass
/// `FLUSH_BYTES`.
#[derive(Default)]
pub(super) struct Dirty {
    pub(super) out: FxHashMap<u64, AdjBlockBuf>,
    pub(super) inn: FxHashMap<u64, AdjBlockBuf>,
    /// Bytes buffered, roughly: the blocks' sizes when first buffered plus
    /// everything added since.
    pub(super) bytes: usize,
}

impl Dirty {
    /// Adds new edges to their buffered blocks (every stored block they go
    /// into must be buffered already): appended, then each block changed is
    /// sorted on its own (a later edge with the key of an earlier entry
    /// replaces it).
    pub(super) fn add_edges(&mut self, edges: &[(EdgeId, Props)]) {
        let (mut out, mut inn) = (Vec::new(), Vec::new());
        for (e, _) in edges {
            let (b, block) = (adj_block_of(e.from), self.out.entry(adj_block_of(e.from)).or_default());
            if block.push_unsorted(&adj_key(e.from, e.to, e.label, e.created_in), &adj_value(LIVE, e.to_type)) {
                out.push(b);
            }
            let (b, block) = (adj_block_of(e.to), self.inn.entry(adj_block_of(e.to)).or_default());
            if block.push_unsorted(&adj_key(e.to, e.from, e.label, e.created_in), &adj_value(LIVE, e.from_type)) {
                inn.push(b);
            }
        }
        for (map, changed) in [(&mut self.out, out), (&mut self.inn, inn)] {
            for b in changed {
                map.get_mut(&b).expect("buffered above").settle();
            }
        }
        self.bytes += 2 * blocks::ENTRY * edges.len();
    }

    /// Every block, stored form, in block order: (outgoing, incoming).
    pub(super) fn encode(self) -> EncodedBlocks {
        let encode = |map: FxHashMap<u64, AdjBlockBuf>| {
            let mut blocks: Vec<(u64, Vec<u8>)> = map.into_iter().map(|(b, buf)| (b, buf.encode(b))).collect();
            blocks.sort_unstable_by_key(|(b, _)| *b);
            blocks
        };
        (encode(self.out), encode(self.inn))
    }

    pub(super) fn map(&self, dir: Dir) -> &FxHashMap<u64, AdjBlockBuf> {
        match dir {
            Dir::Out => &self.out,
            Dir::In => &self.inn,
        }
    }

    pub(super) fn map_mut(&mut self, dir: Dir) -> &mut FxHashMap<u64, AdjBlockBuf> {
        match dir {
            Dir::Out => &mut self.out,
            Dir::In => &mut self.inn,
        }
    }
}

/// Adjacency blocks as stored, in block order: (outgoing, incoming).
pub(super) type EncodedBlocks = (Vec<(u64, Vec<u8>)>, Vec<(u64, Vec<u8>)>);

/// Buffered block bytes above which a write transaction writes its changed
/// blocks to redb (still uncommitted) and starts buffering afresh.
pub(super) const FLUSH_BYTES: usize = 512 << 20;

impl WriteTables {
    pub(super) fn new(tx: redb::WriteTransaction) -> Result<WriteTables> {
        let cell = TxCell::new(tx, |tx| OpenTables::open(tx));
        let no_stored_keys = cell.with_dependent(|_, tables| match tables {
            Ok(t) => Ok(redb::ReadableTableMetadata::len(&t.entities)? == 0),
            Err(e) => Err(Error::Storage(e.to_string())),
        })?;
        Ok(WriteTables {
            cell,
            dirty: Dirty::default(),
            fresh: Fresh::default(),
            no_stored_keys,
            prehash: Default::default(),
            flush_bytes: FLUSH_BYTES,
        })
    }

    /// Runs `f` with read access to the transaction's current state.
    pub fn read<R>(&self, f: impl FnOnce(&dyn StoreRead) -> Result<R>) -> Result<R> {
        let (dirty, fresh, no_stored_keys) = (&self.dirty, &self.fresh, self.no_stored_keys);
        self.cell.with_dependent(|_, tables| match tables {
            Ok(tables) => f(&WriteView { tables, dirty, fresh, no_stored_keys }),
            Err(e) => Err(Error::Storage(e.to_string())),
        })
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut OpenTables<'_>) -> Result<R>) -> Result<R> {
        self.cell.with_dependent_mut(|_, tables| match tables {
            Ok(tables) => f(tables),
            Err(e) => Err(Error::Storage(e.to_string())),
        })
    }

    /// The stored version of an adjacency block, for buffering it (empty if none).
    fn stored_block(&self, dir: Dir, block: u64) -> Result<AdjBlockBuf> {
        self.cell.with_dependent(|_, tables| {
            let t = tables.as_ref().map_err(|e| Error::Storage(e.to_string()))?;
            let table = match dir {
                Dir::Out => &t.out_blocks,
                Dir::In => &t.in_blocks,
            };
            match table.get(block)? {
                Some(v) => AdjBlockBuf::decode(block, v.value()).map_err(|p| damaged_block(dir, block, p)),
                None => Ok(AdjBlockBuf::default()),
            }
        })
    }

    /// Stores the adjacency entry `key` -> `value` in its block.
    fn put_adj(&mut self, dir: Dir, key: &AdjKey, value: &AdjValue) -> Result<()> {
        let mut node = [0u8; 8];
        node.copy_from_slice(&key[..8]);
        let block = adj_block_of(u64::from_be_bytes(node));
        if !self.dirty.map(dir).contains_key(&block) {
            let buf = self.stored_block(dir, block)?;
            self.dirty.bytes += buf.len();
            self.dirty.map_mut(dir).insert(block, buf);
        }
        self.dirty.map_mut(dir).get_mut(&block).expect("buffered above").put(key, value);
        self.dirty.bytes += blocks::ENTRY;
        Ok(())
    }

    fn flush_if_large(&mut self) -> Result<()> {
        if self.dirty.bytes > self.flush_bytes { self.flush_blocks() } else { Ok(()) }
    }

    /// Writes every buffered block to redb, in block order.
    pub fn flush_blocks(&mut self) -> Result<()> {
        let encoded = std::mem::take(&mut self.dirty).encode();
        self.write_blocks(encoded)
    }

    /// Writes encoded blocks (`Dirty::encode`) to redb.
    fn write_blocks(&mut self, (out, inn): EncodedBlocks) -> Result<()> {
        self.with(|t| {
            for (blocks, table) in [(out, &mut t.out_blocks), (inn, &mut t.in_blocks)] {
                let mut out = Ascending::new(table)?;
                for (block, bytes) in blocks {
                    out.put(block, bytes.as_slice())?;
                }
                out.finish()?;
            }
            Ok(())
        })
    }

    pub fn put_counters(&mut self, c: &Counters) -> Result<()> {
        let bytes = encode(c)?;
        self.with(|t| Ok(t.meta.insert("counters", bytes.as_slice()).map(|_| ())?))
    }

    /// Records `token` under `once:<token>` in `meta` with `snapshot`, unless
    /// it is there already; returns the snapshot that first recorded it.
    pub fn claim_once(&mut self, token: &str, snapshot: SnapshotId) -> Result<Option<SnapshotId>> {
        let key = format!("{ONCE_PREFIX}{token}");
        self.with(|t| {
            if let Some(found) = t.meta.get(key.as_str())? {
                return Ok(Some(decode(found.value(), "once token")?));
            }
            let bytes = encode(&snapshot)?;
            t.meta.insert(key.as_str(), bytes.as_slice())?;
            Ok(None)
        })
    }

    /// Adds `key` to the versions recorded with content `sha256`.
    pub fn note_content(&mut self, sha256: &str, key: &str) -> Result<()> {
        let meta_key = format!("{CONTENT_PREFIX}{sha256}");
        self.with(|t| {
            let mut keys: Vec<String> = match t.meta.get(meta_key.as_str())? {
                Some(found) => decode(found.value(), "content index")?,
                None => Vec::new(),
            };
            if !keys.iter().any(|k| k == key) {
                keys.push(key.to_owned());
                let bytes = encode(&keys)?;
                t.meta.insert(meta_key.as_str(), bytes.as_slice())?;
            }
            Ok(())
        })
    }

    /// Records `alias` as another name of the `type_name` entity `name`,
    /// unless it names one already; returns the name it maps to.
    pub fn put_name_alias(&mut self, type_name: &str, alias: &str, name: &str) -> Result<String> {
        let key = format!("{NAME_ALIAS_PREFIX}{type_name}:{alias}");
        self.with(|t| {
            if let Some(found) = t.meta.get(key.as_str())? {
                return decode(found.value(), "name alias");
            }
            let bytes = encode(&name.to_owned())?;
            t.meta.insert(key.as_str(), bytes.as_slice())?;
            Ok(name.to_owned())
        })
    }

    pub fn put_type(&mut self, name: &str, id: u32) -> Result<()> {
        self.with(|t| Ok(t.types.insert(name, id).map(|_| ())?))
    }

    pub fn put_label(&mut self, name: &str, id: u32) -> Result<()> {
        self.with(|t| Ok(t.labels.insert(name, id).map(|_| ())?))
    }

    /// Stores a node record; `new_key` also registers its key (a new node).
    pub fn put_node(&mut self, id: NodeId, record: &NodeRecord, new_key: bool) -> Result<()> {
        let bytes = encode(record)?;
        if new_key {
            return self.put_new_node(id, record.type_id, &record.name, record.version, &bytes, StoredEntity::Unknown);
        }
        if self.fresh.replace(id, &bytes) {
            return Ok(());
        }
        self.with(|t| {
            let block = node_blocks::node_block_of(id);
            let stored = t.node_blocks.get(block)?.map(|v| v.value().to_vec());
            let new = node_blocks::with_record(stored.as_deref(), id, &bytes)?;
            t.node_blocks.insert(block, new.as_slice())?;
            Ok(())
        })
    }

    /// Stores a new node whose record is already encoded. It is buffered and
    /// written with the others at commit (see `fresh.rs`).
    pub fn put_new_node(
        &mut self,
        id: NodeId,
        type_id: u32,
        name: &str,
        version: u64,
        bytes: &[u8],
        stored: StoredEntity,
    ) -> Result<()> {
        if !self.fresh.accepts(id) {
            self.flush_fresh()?;
        }
        self.prehash.add_node(id, bytes);
        self.fresh.push(id, type_id, name, version, bytes, stored);
        if self.fresh.size() > self.flush_bytes {
            self.flush_fresh()?;
        }
        Ok(())
    }

    /// The id of a node this transaction created with this exact key and
    /// has not changed since (so it is live), without touching redb.
    pub fn created_id(&self, type_id: u32, name: &str, version: u64) -> Option<NodeId> {
        self.fresh.unchanged_version_id(type_id, name, version)
    }

    /// Feeds every node created from now on into a batch digest (see
    /// `finish_prehash`), hashed on a worker thread as they come
    /// (`crate::prehash`).
    pub fn digest_new_nodes(&mut self) {
        self.prehash.start_nodes();
    }

    /// Adds a buffered edge (one of `WriteTx::pending`) to the batch digest's
    /// edge hashes.
    pub fn prehash_edge(&mut self, key: AdjKey, props: &Props) {
        self.prehash.add_edge(key, props);
    }

    /// Drops the buffered edges' hashes so far: those edges were written
    /// early and are hashed with the batch's other edges.
    pub fn forget_prehashed_edges(&mut self) {
        self.prehash.forget_edges();
    }

    /// Stops feeding the batch digest; its worker finishes in the
    /// background. `Closing::join` gives the digest of the new nodes (if
    /// `digest_new_nodes` started one) and the content hashes of the
    /// buffered edges since the last `forget_prehashed_edges`, sorted by key.
    pub fn close_prehash(&mut self) -> crate::prehash::Closing {
        std::mem::take(&mut self.prehash).close()
    }

    /// Writes the buffered new nodes to redb.
    pub fn flush_fresh(&mut self) -> Result<()> {
        if self.fresh.is_empty() { Ok(()) } else { self.write_buffered(Vec::new(), false, || ()) }
    }

    /// Writes everything buffered to redb: the new nodes (records in id
    /// order, keys in key order), the new edges `edges` (as `put_edges_sorted`
    /// would) and the changed adjacency blocks. This thread does the redb
    /// writes; meanwhile, for a large batch, one more thread adds `edges` to
    /// their blocks and another runs `side` (the caller's own hashing), whose
    /// result is returned. A small batch does all of it on this thread.
    pub fn write_buffered<R: Send>(
        &mut self,
        edges: Vec<(EdgeId, Props)>,
        clear_stale: bool,
        side: impl FnOnce() -> R + Send,
    ) -> Result<R> {
        // What of the edges touches redb is done here first: their
        // properties, and loading the stored blocks they go into.
        self.put_edge_props(&edges, clear_stale)?;
        self.load_blocks_of(&edges)?;
        let fresh = std::mem::take(&mut self.fresh);
        let mut dirty = std::mem::take(&mut self.dirty);
        let parallel = fresh.len() + edges.len() >= PARALLEL_FROM;
        let fresh = &fresh;
        let (side, written) = alongside(parallel, side, || {
            // A helper adds the edges to their blocks and encodes every
            // changed block while this thread writes the nodes; then this
            // thread writes the blocks.
            let add = move || {
                dirty.add_edges(&edges);
                dirty.encode()
            };
            let (blocks, written) = alongside(parallel, add, || self.write_fresh(fresh));
            written.and_then(|()| self.write_blocks(blocks))
        });
        written.map(|()| side)
    }

    /// Stores the properties of new edges (or, with `clear_stale`, removes
    /// those an earlier link of the same key in this transaction left).
    fn put_edge_props(&mut self, edges: &[(EdgeId, Props)], clear_stale: bool) -> Result<()> {
        for (e, props) in edges {
            let key = adj_key(e.from, e.to, e.label, e.created_in);
            if !props.is_empty() {
                let p = encode(props)?;
                self.with(|t| Ok(t.edge_props.insert(&key, p.as_slice()).map(|_| ())?))?;
            } else if clear_stale {
                self.with(|t| Ok(t.edge_props.remove(&key).map(|_| ())?))?;
            }
        }
        Ok(())
    }

    /// Buffers every stored adjacency block that `edges` go into and that is
    /// not buffered yet, so they can be added to the buffer alone.
    fn load_blocks_of(&mut self, edges: &[(EdgeId, Props)]) -> Result<()> {
        for dir in [Dir::Out, Dir::In] {
            let last_stored = self.cell.with_dependent(|_, tables| -> Result<Option<u64>> {
                let t = tables.as_ref().map_err(|e| Error::Storage(e.to_string()))?;
                let table = match dir {
                    Dir::Out => &t.out_blocks,
                    Dir::In => &t.in_blocks,
                };
                Ok(table.last()?.map(|(k, _)| k.value()))
            })?;
            let Some(last_stored) = last_stored else { continue };
            let mut wanted: Vec<u64> = edges
                .iter()
                .map(|(e, _)| adj_block_of(if dir == Dir::Out { e.from } else { e.to }))
                .filter(|b| *b <= last_stored && !self.dirty.map(dir).contains_key(b))
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            for block in wanted {
                let buf = self.stored_block(dir, block)?;
                self.dirty.bytes += buf.len();
                self.dirty.map_mut(dir).insert(block, buf);
            }
        }
        Ok(())
    }

    fn write_fresh(&mut self, fresh: &Fresh) -> Result<()> {
        if fresh.is_empty() {
            return Ok(());
        }
        let no_stored_keys = self.no_stored_keys;
        self.with(|t| {
            // The entities' keys are sorted (on another thread, for a large
            // batch) while the records are written.
            let parallel = fresh.len() >= PARALLEL_FROM;
            let (keys, written) = alongside(parallel, || fresh.sorted_keys(), || write_node_blocks(t, fresh));
            written?;
            write_entities(t, &keys, no_stored_keys)
        })?;
        self.no_stored_keys = false;
        Ok(())
    }

    /// Stores both directions of an edge and its properties.
    pub fn put_edge(&mut self, edge: &EdgeId, props: &Props) -> Result<()> {
        let EdgeId { from, from_type, to, to_type, label, created_in } = *edge;
        let props = if props.is_empty() { None } else { Some(encode(props)?) };
        let out_key = adj_key(from, to, label, created_in);
        self.put_adj(Dir::Out, &out_key, &adj_value(LIVE, to_type))?;
        self.put_adj(Dir::In, &adj_key(to, from, label, created_in), &adj_value(LIVE, from_type))?;
        self.with(|t| {
            match &props {
                Some(p) => t.edge_props.insert(&out_key, p.as_slice())?,
                // Unlinked and linked again in one transaction: drop the old properties.
                None => t.edge_props.remove(&out_key)?,
            };
            Ok(())
        })?;
        self.flush_if_large()
    }

    /// Stores many new edges: the outgoing entries (and properties) sorted by
    /// source, then the incoming entries sorted by target, so each block's
    /// entries arrive in key order and are appended.
    /// `clear_stale`: an edge with no properties also removes properties left
    /// by an earlier link of the same key in this transaction.
    pub fn put_edges_sorted(&mut self, edges: &mut [(EdgeId, Props)], clear_stale: bool) -> Result<()> {
        self.put_edge_props(edges, clear_stale)?;
        self.load_blocks_of(edges)?;
        self.dirty.add_edges(edges);
        self.flush_if_large()
    }

    /// Tombstones both directions of an edge at `deleted_in`.
    pub fn delete_edge(&mut self, edge: &EdgeId, deleted_in: SnapshotId) -> Result<()> {
        let EdgeId { from, from_type, to, to_type, label, created_in } = *edge;
        self.put_adj(Dir::Out, &adj_key(from, to, label, created_in), &adj_value(deleted_in, to_type))?;
        self.put_adj(Dir::In, &adj_key(to, from, label, created_in), &adj_value(deleted_in, from_type))?;
        self.flush_if_large()
    }

    pub fn put_annotations(&mut self, node: NodeId, snapshot: SnapshotId, overlay: &Props) -> Result<()> {
        let bytes = encode(overlay)?;
        self.with(|t| Ok(t.annotations.insert(&annotation_key(node, snapshot), bytes.as_slice()).map(|_| ())?))
    }

    pub fn put_ext_label(&mut self, type_id: u32, name: &str, label: &str, version: u64) -> Result<()> {
        let key = label_key(type_id, name, label);
        self.with(|t| Ok(t.ext_labels.insert(key.as_slice(), version).map(|_| ())?))
    }

    pub fn put_alias(&mut self, type_id: u32, name: &str, alias: &str, record: &AliasRecord) -> Result<()> {
        let key = alias_key(type_id, name, alias, record.snapshot);
        let bytes = encode(record)?;
        self.with(|t| Ok(t.aliases.insert(key.as_slice(), bytes.as_slice()).map(|_| ())?))
    }

    pub fn put_snapshot(&mut self, record: &SnapshotRecord) -> Result<()> {
        let bytes = encode(record)?;
        self.with(|t| {
            t.snapshots.insert(record.id, bytes.as_slice())?;
            t.snapshot_times.insert(record.time, record.id)?;
            Ok(())
        })
    }

    pub fn put_audit(&mut self, record: &AuditRecord) -> Result<()> {
        let bytes = encode(record)?;
        self.with(|t| Ok(t.audit.insert(record.seq, bytes.as_slice()).map(|_| ())?))
    }

    /// Commits durably: when this returns, the snapshot survives a crash.
    pub fn commit(mut self) -> Result<()> {
        self.flush_fresh()?;
        self.flush_blocks()?;
        let tx = self.cell.into_owner();
        tx.commit()?;
        Ok(())
    }

    /// Abandons every change of the transaction.
    pub fn abort(self) -> Result<()> {
        let tx = self.cell.into_owner();
        tx.abort()?;
        Ok(())
    }
}

/// Below this many new nodes and edges, a commit does its work on one
/// thread: a helper thread would cost more than it saves.
pub(super) const PARALLEL_FROM: usize = 4096;

/// Runs `side` on another thread while `main` runs on this one (or, when not
/// `parallel`, one after the other here) and returns both results.
pub(super) fn alongside<S: Send, M>(
    parallel: bool,
    side: impl FnOnce() -> S + Send,
    main: impl FnOnce() -> M,
) -> (S, M) {
    if !parallel {
        let side = side();
        return (side, main());
    }
    std::thread::scope(|scope| {
        let helper = scope.spawn(side);
        let main = main();
        (helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), main)
    })
}

/// Writes entries in strictly ascending key order into a table. Keys up to
/// the table's last key at the start are inserted one by one (they may
/// replace entries); the keys after it are appended through one cursor run,
/// which redb packs into full leaves with one tree update per megabyte (one
/// insert at a time splits each full leaf in half and descends the tree for
/// every key).
pub(super) struct Ascending<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static> {
    table: Option<&'a mut redb::Table<'t, K, V>>,
    last: Option<Vec<u8>>,
    cursor: Option<redb::CursorMut<'a, K, V>>,
}

impl<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static> Ascending<'a, 't, K, V> {
    fn new(table: &'a mut redb::Table<'t, K, V>) -> Result<Self> {
        let last = table.last()?.map(|(k, _)| K::as_bytes(&k.value()).as_ref().to_vec());
        Ok(Ascending { table: Some(table), last, cursor: None })
    }

    /// The table, while `key` is not after its last key at the start (and
    /// nothing was appended yet): an entry with `key` may be stored.
    fn stored_range(&mut self, key: &K::SelfType<'_>) -> Option<&mut redb::Table<'t, K, V>> {
        let last = self.last.as_deref()?;
        if K::compare(K::as_bytes(key).as_ref(), last).is_le() { self.table.as_deref_mut() } else { None }
    }

    fn put<'k, 'v>(&mut self, key: K::SelfType<'k>, value: V::SelfType<'v>) -> Result<()> {
        if let Some(table) = self.stored_range(&key) {
            table.insert(key, value)?;
            return Ok(());
        }
        if let Some(table) = self.table.take() {
            self.cursor = Some(table.upper_bound_mut(std::ops::Bound::<K::SelfType<'_>>::Unbounded)?);
        }
        let cursor = self.cursor.as_mut().ok_or_else(|| Error::Storage("no table to append to".into()))?;
        cursor.insert_before(key, value).map_err(|e| match e {
            redb::CursorError::UnorderedKey => Error::Storage("entries appended out of key order".into()),
            other => Error::Storage(other.to_string()),
        })
    }

    /// Applies the appended entries.
    fn finish(self) -> Result<()> {
        match self.cursor {
            Some(cursor) => Ok(cursor.close()?),
            None => Ok(()),
        }
    }
}

/// Writes the buffered records block by block. Only the first block can hold
/// nodes of earlier transactions (new ids are consecutive).
pub(super) fn write_node_blocks(t: &mut OpenTables<'_>, fresh: &Fresh) -> Result<()> {
    let first = fresh.records().next().map_or(0, |(id, _)| id);
    let stored_first = match first % node_blocks::NODES_PER_BLOCK {
        0 => None,
        _ => t.node_blocks.get(node_blocks::node_block_of(first))?.map(|v| v.value().to_vec()),
    };
    let mut slots: Vec<Option<&[u8]>> = match &stored_first {
        Some(bytes) => node_blocks::slots(bytes)?,
        None => Vec::new(),
    };
    let mut block = node_blocks::node_block_of(first);
    let mut out = Ascending::new(&mut t.node_blocks)?;
    for (id, record) in fresh.records() {
        if node_blocks::node_block_of(id) != block {
            out.put(block, node_blocks::encode(&slots).as_slice())?;
            slots.clear();
            block = node_blocks::node_block_of(id);
        }
        let slot = (id % node_blocks::NODES_PER_BLOCK) as usize;
        slots.resize(slot, None);
        slots.push(Some(record));
    }
    out.put(block, node_blocks::encode(&slots).as_slice())?;
    out.finish()
}

/// Writes the buffered versions by entity, in key order; a stored entity
/// gets its new versions appended.
///
/// New entities go in through cursor runs: a run opens at the gap where its
/// first key belongs and takes every following new key that still fits that
/// gap (no stored key between them), so the new entities of a project, or
/// of the end of a type's range, cost one tree descent together and fill
/// whole leaves, where one insert each would descend once per key and split
/// leaves in half.
pub(super) fn write_entities(
    t: &mut OpenTables<'_>,
    keys: &[(&[u8], u64, NodeId, &StoredEntity)],
    no_stored_keys: bool,
) -> Result<()> {
    let table = &mut t.entities;
    // The value to write for a group: the stored versions read at create
    // time, if any, then the new ones.
    let value_of = |group: &[(&[u8], u64, NodeId, &StoredEntity)], value: &mut Vec<u8>| {
        value.clear();
        if let StoredEntity::Versions(old) = group[0].3 {
            value.extend_from_slice(old);
        }
        for &(_, version, id, _) in group {
            node_blocks::push_version(value, version, id);
        }
    };
    let known_absent = |stored: &StoredEntity| match stored {
        StoredEntity::Absent => true,
        StoredEntity::Unknown => no_stored_keys,
        StoredEntity::Versions(_) => false,
    };
    let mut groups = keys.chunk_by(|a, b| a.0 == b.0).peekable();
    let (mut value, mut merged) = (Vec::new(), Vec::new());
    while let Some(group) = groups.next() {
        let (entity, stored) = (group[0].0, group[0].3);
        value_of(group, &mut value);
        if known_absent(stored) {
            let mut cursor = table.lower_bound_mut(std::ops::Bound::Included(entity))?;
            if insert_in_gap(&mut cursor, entity, &value)? {
                // The run takes the following new keys while they fit this
                // gap; the first that does not starts the next run (or is
                // stored after all, and merged) in the outer loop.
                while let Some(next) = groups.peek().copied().filter(|g| known_absent(g[0].3)) {
                    value_of(next, &mut value);
                    if !insert_in_gap(&mut cursor, next[0].0, &value)? {
                        break;
                    }
                    groups.next();
                }
                cursor.close()?;
                continue;
            }
            // Stored after all: merged below.
            cursor.close()?;
        }
        if let StoredEntity::Versions(_) = stored {
            // The stored versions are in `value` already.
            table.insert(entity, value.as_slice())?;
            continue;
        }
        let existed = match table.insert(entity, value.as_slice())? {
            Some(old) => {
                merged.clear();
                merged.extend_from_slice(old.value());
                true
            }
            None => false,
        };
        if existed {
            merged.extend_from_slice(&value);
            table.insert(entity, merged.as_slice())?;
        }
    }
    Ok(())
}

/// Inserts at a cursor's gap; false (nothing changed) if `key` does not
/// belong there: a stored key lies between, or is `key` itself.
pub(super) fn insert_in_gap(cursor: &mut redb::CursorMut<'_, &[u8], &[u8]>, key: &[u8], value: &[u8]) -> Result<bool> {
    match cursor.insert_before(key, value) {
        Ok(()) => Ok(true),
        Err(redb::CursorError::UnorderedKey) => Ok(false),
        Err(e) => Err(Error::Storage(e.to_string())),
    }
}
