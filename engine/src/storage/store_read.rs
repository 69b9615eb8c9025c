//! `StoreRead`: the typed reads shared by read transactions (`ReadTables`)
//! and write transactions (`WriteView`, which sees the transaction's own
//! buffered nodes and adjacency blocks first), implemented once by macro for
//! both kinds of redb table handle.

use redb::ReadableTable;

use super::*;

/// What `StoreRead::records_of` calls with each record asked for.
pub type RecordVisitor<'a> = dyn FnMut(usize, Option<&[u8]>) -> Result<()> + 'a;

/// Typed lookups shared by read and write transactions.
pub trait StoreRead {
    /// The counters in `meta`.
    fn counters(&self) -> Result<Counters>;
    /// The snapshot that claimed a once-only token, if one did.
    fn once_token(&self, token: &str) -> Result<Option<SnapshotId>>;
    /// The keys of the versions recorded with content `sha256`, oldest first.
    fn content_keys(&self, sha256: &str) -> Result<Vec<String>>;
    /// The entity name another name of a `type_name` entity maps to, if recorded.
    fn name_alias(&self, type_name: &str, alias: &str) -> Result<Option<String>>;
    /// Every node type name with its id.
    fn type_dictionary(&self) -> Result<Vec<(String, u32)>>;
    /// Every edge label with its id.
    fn label_dictionary(&self) -> Result<Vec<(String, u32)>>;
    /// A node record by id.
    fn node(&self, id: NodeId) -> Result<Option<NodeRecord>>;
    /// The leading fields of a node record, without decoding its properties.
    fn node_header(&self, id: NodeId) -> Result<Option<NodeHeader>>;
    /// The type and validity of a node, without its name.
    fn node_stamp(&self, id: NodeId) -> Result<Option<NodeStamp>>;
    /// Calls `each(i, record)` with the encoded record of every `ids[i]`
    /// (`None`: no such node), in ascending id order, reading each node
    /// block once however many of its nodes are asked for.
    fn records_of(&self, ids: &[NodeId], each: &mut RecordVisitor<'_>) -> Result<()>;
    /// The node id of `type:name@version`.
    fn node_id(&self, type_id: u32, name: &str, version: u64) -> Result<Option<NodeId>>;
    /// Every version of an entity, ascending: (version, node id).
    fn versions(&self, type_id: u32, name: &str) -> Result<Vec<(u64, NodeId)>>;
    /// The highest version ever created for an entity (0 if none).
    fn max_version(&self, type_id: u32, name: &str) -> Result<u64>;
    /// The highest version of an entity, as `max_version`, and what was
    /// read of its stored dictionary entry, for a write transaction that
    /// holds no version of it yet (see `WriteTables::put_new_node`).
    fn max_version_for_create(&self, type_id: u32, name: &str) -> Result<(u64, StoredEntity)> {
        Ok((self.max_version(type_id, name)?, StoredEntity::Unknown))
    }
    /// All node ids of a type whose name starts with `name_prefix` (all of
    /// them for ""), in (name, version) order.
    fn nodes_of_type(&self, type_id: u32, name_prefix: &str) -> Result<Vec<NodeId>>;
    /// The adjacency of a node in one direction, every entry of every snapshot.
    fn adjacency(&self, node: NodeId, dir: Dir) -> Result<Vec<AdjEntry>>;
    /// Every out-adjacency entry from `from` to `to` (all labels, all snapshots).
    fn edges_between(&self, from: NodeId, to: NodeId) -> Result<Vec<AdjEntry>>;
    /// Properties of the edge stored under out-key `key`.
    fn edge_props(&self, key: &AdjKey) -> Result<Props>;
    /// The annotation overlay of a node as of snapshot `at`.
    fn annotations_at(&self, node: NodeId, at: SnapshotId) -> Result<Option<Props>>;
    /// Every annotation overlay of a node: (snapshot, overlay).
    fn annotation_history(&self, node: NodeId) -> Result<Vec<(SnapshotId, Props)>>;
    /// The version holding external label `label`.
    fn label_version(&self, type_id: u32, name: &str, label: &str) -> Result<Option<u64>>;
    /// The moves of one alias, or of all aliases when `alias` is None, in
    /// (alias, snapshot) order.
    fn alias_moves(&self, type_id: u32, name: &str, alias: Option<&str>) -> Result<Vec<(String, AliasRecord)>>;
    /// Every alias move of every entity, in key order: (type id, name, alias, move).
    fn all_alias_moves(&self) -> Result<Vec<(u32, String, String, AliasRecord)>>;
    /// The latest move of an alias at or before `at`.
    fn alias_at(&self, type_id: u32, name: &str, alias: &str, at: SnapshotId) -> Result<Option<AliasRecord>>;
    /// A snapshot record.
    fn snapshot(&self, id: SnapshotId) -> Result<Option<SnapshotRecord>>;
    /// Snapshot records with ids in `[from, to]`, ascending.
    fn snapshots(&self, from: SnapshotId, to: SnapshotId) -> Result<Vec<SnapshotRecord>>;
    /// The latest snapshot taken at or before `time`.
    fn snapshot_at_time(&self, time: i64) -> Result<Option<SnapshotId>>;
    /// Calls `each` with the audit entries with sequence numbers in
    /// `[from, to]`, ascending, one decoded at a time, until it breaks.
    fn audit_each(
        &self,
        from: u64,
        to: u64,
        each: &mut dyn FnMut(AuditRecord) -> std::ops::ControlFlow<()>,
    ) -> Result<()>;
    /// Audit entries with sequence numbers in `[from, to]`, ascending.
    fn audit(&self, from: u64, to: u64) -> Result<Vec<AuditRecord>> {
        let mut out = Vec::new();
        self.audit_each(from, to, &mut |r| {
            out.push(r);
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(out)
    }
    /// Every adjacency entry of a direction, with the node it belongs to. A
    /// block that does not decode is an error, or with `skip_damaged` left
    /// out (`verify` reports it through `adjacency_block_problems`).
    fn all_adjacency(&self, dir: Dir, skip_damaged: bool) -> Result<Vec<(NodeId, AdjEntry)>>;
    /// What is wrong with the stored adjacency blocks of a direction (see
    /// `blocks::block_problem`), one line per bad block.
    fn adjacency_block_problems(&self, dir: Dir) -> Result<Vec<String>>;
    /// Node blocks that do not decode, and entity entries that are malformed.
    fn node_store_problems(&self) -> Result<Vec<String>>;
}

macro_rules! impl_store_read {
    () => {
        fn counters(&self) -> Result<Counters> {
            match self.meta()?.get("counters")? {
                Some(v) => decode(v.value(), "counters"),
                None => Ok(Counters { next_node: 1, ..Counters::default() }),
            }
        }

        fn once_token(&self, token: &str) -> Result<Option<SnapshotId>> {
            match self.meta()?.get(format!("{ONCE_PREFIX}{token}").as_str())? {
                Some(v) => Ok(Some(decode(v.value(), "once token")?)),
                None => Ok(None),
            }
        }

        fn name_alias(&self, type_name: &str, alias: &str) -> Result<Option<String>> {
            match self.meta()?.get(format!("{NAME_ALIAS_PREFIX}{type_name}:{alias}").as_str())? {
                Some(v) => Ok(Some(decode(v.value(), "name alias")?)),
                None => Ok(None),
            }
        }

        fn content_keys(&self, sha256: &str) -> Result<Vec<String>> {
            match self.meta()?.get(format!("{CONTENT_PREFIX}{sha256}").as_str())? {
                Some(v) => decode(v.value(), "content index"),
                None => Ok(Vec::new()),
            }
        }

        fn type_dictionary(&self) -> Result<Vec<(String, u32)>> {
            let mut out = Vec::new();
            for item in self.types()?.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_owned(), v.value()));
            }
            Ok(out)
        }

        fn label_dictionary(&self) -> Result<Vec<(String, u32)>> {
            let mut out = Vec::new();
            for item in self.labels()?.iter()? {
                let (k, v) = item?;
                out.push((k.value().to_owned(), v.value()));
            }
            Ok(out)
        }

        fn node(&self, id: NodeId) -> Result<Option<NodeRecord>> {
            if let Some(bytes) = self.fresh().and_then(|f| f.record(id)) {
                return Ok(Some(decode(bytes, "node record")?));
            }
            match self.node_blocks()?.get(node_blocks::node_block_of(id))? {
                Some(block) => match node_blocks::record(block.value(), id)? {
                    Some(bytes) => Ok(Some(decode(bytes, "node record")?)),
                    None => Ok(None),
                },
                None => Ok(None),
            }
        }

        fn node_stamp(&self, id: NodeId) -> Result<Option<NodeStamp>> {
            self.with_record(id, |b| decode_prefix(b))?.transpose()
        }

        fn node_header(&self, id: NodeId) -> Result<Option<NodeHeader>> {
            self.with_record(id, |b| decode_prefix(b))?.transpose()
        }

        fn records_of(&self, ids: &[NodeId], each: &mut RecordVisitor<'_>) -> Result<()> {
            let mut order: Vec<usize> = (0..ids.len()).collect();
            order.sort_unstable_by_key(|&i| ids[i]);
            let table = self.node_blocks()?;
            let mut current = None;
            for i in order {
                let id = ids[i];
                if let Some(bytes) = self.fresh().and_then(|f| f.record(id)) {
                    each(i, Some(bytes))?;
                    continue;
                }
                let block = node_blocks::node_block_of(id);
                if current.as_ref().is_none_or(|(b, _)| *b != block) {
                    current = Some((block, table.get(block)?));
                }
                let record = match current.as_ref().and_then(|(_, guard)| guard.as_ref()) {
                    Some(guard) => node_blocks::record(guard.value(), id)?,
                    None => None,
                };
                each(i, record)?;
            }
            Ok(())
        }

        fn node_id(&self, type_id: u32, name: &str, version: u64) -> Result<Option<NodeId>> {
            if let Some(id) = self.fresh().and_then(|f| f.version_id(type_id, name, version)) {
                return Ok(Some(id));
            }
            let key = entity_prefix(type_id, name);
            match self.entities()?.get(key.as_slice())? {
                Some(v) => Ok(node_blocks::find_version(v.value(), version)),
                None => Ok(None),
            }
        }

        fn versions(&self, type_id: u32, name: &str) -> Result<Vec<(u64, NodeId)>> {
            let key = entity_prefix(type_id, name);
            let mut out: Vec<(u64, NodeId)> = match self.entities()?.get(key.as_slice())? {
                Some(v) => node_blocks::versions(v.value()).collect(),
                None => Vec::new(),
            };
            // Buffered versions are newer than every stored one.
            if let Some(fresh) = self.fresh() {
                out.extend(fresh.versions(type_id, name));
            }
            Ok(out)
        }

        fn max_version(&self, type_id: u32, name: &str) -> Result<u64> {
            if let Some(fresh) = self.fresh() {
                if let Some(version) = fresh.max_version(type_id, name) {
                    return Ok(version);
                }
            }
            if self.no_stored_keys() {
                return Ok(0);
            }
            let key = entity_prefix(type_id, name);
            match self.entities()?.get(key.as_slice())? {
                Some(v) => Ok(node_blocks::versions(v.value()).last().map_or(0, |(version, _)| version)),
                None => Ok(0),
            }
        }

        fn nodes_of_type(&self, type_id: u32, name_prefix: &str) -> Result<Vec<NodeId>> {
            let mut lo = type_id.to_be_bytes().to_vec();
            lo.extend_from_slice(name_prefix.as_bytes());
            let hi = prefix_end(&lo);
            // Buffered nodes (`entity prefix | version BE8` keys, sorted) are
            // merged in, keeping the order (entity, version).
            let fresh = self.fresh().map(|f| f.keys_with_prefix(&lo)).unwrap_or_default();
            let mut fresh = fresh.into_iter().peekable();
            fn split(key: &[u8]) -> (&[u8], u64) {
                let (entity, version) = key.split_at(key.len() - 8);
                (entity, u64::from_be_bytes(version.try_into().expect("8 bytes")))
            }
            let mut out = Vec::new();
            for item in self.entities()?.range(lo.as_slice()..hi.as_slice())? {
                let (k, v) = item?;
                for (version, id) in node_blocks::versions(v.value()) {
                    while let Some((_, fresh_id)) = fresh.next_if(|(key, _)| split(key) < (k.value(), version)) {
                        out.push(fresh_id);
                    }
                    out.push(id);
                }
            }
            out.extend(fresh.map(|(_, id)| id));
            Ok(out)
        }

        fn adjacency(&self, node: NodeId, dir: Dir) -> Result<Vec<AdjEntry>> {
            let block = adj_block_of(node);
            let entries = self.with_block(dir, block, |b| b.run(node).map_err(|p| damaged_block(dir, block, p)))?;
            Ok(entries.transpose()?.unwrap_or_default())
        }

        fn edges_between(&self, from: NodeId, to: NodeId) -> Result<Vec<AdjEntry>> {
            let block = adj_block_of(from);
            let entries = self
                .with_block(Dir::Out, block, |b| b.between(from, to).map_err(|p| damaged_block(Dir::Out, block, p)))?;
            Ok(entries.transpose()?.unwrap_or_default())
        }

        fn edge_props(&self, key: &AdjKey) -> Result<Props> {
            match self.edge_props()?.get(key)? {
                Some(v) => decode(v.value(), "edge properties"),
                None => Ok(Props::new()),
            }
        }

        fn annotations_at(&self, node: NodeId, at: SnapshotId) -> Result<Option<Props>> {
            let lo = annotation_key(node, 0);
            let hi = annotation_key(node, at);
            let last = self.annotations()?.range::<&[u8; 16]>(&lo..=&hi)?.next_back();
            match last {
                Some(item) => Ok(Some(decode(item?.1.value(), "annotations")?)),
                None => Ok(None),
            }
        }

        fn annotation_history(&self, node: NodeId) -> Result<Vec<(SnapshotId, Props)>> {
            let lo = annotation_key(node, 0);
            let hi = annotation_key(node, u64::MAX);
            let mut out = Vec::new();
            for item in self.annotations()?.range::<&[u8; 16]>(&lo..=&hi)? {
                let (k, v) = item?;
                out.push((annotation_snapshot(k.value()), decode(v.value(), "annotations")?));
            }
            Ok(out)
        }

        fn label_version(&self, type_id: u32, name: &str, label: &str) -> Result<Option<u64>> {
            let key = label_key(type_id, name, label);
            Ok(self.ext_labels()?.get(key.as_slice())?.map(|v| v.value()))
        }

        fn alias_moves(&self, type_id: u32, name: &str, alias: Option<&str>) -> Result<Vec<(String, AliasRecord)>> {
            let prefix = entity_prefix(type_id, name);
            let lo = match alias {
                Some(a) => alias_prefix(type_id, name, a),
                None => prefix.clone(),
            };
            let hi = prefix_end(&lo);
            let mut out = Vec::new();
            for item in self.aliases()?.range(lo.as_slice()..hi.as_slice())? {
                let (k, v) = item?;
                let key = k.value();
                if let Some((alias, _)) = split_alias_tail(&key[prefix.len()..]) {
                    out.push((alias.to_owned(), decode(v.value(), "alias move")?));
                }
            }
            Ok(out)
        }

        fn all_alias_moves(&self) -> Result<Vec<(u32, String, String, AliasRecord)>> {
            let mut out = Vec::new();
            for item in self.aliases()?.iter()? {
                let (k, v) = item?;
                let key = k.value();
                // `type_id BE4 | name | 0 | alias | 0 | snapshot BE8`; names hold no NUL.
                let bad = || Error::Corrupt { detail: "an alias key is malformed".into() };
                let end = key.get(4..).and_then(|rest| rest.iter().position(|b| *b == 0)).ok_or_else(bad)? + 4;
                let name = std::str::from_utf8(&key[4..end]).map_err(|_| bad())?;
                let (alias, _) = split_alias_tail(&key[end + 1..]).ok_or_else(bad)?;
                let type_id = u32::from_be_bytes(key[..4].try_into().map_err(|_| bad())?);
                out.push((type_id, name.to_owned(), alias.to_owned(), decode(v.value(), "alias move")?));
            }
            Ok(out)
        }

        fn alias_at(&self, type_id: u32, name: &str, alias: &str, at: SnapshotId) -> Result<Option<AliasRecord>> {
            let lo = alias_key(type_id, name, alias, 0);
            let hi = alias_key(type_id, name, alias, at);
            let last = self.aliases()?.range(lo.as_slice()..=hi.as_slice())?.next_back();
            match last {
                Some(item) => Ok(Some(decode(item?.1.value(), "alias move")?)),
                None => Ok(None),
            }
        }

        fn snapshot(&self, id: SnapshotId) -> Result<Option<SnapshotRecord>> {
            match self.snapshots()?.get(id)? {
                Some(v) => Ok(Some(decode(v.value(), "snapshot record")?)),
                None => Ok(None),
            }
        }

        fn snapshots(&self, from: SnapshotId, to: SnapshotId) -> Result<Vec<SnapshotRecord>> {
            let mut out = Vec::new();
            if from > to {
                return Ok(out);
            }
            for item in self.snapshots()?.range(from..=to)? {
                out.push(decode(item?.1.value(), "snapshot record")?);
            }
            Ok(out)
        }

        fn snapshot_at_time(&self, time: i64) -> Result<Option<SnapshotId>> {
            let last = self.snapshot_times()?.range(..=time)?.next_back();
            match last {
                Some(item) => Ok(Some(item?.1.value())),
                None => Ok(None),
            }
        }

        fn audit_each(
            &self,
            from: u64,
            to: u64,
            each: &mut dyn FnMut(AuditRecord) -> std::ops::ControlFlow<()>,
        ) -> Result<()> {
            if from > to {
                return Ok(());
            }
            for item in self.audit()?.range(from..=to)? {
                if each(decode(item?.1.value(), "audit entry")?).is_break() {
                    break;
                }
            }
            Ok(())
        }

        fn all_adjacency(&self, dir: Dir, skip_damaged: bool) -> Result<Vec<(NodeId, AdjEntry)>> {
            let mut out = Vec::new();
            for block in self.block_ids(dir)? {
                let len = out.len();
                let decoded = self.with_block(dir, block, |b| b.all(block, &mut out))?.transpose();
                if let Err(problem) = decoded {
                    if !skip_damaged {
                        return Err(damaged_block(dir, block, problem));
                    }
                    out.truncate(len);
                }
            }
            Ok(out)
        }

        fn node_store_problems(&self) -> Result<Vec<String>> {
            let mut out = Vec::new();
            for item in self.node_blocks()?.iter()? {
                let (block, bytes) = item?;
                if let Err(e) = node_blocks::slots(bytes.value()) {
                    out.push(format!(
                        "node block {} (node ids {} to {}): {e}",
                        block.value(),
                        block.value() * 64,
                        block.value() * 64 + 63
                    ));
                }
            }
            for item in self.entities()?.iter()? {
                let (key, value) = item?;
                let key = key.value();
                if key.len() < 5 || key.last() != Some(&0) || !node_blocks::entity_value_ok(value.value()) {
                    out.push(format!(
                        "the key dictionary entry {:?} is malformed",
                        String::from_utf8_lossy(key.get(4..).unwrap_or(key))
                    ));
                }
            }
            Ok(out)
        }

        fn adjacency_block_problems(&self, dir: Dir) -> Result<Vec<String>> {
            let mut out = Vec::new();
            for block in self.block_ids(dir)? {
                if let Some(Some(problem)) = self.with_block(dir, block, |b| b.problem(block))? {
                    out.push(block_damage(dir, block, &problem));
                }
            }
            Ok(out)
        }
    };
}

impl ReadTables {
    fn dirty_block(&self, _dir: Dir, _block: u64) -> Option<&[u8]> {
        None
    }

    fn fresh(&self) -> Option<&Fresh> {
        None
    }

    fn no_stored_keys(&self) -> bool {
        false
    }

    fn dirty_blocks(&self, _dir: Dir) -> Vec<u64> {
        Vec::new()
    }
}

/// The leading fields of an encoded node record (`NodeHeader`, `NodeStamp`,
/// `NodeHeaderRef`).
pub fn decode_prefix<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T> {
    postcard::take_from_bytes(bytes)
        .map(|(prefix, _)| prefix)
        .map_err(|e| Error::Corrupt { detail: format!("cannot decode node record: {e}") })
}

/// The table holding the adjacency blocks of a direction.
pub(super) fn block_table(dir: Dir) -> &'static str {
    match dir {
        Dir::Out => "out_blocks",
        Dir::In => "in_blocks",
    }
}

/// A stored adjacency block that does not decode, in words.
pub(super) fn block_damage(dir: Dir, block: u64, problem: &str) -> String {
    format!("adjacency block {block} of {} is damaged: {problem}", block_table(dir))
}

/// A stored adjacency block that does not decode, as an error naming it.
pub(super) fn damaged_block(dir: Dir, block: u64, problem: String) -> Error {
    Error::Corrupt { detail: block_damage(dir, block, &problem) }
}

/// Block reads shared by read and write transactions.
macro_rules! impl_with_block {
    () => {
        /// Runs `f` on the bytes of a block: this transaction's own
        /// unwritten version of it if any, else the stored one.
        /// Every adjacency block number of a direction, stored or buffered, ascending.
        fn block_ids(&self, dir: Dir) -> Result<Vec<u64>> {
            let table = match dir {
                Dir::Out => self.out_blocks()?,
                Dir::In => self.in_blocks()?,
            };
            let mut ids = Vec::new();
            for item in table.iter()? {
                ids.push(item?.0.value());
            }
            ids.extend(self.dirty_blocks(dir));
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        }

        /// Runs `f` on the encoded record of node `id`: this transaction's
        /// buffered one if any, else the stored one.
        fn with_record<R>(&self, id: NodeId, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
            if let Some(bytes) = self.fresh().and_then(|f| f.record(id)) {
                return Ok(Some(f(bytes)));
            }
            match self.node_blocks()?.get(node_blocks::node_block_of(id))? {
                Some(block) => Ok(node_blocks::record(block.value(), id)?.map(f)),
                None => Ok(None),
            }
        }

        fn with_block<R>(&self, dir: Dir, block: u64, f: impl FnOnce(BlockBytes<'_>) -> R) -> Result<Option<R>> {
            if let Some(bytes) = self.dirty_block(dir, block) {
                return Ok(Some(f(BlockBytes::Buffered(bytes))));
            }
            let table = match dir {
                Dir::Out => self.out_blocks()?,
                Dir::In => self.in_blocks()?,
            };
            Ok(table.get(block)?.map(|v| f(BlockBytes::Stored(v.value()))))
        }
    };
}

impl ReadTables {
    impl_with_block!();
}

impl StoreRead for ReadTables {
    impl_store_read!();
}

/// Read access to the write transaction's tables, including its own
/// uncommitted changes. Implemented by borrowing the open tables.
pub struct WriteView<'a, 't> {
    pub(super) tables: &'a OpenTables<'t>,
    pub(super) dirty: &'a Dirty,
    pub(super) fresh: &'a Fresh,
    pub(super) no_stored_keys: bool,
}

impl WriteView<'_, '_> {
    impl_with_block!();

    fn fresh(&self) -> Option<&Fresh> {
        (!self.fresh.is_empty()).then_some(self.fresh)
    }

    fn no_stored_keys(&self) -> bool {
        self.no_stored_keys
    }

    fn dirty_block(&self, dir: Dir, block: u64) -> Option<&[u8]> {
        self.dirty.map(dir).get(&block).map(AdjBlockBuf::as_bytes)
    }

    fn dirty_blocks(&self, dir: Dir) -> Vec<u64> {
        self.dirty.map(dir).keys().copied().collect()
    }
}

impl StoreRead for WriteView<'_, '_> {
    fn max_version_for_create(&self, type_id: u32, name: &str) -> Result<(u64, StoredEntity)> {
        if let Some(version) = self.fresh().and_then(|f| f.max_version(type_id, name)) {
            return Ok((version, StoredEntity::Unknown));
        }
        if self.no_stored_keys {
            return Ok((0, StoredEntity::Absent));
        }
        let key = entity_prefix(type_id, name);
        match self.entities()?.get(key.as_slice())? {
            Some(v) => {
                let value = v.value();
                Ok((
                    node_blocks::versions(value).last().map_or(0, |(version, _)| version),
                    StoredEntity::Versions(value.into()),
                ))
            }
            None => Ok((0, StoredEntity::Absent)),
        }
    }

    impl_store_read!();
}
