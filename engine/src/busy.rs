//! Waiting for a database file another process holds, like SQLite's busy
//! timeout. redb takes an advisory lock when it opens a file: exclusive for a
//! read-write open, shared for a read-only one, so readers coexist and a
//! writer waits for all of them. An open that finds the lock taken is retried
//! with a growing, jittered pause until the wait runs out; the error then
//! names the processes that hold the file.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The first pause between two attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
/// The longest pause between two attempts.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Runs `open` until it does not fail with `Error::Locked`, or until `wait`
/// has passed since the first attempt; the final `Error::Locked` carries how
/// long it waited and who holds `path`.
pub(crate) fn retry<T>(path: &Path, wait: Duration, mut open: impl FnMut() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut attempt: u64 = 0;
    loop {
        match open() {
            Err(Error::Locked { .. }) => {
                let waited = start.elapsed();
                if waited >= wait {
                    return Err(Error::Locked { path: path.to_owned(), waited, holders: holders(path) });
                }
                attempt += 1;
                // Jitter spreads out processes that started waiting together,
                // so that one of them finds the file free between two others.
                let sleep = jitter(pause, attempt).min(wait - waited);
                std::thread::sleep(sleep);
                pause = (pause * 2).min(MAX_PAUSE);
            }
            other => return other,
        }
    }
}

/// A pause between half and all of `pause`, different in every process.
fn jitter(pause: Duration, attempt: u64) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(attempt);
    hasher.write_u32(std::process::id());
    let fraction = (hasher.finish() % 1000) as u32;
    pause / 2 + pause / 2 * fraction / 1000
}

/// The processes that have `path` open, as `pid 1234 (lineagedb query ...)`.
/// Found through `/proc/*/fd` on Linux; empty where that cannot be read
/// (other systems, or processes of other users).
pub(crate) fn holders(path: &Path) -> Vec<String> {
    let Ok(target) = std::fs::canonicalize(path) else { return Vec::new() };
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link == target));
        if !holds {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let mut command = cmdline
            .split(|b| *b == 0)
            .filter(|part| !part.is_empty())
            .map(String::from_utf8_lossy)
            .collect::<Vec<_>>()
            .join(" ");
        if command.chars().count() > 80 {
            command = command.chars().take(77).collect::<String>() + "...";
        }
        let who = if pid == me { "this process".to_owned() } else { format!("pid {pid}") };
        found.push(if command.is_empty() { who } else { format!("{who} ({command})") });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all_of_the_pause() {
        for attempt in 0..200 {
            let j = jitter(Duration::from_millis(40), attempt);
            assert!(j >= Duration::from_millis(20) && j <= Duration::from_millis(40), "{j:?}");
        }
    }

    #[test]
    fn a_file_this_process_holds_names_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        let _file = std::fs::File::create(&path).unwrap();
        let found = holders(&path);
        if Path::new("/proc/self/fd").exists() {
            assert!(found.iter().any(|h| h.starts_with("this process")), "{found:?}");
        }
    }

    #[test]
    fn retry_gives_up_after_the_wait_and_reports_it() {
        let path = Path::new("/nonexistent/db.redb");
        let mut calls = 0;
        let start = Instant::now();
        let result: Result<()> = retry(path, Duration::from_millis(60), || {
            calls += 1;
            Err(Error::Locked { path: path.to_owned(), waited: Duration::ZERO, holders: Vec::new() })
        });
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert!(calls > 2, "{calls}");
        match result {
            Err(Error::Locked { waited, .. }) => assert!(waited >= Duration::from_millis(60)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_returns_as_soon_as_the_file_is_free() {
        let path = Path::new("/nonexistent/db.redb");
        let mut calls = 0;
        let result = retry(path, Duration::from_secs(5), || {
            calls += 1;
            if calls < 3 {
                Err(Error::Locked { path: path.to_owned(), waited: Duration::ZERO, holders: Vec::new() })
            } else {
                Ok(calls)
            }
        });
        assert_eq!(result.unwrap(), 3);
    }
}
