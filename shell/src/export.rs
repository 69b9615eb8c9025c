//! `lineagedb export --format openlineage`: the graph as OpenLineage RunEvents
//! (JSON Lines, one event a line), on stdout or into a file written whole,
//! for a central Marquez or DataHub; `--since N` only what changed after
//! snapshot N; `--to URL` posts them to an OpenLineage HTTP endpoint
//! (Marquez's `/api/v1/lineage`, or `lineagedb serve`'s), one event a request
//! or `--batch N` as JSON arrays, with `--token` as a bearer token, retrying
//! connection errors, 429 and 5xx with a growing pause. The mapping is
//! `lineagedb_engine::openlineage_events`'.

use std::io::{self, Write};
use std::path::Path;

use anyhow::anyhow;

use crate::cli::ExportArgs;
use crate::output::{self, Failure};

/// `lineagedb export`.
pub fn run(db: &Path, author: &dyn Fn() -> String, args: &ExportArgs) -> Result<(), Failure> {
    if let Some(path) = &args.output {
        output::check_not_database(path, db)?;
    }
    let database = crate::oneshot::open_existing(db, author)?;
    let read = database.begin_read().map_err(|e| anyhow!("cannot read {}: {e}", db.display()))?;
    if let Some(since) = args.since {
        if since > read.latest_snapshot() {
            return Err(anyhow!(
                "--since {since}: the latest snapshot is {}\nhint: pass a snapshot id that SNAPSHOTS lists",
                read.latest_snapshot()
            )
            .into());
        }
    }
    let events = lineagedb_engine::openlineage_events(&read, args.since)
        .map_err(|e| anyhow!("cannot export {}: {e}", db.display()))?;
    if let Some(url) = &args.to {
        return post_events(url, args, &events);
    }
    let mut text = String::new();
    for event in &events {
        text.push_str(&event.to_string());
        text.push('\n');
    }
    match &args.output {
        None => io::stdout().lock().write_all(text.as_bytes()).map_err(Failure::from_stdout)?,
        Some(path) => output::write_file_atomically(path, |file| file.write_all(text.as_bytes()))?,
    }
    let _ = writeln!(io::stderr(), "lineagedb: exported {} event(s) as of snapshot {}", events.len(), read.snapshot());
    Ok(())
}

/// Posts `events` to `url` in requests of `args.batch`; stops at the first
/// request that still fails after `args.attempts`, saying how far it got.
fn post_events(url: &str, args: &ExportArgs, events: &[serde_json::Value]) -> Result<(), Failure> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let batch = usize::try_from(args.batch).unwrap_or(1).max(1);
    let mut posted = 0;
    let mut requests = 0;
    for chunk in events.chunks(batch) {
        let body = if batch == 1 { chunk[0].to_string() } else { serde_json::Value::from(chunk.to_vec()).to_string() };
        post_with_retries(&agent, url, args, &body).map_err(|reason| -> Failure {
            anyhow!(
                "cannot post to {url}: {reason}; {posted} of {} event(s) were posted before it\n\
                 hint: the endpoint takes events again (they are idempotent by runId and eventType): run the \
                 export again, or with --since to send less",
                events.len()
            )
            .into()
        })?;
        posted += chunk.len();
        requests += 1;
    }
    let _ = writeln!(io::stderr(), "lineagedb: posted {posted} event(s) to {url} in {requests} request(s)");
    Ok(())
}

/// One request, retried on connection errors, 429 and 5xx with pauses of
/// 0.2 s doubling up to 5 s; another status fails at once with the body.
fn post_with_retries(agent: &ureq::Agent, url: &str, args: &ExportArgs, body: &str) -> Result<(), String> {
    let mut pause = std::time::Duration::from_millis(200);
    let mut last = String::new();
    for attempt in 1..=args.attempts {
        let mut request = agent.post(url).header("Content-Type", "application/json");
        if let Some(token) = args.token.as_deref().filter(|t| !t.is_empty()) {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        match request.send(body) {
            Ok(mut response) => {
                let status = response.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                let text = response.body_mut().read_to_string().unwrap_or_default();
                let text: String = text.chars().take(300).collect();
                last = format!("HTTP {status} {}", text.trim());
                if status != 429 && status < 500 {
                    return Err(last);
                }
            }
            Err(error) => last = error.to_string(),
        }
        if attempt < args.attempts {
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
        }
    }
    Err(format!("{last} (after {} attempt(s))", args.attempts))
}
