//! `ReadTx`: a consistent view of the database at one snapshot. Every read
//! (`node`, `ancestors`, `path`, `history`, ...) can be made at any past
//! snapshot and returns exactly what a read then returned.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::cache::StartNode;
use crate::db::{Dict, Inner};
use crate::error::{Error, Result};
use crate::key::{EntityKey, NodeKey, NodeRef, VersionSel};
use crate::key_cache::CachedKey;
use crate::model::*;
use crate::resolve::{header_key, resolve, resolve_header, to_node};
use crate::storage::codec::{AdjEntry, Dir, NodeHeaderRef, NodeId, NodeRecord, SnapshotId, adj_key, version_key};
use crate::storage::{ReadTables, StoreRead};
use crate::traverse::Walk;
use crate::value::Timestamp;

/// A read transaction pinned to one snapshot.
#[derive(Debug)]
pub struct ReadTx {
    inner: Arc<Inner>,
    tables: ReadTables,
    dict: Arc<Dict>,
    at: SnapshotId,
    head: SnapshotId,
    id_bound: NodeId,
    /// Who each snapshot says asserted what it created (`SnapshotRecord::asserted_by`),
    /// with its time; looked up once per snapshot.
    assertions: Mutex<FxHashMap<SnapshotId, Option<(String, i64)>>>,
}

impl ReadTx {
    pub(crate) fn begin(inner: Arc<Inner>) -> Result<ReadTx> {
        let tables = inner.store.begin_read()?;
        let counters = tables.counters()?;
        let dict = Dict::shared(&inner, &tables, counters.dict_version)?;
        Ok(ReadTx {
            inner,
            tables,
            dict,
            at: counters.last_snapshot,
            head: counters.last_snapshot,
            id_bound: counters.next_node,
            assertions: Mutex::new(FxHashMap::default()),
        })
    }

    /// The same transaction, reading at snapshot `snapshot` instead.
    pub fn as_of(mut self, snapshot: SnapshotId) -> Result<ReadTx> {
        if snapshot == 0 || snapshot > self.head {
            return Err(Error::NoSuchSnapshot { requested: snapshot, latest: self.head });
        }
        self.at = snapshot;
        Ok(self)
    }

    /// The same transaction, reading at the latest snapshot taken at or before `time`.
    pub fn as_of_time(self, time: Timestamp) -> Result<ReadTx> {
        match self.tables.snapshot_at_time(time.micros())? {
            Some(id) if id <= self.head => self.as_of(id),
            _ => {
                let first =
                    self.tables.snapshot(1)?.map(|s| Timestamp(s.time).to_string()).unwrap_or_else(|| "never".into());
                Err(Error::NoSnapshotAtTime { time: time.to_string(), first })
            }
        }
    }

    /// The snapshot this transaction reads.
    pub fn snapshot(&self) -> SnapshotId {
        self.at
    }

    /// The newest snapshot committed when the transaction began.
    pub fn latest_snapshot(&self) -> SnapshotId {
        self.head
    }

    /// The snapshot that claimed a once-only token (`WriteTx::claim_once`),
    /// if one committed at or before this snapshot did.
    pub fn claimed_once(&self, token: &str) -> Result<Option<SnapshotId>> {
        Ok(self.tables.once_token(token)?.filter(|&s| s <= self.head))
    }

    /// Resolves a reference to a node at this snapshot.
    pub fn node(&self, r: &NodeRef) -> Result<Node> {
        let (id, record) = resolve(&self.tables, &self.dict, r, self.at)?;
        self.node_of(id, record)
    }

    /// Resolves a reference to its exact key at this snapshot.
    pub fn resolve(&self, r: &NodeRef) -> Result<NodeKey> {
        let (_, header) = resolve_header(&self.tables, &self.dict, r, self.at)?;
        header_key(&self.dict, &header)
    }

    /// A node by internal id, as seen at this snapshot (even if not visible then).
    pub fn node_by_id(&self, id: NodeId) -> Result<Node> {
        let record =
            self.tables.node(id)?.ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
        self.node_of(id, record)
    }

    /// The node id a query starts from. Exact keys seen before on this
    /// handle are answered from memory (see `StartNode`); anything unusual (not
    /// remembered, not visible at this snapshot, created after this
    /// transaction began) goes through the full resolution and its errors.
    fn resolve_start(&self, r: &NodeRef) -> Result<NodeId> {
        let VersionSel::Number(version) = r.version else {
            return Ok(resolve_header(&self.tables, &self.dict, r, self.at)?.0);
        };
        let Some(&type_id) = self.dict.type_ids.get(&r.type_name) else {
            return Ok(resolve_header(&self.tables, &self.dict, r, self.at)?.0);
        };
        let key = version_key(type_id, &r.name, version);
        if let Some(node) = self.inner.cache.start(self.head, &key) {
            if node.id < self.id_bound && node.visible_at(self.at) {
                return Ok(node.id);
            }
        }
        let (id, header) = resolve_header(&self.tables, &self.dict, r, self.at)?;
        let node = StartNode { id, created_in: header.created_in, deleted_in: header.deleted_in };
        self.inner.cache.remember_start(self.head, &key, node);
        Ok(id)
    }

    /// The key of a node id, decoded from the head of its record alone (no
    /// properties, no annotations).
    pub fn key_by_id(&self, id: NodeId) -> Result<NodeKey> {
        let header = self
            .tables
            .node_header(id)?
            .ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
        header_key(&self.dict, &header)
    }

    /// The keys of node ids, in the order given, decoded from the heads of
    /// their records alone and reading each block of 64 records once, or
    /// from the handle's key cache (see `DatabaseBuilder::key_cache`): what
    /// sorting rows by key costs, whatever the nodes' properties.
    pub fn keys_by_ids(&self, ids: &[NodeId]) -> Result<Vec<NodeKey>> {
        let mut out: Vec<Option<NodeKey>> = vec![None; ids.len()];
        let mut unknown_type = None;
        let dict = &self.dict;
        let missing = self.inner.keys.lookup(ids, &mut |i, key| match dict.type_name(key.type_id) {
            Ok(type_name) => {
                out[i] =
                    Some(NodeKey { type_name: type_name.to_owned(), name: key.name.to_owned(), version: key.version })
            }
            Err(e) => unknown_type = Some(e),
        });
        if let Some(e) = unknown_type {
            return Err(e);
        }
        if !missing.is_empty() {
            let missing_ids: Vec<NodeId> = missing.iter().map(|&i| ids[i]).collect();
            let mut type_ids = vec![0u32; missing.len()];
            self.tables.records_of(&missing_ids, &mut |j, record| {
                let id = missing_ids[j];
                let bytes = record.ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
                let header: NodeHeaderRef<'_> = crate::storage::decode_prefix(bytes)?;
                type_ids[j] = header.type_id;
                out[missing[j]] = Some(NodeKey {
                    type_name: self.dict.type_name(header.type_id)?.to_owned(),
                    name: header.name.to_owned(),
                    version: header.version,
                });
                Ok(())
            })?;
            // Committed keys only (below this snapshot's id bound): they never change.
            let found: Vec<(NodeId, CachedKey<'_>)> = missing
                .iter()
                .zip(&missing_ids)
                .zip(&type_ids)
                .filter(|((_, id), _)| **id < self.id_bound)
                .filter_map(|((&i, &id), &type_id)| {
                    let key = out[i].as_ref()?;
                    Some((id, CachedKey { type_id, version: key.version, name: &key.name }))
                })
                .collect();
            self.inner.keys.insert(&found);
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Nodes by internal id, in the order given, as `node_by_id` returns
    /// them, reading each block of 64 records once.
    pub fn nodes_by_ids(&self, ids: &[NodeId]) -> Result<Vec<Node>> {
        let mut records: Vec<Option<NodeRecord>> = vec![None; ids.len()];
        self.tables.records_of(ids, &mut |i, record| {
            let bytes = record.ok_or_else(|| Error::Corrupt { detail: format!("node id {} has no record", ids[i]) })?;
            records[i] = Some(crate::storage::decode(bytes, "node record")?);
            Ok(())
        })?;
        ids.iter().zip(records).filter_map(|(&id, r)| r.map(|r| self.node_of(id, r))).collect()
    }

    /// `ids` without the nodes not visible at this snapshot, in the order
    /// given, reading only the fixed-width head of each record.
    pub fn retain_visible(&self, ids: &mut Vec<NodeId>) -> Result<()> {
        let mut visible = vec![false; ids.len()];
        self.tables.records_of(ids, &mut |i, record| {
            if let Some(bytes) = record {
                let stamp: crate::storage::codec::NodeStamp = crate::storage::decode_prefix(bytes)?;
                visible[i] = stamp.created_in <= self.at && stamp.deleted_in.is_none_or(|d| d > self.at);
            }
            Ok(())
        })?;
        let mut keep = visible.into_iter();
        ids.retain(|_| keep.next().unwrap_or(false));
        Ok(())
    }

    /// The ids of every node of one type or of all types, in key order,
    /// whether or not visible at this snapshot (see `retain_visible`): what
    /// `FIND` streams from.
    pub fn find_ids(&self, type_name: Option<&str>) -> Result<Vec<NodeId>> {
        let mut ids: Vec<NodeId> = Vec::new();
        match type_name {
            Some(t) => {
                if let Some(&tid) = self.dict.type_ids.get(t) {
                    ids = self.tables.nodes_of_type(tid, "")?;
                }
            }
            None => {
                let mut types: Vec<(&String, &u32)> = self.dict.type_ids.iter().collect();
                types.sort();
                for (_, &tid) in types {
                    ids.extend(self.tables.nodes_of_type(tid, "")?);
                }
            }
        }
        Ok(ids)
    }

    /// SHA-256 (hex) of node `id`'s record as created: the content hash the
    /// audit log's batch digests and `verify` use.
    pub(crate) fn record_digest(&self, id: NodeId) -> Result<String> {
        let record =
            self.tables.node(id)?.ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
        Ok(crate::audit::hex(&crate::verify::node_content_hash(id, &record)?))
    }

    /// A node with its aliases and its live edges at this snapshot.
    pub fn node_detail(&self, r: &NodeRef) -> Result<NodeDetail> {
        let (id, record) = resolve(&self.tables, &self.dict, r, self.at)?;
        let node = self.node_of(id, record.clone())?;
        let mut aliases = Vec::new();
        let mut seen = Vec::new();
        for (alias, _) in self.tables.alias_moves(record.type_id, &record.name, None)? {
            if seen.contains(&alias) {
                continue;
            }
            seen.push(alias.clone());
            let holder = self.tables.alias_at(record.type_id, &record.name, &alias, self.at)?.and_then(|m| m.version);
            if holder == Some(record.version) {
                aliases.push(alias);
            }
        }
        let outgoing = self.edges_of(id, &node.key, Dir::Out)?;
        let incoming = self.edges_of(id, &node.key, Dir::In)?;
        Ok(NodeDetail { node, aliases, incoming, outgoing })
    }

    fn edges_of(&self, id: NodeId, key: &NodeKey, dir: Dir) -> Result<Vec<Edge>> {
        let mut edges = Vec::new();
        for e in self.tables.adjacency(id, dir)? {
            if e.visible_at(self.at) {
                edges.push(self.edge(id, key, dir, &e)?);
            }
        }
        edges.sort_by(|a, b| (&a.label, &a.from, &a.to).cmp(&(&b.label, &b.from, &b.to)));
        Ok(edges)
    }

    fn edge(&self, id: NodeId, key: &NodeKey, dir: Dir, e: &AdjEntry) -> Result<Edge> {
        let other = self.key_by_id(e.neighbor)?;
        let (from_id, to_id, from, to) = match dir {
            Dir::Out => (id, e.neighbor, key.clone(), other),
            Dir::In => (e.neighbor, id, other, key.clone()),
        };
        let props = self.edge_props(from_id, to_id, e.label, e.created_in)?;
        Ok(Edge { from, to, label: self.dict.label_name(e.label)?.to_owned(), props, created_in: e.created_in })
    }

    /// An edge's properties, with the assertion its snapshot recorded for it
    /// (see `WriteTx::assert_created`) when it has none of its own.
    fn edge_props(&self, from: NodeId, to: NodeId, label: u32, created_in: SnapshotId) -> Result<crate::Props> {
        let mut props = self.tables.edge_props(&adj_key(from, to, label, created_in))?;
        self.add_assertion(&mut props, created_in)?;
        Ok(props)
    }

    /// A node as seen at this snapshot, with the assertion its snapshot
    /// recorded for it when it has none of its own.
    fn node_of(&self, id: NodeId, record: NodeRecord) -> Result<Node> {
        let created_in = record.created_in;
        let mut node = to_node(&self.tables, &self.dict, id, record, self.at)?;
        self.add_assertion(&mut node.props, created_in)?;
        Ok(node)
    }

    /// Adds `asserted_by` and `asserted_at` from snapshot `created_in` to
    /// `props` of something it created, unless `props` has its own.
    fn add_assertion(&self, props: &mut crate::Props, created_in: SnapshotId) -> Result<()> {
        if props.contains_key("asserted_by") {
            return Ok(());
        }
        let mut cache = self.assertions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let assertion = match cache.get(&created_in) {
            Some(known) => known.clone(),
            None => {
                let found = self.tables.snapshot(created_in)?.and_then(|s| s.asserted_by.map(|by| (by, s.time)));
                cache.insert(created_in, found.clone());
                found
            }
        };
        if let Some((by, time)) = assertion {
            props.insert("asserted_by".into(), crate::Value::String(by));
            props.insert("asserted_at".into(), crate::Value::Timestamp(Timestamp(time)));
        }
        Ok(())
    }

    /// Everything upstream of `r` (walking edges backwards).
    pub fn ancestors(&self, r: &NodeRef) -> Traversal<'_> {
        Traversal::new(self, r.clone(), Dir::In)
    }

    /// Everything downstream of `r` (walking edges forwards).
    pub fn descendants(&self, r: &NodeRef) -> Traversal<'_> {
        Traversal::new(self, r.clone(), Dir::Out)
    }

    pub(crate) fn walk(&self, dir: Dir, max_depth: Option<u32>, labels: Option<&[String]>) -> Walk<'_> {
        let labels = labels.map(|ls| ls.iter().filter_map(|l| self.dict.label_ids.get(l).copied()).collect());
        Walk {
            tables: &self.tables,
            cache: &self.inner.cache,
            head: self.head,
            at: self.at,
            id_bound: self.id_bound,
            dir,
            max_depth,
            labels,
        }
    }

    /// A shortest directed path from `from` to `to`, following edge direction.
    pub fn path(&self, from: &NodeRef, to: &NodeRef) -> Result<Option<Path>> {
        let start = self.resolve_start(from)?;
        let goal = self.resolve_start(to)?;
        let Some((ids, label_ids)) = self.walk(Dir::Out, None, None).shortest_path(start, goal)? else {
            return Ok(None);
        };
        let labels = label_ids.into_iter().map(|l| Ok(self.dict.label_name(l)?.to_owned())).collect::<Result<_>>()?;
        let nodes = ids.into_iter().map(|id| self.key_by_id(id)).collect::<Result<_>>()?;
        Ok(Some(Path { nodes, labels }))
    }

    /// The subgraph upstream, downstream or both ways of `r`, with the edges walked.
    pub fn lineage(&self, r: &NodeRef, upstream: bool, downstream: bool, max_depth: Option<u32>) -> Result<Subgraph> {
        let start = self.resolve_start(r)?;
        let start_key = self.key_by_id(start)?;
        let mut depth_of: HashMap<NodeId, u32> = HashMap::new();
        let mut raw_edges: Vec<(NodeId, NodeId, u32, SnapshotId)> = Vec::new();
        for (dir, wanted) in [(Dir::In, upstream), (Dir::Out, downstream)] {
            if !wanted {
                continue;
            }
            self.walk(dir, max_depth, None).run(start, |from, e, depth| {
                if let Some(d) = depth {
                    let slot = depth_of.entry(e.neighbor).or_insert(d);
                    *slot = (*slot).min(d);
                }
                raw_edges.push(match dir {
                    Dir::Out => (from, e.neighbor, e.label, e.created_in),
                    Dir::In => (e.neighbor, from, e.label, e.created_in),
                });
                ControlFlow::Continue(())
            })?;
        }
        let mut keys: HashMap<NodeId, NodeKey> = HashMap::new();
        keys.insert(start, start_key);
        let mut nodes = Vec::new();
        for (&id, &depth) in &depth_of {
            if id == start {
                continue;
            }
            let node = self.node_by_id(id)?;
            keys.insert(id, node.key.clone());
            nodes.push(Reached { node, depth });
        }
        nodes.sort_by(|a, b| (a.depth, &a.node.key).cmp(&(b.depth, &b.node.key)));
        raw_edges.sort_unstable();
        raw_edges.dedup();
        let mut edges = Vec::new();
        for (f, t, label, created_in) in raw_edges {
            let (Some(from), Some(to)) = (keys.get(&f), keys.get(&t)) else { continue };
            let props = self.edge_props(f, t, label, created_in)?;
            edges.push(Edge {
                from: from.clone(),
                to: to.clone(),
                label: self.dict.label_name(label)?.to_owned(),
                props,
                created_in,
            });
        }
        edges.sort_by(|a, b| (&a.from, &a.to, &a.label).cmp(&(&b.from, &b.to, &b.label)));
        Ok(Subgraph { nodes, edges })
    }

    /// Every node visible at this snapshot, of one type or of all types, in key order.
    pub fn find(&self, type_name: Option<&str>) -> Result<Vec<Node>> {
        let ids = self.find_ids(type_name)?;
        let mut out = Vec::new();
        for id in ids {
            let Some(record) = self.tables.node(id)? else { continue };
            if record.visible_at(self.at) {
                out.push(self.node_of(id, record)?);
            }
        }
        Ok(out)
    }

    /// Node types present in the database.
    pub fn types(&self) -> Vec<String> {
        let mut t: Vec<String> = self.dict.type_ids.keys().cloned().collect();
        t.sort();
        t
    }

    /// Every version of an entity visible at this snapshot, ascending.
    pub fn versions(&self, entity: &EntityKey) -> Result<Vec<Node>> {
        let Some(&tid) = self.dict.type_ids.get(&entity.type_name) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (_, id) in self.tables.versions(tid, &entity.name)? {
            if let Some(record) = self.tables.node(id)? {
                if record.visible_at(self.at) {
                    out.push(self.node_of(id, record)?);
                }
            }
        }
        Ok(out)
    }

    /// The aliases of an entity and the version each points at, at this snapshot.
    pub fn aliases(&self, entity: &EntityKey) -> Result<BTreeMap<String, u64>> {
        let mut out = BTreeMap::new();
        let Some(&tid) = self.dict.type_ids.get(&entity.type_name) else { return Ok(out) };
        for (alias, _) in self.tables.alias_moves(tid, &entity.name, None)? {
            if out.contains_key(&alias) {
                continue;
            }
            if let Some(v) = self.tables.alias_at(tid, &entity.name, &alias, self.at)?.and_then(|m| m.version) {
                out.insert(alias, v);
            }
        }
        Ok(out)
    }

    /// Every version, annotation change, deletion and alias move of an entity
    /// up to this snapshot, in snapshot order.
    pub fn history(&self, entity: &EntityKey) -> Result<Vec<HistoryEvent>> {
        let Some(&tid) = self.dict.type_ids.get(&entity.type_name) else {
            return Err(Error::NoSuchNode {
                reference: entity.to_string(),
                hint: Some(format!("no node has type `{}`", entity.type_name)),
            });
        };
        let versions = self.tables.versions(tid, &entity.name)?;
        let mut events = Vec::new();
        let mut snapshot_cache: HashMap<SnapshotId, (Timestamp, String)> = HashMap::new();
        let mut snap = |id: SnapshotId| -> Result<(Timestamp, String)> {
            if let Some(s) = snapshot_cache.get(&id) {
                return Ok(s.clone());
            }
            let s = self
                .tables
                .snapshot(id)?
                .map(|s| (Timestamp(s.time), s.author))
                .unwrap_or((Timestamp(0), String::new()));
            snapshot_cache.insert(id, s.clone());
            Ok(s)
        };
        for (version, id) in versions {
            let Some(record) = self.tables.node(id)? else { continue };
            if record.created_in > self.at {
                continue;
            }
            events.push(HistoryEvent {
                entity: entity.clone(),
                snapshot: record.created_in,
                time: Timestamp(record.created_at),
                author: record.created_by.clone(),
                kind: HistoryKind::Created { version, label: record.label.clone() },
            });
            for (s, props) in self.tables.annotation_history(id)? {
                if s <= self.at {
                    let (time, author) = snap(s)?;
                    events.push(HistoryEvent {
                        entity: entity.clone(),
                        snapshot: s,
                        time,
                        author,
                        kind: HistoryKind::Annotated { version, props },
                    });
                }
            }
            if let Some(d) = record.deleted_in.filter(|d| *d <= self.at) {
                let (time, author) = snap(d)?;
                events.push(HistoryEvent {
                    entity: entity.clone(),
                    snapshot: d,
                    time,
                    author,
                    kind: HistoryKind::Deleted { version },
                });
            }
        }
        for (alias, m) in self.tables.alias_moves(tid, &entity.name, None)? {
            if m.snapshot <= self.at {
                events.push(HistoryEvent {
                    entity: entity.clone(),
                    snapshot: m.snapshot,
                    time: Timestamp(m.time),
                    author: m.author,
                    kind: HistoryKind::AliasMoved { alias, version: m.version, previous: m.previous, reason: m.reason },
                });
            }
        }
        if events.is_empty() {
            return Err(Error::NoSuchNode {
                reference: entity.to_string(),
                hint: Some(format!("{entity} has no versions at snapshot {}", self.at)),
            });
        }
        events.sort_by_key(|e| e.snapshot);
        Ok(events)
    }

    /// The commit log up to this snapshot, newest first.
    pub fn snapshots(&self, limit: Option<usize>) -> Result<Vec<Snapshot>> {
        let from = match limit {
            Some(n) => self.at.saturating_sub(n as u64).saturating_add(1).max(1),
            None => 1,
        };
        let mut out: Vec<Snapshot> = self
            .tables
            .snapshots(from, self.at)?
            .into_iter()
            .map(|s| Snapshot {
                id: s.id,
                time: Timestamp(s.time),
                author: s.author,
                message: s.message,
                changes: s.changes,
            })
            .collect();
        out.reverse();
        Ok(out)
    }

    /// Audit entries up to this snapshot that match `filter`, oldest first.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        self.audit_each(filter, &mut |entry| {
            out.push(entry);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Calls `each` with the audit entries up to this snapshot that match
    /// `filter`, oldest first, one at a time (the log is never held whole),
    /// until it returns `Break` or `filter.limit` entries were given.
    pub fn audit_each(&self, filter: &AuditFilter, each: &mut dyn FnMut(AuditEntry) -> ControlFlow<()>) -> Result<()> {
        let counters = self.tables.counters()?;
        let entity_prefix = filter.entity.as_ref().map(|e| format!("{e}@"));
        let node_key = filter.node.as_ref().map(ToString::to_string);
        let mut left = filter.limit.unwrap_or(usize::MAX);
        if left == 0 {
            return Ok(());
        }
        self.tables.audit_each(1, counters.audit_seq, &mut |r| {
            if r.snapshot > self.at {
                // Entries are in commit order: nothing later is visible either.
                return ControlFlow::Break(());
            }
            if filter.since.is_some_and(|t| r.time < t.micros())
                || filter.until.is_some_and(|t| r.time > t.micros())
                || filter.author.as_ref().is_some_and(|a| *a != r.author)
                || entity_prefix.as_ref().is_some_and(|p| !r.subjects.iter().any(|s| s.starts_with(p.as_str())))
                || node_key.as_ref().is_some_and(|k| !r.subjects.contains(k))
            {
                return ControlFlow::Continue(());
            }
            if each(crate::audit::to_entry(r)).is_break() {
                return ControlFlow::Break(());
            }
            left -= 1;
            if left == 0 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
    }

    /// Node keys starting with `prefix` (for completion), at most `limit`.
    /// After `type:` only the names with that prefix are read, with one range
    /// scan of the key dictionary, so completion stays fast on large files.
    pub fn keys_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let (type_prefix, name_prefix) = match prefix.split_once(':') {
            // A quoted name: match its text up to the first escape.
            Some((t, n)) => (t, n.trim_start_matches('"').split('\\').next().unwrap_or("")),
            None => (prefix, ""),
        };
        let exact_type = prefix.contains(':');
        let mut out = Vec::new();
        let mut types: Vec<(&String, &u32)> = self.dict.type_ids.iter().collect();
        types.sort();
        for (name, &tid) in types {
            if (exact_type && name != type_prefix) || !name.starts_with(type_prefix) {
                continue;
            }
            for id in self.tables.nodes_of_type(tid, name_prefix)? {
                if out.len() >= limit {
                    return Ok(out);
                }
                let Some(header) = self.tables.node_header(id)? else { continue };
                if !header.visible_at(self.at) {
                    continue;
                }
                let key = header_key(&self.dict, &header)?.to_string();
                if key.starts_with(prefix) {
                    out.push(key);
                }
            }
        }
        Ok(out)
    }

    /// Recomputes the audit hash chain and checks the graph invariants.
    pub fn verify(&self) -> Result<VerifyReport> {
        crate::verify::verify(&self.tables, &self.dict, &mut |_, _| {})
    }

    /// `verify`, calling `progress(done, total)` as it goes (for a progress bar).
    pub fn verify_with_progress(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        crate::verify::verify(&self.tables, &self.dict, progress)
    }
}

/// A predicate on returned nodes.
type NodePredicate<'r> = Box<dyn Fn(&Node) -> bool + 'r>;

/// A traversal being set up: `read.ancestors(&r).max_depth(5).only_type("dataset").collect()`.
pub struct Traversal<'r> {
    read: &'r ReadTx,
    start: NodeRef,
    dir: Dir,
    max_depth: Option<u32>,
    labels: Option<Vec<String>>,
    types: Option<Vec<String>>,
    filter: Option<NodePredicate<'r>>,
}

impl std::fmt::Debug for Traversal<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traversal")
            .field("start", &self.start)
            .field("dir", &self.dir)
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl<'r> Traversal<'r> {
    fn new(read: &'r ReadTx, start: NodeRef, dir: Dir) -> Self {
        Traversal { read, start, dir, max_depth: None, labels: None, types: None, filter: None }
    }

    /// Walk at most `depth` edges from the start.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// Walk only edges with one of these labels.
    pub fn via<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.labels = Some(labels.into_iter().map(Into::into).collect());
        self
    }

    /// Return only nodes of this type (may be called again to allow several).
    /// The walk still passes through every type.
    pub fn only_type(mut self, type_name: impl Into<String>) -> Self {
        self.types.get_or_insert_with(Vec::new).push(type_name.into());
        self
    }

    /// Return only nodes for which `predicate` holds.
    pub fn filter(mut self, predicate: impl Fn(&Node) -> bool + 'r) -> Self {
        self.filter = Some(Box::new(predicate));
        self
    }

    /// Reached node ids with their depth, in breadth-first order, type
    /// restriction applied (the predicate is not: it needs the node).
    pub fn collect_ids(&self) -> Result<Vec<(NodeId, u32)>> {
        let read = self.read;
        let start = read.resolve_start(&self.start)?;
        let type_ids: Option<Vec<u32>> =
            self.types.as_ref().map(|ts| ts.iter().filter_map(|t| read.dict.type_ids.get(t).copied()).collect());
        let mut out = Vec::new();
        read.walk(self.dir, self.max_depth, self.labels.as_deref()).run(start, |_, e, depth| {
            if let Some(d) = depth {
                if type_ids.as_ref().is_none_or(|ts| ts.contains(&e.neighbor_type)) {
                    out.push((e.neighbor, d));
                }
            }
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// The reached nodes, ordered by depth then key.
    pub fn collect(&self) -> Result<Vec<Reached>> {
        let mut out = Vec::new();
        for (id, depth) in self.collect_ids()? {
            let node = self.read.node_by_id(id)?;
            if self.filter.as_ref().is_none_or(|f| f(&node)) {
                out.push(Reached { node, depth });
            }
        }
        out.sort_by(|a, b| (a.depth, &a.node.key).cmp(&(b.depth, &b.node.key)));
        Ok(out)
    }
}
