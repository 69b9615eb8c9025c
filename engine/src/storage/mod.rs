//! The only module that touches redb. It owns the table definitions, opens
//! and checks the file, and offers typed reads (`StoreRead`, implemented for
//! read transactions and write transactions alike) and typed writes
//! (`WriteTables`). Everything above it speaks in node ids, records and
//! snapshots. `docs/design.md` documents every table.

pub mod blocks;
pub mod codec;
mod fresh;
pub mod node_blocks;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{Error, Result};
use crate::value::Props;
use blocks::{AdjBlockBuf, BlockBytes, adj_block_of};
use codec::*;
use fresh::Fresh;
pub use fresh::StoredEntity;
use rustc_hash::FxHashMap;

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

pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const TYPES: TableDefinition<&str, u32> = TableDefinition::new("types");
pub const LABELS: TableDefinition<&str, u32> = TableDefinition::new("labels");
/// Entity prefix -> its (version, node id) pairs (`node_blocks.rs`).
pub const ENTITIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entities");
/// Node id / 64 -> the records of those 64 ids (`node_blocks.rs`).
pub const NODE_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("node_blocks");
/// Format 3's key dictionary and node records, read only to upgrade a file.
const KEYS_V3: TableDefinition<&[u8], u64> = TableDefinition::new("keys");
const NODES_V3: TableDefinition<u64, &[u8]> = TableDefinition::new("nodes");
pub const ANNOTATIONS: TableDefinition<&[u8; 16], &[u8]> = TableDefinition::new("annotations");
/// Outgoing adjacency in blocks of 16 source ids (`blocks` module).
pub const OUT_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("out_blocks");
/// Incoming adjacency in blocks of 16 target ids (`blocks` module).
pub const IN_BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("in_blocks");
pub const EDGE_PROPS: TableDefinition<&AdjKey, &[u8]> = TableDefinition::new("edge_props");
pub const EXT_LABELS: TableDefinition<&[u8], u64> = TableDefinition::new("ext_labels");
pub const ALIASES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("aliases");
pub const SNAPSHOTS: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshots");
pub const SNAPSHOT_TIMES: TableDefinition<i64, u64> = TableDefinition::new("snapshot_times");
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Counters kept in `meta`, read at the start of every write transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub next_node: NodeId,
    pub last_snapshot: SnapshotId,
    pub last_time: i64,
    pub audit_seq: u64,
    pub audit_tip: [u8; 32],
    /// Live edges whose source id is larger than their target id. While it
    /// is zero, every live edge goes from an older node to a newer one, so an
    /// edge from older to newer cannot close a cycle.
    pub backward_edges: u64,
    /// Bumped whenever a node type or an edge label is added, so readers
    /// can reuse a cached dictionary while it is unchanged.
    pub dict_version: u64,
}

pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(postcard::to_allocvec(value)?)
}

pub fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Corrupt { detail: format!("cannot decode {what}: {e}") })
}

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

/// redb's own magic number: the first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

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
            check_header(path)?;
            precheck_read_only(path)?;
        }
        let mut builder = redb::Builder::new();
        builder.set_cache_size(cache_bytes);
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if existing { builder.open(path) } else { builder.create(path) }
        }));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => return Err(Error::Locked { path: path.to_owned() }),
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
        check_header(path)?;
        let mut builder = redb::Builder::new();
        builder.set_cache_size(cache_bytes);
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.open_read_only(path)));
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => return Err(Error::Locked { path: path.to_owned() }),
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

/// Checks LineageDB's marker and format version, and returns the version.
/// `Ok(None)`: the file has no `meta` table yet (a new database).
fn check_marker(db: &impl ReadableDatabase, path: &Path) -> Result<Option<u32>> {
    let read = db.begin_read()?;
    let meta = match read.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let magic = meta.get("magic")?.map(|v| v.value().to_vec());
    if magic.as_deref() != Some(MAGIC) {
        return Err(not_ours(path, "a redb file without LineageDB's marker"));
    }
    let format = meta
        .get("format")?
        .and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes))
        .ok_or_else(|| Error::Corrupt { detail: "format version missing from meta table".into() })?;
    if format > FORMAT_VERSION {
        return Err(Error::NewerFormat { path: path.to_owned(), found: format, supported: FORMAT_VERSION });
    }
    if format < OLDEST_FORMAT {
        return Err(Error::OlderFormat { path: path.to_owned(), found: format, oldest: OLDEST_FORMAT });
    }
    Ok(Some(format))
}

/// Rewrites a format 3 or 4 file as the current format in one transaction
/// (a crash leaves it as it was). From format 3: the records of `nodes` into
/// `node_blocks`, the versions of `keys` into `entities`, the two old tables
/// dropped. From formats 3 and 4: the adjacency blocks stored compactly.
fn upgrade(db: &redb::Database, from: u32) -> Result<()> {
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
fn rewrite_blocks(
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
fn nodes_from_format_3(tx: &redb::WriteTransaction) -> Result<()> {
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

/// Checks an existing file read-only before it is opened for writing, so a
/// file that is refused is never modified. A file that needs crash recovery
/// cannot be opened read-only; it is checked after the normal open repairs it.
fn precheck_read_only(path: &Path) -> Result<()> {
    let opened = std::panic::catch_unwind(|| redb::Builder::new().open_read_only(path));
    match opened {
        Ok(Ok(db)) => check_marker(&db, path).map(|_| ()),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => Err(Error::Locked { path: path.to_owned() }),
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))) => {
            Err(Error::Io { path: path.to_owned(), source: e })
        }
        Ok(Err(redb::DatabaseError::RepairAborted)) => Ok(()),
        Ok(Err(e)) => Err(not_ours(path, &format!("the storage layer refused it: {e}"))),
        Err(_) => Err(not_ours(path, "the file is truncated or damaged")),
    }
}

fn not_ours(path: &Path, reason: &str) -> Error {
    Error::NotLineageDb { path: PathBuf::from(path), reason: reason.to_owned() }
}

/// Refuses a file whose first bytes are not redb's magic number.
fn check_header(path: &Path) -> Result<()> {
    let mut file = File::open(path).map_err(|e| Error::Io { path: path.to_owned(), source: e })?;
    let mut head = [0u8; REDB_MAGIC.len()];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(Error::Io { path: path.to_owned(), source: e }),
        }
    }
    if read < head.len() || head != REDB_MAGIC {
        return Err(not_ours(path, "its header is not a redb database header"));
    }
    Ok(())
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

/// Typed lookups shared by read and write transactions.
pub trait StoreRead {
    /// The counters in `meta`.
    fn counters(&self) -> Result<Counters>;
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
    fn records_of(&self, ids: &[NodeId], each: &mut dyn FnMut(usize, Option<&[u8]>) -> Result<()>) -> Result<()>;
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

        fn records_of(&self, ids: &[NodeId], each: &mut dyn FnMut(usize, Option<&[u8]>) -> Result<()>) -> Result<()> {
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
fn block_table(dir: Dir) -> &'static str {
    match dir {
        Dir::Out => "out_blocks",
        Dir::In => "in_blocks",
    }
}

/// A stored adjacency block that does not decode, in words.
fn block_damage(dir: Dir, block: u64, problem: &str) -> String {
    format!("adjacency block {block} of {} is damaged: {problem}", block_table(dir))
}

/// A stored adjacency block that does not decode, as an error naming it.
fn damaged_block(dir: Dir, block: u64, problem: String) -> Error {
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
    tables: &'a OpenTables<'t>,
    dirty: &'a Dirty,
    fresh: &'a Fresh,
    no_stored_keys: bool,
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

/// Adjacency blocks changed by the write transaction and not yet written to
/// redb: a block changed many times (a bulk load appends to each block edge
/// by edge) is written once, at commit or when the buffered bytes pass
/// `FLUSH_BYTES`.
#[derive(Default)]
struct Dirty {
    out: FxHashMap<u64, AdjBlockBuf>,
    inn: FxHashMap<u64, AdjBlockBuf>,
    /// Bytes buffered, roughly: the blocks' sizes when first buffered plus
    /// everything added since.
    bytes: usize,
}

impl Dirty {
    /// Adds new edges to their buffered blocks (every stored block they go
    /// into must be buffered already): appended, then each block changed is
    /// sorted on its own (a later edge with the key of an earlier entry
    /// replaces it).
    fn add_edges(&mut self, edges: &[(EdgeId, Props)]) {
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
    fn encode(self) -> EncodedBlocks {
        let encode = |map: FxHashMap<u64, AdjBlockBuf>| {
            let mut blocks: Vec<(u64, Vec<u8>)> = map.into_iter().map(|(b, buf)| (b, buf.encode(b))).collect();
            blocks.sort_unstable_by_key(|(b, _)| *b);
            blocks
        };
        (encode(self.out), encode(self.inn))
    }

    fn map(&self, dir: Dir) -> &FxHashMap<u64, AdjBlockBuf> {
        match dir {
            Dir::Out => &self.out,
            Dir::In => &self.inn,
        }
    }

    fn map_mut(&mut self, dir: Dir) -> &mut FxHashMap<u64, AdjBlockBuf> {
        match dir {
            Dir::Out => &mut self.out,
            Dir::In => &mut self.inn,
        }
    }
}

/// Adjacency blocks as stored, in block order: (outgoing, incoming).
type EncodedBlocks = (Vec<(u64, Vec<u8>)>, Vec<(u64, Vec<u8>)>);

/// Buffered block bytes above which a write transaction writes its changed
/// blocks to redb (still uncommitted) and starts buffering afresh.
const FLUSH_BYTES: usize = 512 << 20;

impl WriteTables {
    fn new(tx: redb::WriteTransaction) -> Result<WriteTables> {
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

/// Test-only access for tamper and corruption tests: rewrites raw records.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_audit(path: &Path, seq: u64, edit: impl FnOnce(&mut AuditRecord)) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut audit = tx.open_table(AUDIT)?;
        let record: Option<AuditRecord> = match audit.get(seq)? {
            Some(v) => Some(decode(v.value(), "audit entry")?),
            None => None,
        };
        match record {
            Some(mut r) => {
                edit(&mut r);
                let bytes = encode(&r)?;
                audit.insert(seq, bytes.as_slice())?;
            }
            None => return Err(Error::Corrupt { detail: format!("no audit entry {seq}") }),
        }
    }
    tx.commit()?;
    Ok(())
}

/// Below this many new nodes and edges, a commit does its work on one
/// thread: a helper thread would cost more than it saves.
const PARALLEL_FROM: usize = 4096;

/// Runs `side` on another thread while `main` runs on this one (or, when not
/// `parallel`, one after the other here) and returns both results.
fn alongside<S: Send, M>(parallel: bool, side: impl FnOnce() -> S + Send, main: impl FnOnce() -> M) -> (S, M) {
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
struct Ascending<'a, 't, K: redb::Key + 'static, V: redb::Value + 'static> {
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
fn write_node_blocks(t: &mut OpenTables<'_>, fresh: &Fresh) -> Result<()> {
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
fn write_entities(
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
fn insert_in_gap(cursor: &mut redb::CursorMut<'_, &[u8], &[u8]>, key: &[u8], value: &[u8]) -> Result<bool> {
    match cursor.insert_before(key, value) {
        Ok(()) => Ok(true),
        Err(redb::CursorError::UnorderedKey) => Ok(false),
        Err(e) => Err(Error::Storage(e.to_string())),
    }
}

/// Test-only: rewrites a node record behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_node(path: &Path, id: NodeId, edit: impl FnOnce(&mut crate::value::Props)) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut blocks = tx.open_table(NODE_BLOCKS)?;
        let block = blocks.get(node_blocks::node_block_of(id))?.map(|v| v.value().to_vec());
        let record: Option<NodeRecord> =
            match block.as_deref().map(|b| node_blocks::record(b, id)).transpose()?.flatten() {
                Some(bytes) => Some(decode(bytes, "node record")?),
                None => None,
            };
        let mut record = record.ok_or_else(|| Error::Corrupt { detail: format!("no node {id}") })?;
        edit(&mut record.props);
        let bytes = encode(&record)?;
        let new = node_blocks::with_record(block.as_deref(), id, &bytes)?;
        blocks.insert(node_blocks::node_block_of(id), new.as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Test-only: rewrites the bytes of an adjacency block behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_adjacency_block(path: &Path, outgoing: bool, block: u64, edit: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    tamper_block(path, if outgoing { OUT_BLOCKS } else { IN_BLOCKS }, block, edit)
}

/// Test-only: rewrites the bytes of a node block behind the engine's back.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_node_block(path: &Path, block: u64, edit: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    tamper_block(path, NODE_BLOCKS, block, edit)
}

#[cfg(any(test, feature = "testing"))]
fn tamper_block(
    path: &Path,
    def: TableDefinition<u64, &[u8]>,
    block: u64,
    edit: impl FnOnce(&mut Vec<u8>),
) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(def)?;
        let mut bytes = match table.get(block)? {
            Some(v) => v.value().to_vec(),
            None => return Err(Error::Corrupt { detail: format!("no block {block} in {def}") }),
        };
        edit(&mut bytes);
        table.insert(block, bytes.as_slice())?;
    }
    tx.commit()?;
    Ok(())
}

/// Test-only: removes an audit entry, as an attacker editing the file would.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_remove_audit(path: &Path, seq: u64) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    tx.open_table(AUDIT)?.remove(seq)?;
    tx.commit()?;
    Ok(())
}

/// Test-only: writes a future format version into the file.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn tamper_format(path: &Path, format: u32) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    tx.open_table(META)?.insert("format", format.to_le_bytes().as_slice())?;
    tx.commit()?;
    Ok(())
}

/// Test-only: rewrites a current file as format 4 wrote it (adjacency blocks
/// of fixed 40-byte entries), to test the upgrade.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn downgrade_to_format_4(path: &Path) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    fixed_adjacency(&tx)?;
    tx.open_table(META)?.insert("format", 4u32.to_le_bytes().as_slice())?;
    tx.commit()?;
    Ok(())
}

#[cfg(any(test, feature = "testing"))]
fn fixed_adjacency(tx: &redb::WriteTransaction) -> Result<()> {
    for def in [OUT_BLOCKS, IN_BLOCKS] {
        rewrite_blocks(tx, def, |block, bytes| {
            let buf = AdjBlockBuf::decode(block, bytes).map_err(|p| Error::Corrupt { detail: p })?;
            Ok(buf.as_bytes().to_vec())
        })?;
    }
    Ok(())
}

/// Test-only: rewrites a current file as format 3 wrote it (one `nodes`
/// entry per node, one `keys` entry per version, fixed adjacency entries),
/// to test the upgrade.
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub fn downgrade_to_format_3(path: &Path) -> Result<()> {
    let db = redb::Database::open(path).map_err(|e| Error::Storage(e.to_string()))?;
    let tx = db.begin_write()?;
    fixed_adjacency(&tx)?;
    {
        let mut nodes = tx.open_table(NODES_V3)?;
        for item in tx.open_table(NODE_BLOCKS)?.iter()? {
            let (block, bytes) = item?;
            for (slot, record) in node_blocks::slots(bytes.value())?.into_iter().enumerate() {
                if let Some(record) = record {
                    nodes.insert(block.value() * node_blocks::NODES_PER_BLOCK + slot as u64, record)?;
                }
            }
        }
        let mut keys = tx.open_table(KEYS_V3)?;
        for item in tx.open_table(ENTITIES)?.iter()? {
            let (entity, value) = item?;
            for (version, id) in node_blocks::versions(value.value()) {
                let mut key = entity.value().to_vec();
                key.extend_from_slice(&version.to_be_bytes());
                keys.insert(key.as_slice(), id)?;
            }
        }
        tx.open_table(META)?.insert("format", 3u32.to_le_bytes().as_slice())?;
    }
    tx.delete_table(NODE_BLOCKS)?;
    tx.delete_table(ENTITIES)?;
    tx.commit()?;
    Ok(())
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
