//! LineageDB benchmark support: a deterministic generator of the benchmark
//! ML lineage graph (`quality.md`), loaders for LineageDB, SQLite and an
//! in-memory petgraph graph, the JSON Lines import writer, the query mix, and
//! the side-by-side comparison the `side_by_side` binary prints.
//!
//! ```no_run
//! use lineagedb_benches::{Config, run};
//! let report = run(&Config { nodes: 10_000, ..Config::default() }, |line| eprintln!("{line}"))?;
//! println!("{report}");
//! # Ok::<(), lineagedb_benches::Error>(())
//! ```

mod compare;
pub mod engines;
mod error;
mod graph;
mod jsonl;
mod mix;
pub mod paths;
mod rng;

pub use compare::{Config, Report, Timing, later_commits, rss_kb, run};
pub use error::{Error, Result};
pub use graph::{EdgeLabel, GenEdge, GenNode, LineageGraph, NodeType, Scale};
pub use jsonl::{write_jsonl, write_jsonl_file};
pub use mix::{Direction, Query, query_mix};
pub use rng::SplitMix64;
