//! The one-shot CLI measurement: starts the `lineagedb` binary once per run,
//! as a user at a shell would (start, open the database, answer, print to a
//! pipe, exit), and reports the wall time of each statement (min, median,
//! max) and the peak RSS of the largest run.
//!
//! ```text
//! oneshot --db DIR/lineage.redb [--runs N] [--warmup W] [--bin PATH] STATEMENT...
//! ```
//! `--runs` (30) timed runs per statement after `--warmup` (3) untimed ones.
//! The binary defaults to `lineagedb` next to this executable: build both
//! with `cargo build --release -p lineagedb -p lineagedb-benches`. Runs pass
//! `--author bench` so the CLI does not look the author up in git.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

struct Config {
    db: PathBuf,
    bin: PathBuf,
    runs: usize,
    warmup: usize,
    statements: Vec<String>,
}

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let default_bin = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("lineagedb");
    let mut config = Config { db: PathBuf::new(), bin: default_bin, runs: 30, warmup: 3, statements: Vec::new() };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--db" => config.db = value("--db")?.into(),
            "--bin" => config.bin = value("--bin")?.into(),
            "--runs" => config.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--warmup" => config.warmup = value("--warmup")?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "-h" | "--help" => return Err(String::new()),
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => config.statements.push(arg),
        }
    }
    if config.db.as_os_str().is_empty() || config.statements.is_empty() || config.runs == 0 {
        return Err("give --db FILE, at least one statement, and --runs of at least 1".into());
    }
    Ok(config)
}

/// One run: wall time and the lines printed.
fn run_once(config: &Config, statement: &str) -> Result<(Duration, usize), String> {
    let db = config.db.display().to_string();
    let t = Instant::now();
    let output = Command::new(&config.bin)
        .args(["--author", "bench", "query", "--db", &db, statement])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", config.bin.display()))?;
    let elapsed = t.elapsed();
    if !output.status.success() {
        return Err(format!("{statement}: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    Ok((elapsed, output.stdout.iter().filter(|b| **b == b'\n').count()))
}

/// (min, median, max) of `times`, which must not be empty.
fn spread(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    times.sort_unstable();
    (times[0], times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("oneshot: {message}");
            }
            eprintln!("usage: oneshot --db FILE [--runs N] [--warmup W] [--bin PATH] STATEMENT...");
            return ExitCode::from(2);
        }
    };
    println!("| statement | lines printed | min ms | median ms | max ms |");
    println!("|---|---|---|---|---|");
    for statement in &config.statements {
        let mut times = Vec::with_capacity(config.runs);
        let mut lines = 0;
        for i in 0..config.warmup + config.runs {
            match run_once(&config, statement) {
                Ok((elapsed, printed)) => {
                    lines = printed;
                    if i >= config.warmup {
                        times.push(elapsed);
                    }
                }
                Err(message) => {
                    eprintln!("oneshot: {message}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let (min, median, max) = spread(&mut times);
        println!("| `{statement}` | {lines} | {:.1} | {:.1} | {:.1} |", ms(min), ms(median), ms(max));
    }
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
        // Linux reports ru_maxrss in KiB: the largest of all the runs.
        Ok(usage) => println!("\npeak RSS of the largest run: {:.1} MiB", usage.max_rss() as f64 / 1024.0),
        Err(e) => eprintln!("oneshot: cannot read the children's resource usage: {e}"),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max() {
        let mut times: Vec<Duration> = [5, 1, 9, 3, 7].iter().map(|ms| Duration::from_millis(*ms)).collect();
        let (min, median, max) = spread(&mut times);
        assert_eq!((min, median, max), (Duration::from_millis(1), Duration::from_millis(5), Duration::from_millis(9)));
    }
}
