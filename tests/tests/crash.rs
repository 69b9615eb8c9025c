//! Crash safety: the `crash_writer` binary is killed with SIGKILL at random
//! moments while it commits small transactions or runs bulk imports, always
//! on the same database file. After every kill the database must open, pass
//! `verify`, hold every snapshot the writer reported committed (at most one
//! more: the commit in flight when the kill landed) and hold no partial
//! snapshot: every snapshot in the log has exactly the nodes and edges its
//! workload defines, read as of that snapshot.
//!
//! `LINEAGEDB_CRASH_ITERATIONS` sets the number of kills (default 12; the
//! quality bar is at least 50, see docs/reliability.md).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lineagedb_engine::{Database, NodeKey, SnapshotId, same_content};
use lineagedb_tests::{FOLLOWS, SplitMix64, Workload};

const DEFAULT_ITERATIONS: usize = 12;

/// Every `EARLY_KILL_EVERY`th iteration kills the writer without waiting for
/// it to open the database, so some kills land during open and recovery.
const EARLY_KILL_EVERY: usize = 5;

#[test]
fn killed_writers_leave_every_reported_snapshot_and_no_partial_one() {
    let iterations = iterations();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.lineagedb");
    let mut expected = Totals::default();
    let mut tallies = [Tally::default(), Tally::default()];
    let started = Instant::now();
    for iteration in 0..iterations {
        let workload = if iteration % 2 == 0 { Workload::Commits } else { Workload::Imports };
        let run = run_and_kill(&path, workload, iteration);
        let latest = check_after_kill(&path, workload, iteration, &run, &mut expected);
        let in_flight = match run.in_flight {
            Some(snapshot) if snapshot == latest => format!("snapshot {snapshot} in flight: committed, complete"),
            Some(snapshot) => format!("snapshot {snapshot} in flight: absent"),
            None => "no transaction in flight".to_owned(),
        };
        tallies[usize::from(workload == Workload::Imports)].add(&run, latest);
        eprintln!(
            "iteration {iteration:>3}: {:<7} killed {:>3} ms after {}, {:>3} reported committed, {in_flight}; \
             latest snapshot {latest}",
            workload.name(),
            run.delay_ms,
            if run.waited_for_ready { "ready" } else { "spawn" },
            run.reported.len(),
        );
    }
    // Every snapshot again, after all the kills that followed it.
    let db = Database::open(&path).expect("the database opens after the last kill");
    let kinds = workloads_by_snapshot(&db);
    for snapshot in 1..kinds.len() as SnapshotId {
        check_snapshot(&db, snapshot, &kinds);
    }
    eprintln!(
        "{iterations} kills in {:.1} s; {} snapshots, {} nodes, {} edges in the file, all checked",
        started.elapsed().as_secs_f64(),
        expected.snapshots,
        expected.nodes,
        expected.edges,
    );
    for (workload, tally) in [Workload::Commits, Workload::Imports].into_iter().zip(&tallies) {
        eprintln!("  {}: {tally:?}", workload.name());
        assert!(tally.reported > 0, "vacuous: no {} snapshot was reported committed", workload.name());
        assert!(
            tally.in_flight_committed + tally.in_flight_absent > 0,
            "vacuous: no {} kill landed while a transaction was in flight",
            workload.name()
        );
    }
}

fn iterations() -> usize {
    match std::env::var("LINEAGEDB_CRASH_ITERATIONS") {
        Ok(text) => {
            text.trim().parse().unwrap_or_else(|_| panic!("LINEAGEDB_CRASH_ITERATIONS={text:?} is not a count"))
        }
        Err(_) => DEFAULT_ITERATIONS,
    }
}

/// The range of delays (ms) between the writer being ready and the kill.
/// In release builds a commit takes a few ms and an import of up to 2,000
/// nodes some 20–30 ms; a debug import takes up to ~400 ms, so there the
/// import window is wider so that imports still commit and get cut short.
fn kill_window_ms(workload: Workload) -> (u64, u64) {
    match workload {
        Workload::Imports if cfg!(debug_assertions) => (5, 1000),
        Workload::Commits | Workload::Imports => (5, 150),
    }
}

/// What one writer process did before it was killed.
#[derive(Debug)]
struct Run {
    /// Snapshot ids the writer printed as committed, in order.
    reported: Vec<SnapshotId>,
    /// The transaction the writer had begun but not reported committed.
    in_flight: Option<SnapshotId>,
    /// Time between the writer being ready (or spawned) and the kill.
    delay_ms: u64,
    waited_for_ready: bool,
}

/// Spawns the writer, kills it with SIGKILL after a random delay and returns
/// what it reported.
fn run_and_kill(path: &Path, workload: Workload, iteration: usize) -> Run {
    let mut rng = SplitMix64(0xC0FF_EE00 ^ (iteration as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(path)
        .arg(workload.name())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash_writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let waited_for_ready = iteration % EARLY_KILL_EVERY != EARLY_KILL_EVERY - 1;
    let mut seen = Vec::new();
    let delay_ms = if waited_for_ready {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let errors = stderr_reader.join().unwrap_or_default();
                panic!("iteration {iteration}: crash_writer never became ready ({e}); stderr: {errors}");
            }
        }
        let (low, high) = kill_window_ms(workload);
        low + rng.below(high - low + 1)
    } else {
        rng.below(30)
    };
    std::thread::sleep(Duration::from_millis(delay_ms));
    child.kill().expect("kill crash_writer");
    let status = child.wait().expect("wait for crash_writer");
    reader.join().expect("stdout reader");
    seen.extend(lines.try_iter());
    let errors = stderr_reader.join().unwrap_or_default();
    assert!(
        !status.success() && status.code().is_none(),
        "iteration {iteration}: the writer exited by itself ({status}) instead of being killed; stderr: {errors}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "iteration {iteration}: the writer was not ended by SIGKILL; stderr: {errors}"
        );
    }

    // The output is `ready`, then `begin N` / `committed N` pairs, the last
    // pair possibly cut short by the kill.
    let mut reported = Vec::new();
    let mut in_flight = None;
    for (index, line) in seen.iter().enumerate() {
        if line == "ready" && index == 0 {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(word, n)| Some((word, n.parse::<SnapshotId>().ok()?)));
        match (parsed, in_flight) {
            (Some(("begin", id)), None) => in_flight = Some(id),
            (Some(("committed", id)), Some(begun)) if id == begun => {
                reported.push(id);
                in_flight = None;
            }
            _ => panic!("iteration {iteration}: unexpected writer output {line:?} after {:?}", &seen[..index]),
        }
    }
    Run { reported, in_flight, delay_ms, waited_for_ready }
}

/// Per workload: how the kills landed.
#[derive(Debug, Default)]
struct Tally {
    /// Snapshots reported committed (all found complete).
    reported: usize,
    /// Kills during a transaction that committed anyway (found complete).
    in_flight_committed: usize,
    /// Kills during a transaction that left nothing behind.
    in_flight_absent: usize,
    /// Kills between transactions or before the first one began.
    between: usize,
}

impl Tally {
    fn add(&mut self, run: &Run, latest: SnapshotId) {
        self.reported += run.reported.len();
        match run.in_flight {
            Some(snapshot) if snapshot == latest => self.in_flight_committed += 1,
            Some(_) => self.in_flight_absent += 1,
            None => self.between += 1,
        }
    }
}

/// What the database must hold: running totals over every snapshot checked so far.
#[derive(Debug, Default)]
struct Totals {
    snapshots: SnapshotId,
    nodes: u64,
    edges: u64,
}

/// Opens the database after a kill and checks it; returns the latest snapshot.
fn check_after_kill(path: &Path, workload: Workload, iteration: usize, run: &Run, expected: &mut Totals) -> SnapshotId {
    let before = expected.snapshots;
    let db = Database::open(path)
        .unwrap_or_else(|e| panic!("iteration {iteration}: the database does not open after the kill: {e}"));
    let read = db.begin_read().expect("begin read");
    let report = read.verify().expect("verify runs");
    assert!(report.is_ok(), "iteration {iteration}: verify found problems after the kill: {:#?}", report.problems);
    let latest = read.latest_snapshot();

    // Reported snapshots are consecutive, follow the previous iteration's,
    // and all survived; at most one more (the commit in flight) is there.
    let want: Vec<SnapshotId> = (before + 1..=before + run.reported.len() as SnapshotId).collect();
    assert_eq!(run.reported, want, "iteration {iteration}: the writer reported unexpected snapshot ids");
    let reported_max = run.reported.last().copied().unwrap_or(before);
    assert!(
        latest >= reported_max,
        "iteration {iteration}: snapshot {reported_max} was reported committed but the latest snapshot is {latest}"
    );
    if latest > reported_max {
        assert_eq!(
            (latest, run.in_flight),
            (reported_max + 1, Some(latest)),
            "iteration {iteration}: latest snapshot {latest} but only up to {reported_max} was reported committed; \
             only the one transaction in flight ({:?}) may have committed unreported",
            run.in_flight
        );
    }

    // Every snapshot new since the last check is complete.
    let kinds = workloads_by_snapshot(&db);
    assert_eq!(kinds.len() as SnapshotId, latest + 1, "iteration {iteration}: the log does not list every snapshot");
    for snapshot in before + 1..=latest {
        assert_eq!(
            kinds[snapshot as usize],
            Some(workload),
            "iteration {iteration}: snapshot {snapshot} was not written by this iteration's {} writer",
            workload.name()
        );
        check_snapshot(&db, snapshot, &kinds);
        expected.nodes += workload.node_count(snapshot) as u64;
        expected.edges += workload.edge_count(snapshot) as u64;
    }
    expected.snapshots = latest;

    // Nothing beyond the snapshots' own content: the whole file holds exactly
    // the nodes and edges the log accounts for.
    assert_eq!(
        (report.snapshots, report.nodes, report.edges),
        (latest, expected.nodes, expected.edges),
        "iteration {iteration}: (snapshots, nodes, edges) in the file differ from what the snapshot log accounts for"
    );
    latest
}

/// The workload of every snapshot in the log, indexed by snapshot id (index 0 unused).
fn workloads_by_snapshot(db: &Database) -> Vec<Option<Workload>> {
    let read = db.begin_read().expect("begin read");
    let mut kinds = vec![None; read.latest_snapshot() as usize + 1];
    for snapshot in read.snapshots(None).expect("snapshot log") {
        let message = snapshot.message.unwrap_or_default();
        let workload = Workload::of_message(&message, snapshot.id)
            .unwrap_or_else(|| panic!("snapshot {} has a foreign commit message {message:?}", snapshot.id));
        let slot = kinds.get_mut(snapshot.id as usize).expect("snapshot ids within the latest");
        assert!(slot.replace(workload).is_none(), "snapshot {} is listed twice", snapshot.id);
    }
    assert!(kinds.iter().skip(1).all(Option::is_some), "the snapshot log has gaps: {kinds:?}");
    kinds
}

/// Checks, as of `snapshot`, that every node and edge the snapshot's workload
/// defines is there with its content, created by that snapshot, and absent
/// from the snapshot before it.
fn check_snapshot(db: &Database, snapshot: SnapshotId, kinds: &[Option<Workload>]) {
    let workload = kinds[snapshot as usize].expect("a known workload");
    let previous_head = (snapshot > 1).then(|| {
        let previous = kinds[snapshot as usize - 1].expect("a known workload");
        previous.node_key(snapshot - 1, 0)
    });
    let at = db.begin_read_at(snapshot).expect("read as of the snapshot");
    for index in 0..workload.node_count(snapshot) {
        let key = workload.node_key(snapshot, index);
        let detail = at
            .node_detail(&key.to_ref())
            .unwrap_or_else(|e| panic!("snapshot {snapshot} is partial: {key} is missing as of it: {e}"));
        assert_eq!(detail.node.created_in, snapshot, "{key} was not created by snapshot {snapshot}");
        assert!(
            same_content(&detail.node.props, &workload.node_props(snapshot, index)),
            "{key} as of snapshot {snapshot} has the wrong properties: {:?}",
            detail.node.props
        );
        let from: Option<(NodeKey, &str)> = match workload.parent(index) {
            Some(parent) => Some((workload.node_key(snapshot, parent), workload.edge_label())),
            None => previous_head.clone().map(|head| (head, FOLLOWS)),
        };
        let incoming: Vec<(&NodeKey, &NodeKey, &str, SnapshotId)> =
            detail.incoming.iter().map(|e| (&e.from, &e.to, e.label.as_str(), e.created_in)).collect();
        let want: Vec<(&NodeKey, &NodeKey, &str, SnapshotId)> =
            from.iter().map(|(from, label)| (from, &key, *label, snapshot)).collect();
        assert_eq!(incoming, want, "edges into {key} as of snapshot {snapshot}");
        if let Some(edge) = detail.incoming.first() {
            assert!(
                same_content(&edge.props, &Workload::edge_props(snapshot, index)),
                "the edge into {key} as of snapshot {snapshot} has the wrong properties: {:?}",
                edge.props
            );
        }
    }
    if snapshot > 1 {
        let before = db.begin_read_at(snapshot - 1).expect("read as of the snapshot before");
        let head = workload.node_key(snapshot, 0);
        assert!(before.node(&head.to_ref()).is_err(), "{head} is visible before snapshot {snapshot} created it");
    }
}
