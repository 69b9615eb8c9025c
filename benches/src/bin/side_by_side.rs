//! Side-by-side benchmark: LineageDB against SQLite and an in-memory petgraph
//! BFS on the same generated lineage graph, printing times, ratios, `AS OF`
//! cost, bulk load throughput and peak memory.
//!
//! ```text
//! cargo run --release -p lineagedb-benches --bin side_by_side -- --nodes 100000
//! ```
//! Options: `--nodes N` (default 100000), `--seed S` (42), `--queries Q` per
//! kind (100), `--passes P` (5, fastest kept), `--load-commits C` (4),
//! `--load-passes N` (3: each load N times in rotating order, medians kept),
//! `--later-commits L` (10), `--jsonl FILE`, `--dir DIR` (temporary by default),
//! `--bin PATH` (the `lineagedb` binary of the CLI path; by default the one
//! next to this program: build both with `cargo build --release -p lineagedb
//! -p lineagedb-benches`).

use std::path::PathBuf;
use std::process::ExitCode;

use lineagedb_benches::{Config, run};

fn parse_args() -> Result<Config, String> {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.replace('_', "").parse::<usize>().map_err(|e| format!("{flag} {value}: {e}"));
        match flag.as_str() {
            "--nodes" => config.nodes = number()?,
            "--seed" => config.seed = number()? as u64,
            "--queries" => config.per_kind = number()?,
            "--passes" => config.passes = number()?,
            "--load-commits" => config.load_commits = number()?,
            "--load-passes" => config.load_passes = number()?,
            "--later-commits" => config.later_commits = number()?,
            "--jsonl" => config.jsonl = Some(PathBuf::from(value)),
            "--dir" => config.dir = Some(PathBuf::from(value)),
            "--bin" => config.bin = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!(
                "usage: side_by_side [--nodes N] [--seed S] [--queries Q] [--passes P] [--load-commits C] [--load-passes N] [--later-commits L] [--jsonl FILE] [--dir DIR] [--bin LINEAGEDB]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&config, |line| eprintln!("{line}")) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
