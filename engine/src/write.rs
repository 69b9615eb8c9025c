//! `WriteTx`: the single write transaction. Every mutation validates fully
//! before it writes, is covered by a hash-chained audit entry (its own, or in
//! batch mode one entry for all node creations and links), and becomes
//! visible only when `commit` makes the whole transaction one snapshot.
//!
//! Failure policy: by default the first failed mutation aborts the
//! transaction (`commit` then returns `Error::Aborted` and nothing is
//! written), which is what the query language and imports want. A caller that
//! skips bad input on purpose (`import --skip-invalid`) calls
//! `keep_going_on_error`: a failed mutation then changes nothing and the
//! transaction stays usable.

use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

use crate::audit::{entry_hash, sha256};
use crate::cache::AdjCache;
use crate::db::{Dict, Inner};
use crate::error::{Error, Result};
use crate::key::{EntityKey, KeyRef, NodeKey, NodeRef, VersionSel, check_name, check_type};
use crate::new_edges::NewEdges;
use crate::resolve::{header_key, key_of, resolve, resolve_header};
use crate::storage::codec::{
    AdjEntry, AdjKey, AliasRecord, AuditRecord, Dir, NodeId, NodeRecord, NodeRecordRef, SnapshotId, SnapshotRecord,
    write_version_key,
};
use crate::storage::{Counters, EdgeId, StoredEntity, WriteTables};
use crate::traverse::Walk;
use crate::value::{Props, Timestamp, Value, props_to_json};

/// Properties the engine records itself; users cannot set them.
pub const RESERVED_KEYS: &[&str] = &["created_at", "created_in", "created_by"];

/// Properties that may change after creation (with `SET`); every other
/// property given at creation is immutable content.
pub const ANNOTATION_KEYS: &[&str] = &["description", "tags", "owner", "notes"];

/// Properties that say who asserted a fact and when (set by importers and
/// the run recorder). They are ignored when deciding whether a re-imported
/// node or edge is identical to the stored one.
pub const ASSERTION_KEYS: &[&str] = &["asserted_by", "asserted_at"];

/// Equal content, ignoring `ASSERTION_KEYS`.
pub fn same_content(a: &Props, b: &Props) -> bool {
    let strip = |p: &Props| -> Vec<(String, Value)> {
        p.iter().filter(|(k, _)| !ASSERTION_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    strip(a) == strip(b)
}

/// A node to create.
#[derive(Clone, Debug, Default)]
pub struct NewNode {
    /// Node type.
    pub type_name: String,
    /// Entity name.
    pub name: String,
    /// Explicit version; must be the next one. `None` assigns it.
    pub version: Option<u64>,
    /// External version label.
    pub label: Option<String>,
    /// Content properties.
    pub props: Props,
}

/// What `create` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// A new version was created.
    New(NodeKey),
    /// The same version with identical content existed already (idempotent create).
    Existing(NodeKey),
}

impl Created {
    /// The key, created or found.
    pub fn key(&self) -> &NodeKey {
        match self {
            Created::New(k) | Created::Existing(k) => k,
        }
    }
}

/// The write transaction. Dropping it without `commit` rolls it back.
pub struct WriteTx {
    inner: Arc<Inner>,
    tables: Option<WriteTables>,
    dict: Dict,
    counters: Counters,
    snapshot: SnapshotId,
    time: i64,
    author: String,
    message: Option<String>,
    changes: u64,
    touched: FxHashSet<NodeId>,
    failed: Option<String>,
    keep_going: bool,
    /// Exact keys of stored nodes resolved in this transaction, by their
    /// `version_key` bytes (nodes it created are found in `WriteTables`).
    resolved: FxHashMap<Box<[u8]>, Resolved>,
    /// Scratch buffer for building `version_key` bytes without allocating.
    scratch: Vec<u8>,
    /// Whether this transaction deleted a node (remembered query starts are
    /// then forgotten at commit).
    deleted_nodes: bool,
    batch: Option<Batch>,
    /// Nodes with ids from here on were created by this transaction: no
    /// cached adjacency to invalidate, no edges but this transaction's.
    first_new: NodeId,
    /// See `assert_created`.
    created_asserted_by: Option<String>,
    /// Edges to or from a new node, not yet written: added to their blocks in
    /// key order at the next read of adjacency or at commit (in parallel with
    /// the writing of the new nodes), each block written once.
    pending: Vec<(EdgeId, Props)>,
    /// Whether this transaction tombstoned an edge (which a later link of the
    /// same key may revive).
    unlinked_any: bool,
    /// Edges linked by this transaction to or from one of its own nodes: such
    /// an edge that is not here cannot exist.
    new_edges: NewEdges,
}

/// Batch audit mode: node creations and links are covered by one audit
/// entry whose detail carries a digest of all their content.
#[derive(Debug)]
struct Batch {
    op: String,
    detail: serde_json::Value,
    first_node: NodeId,
    /// Every edge created and written before commit (linked between two
    /// stored nodes, or buffered and flushed early by a read), by adjacency
    /// key, with its properties: hashed at commit while the writer thread
    /// writes. The new nodes and the edges still buffered at commit are
    /// hashed as they are created, on a worker thread (`crate::prehash`).
    edges: Vec<(AdjKey, Props)>,
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTx").field("snapshot", &self.snapshot).field("changes", &self.changes).finish()
    }
}

impl WriteTx {
    pub(crate) fn begin(inner: Arc<Inner>) -> Result<WriteTx> {
        let tables = inner.store.begin_write()?;
        let (counters, dict) = tables.read(|t| Ok((t.counters()?, Dict::load(t)?)))?;
        let now = Timestamp::now().micros();
        let time = now.max(counters.last_time + 1);
        let author = inner.default_author.clone();
        Ok(WriteTx {
            first_new: counters.next_node,
            new_edges: NewEdges::new(counters.next_node),
            snapshot: counters.last_snapshot + 1,
            inner,
            tables: Some(tables),
            dict,
            counters,
            time,
            author,
            message: None,
            changes: 0,
            touched: FxHashSet::default(),
            failed: None,
            keep_going: false,
            resolved: FxHashMap::default(),
            scratch: Vec::new(),
            deleted_nodes: false,
            batch: None,
            created_asserted_by: None,
            pending: Vec::new(),
            unlinked_any: false,
        })
    }

    /// Sets the author recorded on the snapshot, its nodes and audit entries.
    pub fn author(&mut self, author: impl Into<String>) -> &mut Self {
        self.author = author.into();
        self
    }

    /// Sets the commit message.
    pub fn message(&mut self, message: impl Into<String>) -> &mut Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the commit time (for replaying history, e.g. an archive or a demo).
    /// It must be after the previous snapshot's time.
    pub fn set_time(&mut self, time: Timestamp) -> Result<&mut Self> {
        if time.micros() <= self.counters.last_time {
            return Err(Error::TimeGoesBackwards {
                requested: time.to_string(),
                last: Timestamp(self.counters.last_time).to_string(),
            });
        }
        if self.changes > 0 {
            return Err(Error::Misuse { what: "the commit time must be set before the first change" });
        }
        self.time = time.micros();
        Ok(self)
    }

    /// A failed mutation leaves the transaction usable instead of aborting it.
    pub fn keep_going_on_error(&mut self, keep_going: bool) -> &mut Self {
        self.keep_going = keep_going;
        self
    }

    /// Covers every node creation and link of this transaction with ONE audit
    /// entry (`op`, with `detail` plus a SHA-256 digest of the content of every
    /// node and edge created) instead of one entry each. Bulk imports use it;
    /// `verify` recomputes the digest from the stored nodes and edges. Other
    /// mutations still get their own entries. Must be called before any change.
    pub fn batch_audit(&mut self, op: &str, detail: serde_json::Value) -> Result<&mut Self> {
        if self.changes > 0 {
            return Err(Error::Misuse { what: "batch audit must be chosen before the first change" });
        }
        let first_node = self.counters.next_node;
        self.tables_mut()?.digest_new_nodes();
        self.batch = Some(Batch { op: op.to_owned(), detail, first_node, edges: Vec::new() });
        Ok(self)
    }

    /// Records once, on the snapshot, who asserted the nodes and edges this
    /// transaction creates: reads give every such node and edge without its
    /// own `asserted_by` the properties `asserted_by` = `by` and
    /// `asserted_at` = the commit time. Bulk imports use it instead of
    /// storing the same two properties on every node and edge.
    pub fn assert_created(&mut self, by: impl Into<String>) -> &mut Self {
        self.created_asserted_by = Some(by.into());
        self
    }

    /// Replaces the detail recorded on the batch audit entry (e.g. final counts).
    pub fn set_batch_detail(&mut self, detail: serde_json::Value) {
        if let Some(b) = &mut self.batch {
            b.detail = detail;
        }
    }

    /// The snapshot id this transaction will commit as.
    pub fn snapshot(&self) -> SnapshotId {
        self.snapshot
    }

    /// The commit time.
    pub fn time(&self) -> Timestamp {
        Timestamp(self.time)
    }

    /// The author.
    pub fn author_name(&self) -> &str {
        &self.author
    }

    /// Mutations so far.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    fn tables(&self) -> Result<&WriteTables> {
        self.tables.as_ref().ok_or_else(finished)
    }

    fn tables_mut(&mut self) -> Result<&mut WriteTables> {
        self.tables.as_mut().ok_or_else(finished)
    }

    /// Runs a mutation: refuses it after an abort, records an abort on failure.
    fn guarded<T>(&mut self, op: impl FnOnce(&mut WriteTx) -> Result<T>) -> Result<T> {
        if let Some(first) = &self.failed {
            return Err(Error::Aborted { first: first.clone() });
        }
        let result = op(self);
        if let Err(e) = &result {
            let storage = matches!(e, Error::Storage(_) | Error::Corrupt { .. } | Error::Io { .. });
            if storage || !self.keep_going {
                self.failed = Some(e.to_string());
            }
        }
        result
    }

    /// Resolves a reference against the transaction's current state,
    /// including its own uncommitted changes.
    pub fn resolve(&self, r: &NodeRef) -> Result<NodeKey> {
        let (at, dict) = (self.snapshot, &self.dict);
        let (_, header) = self.tables()?.read(|t| resolve_header(t, dict, r, at))?;
        header_key(&self.dict, &header)
    }

    fn resolve_record(&self, r: &NodeRef) -> Result<(NodeId, NodeRecord)> {
        let at = self.snapshot;
        let dict = &self.dict;
        self.tables()?.read(|t| resolve(t, dict, r, at))
    }

    /// The key, external label and content properties of the node `r`
    /// resolves to in the transaction's current state, if it resolves.
    pub fn lookup(&self, r: &NodeRef) -> Result<Option<(NodeKey, Option<String>, Props)>> {
        match absent_as_none(self.resolve_record(r))? {
            Some((_, record)) => Ok(Some((key_of(&self.dict, &record)?, record.label, record.props))),
            None => Ok(None),
        }
    }

    /// Whether a node exists (live) in the transaction's current state.
    pub fn exists(&self, r: &NodeRef) -> Result<bool> {
        Ok(absent_as_none(self.resolve(r))?.is_some())
    }

    fn type_id(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.dict.type_ids.get(name) {
            return Ok(id);
        }
        let id = self.dict.type_names.keys().max().map_or(1, |m| m + 1);
        self.tables_mut()?.put_type(name, id)?;
        self.counters.dict_version += 1;
        self.dict.type_ids.insert(name.to_owned(), id);
        self.dict.type_names.insert(id, name.to_owned());
        Ok(id)
    }

    fn label_id(&mut self, name: &str) -> Result<u32> {
        if let Some(&id) = self.dict.label_ids.get(name) {
            return Ok(id);
        }
        let id = self.dict.label_names.keys().max().map_or(1, |m| m + 1);
        self.tables_mut()?.put_label(name, id)?;
        self.counters.dict_version += 1;
        self.dict.label_ids.insert(name.to_owned(), id);
        self.dict.label_names.insert(id, name.to_owned());
        Ok(id)
    }

    fn append_audit(&mut self, op: &str, subjects: Vec<String>, detail: String) -> Result<()> {
        let seq = self.counters.audit_seq + 1;
        let mut record = AuditRecord {
            seq,
            snapshot: self.snapshot,
            time: self.time,
            author: self.author.clone(),
            op: op.to_owned(),
            subjects,
            digest: sha256(detail.as_bytes()),
            detail,
            prev: self.counters.audit_tip,
            hash: [0; 32],
        };
        record.hash = entry_hash(&record);
        self.tables_mut()?.put_audit(&record)?;
        self.counters.audit_seq = seq;
        self.counters.audit_tip = record.hash;
        self.changes += 1;
        Ok(())
    }

    /// Appends an audit entry for an operation a tool performed (an import
    /// batch, a recorded run). `detail` is JSON.
    pub fn record_audit(&mut self, op: &str, subjects: Vec<String>, detail: serde_json::Value) -> Result<()> {
        self.guarded(|tx| tx.append_audit(op, subjects, detail.to_string()))
    }

    /// Claims a once-only `token` (for example the id of a spooled record
    /// being replayed): returns `None` and records the token in this
    /// transaction if no committed transaction claimed it, else the snapshot
    /// that did. The claim commits or rolls back with everything else, so a
    /// replay that is interrupted and retried commits its record once.
    pub fn claim_once(&mut self, token: &str) -> Result<Option<SnapshotId>> {
        let snapshot = self.snapshot;
        self.guarded(|tx| tx.tables_mut()?.claim_once(token, snapshot))
    }

    /// Records `alias` as another name of the `type_name` entity `name` (an
    /// OpenLineage symlink), unless `alias` names an entity already; returns
    /// the entity name `alias` stands for from now on.
    pub fn add_name_alias(&mut self, type_name: &str, alias: &str, name: &str) -> Result<String> {
        self.guarded(|tx| tx.tables_mut()?.put_name_alias(type_name, alias, name))
    }

    /// The entity name another name of a `type_name` entity stands for
    /// (`add_name_alias`), if one was recorded.
    pub fn name_alias(&self, type_name: &str, alias: &str) -> Result<Option<String>> {
        self.tables()?.read(|t| t.name_alias(type_name, alias))
    }

    /// Records that version `key` holds the file content `sha256` (hex), so
    /// that [`WriteTx::content_versions`] finds it by its content.
    pub fn note_content(&mut self, sha256: &str, key: &NodeKey) -> Result<()> {
        let key = key.to_string();
        self.guarded(|tx| tx.tables_mut()?.note_content(sha256, &key))
    }

    /// The live versions recorded with content `sha256` (`note_content`),
    /// oldest first.
    pub fn content_versions(&self, sha256: &str) -> Result<Vec<NodeKey>> {
        let keys = self.tables()?.read(|t| t.content_keys(sha256))?;
        let mut live = Vec::new();
        for key in keys {
            let key: NodeKey = key.parse().map_err(|e| Error::Corrupt { detail: format!("content index: {e}") })?;
            if self.exists(&key.to_ref())? {
                live.push(key);
            }
        }
        Ok(live)
    }

    /// Creates the next version of `type:name` with `props`; returns its key.
    pub fn create_node(&mut self, type_name: &str, name: &str, props: Props) -> Result<NodeKey> {
        let new = NewNode { type_name: type_name.to_owned(), name: name.to_owned(), props, ..NewNode::default() };
        self.create(new).map(|c| c.key().clone())
    }

    /// Creates a node. With an explicit version that already exists with
    /// identical content, nothing changes and `Created::Existing` is returned
    /// (so re-running an import is safe); with different content it is an error.
    pub fn create(&mut self, new: NewNode) -> Result<Created> {
        self.guarded(|tx| tx.create_inner(new)).map(|(created, _)| created)
    }

    /// `create`, also returning the node's id (for `link_ids`).
    pub fn create_with_id(&mut self, new: NewNode) -> Result<(Created, NodeId)> {
        self.guarded(|tx| tx.create_inner(new))
    }

    fn create_inner(&mut self, new: NewNode) -> Result<(Created, NodeId)> {
        check_type(&new.type_name)?;
        check_name(&new.name)?;
        for k in new.props.keys() {
            if RESERVED_KEYS.contains(&k.as_str()) {
                return Err(Error::ReservedProperty { property: k.clone() });
            }
        }
        let entity = || EntityKey { type_name: new.type_name.clone(), name: new.name.clone() };
        let existing_type = self.dict.type_ids.get(&new.type_name).copied();
        // The highest version so far: of a new entity, or of one this
        // transaction created, it is answered from memory (see `WriteTables`).
        let (max, stored, label_holder) = match existing_type {
            Some(tid) => {
                let (name, label) = (&new.name, &new.label);
                self.tables()?.read(|t| {
                    let holder = match label {
                        Some(l) => t.label_version(tid, name, l)?,
                        None => None,
                    };
                    let (max, stored) = t.max_version_for_create(tid, name)?;
                    Ok((max, stored, holder))
                })?
            }
            None => (0, StoredEntity::Absent, None),
        };
        let next = max + 1;
        if let Some(v) = new.version {
            if v == 0 {
                return Err(crate::error::KeyError::BadVersion { text: "0".into() }.into());
            }
            if v <= max {
                // Idempotent re-creation of an identical version.
                let key = entity().version(v);
                let tid = existing_type.unwrap_or(0);
                let record = self.tables()?.read(|t| match t.node_id(tid, &new.name, v)? {
                    Some(id) => Ok(t.node(id)?.map(|r| (id, r))),
                    None => Ok(None),
                })?;
                if let Some((id, r)) = record {
                    if same_content(&r.props, &new.props) && r.label == new.label && r.deleted_in.is_none() {
                        return Ok((Created::Existing(key), id));
                    }
                    return Err(Error::ExistsWithOtherContent { key: key.to_string() });
                }
            }
            if v != next {
                return Err(Error::VersionConflict { entity: entity().to_string(), requested: v, next });
            }
        }
        if let (Some(label), Some(holder)) = (&new.label, label_holder) {
            return Err(Error::LabelTaken { entity: entity().to_string(), label: label.clone(), version: holder });
        }
        let type_id = self.type_id(&new.type_name)?;
        let id = self.counters.next_node;
        // Encoded into the scratch buffer: the record is copied into the
        // transaction's buffer of new nodes.
        let mut encoded = std::mem::take(&mut self.scratch);
        encoded.clear();
        let record = NodeRecordRef {
            type_id,
            version: next,
            created_in: self.snapshot,
            deleted_in: None,
            name: &new.name,
            label: new.label.as_deref(),
            created_at: self.time,
            created_by: &self.author,
            props: &new.props,
        };
        let encoded = postcard::to_extend(&record, encoded)?;
        let tables = self.tables.as_mut().ok_or_else(finished)?;
        tables.put_new_node(id, type_id, &new.name, next, &encoded, stored)?;
        self.scratch = encoded;
        if let Some(label) = &new.label {
            tables.put_ext_label(type_id, &new.name, label, next)?;
        }
        self.counters.next_node += 1;
        let key = NodeKey { type_name: new.type_name, name: new.name, version: next };
        if self.batch.is_some() {
            self.changes += 1;
        } else {
            let text = key.to_string();
            let detail = create_detail(id, &text, new.label.as_deref(), &new.props, self.snapshot);
            self.append_audit("create_node", vec![text], detail)?;
        }
        Ok((Created::New(key), id))
    }

    /// Adds the edge `from -> to` with `label`. Refused if it would close a
    /// cycle (the error names it) or if the same live edge exists.
    pub fn link(&mut self, from: &NodeRef, to: &NodeRef, label: &str, props: Props) -> Result<()> {
        self.guarded(|tx| tx.link_inner(Endpoint::Ref(from), Endpoint::Ref(to), label, props, false)).map(|_| ())
    }

    /// Like `link`, but an identical live edge (same label and properties)
    /// already present is accepted without change; returns whether an edge was added.
    pub fn link_idempotent(&mut self, from: &NodeRef, to: &NodeRef, label: &str, props: Props) -> Result<bool> {
        self.guarded(|tx| tx.link_inner(Endpoint::Ref(from), Endpoint::Ref(to), label, props, true))
    }

    /// `link` between two nodes named by id: as `create_with_id` returned
    /// them, or as a read reported them (`Node::id`). The way for a program
    /// that created the nodes itself to link many of them: no key is
    /// resolved. An id of no node, or of a deleted one, is an error.
    pub fn link_ids(&mut self, from: NodeId, to: NodeId, label: &str, props: Props) -> Result<()> {
        self.guarded(|tx| tx.link_inner(Endpoint::Id(from), Endpoint::Id(to), label, props, false)).map(|_| ())
    }

    /// `link_idempotent` between two exact keys, borrowed: the bulk import's
    /// way, which resolves keys seen earlier in the transaction without allocating.
    pub fn link_keys_idempotent(
        &mut self,
        from: KeyRef<'_>,
        to: KeyRef<'_>,
        label: &str,
        props: Props,
    ) -> Result<bool> {
        self.guarded(|tx| tx.link_inner(Endpoint::Key(from), Endpoint::Key(to), label, props, true))
    }

    fn link_inner(
        &mut self,
        from: Endpoint<'_>,
        to: Endpoint<'_>,
        label: &str,
        props: Props,
        idempotent: bool,
    ) -> Result<bool> {
        if label.is_empty() {
            return Err(Error::InvalidLabel { label: label.to_owned() });
        }
        let (from_id, from_type) = self.resolve_exact(from)?;
        let (to_id, to_type) = self.resolve_exact(to)?;
        let at = self.snapshot;
        // The same live edge? An edge to or from a node of this transaction
        // exists only if this transaction linked it.
        let new_end = from_id >= self.first_new || to_id >= self.first_new;
        let known_label = self.dict.label_ids.get(label).copied();
        // (Noted in `new_edges` now, before it is known to be added: an
        // entry there only means "look before linking again".)
        let maybe = known_label.filter(|lid| !new_end || self.new_edges.note(from_id, to_id, *lid));
        if let Some(lid) = maybe {
            self.flush_pending()?;
            let existing = self.tables()?.read(|t| {
                Ok(t.edges_between(from_id, to_id)?.into_iter().find(|e| e.label == lid && e.visible_at(at)))
            })?;
            if let Some(e) = existing {
                if idempotent {
                    let key = crate::storage::codec::adj_key(from_id, to_id, lid, e.created_in);
                    let old = self.tables()?.read(|t| t.edge_props(&key))?;
                    if same_content(&old, &props) {
                        return Ok(false);
                    }
                }
                return Err(Error::DuplicateEdge {
                    from: self.exact_key(from, from_id)?.to_string(),
                    to: self.exact_key(to, to_id)?.to_string(),
                    label: label.to_owned(),
                });
            }
        }
        // Would it close a cycle? While every live edge goes from an older
        // node to a newer one, an edge from older to newer cannot; otherwise
        // look for a path to -> ... -> from.
        let backward = from_id >= to_id;
        if backward || self.counters.backward_edges > 0 {
            self.flush_pending()?;
            if let Some(path) = self.find_path(to_id, from_id)? {
                let (from_key, to_key) = (self.exact_key(from, from_id)?, self.exact_key(to, to_id)?);
                let mut cycle = Vec::with_capacity(path.len() + 1);
                cycle.push(from_key.to_string());
                for id in path {
                    let key = self.tables()?.read(|t| t.node(id))?.map(|r| key_of(&self.dict, &r)).transpose()?;
                    cycle.push(key.map(|k| k.to_string()).unwrap_or_else(|| format!("#{id}")));
                }
                return Err(Error::Cycle { from: from_key.to_string(), to: to_key.to_string(), cycle });
            }
        }
        let label_id = self.label_id(label)?;
        let edge = EdgeId { from: from_id, from_type, to: to_id, to_type, label: label_id, created_in: at };
        // What the audit records: the edge's content hash for the batch entry,
        // or an entry of its own.
        let audit = match self.batch {
            // A buffered edge is hashed at commit from the buffer (or when the
            // buffer is written early, see `flush_pending`).
            Some(_) if new_end => LinkAudit::Buffered,
            Some(_) => {
                let key = crate::storage::codec::adj_key(from_id, to_id, label_id, at);
                LinkAudit::InBatch(key, props.clone())
            }
            None => {
                let (from_key, to_key) =
                    (self.exact_key(from, from_id)?.to_string(), self.exact_key(to, to_id)?.to_string());
                let detail =
                    serde_json::json!({"from": from_key, "to": to_key, "label": label, "props": props_to_json(&props)});
                LinkAudit::Own(detail.to_string(), vec![from_key, to_key])
            }
        };
        if new_end {
            if matches!(audit, LinkAudit::Buffered) {
                let key = crate::storage::codec::adj_key(from_id, to_id, label_id, at);
                self.tables_mut()?.prehash_edge(key, &props);
            }
            self.pending.push((edge, props));
            if known_label.is_none() {
                self.new_edges.note(from_id, to_id, label_id);
            }
        } else {
            self.tables_mut()?.put_edge(&edge, &props)?;
        }
        if backward {
            self.counters.backward_edges += 1;
        }
        self.touch(from_id);
        self.touch(to_id);
        match audit {
            LinkAudit::InBatch(key, props) => {
                if let Some(batch) = &mut self.batch {
                    batch.edges.push((key, props));
                }
                self.changes += 1;
            }
            LinkAudit::Buffered => self.changes += 1,
            LinkAudit::Own(detail, subjects) => {
                self.append_audit("link", subjects, detail)?;
            }
        }
        Ok(true)
    }

    /// Resolves `r` to (node id, type id); exact versions resolved or
    /// created earlier in this transaction are answered from memory, without
    /// allocating or reading redb.
    fn resolve_exact(&mut self, r: Endpoint<'_>) -> Result<(NodeId, u32)> {
        if let Endpoint::Id(id) = r {
            return self.resolve_id(id);
        }
        if let Some(k) = r.exact() {
            if let Some(&type_id) = self.dict.type_ids.get(k.type_name) {
                if let Some(id) = self.tables()?.created_id(type_id, k.name, k.version) {
                    return Ok((id, type_id));
                }
                write_version_key(&mut self.scratch, type_id, k.name, k.version);
                if let Some(found) = self.resolved.get(self.scratch.as_slice()).filter(|found| !found.deleted) {
                    return Ok((found.id, found.type_id));
                }
            }
        }
        let at = self.snapshot;
        let dict = &self.dict;
        let owned;
        let r = match r {
            Endpoint::Ref(r) => r,
            Endpoint::Key(k) => {
                owned = k.to_ref();
                &owned
            }
            Endpoint::Id(_) => unreachable!("answered above"),
        };
        let (id, header) = self.tables()?.read(|t| resolve_header(t, dict, r, at))?;
        write_version_key(&mut self.scratch, header.type_id, &header.name, header.version);
        let found = Resolved { id, type_id: header.type_id, deleted: false };
        self.resolved.insert(self.scratch.as_slice().into(), found);
        Ok((id, header.type_id))
    }

    /// (id, type id) of live node `id`; reads only its record's leading fields.
    fn resolve_id(&self, id: NodeId) -> Result<(NodeId, u32)> {
        match self.tables()?.read(|t| t.node_stamp(id))? {
            Some(stamp) => match stamp.deleted_in {
                None => Ok((id, stamp.type_id)),
                Some(snapshot) => {
                    Err(Error::Deleted { key: self.exact_key(Endpoint::Id(id), id)?.to_string(), snapshot })
                }
            },
            None => Err(Error::NoSuchNode {
                reference: format!("#{id}"),
                hint: Some(format!("node ids run from 1 to {}", self.counters.next_node.saturating_sub(1))),
            }),
        }
    }

    /// The exact key of node `id`, which `r` resolved to.
    fn exact_key(&self, r: Endpoint<'_>, id: NodeId) -> Result<NodeKey> {
        if let Some(k) = r.exact() {
            return Ok(k.to_key());
        }
        let header = self.tables()?.read(|t| t.node_header(id))?;
        let header = header.ok_or_else(|| Error::Corrupt { detail: format!("node {id} vanished") })?;
        header_key(&self.dict, &header)
    }

    /// A shortest path `start -> ... -> goal` over live edges in the
    /// transaction's current state, as node ids from start to goal.
    fn find_path(&self, start: NodeId, goal: NodeId) -> Result<Option<Vec<NodeId>>> {
        let at = self.snapshot;
        let bound = self.counters.next_node;
        // The write transaction reads its own tables; the cache (committed
        // state only) must not be consulted or filled, so give it a private one.
        let private = AdjCache::new(0, 0);
        self.tables()?.read(|t| {
            let walk = Walk {
                tables: t,
                cache: &private,
                head: SnapshotId::MAX,
                at,
                id_bound: bound,
                dir: Dir::Out,
                max_depth: None,
                labels: None,
            };
            Ok(walk.shortest_path(start, goal)?.map(|(ids, _)| ids))
        })
    }

    /// Tombstones the live edges `from -> to` (only those with `label`, if
    /// given); returns how many.
    pub fn unlink(&mut self, from: &NodeRef, to: &NodeRef, label: Option<&str>) -> Result<usize> {
        self.guarded(|tx| {
            tx.flush_pending()?;
            let (from_id, from_rec) = tx.resolve_record(from)?;
            let (to_id, to_rec) = tx.resolve_record(to)?;
            let from_key = key_of(&tx.dict, &from_rec)?;
            let to_key = key_of(&tx.dict, &to_rec)?;
            let at = tx.snapshot;
            let lid = label.map(|l| tx.dict.label_ids.get(l).copied());
            let edges: Vec<AdjEntry> = tx.tables()?.read(|t| {
                Ok(t.edges_between(from_id, to_id)?
                    .into_iter()
                    .filter(|e| e.visible_at(at) && lid.is_none_or(|l| l == Some(e.label)))
                    .collect())
            })?;
            if edges.is_empty() {
                return Err(Error::NoSuchEdge {
                    from: from_key.to_string(),
                    to: to_key.to_string(),
                    label: label.map(str::to_owned),
                });
            }
            for e in &edges {
                tx.tombstone_edge(EdgeId {
                    from: from_id,
                    from_type: from_rec.type_id,
                    to: to_id,
                    to_type: to_rec.type_id,
                    label: e.label,
                    created_in: e.created_in,
                })?;
                let label = tx.dict.label_name(e.label)?.to_owned();
                let detail =
                    serde_json::json!({"from": from_key.to_string(), "to": to_key.to_string(), "label": label})
                        .to_string();
                tx.append_audit("unlink", vec![from_key.to_string(), to_key.to_string()], detail)?;
            }
            Ok(edges.len())
        })
    }

    /// Writes the pending edges, outgoing entries in source order and incoming
    /// entries in target order.
    fn flush_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending);
        if let Some(batch) = &mut self.batch {
            let keys = pending
                .iter()
                .map(|(e, p)| (crate::storage::codec::adj_key(e.from, e.to, e.label, e.created_in), p.clone()));
            batch.edges.extend(keys);
            self.tables_mut()?.forget_prehashed_edges();
        }
        let clear_stale = self.unlinked_any;
        self.tables_mut()?.put_edges_sorted(&mut pending, clear_stale)
    }

    /// Notes a node whose adjacency changed, for the cache to drop at commit.
    fn touch(&mut self, id: NodeId) {
        if id < self.first_new {
            self.touched.insert(id);
        }
    }

    /// Tombstones both directions of a live edge at this transaction's snapshot.
    fn tombstone_edge(&mut self, edge: EdgeId) -> Result<()> {
        let at = self.snapshot;
        self.unlinked_any = true;
        self.tables_mut()?.delete_edge(&edge, at)?;
        if edge.from >= edge.to {
            self.counters.backward_edges = self.counters.backward_edges.saturating_sub(1);
        }
        self.touch(edge.from);
        self.touch(edge.to);
        Ok(())
    }

    /// Changes annotations of a node. A `null` value removes one. Content
    /// properties (given at creation, other than `ANNOTATION_KEYS`) cannot change.
    pub fn set(&mut self, r: &NodeRef, changes: Props) -> Result<NodeKey> {
        self.guarded(|tx| {
            let (id, record) = tx.resolve_record(r)?;
            let key = key_of(&tx.dict, &record)?;
            for k in changes.keys() {
                if RESERVED_KEYS.contains(&k.as_str()) {
                    return Err(Error::ReservedProperty { property: k.clone() });
                }
                if record.props.contains_key(k) && !ANNOTATION_KEYS.contains(&k.as_str()) {
                    return Err(Error::ContentImmutable { key: key.to_string(), property: k.clone() });
                }
            }
            let at = tx.snapshot;
            let mut overlay = tx.tables()?.read(|t| t.annotations_at(id, at))?.unwrap_or_default();
            for (k, v) in &changes {
                if *v == Value::Null && !record.props.contains_key(k) {
                    overlay.remove(k);
                } else {
                    overlay.insert(k.clone(), v.clone());
                }
            }
            tx.tables_mut()?.put_annotations(id, at, &overlay)?;
            let detail = serde_json::json!({"key": key.to_string(), "set": props_to_json(&changes)}).to_string();
            tx.append_audit("set", vec![key.to_string()], detail)?;
            Ok(key)
        })
    }

    /// Tombstones a node. Refused while it has live edges unless `detach`,
    /// which tombstones them too.
    pub fn delete(&mut self, r: &NodeRef, detach: bool) -> Result<NodeKey> {
        self.guarded(|tx| {
            tx.flush_pending()?;
            let (id, mut record) = tx.resolve_record(r)?;
            let key = key_of(&tx.dict, &record)?;
            let at = tx.snapshot;
            let (outgoing, incoming) = tx.tables()?.read(|t| {
                let live = |dir| -> Result<Vec<AdjEntry>> {
                    Ok(t.adjacency(id, dir)?.into_iter().filter(|e| e.visible_at(at)).collect())
                };
                Ok((live(Dir::Out)?, live(Dir::In)?))
            })?;
            let count = outgoing.len() + incoming.len();
            if count > 0 && !detach {
                return Err(Error::HasLiveEdges { key: key.to_string(), count });
            }
            for e in &outgoing {
                tx.tombstone_edge(EdgeId {
                    from: id,
                    from_type: record.type_id,
                    to: e.neighbor,
                    to_type: e.neighbor_type,
                    label: e.label,
                    created_in: e.created_in,
                })?;
            }
            for e in &incoming {
                tx.tombstone_edge(EdgeId {
                    from: e.neighbor,
                    from_type: e.neighbor_type,
                    to: id,
                    to_type: record.type_id,
                    label: e.label,
                    created_in: e.created_in,
                })?;
            }
            record.deleted_in = Some(at);
            tx.deleted_nodes = true;
            tx.tables_mut()?.put_node(id, &record, false)?;
            write_version_key(&mut tx.scratch, record.type_id, &record.name, record.version);
            if let Some(found) = tx.resolved.get_mut(tx.scratch.as_slice()) {
                found.deleted = true;
            }
            tx.touch(id);
            let detail = serde_json::json!({"key": key.to_string(), "detach": detach, "edges": count}).to_string();
            tx.append_audit("delete", vec![key.to_string()], detail)?;
            Ok(key)
        })
    }

    /// Points `alias` of the entity at the version `r` resolves to; returns
    /// the version that held it before.
    pub fn promote(&mut self, r: &NodeRef, alias: &str, reason: Option<&str>) -> Result<Option<u64>> {
        self.guarded(|tx| {
            let ok = alias.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok || alias.eq_ignore_ascii_case("latest") {
                return Err(Error::InvalidAlias { alias: alias.to_owned() });
            }
            let (_, record) = tx.resolve_record(r)?;
            let key = key_of(&tx.dict, &record)?;
            let at = tx.snapshot;
            let previous = tx.tables()?.read(|t| t.alias_at(record.type_id, &record.name, alias, at - 1))?.and_then(|m| m.version);
            let move_record = AliasRecord {
                version: Some(record.version),
                previous,
                snapshot: at,
                time: tx.time,
                author: tx.author.clone(),
                reason: reason.map(str::to_owned),
            };
            tx.tables_mut()?.put_alias(record.type_id, &record.name, alias, &move_record)?;
            let detail = serde_json::json!({"entity": key.entity().to_string(), "alias": alias, "version": record.version, "previous": previous, "reason": reason}).to_string();
            tx.append_audit("promote", vec![key.to_string()], detail)?;
            Ok(previous)
        })
    }

    /// Makes the transaction one snapshot. A transaction with no change
    /// commits nothing and returns the current snapshot id.
    pub fn commit(mut self) -> Result<SnapshotId> {
        let tables = self.tables.take().ok_or_else(finished)?;
        if let Some(first) = self.failed.take() {
            tables.abort()?;
            return Err(Error::Aborted { first });
        }
        if self.changes == 0 {
            tables.abort()?;
            return Ok(self.counters.last_snapshot);
        }
        self.tables = Some(tables);
        if let Some(batch) = self.batch.take() {
            // The writer writes the buffered nodes and blocks while a helper
            // thread hashes the edges written early (below). The new nodes
            // and the buffered edges were hashed as they were created; the
            // prehashing worker finishes meanwhile.
            let mut edges = batch.edges;
            let (pending, clear_stale) = (std::mem::take(&mut self.pending), self.unlinked_any);
            let tables = self.tables_mut()?;
            let prehashed = tables.close_prehash();
            let written_early = tables.write_buffered(pending, clear_stale, move || {
                // An edge linked, unlinked and linked again here is one stored
                // edge: keep its last content, as `verify` will see it.
                // Reversed then stably sorted, the last link of a key comes first.
                edges.reverse();
                edges.sort_by_key(|(key, _)| *key);
                edges.dedup_by_key(|(key, _)| *key);
                edges
                    .iter()
                    .map(|(key, props)| Ok((*key, crate::verify::edge_content_hash(key, props)?)))
                    .collect::<Result<Vec<_>>>()
            })?;
            // The buffered edges were linked after every edge written early:
            // for a key in both, theirs is the content stored.
            let (nodes_digest, buffered) = prehashed.join()?;
            let mut hashes = merge_edge_hashes(written_early?, buffered);
            let (edges_digest, edges_created) = (crate::verify::edges_digest(&mut hashes), hashes.len());
            let nodes_digest =
                nodes_digest.ok_or_else(|| Error::Storage("the batch's node digest was not started".into()))?;
            let content = crate::verify::combine_digests(&nodes_digest, &edges_digest);
            let mut detail = batch.detail;
            if let serde_json::Value::Object(map) = &mut detail {
                map.insert("nodes_created".into(), (self.counters.next_node - batch.first_node).into());
                map.insert("edges_created".into(), edges_created.into());
                map.insert("content_sha256".into(), crate::audit::hex(&content).into());
            }
            self.append_audit(&batch.op, Vec::new(), detail.to_string())?;
        } else {
            self.flush_pending()?;
        }
        let mut tables = self.tables.take().ok_or_else(finished)?;
        let snapshot = SnapshotRecord {
            asserted_by: self.created_asserted_by.take(),
            id: self.snapshot,
            time: self.time,
            author: self.author.clone(),
            message: self.message.clone(),
            changes: self.changes,
        };
        tables.put_snapshot(&snapshot)?;
        self.counters.last_snapshot = self.snapshot;
        self.counters.last_time = self.time;
        tables.put_counters(&self.counters)?;
        tables.commit()?;
        self.inner.cache.committed(self.snapshot, self.touched.drain(), self.deleted_nodes);
        Ok(self.snapshot)
    }

    /// Abandons every change.
    pub fn rollback(mut self) -> Result<()> {
        match self.tables.take() {
            Some(t) => t.abort(),
            None => Ok(()),
        }
    }
}

/// What the write transaction knows of an exact key it resolved or created.
#[derive(Clone, Copy, Debug)]
struct Resolved {
    id: NodeId,
    type_id: u32,
    /// Deleted by this transaction: links must resolve it again (and fail).
    deleted: bool,
}

/// One end of a link: a reference, or a borrowed exact key.
#[derive(Clone, Copy)]
enum Endpoint<'a> {
    Ref(&'a NodeRef),
    Key(KeyRef<'a>),
    Id(NodeId),
}

impl<'a> Endpoint<'a> {
    /// The exact key named, if the endpoint names one.
    fn exact(self) -> Option<KeyRef<'a>> {
        match self {
            Endpoint::Key(k) => Some(k),
            Endpoint::Ref(r) => match r.version {
                VersionSel::Number(version) => Some(KeyRef { type_name: &r.type_name, name: &r.name, version }),
                _ => None,
            },
            Endpoint::Id(_) => None,
        }
    }
}

/// Edge hashes sorted by key, `later` winning for a key in both.
fn merge_edge_hashes(
    earlier: Vec<crate::verify::EdgeHash>,
    later: Vec<crate::verify::EdgeHash>,
) -> Vec<crate::verify::EdgeHash> {
    // A bulk load writes nothing early: nothing to merge, nothing to copy.
    if earlier.is_empty() {
        return later;
    }
    let mut out = Vec::with_capacity(earlier.len() + later.len());
    let (mut a, mut b) = (earlier.into_iter().peekable(), later.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 < y.0 => out.extend(a.next()),
            (Some(x), Some(y)) if x.0 == y.0 => {
                a.next();
                out.extend(b.next());
            }
            (_, Some(_)) => out.extend(b.next()),
            (Some(_), None) => out.extend(a.next()),
            (None, None) => return out,
        }
    }
}

/// How a link is audited.
enum LinkAudit {
    /// Covered by the batch entry, which hashes this key and these properties.
    InBatch(AdjKey, Props),
    /// Covered by the batch entry; the edge is in `WriteTx::pending`.
    Buffered,
    /// An entry of its own, with this detail and these subjects.
    Own(String, Vec<String>),
}

/// A resolution that found nothing (no such node or alias, or deleted) as `None`.
fn absent_as_none<T>(resolved: Result<T>) -> Result<Option<T>> {
    match resolved {
        Ok(found) => Ok(Some(found)),
        Err(Error::NoSuchNode { .. } | Error::NoSuchAlias { .. } | Error::Deleted { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error of a use after `commit` or `rollback` began.
fn finished() -> Error {
    Error::Aborted { first: "transaction already finished".into() }
}

/// The audit detail of a node creation; `verify` recomputes it from the record.
pub(crate) fn create_detail(
    id: NodeId,
    key: &str,
    label: Option<&str>,
    props: &Props,
    created_in: SnapshotId,
) -> String {
    serde_json::json!({"id": id, "key": key, "label": label, "props": props_to_json(props), "created_in": created_in})
        .to_string()
}
