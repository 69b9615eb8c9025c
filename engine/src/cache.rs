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

use std::sync::Arc;

use parking_lot::RwLock;

use crate::storage::codec::{AdjEntry, Dir, NodeId, SnapshotId};

/// Default memory budget of the cache: 256 MiB.
pub const DEFAULT_CACHE_BUDGET: usize = 256 << 20;

type List = Arc<[AdjEntry]>;

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    out: Vec<Option<List>>,
    inn: Vec<Option<List>>,
    pub(crate) latest_known: SnapshotId,
    bytes: usize,
}

impl CacheState {
    #[inline]
    pub(crate) fn get(&self, dir: Dir, node: NodeId) -> Option<&List> {
        let slots = match dir {
            Dir::Out => &self.out,
            Dir::In => &self.inn,
        };
        slots.get(node as usize).and_then(Option::as_ref)
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

    /// Read access for one level of a traversal.
    pub(crate) fn read(&self) -> parking_lot::RwLockReadGuard<'_, CacheState> {
        self.state.read()
    }

    /// Inserts lists read by a reader whose redb state is `head`.
    pub(crate) fn insert(&self, head: SnapshotId, dir: Dir, lists: Vec<(NodeId, List)>) {
        if self.budget == 0 || lists.is_empty() {
            return;
        }
        let mut state = self.state.write();
        if head < state.latest_known {
            return;
        }
        for (node, list) in lists {
            let size = list.len() * std::mem::size_of::<AdjEntry>() + 64;
            if state.bytes + size > self.budget {
                // Over budget: start again rather than track recency. A
                // traversal re-warms what it needs; memory stays bounded.
                state.out = Vec::new();
                state.inn = Vec::new();
                state.bytes = 0;
            }
            let slots = match dir {
                Dir::Out => &mut state.out,
                Dir::In => &mut state.inn,
            };
            let index = node as usize;
            if slots.len() <= index {
                slots.resize(index + 1, None);
            }
            if slots[index].replace(list).is_none() {
                state.bytes += size;
            }
        }
    }

    /// Called by the writer after committing `snapshot`.
    pub(crate) fn committed(&self, snapshot: SnapshotId, touched: impl IntoIterator<Item = NodeId>) {
        let mut state = self.state.write();
        let mut freed = 0;
        for node in touched {
            let index = node as usize;
            let CacheState { out, inn, .. } = &mut *state;
            for slots in [out, inn] {
                if let Some(list) = slots.get_mut(index).and_then(Option::take) {
                    freed += list.len() * std::mem::size_of::<AdjEntry>() + 64;
                }
            }
        }
        state.bytes = state.bytes.saturating_sub(freed);
        state.latest_known = state.latest_known.max(snapshot);
    }
}
