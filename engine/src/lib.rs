//! LineageDB storage engine: an embedded, versioned lineage graph on redb.
//!
//! Nodes are versions of entities (`dataset:transactions@5`), edges say data
//! flowed from one to another, and every commit is a snapshot that any read
//! can go back to. Start with [`Database`]:
//!
//! ```
//! use lineagedb_engine::{Database, Props};
//! let db = Database::in_memory()?;
//! let mut tx = db.begin_write()?;
//! let ds = tx.create_node("dataset", "transactions", Props::new())?;
//! let run = tx.create_node("run", "train_1", Props::new())?;
//! let model = tx.create_node("model", "fraud", Props::new())?;
//! tx.link(&ds.to_ref(), &run.to_ref(), "input", Props::new())?;
//! tx.link(&run.to_ref(), &model.to_ref(), "output", Props::new())?;
//! tx.commit()?;
//! let read = db.begin_read()?;
//! let up = read.ancestors(&"model:fraud@1".parse()?).only_type("dataset").collect()?;
//! assert_eq!(up[0].node.key.to_string(), "dataset:transactions@1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod archive;
mod audit;
mod busy;
mod cache;
mod capture;
mod db;
mod error;
mod import;
mod key;
mod key_cache;
mod model;
mod new_edges;
mod prehash;
mod read;
mod report;
mod resolve;
mod storage;
mod traverse;
mod value;
mod verify;
mod write;

pub use archive::{ARCHIVE_VERSION, ArchiveManifest};
pub use audit::hex;
pub use capture::{
    EXPORT_PRODUCER, GitInfo, HashedOutput, OpenLineageImporter, OpenLineageOptions, PendingInput, PendingRun,
    RUN_EVENT_SCHEMA, RecorderError, ReservedRun, RunOutcome, RunRecorder, RunStatus, openlineage_events, start_run,
    start_run_detached,
};
pub use db::{Database, DatabaseBuilder};
pub use error::{Error, KeyError, Result};
pub use import::{ImportError, ImportOptions, ImportReport, Importer, Rejected};
pub use key::{
    EntityKey, KeyRef, NodeKey, NodeRef, VersionSel, check_name, check_type, is_bare_name, unicode_escape, write_quoted,
};
pub use model::{
    AuditEntry, AuditFilter, Edge, HistoryEvent, HistoryKind, Node, NodeDetail, Path, Reached, Snapshot, Subgraph,
    VerifyReport,
};
pub use read::{ReadTx, Traversal};
pub use report::{AliasSpan, ProducingRun, Report, ReportNode};
pub use storage::FORMAT_VERSION;
pub use storage::codec::{NodeId, SnapshotId};
/// Test-only: rewrite stored records behind the engine's back, for the
/// tamper and corruption tests (feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub use storage::{
    downgrade_to_format_3, downgrade_to_format_4, tamper_adjacency_block, tamper_audit, tamper_format, tamper_node,
    tamper_node_block, tamper_remove_audit,
};
pub use value::{Props, Timestamp, Value, props_from_json, props_to_json};
pub use write::{ANNOTATION_KEYS, ASSERTION_KEYS, Created, NewNode, RESERVED_KEYS, WriteTx, same_content};
