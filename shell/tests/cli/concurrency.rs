//! Many processes on one database file: commands wait for a file another
//! process holds (`--wait`), the shell holds it only while a statement or a
//! transaction runs, two writers both commit, and `lineagedb run` spools a
//! record it cannot commit, which the next command commits exactly once,
//! even when that command is killed mid-replay.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use expectrl::{Expect, Session};

use crate::common::{Fixture, Outcome, json_lines, row_keys};

/// `lineagedb run --db DB --job JOB ARGS... -- sh -c SCRIPT`, not waited for.
fn spawn_run(f: &Fixture, job: &str, args: &[&str], script: &str) -> Child {
    f.command()
        .args(["run", "--db", &f.db_arg(), "--job", job])
        .args(args)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lineagedb run")
}

fn finish(child: Child) -> Outcome {
    Outcome::from(child.wait_with_output().expect("wait for lineagedb"))
}

/// The keys a query returns.
fn keys(f: &Fixture, query: &str) -> Vec<String> {
    let (out, lines) = f.query_json(query);
    out.ok();
    row_keys(&lines[0])
}

/// The ids of every snapshot, oldest first.
fn snapshot_ids(f: &Fixture) -> Vec<u64> {
    let (out, lines) = f.query_json("SNAPSHOTS");
    out.ok();
    let mut ids: Vec<u64> =
        lines[0]["snapshots"].as_array().expect("snapshots").iter().map(|s| s["id"].as_u64().expect("id")).collect();
    ids.sort_unstable();
    ids
}

fn spool_dir(f: &Fixture) -> PathBuf {
    f.dir().join("test.redb.spool")
}

/// The records waiting in the spool.
fn spooled(f: &Fixture) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(spool_dir(f)) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    files
}

/// A piped shell that has opened a transaction and so holds the file until
/// it is told to roll back.
struct Holder {
    child: Child,
    stdin: ChildStdin,
}

impl Holder {
    fn start(f: &Fixture) -> Holder {
        let mut child = f
            .command()
            .args(["--db", &f.db_arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the shell");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "BEGIN;\nCREATE dataset:held;").expect("type");
        stdin.flush().expect("flush");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while !line.contains("pending until COMMIT") {
            line.clear();
            assert!(stdout.read_line(&mut line).expect("read the shell") > 0, "the shell ended early");
        }
        Holder { child, stdin }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn release(mut self) {
        writeln!(self.stdin, "ROLLBACK;").expect("type");
        drop(self.stdin);
        assert!(self.child.wait().expect("wait for the shell").success());
    }
}

#[test]
fn a_busy_file_is_waited_for_and_the_error_after_the_wait_names_its_holder() {
    let f = Fixture::new();
    f.query("CREATE dataset:seed").ok();
    let holder = Holder::start(&f);
    let start = std::time::Instant::now();
    let refused = f.run(&["query", "--db", &f.db_arg(), "--wait", "0.3", "SNAPSHOTS LIMIT 1"]);
    refused.exits(2);
    assert!(start.elapsed() >= Duration::from_millis(300), "it did not wait");
    assert!(refused.stderr.contains("is busy"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("pid {}", holder.pid())), "{}", refused.stderr);
    assert!(refused.stderr.contains("--wait"), "{}", refused.stderr);
    // LINEAGEDB_WAIT sets the same wait; a writer is refused the same way.
    let refused = Outcome::from(
        f.command()
            .args(["query", "--db", &f.db_arg(), "CREATE dataset:x"])
            .env("LINEAGEDB_WAIT", "0.2")
            .output()
            .expect("run"),
    );
    refused.exits(2);
    assert!(refused.stderr.contains("after waiting 0.2 s"), "{}", refused.stderr);

    // A reader and a writer that wait long enough are answered once it is released.
    let reader = f
        .command()
        .args(["query", "--db", &f.db_arg(), "--format", "json", "FIND dataset RETURN key"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let writer = f
        .command()
        .args(["query", "--db", &f.db_arg(), "CREATE dataset:late"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    holder.release();
    let read = finish(reader);
    assert!(row_keys(&json_lines(read.ok())[0]).contains(&"dataset:seed@1".to_owned()));
    finish(writer).ok();
    assert_eq!(keys(&f, "FIND dataset RETURN key"), ["dataset:late@1", "dataset:seed@1"]);
}

#[test]
fn a_shell_in_a_terminal_shares_the_file_with_eight_runs_and_twenty_readers() {
    let f = Fixture::new();
    f.write("raw.csv", "id,amount\n1,10\n");
    let mut command = f.terminal_command();
    command.args(["--db", &f.db_arg()]).env("TERM", "xterm");
    let mut pty = Session::spawn(command).expect("spawn lineagedb on a pseudo-terminal");
    pty.set_expect_timeout(Some(Duration::from_secs(60)));
    pty.expect("lineagedb> ").expect("prompt");
    pty.send("CREATE dataset:reference SET {rows: 1};\r").expect("type");
    pty.expect("lineagedb> ").expect("prompt");

    // The shell sits at its prompt while everyone else uses the file.
    let runs: Vec<Child> = (0..8)
        .map(|i| {
            spawn_run(
                &f,
                &format!("train{i}"),
                &["--input", "raw.csv", "--input", "dataset:reference", "--output", &format!("model:m{i}=m{i}.bin")],
                &format!("echo weights{i} > m{i}.bin"),
            )
        })
        .collect();
    let readers: Vec<Child> = (0..20)
        .map(|_| {
            f.command()
                .args(["query", "--db", &f.db_arg(), "--format", "json", "FIND dataset RETURN key"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a reader")
        })
        .collect();
    for run in runs {
        let out = finish(run);
        out.exits(0);
        assert!(out.stderr.contains("lineagedb: recorded run:"), "{}", out.stderr);
    }
    for reader in readers {
        let out = finish(reader);
        let rows = row_keys(&json_lines(out.ok())[0]);
        assert!(rows.contains(&"dataset:reference@1".to_owned()), "{rows:?}");
    }
    assert!(spooled(&f).is_empty(), "nothing needed the spool");

    // Every run is there, with its output, and the shell sees them too.
    let runs = keys(&f, "FIND run RETURN key");
    assert_eq!(runs.len(), 8, "{runs:?}");
    for i in 0..8 {
        assert_eq!(keys(&f, &format!("ANCESTORS OF model:m{i}@1 WHERE type=dataset RETURN key")).len(), 2);
    }
    pty.send("FIND model RETURN key;\r").expect("type");
    pty.expect("(8 row(s))").expect("the shell sees every model");
    pty.expect("lineagedb> ").expect("prompt");
    pty.send(".quit\r").expect("type");
    pty.expect(expectrl::Eof).expect("the shell ends");
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok:"));
}

#[test]
fn two_writer_loops_of_fifty_creates_give_a_hundred_consecutive_snapshots() {
    let f = Fixture::new();
    std::thread::scope(|scope| {
        for writer in ["a", "b"] {
            let f = &f;
            scope.spawn(move || {
                for i in 0..50 {
                    f.query(&format!("CREATE dataset:{writer}{i} SET {{i: {i}}}")).ok();
                }
            });
        }
    });
    assert_eq!(snapshot_ids(&f), (1..=100).collect::<Vec<_>>());
    assert_eq!(keys(&f, "FIND dataset RETURN key").len(), 100);
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok:"));
}

#[test]
fn a_run_whose_database_stays_busy_is_spooled_and_the_next_command_commits_it_once() {
    let f = Fixture::new();
    f.query("CREATE dataset:seed").ok();
    f.write("raw.csv", "a,b\n1,2\n");
    let holder = Holder::start(&f);
    let out = finish(spawn_run(
        &f,
        "train",
        &["--wait", "0.2", "--input", "raw.csv", "--input", "dataset:seed", "--output", "model:fraud=model.bin"],
        "echo weights > model.bin; echo trained; exit 3",
    ));
    // The command ran and its status passed through; the record waits in the spool.
    out.exits(3);
    assert_eq!(out.stdout, "trained\n");
    assert!(out.stderr.contains("is busy"), "{}", out.stderr);
    let files = spooled(&f);
    assert_eq!(files.len(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(&files[0].display().to_string()), "{}", out.stderr);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).expect("read")).expect("the spool file is JSON");
    assert_eq!(record["status"], "failed");
    assert_eq!(record["exit_code"], 3);
    holder.release();

    // The next command, a reader, commits it first; no later one again.
    let (out, lines) = f.query_json("FIND run RETURN key");
    out.ok();
    assert!(out.stderr.contains("committed the spooled run record"), "{}", out.stderr);
    let runs = row_keys(&lines[0]);
    assert_eq!(runs.len(), 1);
    assert!(spooled(&f).is_empty());
    assert_eq!(keys(&f, "FIND run RETURN key"), runs);
    assert_eq!(
        keys(&f, &format!("ANCESTORS OF {} RETURN key", runs[0])),
        ["dataset:raw.csv@1", "dataset:seed@1", "job:train@1"]
    );
    let show = f.query_json(&format!("SHOW {}", runs[0])).1;
    assert_eq!(show[0]["node"]["props"]["exit_code"], 3, "{}", show[0]);
    // A failed run records no outputs.
    assert!(keys(&f, "FIND model RETURN key").is_empty());
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok:"));
}

/// How many records the SIGKILL test spools; `LINEAGEDB_SPOOL_RECORDS` raises it.
fn spool_records() -> usize {
    std::env::var("LINEAGEDB_SPOOL_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(12)
}

#[test]
fn sigkill_during_the_spool_replay_loses_nothing_and_duplicates_nothing() {
    let f = Fixture::new();
    f.query("CREATE dataset:seed").ok();
    let records = spool_records();
    let holder = Holder::start(&f);
    for i in 0..records {
        let out = finish(spawn_run(&f, &format!("job{i}"), &["--wait", "0", "--param", &format!("i={i}")], "true"));
        out.exits(0);
    }
    assert_eq!(spooled(&f).len(), records);
    holder.release();

    // Replays killed at different points: after the first record it reports,
    // and at growing delays after it starts.
    let mut kills = 0;
    let mut interrupted = 0;
    for delay_ms in [None, Some(0), Some(5), Some(15), Some(30), Some(60), Some(120), Some(250)] {
        if spooled(&f).is_empty() {
            break;
        }
        let mut replay = f
            .command()
            .args(["query", "--db", &f.db_arg(), "SNAPSHOTS LIMIT 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        match delay_ms {
            None => {
                let mut stderr = BufReader::new(replay.stderr.take().expect("stderr"));
                let mut line = String::new();
                while !line.contains("committed the spooled run record") {
                    line.clear();
                    if stderr.read_line(&mut line).expect("read") == 0 {
                        break;
                    }
                }
            }
            Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(replay.id()).expect("pid")),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = replay.wait();
        kills += 1;
        let left = spooled(&f).len();
        // Opened with the engine, which recovers the file and replays no
        // spool: snapshot 1 is the seed, each run one more.
        let committed = lineagedb_engine::Database::open(f.db())
            .and_then(|db| db.begin_read().map(|read| read.latest_snapshot()))
            .expect("read the database") as usize
            - 1;
        assert!(committed + left >= records, "a record was lost: {committed} committed, {left} in the spool");
        if left > 0 && committed > 0 {
            interrupted += 1;
        }
        eprintln!(
            "kill {kills} ({delay_ms:?} ms): {committed} committed, {left} of {records} records left in the spool"
        );
    }
    assert!(kills > 0);
    assert!(interrupted > 0, "no kill landed in the middle of a replay");
    // Whatever was left is committed by the next command.
    f.query("SNAPSHOTS LIMIT 1").ok();
    assert!(spooled(&f).is_empty());
    let runs = keys(&f, "FIND run RETURN key");
    assert_eq!(runs.len(), records, "{runs:?}");
    let mut jobs: Vec<String> = (0..records).map(|i| format!("job:job{i}@1")).collect();
    jobs.sort();
    let mut found = keys(&f, "FIND job RETURN key");
    found.sort();
    assert_eq!(found, jobs);
    // One snapshot per run after the seed, consecutive.
    assert_eq!(snapshot_ids(&f), (1..=records as u64 + 1).collect::<Vec<_>>());
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok:"));
}
