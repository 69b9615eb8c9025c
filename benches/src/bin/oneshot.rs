//! The one-shot CLI measurement: starts the `lineagedb` binary once per run,
//! as a user at a shell would (start, open the database, answer, print to a
//! pipe, exit), and reports for each statement the wall time (min, median,
//! max) and the peak RSS of its largest run. Each statement is measured by a
//! child copy of this program (`--one`), so that the operating system's
//! "largest child" figure belongs to that statement alone.
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
    /// Measure the single statement given and print one machine-readable line.
    one: bool,
}

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let default_bin = std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("lineagedb");
    let mut config =
        Config { db: PathBuf::new(), bin: default_bin, runs: 30, warmup: 3, statements: Vec::new(), one: false };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--db" => config.db = value("--db")?.into(),
            "--bin" => config.bin = value("--bin")?.into(),
            "--runs" => config.runs = value("--runs")?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--warmup" => config.warmup = value("--warmup")?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--one" => config.one = true,
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

/// Measures one statement in this process: `lines min median max peak_kib`.
fn measure_one(config: &Config, statement: &str) -> Result<String, String> {
    let mut times = Vec::with_capacity(config.runs);
    let mut lines = 0;
    for i in 0..config.warmup + config.runs {
        let (elapsed, printed) = run_once(config, statement)?;
        lines = printed;
        if i >= config.warmup {
            times.push(elapsed);
        }
    }
    let (min, median, max) = spread(&mut times);
    // Linux reports ru_maxrss in KiB: the largest child this process waited for.
    let peak = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_err(|e| format!("cannot read the children's resource usage: {e}"))?
        .max_rss();
    Ok(format!("{lines} {} {} {} {peak}", min.as_nanos(), median.as_nanos(), max.as_nanos()))
}

/// Runs `--one` for `statement` in a child copy of this program.
fn measure_in_child(config: &Config, statement: &str) -> Result<(usize, [Duration; 3], f64), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let output = Command::new(me)
        .args(["--one", "--db"])
        .arg(&config.db)
        .arg("--bin")
        .arg(&config.bin)
        .args(["--runs", &config.runs.to_string(), "--warmup", &config.warmup.to_string(), statement])
        .output()
        .map_err(|e| format!("cannot start a measuring copy of oneshot: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().trim_start_matches("oneshot: ").to_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    let [lines, min, median, max, peak] = fields[..] else {
        return Err(format!("unexpected output from the measuring copy: {text}"));
    };
    let times = [min, median, max].map(Duration::from_nanos);
    Ok((lines as usize, times, peak as f64 / 1024.0))
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
    if config.one {
        return match measure_one(&config, &config.statements[0]) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("oneshot: {message}");
                ExitCode::FAILURE
            }
        };
    }
    println!("| statement | lines printed | min ms | median ms | max ms | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for statement in &config.statements {
        match measure_in_child(&config, statement) {
            Ok((lines, [min, median, max], peak)) => println!(
                "| `{statement}` | {lines} | {:.1} | {:.1} | {:.1} | {peak:.1} |",
                ms(min),
                ms(median),
                ms(max)
            ),
            Err(message) => {
                eprintln!("oneshot: {message}");
                return ExitCode::FAILURE;
            }
        }
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
