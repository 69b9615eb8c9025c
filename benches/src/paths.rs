//! The user paths of the query mix beside the engine's `collect_ids()`: the
//! language in process (`lineagedb_query::run` of `... RETURN key`, rows with
//! keys) and the CLI in a fresh process (`lineagedb exec --format json` of
//! the whole mix written to a file), each answer mapped back to generated
//! node indices through its keys so it can be checked against the others.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lineagedb_engine::Database;
use lineagedb_query::QueryResult;

use crate::error::{Error, Result};
use crate::mix::Query;

/// The query of the mix as a user writes it for keys: `... RETURN key`.
pub fn text_returning_keys(query: &Query) -> String {
    format!("{} RETURN key", query.text())
}

/// The whole mix as one script, one statement a line.
pub fn mix_script(mix: &[Query]) -> String {
    mix.iter().map(|q| format!("{};\n", text_returning_keys(q))).collect()
}

/// Runs one query of the mix through the language; returns the keys of its rows.
pub fn language_query(db: &Database, query: &Query) -> Result<Vec<String>> {
    let results = lineagedb_query::run(db, &text_returning_keys(query))
        .map_err(|e| Error::Invalid(format!("{}: {}", query.text(), e.message)))?;
    match results.into_iter().next() {
        // The `key` column the statement returned, as a user reads it.
        Some(QueryResult::Nodes(rows)) => Ok(rows
            .rows
            .into_iter()
            .map(|r| match r.values.into_iter().next() {
                Some(lineagedb_engine::Value::String(key)) => key,
                _ => r.key.to_text(),
            })
            .collect()),
        other => Err(Error::Invalid(format!("{}: not node rows: {other:?}", query.text()))),
    }
}

/// Runs `lineagedb exec --format json SCRIPT` on `db` once, in a new
/// process; returns its wall time (start to exit) and the keys of each
/// statement's rows, parsed from its JSON Lines output.
pub fn cli_mix(bin: &Path, db: &Path, script: &Path, statements: usize) -> Result<(Duration, Vec<Vec<String>>)> {
    let t = Instant::now();
    let output = Command::new(bin)
        .args(["--author", "bench", "exec", "--format", "json", "--db"])
        .arg(db)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot run {}: {e} (build it: cargo build --release -p lineagedb, or pass --bin)",
                bin.display()
            ))
        })?;
    let elapsed = t.elapsed();
    if !output.status.success() {
        return Err(Error::Invalid(format!("lineagedb exec failed: {}", String::from_utf8_lossy(&output.stderr))));
    }
    let text = String::from_utf8(output.stdout).map_err(|e| Error::Invalid(format!("lineagedb exec output: {e}")))?;
    let mut answers = Vec::with_capacity(statements);
    for (n, line) in text.lines().enumerate() {
        let bad = |what: &str| Error::Invalid(format!("lineagedb exec output line {}: {what}", n + 1));
        let json: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let rows = json.get("rows").and_then(|r| r.as_array()).ok_or_else(|| bad("no rows"))?;
        let keys = rows
            .iter()
            .map(|r| r.get("key").and_then(|k| k.as_str()).map(str::to_owned).ok_or_else(|| bad("a row without key")))
            .collect::<Result<Vec<_>>>()?;
        answers.push(keys);
    }
    if answers.len() != statements {
        return Err(Error::Invalid(format!(
            "lineagedb exec printed {} results for {statements} statements",
            answers.len()
        )));
    }
    Ok((elapsed, answers))
}

/// The generated indices of `keys`, sorted.
pub fn indices(keys: &HashMap<String, u32>, answer: &[String], query: &Query) -> Result<Vec<u32>> {
    let mut out = answer
        .iter()
        .map(|k| {
            keys.get(k).copied().ok_or_else(|| Error::Mismatch {
                query: query.text(),
                detail: format!("returned `{k}`, which the generated graph does not have"),
            })
        })
        .collect::<Result<Vec<u32>>>()?;
    out.sort_unstable();
    Ok(out)
}
