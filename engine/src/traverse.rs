//! Breadth-first walks over the adjacency at a snapshot: the hot path of
//! `ANCESTORS`, `DESCENDANTS`, `LINEAGE` and `PATH`.
//!
//! The walk goes level by level under the cache's read lock, held across
//! levels until a level misses: it walks every frontier node whose adjacency
//! is cached and collects the misses; those are read from redb (one range
//! scan each, with the lock released) and offered to the cache in one batch. Visited nodes are a bitset indexed
//! by the dense node id. There is no depth cap: memory grows with what the
//! walk returns, not with how deep it goes.

use std::ops::ControlFlow;

use crate::cache::AdjCache;
use crate::error::Result;
use crate::storage::StoreRead;
use crate::storage::codec::{AdjEntry, Dir, NodeId, SnapshotId};

/// Where and how to walk.
pub(crate) struct Walk<'a> {
    pub tables: &'a dyn StoreRead,
    pub cache: &'a AdjCache,
    /// The redb state the tables see (the newest snapshot in them).
    pub head: SnapshotId,
    /// The snapshot being read.
    pub at: SnapshotId,
    /// One past the largest node id in the tables.
    pub id_bound: NodeId,
    pub dir: Dir,
    pub max_depth: Option<u32>,
    /// Only follow edges with these label ids (`None`: every label).
    pub labels: Option<Vec<u32>>,
}

/// A dense bitset over node ids.
pub(crate) struct Visited {
    words: Vec<u64>,
}

impl Visited {
    pub(crate) fn new(bound: NodeId) -> Visited {
        Visited { words: vec![0; (bound as usize).div_ceil(64) + 1] }
    }

    /// Marks `id`; true if it was not marked before.
    #[inline]
    pub(crate) fn insert(&mut self, id: NodeId) -> bool {
        let (w, b) = ((id / 64) as usize, id % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let mask = 1u64 << b;
        let fresh = self.words[w] & mask == 0;
        self.words[w] |= mask;
        fresh
    }
}

impl Walk<'_> {
    /// Walks from `start`. `visit(from, entry, depth)` is called for every
    /// visible edge leaving a reached node (in the walk's direction), with
    /// `depth` the distance of `entry.neighbor` if it is newly reached and
    /// `None` if it was reached before. Returning `Break` stops the walk.
    pub(crate) fn run(
        &self,
        start: NodeId,
        mut visit: impl FnMut(NodeId, &AdjEntry, Option<u32>) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut visited = Visited::new(self.id_bound);
        visited.insert(start);
        let mut frontier = vec![start];
        let mut next = Vec::new();
        let mut misses = Vec::new();
        let mut depth = 0u32;
        let mut guard = None;
        let label_ok = |e: &AdjEntry| self.labels.as_ref().is_none_or(|ls| ls.contains(&e.label));
        while !frontier.is_empty() {
            if self.max_depth.is_some_and(|max| depth >= max) {
                break;
            }
            let child_depth = depth + 1;
            let mut step =
                |from: NodeId, list: &[AdjEntry], next: &mut Vec<NodeId>, visited: &mut Visited| -> ControlFlow<()> {
                    for e in list {
                        if !e.visible_at(self.at) || !label_ok(e) {
                            continue;
                        }
                        let fresh = visited.insert(e.neighbor);
                        if fresh {
                            next.push(e.neighbor);
                        }
                        visit(from, e, fresh.then_some(child_depth))?;
                    }
                    ControlFlow::Continue(())
                };
            {
                // The read lock is held across levels until a level misses,
                // so a walk down a long chain locks once, not once per hop.
                let cached = guard.get_or_insert_with(|| self.cache.read());
                let usable = self.head <= cached.latest_known;
                for &node in &frontier {
                    match cached.get(self.dir, node).filter(|_| usable) {
                        Some(list) => {
                            if step(node, list, &mut next, &mut visited).is_break() {
                                return Ok(());
                            }
                        }
                        None => misses.push(node),
                    }
                }
            }
            if !misses.is_empty() {
                guard = None;
                let mut loaded = Vec::with_capacity(misses.len());
                let mut stop = false;
                for &node in &misses {
                    let list = self.tables.adjacency(node, self.dir)?;
                    if !stop && step(node, &list, &mut next, &mut visited).is_break() {
                        stop = true;
                    }
                    loaded.push((node, list));
                }
                self.cache.insert(self.head, self.dir, &loaded);
                misses.clear();
                if stop {
                    return Ok(());
                }
            }
            std::mem::swap(&mut frontier, &mut next);
            next.clear();
            depth = child_depth;
        }
        Ok(())
    }
}

impl Walk<'_> {
    /// A shortest path `start -> ... -> goal` in the walk's direction: the
    /// node ids from start to goal and the label id of each step.
    pub(crate) fn shortest_path(&self, start: NodeId, goal: NodeId) -> Result<Option<(Vec<NodeId>, Vec<u32>)>> {
        if start == goal {
            return Ok(Some((vec![start], Vec::new())));
        }
        let mut parent: std::collections::HashMap<NodeId, (NodeId, u32)> = std::collections::HashMap::new();
        let mut found = false;
        self.run(start, |from, e, depth| {
            if depth.is_some() {
                parent.insert(e.neighbor, (from, e.label));
                if e.neighbor == goal {
                    found = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })?;
        if !found {
            return Ok(None);
        }
        let mut ids = vec![goal];
        let mut labels = Vec::new();
        let mut cur = goal;
        while cur != start {
            let (p, label) = parent[&cur];
            labels.push(label);
            ids.push(p);
            cur = p;
        }
        ids.reverse();
        labels.reverse();
        Ok(Some((ids, labels)))
    }
}
