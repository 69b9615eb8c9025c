//! `lineagedb report REF [--format f] [--as-of T] [-o FILE]`: every format
//! on the demo database states the same digest; `--as-of` regenerates an
//! earlier report with the same digest; `-o` writes the file and nothing
//! else; a run recorded by `lineagedb run` in a git repository gives a
//! recipe with the real commit, input hash and command; usage errors exit 2.

use crate::common::{Fixture, Outcome, git};
use crate::markdown::md_row_with;

/// A fixture holding the demo database (snapshots 1 to 8, see shell/src/demo.lql).
fn demo() -> Fixture {
    let f = Fixture::new();
    f.run(&["demo", "--no-repl", "--db", &f.db_arg()]).ok();
    f
}

/// `lineagedb --db DB report ARGS...`.
fn report(f: &Fixture, args: &[&str]) -> Outcome {
    let db = f.db_arg();
    let mut all = vec!["--db", db.as_str(), "report"];
    all.extend_from_slice(args);
    f.run(&all)
}

/// `lineagedb report ARGS... --format json`, parsed.
#[track_caller]
fn report_json(f: &Fixture, args: &[&str]) -> serde_json::Value {
    let out = report(f, &[args, &["--format", "json"]].concat());
    serde_json::from_str(out.ok()).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout))
}

/// The text between `before` and the next `after` in `text`.
#[track_caller]
fn between<'a>(text: &'a str, before: &str, after: &str) -> &'a str {
    let start = text.find(before).unwrap_or_else(|| panic!("no {before:?} in:\n{text}")) + before.len();
    let len = text[start..].find(after).unwrap_or_else(|| panic!("no {after:?} after {before:?} in:\n{text}"));
    &text[start..start + len]
}

fn is_digest(d: &str) -> bool {
    d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The 64 hex digits after the first `sha256:` that follows `marker` in `text`.
#[track_caller]
fn digest_after(text: &str, marker: &str) -> String {
    let at = text.find(marker).unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"));
    let after = &text[at..];
    let start = after.find("sha256:").unwrap_or_else(|| panic!("no sha256: after {marker:?}")) + "sha256:".len();
    let digest: String = after[start..].chars().take(64).collect();
    assert!(is_digest(&digest), "{digest:?}");
    digest
}

/// The digest a document states, whatever its format.
#[track_caller]
fn stated_digest(document: &str) -> String {
    if document.starts_with("<!DOCTYPE html>") {
        digest_after(document, "<meta name=\"lineagedb-report-digest\" content=\"")
    } else if document.starts_with("//") {
        digest_after(document, "report digest")
    } else if document.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(document).expect("a JSON report");
        json["digest"].as_str().expect("digest").to_owned()
    } else {
        digest_after(document, "Report digest:")
    }
}

/// The lines of the ```sh block of a Markdown report.
#[track_caller]
fn recipe_lines(markdown: &str) -> Vec<String> {
    let section = markdown.split("\n## Reproduction recipe\n").nth(1).expect("a recipe section");
    between(section, "```sh\n", "\n```").lines().map(str::to_owned).collect()
}

#[test]
fn every_format_of_the_demo_report_states_the_same_digest() {
    let f = demo();

    // Markdown is the default.
    let out = report(&f, &["model:fraud@3"]);
    let markdown = out.ok().to_owned();
    assert_eq!(out.stderr, "");
    assert!(markdown.starts_with("# Lineage report: model:fraud@3\n"), "{markdown}");
    let mut at = 0;
    for section in [
        "## Summary",
        "## Training run",
        "### run:train\\_fraud\\_3@1",
        "## Upstream datasets",
        "## Transformation chain",
        "## Downstream consumers",
        "## Audit entries",
        "## Reproduction recipe",
    ] {
        at += markdown[at..]
            .find(&format!("\n{section}\n"))
            .unwrap_or_else(|| panic!("no {section} in order:\n{markdown}"));
        at += 1;
    }
    assert!(markdown.contains("Taken at snapshot 8 "), "{markdown}");
    assert!(markdown.contains("lineagedb report model:fraud@3 --as-of 8"), "{markdown}");
    let alias = md_row_with(&markdown, "Summary", "alias production");
    assert!(alias[1].contains("from snapshot 7 until snapshot 8"), "{alias:?}");
    assert!(alias[1].contains("RISK-131"), "the reason: {alias:?}");
    let deployment = md_row_with(&markdown, "Downstream consumers", "deployment:fraud-api@2");
    assert!(deployment.contains(&"model:fraud@3 (serves)".to_owned()), "{deployment:?}");
    let raw = md_row_with(&markdown, "Upstream datasets", "dataset:transactions@2");
    assert!(raw.contains(&"payments-data".to_owned()), "{raw:?}");
    assert!(raw.iter().any(|c| c.contains("sha256:c41d7e0b5a93")), "{raw:?}");
    assert!(raw.contains(&"s3://acme-fraud/raw/transactions/2026-02.parquet".to_owned()), "{raw:?}");
    let code = md_row_with(&markdown, "Training run", "code");
    assert!(code[1].contains("c7a05e3b19f84d26a0b3e9c1d5f7a2b4e6c8d013"), "{code:?}");
    // The whole chain, upstream first: cleaning both months, features, training.
    let recipe = recipe_lines(&markdown);
    assert_eq!(recipe[2], "git clone git@github.com:acme/fraud-model.git src && cd src");
    let steps: Vec<&String> = recipe.iter().filter(|l| l.starts_with("# step ")).collect();
    assert_eq!(
        steps,
        [
            "# step 1 of 4: run:clean_transactions_1@1",
            "# step 2 of 4: run:clean_transactions_2@1",
            "# step 3 of 4: run:build_features_2@1",
            "# step 4 of 4: run:train_fraud_3@1",
        ]
    );
    let commands: Vec<&String> = recipe.iter().skip(3).filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        commands,
        [
            "python jobs/clean.py --month 2026-01",
            "python jobs/clean.py --month 2026-02",
            "python jobs/features.py --window 30d",
            "git checkout c7a05e3b19f84d26a0b3e9c1d5f7a2b4e6c8d013",
            "python train.py --config configs/deep.yaml",
        ]
    );

    // JSON.
    let out = report(&f, &["model:fraud@3", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(out.ok()).expect("JSON");
    assert_eq!(json["report"], "lineage");
    assert_eq!(json["subject"]["key"], "model:fraud@3");
    assert_eq!(json["snapshot"]["id"], 8);
    assert_eq!(json["training_runs"][0]["key"], "run:train_fraud_3@1");
    assert_eq!(json["training_runs"][0]["code"][0]["commit"], "c7a05e3b19f84d26a0b3e9c1d5f7a2b4e6c8d013");
    assert_eq!(json["training_runs"][0]["params"]["max_depth"], 10);
    assert_eq!(json["downstream"][0]["key"], "deployment:fraud-api@2");
    let aliases = json["subject"]["aliases"].as_array().expect("aliases");
    assert_eq!(aliases.len(), 1, "{aliases:?}");
    assert_eq!((aliases[0]["since"].as_u64(), aliases[0]["until"].as_u64()), (Some(7), Some(8)));
    let digest = json["digest"].as_str().expect("digest").to_owned();
    assert!(is_digest(&digest), "{digest}");

    // DOT: the digest comment first, then the graph.
    let out = report(&f, &["model:fraud@3", "--format", "dot"]);
    let dot = out.ok();
    let mut lines = dot.lines();
    assert_eq!(lines.next(), Some("// Lineage report: model:fraud@3"));
    assert_eq!(lines.next(), Some(format!("// snapshot 8, report digest sha256:{digest}").as_str()));
    assert_eq!(lines.next(), Some("digraph lineage {"));
    assert!(dot.contains(r#"  "run:train_fraud_3@1" -> "model:fraud@3" [label="output"];"#), "{dot}");
    assert!(dot.contains(r#"  "model:fraud@3" -> "deployment:fraud-api@2" [label="serves"];"#), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");

    // HTML: one page carrying the digest in a meta tag.
    let out = report(&f, &["model:fraud@3", "--format", "html"]);
    let html = out.ok();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<h1>Lineage report: model:fraud@3</h1>"), "{html}");
    assert!(html.contains("<h2>Reproduction recipe</h2>"), "{html}");
    assert!(html.contains("<table>"), "{html}");
    assert!(html.trim_end().ends_with("</html>"), "{html}");

    for document in [&markdown, dot, html] {
        assert_eq!(stated_digest(document), digest, "{document}");
    }
    // And the REPORT statement gives the same report.
    let (out, lines) = f.query_json("REPORT model:fraud@3");
    out.ok();
    assert_eq!(lines[0]["digest"], digest.as_str());
}

#[test]
fn as_of_regenerates_the_same_report_and_o_writes_it_to_a_file() {
    let f = demo();
    let by_alias = report_json(&f, &["model:fraud@production", "--as-of", "4"]);
    let by_version = report_json(&f, &["model:fraud@2", "--as-of", "4"]);
    assert_eq!(by_alias["subject"]["key"], "model:fraud@2");
    assert_eq!(by_alias["snapshot"]["id"], 4);
    assert_eq!(by_alias["digest"], by_version["digest"]);
    assert_eq!(by_alias, by_version);
    // As of 4, fraud@2 had just been promoted and served one deployment.
    let aliases = by_version["subject"]["aliases"].as_array().expect("aliases");
    assert_eq!(aliases.len(), 1, "{aliases:?}");
    assert_eq!(aliases[0]["until"], serde_json::Value::Null);
    let downstream: Vec<&str> =
        by_version["downstream"].as_array().unwrap().iter().map(|n| n["key"].as_str().unwrap()).collect();
    assert_eq!(downstream, ["deployment:fraud-api@1"]);
    assert!(by_version["audit"].as_array().unwrap().iter().all(|e| e["snapshot"].as_u64().unwrap() <= 4));

    // At the head it is another report: moved away in 7, back in 8, a second deployment.
    let head = report_json(&f, &["model:fraud@2"]);
    assert_ne!(head["digest"], by_version["digest"]);
    assert_eq!(head["subject"]["aliases"].as_array().map(Vec::len), Some(2));
    // As of 7 the alias named fraud@3.
    assert_eq!(report_json(&f, &["model:fraud@production", "--as-of", "7"])["subject"]["key"], "model:fraud@3");

    // --as-of an RFC 3339 time: the latest snapshot at or before it.
    let (out, lines) = f.query_json("SNAPSHOTS");
    out.ok();
    let time = lines[0]["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .find(|s| s["id"] == 4)
        .and_then(|s| s["time"].as_str())
        .expect("the time of snapshot 4")
        .to_owned();
    assert_eq!(report_json(&f, &["model:fraud@2", "--as-of", &time])["digest"], by_version["digest"]);

    // -o: the file holds exactly what stdout would, and nothing is printed.
    let stdout = report(&f, &["model:fraud@2", "--as-of", "4"]);
    let md_path = f.dir().join("report.md");
    let out = report(&f, &["model:fraud@2", "--as-of", "4", "-o", "report.md"]);
    assert_eq!(out.ok(), "");
    assert_eq!(out.stderr, "");
    let written = std::fs::read_to_string(&md_path).expect("report.md written");
    assert_eq!(written, stdout.ok());
    assert_eq!(stated_digest(&written), by_version["digest"].as_str().unwrap());

    // -o replaces an existing file whole, and leaves no temporary file behind.
    std::fs::write(f.dir().join("report.html"), "x".repeat(100_000)).expect("write");
    let out = report(&f, &["model:fraud@production", "--as-of", "4", "--format", "html", "-o", "report.html"]);
    assert_eq!(out.ok(), "");
    let html = std::fs::read_to_string(f.dir().join("report.html")).expect("report.html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "{html}");
    assert_eq!(stated_digest(&html), by_version["digest"].as_str().unwrap());
    let out = report(&f, &["model:fraud@2", "--as-of", "4", "--format", "json", "-o", "report.json"]);
    assert_eq!(out.ok(), "");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir().join("report.json")).expect("report.json"))
            .expect("JSON");
    assert_eq!(json, by_version);
    let leftovers: Vec<String> = std::fs::read_dir(f.dir())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `id,label\n1,0\n`, the input file of the recorded runs below.
const DATA: &str = "id,label\n1,0\n";
/// Its SHA-256 (`printf 'id,label\n1,0\n' | sha256sum`).
const DATA_SHA256: &str = "029d219a9e8821f0c9065b679aebde4b483c7eceac78601ebd7bb2f0f66385bd";

#[test]
fn a_model_trained_by_lineagedb_run_gets_a_recipe_with_its_commit_input_hash_and_command() {
    let f = Fixture::new();
    git(f.dir(), &["init", "-q"]);
    f.write("train.py", "lr = 0.1\n");
    f.write("data.csv", DATA);
    f.write(".gitignore", "data.csv\nmodel.bin\nhistory\n");
    git(f.dir(), &["add", "train.py", ".gitignore"]);
    git(f.dir(), &["commit", "-q", "-m", "first model"]);
    let commit = git(f.dir(), &["rev-parse", "HEAD"]);
    let branch = git(f.dir(), &["rev-parse", "--abbrev-ref", "HEAD"]);
    let db = f.db_arg();
    let script = "echo weights > model.bin";
    let train = |script: &str| {
        f.run(&[
            "run",
            "--db",
            &db,
            "--job",
            "train_fraud",
            "--input",
            "data.csv",
            "--param",
            "lr=0.1",
            "--output",
            "model:fraud=model.bin",
            "--",
            "sh",
            "-c",
            script,
        ])
        .ok();
    };
    train(script);

    let json = report_json(&f, &["model:fraud@1"]);
    let runs = json["training_runs"].as_array().expect("training_runs");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run = &runs[0];
    assert!(run["key"].as_str().is_some_and(|k| k.starts_with("run:train_fraud_")), "{run}");
    assert_eq!(run["status"], "succeeded");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["cwd"], f.dir().display().to_string());
    assert_eq!(run["params"], serde_json::json!({"lr": 0.1}));
    assert_eq!(run["command"], format!("sh -c '{script}'"));
    assert_eq!(run["jobs"], serde_json::json!(["job:train_fraud@1"]));
    let code = &run["code"][0];
    assert_eq!(code["commit"], commit.as_str());
    assert_eq!(code["branch"], branch.as_str());
    assert_eq!(code["dirty"], false);
    let input = &run["inputs"][0];
    assert_eq!(input["key"], "dataset:data.csv@1");
    assert_eq!(input["content_hash"], format!("sha256:{DATA_SHA256}"));
    assert_eq!(input["source"], "data.csv");
    let recipe = &json["recipe"][0];
    assert_eq!(recipe["run"], run["key"]);
    assert_eq!(recipe["command"], run["command"]);
    assert_eq!(recipe["code"], run["code"]);
    assert_eq!(recipe["inputs"], run["inputs"]);
    assert_eq!(json["subject"]["content_hash"].as_str().map(str::len), Some("sha256:".len() + 64));
    assert_eq!(json["upstream_datasets"][0]["content_hash"], format!("sha256:{DATA_SHA256}"));

    let markdown = report(&f, &["model:fraud@1"]);
    let lines = recipe_lines(markdown.ok());
    assert_eq!(lines[0], "set -eu");
    assert!(lines.contains(&format!("git checkout {commit}")), "{lines:?}");
    // The input and the output are checked against their recorded hashes.
    assert!(lines.contains(&format!("check data.csv {DATA_SHA256}  # input dataset:data.csv@1")), "{lines:?}");
    assert!(lines.contains(&r#"# params {"lr":0.1}"#.to_owned()), "{lines:?}");
    assert!(lines.contains(&format!("# ran in {}", f.dir().display())), "{lines:?}");
    let command_at = lines.iter().position(|l| *l == format!("sh -c '{script}'")).expect("the command");
    assert!(lines[command_at + 1].starts_with("check model.bin "), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("WARNING")), "a clean tree: {lines:?}");
    // The recipe runs: from a copy of the data it re-makes the model and checks it.
    let replay = tempfile::tempdir().expect("tempdir");
    std::fs::write(replay.path().join("data.csv"), DATA).expect("write");
    let script_text = lines.iter().filter(|l| !l.starts_with("git ")).cloned().collect::<Vec<_>>().join("\n");
    let ran =
        std::process::Command::new("sh").arg("-c").arg(&script_text).current_dir(replay.path()).output().expect("sh");
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    std::fs::write(replay.path().join("data.csv"), "changed").expect("write");
    let ran =
        std::process::Command::new("sh").arg("-c").arg(&script_text).current_dir(replay.path()).output().expect("sh");
    assert!(!ran.status.success(), "a changed input stops the recipe");
    assert!(String::from_utf8_lossy(&ran.stderr).contains("data.csv is not the recorded version"));

    // Retrained with an uncommitted change: the recipe warns that the commit is not what ran.
    f.write("train.py", "lr = 0.05\n");
    train("echo other > model.bin");
    let json = report_json(&f, &["model:fraud@2"]);
    assert_eq!(json["training_runs"][0]["code"][0]["commit"], commit.as_str());
    assert_eq!(json["training_runs"][0]["code"][0]["dirty"], true);
    let lines = recipe_lines(report(&f, &["model:fraud@2"]).ok());
    assert!(lines.contains(&format!("git checkout {commit}")), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("# WARNING: the run had uncommitted changes (difference sha256 ")),
        "{lines:?}"
    );
    assert!(lines.contains(&"sh -c 'echo other > model.bin'".to_owned()), "{lines:?}");
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    let f = Fixture::new();
    // No database: an error, and no file is created.
    let missing = f.dir().join("missing.redb");
    let missing_arg = missing.display().to_string();
    let out = f.run(&["--db", &missing_arg, "report", "model:fraud@1"]);
    out.exits(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains(&format!("no database at {missing_arg}")), "{}", out.stderr);
    assert!(!missing.exists(), "report created the database");
    let out = f.run(&["--db", &missing_arg, "report", "model:fraud@1", "-o", "out.md"]);
    out.exits(2);
    assert!(!missing.exists() && !f.dir().join("out.md").exists());

    let f = demo();
    let cases: [(&[&str], &str); 7] = [
        (&["not a ref"], "invalid REF"),
        (&["model:"], "invalid REF"),
        (&["model:nope@1"], "cannot report on model:nope@1"),
        (&["model:fraud@9"], "cannot report on model:fraud@9"),
        (&["model:fraud@3", "--as-of", "yesterday"], "--as-of"),
        (&["model:fraud@3", "--as-of", "99"], "--as-of 99"),
        (&["model:fraud@3", "--format", "pdf"], "pdf"),
    ];
    for (args, message) in cases {
        let out = report(&f, args);
        out.exits(2);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.contains(message), "{args:?}: {message:?} not in {}", out.stderr);
        // With -o, a failed report leaves no file.
        let out = report(&f, &[args, &["-o", "failed.md"]].concat());
        out.exits(2);
        assert!(!f.dir().join("failed.md").exists(), "{args:?}");
    }
    // The REF is checked before the database is opened.
    let out = f.run(&["--db", &missing_arg, "report", "not a ref"]);
    out.exits(2);
    assert!(out.stderr.contains("invalid REF"), "{}", out.stderr);
    // A version that did not exist yet at --as-of.
    let out = report(&f, &["model:fraud@3", "--as-of", "5"]);
    out.exits(2);
    assert!(out.stderr.contains("model:fraud@3"), "{}", out.stderr);

    // -o naming the database is refused, and the database is intact.
    let before = std::fs::read(f.db()).expect("the database");
    let out = report(&f, &["model:fraud@3", "-o", &f.db_arg()]);
    out.exits(2);
    assert!(out.stderr.contains("the database itself"), "{}", out.stderr);
    assert_eq!(std::fs::read(f.db()).expect("the database"), before);
    report(&f, &["model:fraud@3"]).ok();
}

/// `lineagedb import --db DB --format jsonl FILE` of `lines`, asserting success.
fn import(f: &Fixture, name: &str, lines: &str) {
    let file = f.write(name, lines).display().to_string();
    f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &file]).ok();
}

/// The (seq, snapshot, op) of the audit entries of a JSON report.
fn audit_of(report: &serde_json::Value) -> Vec<(u64, u64, String)> {
    report["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e["snapshot"].as_u64().unwrap(), e["op"].as_str().unwrap().to_owned()))
        .collect()
}

const IMPORTED: &str = r#"{"node": {"type": "dataset", "name": "transactions", "version": 1, "props": {"rows": 1000}}}
{"node": {"type": "run", "name": "train_1", "props": {"learning_rate": 0.1}}}
{"edge": {"from": "dataset:transactions@1", "to": "run:train_1@1", "label": "input"}}
{"node": {"type": "model", "name": "fraud"}}
{"edge": {"from": "run:train_1@1", "to": "model:fraud@1", "label": "output"}}
"#;

#[test]
fn an_imported_lineage_reports_the_batch_entry_of_its_import_only() {
    let f = Fixture::new();
    import(&f, "lineage.jsonl", IMPORTED);
    import(&f, "other.jsonl", r#"{"node": {"type": "dataset", "name": "other", "props": {"rows": 5}}}"#);
    let json = report_json(&f, &["model:fraud@1"]);
    // The import's nodes and edges are covered by one batch entry, without
    // subjects; the unrelated import of snapshot 2 is not in the report.
    assert_eq!(audit_of(&json), [(1, 1, "import".to_owned())]);
    assert_eq!(json["audit"][0]["subjects"], serde_json::json!([]));
    assert_eq!(json["training_runs"][0]["key"], "run:train_1@1");
    assert_eq!(json["training_runs"][0]["inputs"][0]["key"], "dataset:transactions@1");
}

#[test]
fn the_import_that_linked_a_node_into_the_lineage_is_in_the_audit() {
    let f = Fixture::new();
    import(&f, "lineage.jsonl", IMPORTED);
    import(&f, "other.jsonl", r#"{"node": {"type": "dataset", "name": "other", "props": {"rows": 5}}}"#);
    import(&f, "link.jsonl", r#"{"edge": {"from": "dataset:other@1", "to": "run:train_1@1", "label": "input"}}"#);
    let json = report_json(&f, &["model:fraud@1"]);
    let upstream: Vec<&str> = json["upstream"].as_array().unwrap().iter().map(|n| n["key"].as_str().unwrap()).collect();
    assert!(upstream.contains(&"dataset:other@1"), "{upstream:?}");
    // Snapshot 3 recorded the edge dataset:other@1 -> run:train_1@1 (its
    // only audit record is that batch entry), yet the report omits it.
    let snapshots: Vec<u64> = audit_of(&json).iter().map(|(_, s, _)| *s).collect();
    assert_eq!(snapshots, [1, 2, 3]);
}
