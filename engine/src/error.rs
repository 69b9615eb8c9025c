//! Typed errors of the engine. Messages are lowercase, name the subject and,
//! where one helps, end with a hint.

use std::path::PathBuf;

/// A malformed node key or reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The type is not an identifier.
    #[error("invalid node type `{text}`: a type is an identifier such as `dataset` or `model`")]
    BadType {
        /// The offending text.
        text: String,
    },
    /// The name is empty.
    #[error("a node name cannot be empty")]
    EmptyName,
    /// The name contains a NUL character.
    #[error("node name {text:?} contains a NUL character, which names cannot hold")]
    NulInName {
        /// The offending name.
        text: String,
    },
    /// The version is not a positive integer.
    #[error("invalid version `{text}`: versions are positive integers 1, 2, 3, ...")]
    BadVersion {
        /// The offending text.
        text: String,
    },
    /// The reference text does not have the `type:name@version` shape.
    #[error("invalid reference `{text}`: {reason}")]
    Syntax {
        /// The whole text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Everything an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The file could not be read or written.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a LineageDB database.
    #[error("{path} is not a LineageDB database ({reason}); it was left untouched")]
    NotLineageDb {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The file was written by a newer release.
    #[error("{path} uses format version {found}, this build reads up to {supported}: upgrade lineagedb to open it")]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// The format version in the file.
        found: u32,
        /// The newest format this build understands.
        supported: u32,
    },
    /// The file was written by an older development build whose format this build cannot read.
    #[error(
        "{path} uses format version {found}, written by a development build before format {oldest}: this build cannot read it; re-create it (for example by re-running the import that built it)"
    )]
    OlderFormat {
        /// The file.
        path: PathBuf,
        /// The format version in the file.
        found: u32,
        /// The oldest format this build reads.
        oldest: u32,
    },
    /// A write on a database opened read-only.
    #[error("{path} is open read-only: open it without read-only to change it")]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// A read-only open of a file that needs crash recovery first.
    #[error(
        "{path} was not closed cleanly and needs recovery, which a read-only open cannot do: open it read-write once"
    )]
    NeedsRecovery {
        /// The file.
        path: PathBuf,
    },
    /// A file of an older format, opened read-only: upgrading it writes to it.
    #[error(
        "{path} uses format version {found} and must be upgraded to format {current} before it can be read, which a read-only open cannot do: open it read-write once (`Database::open`; every lineagedb command does so on its own) to upgrade it in place"
    )]
    NeedsUpgrade {
        /// The file.
        path: PathBuf,
        /// The format version in the file.
        found: u32,
        /// The format this build writes.
        current: u32,
    },
    /// A bad line of an archive: nothing of it was imported.
    #[error("{archive}:{line}: {reason}")]
    BadArchive {
        /// The archive's name as given.
        archive: String,
        /// The 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// An archive is imported only into an empty database.
    #[error("this database is not empty: {detail}")]
    NotEmpty {
        /// What it holds.
        detail: String,
    },
    /// The file is damaged (truncated, or edited outside LineageDB).
    #[error("database is damaged: {detail}")]
    Corrupt {
        /// What was found to be wrong.
        detail: String,
    },
    /// The database is held by another process (or another handle in this
    /// one) for longer than the open was allowed to wait
    /// (`DatabaseBuilder::busy_timeout`, 0 by default).
    #[error("{}", locked_message(.path, .waited, .holders))]
    Locked {
        /// The file.
        path: PathBuf,
        /// How long the open waited for it.
        waited: std::time::Duration,
        /// Who holds it, as `pid 1234 (lineagedb ...)`, where that can be found.
        holders: Vec<String>,
    },
    /// An error from the storage layer.
    #[error("storage error: {0}")]
    Storage(String),
    /// A reference names no node.
    #[error("no node {reference}{}", hint_suffix(.hint))]
    NoSuchNode {
        /// The reference as written.
        reference: String,
        /// For example `latest version is 7`.
        hint: Option<String>,
    },
    /// An alias names no version at the snapshot read.
    #[error("no alias `{alias}` on {entity}{}", hint_suffix(.hint))]
    NoSuchAlias {
        /// The entity.
        entity: String,
        /// The alias.
        alias: String,
        /// The aliases that exist, if any.
        hint: Option<String>,
    },
    /// A snapshot id that does not exist.
    #[error("no snapshot {requested}: the latest snapshot is {latest}")]
    NoSuchSnapshot {
        /// The requested id.
        requested: u64,
        /// The newest committed snapshot.
        latest: u64,
    },
    /// No snapshot at or before a time.
    #[error("no snapshot at or before {time}: the first snapshot was taken at {first}")]
    NoSnapshotAtTime {
        /// The requested time, RFC 3339.
        time: String,
        /// The first snapshot's time, or `never` on an empty database.
        first: String,
    },
    /// An explicit version that is not the next one.
    #[error("cannot create {entity}@{requested}: the next version of {entity} is {next}")]
    VersionConflict {
        /// The entity.
        entity: String,
        /// The version asked for.
        requested: u64,
        /// The version that would be assigned.
        next: u64,
    },
    /// An external label already names another version.
    #[error("label {label:?} already names {entity}@{version}")]
    LabelTaken {
        /// The entity.
        entity: String,
        /// The label.
        label: String,
        /// The version holding it.
        version: u64,
    },
    /// The edge would close a cycle.
    #[error("edge {from} -> {to} would close a cycle: {}; lineage must stay a DAG", .cycle.join(" -> "))]
    Cycle {
        /// Edge source.
        from: String,
        /// Edge target.
        to: String,
        /// The cycle, starting and ending at the same key.
        cycle: Vec<String>,
    },
    /// A version that exists already with different content.
    #[error("{key} already exists with different content: node content is immutable, create a new version instead")]
    ExistsWithOtherContent {
        /// The node.
        key: String,
    },
    /// The same live edge exists already.
    #[error("edge {from} -> {to} labelled `{label}` already exists")]
    DuplicateEdge {
        /// Edge source.
        from: String,
        /// Edge target.
        to: String,
        /// Edge label.
        label: String,
    },
    /// An edge to unlink does not exist.
    #[error("no edge {from} -> {to}{}", label_suffix(.label))]
    NoSuchEdge {
        /// Edge source.
        from: String,
        /// Edge target.
        to: String,
        /// Edge label, when one was given.
        label: Option<String>,
    },
    /// A node with live edges cannot be deleted without DETACH.
    #[error("cannot delete {key}: it has {count} live edge(s); unlink them first or use DETACH DELETE")]
    HasLiveEdges {
        /// The node.
        key: String,
        /// How many live edges.
        count: usize,
    },
    /// The node was deleted.
    #[error("{key} was deleted at snapshot {snapshot}")]
    Deleted {
        /// The node.
        key: String,
        /// The snapshot of the deletion.
        snapshot: u64,
    },
    /// An alias that is not an identifier, or is `latest`.
    #[error("invalid alias `{alias}`: an alias is an identifier such as `production`, and `latest` is reserved")]
    InvalidAlias {
        /// The alias as given.
        alias: String,
    },
    /// An edge label that is empty or not an identifier-like word.
    #[error("invalid edge label {label:?}: a label is a non-empty word such as `input`")]
    InvalidLabel {
        /// The label as given.
        label: String,
    },
    /// An API call made out of order.
    #[error("{what}")]
    Misuse {
        /// What was done wrong.
        what: &'static str,
    },
    /// A content property cannot be changed.
    #[error("cannot change `{property}` on {key}: it is part of the node's immutable content; create a new version instead (only annotations such as {} can change)", crate::ANNOTATION_KEYS.join(", "))]
    ContentImmutable {
        /// The node.
        key: String,
        /// The property.
        property: String,
    },
    /// A property name reserved for the engine.
    #[error("property `{property}` is recorded by the engine and cannot be set")]
    ReservedProperty {
        /// The property.
        property: String,
    },
    /// An earlier operation of this transaction failed, so it cannot commit.
    #[error("transaction aborted, nothing was committed: {first}")]
    Aborted {
        /// The first failure.
        first: String,
    },
    /// A commit time earlier than the last snapshot.
    #[error("commit time {requested} is not after the last snapshot's time {last}")]
    TimeGoesBackwards {
        /// The requested time.
        requested: String,
        /// The last snapshot's time.
        last: String,
    },
}

fn locked_message(path: &std::path::Path, waited: &std::time::Duration, holders: &[String]) -> String {
    let held = match holders {
        [] => "another process".to_owned(),
        [one] => one.clone(),
        many => format!("{} processes: {}", many.len(), many.join(", ")),
    };
    let waited = if waited.is_zero() {
        "without waiting".to_owned()
    } else {
        format!("after waiting {:.1} s", waited.as_secs_f64())
    };
    format!(
        "{} is busy: it is held by {held}, and it was still held {waited}; \
         wait longer (`--wait SECONDS` or LINEAGEDB_WAIT on the command line, \
         DatabaseBuilder::busy_timeout in the API), or finish the work that holds it",
        path.display()
    )
}

fn hint_suffix(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!(": {h}"),
        None => String::new(),
    }
}

fn label_suffix(label: &Option<String>) -> String {
    match label {
        Some(l) => format!(" labelled `{l}`"),
        None => String::new(),
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
