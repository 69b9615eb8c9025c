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

/// Slots per page: cached lists are indexed by node id in pages allocated on
/// first use, so memory follows the nodes touched, not the largest id.
const PAGE: usize = 256;

/// Node id -> cached list, in pages of `PAGE` slots.
#[derive(Debug, Default)]
struct Slots {
    pages: Vec<Option<Box<[Option<List>]>>>,
}

impl Slots {
    #[inline]
    fn get(&self, node: NodeId) -> Option<&List> {
        let (page, slot) = (node as usize / PAGE, node as usize % PAGE);
        self.pages.get(page)?.as_ref()?[slot].as_ref()
    }

    /// Stores `list`; returns the list it replaced.
    fn insert(&mut self, node: NodeId, list: List) -> Option<List> {
        let (page, slot) = (node as usize / PAGE, node as usize % PAGE);
        if self.pages.len() <= page {
            self.pages.resize_with(page + 1, || None);
        }
        let page = self.pages[page].get_or_insert_with(|| vec![None; PAGE].into_boxed_slice());
        page[slot].replace(list)
    }

    fn remove(&mut self, node: NodeId) -> Option<List> {
        let (page, slot) = (node as usize / PAGE, node as usize % PAGE);
        self.pages.get_mut(page)?.as_mut()?[slot].take()
    }
}

#[derive(Debug, Default)]
pub(crate) struct CacheState {
    out: Slots,
    inn: Slots,
    pub(crate) latest_known: SnapshotId,
    bytes: usize,
}

impl CacheState {
    #[inline]
    pub(crate) fn get(&self, dir: Dir, node: NodeId) -> Option<&List> {
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
                state.out = Slots::default();
                state.inn = Slots::default();
                state.bytes = 0;
            }
            let slots = match dir {
                Dir::Out => &mut state.out,
                Dir::In => &mut state.inn,
            };
            if slots.insert(node, list).is_none() {
                state.bytes += size;
            }
        }
    }

    /// Called by the writer after committing `snapshot`.
    pub(crate) fn committed(&self, snapshot: SnapshotId, touched: impl IntoIterator<Item = NodeId>) {
        let mut state = self.state.write();
        let mut freed = 0;
        for node in touched {
            let CacheState { out, inn, .. } = &mut *state;
            for slots in [out, inn] {
                if let Some(list) = slots.remove(node) {
                    freed += list.len() * std::mem::size_of::<AdjEntry>() + 64;
                }
            }
        }
        state.bytes = state.bytes.saturating_sub(freed);
        state.latest_known = state.latest_known.max(snapshot);
    }
}
