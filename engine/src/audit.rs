//! The hash-chained audit log: how entries are hashed and presented.
//!
//! `digest = SHA-256(detail)`; `hash = SHA-256(postcard(seq, snapshot, time,
//! author, op, subjects, digest, prev))`. Each entry stores the previous
//! entry's hash (zeros for the first), and `meta.audit_tip` stores the last
//! hash, so editing, dropping or appending entries outside the engine breaks
//! the chain that `verify` recomputes.

use sha2::{Digest, Sha256};

use crate::model::AuditEntry;
use crate::storage::codec::AuditRecord;
use crate::value::Timestamp;

/// SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(bytes));
    out
}

/// The hash of an entry, over everything but the hash itself.
pub(crate) fn entry_hash(r: &AuditRecord) -> [u8; 32] {
    let fields = (r.seq, r.snapshot, r.time, &r.author, &r.op, &r.subjects, r.digest, r.prev);
    let bytes = postcard::to_allocvec(&fields).unwrap_or_default();
    sha256(&bytes)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub(crate) fn to_entry(r: AuditRecord) -> AuditEntry {
    AuditEntry {
        seq: r.seq,
        snapshot: r.snapshot,
        time: Timestamp(r.time),
        author: r.author,
        op: r.op,
        subjects: r.subjects,
        digest: hex(&r.digest),
        prev_hash: hex(&r.prev),
        hash: hex(&r.hash),
        detail: r.detail,
    }
}
