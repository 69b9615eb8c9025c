//! The three engines of the side-by-side comparison, each with a bulk loader
//! and the query mix: LineageDB on a durable file, SQLite with recursive CTEs,
//! and an in-memory petgraph BFS (the physical limit). Each answers with ids
//! of its own; `answer_indices` style mapping back to generated node indices
//! happens outside the timed section.

pub mod lineage;
pub mod memory;
pub mod sqlite;
