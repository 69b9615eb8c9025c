//! Many readers during a writer's commits always see one consistent
//! snapshot. The writer adds a node and its edge in the same commit, so a
//! reader that sees the node without its edge, or counts that move while
//! its transaction is open, has seen a torn state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use lineagedb_engine::{Database, Props, ReadTx};

use crate::support::{fresh_db, r};

const COMMITS: u64 = 120;
const READERS: usize = 4;

#[test]
fn database_handles_are_send_sync_and_cheap_to_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Database>();
}

/// Checks the chain invariant at the reader's snapshot: nodes `n1..=nS`
/// exist, each `n(i-1) -> n(i)` edge exists, and walks agree.
fn check_consistent(read: &ReadTx) -> usize {
    let s = read.snapshot() as usize;
    let nodes = read.find(Some("item")).unwrap();
    assert_eq!(nodes.len(), s, "snapshot {s} holds exactly {s} items");
    for node in &nodes {
        let i: usize = node.key.name[1..].parse().unwrap();
        assert!(i >= 1 && i <= s, "item {i} is not visible at snapshot {s}");
        assert_eq!(node.created_in as usize, i);
        let detail = read.node_detail(&node.key.to_ref()).unwrap();
        if i > 1 {
            assert_eq!(detail.incoming.len(), 1, "item {i} has its edge at snapshot {s}");
            assert_eq!(detail.incoming[0].from.name, format!("n{}", i - 1));
        }
        let expected_out = usize::from(i < s);
        assert_eq!(detail.outgoing.len(), expected_out, "item {i} out-edges at snapshot {s}");
    }
    let down = read.descendants(&r("item:n1")).collect().unwrap();
    assert_eq!(down.len(), s - 1);
    assert!(down.iter().enumerate().all(|(d, x)| x.depth as usize == d + 1));
    let up = read.ancestors(&r(&format!("item:n{s}"))).collect().unwrap();
    assert_eq!(up.len(), s - 1);
    nodes.len()
}

#[test]
fn readers_see_consistent_snapshots_while_a_writer_commits() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    tx.create_node("item", "n1", Props::new()).unwrap();
    tx.commit().unwrap();
    let done = AtomicBool::new(false);

    thread::scope(|scope| {
        let mut readers = Vec::new();
        for reader in 0..READERS {
            let db = db.clone();
            let done = &done;
            readers.push(scope.spawn(move || {
                let mut reads = 0u64;
                let mut seen_max = 0u64;
                let mut round = 0u64;
                while !done.load(Ordering::Acquire) || round < 3 {
                    round += 1;
                    let read = db.begin_read().unwrap();
                    let s = read.snapshot();
                    assert!(s >= seen_max, "snapshots never go backwards for one reader");
                    seen_max = s;
                    let first = check_consistent(&read);
                    // The same transaction read again gives the same answer,
                    // whatever was committed meanwhile.
                    thread::yield_now();
                    assert_eq!(check_consistent(&read), first);
                    // An older snapshot, read while commits go on.
                    let old = (s * (reader as u64 + 1) / (READERS as u64 + 1)).max(1);
                    let past = db.begin_read_at(old).unwrap();
                    assert_eq!(check_consistent(&past), old as usize);
                    reads += 3;
                }
                (reads, seen_max)
            }));
        }

        for i in 2..=COMMITS {
            let mut tx = db.begin_write().unwrap();
            let node = tx.create_node("item", &format!("n{i}"), Props::new()).unwrap();
            tx.link(&r(&format!("item:n{}", i - 1)), &node.to_ref(), "next", Props::new()).unwrap();
            assert_eq!(tx.commit().unwrap(), i);
        }
        done.store(true, Ordering::Release);
        for handle in readers {
            let (reads, seen_max) = handle.join().expect("reader thread");
            assert!(reads >= 9, "each reader made several reads");
            assert!(seen_max >= 1);
        }
    });
    let read = db.begin_read().unwrap();
    assert_eq!(check_consistent(&read), COMMITS as usize);
    assert!(read.verify().unwrap().is_ok());
}

#[test]
fn many_threads_reading_the_same_snapshot_get_the_same_answer() {
    let (_dir, db) = fresh_db();
    let mut tx = db.begin_write().unwrap();
    for i in 1..=200u64 {
        let node = tx.create_node("item", &format!("n{i}"), Props::new()).unwrap();
        if i > 1 {
            tx.link(&r(&format!("item:n{}", i - 1)), &node.to_ref(), "next", Props::new()).unwrap();
        }
    }
    tx.commit().unwrap();
    let answers: Vec<usize> = thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                scope.spawn(move || db.begin_read().unwrap().ancestors(&r("item:n200")).collect().unwrap().len())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers, vec![199; 6]);
}
