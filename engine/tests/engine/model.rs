//! Model-based test: random sequences of create, link, unlink, delete,
//! promote and commit are applied to the engine and to a plain in-memory
//! model (a list of full copies of the state, one per snapshot). Both must
//! accept and refuse the same operations (cycles included: the model checks
//! reachability itself), and afterwards every snapshot must answer the same
//! ancestors, descendants, paths, latest versions and aliases, read on the
//! warm handle that did the writes and on a freshly opened one.
//!
//! `PROPTEST_CASES` raises the number of cases (default 32).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use lineagedb_engine::{Database, EntityKey, Error, NodeKey, NodeRef, Props, ReadTx, VersionSel, WriteTx};
use proptest::prelude::*;

use crate::support::db_path;

const TYPES: [&str; 3] = ["dataset", "run", "model"];
const NAMES: [&str; 3] = ["a", "b", "c"];
const LABELS: [&str; 2] = ["input", "output"];
const ALIASES: [&str; 2] = ["production", "staging"];

#[derive(Clone, Debug)]
enum Op {
    Create {
        ty: usize,
        name: usize,
    },
    /// `forward` links two distinct live nodes from the older to the newer,
    /// which never closes a cycle; otherwise the pair is drawn among every
    /// node ever created (deleted ones and self-loops included).
    Link {
        from: usize,
        to: usize,
        label: usize,
        forward: bool,
    },
    /// Unlinks a live edge (all labels, or only its own), or a random pair
    /// when there is no live edge.
    Unlink {
        edge: usize,
        by_label: bool,
        from: usize,
        to: usize,
    },
    /// Deletes a live node, or any node (perhaps deleted already) when `any`.
    Delete {
        node: usize,
        detach: bool,
        any: bool,
    },
    /// Promotes a live node, or any node when `any`.
    Promote {
        node: usize,
        alias: usize,
        any: bool,
    },
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..TYPES.len(), 0..NAMES.len()).prop_map(|(ty, name)| Op::Create { ty, name }),
        6 => (any::<usize>(), any::<usize>(), 0..LABELS.len(), prop::bool::weighted(0.85))
            .prop_map(|(from, to, label, forward)| Op::Link { from, to, label, forward }),
        1 => (any::<usize>(), any::<bool>(), any::<usize>(), any::<usize>())
            .prop_map(|(edge, by_label, from, to)| Op::Unlink { edge, by_label, from, to }),
        1 => (any::<usize>(), prop::bool::weighted(0.7), prop::bool::weighted(0.1))
            .prop_map(|(node, detach, any)| Op::Delete { node, detach, any }),
        2 => (any::<usize>(), 0..ALIASES.len(), prop::bool::weighted(0.1))
            .prop_map(|(node, alias, any)| Op::Promote { node, alias, any }),
        3 => Just(Op::Commit),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct ModelNode {
    key: NodeKey,
    deleted: bool,
}

/// The whole state at one point: what the engine should show at a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    /// Every node ever created, in creation order; indexes are node ids here.
    nodes: Vec<ModelNode>,
    /// Live edges `(from, to, label)`.
    edges: BTreeSet<(usize, usize, &'static str)>,
    /// `(entity, alias) -> version`.
    aliases: BTreeMap<(EntityKey, String), u64>,
}

/// How the model expects an operation to fail.
#[derive(Debug, PartialEq)]
enum Refusal {
    Deleted,
    Duplicate,
    Cycle,
    NoSuchEdge,
    HasLiveEdges(usize),
}

fn refusal_of(e: &Error) -> Option<Refusal> {
    Some(match e {
        Error::Deleted { .. } => Refusal::Deleted,
        Error::DuplicateEdge { .. } => Refusal::Duplicate,
        Error::Cycle { .. } => Refusal::Cycle,
        Error::NoSuchEdge { .. } => Refusal::NoSuchEdge,
        Error::HasLiveEdges { count, .. } => Refusal::HasLiveEdges(*count),
        _ => return None,
    })
}

impl State {
    fn index_of(&self, key: &NodeKey) -> usize {
        self.nodes.iter().position(|n| &n.key == key).expect("node known to the model")
    }

    fn next_version(&self, entity: &EntityKey) -> u64 {
        self.nodes.iter().filter(|n| n.key.entity() == *entity).map(|n| n.key.version).max().unwrap_or(0) + 1
    }

    /// Breadth-first distances from `start`, forwards or backwards, over live edges.
    fn walk(&self, start: usize, forwards: bool) -> BTreeMap<usize, u32> {
        let mut depth = BTreeMap::new();
        let mut queue = VecDeque::from([(start, 0u32)]);
        let mut seen = BTreeSet::from([start]);
        while let Some((node, d)) = queue.pop_front() {
            for &(from, to, _) in &self.edges {
                let (here, there) = if forwards { (from, to) } else { (to, from) };
                if here == node && seen.insert(there) {
                    depth.insert(there, d + 1);
                    queue.push_back((there, d + 1));
                }
            }
        }
        depth
    }

    fn reaches(&self, from: usize, to: usize) -> bool {
        from == to || self.walk(from, true).contains_key(&to)
    }

    fn has_edge(&self, from: &str, to: &str) -> bool {
        self.edges.iter().any(|&(f, t, _)| self.nodes[f].key.to_string() == from && self.nodes[t].key.to_string() == to)
    }

    /// Picks a node index: among live nodes, or among every node when `any`.
    fn pick(&self, seed: usize, any: bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.nodes.len()).filter(|&i| any || !self.nodes[i].deleted).collect();
        (!candidates.is_empty()).then(|| candidates[seed % candidates.len()])
    }

    fn live_edges_of(&self, node: usize) -> usize {
        self.edges.iter().filter(|&&(f, t, _)| f == node || t == node).count()
    }

    fn entities(&self) -> BTreeSet<EntityKey> {
        self.nodes.iter().map(|n| n.key.entity()).collect()
    }

    fn latest(&self, entity: &EntityKey) -> Option<&NodeKey> {
        self.nodes.iter().filter(|n| !n.deleted && n.key.entity() == *entity).map(|n| &n.key).max_by_key(|k| k.version)
    }
}

/// One run: the engine, the model's snapshots, and the open transaction.
struct Run<'db> {
    db: &'db Database,
    /// Transactions are bulk loads (one batch audit entry, `batch_audit`).
    batch: bool,
    tx: Option<WriteTx>,
    /// `snapshots[i]` is the state at snapshot `i + 1`.
    snapshots: Vec<State>,
    pending: State,
    dirty: bool,
    aborted: usize,
}

impl Run<'_> {
    fn committed(&self) -> State {
        self.snapshots.last().cloned().unwrap_or_default()
    }

    fn tx(&mut self) -> &mut WriteTx {
        if self.tx.is_none() {
            let mut tx = self.db.begin_write().expect("begin write");
            if self.batch {
                tx.batch_audit("bulk_load", serde_json::json!({})).expect("batch audit");
            }
            self.tx = Some(tx);
        }
        self.tx.as_mut().expect("open transaction")
    }

    /// The engine refused an operation: check the model refuses it the same
    /// way, then both drop the transaction.
    fn refused(&mut self, op: &Op, expected: Option<Refusal>, got: Error) {
        assert_eq!(refusal_of(&got), expected, "{op:?}: engine said {got}");
        let tx = self.tx.take().expect("open transaction");
        assert!(matches!(tx.commit(), Err(Error::Aborted { .. })), "a refused operation aborts the transaction");
        self.pending = self.committed();
        self.dirty = false;
        self.aborted += 1;
    }

    fn apply(&mut self, op: &Op) {
        let n = self.pending.nodes.len();
        match *op {
            Op::Create { ty, name } => {
                let entity = EntityKey::new(TYPES[ty], NAMES[name]).unwrap();
                let want = entity.version(self.pending.next_version(&entity));
                let got = self.tx().create_node(TYPES[ty], NAMES[name], Props::new()).expect("create never fails here");
                assert_eq!(got, want);
                self.pending.nodes.push(ModelNode { key: got, deleted: false });
                self.dirty = true;
            }
            Op::Link { from, to, label, forward } => {
                let (a, b) = if forward {
                    let live: Vec<usize> = (0..n).filter(|&i| !self.pending.nodes[i].deleted).collect();
                    if live.len() < 2 {
                        return;
                    }
                    let x = from % live.len();
                    let y = (x + 1 + to % (live.len() - 1)) % live.len();
                    (live[x.min(y)], live[x.max(y)])
                } else {
                    if n == 0 {
                        return;
                    }
                    (from % n, to % n)
                };
                let mut label = LABELS[label];
                if forward && self.pending.edges.contains(&(a, b, label)) {
                    // Prefer a new edge; a duplicate is still drawn when both labels exist.
                    label = LABELS[(LABELS.iter().position(|l| *l == label).unwrap_or(0) + 1) % LABELS.len()];
                }
                let expected = if self.pending.nodes[a].deleted || self.pending.nodes[b].deleted {
                    Some(Refusal::Deleted)
                } else if self.pending.edges.contains(&(a, b, label)) {
                    Some(Refusal::Duplicate)
                } else if self.pending.reaches(b, a) {
                    Some(Refusal::Cycle)
                } else {
                    None
                };
                let (ka, kb) = (self.pending.nodes[a].key.to_ref(), self.pending.nodes[b].key.to_ref());
                match self.tx().link(&ka, &kb, label, Props::new()) {
                    Ok(()) => {
                        assert_eq!(expected, None, "{op:?} was accepted");
                        self.pending.edges.insert((a, b, label));
                        self.dirty = true;
                    }
                    Err(e) => {
                        if let Error::Cycle { cycle, .. } = &e {
                            self.check_cycle(a, b, cycle);
                        }
                        self.refused(op, expected, e);
                    }
                }
            }
            Op::Unlink { edge, by_label, from, to } => {
                let live: Vec<(usize, usize, &str)> = self.pending.edges.iter().copied().collect();
                let (a, b, label) = if live.is_empty() {
                    if n == 0 {
                        return;
                    }
                    (from % n, to % n, None)
                } else {
                    let (a, b, l) = live[edge % live.len()];
                    (a, b, by_label.then_some(l))
                };
                let matching: Vec<(usize, usize, &'static str)> = self
                    .pending
                    .edges
                    .iter()
                    .copied()
                    .filter(|&(f, t, l)| f == a && t == b && label.is_none_or(|x| x == l))
                    .collect();
                let expected = if self.pending.nodes[a].deleted || self.pending.nodes[b].deleted {
                    Some(Refusal::Deleted)
                } else if matching.is_empty() {
                    Some(Refusal::NoSuchEdge)
                } else {
                    None
                };
                let (ka, kb) = (self.pending.nodes[a].key.to_ref(), self.pending.nodes[b].key.to_ref());
                match self.tx().unlink(&ka, &kb, label) {
                    Ok(count) => {
                        assert_eq!(expected, None, "{op:?} was accepted");
                        assert_eq!(count, matching.len());
                        for e in matching {
                            self.pending.edges.remove(&e);
                        }
                        self.dirty = true;
                    }
                    Err(e) => self.refused(op, expected, e),
                }
            }
            Op::Delete { node, detach, any } => {
                let Some(i) = self.pending.pick(node, any) else { return };
                let edges = self.pending.live_edges_of(i);
                let expected = if self.pending.nodes[i].deleted {
                    Some(Refusal::Deleted)
                } else if edges > 0 && !detach {
                    Some(Refusal::HasLiveEdges(edges))
                } else {
                    None
                };
                let key = self.pending.nodes[i].key.clone();
                match self.tx().delete(&key.to_ref(), detach) {
                    Ok(deleted) => {
                        assert_eq!(expected, None, "{op:?} was accepted");
                        assert_eq!(deleted, key);
                        self.pending.nodes[i].deleted = true;
                        self.pending.edges.retain(|&(f, t, _)| f != i && t != i);
                        self.dirty = true;
                        // Inside the open transaction, the entity's latest
                        // live version is what the model says (its versions
                        // may be stored, buffered, or both).
                        let entity = key.entity();
                        let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest).unwrap();
                        let want = self.pending.latest(&entity).cloned();
                        match (self.tx().resolve(&latest), want) {
                            (Ok(got), Some(want)) => assert_eq!(got, want, "latest of {entity} in the transaction"),
                            (Err(Error::NoSuchNode { .. } | Error::Deleted { .. }), None) => {}
                            (got, want) => {
                                panic!("latest of {entity} in the transaction: engine {got:?}, model {want:?}")
                            }
                        }
                    }
                    Err(e) => self.refused(op, expected, e),
                }
            }
            Op::Promote { node, alias, any } => {
                let Some(i) = self.pending.pick(node, any) else { return };
                let key = self.pending.nodes[i].key.clone();
                let slot = (key.entity(), ALIASES[alias].to_owned());
                let expected = if self.pending.nodes[i].deleted { Some(Refusal::Deleted) } else { None };
                let previous = self.committed().aliases.get(&slot).copied();
                match self.tx().promote(&key.to_ref(), ALIASES[alias], None) {
                    Ok(prev) => {
                        assert_eq!(expected, None, "{op:?} was accepted");
                        assert_eq!(prev, previous, "the previous holder is the one at the last snapshot");
                        self.pending.aliases.insert(slot, key.version);
                        self.dirty = true;
                    }
                    Err(e) => self.refused(op, expected, e),
                }
            }
            Op::Commit => self.commit(),
        }
    }

    fn commit(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        let id = tx.commit().expect("commit");
        if self.dirty {
            self.snapshots.push(self.pending.clone());
        }
        assert_eq!(id, self.snapshots.len() as u64, "snapshot ids count the commits that changed something");
        self.dirty = false;
        // Warm the handle's cache at the new head.
        if let Ok(read) = self.db.begin_read() {
            for node in self.pending.nodes.iter().filter(|n| !n.deleted).take(4) {
                read.ancestors(&node.key.to_ref()).collect().expect("warm read");
                read.descendants(&node.key.to_ref()).collect().expect("warm read");
            }
        }
    }

    /// The cycle the engine names starts and ends at the new edge's source,
    /// goes through its target, and follows live edges of the transaction.
    fn check_cycle(&self, a: usize, b: usize, cycle: &[String]) {
        let (ka, kb) = (self.pending.nodes[a].key.to_string(), self.pending.nodes[b].key.to_string());
        assert!(cycle.len() >= 2, "{cycle:?}");
        assert_eq!(cycle.first(), Some(&ka));
        assert_eq!(cycle.last(), Some(&ka));
        assert_eq!(cycle[1], kb);
        for pair in cycle[1..].windows(2) {
            assert!(self.pending.has_edge(&pair[0], &pair[1]), "{cycle:?}: {} -> {} is not an edge", pair[0], pair[1]);
        }
    }
}

fn keyed(state: &State, depths: BTreeMap<usize, u32>) -> BTreeSet<(String, u32)> {
    depths.into_iter().map(|(i, d)| (state.nodes[i].key.to_string(), d)).collect()
}

fn engine_walk(read: &ReadTx, key: &NodeKey, forwards: bool) -> Result<BTreeSet<(String, u32)>, Error> {
    let walk = if forwards { read.descendants(&key.to_ref()) } else { read.ancestors(&key.to_ref()) };
    let found = walk.collect()?;
    Ok(found.iter().map(|x| (x.node.key.to_string(), x.depth)).collect())
}

/// Every read at snapshot `s` agrees with the model's state then.
fn check_snapshot(db: &Database, s: u64, state: &State) {
    let read = db.begin_read_at(s).expect("read at snapshot");
    let live: BTreeSet<NodeKey> = state.nodes.iter().filter(|n| !n.deleted).map(|n| n.key.clone()).collect();
    let found: BTreeSet<NodeKey> = read.find(None).unwrap().into_iter().map(|n| n.key).collect();
    assert_eq!(found, live, "nodes at snapshot {s}");

    for (i, node) in state.nodes.iter().enumerate() {
        if node.deleted {
            assert!(matches!(read.ancestors(&node.key.to_ref()).collect(), Err(Error::Deleted { .. })));
            continue;
        }
        let up = engine_walk(&read, &node.key, false).unwrap();
        assert_eq!(up, keyed(state, state.walk(i, false)), "ancestors of {} at snapshot {s}", node.key);
        let down = engine_walk(&read, &node.key, true).unwrap();
        assert_eq!(down, keyed(state, state.walk(i, true)), "descendants of {} at snapshot {s}", node.key);
        let detail = read.node_detail(&node.key.to_ref()).unwrap();
        let out: BTreeSet<(String, String)> =
            detail.outgoing.iter().map(|e| (e.to.to_string(), e.label.clone())).collect();
        let want: BTreeSet<(String, String)> = state
            .edges
            .iter()
            .filter(|e| e.0 == i)
            .map(|&(_, t, l)| (state.nodes[t].key.to_string(), l.to_owned()))
            .collect();
        assert_eq!(out, want, "out-edges of {} at snapshot {s}", node.key);
    }

    // Shortest paths between a few live pairs.
    let live_idx: Vec<usize> = (0..state.nodes.len()).filter(|&i| !state.nodes[i].deleted).collect();
    for (x, &a) in live_idx.iter().enumerate().take(5) {
        for &b in live_idx.iter().skip(x + 1).take(5) {
            let distance = state.walk(a, true).get(&b).copied();
            let path = read.path(&state.nodes[a].key.to_ref(), &state.nodes[b].key.to_ref()).unwrap();
            assert_eq!(path.map(|p| p.nodes.len() as u32 - 1), distance, "path at snapshot {s}");
        }
    }

    for entity in state.entities() {
        let latest = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Latest).unwrap();
        match (read.resolve(&latest), state.latest(&entity)) {
            (Ok(got), Some(want)) => assert_eq!(&got, want, "latest of {entity} at snapshot {s}"),
            (Err(Error::NoSuchNode { .. }), None) => {}
            (got, want) => panic!("latest of {entity} at snapshot {s}: engine {got:?}, model {want:?}"),
        }
        let want_aliases: BTreeMap<String, u64> = state
            .aliases
            .iter()
            .filter(|((e, _), _)| *e == entity)
            .map(|((_, alias), v)| (alias.clone(), *v))
            .collect();
        assert_eq!(read.aliases(&entity).unwrap(), want_aliases, "aliases of {entity} at snapshot {s}");
        for alias in ALIASES {
            let by_alias = NodeRef::new(&entity.type_name, &entity.name, VersionSel::Alias(alias.to_owned())).unwrap();
            let holder = want_aliases.get(alias).map(|v| entity.version(*v));
            let holder_deleted = holder.as_ref().map(|k| state.nodes[state.index_of(k)].deleted);
            match (read.resolve(&by_alias), holder, holder_deleted) {
                (Ok(got), Some(want), Some(false)) => assert_eq!(got, want),
                (Err(Error::Deleted { .. }), Some(_), Some(true)) => {}
                (Err(Error::NoSuchAlias { .. }), None, None) => {}
                (got, want, _) => panic!("{by_alias} at snapshot {s}: engine {got:?}, model {want:?}"),
            }
        }
    }
}

/// Applies `ops` twice: with plain transactions, and as bulk loads whose
/// write buffers are so small that every transaction writes its new nodes
/// and blocks to redb several times before it commits.
fn run(ops: &[Op]) {
    run_with(ops, false, None);
    run_with(ops, true, Some(100));
}

fn run_with(ops: &[Op], batch: bool, write_buffer: Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let builder = match write_buffer {
        Some(bytes) => Database::builder().write_buffer(bytes),
        None => Database::builder(),
    };
    let db = builder.create(&path).unwrap();
    let mut run =
        Run { db: &db, batch, tx: None, snapshots: Vec::new(), pending: State::default(), dirty: false, aborted: 0 };
    for op in ops {
        run.apply(op);
    }
    run.commit();
    let snapshots = std::mem::take(&mut run.snapshots);
    assert!(run.aborted <= ops.len());
    drop(run);

    // The warm handle that did the writes, oldest snapshot first.
    for (i, state) in snapshots.iter().enumerate() {
        check_snapshot(&db, i as u64 + 1, state);
    }
    let report = db.begin_read().unwrap().verify().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(db);
    // A fresh handle on the same file, newest snapshot first.
    let fresh = Database::open(&path).unwrap();
    assert_eq!(fresh.begin_read().unwrap().latest_snapshot(), snapshots.len() as u64);
    for (i, state) in snapshots.iter().enumerate().rev() {
        check_snapshot(&fresh, i as u64 + 1, state);
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn engine_agrees_with_an_in_memory_model_at_every_snapshot(ops in prop::collection::vec(op(), 8..=40)) {
        run(&ops);
    }
}

/// A fixed sequence that exercises every refusal, so the model test never
/// depends on the generator happening to draw them.
#[test]
fn a_scripted_sequence_with_every_kind_of_refusal_agrees_with_the_model() {
    let create = |ty, name| Op::Create { ty, name };
    let ops = vec![
        create(0, 0), // dataset:a@1 (0)
        create(1, 0), // run:a@1 (1)
        create(2, 0), // model:a@1 (2)
        Op::Link { from: 0, to: 1, label: 0, forward: false },
        Op::Link { from: 1, to: 2, label: 1, forward: false },
        Op::Commit,
        Op::Link { from: 2, to: 0, label: 0, forward: false }, // cycle
        Op::Link { from: 0, to: 1, label: 0, forward: false }, // duplicate
        Op::Delete { node: 1, detach: false, any: true },      // live edges
        Op::Promote { node: 2, alias: 0, any: true },
        Op::Commit,
        create(2, 0), // model:a@2 (3)
        Op::Promote { node: 3, alias: 0, any: true },
        Op::Delete { node: 1, detach: true, any: true },
        Op::Commit,
        Op::Link { from: 1, to: 3, label: 0, forward: false }, // deleted endpoint
        Op::Unlink { edge: 0, by_label: false, from: 0, to: 2 }, // no live edge left: random pair
        Op::Delete { node: 1, detach: true, any: true },       // deleted already
        create(1, 1),                                          // run:b@1 (4)
        Op::Promote { node: 2, alias: 1, any: true },
        Op::Link { from: 0, to: 3, label: 0, forward: false },
        Op::Unlink { edge: 0, by_label: true, from: 0, to: 0 },
        Op::Commit,
    ];
    run(&ops);
}
