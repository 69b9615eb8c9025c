//! `lineagedb export --format openlineage`: every event valid against the
//! OpenLineage JSON schema (vendored in tests/fixtures/openlineage/spec),
//! the export read back into an empty database answers ANCESTORS and
//! DESCENDANTS alike for every node, and `--since` sends only what changed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::common::{Fixture, json_lines, row_keys};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/openlineage").join(name)
}

/// The OpenLineage 2-0-2 schema, with `format` checked (uuid, date-time, uri).
fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("spec/OpenLineage.json")).expect("read the schema"))
            .expect("the schema is JSON");
    jsonschema::draft202012::options().should_validate_formats(true).build(&schema).expect("a valid schema")
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, event: &serde_json::Value) {
    let errors: Vec<String> = validator.iter_errors(event).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "not a valid OpenLineage event: {errors:#?}\n{event}");
}

fn export(f: &Fixture, db: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["export", "--db", db, "--format", "openlineage"];
    all.extend_from_slice(args);
    let out = f.run(&all);
    json_lines(out.ok())
}

fn keys(f: &Fixture, db: &str, query: &str) -> BTreeSet<String> {
    let out = f.run(&["query", "--db", db, "--format", "json", query]);
    row_keys(&json_lines(out.ok())[0]).into_iter().collect()
}

#[test]
fn the_export_is_valid_openlineage_and_imports_back_to_the_same_lineage() {
    let f = Fixture::new();
    let original = f.db_arg();
    let events = fixture("events.jsonl").display().to_string();
    f.run(&["import", "--db", &original, "--format", "openlineage", &events]).ok();
    // A run recorded by the wrapper too, in git: a key that is no UUID, files
    // as datasets, a code revision.
    crate::common::git(f.dir(), &["init", "-q"]);
    f.write("train.py", "lr = 0.1\n");
    crate::common::git(f.dir(), &["add", "train.py"]);
    crate::common::git(f.dir(), &["commit", "-q", "-m", "first"]);
    f.write("raw.csv", "a\n1\n");
    f.run(&[
        "run",
        "--db",
        &original,
        "--job",
        "train",
        "--input",
        "raw.csv",
        "--output",
        "model:m=m.bin",
        "--",
        "sh",
        "-c",
        "echo w > m.bin",
    ])
    .ok();

    let exported = export(&f, &original, &[]);
    // Five imported runs and one recorded, each a START and its final event.
    assert_eq!(exported.len(), 12);
    let runs: BTreeSet<&str> = exported.iter().filter_map(|e| e["run"]["runId"].as_str()).collect();
    assert_eq!(runs.len(), 6);
    assert_eq!(exported.iter().filter(|e| e["eventType"] == "START").count(), 6);
    let validator = validator();
    for event in &exported {
        assert_valid(&validator, event);
    }
    // The validator does check: a run id that is no UUID, or a missing producer, is refused.
    let mut bad = exported[0].clone();
    bad["run"]["runId"] = serde_json::json!("train_1");
    assert!(!validator.is_valid(&bad), "{bad}");
    let mut bad = exported[0].clone();
    bad.as_object_mut().expect("an object").remove("producer");
    assert!(!validator.is_valid(&bad), "{bad}");
    // Written to a file, the same events.
    let file = f.dir().join("lineage.openlineage.jsonl");
    export(&f, &original, &["-o", &file.display().to_string()]);
    let text = std::fs::read_to_string(&file).expect("read the export");
    assert_eq!(json_lines(&text), exported);

    // Into an empty database: the same nodes, and for each the same lineage.
    let copy = f.dir().join("copy.redb").display().to_string();
    f.run(&["import", "--db", &copy, "--format", "openlineage", &file.display().to_string()]).ok();
    let imported_keys = |db: &str| keys(&f, db, "FIND * RETURN key");
    let nodes = imported_keys(&copy);
    // Every node comes back under its own key, the recorded run's too
    // (exported under namespace `lineagedb`), with the same lineage.
    assert_eq!(nodes, imported_keys(&original));
    assert!(nodes.iter().filter(|k| k.starts_with("code:")).count() >= 2, "the git revision too: {nodes:?}");
    for key in &nodes {
        for walk in ["ANCESTORS", "DESCENDANTS"] {
            let query = format!("{walk} OF {key} RETURN key");
            assert_eq!(keys(&f, &original, &query), keys(&f, &copy, &query), "{query}");
        }
    }
    // Exported again, the copy gives as many events.
    assert_eq!(export(&f, &copy, &[]).len(), 12);
}

#[test]
fn since_exports_only_the_runs_changed_after_a_snapshot() {
    let f = Fixture::new();
    let db = f.db_arg();
    let events = fixture("events.jsonl").display().to_string();
    f.run(&["import", "--db", &db, "--format", "openlineage", &events]).ok();
    assert!(export(&f, &db, &["--since", "1"]).is_empty());
    let late = fixture("upstream/example_full_event.json").display().to_string();
    f.run(&["import", "--db", &db, "--format", "openlineage", &late]).ok();
    // The new run, and the parent run its `parent` facet named.
    let changed = export(&f, &db, &["--since", "1"]);
    let ids: BTreeSet<&str> = changed.iter().filter_map(|e| e["run"]["runId"].as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["ea041791-68bc-4ae1-bd89-4c8106a157e4", "3f5e83fa-3480-44ff-99c5-ff943904e5e8"]),
        "{changed:?}"
    );
    let validator = validator();
    for event in &changed {
        assert_valid(&validator, event);
    }
    let out = f.run(&["export", "--db", &db, "--format", "openlineage", "--since", "9"]);
    out.exits(2);
    assert!(out.stderr.contains("the latest snapshot is 2"), "{}", out.stderr);
}

/// A request the test server received.
struct Received {
    authorization: Option<String>,
    body: String,
}

/// An HTTP endpoint on a loopback port that answers the first `failures`
/// requests with 503 and the others with 200, recording every request.
fn endpoint(failures: usize) -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().expect("address"));
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let (mut length, mut authorization) = (0usize, None);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    authorization = Some(line["authorization:".len()..].trim().to_owned());
                }
                line.clear();
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("the body");
            let status = if n < failures { "503 Service Unavailable" } else { "200 OK" };
            // Recorded before the answer, so the command cannot end first.
            if n >= failures {
                let _ = send.send(Received { authorization, body: String::from_utf8_lossy(&body).into_owned() });
            }
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, receive)
}

#[test]
fn to_posts_every_event_with_the_token_retrying_an_endpoint_that_is_briefly_down() {
    let f = Fixture::new();
    let db = f.db_arg();
    let events = fixture("events.jsonl").display().to_string();
    f.run(&["import", "--db", &db, "--format", "openlineage", &events]).ok();
    let expected = export(&f, &db, &[]);

    // One event a request; the endpoint is down for the first two attempts.
    let (url, received) = endpoint(2);
    let out = f.run(&["export", "--db", &db, "--format", "openlineage", "--to", &url, "--token", "s3cret"]);
    out.ok();
    assert!(out.stderr.contains(&format!("posted 10 event(s) to {url} in 10 request(s)")), "{}", out.stderr);
    let got: Vec<Received> = received.try_iter().collect();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|r| r.authorization.as_deref() == Some("Bearer s3cret")));
    let bodies: Vec<serde_json::Value> = got.iter().map(|r| serde_json::from_str(&r.body).expect("JSON")).collect();
    assert_eq!(bodies, expected, "each event once, in order");

    // Batched: JSON arrays of up to two events.
    let (url, received) = endpoint(0);
    f.run(&["export", "--db", &db, "--format", "openlineage", "--to", &url, "--batch", "2"]).ok();
    let got: Vec<Received> = received.try_iter().collect();
    assert_eq!(got.len(), 5);
    let flat: Vec<serde_json::Value> =
        got.iter().flat_map(|r| serde_json::from_str::<Vec<serde_json::Value>>(&r.body).expect("an array")).collect();
    assert_eq!(flat, expected);

    // Down for good: the export says how far it got and fails.
    let (url, _received) = endpoint(usize::MAX);
    let out = f.run(&["export", "--db", &db, "--format", "openlineage", "--to", &url, "--attempts", "2"]);
    out.exits(2);
    assert!(out.stderr.contains("HTTP 503"), "{}", out.stderr);
    assert!(out.stderr.contains("0 of 10 event(s) were posted"), "{}", out.stderr);
}

/// The `openlineage-python` release the client tests use.
const OPENLINEAGE_PYTHON: &str = "openlineage-python==1.33.0";

#[test]
fn the_openlineage_python_client_takes_the_export_and_its_output_imports_back() {
    let python = lineagedb_tests::python_with("openlineage", &[OPENLINEAGE_PYTHON])
        .unwrap_or_else(|e| panic!("this test needs the real openlineage-python client: {e}"));
    let f = Fixture::new();
    let db = f.db_arg();
    let events = fixture("events.jsonl").display().to_string();
    f.run(&["import", "--db", &db, "--format", "openlineage", &events]).ok();
    let exported = f.dir().join("exported.jsonl");
    export(&f, &db, &["-o", &exported.display().to_string()]);
    // The client builds its own RunEvent from each line and writes it with its FileTransport.
    let reemitted = f.dir().join("reemitted.jsonl");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/python/openlineage_reemit.py");
    let out = std::process::Command::new(&python).arg(&script).arg(&exported).arg(&reemitted).output().expect("python");
    assert!(out.status.success(), "the client refused the export: {}", String::from_utf8_lossy(&out.stderr));
    let lines = std::fs::read_to_string(&reemitted).expect("the client wrote its events");
    assert_eq!(lines.lines().count(), 10);
    // What the client wrote imports into an empty database with the same lineage.
    let copy = f.dir().join("copy.redb").display().to_string();
    f.run(&["import", "--db", &copy, "--format", "openlineage", &reemitted.display().to_string()]).ok();
    let all = |db: &str| keys(&f, db, "FIND * RETURN key");
    assert_eq!(all(&copy), all(&db));
    for key in all(&db) {
        let query = format!("ANCESTORS OF {key} RETURN key");
        assert_eq!(keys(&f, &copy, &query), keys(&f, &db, &query), "{query}");
    }
}

#[test]
fn dataset_and_job_events_are_exported_too_and_round_trip() {
    let f = Fixture::new();
    let db = f.db_arg();
    let events = fixture("events_v2.jsonl").display().to_string();
    f.run(&["import", "--db", &db, "--format", "openlineage", &events]).ok();
    let exported = export(&f, &db, &[]);
    let validator = validator();
    for event in &exported {
        assert_valid(&validator, event);
    }
    let kinds = |key: &str| exported.iter().filter(|e| e.get(key).is_some() && e.get("run").is_none()).count();
    assert_eq!(kinds("dataset"), 1, "the DatasetEvent");
    assert_eq!(kinds("job"), 1, "the JobEvent");
    let file = f.dir().join("v2.jsonl");
    export(&f, &db, &["-o", &file.display().to_string()]);
    let copy = f.dir().join("copy.redb").display().to_string();
    f.run(&["import", "--db", &copy, "--format", "openlineage", &file.display().to_string()]).ok();
    let all = |db: &str| keys(&f, db, "FIND * RETURN key");
    assert_eq!(all(&copy), all(&db));
    for key in all(&db) {
        for walk in ["ANCESTORS", "DESCENDANTS"] {
            let query = format!("{walk} OF {key} RETURN key");
            assert_eq!(keys(&f, &copy, &query), keys(&f, &db, &query), "{query}");
        }
    }
}
