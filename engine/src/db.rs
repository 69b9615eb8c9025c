//! `Database`: the handle embedders hold. It opens the file, hands out read
//! transactions (each a consistent snapshot) and the single write
//! transaction, and owns the warm adjacency cache.

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{AdjCache, DEFAULT_CACHE_BUDGET};
use crate::error::{Error, Result};
use crate::key_cache::{DEFAULT_KEY_CACHE_BUDGET, KeyCache};
use crate::read::ReadTx;
use crate::storage::codec::SnapshotId;
use crate::storage::{Store, StoreRead};
use crate::value::Timestamp;
use crate::write::WriteTx;

/// Name <-> id dictionaries of node types and edge labels.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dict {
    pub(crate) type_names: FxHashMap<u32, String>,
    pub(crate) type_ids: FxHashMap<String, u32>,
    pub(crate) label_names: FxHashMap<u32, String>,
    pub(crate) label_ids: FxHashMap<String, u32>,
}

impl Dict {
    pub(crate) fn load(tables: &dyn StoreRead) -> Result<Dict> {
        let mut dict = Dict::default();
        for (name, id) in tables.type_dictionary()? {
            dict.type_names.insert(id, name.clone());
            dict.type_ids.insert(name, id);
        }
        for (name, id) in tables.label_dictionary()? {
            dict.label_names.insert(id, name.clone());
            dict.label_ids.insert(name, id);
        }
        Ok(dict)
    }

    /// The dictionaries of a transaction whose counters say `version`:
    /// the cached copy when it is that version, else loaded and cached.
    pub(crate) fn shared(inner: &Inner, tables: &dyn StoreRead, version: u64) -> Result<Arc<Dict>> {
        if let Some((cached, dict)) = inner.dict_cache.read().as_ref() {
            if *cached == version {
                return Ok(dict.clone());
            }
        }
        let dict = Arc::new(Dict::load(tables)?);
        let mut cache = inner.dict_cache.write();
        if cache.as_ref().is_none_or(|(cached, _)| *cached < version) {
            *cache = Some((version, dict.clone()));
        }
        Ok(dict)
    }

    pub(crate) fn type_name(&self, id: u32) -> Result<&str> {
        self.type_names
            .get(&id)
            .map(String::as_str)
            .ok_or_else(|| Error::Corrupt { detail: format!("unknown node type id {id}") })
    }

    pub(crate) fn label_name(&self, id: u32) -> Result<&str> {
        self.label_names
            .get(&id)
            .map(String::as_str)
            .ok_or_else(|| Error::Corrupt { detail: format!("unknown edge label id {id}") })
    }
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    /// The dictionaries as of `Counters::dict_version`, shared by readers.
    pub(crate) dict_cache: parking_lot::RwLock<Option<(u64, Arc<Dict>)>>,
    pub(crate) cache: AdjCache,
    pub(crate) keys: KeyCache,
    pub(crate) path: Option<PathBuf>,
    pub(crate) default_author: String,
}

/// An open LineageDB database. Cheap to clone; `Send + Sync`: many threads
/// read while one writes.
#[derive(Clone, Debug)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
}

/// Options for opening a database.
#[derive(Clone, Debug)]
pub struct DatabaseBuilder {
    cache_budget: usize,
    key_cache: usize,
    page_cache: usize,
    author: Option<String>,
    busy_timeout: Duration,
    /// See `write_buffer` (test builds only).
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    write_buffer: Option<usize>,
}

impl Default for DatabaseBuilder {
    fn default() -> Self {
        DatabaseBuilder {
            cache_budget: DEFAULT_CACHE_BUDGET,
            key_cache: DEFAULT_KEY_CACHE_BUDGET,
            page_cache: 256 << 20,
            author: None,
            busy_timeout: Duration::ZERO,
            write_buffer: None,
        }
    }
}

impl DatabaseBuilder {
    /// Memory budget of the warm adjacency cache in bytes (0 disables it).
    pub fn adjacency_cache(mut self, bytes: usize) -> Self {
        self.cache_budget = bytes;
        self
    }

    /// Memory budget of the id-to-key cache in bytes (default 64 MiB, about
    /// 1.5 million keys; 0 disables it): the keys of reached nodes, so that
    /// sorting and returning keys reads no record twice.
    pub fn key_cache(mut self, bytes: usize) -> Self {
        self.key_cache = bytes;
        self
    }

    /// Memory budget of the storage page cache in bytes (default 256 MiB; it fills only as pages are read).
    pub fn page_cache(mut self, bytes: usize) -> Self {
        self.page_cache = bytes;
        self
    }

    /// Author recorded on commits that do not name one.
    pub fn author(mut self, author: impl Into<String>) -> Self {
        self.author = Some(author.into());
        self
    }

    /// How long an open waits for a file another process holds, retrying
    /// (default 0: fail at once). A read-write open needs the file to itself;
    /// read-only opens share it with each other. When the wait runs out the
    /// open fails with `Error::Locked`, which names the holders.
    pub fn busy_timeout(mut self, wait: Duration) -> Self {
        self.busy_timeout = wait;
        self
    }

    /// Test-only: write transactions write their buffered new nodes and
    /// adjacency blocks to redb whenever they hold more than `bytes` (by
    /// default 512 MiB), so tests exercise mid-transaction flushes.
    #[cfg(any(test, feature = "testing"))]
    #[doc(hidden)]
    pub fn write_buffer(mut self, bytes: usize) -> Self {
        self.write_buffer = Some(bytes);
        self
    }

    /// Opens `path`, creating the database if the file is missing or empty.
    pub fn create(self, path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        let store = crate::busy::retry(path, self.busy_timeout, || Store::open_or_create(path, self.page_cache))?;
        self.finish(store, Some(path.to_owned()))
    }

    /// Opens an existing database; a missing file is an error.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file (create it with Database::create)",
                ),
            });
        }
        self.create(path)
    }

    /// Opens an existing database read-only: nothing is ever written to the
    /// file, and other processes may read it at the same time. Writes fail
    /// with `Error::ReadOnly`; a file that needs crash recovery gives
    /// `Error::NeedsRecovery`.
    pub fn open_read_only(self, path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        let store = crate::busy::retry(path, self.busy_timeout, || Store::open_read_only(path, self.page_cache))?;
        self.finish(store, Some(path.to_owned()))
    }

    /// A database held in memory only.
    pub fn in_memory(self) -> Result<Database> {
        let store = Store::in_memory()?;
        self.finish(store, None)
    }

    fn finish(self, store: Store, path: Option<PathBuf>) -> Result<Database> {
        #[cfg(any(test, feature = "testing"))]
        let store = {
            let mut store = store;
            if let Some(bytes) = self.write_buffer {
                store.set_write_buffer(bytes);
            }
            store
        };
        let head = store.begin_read()?.counters()?.last_snapshot;
        let inner = Inner {
            store,
            dict_cache: parking_lot::RwLock::new(None),
            cache: AdjCache::new(self.cache_budget, head),
            keys: KeyCache::new(self.key_cache),
            path,
            default_author: self.author.unwrap_or_else(default_author),
        };
        Ok(Database { inner: Arc::new(inner) })
    }
}

fn default_author() -> String {
    std::env::var("LINEAGEDB_AUTHOR")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

impl Database {
    /// Options for opening a database.
    pub fn builder() -> DatabaseBuilder {
        DatabaseBuilder::default()
    }

    /// Opens `path`, creating the database if the file is missing or empty.
    pub fn create(path: impl AsRef<Path>) -> Result<Database> {
        DatabaseBuilder::default().create(path)
    }

    /// Opens an existing database.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        DatabaseBuilder::default().open(path)
    }

    /// Opens an existing database read-only (see `DatabaseBuilder::open_read_only`).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Database> {
        DatabaseBuilder::default().open_read_only(path)
    }

    /// A database held in memory only.
    pub fn in_memory() -> Result<Database> {
        DatabaseBuilder::default().in_memory()
    }

    /// The file behind this handle, if any.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Starts the write transaction; waits while another one is open.
    pub fn begin_write(&self) -> Result<WriteTx> {
        WriteTx::begin(self.inner.clone())
    }

    /// A read transaction at the latest snapshot.
    pub fn begin_read(&self) -> Result<ReadTx> {
        ReadTx::begin(self.inner.clone())
    }

    /// Starts recording a run of `job` from a pipeline written in Rust: what
    /// `lineagedb run` does (inputs, params, code, outputs, outcome).
    pub fn start_run(&self, job: &str) -> std::result::Result<crate::RunRecorder, crate::RecorderError> {
        crate::capture::start_run(self, job)
    }

    /// A read transaction at snapshot `snapshot`.
    pub fn begin_read_at(&self, snapshot: SnapshotId) -> Result<ReadTx> {
        self.begin_read()?.as_of(snapshot)
    }

    /// A read transaction at the latest snapshot taken at or before `time`.
    pub fn begin_read_at_time(&self, time: Timestamp) -> Result<ReadTx> {
        self.begin_read()?.as_of_time(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Database>();
    }
}
