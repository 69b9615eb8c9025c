//! File checks before and after redb opens a file: redb's magic number,
//! LineageDB's marker and the format version, so that a file that is not
//! ours, or is of a format this build cannot read, is refused unchanged.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use redb::ReadableDatabase;

use super::*;

/// redb's own magic number: the first bytes of every redb file.
pub(super) const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// Checks LineageDB's marker and format version, and returns the version.
/// `Ok(None)`: the file has no `meta` table yet (a new database).
pub(super) fn check_marker(db: &impl ReadableDatabase, path: &Path) -> Result<Option<u32>> {
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

/// Checks an existing file read-only before it is opened for writing, so a
/// file that is refused is never modified. A file that needs crash recovery
/// cannot be opened read-only; it is checked after the normal open repairs it.
pub(super) fn precheck_read_only(path: &Path) -> Result<()> {
    let opened = std::panic::catch_unwind(|| redb::Builder::new().open_read_only(path));
    match opened {
        Ok(Ok(db)) => check_marker(&db, path).map(|_| ()),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
            Err(Error::Locked { path: path.to_owned(), waited: std::time::Duration::ZERO, holders: Vec::new() })
        }
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))) => {
            Err(Error::Io { path: path.to_owned(), source: e })
        }
        Ok(Err(redb::DatabaseError::RepairAborted)) => Ok(()),
        Ok(Err(e)) => Err(not_ours(path, &format!("the storage layer refused it: {e}"))),
        Err(_) => Err(not_ours(path, "the file is truncated or damaged")),
    }
}

pub(super) fn not_ours(path: &Path, reason: &str) -> Error {
    Error::NotLineageDb { path: PathBuf::from(path), reason: reason.to_owned() }
}

/// Refuses a file whose first bytes are not redb's magic number.
pub(super) fn check_header(path: &Path) -> Result<()> {
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
