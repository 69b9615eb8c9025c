//! The only module that touches redb. This file opens the file (`Store`) and
//! holds the transactions' table handles (`ReadTables`, `OpenTables`,
//! `WriteTables`); the concerns around them have a file each: `tables` (table
//! definitions, counters, record encoding), `checks` (file checks),
//! `upgrade` (format upgrades), `store_read` (`StoreRead`, the typed reads of
//! read and write transactions alike), `write` (the typed writes and their
//! buffers), `tamper` (test-only rewrites). Everything above it speaks in node
//! ids, records and snapshots. `docs/design.md` documents every table.

pub mod blocks;
mod checks;
pub mod codec;
mod fresh;
pub mod node_blocks;
mod store_read;
mod tables;
#[cfg(any(test, feature = "testing"))]
mod tamper;
mod upgrade;
mod write;

use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, TableDefinition};

use crate::error::{Error, Result};
use crate::value::Props;
use blocks::{AdjBlockBuf, BlockBytes, adj_block_of};
use checks::*;
use codec::*;
use fresh::Fresh;
pub use fresh::StoredEntity;
use rustc_hash::FxHashMap;
use store_read::*;
pub use store_read::{StoreRead, WriteView, decode_prefix};
pub use tables::*;
#[cfg(any(test, feature = "testing"))]
pub use tamper::*;
use upgrade::upgrade;
use write::*;

/// Written into the `meta` table; a redb file without it is not ours.
pub const MAGIC: &[u8] = b"lineagedb";
/// The on-disk format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 5;
/// The oldest format this build reads. Formats 1 and 2 (development builds:
/// one redb entry per node and per edge end) cannot be read; formats 3 (one
/// entry per node in `nodes` and per version in `keys`) and 4 (adjacency
/// blocks of fixed 40-byte entries) are upgraded in place when opened
/// read-write.
pub const OLDEST_FORMAT: u32 = 3;

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Storage(e.to_string())
            }
        }
    )*};
}
storage_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError,
    postcard::Error
);

/// The redb database behind a LineageDB handle: read-write, or read-only
/// (which never writes to the file and shares it with other readers).
#[derive(Debug)]
pub struct Store {
    db: Backend,
    /// Buffered bytes at which a write transaction writes its buffers to
    /// redb before commit (`FLUSH_BYTES`; lowered by tests).
    write_buffer: usize,
}

enum Backend {
    ReadWrite(redb::Database),
    ReadOnly(redb::ReadOnlyDatabase, PathBuf),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::ReadWrite(_) => f.write_str("ReadWrite"),
            Backend::ReadOnly(_, path) => write!(f, "ReadOnly({})", path.display()),
        }
    }
}

impl Store {
    /// Opens `path`, creating a new database when the file is missing or empty.
    /// A file that is not a LineageDB database is refused before redb sees it
    /// for writing, so it is never overwritten.
    pub fn open_or_create(path: &Path, cache_bytes: usize) -> Result<Store> {
        let existing = match std::fs::metadata(path) {
            Ok(m) => m.len() > 0,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::Io { path: path.to_owned(), source: e }),
        };
        if existing {
            if let Err(error) = check_header(path) {
                // A file another process is creating has no header yet: it is
                // busy, not foreign.
                return Err(match precheck_read_only(path) {
                    Err(locked @ Error::Locked { .. }) => locked,
                    _ => error,
                });
            }
            precheck_read_only(path)?;
        }
        let mut builder = redb::Builder::new();
        builder.set_cache_size(cache_bytes);
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if existing { builder.open(path) } else { builder.create(path) }
        }));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(Error::Locked {
                    path: path.to_owned(),
                    waited: std::time::Duration::ZERO,
                    holders: Vec::new(),
                });
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))) => {
                return Err(Error::Io { path: path.to_owned(), source: e });
            }
            Ok(Err(e)) => return Err(not_ours(path, &format!("the storage layer refused it: {e}"))),
            Err(_) => return Err(not_ours(path, "the file is truncated or damaged")),
        };
        let mut store = Store { db: Backend::ReadWrite(db), write_buffer: FLUSH_BYTES };
        if store.init_or_check(path, existing)? {
            // The upgrade rewrote most of the file into new pages: give the
            // old ones back (redb compacts in transactions, crash-safe).
            if let Backend::ReadWrite(db) = &mut store.db {
                db.compact()
                    .map_err(|e| Error::Storage(format!("compacting {} after the upgrade: {e}", path.display())))?;
            }
        }
        Ok(store)
    }

    /// Opens an existing database read-only: nothing is written to the file,
    /// and other processes may read it at the same time. A file that needs
    /// crash recovery cannot be opened this way (`Error::NeedsRecovery`):
    /// open it read-write once.
    pub fn open_read_only(path: &Path, cache_bytes: usize) -> Result<Store> {
        if let Err(error) = check_header(path) {
            return Err(match precheck_read_only(path) {
                Err(locked @ Error::Locked { .. }) => locked,
                _ => error,
            });
        }
        let mut builder = redb::Builder::new();
        builder.set_cache_size(cache_bytes);
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.open_read_only(path)));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(Error::Locked {
                    path: path.to_owned(),
                    waited: std::time::Duration::ZERO,
                    holders: Vec::new(),
                });
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))) => {
                return Err(Error::Io { path: path.to_owned(), source: e });
            }
            Ok(Err(redb::DatabaseError::RepairAborted)) => {
                return Err(Error::NeedsRecovery { path: path.to_owned() });
            }
            Ok(Err(e)) => return Err(not_ours(path, &format!("the storage layer refused it: {e}"))),
            Err(_) => return Err(not_ours(path, "the file is truncated or damaged")),
        };
        match check_marker(&db, path)? {
            None => return Err(not_ours(path, "a redb file without LineageDB's marker")),
            Some(found) if found < FORMAT_VERSION => {
                return Err(Error::NeedsUpgrade { path: path.to_owned(), found, current: FORMAT_VERSION });
            }
            Some(_) => {}
        }
        Ok(Store { db: Backend::ReadOnly(db, path.to_owned()), write_buffer: FLUSH_BYTES })
    }

    /// A database that lives in memory only, for tests and scratch work.
    pub fn in_memory() -> Result<Store> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::Storage(e.to_string()))?;
        let store = Store { db: Backend::ReadWrite(db), write_buffer: FLUSH_BYTES };
        store.init_or_check(Path::new(":memory:"), false)?;
        Ok(store)
    }

    /// Creates the tables of a new file, or checks an existing one and
    /// upgrades an older format; true if it upgraded.
    fn init_or_check(&self, path: &Path, existing: bool) -> Result<bool> {
        let Backend::ReadWrite(db) = &self.db else { return Ok(false) };
        match check_marker(db, path)? {
            Some(found) if found < FORMAT_VERSION => return upgrade(db, found).map(|()| true),
            Some(_) => return Ok(false),
            None => {}
        }
        if existing && db.begin_read()?.list_tables()?.next().is_some() {
            return Err(not_ours(path, "a redb file without LineageDB's marker"));
        }
        let tx = db.begin_write()?;
        {
            let mut meta = tx.open_table(META)?;
            meta.insert("magic", MAGIC)?;
            meta.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
            // Create every table up front so readers never meet a missing one.
            tx.open_table(TYPES)?;
            tx.open_table(LABELS)?;
            tx.open_table(ENTITIES)?;
            tx.open_table(NODE_BLOCKS)?;
            tx.open_table(ANNOTATIONS)?;
            tx.open_table(OUT_BLOCKS)?;
            tx.open_table(IN_BLOCKS)?;
            tx.open_table(EDGE_PROPS)?;
            tx.open_table(EXT_LABELS)?;
            tx.open_table(ALIASES)?;
            tx.open_table(SNAPSHOTS)?;
            tx.open_table(SNAPSHOT_TIMES)?;
            tx.open_table(AUDIT)?;
        }
        tx.commit()?;
        Ok(false)
    }

    /// A consistent read view of the latest committed state.
    pub fn begin_read(&self) -> Result<ReadTables> {
        let tx = match &self.db {
            Backend::ReadWrite(db) => db.begin_read()?,
            Backend::ReadOnly(db, _) => db.begin_read()?,
        };
        Ok(ReadTables::new(tx))
    }

    /// Test-only: makes write transactions write their buffers to redb
    /// whenever they hold more than `bytes`, to exercise mid-transaction flushes.
    #[cfg(any(test, feature = "testing"))]
    pub fn set_write_buffer(&mut self, bytes: usize) {
        self.write_buffer = bytes;
    }

    /// Starts the single write transaction; blocks while another is open.
    pub fn begin_write(&self) -> Result<WriteTables> {
        match &self.db {
            Backend::ReadWrite(db) => {
                let mut tables = WriteTables::new(db.begin_write()?)?;
                tables.flush_bytes = self.write_buffer;
                Ok(tables)
            }
            Backend::ReadOnly(_, path) => Err(Error::ReadOnly { path: path.clone() }),
        }
    }
}

/// Declares the lazily opened tables of a read transaction and the table
/// accessors shared by read and write transactions.
macro_rules! table_accessors {
    ($($name:ident: $def:ident => $k:ty, $v:ty;)*) => {
        /// The tables of a read transaction, each opened on first use (a
        /// short query touches four or five of them).
        pub struct ReadTables {
            tx: redb::ReadTransaction,
            $($name: std::sync::OnceLock<redb::ReadOnlyTable<$k, $v>>,)*
        }

        impl ReadTables {
            fn new(tx: redb::ReadTransaction) -> ReadTables {
                ReadTables { tx, $($name: std::sync::OnceLock::new(),)* }
            }

            $(
                fn $name(&self) -> Result<&redb::ReadOnlyTable<$k, $v>> {
                    if let Some(table) = self.$name.get() {
                        return Ok(table);
                    }
                    let table = self.tx.open_table($def)?;
                    Ok(self.$name.get_or_init(|| table))
                }
            )*
        }

        impl<'t> WriteView<'_, 't> {
            $(
                fn $name(&self) -> Result<&redb::Table<'t, $k, $v>> {
                    Ok(&self.tables.$name)
                }
            )*
        }
    };
}

table_accessors! {
    meta: META => &'static str, &'static [u8];
    types: TYPES => &'static str, u32;
    labels: LABELS => &'static str, u32;
    entities: ENTITIES => &'static [u8], &'static [u8];
    node_blocks: NODE_BLOCKS => u64, &'static [u8];
    annotations: ANNOTATIONS => &'static [u8; 16], &'static [u8];
    out_blocks: OUT_BLOCKS => u64, &'static [u8];
    in_blocks: IN_BLOCKS => u64, &'static [u8];
    edge_props: EDGE_PROPS => &'static AdjKey, &'static [u8];
    ext_labels: EXT_LABELS => &'static [u8], u64;
    aliases: ALIASES => &'static [u8], &'static [u8];
    snapshots: SNAPSHOTS => u64, &'static [u8];
    snapshot_times: SNAPSHOT_TIMES => i64, u64;
    audit: AUDIT => u64, &'static [u8];
}

impl std::fmt::Debug for ReadTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadTables")
    }
}

/// All tables of the write transaction, opened once.
pub struct OpenTables<'t> {
    meta: redb::Table<'t, &'static str, &'static [u8]>,
    types: redb::Table<'t, &'static str, u32>,
    labels: redb::Table<'t, &'static str, u32>,
    entities: redb::Table<'t, &'static [u8], &'static [u8]>,
    node_blocks: redb::Table<'t, u64, &'static [u8]>,
    annotations: redb::Table<'t, &'static [u8; 16], &'static [u8]>,
    out_blocks: redb::Table<'t, u64, &'static [u8]>,
    in_blocks: redb::Table<'t, u64, &'static [u8]>,
    edge_props: redb::Table<'t, &'static AdjKey, &'static [u8]>,
    ext_labels: redb::Table<'t, &'static [u8], u64>,
    aliases: redb::Table<'t, &'static [u8], &'static [u8]>,
    snapshots: redb::Table<'t, u64, &'static [u8]>,
    snapshot_times: redb::Table<'t, i64, u64>,
    audit: redb::Table<'t, u64, &'static [u8]>,
}

impl<'t> OpenTables<'t> {
    fn open(tx: &'t redb::WriteTransaction) -> Result<OpenTables<'t>> {
        Ok(OpenTables {
            meta: tx.open_table(META)?,
            types: tx.open_table(TYPES)?,
            labels: tx.open_table(LABELS)?,
            entities: tx.open_table(ENTITIES)?,
            node_blocks: tx.open_table(NODE_BLOCKS)?,
            annotations: tx.open_table(ANNOTATIONS)?,
            out_blocks: tx.open_table(OUT_BLOCKS)?,
            in_blocks: tx.open_table(IN_BLOCKS)?,
            edge_props: tx.open_table(EDGE_PROPS)?,
            ext_labels: tx.open_table(EXT_LABELS)?,
            aliases: tx.open_table(ALIASES)?,
            snapshots: tx.open_table(SNAPSHOTS)?,
            snapshot_times: tx.open_table(SNAPSHOT_TIMES)?,
            audit: tx.open_table(AUDIT)?,
        })
    }
}

self_cell::self_cell!(
    struct TxCell {
        owner: redb::WriteTransaction,
        #[not_covariant]
        dependent: OpenTablesResult,
    }
);

type OpenTablesResult<'t> = Result<OpenTables<'t>>;

/// Identifies both adjacency entries of one edge.
#[derive(Clone, Copy, Debug)]
pub struct EdgeId {
    pub from: NodeId,
    pub from_type: u32,
    pub to: NodeId,
    pub to_type: u32,
    pub label: u32,
    pub created_in: SnapshotId,
}

/// The write transaction with its tables held open for its whole life.
pub struct WriteTables {
    cell: TxCell,
    dirty: Dirty,
    /// New nodes not yet written (see `fresh.rs`).
    fresh: Fresh,
    /// The `entities` table was empty when the transaction began and nothing
    /// has been written to it since: no entity has a stored version.
    no_stored_keys: bool,
    /// The batch digest's hashing of new nodes and buffered edges, fed as
    /// they are created (`crate::prehash`).
    prehash: crate::prehash::Prehasher,
    /// `FLUSH_BYTES`, lowered by tests to exercise mid-transaction flushes.
    flush_bytes: usize,
}

impl std::fmt::Debug for WriteTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTables")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: NodeId, to: NodeId, label: u32) -> EdgeId {
        EdgeId { from, from_type: 1, to, to_type: 2, label, created_in: 1 }
    }

    /// (neighbour, label, deleted_in)
    type Neighbour = (NodeId, u32, SnapshotId);

    fn neighbours(t: &dyn StoreRead, node: NodeId, dir: Dir) -> Vec<Neighbour> {
        t.adjacency(node, dir).unwrap().iter().map(|e| (e.neighbor, e.label, e.deleted_in)).collect()
    }

    /// Adjacency blocks written to redb in the middle of a transaction (when
    /// the buffer is full) and changed again afterwards read back exactly,
    /// inside the transaction and after the commit.
    #[test]
    fn blocks_flushed_mid_transaction_keep_every_change() {
        let store = Store::in_memory().unwrap();
        let mut w = store.begin_write().unwrap();
        w.flush_bytes = 3 * blocks::ENTRY;
        let mut expected: std::collections::HashMap<(NodeId, Dir), Vec<Neighbour>> = std::collections::HashMap::new();
        // Scattered singles, a sorted batch, and a tombstone of an edge already flushed.
        for (from, to) in [(40, 3), (1, 2), (17, 90), (1, 70), (33, 2)] {
            w.put_edge(&edge(from, to, 1), &Props::new()).unwrap();
        }
        let mut batch: Vec<(EdgeId, Props)> = (0..50).map(|i| (edge(100 + i % 7, 200 + i, 2), Props::new())).collect();
        w.put_edges_sorted(&mut batch, false).unwrap();
        w.delete_edge(&edge(1, 2, 1), 5).unwrap();
        let mut all: Vec<(NodeId, NodeId, u32, SnapshotId)> =
            vec![(40, 3, 1, LIVE), (1, 2, 1, 5), (17, 90, 1, LIVE), (1, 70, 1, LIVE), (33, 2, 1, LIVE)];
        all.extend((0..50).map(|i| (100 + i % 7, 200 + i, 2, LIVE)));
        for (from, to, label, deleted) in all {
            expected.entry((from, Dir::Out)).or_default().push((to, label, deleted));
            expected.entry((to, Dir::In)).or_default().push((from, label, deleted));
        }
        for list in expected.values_mut() {
            list.sort();
        }
        let check = |t: &dyn StoreRead| {
            for ((node, dir), want) in &expected {
                assert_eq!(&neighbours(t, *node, *dir), want, "node {node} {dir:?}");
            }
            let stored: usize = [Dir::Out, Dir::In].iter().map(|d| t.all_adjacency(*d, false).unwrap().len()).sum();
            assert_eq!(stored, 2 * 55);
        };
        w.read(|t| {
            check(t);
            Ok(())
        })
        .unwrap();
        w.commit().unwrap();
        check(&store.begin_read().unwrap());
    }

    fn record(type_id: u32, name: &str, version: u64) -> NodeRecord {
        NodeRecord {
            type_id,
            version,
            created_in: 1,
            deleted_in: None,
            name: name.to_owned(),
            label: None,
            created_at: 0,
            created_by: "t".into(),
            props: Props::new(),
        }
    }

    /// Every key-dictionary and node read the engine makes, as one value.
    fn node_reads(t: &dyn StoreRead, n: u64) -> Vec<String> {
        let mut out =
            vec![format!("{:?}", t.nodes_of_type(1, "").unwrap()), format!("{:?}", t.nodes_of_type(1, "e1").unwrap())];
        for e in 0..7 {
            let name = format!("e{e}");
            out.push(format!("{name}: {:?} max {}", t.versions(1, &name).unwrap(), t.max_version(1, &name).unwrap()));
            out.push(format!("{:?}", t.node_id(1, &name, 2).unwrap()));
        }
        for id in 1..=n + 1 {
            out.push(format!("{:?} {:?}", t.node(id).unwrap(), t.node_header(id).unwrap().map(|h| h.version)));
        }
        out
    }

    #[test]
    fn new_nodes_buffered_or_flushed_mid_transaction_read_the_same_as_committed() {
        let store = Store::in_memory().unwrap();
        // A stored generation first, then a transaction that flushes its
        // buffered nodes every few records.
        let mut w = store.begin_write().unwrap();
        for id in 1..=5u64 {
            w.put_node(id, &record(1, &format!("e{}", id - 1), 1), true).unwrap();
        }
        w.commit().unwrap();
        let mut w = store.begin_write().unwrap();
        w.flush_bytes = 300;
        let mut versions = [1u64, 1, 1, 1, 1, 0, 0];
        for id in 6..=40u64 {
            let e = (id % 5 + id / 9) as usize % 7;
            versions[e] += 1;
            w.put_node(id, &record(1, &format!("e{e}"), versions[e]), true).unwrap();
        }
        // A buffered node rewritten (as a delete does).
        let mut deleted = w.read(|t| t.node(40)).unwrap().unwrap();
        deleted.deleted_in = Some(2);
        w.put_node(40, &deleted, false).unwrap();
        let during = w.read(|t| Ok(node_reads(t, 40))).unwrap();
        w.commit().unwrap();
        assert_eq!(during, node_reads(&store.begin_read().unwrap(), 40));
        assert!(during.iter().any(|line| line.contains("deleted_in: Some(2)")));
    }
}
