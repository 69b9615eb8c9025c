//! `lineagedb serve`: the OpenLineage endpoint (fed by the real
//! openlineage-python HTTP transport too), the JSON API, the token, the
//! refusal of a non-loopback bind without one, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};

use crate::common::{Fixture, Outcome};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/openlineage").join(name)
}

/// A server on a free loopback port; stopped with SIGTERM when dropped.
struct Server {
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(f: &Fixture, extra: &[&str]) -> Server {
        let mut child = f
            .command()
            .args(["serve", "--db", &f.db_arg(), "--bind", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn lineagedb serve");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        stderr.read_line(&mut line).expect("the server says where it listens");
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_owned();
        // Keep reading its stderr so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Server { child: Some(child), url }
    }

    /// Stops it with SIGTERM; its exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
        child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// POSTs `body`; the status and the JSON answer.
fn post(url: &str, body: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = agent().post(url).header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.send(body).expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let mut response = agent().get(url).call().expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

fn run_keys(answer: &serde_json::Value) -> Vec<String> {
    answer[0]["rows"]
        .as_array()
        .map_or_else(Vec::new, |rows| rows.iter().filter_map(|r| r["key"].as_str().map(str::to_owned)).collect())
}

#[test]
fn the_openlineage_endpoint_and_the_json_api_answer_as_documented() {
    let f = Fixture::new();
    let server = Server::start(&f, &[]);
    let event = std::fs::read_to_string(fixture("upstream/example_full_event.json")).expect("read");
    let lineage = format!("{}/api/v1/lineage", server.url);
    assert_eq!(post(&lineage, &event, None), (201, serde_json::json!({"snapshot": 1})));
    // Idempotent: the same event again changes nothing.
    assert_eq!(post(&lineage, &event, None), (201, serde_json::json!({"snapshot": null})));
    assert_eq!(post(&lineage, "{nope", None).0, 400);
    let (status, answer) = post(&lineage, r#"{"eventTime": "2026-01-01T00:00:00Z", "run": {}}"#, None);
    assert_eq!(status, 422, "{answer}");
    // A batch, gzip without the header as older Java clients send it: one bad event of three.
    let batch = serde_json::json!([
        serde_json::from_str::<serde_json::Value>(&event).expect("json"),
        {"eventTime": 1},
        {"eventTime": "2026-01-01T00:00:00Z", "dataset": {"namespace": "pg", "name": "t"}}
    ])
    .to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, batch.as_bytes()).expect("gzip");
    let compressed = gz.finish().expect("gzip");
    let mut response = agent()
        .post(&format!("{lineage}/batch"))
        .header("Content-Type", "application/json")
        .send(&compressed[..])
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let answer: serde_json::Value =
        serde_json::from_str(&response.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(answer["status"], "partial_success", "{answer}");
    assert_eq!(answer["summary"]["successful"], 2);
    assert_eq!(answer["failed_events"][0]["index"], 1);

    // The JSON API: the --format json objects, writes refused, 404 for no node.
    let query = format!("{}/api/query", server.url);
    let (status, answer) = post(&query, r#"{"query": "FIND run RETURN key"}"#, None);
    assert_eq!(status, 200);
    assert!(run_keys(&answer).contains(&"run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1".to_owned()), "{answer}");
    assert_eq!(post(&query, "CREATE dataset:x", None).0, 403);
    // `as_of` pins every read without one: at snapshot 1 only the first event's runs were there.
    let (status, answer) = post(&query, r#"{"query": "FIND dataset RETURN key", "as_of": 1}"#, None);
    assert_eq!(status, 200, "{answer}");
    assert!(!answer.to_string().contains("pg/t"), "{answer}");
    let (_, answer) = post(&query, r#"{"query": "FIND dataset RETURN key"}"#, None);
    assert!(answer.to_string().contains("pg/t"), "{answer}");
    assert_eq!(post(&query, r#"{"query": "SNAPSHOTS", "as_of": "soon"}"#, None).0, 400);
    let (status, answer) = post(&query, "FIND model WHERE", None);
    assert_eq!(status, 400);
    assert!(answer["error"]["message"].is_string(), "{answer}");
    let (status, answer) = get(&format!("{}/api/node/run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1", server.url));
    assert_eq!(status, 200);
    assert_eq!(answer[0]["node"]["key"], "run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1");
    assert_eq!(get(&format!("{}/api/node/run:nope@1", server.url)).0, 404);
    let run = "run:ea041791-68bc-4ae1-bd89-4c8106a157e4@1";
    let (status, answer) = get(&format!("{}/api/lineage/{run}?direction=upstream&depth=1", server.url));
    assert_eq!(status, 200, "{answer}");
    let nodes = answer[0]["nodes"].as_array().map_or(0, Vec::len);
    assert!(nodes >= 2, "the run and what it read: {answer}");
    assert_eq!(get(&format!("{}/api/lineage/{run}?as_of=99", server.url)).0, 404);
    assert_eq!(get(&format!("{}/api/lineage/{run}?direction=sideways", server.url)).0, 400);
    // SIGTERM stops it cleanly, and what it committed is there.
    assert!(server.stop().success());
    let out = f.query("FIND dataset RETURN key");
    assert!(out.ok().contains("pg/t"), "the batch's DatasetEvent was committed");
}

#[test]
fn with_a_token_every_request_needs_it_and_a_public_bind_needs_a_token() {
    let f = Fixture::new();
    let out =
        Outcome::from(f.command().args(["serve", "--db", &f.db_arg(), "--bind", "0.0.0.0:0"]).output().expect("run"));
    out.exits(2);
    assert!(out.stderr.contains("refusing to serve on 0.0.0.0:0 without a token"), "{}", out.stderr);
    let server = Server::start(&f, &["--token", "s3cret"]);
    let query = format!("{}/api/query", server.url);
    // A command that finds the file held by the server says where to go instead.
    let busy = f.run(&["query", "--db", &f.db_arg(), "--wait", "0.2", "SNAPSHOTS"]);
    busy.exits(2);
    assert!(busy.stderr.contains(&format!("`lineagedb serve` owns it at {}", server.url)), "{}", busy.stderr);
    assert_eq!(post(&query, "SNAPSHOTS", None).0, 401);
    assert_eq!(post(&query, "SNAPSHOTS", Some("wrong")).0, 401);
    assert_eq!(post(&query, "SNAPSHOTS", Some("s3cret")).0, 200);
    assert!(server.stop().success());
}

#[test]
fn the_openlineage_python_http_transport_feeds_the_server_unchanged() {
    let python = lineagedb_tests::python_with("openlineage", &["openlineage-python==1.33.0"])
        .unwrap_or_else(|e| panic!("this test needs the real openlineage-python client: {e}"));
    let f = Fixture::new();
    let server = Server::start(&f, &["--token", "k3y"]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/python/openlineage_http.py");
    for (events, compression) in [("events.jsonl", "none"), ("events_v2.jsonl", "gzip")] {
        let out = std::process::Command::new(&python)
            .arg(&script)
            .arg(&server.url)
            .arg("k3y")
            .arg(fixture(events))
            .arg(compression)
            .output()
            .expect("python");
        assert!(out.status.success(), "{events}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (status, answer) = post(&format!("{}/api/query", server.url), "FIND run RETURN key", Some("k3y"));
    assert_eq!(status, 200);
    // The five runs of the pipeline and the three of the v2 fixtures. Each
    // request is an import of its own, so a run's later events make new
    // versions of it, each with the state merged so far.
    let entity = |key: &str| key.rsplit_once('@').map_or(key.to_owned(), |(e, _)| e.to_owned());
    let runs: std::collections::BTreeSet<String> = run_keys(&answer).iter().map(|k| entity(k)).collect();
    assert_eq!(runs.len(), 8, "{answer}");
    let (_, latest) =
        post(&format!("{}/api/query", server.url), "SHOW run:0195a0c0-0000-7000-8000-000000000004", Some("k3y"));
    assert_eq!(latest[0]["node"]["props"]["status"], "succeeded", "{latest}");
    assert!(server.stop().success());
    // The same lineage, entity by entity, as a file import of the same events.
    let g = Fixture::new();
    for events in ["events.jsonl", "events_v2.jsonl"] {
        g.run(&["import", "--db", &g.db_arg(), "--format", "openlineage", &fixture(events).display().to_string()]).ok();
    }
    let entities = |fx: &Fixture, query: &str| -> std::collections::BTreeSet<String> {
        let (out, lines) = fx.query_json(query);
        out.ok();
        crate::common::row_keys(&lines[0]).iter().map(|k| entity(k)).collect()
    };
    let model = "ANCESTORS OF model:\"mlflow://registry/fraud_detector\" RETURN key";
    assert_eq!(entities(&f, model), entities(&g, model));
    assert_eq!(entities(&f, "FIND dataset RETURN key"), entities(&g, "FIND dataset RETURN key"));
}

#[test]
fn a_run_recorded_while_the_server_owns_the_file_is_committed_by_the_server() {
    let f = Fixture::new();
    let server = Server::start(&f, &[]);
    let out = f.run(&["run", "--db", &f.db_arg(), "--wait", "0.2", "--job", "train", "--", "sh", "-c", "echo trained"]);
    out.ok();
    assert!(out.stderr.contains("will be committed, once"), "{}", out.stderr);
    // The server commits the spooled record within a few seconds.
    let query = format!("{}/api/query", server.url);
    let mut runs = Vec::new();
    for _ in 0..50 {
        let (_, answer) = post(&query, "FIND run RETURN key", None);
        runs = run_keys(&answer);
        if !runs.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(runs.len(), 1, "the spooled run was committed by the server");
    assert_eq!(std::fs::read_dir(f.dir().join("test.redb.spool")).map_or(0, |d| d.count()), 0);
    assert!(server.stop().success());
    assert!(!f.dir().join("test.redb.serve").exists(), "the marker goes with the server");
}

#[test]
fn past_max_requests_the_server_answers_503_with_retry_after() {
    use std::io::Write;
    let f = Fixture::new();
    let server = Server::start(&f, &["--max-requests", "1"]);
    // A slow client: it sends the head of a request and only part of its body.
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
    write!(slow, "POST /api/v1/lineage HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{").expect("send");
    slow.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut response = agent().post(&format!("{}/api/query", server.url)).send("SNAPSHOTS").expect("answers");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let _ = response.body_mut().read_to_string();
    // Once the slow client goes, requests are served again.
    drop(slow);
    let mut status = 0;
    for _ in 0..20 {
        status = post(&format!("{}/api/query", server.url), "SNAPSHOTS", None).0;
        if status == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 200);
    assert!(server.stop().success());
}

#[test]
fn a_stuck_client_does_not_keep_the_server_from_stopping() {
    use std::io::Write;
    let f = Fixture::new();
    let server = Server::start(&f, &[]);
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut stuck = std::net::TcpStream::connect(&addr).expect("connect");
    write!(stuck, "POST /api/query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\n\r\nSNAP").expect("send");
    stuck.flush().expect("flush");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let start = std::time::Instant::now();
    assert!(server.stop().success());
    assert!(start.elapsed() < std::time::Duration::from_secs(15), "{:?}", start.elapsed());
    drop(stuck);
}
