//! The run spool: where `lineagedb run` keeps a run record it could not
//! commit (the database stayed busy past `--wait`, or could not be opened),
//! and from where the next command that opens the database commits it.
//!
//! The spool of `DIR/lineage.redb` is the directory `DIR/lineage.redb.spool/`;
//! each record is one JSON file named after its token
//! (`<token>.json`, a serialized `PendingRun`), written to a temporary name,
//! synced and renamed into place, so a file there is always whole. Replaying
//! commits a record in a transaction that also claims its token, then
//! deletes the file: a replay interrupted at any point (even by SIGKILL)
//! either committed the record, and the next replay finds the token claimed
//! and only deletes the file, or did not, and the next replay commits it.
//! Either way it is committed exactly once. See docs/design.md, "Once-only
//! tokens and the run spool".

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use lineagedb_engine::{Database, PendingRun};

/// The spool directory of the database at `db`.
pub fn dir(db: &Path) -> PathBuf {
    beside(db, ".spool")
}

/// `<db file name><suffix>` in the database's directory.
pub fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "lineage.redb".into());
    name.push(suffix);
    db.with_file_name(name)
}

/// Keeps `pending` in the spool of `db`; returns the file written.
pub fn write(db: &Path, pending: &PendingRun) -> io::Result<PathBuf> {
    let dir = dir(db);
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("{}.json", file_stem(&pending.token)));
    let temporary = dir.join(format!(".{}.json.tmp", file_stem(&pending.token)));
    let json = serde_json::to_vec_pretty(pending).map_err(io::Error::other)?;
    {
        let mut out = std::fs::File::create(&temporary)?;
        out.write_all(&json)?;
        out.write_all(b"\n")?;
        out.sync_all()?;
    }
    std::fs::rename(&temporary, &file)?;
    // The rename itself is durable once the directory is synced.
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(file)
}

/// The records waiting in the spool of `db`, oldest name first.
pub fn waiting(db: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir(db)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

/// Commits every record waiting in the spool of `db` into `database` (opened
/// read-write), each exactly once, and reports on stderr what it did.
/// A record that cannot be read or committed stays in the spool, with a
/// warning; the command goes on.
pub fn replay(db: &Path, database: &Database) {
    for file in waiting(db) {
        let mut stderr = io::stderr().lock();
        let pending = match std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<PendingRun>(&bytes).map_err(|e| e.to_string()))
        {
            Ok(pending) => pending,
            Err(error) => {
                let _ = writeln!(
                    stderr,
                    "lineagedb: warning: cannot read the spooled run record {}: {error}; it is left in place\n\
                     hint: it is a JSON run record written by `lineagedb run`; move it away once you have looked at it",
                    file.display()
                );
                continue;
            }
        };
        match pending.commit(database) {
            Ok(Some(outcome)) => {
                let _ = writeln!(
                    stderr,
                    "lineagedb: committed the spooled run record of {} as {} (snapshot {})",
                    pending.run_name, outcome.run, outcome.snapshot
                );
            }
            // Committed by a replay that was stopped before it could delete the file.
            Ok(None) => {}
            Err(error) => {
                let _ = writeln!(
                    stderr,
                    "lineagedb: warning: cannot commit the spooled run record {}: {error}; it is left in place",
                    file.display()
                );
                continue;
            }
        }
        if let Err(error) = std::fs::remove_file(&file) {
            let _ = writeln!(
                stderr,
                "lineagedb: warning: the spooled run record {} is committed but could not be removed: {error} \
                 (it will not be committed again)",
                file.display()
            );
        }
    }
}

/// A token as a file name: anything but letters, digits, `.`, `-` and `_` becomes `_`.
fn file_stem(token: &str) -> String {
    token.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_sits_beside_the_database() {
        assert_eq!(dir(Path::new("/srv/lineage.redb")), PathBuf::from("/srv/lineage.redb.spool"));
        assert_eq!(dir(Path::new("team.db")), PathBuf::from("team.db.spool"));
    }

    #[test]
    fn tokens_become_safe_file_names() {
        assert_eq!(file_stem("train_20261207T000000Z.17.42.ab"), "train_20261207T000000Z.17.42.ab");
        assert_eq!(file_stem("a/b c"), "a_b_c");
    }
}
