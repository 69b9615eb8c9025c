//! The crash-safety workloads: what `crash_writer` commits and what the crash
//! test expects to find after killing it.
//!
//! Every snapshot's content is a pure function of its id and its workload,
//! and the workload is named in the commit message (`crash commits 7`), so the
//! checker derives what any snapshot must hold from the database alone:
//! - node `j` of snapshot `s` is `step:c<s>-<j>@1` (commits) or
//!   `record:i<s>-<j>@1` (imports), with props `snapshot`, `index` and a
//!   `payload` derived from both;
//! - inside a snapshot, node `j > 0` has exactly one incoming edge, from its
//!   parent (`j - 1` for commits, `(j - 1) / 2` for imports);
//! - node 0 (the head) of snapshot `s > 1` has one incoming `follows` edge
//!   from the head of snapshot `s - 1`, so snapshots chain together.
//!
//! A snapshot therefore creates exactly `node_count(s)` nodes and
//! `edge_count(s)` edges, and nothing else.

use std::fmt::Write as _;

use lineagedb_engine::{Database, ImportOptions, Importer, NodeKey, Props, ReadTx, SnapshotId, Value};

/// Errors of the workload helpers (test support: any error, boxed).
pub type WorkloadError = Box<dyn std::error::Error + Send + Sync>;

/// Label of the edge from one snapshot's head to the next one's.
pub const FOLLOWS: &str = "follows";

/// Nodes created by one small commit.
const COMMIT_NODES: usize = 5;

/// Bounds of an import batch's node count (each node line comes with one edge line).
const IMPORT_MIN_NODES: u64 = 200;
const IMPORT_MAX_NODES: u64 = 2000;

/// Which kind of write the crash writer repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Small write transactions through `WriteTx`: create nodes, link, commit.
    Commits,
    /// JSON Lines bulk imports through `Importer`, one snapshot each.
    Imports,
}

impl Workload {
    /// The name used on the writer's command line and in commit messages.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Commits => "commits",
            Workload::Imports => "imports",
        }
    }

    /// Parses a name given by `name`.
    pub fn parse(text: &str) -> Option<Workload> {
        [Workload::Commits, Workload::Imports].into_iter().find(|w| w.name() == text)
    }

    /// The commit message of snapshot `snapshot` written by this workload.
    pub fn message(self, snapshot: SnapshotId) -> String {
        format!("crash {} {snapshot}", self.name())
    }

    /// The workload that wrote snapshot `snapshot`, from its commit message;
    /// `None` when the message is not exactly one `message` produces.
    pub fn of_message(message: &str, snapshot: SnapshotId) -> Option<Workload> {
        [Workload::Commits, Workload::Imports].into_iter().find(|w| w.message(snapshot) == message)
    }

    /// Nodes snapshot `snapshot` creates.
    pub fn node_count(self, snapshot: SnapshotId) -> usize {
        match self {
            Workload::Commits => COMMIT_NODES,
            Workload::Imports => {
                let span = IMPORT_MAX_NODES - IMPORT_MIN_NODES + 1;
                (IMPORT_MIN_NODES + mix(snapshot, 0) % span) as usize
            }
        }
    }

    /// Edges snapshot `snapshot` creates: one per node but the head, plus
    /// the `follows` edge from the previous snapshot's head.
    pub fn edge_count(self, snapshot: SnapshotId) -> usize {
        self.node_count(snapshot) - 1 + usize::from(snapshot > 1)
    }

    /// Key of node `index` of snapshot `snapshot`.
    pub fn node_key(self, snapshot: SnapshotId, index: usize) -> NodeKey {
        let (type_name, prefix) = match self {
            Workload::Commits => ("step", 'c'),
            Workload::Imports => ("record", 'i'),
        };
        NodeKey::new(type_name, &format!("{prefix}{snapshot}-{index}"), 1).expect("workload keys are valid")
    }

    /// Content properties of node `index` of snapshot `snapshot`.
    pub fn node_props(self, snapshot: SnapshotId, index: usize) -> Props {
        let mut payload = String::with_capacity(96);
        for round in 0..6 {
            let _ = write!(payload, "{:016x}", mix(snapshot, ((index as u64) << 8) | round));
        }
        Props::from([
            ("snapshot".to_owned(), Value::Int(snapshot as i64)),
            ("index".to_owned(), Value::Int(index as i64)),
            ("payload".to_owned(), Value::String(payload)),
        ])
    }

    /// The node of the same snapshot with an edge into node `index`.
    pub fn parent(self, index: usize) -> Option<usize> {
        match (self, index) {
            (_, 0) => None,
            (Workload::Commits, j) => Some(j - 1),
            (Workload::Imports, j) => Some((j - 1) / 2),
        }
    }

    /// Label of the edges inside one snapshot.
    pub fn edge_label(self) -> &'static str {
        match self {
            Workload::Commits => "next",
            Workload::Imports => "feeds",
        }
    }

    /// Properties of the edge into node `index` of snapshot `snapshot`.
    pub fn edge_props(snapshot: SnapshotId, index: usize) -> Props {
        Props::from([
            ("snapshot".to_owned(), Value::Int(snapshot as i64)),
            ("index".to_owned(), Value::Int(index as i64)),
        ])
    }
}

/// The head node of the latest snapshot `read` sees, `None` in an empty
/// database; an error when that snapshot was not written by a workload.
pub fn head_of(read: &ReadTx) -> Result<Option<NodeKey>, WorkloadError> {
    let latest = read.latest_snapshot();
    if latest == 0 {
        return Ok(None);
    }
    let log = read.snapshots(Some(1))?;
    let message = log.first().and_then(|s| s.message.clone()).unwrap_or_default();
    let workload = Workload::of_message(&message, latest)
        .ok_or_else(|| format!("snapshot {latest} was not written by a crash workload (message {message:?})"))?;
    Ok(Some(workload.node_key(latest, 0)))
}

/// Commits one snapshot of the `commits` workload after the one whose head is
/// `previous_head`; returns its id.
pub fn commit_once(db: &Database, previous_head: Option<&NodeKey>) -> Result<SnapshotId, WorkloadError> {
    let workload = Workload::Commits;
    let mut tx = db.begin_write()?;
    let snapshot = tx.snapshot();
    tx.message(workload.message(snapshot));
    for index in 0..workload.node_count(snapshot) {
        let key =
            tx.create_node("step", &workload.node_key(snapshot, index).name, workload.node_props(snapshot, index))?;
        let from = match workload.parent(index) {
            Some(parent) => Some((workload.node_key(snapshot, parent), workload.edge_label())),
            None => previous_head.map(|head| (head.clone(), FOLLOWS)),
        };
        if let Some((from, label)) = from {
            tx.link(&from.to_ref(), &key.to_ref(), label, Workload::edge_props(snapshot, index))?;
        }
    }
    let committed = tx.commit()?;
    if committed != snapshot {
        return Err(format!("commit returned snapshot {committed}, expected {snapshot}").into());
    }
    Ok(committed)
}

/// The JSON Lines batch of the `imports` workload for snapshot `snapshot`:
/// each node line followed by the edge line into it.
pub fn import_lines(snapshot: SnapshotId, previous_head: Option<&NodeKey>) -> String {
    let workload = Workload::Imports;
    let mut text = String::new();
    for index in 0..workload.node_count(snapshot) {
        let key = workload.node_key(snapshot, index);
        let node = serde_json::json!({"node": {
            "type": key.type_name,
            "name": key.name,
            "version": key.version,
            "props": lineagedb_engine::props_to_json(&workload.node_props(snapshot, index)),
        }});
        let _ = writeln!(text, "{node}");
        let from = match workload.parent(index) {
            Some(parent) => Some((workload.node_key(snapshot, parent), workload.edge_label())),
            None => previous_head.map(|head| (head.clone(), FOLLOWS)),
        };
        if let Some((from, label)) = from {
            let edge = serde_json::json!({"edge": {
                "from": from.to_string(),
                "to": key.to_string(),
                "label": label,
                "props": lineagedb_engine::props_to_json(&Workload::edge_props(snapshot, index)),
            }});
            let _ = writeln!(text, "{edge}");
        }
    }
    text
}

/// Imports one snapshot of the `imports` workload after the one whose head
/// is `previous_head`; returns its id.
pub fn import_once(db: &Database, previous_head: Option<&NodeKey>) -> Result<SnapshotId, WorkloadError> {
    // One writer at a time: the import's snapshot is the next one.
    let snapshot = db.begin_read()?.latest_snapshot() + 1;
    let text = import_lines(snapshot, previous_head);
    let options = ImportOptions { message: Some(Workload::Imports.message(snapshot)), ..ImportOptions::default() };
    let mut importer = Importer::new(db, options)?;
    importer.read(&format!("crash-{snapshot}.jsonl"), text.as_bytes(), &mut |_| {})?;
    let report = importer.commit()?;
    match report.snapshot {
        Some(committed) if committed == snapshot => Ok(committed),
        other => Err(format!("import committed {other:?}, expected snapshot {snapshot}").into()),
    }
}

/// A deterministic 64-bit hash of two numbers (splitmix64 finaliser).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
