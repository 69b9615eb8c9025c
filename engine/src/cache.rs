//! The warm handle's adjacency cache.
//!
//! A traversal reads each node's adjacency once from redb (one range scan),
//! decodes it into a compact array and keeps it here, so later traversals on
//! the same `Database` handle walk memory instead of descending B-trees.
//! Entries keep every edge of every snapshot with its validity interval, so
//! one cached list answers reads at any snapshot.
//!
//! Consistency rule: the writer, after each commit of snapshot `N`, drops the
//! lists of the nodes it touched and sets `latest_known = N`. A reader whose
//! redb transaction sees state `head` may *use* a cached list only if
//! `head <= latest_known` (every commit it can see has been applied to the
//! cache), and may *insert* a list it read only if `head >= latest_known` (no
//! commit it cannot see has been applied, so its list is not stale). Lists are
//! only ever dropped, never patched, so no reader sees a half-updated list.

use parking_lot::RwLock;

use crate::storage::codec::{AdjEntry, Dir, NodeId, SnapshotId};

/// Default memory budget of the cache: 256 MiB.
pub const DEFAULT_CACHE_BUDGET: usize = 256 << 20;

/// Node id -> cached list, with every list in one arena. `index[node]` is
/// `(offset + 1, len)` into `arena` (`offset + 1 == 0`: not cached). The
/// index is allocated zeroed (`calloc`), so the operating system maps its
/// pages only when they are written: memory follows the nodes cached, not the
/// largest node id. A lookup is two reads from two flat arrays; a dropped list
/// leaves its entries in the arena until the next reset.
#[derive(Debug, Default)]
struct Slots {
    index: Vec<[u32; 2]>,
    arena: Vec<AdjEntry>,
}

impl Slots {
    #[inline]
    fn get(&self, node: NodeId) -> Option<&[AdjEntry]> {
        let [start, len] = *self.index.get(node as usize)?;
        if start == 0 {
            return None;
        }
        let start = start as usize - 1;
        self.arena.get(start..start + len as usize)
    }

    /// Stores `list`; false when the arena cannot address it (the caller resets).
    fn insert(&mut self, node: NodeId, list: &[AdjEntry]) -> bool {
        let (Ok(start), Ok(len)) = (u32::try_from(self.arena.len() + 1), u32::try_from(list.len())) else {
            return false;
        };
        if start.checked_add(len).is_none() {
            return false;
        }
        let node = node as usize;
        if self.index.len() <= node {
            let mut grown = vec![[0u32; 2]; (node + 1).max(self.index.len() * 2)];
            grown[..self.index.len()].copy_from_slice(&self.index);
            self.index = grown;
        }
        self.arena.extend_from_slice(list);
        self.index[node] = [start, len];
        true
    }

    fn remove(&mut self, node: NodeId) {
        if let Some(slot) = self.index.get_mut(node as usize) {
            *slot = [0, 0];
        }
    }

    fn bytes(&self) -> usize {
        self.arena.len() * std::mem::size_of::<AdjEntry>()
    }
}

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    out: Slots,
    inn: Slots,
    /// Remembered query starts by exact key (`version_key` bytes), see
    /// `AdjCache::start`.
    starts: rustc_hash::FxHashMap<Box<[u8]>, StartNode>,
    pub(crate) latest_known: SnapshotId,
}

/// Query starts remembered before the map is cleared.
const STARTS_CAPACITY: usize = 1 << 16;

impl CacheState {
    #[inline]
    pub(crate) fn get(&self, dir: Dir, node: NodeId) -> Option<&[AdjEntry]> {
        match dir {
            Dir::Out => self.out.get(node),
            Dir::In => self.inn.get(node),
        }
    }
}

/// The cache shared by every clone of a `Database`.
#[derive(Debug)]
pub(crate) struct AdjCache {
    state: RwLock<CacheState>,
    budget: usize,
}

impl AdjCache {
    pub(crate) fn new(budget: usize, latest_known: SnapshotId) -> AdjCache {
        AdjCache { state: RwLock::new(CacheState { latest_known, ..CacheState::default() }), budget }
    }

    /// Read access for a traversal.
    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, CacheState> {
        self.state.read()
    }

    /// Inserts lists read by a reader whose redb state is `head`.
    pub(crate) fn insert(&self, head: SnapshotId, dir: Dir, lists: &[(NodeId, Vec<AdjEntry>)]) {
        if self.budget == 0 || lists.is_empty() {
            return;
        }
        let mut state = self.state.write();
        if head < state.latest_known {
            return;
        }
        for (node, list) in lists {
            let size = std::mem::size_of_val(list.as_slice());
            let full = state.out.bytes() + state.inn.bytes() + size > self.budget;
            let slots = match dir {
                Dir::Out => &mut state.out,
                Dir::In => &mut state.inn,
            };
            if full || !slots.insert(*node, list) {
                // Over budget: start again rather than track recency. A
                // traversal re-warms what it needs; memory stays bounded.
                state.out = Slots::default();
                state.inn = Slots::default();
                let slots = match dir {
                    Dir::Out => &mut state.out,
                    Dir::In => &mut state.inn,
                };
                if size <= self.budget {
                    slots.insert(*node, list);
                }
            }
        }
    }

    /// The remembered start for exact key `key`, for a reader whose redb
    /// state is `head` (same rule as the lists).
    pub(crate) fn start(&self, head: SnapshotId, key: &[u8]) -> Option<StartNode> {
        let state = self.state.read();
        if head > state.latest_known {
            return None;
        }
        state.starts.get(key).copied()
    }

    /// Remembers a start read by a reader whose redb state is `head`.
    pub(crate) fn remember_start(&self, head: SnapshotId, key: &[u8], node: StartNode) {
        let mut state = self.state.write();
        if head < state.latest_known {
            return;
        }
        if state.starts.len() >= STARTS_CAPACITY {
            state.starts.clear();
        }
        state.starts.insert(key.into(), node);
    }

    /// Called by the writer after committing `snapshot`. `deleted_nodes`:
    /// the commit deleted nodes, so remembered starts (whose lifetime may
    /// have changed) are forgotten.
    pub(crate) fn committed(
        &self,
        snapshot: SnapshotId,
        touched: impl IntoIterator<Item = NodeId>,
        deleted_nodes: bool,
    ) {
        let mut state = self.state.write();
        for node in touched {
            state.out.remove(node);
            state.inn.remove(node);
        }
        if deleted_nodes {
            state.starts.clear();
        }
        state.latest_known = state.latest_known.max(snapshot);
    }
}

/// A remembered query start: what resolving an exact key needs from its
/// node. A committed key names the same node forever (keys are never removed,
/// ids never reused) and only `deleted_in` of a node ever changes, so the
/// writer forgets all starts after a commit that deleted nodes; the lists'
/// consistency rule (use if `head <= latest_known`, insert if
/// `head >= latest_known`) applies unchanged. A reader still checks that the
/// id is below its own id bound and the node is visible at its snapshot, and
/// resolves through the tables otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StartNode {
    pub(crate) id: NodeId,
    pub(crate) created_in: SnapshotId,
    pub(crate) deleted_in: Option<SnapshotId>,
}

impl StartNode {
    pub(crate) fn visible_at(&self, at: SnapshotId) -> bool {
        self.created_in <= at && self.deleted_in.is_none_or(|d| d > at)
    }
}
