//! LineageDB alone, in a fresh process, on a file `side_by_side --dir DIR`
//! left behind: time to open, the first query (cold adjacency cache), the
//! mix cold and warm, and the peak RSS of a process that holds only
//! LineageDB (no generated graph, no SQLite, no petgraph).
//!
//! ```text
//! side_by_side --nodes 1000000 --dir /tmp/lineage-bench
//! lineage_only /tmp/lineage-bench
//! ```
//! Reads `DIR/lineage.redb` and the query mix from `DIR/mix.txt` (one
//! `ANCESTORS|DESCENDANTS OF key WHERE type = t` per line). Open it with
//! `Database::open` read-write, as the CLI would.

use std::process::ExitCode;
use std::time::Instant;

use lineagedb_benches::rss_kb;
use lineagedb_engine::{Database, NodeRef};

struct Line {
    ancestors: bool,
    start: NodeRef,
    want: String,
}

fn parse_mix(text: &str) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [verb, "OF", key, "WHERE", "type", "=", want] = words[..] else {
            return Err(format!("mix.txt:{}: expected `ANCESTORS|DESCENDANTS OF key WHERE type = t`", n + 1));
        };
        let start = key.parse().map_err(|e| format!("mix.txt:{}: {e}", n + 1))?;
        out.push(Line { ancestors: verb == "ANCESTORS", start, want: want.to_owned() });
    }
    Ok(out)
}

fn run(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let mix = parse_mix(&std::fs::read_to_string(dir.join("mix.txt"))?)?;
    let rss_start = rss_kb("VmRSS");
    let t = Instant::now();
    let db = Database::open(dir.join("lineage.redb"))?;
    let open = t.elapsed();
    let query = |line: &Line| -> Result<usize, lineagedb_engine::Error> {
        let read = db.begin_read()?;
        let walk = if line.ancestors { read.ancestors(&line.start) } else { read.descendants(&line.start) };
        Ok(walk.only_type(line.want.as_str()).collect_ids()?.len())
    };
    let t = Instant::now();
    let first = query(&mix[0])?;
    let first_time = t.elapsed();
    let rss_after_first = rss_kb("VmRSS");
    let t = Instant::now();
    let mut returned = 0;
    for line in &mix[1..] {
        returned += query(line)?;
    }
    let cold = t.elapsed();
    let t = Instant::now();
    for line in &mix {
        std::hint::black_box(query(line)?);
    }
    let warm = t.elapsed();
    // The same mix through the language, rows with keys, warm, the best of
    // `passes` (LINEAGEDB_LANGUAGE_PASSES, default 5).
    let passes: usize = std::env::var("LINEAGEDB_LANGUAGE_PASSES").ok().and_then(|p| p.parse().ok()).unwrap_or(5);
    let texts: Vec<String> = std::fs::read_to_string(dir.join("mix.txt"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("{l} RETURN key"))
        .collect();
    let mut language = std::time::Duration::MAX;
    let mut rows = 0;
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        rows = 0;
        for text in &texts {
            for result in lineagedb_query::run(&db, text).map_err(|e| e.message)? {
                if let lineagedb_query::QueryResult::Nodes(n) = result {
                    rows += n.rows.len();
                }
            }
        }
        language = language.min(t.elapsed());
    }
    let file = std::fs::metadata(dir.join("lineage.redb"))?.len();
    println!("file: {} MiB", file >> 20);
    println!("open: {open:.2?}; first query: {first_time:.2?} ({first} nodes)");
    println!("rest of the mix, cold cache: {cold:.2?} ({returned} nodes); whole mix warm: {warm:.2?}");
    println!("whole mix warm through the language (RETURN key, best of {passes}): {language:.2?} ({rows} rows)");
    println!(
        "RSS: {} MiB before open, {} MiB after the first query, {} MiB at the end; peak (VmHWM) {} MiB",
        rss_start >> 10,
        rss_after_first >> 10,
        rss_kb("VmRSS") >> 10,
        rss_kb("VmHWM") >> 10
    );
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: lineage_only DIR   (a directory written by `side_by_side --dir DIR`)");
        return ExitCode::from(2);
    };
    match run(std::path::Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
