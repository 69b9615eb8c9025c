//! The long-term archive: the complete record of a database (every snapshot,
//! node, annotation, edge, alias move and audit entry, with the ids and
//! dictionaries that the audit log's digests cover) in one portable JSON
//! Lines file, and its import into an empty database, which rebuilds it so
//! every query at every snapshot answers the same and `verify` passes.
//!
//! The file is independent of redb and of LineageDB's page layout: one JSON
//! object per line, its single key naming the record (`docs/archive.md`).
//! The first line is a header, the last a manifest with the count of every
//! kind of record and the SHA-256 of every byte before it. Property values
//! keep their types: `{"s": text}`, `{"i": int}`, `{"f": "1.5"}` (the float's
//! shortest exact text, so NaN and infinities survive), `{"b": bool}`,
//! `{"t": microseconds}`, `{"l": [...]}`, `{"m": {...}}`, and `null`.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::db::{Database, Dict};
use crate::error::{Error, Result};
use crate::storage::codec::{
    AliasRecord, AuditRecord, Dir, LIVE, NodeId, NodeRecord, SnapshotId, SnapshotRecord, adj_key,
};
use crate::storage::{Counters, EdgeId, StoreRead};
use crate::value::{Props, Timestamp, Value};

/// Version of the archive layout this build writes and reads.
pub const ARCHIVE_VERSION: u32 = 1;

/// What an archive holds, from its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ArchiveManifest {
    /// How many records of each kind: `types`, `labels`, `snapshots`, `nodes`,
    /// `annotations`, `edges`, `aliases`, `audit`.
    pub counts: BTreeMap<String, u64>,
    /// SHA-256 (hex) of every byte of the file before the manifest line.
    pub sha256: String,
    /// The latest snapshot archived.
    pub last_snapshot: SnapshotId,
    /// The hash (hex) of the last audit entry: the tip of the chain.
    pub audit_tip: String,
}

/// One line of the archive.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    LineagedbArchive { version: u32, written_by: String },
    Type { name: String, id: u32 },
    Label { name: String, id: u32 },
    Snapshot(ArchSnapshot),
    Node(ArchNode),
    Annotation { node: NodeId, snapshot: SnapshotId, props: Json },
    Edge(ArchEdge),
    Alias(ArchAlias),
    Audit(ArchAudit),
    Manifest(ArchiveManifest),
}

impl Line {
    /// Records must come in this order of kinds; the header first, the manifest last.
    fn rank(&self) -> u8 {
        match self {
            Line::LineagedbArchive { .. } => 0,
            Line::Type { .. } => 1,
            Line::Label { .. } => 2,
            Line::Snapshot(_) => 3,
            Line::Node(_) => 4,
            Line::Annotation { .. } => 5,
            Line::Edge(_) => 6,
            Line::Alias(_) => 7,
            Line::Audit(_) => 8,
            Line::Manifest(_) => 9,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Line::LineagedbArchive { .. } => "header",
            Line::Type { .. } => "types",
            Line::Label { .. } => "labels",
            Line::Snapshot(_) => "snapshots",
            Line::Node(_) => "nodes",
            Line::Annotation { .. } => "annotations",
            Line::Edge(_) => "edges",
            Line::Alias(_) => "aliases",
            Line::Audit(_) => "audit",
            Line::Manifest(_) => "manifest",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchSnapshot {
    id: SnapshotId,
    time: i64,
    author: String,
    message: Option<String>,
    changes: u64,
    asserted_by: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchNode {
    id: NodeId,
    type_id: u32,
    name: String,
    version: u64,
    label: Option<String>,
    created_in: SnapshotId,
    created_at: i64,
    created_by: String,
    deleted_in: Option<SnapshotId>,
    props: Json,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchEdge {
    from: NodeId,
    to: NodeId,
    label_id: u32,
    created_in: SnapshotId,
    deleted_in: Option<SnapshotId>,
    props: Json,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchAlias {
    type_id: u32,
    name: String,
    alias: String,
    version: Option<u64>,
    previous: Option<u64>,
    snapshot: SnapshotId,
    time: i64,
    author: String,
    reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchAudit {
    seq: u64,
    snapshot: SnapshotId,
    time: i64,
    author: String,
    op: String,
    subjects: Vec<String>,
    detail: String,
    digest: String,
    prev: String,
    hash: String,
}

// ---------------------------------------------------------------- values

fn value_json(v: &Value) -> Json {
    let tagged = |tag: &str, inner: Json| Json::Object([(tag.to_owned(), inner)].into_iter().collect());
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => tagged("b", (*b).into()),
        Value::Int(i) => tagged("i", (*i).into()),
        Value::Float(f) => tagged("f", f.to_string().into()),
        Value::String(s) => tagged("s", s.clone().into()),
        Value::Timestamp(t) => tagged("t", t.micros().into()),
        Value::List(items) => tagged("l", items.iter().map(value_json).collect::<Vec<_>>().into()),
        Value::Map(map) => tagged("m", props_json(map)),
    }
}

fn props_json(props: &Props) -> Json {
    Json::Object(props.iter().map(|(k, v)| (k.clone(), value_json(v))).collect())
}

fn json_value(j: &Json) -> std::result::Result<Value, String> {
    let Json::Object(map) = j else {
        return match j {
            Json::Null => Ok(Value::Null),
            other => Err(format!("a value must be null or a one-key object such as {{\"s\": \"text\"}}, not {other}")),
        };
    };
    let mut entries = map.iter();
    let (Some((tag, inner)), None) = (entries.next(), entries.next()) else {
        return Err(format!("a value must be a one-key object such as {{\"i\": 3}}, not {j}"));
    };
    let bad = |what: &str| format!("`{tag}` holds {what}, not {inner}");
    Ok(match tag.as_str() {
        "b" => Value::Bool(inner.as_bool().ok_or_else(|| bad("a boolean"))?),
        "i" => Value::Int(inner.as_i64().ok_or_else(|| bad("an integer"))?),
        "f" => Value::Float(inner.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| bad("a float as text"))?),
        "s" => Value::String(inner.as_str().ok_or_else(|| bad("text"))?.to_owned()),
        "t" => Value::Timestamp(Timestamp(inner.as_i64().ok_or_else(|| bad("microseconds"))?)),
        "l" => Value::List(
            inner
                .as_array()
                .ok_or_else(|| bad("a list"))?
                .iter()
                .map(json_value)
                .collect::<std::result::Result<_, _>>()?,
        ),
        "m" => Value::Map(json_props(inner)?),
        other => return Err(format!("unknown value tag `{other}` (expected b, i, f, s, t, l or m)")),
    })
}

fn json_props(j: &Json) -> std::result::Result<Props, String> {
    let Json::Object(map) = j else { return Err(format!("properties must be an object, not {j}")) };
    map.iter().map(|(k, v)| Ok((k.clone(), json_value(v)?))).collect()
}

fn unhex32(text: &str) -> std::result::Result<[u8; 32], String> {
    let bad = || format!("expected 64 hex digits, found {text:?}");
    if text.len() != 64 || !text.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

// ---------------------------------------------------------------- export

/// Writes lines and hashes every byte written.
struct HashingWriter<'w> {
    out: &'w mut dyn Write,
    hash: Sha256,
    counts: BTreeMap<String, u64>,
}

impl HashingWriter<'_> {
    fn line(&mut self, line: &Line) -> Result<()> {
        let mut bytes =
            serde_json::to_vec(line).map_err(|e| Error::Storage(format!("cannot encode the archive: {e}")))?;
        bytes.push(b'\n');
        self.hash.update(&bytes);
        self.out.write_all(&bytes).map_err(|e| Error::Storage(format!("cannot write the archive: {e}")))?;
        *self.counts.entry(line.kind().to_owned()).or_default() += 1;
        Ok(())
    }
}

impl Database {
    /// Writes the complete record of the database, at its latest snapshot,
    /// to `out` as an archive; returns its manifest. `progress(done, total)`
    /// is called as nodes are written.
    pub fn export_archive(&self, out: &mut dyn Write, progress: &mut dyn FnMut(u64, u64)) -> Result<ArchiveManifest> {
        let tables = self.inner.store.begin_read()?;
        let t: &dyn StoreRead = &tables;
        let counters = t.counters()?;
        let mut w = HashingWriter { out, hash: Sha256::new(), counts: BTreeMap::new() };
        let header = Line::LineagedbArchive {
            version: ARCHIVE_VERSION,
            written_by: format!("lineagedb {}", env!("CARGO_PKG_VERSION")),
        };
        w.line(&header)?;
        for (name, id) in t.type_dictionary()? {
            w.line(&Line::Type { name, id })?;
        }
        for (name, id) in t.label_dictionary()? {
            w.line(&Line::Label { name, id })?;
        }
        for s in t.snapshots(1, counters.last_snapshot)? {
            let SnapshotRecord { id, time, author, message, changes, asserted_by } = s;
            w.line(&Line::Snapshot(ArchSnapshot { id, time, author, message, changes, asserted_by }))?;
        }
        let total = counters.next_node.saturating_sub(1);
        let mut annotations: Vec<(NodeId, Vec<(SnapshotId, Props)>)> = Vec::new();
        for id in 1..counters.next_node {
            let record = t.node(id)?.ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
            let history = t.annotation_history(id)?;
            if !history.is_empty() {
                annotations.push((id, history));
            }
            let NodeRecord { type_id, version, created_in, deleted_in, name, label, created_at, created_by, props } =
                record;
            let props = props_json(&props);
            let node =
                ArchNode { id, type_id, name, version, label, created_in, created_at, created_by, deleted_in, props };
            w.line(&Line::Node(node))?;
            if id % 4096 == 0 || id == total {
                progress(id, total);
            }
        }
        for (id, history) in annotations {
            for (snapshot, props) in history {
                w.line(&Line::Annotation { node: id, snapshot, props: props_json(&props) })?;
            }
        }
        for (from, e) in t.all_adjacency(Dir::Out, false)? {
            let props = t.edge_props(&adj_key(from, e.neighbor, e.label, e.created_in))?;
            w.line(&Line::Edge(ArchEdge {
                from,
                to: e.neighbor,
                label_id: e.label,
                created_in: e.created_in,
                deleted_in: (e.deleted_in != LIVE).then_some(e.deleted_in),
                props: props_json(&props),
            }))?;
        }
        for (type_id, name, alias, m) in t.all_alias_moves()? {
            let AliasRecord { version, previous, snapshot, time, author, reason } = m;
            w.line(&Line::Alias(ArchAlias {
                type_id,
                name,
                alias,
                version,
                previous,
                snapshot,
                time,
                author,
                reason,
            }))?;
        }
        for a in t.audit(1, u64::MAX)? {
            let AuditRecord { seq, snapshot, time, author, op, subjects, detail, digest, prev, hash } = a;
            let (digest, prev, hash) = (crate::audit::hex(&digest), crate::audit::hex(&prev), crate::audit::hex(&hash));
            w.line(&Line::Audit(ArchAudit { seq, snapshot, time, author, op, subjects, detail, digest, prev, hash }))?;
        }
        let mut counts = std::mem::take(&mut w.counts);
        counts.remove("header");
        for kind in ["types", "labels", "snapshots", "nodes", "annotations", "edges", "aliases", "audit"] {
            counts.entry(kind.to_owned()).or_default();
        }
        let manifest = ArchiveManifest {
            counts,
            sha256: crate::audit::hex(&w.hash.clone().finalize()),
            last_snapshot: counters.last_snapshot,
            audit_tip: crate::audit::hex(&counters.audit_tip),
        };
        w.line(&Line::Manifest(manifest.clone()))?;
        w.out.flush().map_err(|e| Error::Storage(format!("cannot write the archive: {e}")))?;
        Ok(manifest)
    }

    /// Rebuilds this database, which must be empty, from the archive read
    /// from `input` (`source` names it in errors; `progress(bytes)` is
    /// called as lines are read). Everything is checked
    /// before anything is committed: each line (an error names
    /// `source:line`), the order of the records, the manifest's counts and
    /// digest, and then the rebuilt database with `verify`. A bad archive
    /// leaves the database as it was.
    pub fn import_archive(
        &self,
        input: &mut dyn BufRead,
        source: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ArchiveManifest> {
        let mut tables = self.inner.store.begin_write()?;
        let before = tables.read(|t| t.counters())?;
        if before.last_snapshot != 0 || before.next_node > 1 || before.audit_seq != 0 {
            tables.abort()?;
            return Err(Error::NotEmpty {
                detail: format!(
                    "it has {} snapshot(s) and {} node(s); an archive rebuilds a whole database and is imported into a new, empty one",
                    before.last_snapshot,
                    before.next_node.saturating_sub(1)
                ),
            });
        }
        let rebuilt = rebuild(&mut tables, before.dict_version, input, source, progress);
        let (manifest, at, counters) = match rebuilt {
            Ok(done) => done,
            Err(e) => {
                tables.abort()?;
                return Err(e);
            }
        };
        let bad = |line: u64, reason: String| Error::BadArchive { archive: source.to_owned(), line, reason };
        tables.put_counters(&counters)?;
        let problems = tables.read(|t| {
            let dict = Dict::load(t)?;
            crate::verify::verify(t, &dict, &mut |_, _| {})
        })?;
        if !problems.is_ok() {
            tables.abort()?;
            let shown: Vec<&str> = problems.problems.iter().take(5).map(String::as_str).collect();
            return Err(bad(
                at,
                format!(
                    "the rebuilt database fails verify ({} problem(s)): {}",
                    problems.problems.len(),
                    shown.join("; ")
                ),
            ));
        }
        tables.commit()?;
        // Nothing was cached for an empty database; forget remembered starts all the same.
        self.inner.cache.committed(counters.last_snapshot, std::iter::empty(), true);
        Ok(manifest)
    }
}

fn last_kind(rank: u8) -> &'static str {
    ["header", "type", "label", "snapshot", "node", "annotation", "edge", "alias", "audit", "manifest"]
        [usize::from(rank)]
}

fn check_snapshot(snapshot: SnapshotId, last: SnapshotId) -> std::result::Result<(), String> {
    if snapshot == 0 || snapshot > last {
        return Err(format!("snapshot {snapshot} is not among the archive's snapshots (1 to {last})"));
    }
    Ok(())
}

fn check_node(id: NodeId, node_types: &[u32]) -> std::result::Result<(), String> {
    if id == 0 || id as usize >= node_types.len() {
        return Err(format!("node id {id} is not among the archive's nodes"));
    }
    Ok(())
}

/// Reads the archive into `tables` (of an empty database whose dictionary
/// version is `dict_version`), checking each line and the manifest; returns
/// the manifest, its line number and the counters to store.
fn rebuild(
    tables: &mut crate::storage::WriteTables,
    dict_version: u64,
    input: &mut dyn BufRead,
    source: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<(ArchiveManifest, u64, Counters)> {
    let bad = |line: u64, reason: String| Error::BadArchive { archive: source.to_owned(), line, reason };
    let mut hash = Sha256::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut rank = 0u8;
    let mut manifest: Option<(u64, ArchiveManifest)> = None;
    let mut node_types: Vec<u32> = vec![0]; // by node id; id 0 is unused
    let mut labels: HashSet<u32> = HashSet::new();
    let mut types: HashSet<u32> = HashSet::new();
    let mut counters = Counters { next_node: 1, dict_version: dict_version + 1, ..Counters::default() };
    let mut last_snapshot_time = 0;
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let read = input.read_until(b'\n', &mut buf).map_err(|e| bad(number + 1, format!("cannot read: {e}")))?;
        if read == 0 {
            break;
        }
        number += 1;
        progress(read as u64);
        if let Some((at, _)) = &manifest {
            return Err(bad(number, format!("nothing may follow the manifest (line {at})")));
        }
        let parsed = std::str::from_utf8(&buf).map_err(|_| "the line is not UTF-8 text".to_owned()).and_then(|text| {
            serde_json::from_str::<Line>(text.trim_end_matches(['\n', '\r'])).map_err(|e| {
                // serde_json places the error "at line 1 column N" of the one line it read.
                let text = e.to_string();
                let text = text.split(" at line 1 column ").next().unwrap_or(&text).to_owned();
                format!("not an archive record (column {}): {text}", e.column())
            })
        });
        let line = match parsed {
            Ok(line) => line,
            Err(_) if number == 1 => {
                return Err(bad(1, "not a LineageDB archive: the first line must be its header".into()));
            }
            Err(reason) => return Err(bad(number, reason)),
        };
        if number == 1 {
            match &line {
                Line::LineagedbArchive { version, .. } if *version <= ARCHIVE_VERSION => {}
                Line::LineagedbArchive { version, .. } => {
                    return Err(bad(
                        1,
                        format!(
                            "archive version {version}; this build reads up to {ARCHIVE_VERSION}: upgrade lineagedb"
                        ),
                    ));
                }
                _ => return Err(bad(1, "not a LineageDB archive: the first line must be its header".into())),
            }
        } else if line.rank() == 0 {
            return Err(bad(number, "a second archive header".into()));
        }
        if line.rank() < rank {
            return Err(bad(
                number,
                format!("a {} record after the {} records: the archive is out of order", line.kind(), last_kind(rank)),
            ));
        }
        rank = line.rank();
        if !matches!(line, Line::Manifest(_)) {
            hash.update(&buf);
        }
        *counts.entry(line.kind().to_owned()).or_default() += 1;
        match line {
            Line::LineagedbArchive { .. } => {}
            Line::Type { name, id } => {
                crate::key::check_type(&name).map_err(|e| bad(number, e.to_string()))?;
                types.insert(id);
                tables.put_type(&name, id)?;
            }
            Line::Label { name, id } => {
                labels.insert(id);
                tables.put_label(&name, id)?;
            }
            Line::Snapshot(s) => {
                if s.id != counters.last_snapshot + 1 {
                    return Err(bad(
                        number,
                        format!("snapshot {} where snapshot {} was expected", s.id, counters.last_snapshot + 1),
                    ));
                }
                if s.time <= last_snapshot_time && s.id > 1 {
                    return Err(bad(number, format!("snapshot {} is not later than the snapshot before it", s.id)));
                }
                let ArchSnapshot { id, time, author, message, changes, asserted_by } = s;
                counters.last_snapshot = id;
                counters.last_time = time;
                last_snapshot_time = time;
                tables.put_snapshot(&SnapshotRecord { id, time, author, message, changes, asserted_by })?;
            }
            Line::Node(n) => {
                if n.id != counters.next_node {
                    return Err(bad(
                        number,
                        format!("node id {} where node id {} was expected", n.id, counters.next_node),
                    ));
                }
                if !types.contains(&n.type_id) {
                    return Err(bad(
                        number,
                        format!("node {} has type id {}, which no type record defines", n.id, n.type_id),
                    ));
                }
                for s in std::iter::once(n.created_in).chain(n.deleted_in) {
                    if s == 0 || s > counters.last_snapshot {
                        return Err(bad(
                            number,
                            format!("node {} names snapshot {s}, which the archive does not hold", n.id),
                        ));
                    }
                }
                let props = json_props(&n.props).map_err(|e| bad(number, format!("node {}: {e}", n.id)))?;
                let record = NodeRecord {
                    type_id: n.type_id,
                    version: n.version,
                    created_in: n.created_in,
                    deleted_in: n.deleted_in,
                    name: n.name,
                    label: n.label,
                    created_at: n.created_at,
                    created_by: n.created_by,
                    props,
                };
                tables.put_node(n.id, &record, true)?;
                if let Some(label) = &record.label {
                    tables.put_ext_label(record.type_id, &record.name, label, record.version)?;
                }
                node_types.push(record.type_id);
                counters.next_node += 1;
            }
            Line::Annotation { node, snapshot, props } => {
                check_node(node, &node_types).map_err(|e| bad(number, e))?;
                check_snapshot(snapshot, counters.last_snapshot).map_err(|e| bad(number, e))?;
                let props = json_props(&props).map_err(|e| bad(number, format!("annotation of node {node}: {e}")))?;
                tables.put_annotations(node, snapshot, &props)?;
            }
            Line::Edge(e) => {
                check_node(e.from, &node_types).map_err(|r| bad(number, r))?;
                check_node(e.to, &node_types).map_err(|r| bad(number, r))?;
                if !labels.contains(&e.label_id) {
                    return Err(bad(number, format!("edge label id {} is defined by no label record", e.label_id)));
                }
                for s in std::iter::once(e.created_in).chain(e.deleted_in) {
                    check_snapshot(s, counters.last_snapshot).map_err(|r| bad(number, r))?;
                }
                let props =
                    json_props(&e.props).map_err(|r| bad(number, format!("edge {} -> {}: {r}", e.from, e.to)))?;
                let edge = EdgeId {
                    from: e.from,
                    from_type: node_types[e.from as usize],
                    to: e.to,
                    to_type: node_types[e.to as usize],
                    label: e.label_id,
                    created_in: e.created_in,
                };
                tables.put_edge(&edge, &props)?;
                match e.deleted_in {
                    Some(at) => tables.delete_edge(&edge, at)?,
                    None if e.from >= e.to => counters.backward_edges += 1,
                    None => {}
                }
            }
            Line::Alias(a) => {
                let ArchAlias { type_id, name, alias, version, previous, snapshot, time, author, reason } = a;
                if !types.contains(&type_id) {
                    return Err(bad(
                        number,
                        format!("alias {alias} has type id {type_id}, which no type record defines"),
                    ));
                }
                check_snapshot(snapshot, counters.last_snapshot).map_err(|r| bad(number, r))?;
                let record = AliasRecord { version, previous, snapshot, time, author, reason };
                tables.put_alias(type_id, &name, &alias, &record)?;
            }
            Line::Audit(a) => {
                if a.seq != counters.audit_seq + 1 {
                    return Err(bad(
                        number,
                        format!("audit entry {} where entry {} was expected", a.seq, counters.audit_seq + 1),
                    ));
                }
                check_snapshot(a.snapshot, counters.last_snapshot).map_err(|r| bad(number, r))?;
                let hashes = (|| Ok::<_, String>((unhex32(&a.digest)?, unhex32(&a.prev)?, unhex32(&a.hash)?)))()
                    .map_err(|e| bad(number, format!("audit entry {}: {e}", a.seq)))?;
                let ArchAudit { seq, snapshot, time, author, op, subjects, detail, .. } = a;
                let (digest, prev, hash) = hashes;
                counters.audit_seq = seq;
                counters.audit_tip = hash;
                tables.put_audit(&AuditRecord {
                    seq,
                    snapshot,
                    time,
                    author,
                    op,
                    subjects,
                    detail,
                    digest,
                    prev,
                    hash,
                })?;
            }
            Line::Manifest(m) => manifest = Some((number, m)),
        }
    }
    let Some((at, manifest)) = manifest else {
        return Err(bad(number, "the archive ends without its manifest: it is truncated".into()));
    };
    let sha256 = crate::audit::hex(&hash.finalize());
    if manifest.sha256 != sha256 {
        return Err(bad(
            at,
            format!(
                "the archive's content does not match its manifest (SHA-256 {sha256}, manifest says {})",
                manifest.sha256
            ),
        ));
    }
    counts.remove("header");
    counts.remove("manifest");
    for (kind, expected) in &manifest.counts {
        let found = counts.get(kind).copied().unwrap_or(0);
        if found != *expected {
            return Err(bad(at, format!("the manifest counts {expected} {kind} but the archive holds {found}")));
        }
    }
    if manifest.last_snapshot != counters.last_snapshot || manifest.audit_tip != crate::audit::hex(&counters.audit_tip)
    {
        return Err(bad(at, "the manifest's last snapshot or audit tip does not match the records".into()));
    }
    Ok((manifest, at, counters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{ImportOptions, Importer};
    use crate::key::{EntityKey, NodeRef};
    use crate::model::AuditFilter;

    fn r(text: &str) -> NodeRef {
        text.parse().expect("a valid reference")
    }

    /// Every kind of record: a bulk import (batch audit entry, snapshot
    /// assertion), typed properties (NaN and nested values included),
    /// labels, annotations, an unlink, a detached delete, alias moves.
    fn history() -> Database {
        let db = Database::in_memory().unwrap();
        let lines = r#"{"node": {"type": "dataset", "name": "tx", "version": 1, "props": {"rows": 10}}}
{"node": {"type": "run", "name": "train_1", "props": {"lr": 0.1}}}
{"edge": {"from": "dataset:tx@1", "to": "run:train_1@1", "label": "input", "props": {"columns": ["a", "b"]}}}
{"node": {"type": "model", "name": "fraud"}}
{"edge": {"from": "run:train_1@1", "to": "model:fraud@1", "label": "output"}}
"#;
        let mut importer = Importer::new(&db, ImportOptions::default()).unwrap();
        importer.read("lineage.jsonl", lines.as_bytes(), &mut |_| {}).unwrap();
        importer.commit().unwrap();

        let mut tx = db.begin_write().unwrap();
        tx.author("ana").message("typed values");
        let mut props = Props::new();
        props.insert("nan".into(), Value::Float(f64::NAN));
        props.insert("inf".into(), Value::Float(f64::NEG_INFINITY));
        props.insert("third".into(), Value::Float(1.0 / 3.0));
        props.insert("when".into(), Value::Timestamp(Timestamp(1_700_000_000_123_456)));
        props.insert(
            "nested".into(),
            Value::Map(Props::from([(
                "l".to_owned(),
                Value::List(vec![Value::Null, Value::Bool(true), Value::Int(-3)]),
            )])),
        );
        props.insert("text".into(), Value::from("line\nbreak \"quoted\" é"));
        tx.create(crate::write::NewNode {
            type_name: "dataset".into(),
            name: "s3://bucket/tx.parquet".into(),
            version: None,
            label: Some("sha256:abc".into()),
            props,
        })
        .unwrap();
        tx.create_node("deployment", "api", Props::new()).unwrap();
        tx.link(&r("model:fraud@1"), &r("deployment:api@1"), "serves", Props::new()).unwrap();
        tx.link(&r("dataset:\"s3://bucket/tx.parquet\"@1"), &r("run:train_1@1"), "input", Props::new()).unwrap();
        tx.promote(&r("model:fraud@1"), "production", Some("first")).unwrap();
        tx.commit().unwrap();

        let mut tx = db.begin_write().unwrap();
        tx.set(&r("dataset:tx@1"), Props::from([("owner".to_owned(), Value::from("risk"))])).unwrap();
        tx.unlink(&r("model:fraud@1"), &r("deployment:api@1"), None).unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        tx.promote(&r("model:fraud@2"), "production", None).unwrap();
        tx.commit().unwrap();

        let mut tx = db.begin_write().unwrap();
        tx.delete(&r("run:train_1@1"), true).unwrap();
        tx.commit().unwrap();
        db
    }

    fn export(db: &Database) -> (Vec<u8>, ArchiveManifest) {
        let mut out = Vec::new();
        let manifest = db.export_archive(&mut out, &mut |_, _| {}).unwrap();
        (out, manifest)
    }

    fn import(bytes: &[u8]) -> (Database, Result<ArchiveManifest>) {
        let db = Database::in_memory().unwrap();
        let result = db.import_archive(&mut &bytes[..], "test.archive", &mut |_| {});
        (db, result)
    }

    /// What every read at every snapshot answers, as text.
    fn everything(db: &Database) -> Vec<String> {
        let head = db.begin_read().unwrap().latest_snapshot();
        let mut out = Vec::new();
        for at in 1..=head {
            let read = db.begin_read().unwrap().as_of(at).unwrap();
            for node in read.find(None).unwrap() {
                out.push(format!("{at} {:?}", read.node_detail(&node.key.to_ref()).unwrap()));
                out.push(format!("{at} {:?}", read.lineage(&node.key.to_ref(), true, true, None).unwrap()));
            }
            for entity in ["model:fraud", "dataset:tx", "run:train_1"] {
                let e: EntityKey = r(entity).entity();
                out.push(format!("{at} {:?} {:?}", read.history(&e).unwrap(), read.aliases(&e).unwrap()));
            }
            out.push(format!("{at} {:?}", read.snapshots(None).unwrap()));
            out.push(format!("{at} {:?}", read.audit(&AuditFilter::default()).unwrap()));
        }
        out
    }

    #[test]
    fn an_imported_archive_answers_every_query_at_every_snapshot_the_same_and_verifies() {
        let original = history();
        let (bytes, manifest) = export(&original);
        assert_eq!(manifest.last_snapshot, 4);
        assert_eq!(manifest.counts["nodes"], 6);
        assert_eq!(manifest.counts["edges"], 4);
        assert_eq!(manifest.counts["annotations"], 1);
        assert_eq!(manifest.counts["aliases"], 2);
        let (copy, imported) = import(&bytes);
        assert_eq!(imported.unwrap(), manifest);
        assert_eq!(everything(&copy), everything(&original));
        let report = copy.begin_read().unwrap().verify().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        // Nothing is lost or added: the copy's archive is the same file.
        assert_eq!(export(&copy).0, bytes);
        // NaN survives (it is not equal to itself, so compare its text).
        let node = copy.begin_read().unwrap().node(&r("dataset:\"s3://bucket/tx.parquet\"@1")).unwrap();
        assert!(matches!(node.props.get("nan"), Some(Value::Float(f)) if f.is_nan()));
        // The copy takes new commits after the imported ones.
        let mut tx = copy.begin_write().unwrap();
        tx.create_node("model", "fraud", Props::new()).unwrap();
        assert_eq!(tx.commit().unwrap(), 5);
        assert!(copy.begin_read().unwrap().verify().unwrap().is_ok());
    }

    fn refused(bytes: &[u8]) -> String {
        let (db, result) = import(bytes);
        let error = result.expect_err("the archive must be refused").to_string();
        let read = db.begin_read().unwrap();
        assert_eq!(read.latest_snapshot(), 0, "{error}: nothing may be committed");
        assert!(read.find(None).unwrap().is_empty(), "{error}");
        error
    }

    fn edit(bytes: &[u8], line: usize, change: impl FnOnce(&str) -> String) -> Vec<u8> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[line] = change(&lines[line]);
        (lines.join("\n") + "\n").into_bytes()
    }

    #[test]
    fn a_damaged_archive_is_refused_with_its_line_and_nothing_is_imported() {
        let (bytes, _) = export(&history());
        let text = std::str::from_utf8(&bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let node_line = lines.iter().position(|l| l.starts_with("{\"node\"")).unwrap();

        // Truncated: no manifest.
        let truncated = lines[..lines.len() - 1].join("\n") + "\n";
        assert!(refused(truncated.as_bytes()).contains("truncated"));
        // A changed value: the digest no longer matches.
        let changed = edit(&bytes, node_line, |l| l.replace("\"rows\":{\"i\":10}", "\"rows\":{\"i\":11}"));
        assert_ne!(changed, bytes);
        let e = refused(&changed);
        assert!(e.starts_with(&format!("test.archive:{}:", lines.len())) && e.contains("manifest"), "{e}");
        // Not JSON, and a bad value tag: the line is named.
        let e = refused(&edit(&bytes, node_line, |_| "{not json".into()));
        assert!(e.starts_with(&format!("test.archive:{}:", node_line + 1)), "{e}");
        let e = refused(&edit(&bytes, node_line, |l| l.replace("{\"i\":10}", "{\"x\":10}")));
        assert!(e.contains("unknown value tag `x`"), "{e}");
        // A record naming a snapshot the archive does not hold.
        let annotation = lines.iter().position(|l| l.starts_with("{\"annotation\"")).unwrap();
        let e = refused(&edit(&bytes, annotation, |l| l.replace("\"snapshot\":3", "\"snapshot\":99")));
        assert!(e.contains("snapshot 99 is not among the archive's snapshots"), "{e}");
        // Out of order: a label after a snapshot; anything after the manifest.
        let mut swapped = lines.clone();
        let label = lines.iter().position(|l| l.starts_with("{\"label\"")).unwrap();
        let snapshot = lines.iter().position(|l| l.starts_with("{\"snapshot\"")).unwrap();
        swapped.swap(label, snapshot);
        assert!(refused((swapped.join("\n") + "\n").as_bytes()).contains("out of order"));
        let last = lines.len() - 1;
        let mut swapped = lines.clone();
        swapped.swap(last - 1, last);
        assert!(refused((swapped.join("\n") + "\n").as_bytes()).contains("nothing may follow the manifest"));
        // Not an archive at all.
        assert!(refused(b"{\"node\": {}}\n").contains("not a LineageDB archive"));
        // A consistent-looking archive whose audit entry was edited (and the
        // manifest digest recomputed) fails verify.
        let audit_line = lines.iter().position(|l| l.starts_with("{\"audit\"")).unwrap();
        let mut forged: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        forged[audit_line] = forged[audit_line].replace("\"author\":\"", "\"author\":\"mallory-");
        let body: String = forged[..last].iter().map(|l| format!("{l}\n")).collect();
        let digest = crate::audit::hex(&Sha256::digest(body.as_bytes()));
        let old: ArchiveManifest = match serde_json::from_str::<Line>(lines[last]).unwrap() {
            Line::Manifest(m) => m,
            _ => unreachable!(),
        };
        forged[last] = lines[last].replace(&old.sha256, &digest);
        let e = refused((forged.join("\n") + "\n").as_bytes());
        assert!(e.contains("fails verify"), "{e}");
    }

    #[test]
    fn an_archive_is_imported_only_into_an_empty_database() {
        let original = history();
        let (bytes, _) = export(&original);
        let e = original.import_archive(&mut &bytes[..], "a", &mut |_| {}).expect_err("not empty");
        assert!(e.to_string().contains("not empty"), "{e}");
        assert_eq!(original.begin_read().unwrap().latest_snapshot(), 4);
    }

    #[test]
    fn an_empty_database_archives_and_imports() {
        let (bytes, manifest) = export(&Database::in_memory().unwrap());
        assert_eq!(manifest.last_snapshot, 0);
        let (copy, imported) = import(&bytes);
        assert_eq!(imported.unwrap(), manifest);
        assert_eq!(copy.begin_read().unwrap().latest_snapshot(), 0);
    }
}
