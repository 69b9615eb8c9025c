//! Batch-digest hashing while a bulk load is still creating and linking.
//!
//! A batch audit entry covers a digest of every node and edge its
//! transaction created (`docs/design.md`, "Audit log"): one SHA-256 per new
//! node record and per new edge. Computed at commit, that hashing competes
//! with the commit's own work for the machine's cores, while during the
//! creates and links before it a second core is idle. So the write
//! transaction hands new records and buffered edges to a worker thread in
//! chunks as they are made, and at commit only the last partial chunk is
//! left. The digest is the same as hashing everything at commit: node hashes
//! are fed in id order (the order records are created), edge hashes are
//! returned sorted by key.
//!
//! Small transactions never fill a chunk and start no thread: what they
//! hold is hashed on the committing thread.

use std::sync::mpsc;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::storage::codec::{AdjKey, NodeId};
use crate::value::Props;
use crate::verify::{EdgeHash, edge_content_hash, encoded_node_hash};

/// Nodes or edges per chunk handed to the worker.
const CHUNK: usize = 4096;

/// Encoded node records with consecutive ids from `first`; record `i` is
/// `bytes[ends[i - 1]..ends[i]]`.
#[derive(Default)]
struct NodeChunk {
    first: NodeId,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl NodeChunk {
    fn hash_into(&self, digest: &mut Sha256) {
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            digest.update(encoded_node_hash(self.first + i as u64, &self.bytes[start..end]));
            start = end;
        }
    }
}

enum Msg {
    Nodes(NodeChunk),
    Edges(Vec<(AdjKey, Props)>),
    /// The edges sent so far were written another way: drop their hashes.
    ForgetEdges,
}

/// What the worker computed: the node digest so far and the edge hashes.
type Done = Result<(Sha256, Vec<EdgeHash>)>;

struct Worker {
    sender: mpsc::Sender<Msg>,
    handle: JoinHandle<Done>,
}

fn hash_edges(edges: &[(AdjKey, Props)], out: &mut Vec<EdgeHash>) -> Result<()> {
    for (key, props) in edges {
        out.push((*key, edge_content_hash(key, props)?));
    }
    Ok(())
}

/// The batch digest's hashing, fed as the transaction goes.
#[derive(Default)]
pub struct Prehasher {
    /// Whether a node digest was started.
    started: bool,
    /// The node digest, while it is fed here (no worker yet).
    nodes: Option<Sha256>,
    chunk: NodeChunk,
    edges: Vec<(AdjKey, Props)>,
    worker: Option<Worker>,
}

impl Prehasher {
    /// Starts a node digest: every node added from now on is fed into it.
    pub fn start_nodes(&mut self) {
        self.started = true;
        self.nodes = Some(Sha256::default());
    }

    fn worker(&mut self) -> &mpsc::Sender<Msg> {
        let nodes = &mut self.nodes;
        &self
            .worker
            .get_or_insert_with(|| {
                let (sender, receiver) = mpsc::channel::<Msg>();
                let mut digest = nodes.take().unwrap_or_default();
                let handle = std::thread::spawn(move || -> Done {
                    let mut edges = Vec::new();
                    for msg in receiver {
                        match msg {
                            Msg::Nodes(chunk) => chunk.hash_into(&mut digest),
                            Msg::Edges(chunk) => hash_edges(&chunk, &mut edges)?,
                            Msg::ForgetEdges => edges.clear(),
                        }
                    }
                    edges.sort_unstable_by_key(|(key, _)| *key);
                    Ok((digest, edges))
                });
                Worker { sender, handle }
            })
            .sender
    }

    fn send(&mut self, msg: Msg) {
        // A worker that stopped (an error or a panic) is reported by `Closing::join`.
        let _ = self.worker().send(msg);
    }

    /// Feeds a new node record into the node digest, if one was started
    /// (ids consecutive from the first one fed).
    pub fn add_node(&mut self, id: NodeId, record: &[u8]) {
        if !self.started {
            return;
        }
        if self.chunk.ends.is_empty() {
            self.chunk.first = id;
        }
        debug_assert_eq!(id, self.chunk.first + self.chunk.ends.len() as u64);
        self.chunk.bytes.extend_from_slice(record);
        self.chunk.ends.push(self.chunk.bytes.len());
        if self.chunk.ends.len() >= CHUNK {
            let chunk = std::mem::take(&mut self.chunk);
            self.send(Msg::Nodes(chunk));
        }
    }

    /// Adds a buffered edge to hash.
    pub fn add_edge(&mut self, key: AdjKey, props: &Props) {
        self.edges.push((key, props.clone()));
        if self.edges.len() >= CHUNK {
            let chunk = std::mem::take(&mut self.edges);
            self.send(Msg::Edges(chunk));
        }
    }

    /// Forgets the edges added so far (they were written and are hashed
    /// with the transaction's other edges).
    pub fn forget_edges(&mut self) {
        self.edges.clear();
        if self.worker.is_some() {
            self.send(Msg::ForgetEdges);
        }
    }

    /// Hands what is left to the worker, if one was started, and lets it
    /// finish while the caller goes on; `Closing::join` gives the result.
    pub fn close(mut self) -> Closing {
        if self.worker.is_some() {
            if !self.chunk.ends.is_empty() {
                let chunk = std::mem::take(&mut self.chunk);
                self.send(Msg::Nodes(chunk));
            }
            if !self.edges.is_empty() {
                let edges = std::mem::take(&mut self.edges);
                self.send(Msg::Edges(edges));
            }
        }
        // Dropping the worker's sender ends its loop once it has drained it.
        let worker = self.worker.take().map(|w| w.handle);
        Closing { rest: self, worker }
    }
}

/// A `Prehasher` whose worker, if any, is finishing.
pub struct Closing {
    rest: Prehasher,
    worker: Option<JoinHandle<Done>>,
}

impl Closing {
    /// The node digest (if one was started) and the content hashes of the
    /// edges added since the last `forget_edges`, sorted by key.
    pub fn join(self) -> Result<(Option<[u8; 32]>, Vec<EdgeHash>)> {
        let Closing { mut rest, worker } = self;
        let (mut digest, mut edges) = match worker {
            Some(handle) => {
                let (digest, edges) =
                    handle.join().map_err(|_| Error::Storage("the batch hashing thread panicked".into()))??;
                (digest, edges)
            }
            None => (rest.nodes.take().unwrap_or_default(), Vec::new()),
        };
        // Without a worker, what was added is hashed here (with one, all of
        // it was sent).
        rest.chunk.hash_into(&mut digest);
        if !rest.edges.is_empty() {
            hash_edges(&rest.edges, &mut edges)?;
            edges.sort_unstable_by_key(|(key, _)| *key);
        }
        Ok((rest.started.then(|| digest.finalize().into()), edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::codec::adj_key;

    fn expected(first: NodeId, records: &[Vec<u8>], edges: &[(AdjKey, Props)]) -> ([u8; 32], Vec<EdgeHash>) {
        let mut digest = Sha256::default();
        for (i, r) in records.iter().enumerate() {
            digest.update(encoded_node_hash(first + i as u64, r));
        }
        let mut hashes: Vec<EdgeHash> = edges.iter().map(|(k, p)| (*k, edge_content_hash(k, p).unwrap())).collect();
        hashes.sort_unstable_by_key(|(k, _)| *k);
        (digest.finalize().into(), hashes)
    }

    #[test]
    fn chunked_hashing_equals_hashing_at_the_end() {
        for n in [0, 1, CHUNK - 1, CHUNK, 2 * CHUNK + 17] {
            let records: Vec<Vec<u8>> = (0..n).map(|i| format!("record {i}").into_bytes()).collect();
            let mut props = Props::new();
            props.insert("rows".into(), crate::value::Value::Int(3));
            // Keys in descending order: the result must come back sorted.
            let edges: Vec<(AdjKey, Props)> = (0..n as u64)
                .map(|i| (adj_key(1_000_000 - i, i, 1, 2), if i % 3 == 0 { props.clone() } else { Props::new() }))
                .collect();
            let mut p = Prehasher::default();
            p.start_nodes();
            // Edges added and then written another way are not returned.
            for i in 0..(n as u64 % 50) {
                p.add_edge(adj_key(i, i + 1, 9, 9), &Props::new());
            }
            p.forget_edges();
            for (i, r) in records.iter().enumerate() {
                p.add_node(7 + i as u64, r);
            }
            for (k, props) in &edges {
                p.add_edge(*k, props);
            }
            assert_eq!(p.worker.is_some(), n >= CHUNK, "n = {n}");
            let (digest, hashes) = p.close().join().unwrap();
            let (want_digest, want_hashes) = expected(7, &records, &edges);
            assert_eq!(digest, Some(want_digest), "n = {n}");
            assert_eq!(hashes, want_hashes, "n = {n}");
        }
        // No digest started: none returned; edges still hashed.
        let mut p = Prehasher::default();
        p.add_edge(adj_key(1, 2, 3, 4), &Props::new());
        let (digest, hashes) = p.close().join().unwrap();
        assert_eq!((digest, hashes.len()), (None, 1));
    }

    #[test]
    fn forgetting_after_chunks_were_sent_drops_their_hashes() {
        let mut p = Prehasher::default();
        for i in 0..(CHUNK as u64 + 5) {
            p.add_edge(adj_key(i, i + 1, 1, 1), &Props::new());
        }
        assert!(p.worker.is_some());
        p.forget_edges();
        p.add_edge(adj_key(5, 6, 1, 1), &Props::new());
        let (digest, hashes) = p.close().join().unwrap();
        // A worker started by edges alone: no node digest was asked for.
        assert_eq!(digest, None);
        assert_eq!(hashes, expected(0, &[], &[(adj_key(5, 6, 1, 1), Props::new())]).1);
    }
}
