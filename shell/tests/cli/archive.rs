//! `lineagedb archive export -o FILE` and `lineagedb archive import FILE`:
//! the demo database, and one holding a recorded run, a JSONL import,
//! annotations, tombstones and a deletion, round-trip into a new file that
//! answers every query the same, verifies, re-exports byte for byte and takes
//! new writes; a non-empty target, a damaged, edited, truncated or forged
//! archive, a missing archive or database and `-o` naming the database are
//! refused with the right exit status and nothing written.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{Fixture, Outcome, json_lines, row_keys, suggested_queries};

/// A fixture holding the demo database (snapshots 1 to 8); returns the welcome too.
fn demo() -> (Fixture, String) {
    let f = Fixture::new();
    let welcome = f.run(&["demo", "--no-repl", "--db", &f.db_arg()]).ok().to_owned();
    (f, welcome)
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// `lineagedb --db DB ARGS...`.
fn on(f: &Fixture, db: &Path, args: &[&str]) -> Outcome {
    let db = text(db);
    let mut all = vec!["--db", db.as_str()];
    all.extend_from_slice(args);
    f.run(&all)
}

/// `lineagedb --db DB archive export -o FILE`.
fn export(f: &Fixture, db: &Path, file: &Path) -> Outcome {
    on(f, db, &["archive", "export", "-o", &text(file)])
}

/// `lineagedb --db DB archive import FILE`.
fn import(f: &Fixture, db: &Path, file: &Path) -> Outcome {
    on(f, db, &["archive", "import", &text(file)])
}

/// `lineagedb --db DB query --format json STATEMENT`, however it ends.
fn json_query(f: &Fixture, db: &Path, statement: &str) -> Outcome {
    on(f, db, &["query", "--format", "json", statement])
}

/// `lineagedb --db DB verify`, asserting it passes; returns its report.
#[track_caller]
fn verify_ok(f: &Fixture, db: &Path) -> String {
    let out = on(f, db, &["verify"]);
    let report = out.ok().to_owned();
    assert!(report.starts_with("ok: "), "{report}");
    report
}

/// The lines of an archive file.
#[track_caller]
fn archive_lines(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    assert!(text.ends_with('\n'), "the archive ends with a newline");
    text.lines().map(str::to_owned).collect()
}

/// The single key of an archive line.
#[track_caller]
fn kind(line: &str) -> String {
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let object = value.as_object().unwrap_or_else(|| panic!("not an object: {line}"));
    assert_eq!(object.len(), 1, "one key per record: {line}");
    object.keys().next().expect("a key").clone()
}

/// The manifest object of an archive: its last line.
#[track_caller]
fn manifest(lines: &[String]) -> Value {
    let last = lines.last().expect("a non-empty archive");
    let value: Value = serde_json::from_str(last).expect("the manifest is JSON");
    value.get("manifest").unwrap_or_else(|| panic!("the last line is no manifest: {last}")).clone()
}

/// What `archive export` and `archive import` print after the colon, built from the manifest.
fn summary(manifest: &Value) -> String {
    let count = |kind: &str| manifest["counts"][kind].as_u64().unwrap_or_else(|| panic!("no count of {kind}"));
    format!(
        "{} snapshot(s), {} node(s), {} edge(s), {} alias move(s), {} audit entr{}; sha256 {}",
        count("snapshots"),
        count("nodes"),
        count("edges"),
        count("aliases"),
        count("audit"),
        if count("audit") == 1 { "y" } else { "ies" },
        manifest["sha256"].as_str().expect("sha256")
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the layout of an archive: the header, the kinds in order, the
/// manifest's counts and SHA-256 of every byte before it; returns the manifest.
#[track_caller]
fn check_layout(file: &Path) -> Value {
    let bytes = std::fs::read(file).expect("the archive");
    let lines = archive_lines(file);
    assert_eq!(lines[0], r#"{"lineagedb_archive":{"version":1,"written_by":"lineagedb 0.1.0"}}"#);
    let order = ["type", "label", "snapshot", "node", "annotation", "edge", "alias", "audit"];
    let kinds: Vec<String> = lines[1..lines.len() - 1].iter().map(|l| kind(l)).collect();
    let ranks: Vec<usize> = kinds
        .iter()
        .map(|k| order.iter().position(|o| o == k).unwrap_or_else(|| panic!("unknown record kind {k}")))
        .collect();
    assert!(ranks.is_sorted(), "records out of order: {kinds:?}");
    let manifest = manifest(&lines);
    for (kind, plural) in
        order.iter().zip(["types", "labels", "snapshots", "nodes", "annotations", "edges", "aliases", "audit"])
    {
        let found = kinds.iter().filter(|k| k == kind).count() as u64;
        assert_eq!(manifest["counts"][plural].as_u64(), Some(found), "count of {plural} in {manifest}");
    }
    let body = bytes.len() - lines.last().unwrap().len() - 1;
    assert_eq!(manifest["sha256"].as_str(), Some(sha256_hex(&bytes[..body]).as_str()), "{manifest}");
    manifest
}

/// The names of the files in the fixture's directory.
fn files(f: &Fixture) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(f.dir())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that no `copy.redb` (nor any file beside it named after it) is
/// in the directory: a refused import into a new database leaves nothing.
#[track_caller]
fn assert_no_copy(f: &Fixture) {
    let left: Vec<String> =
        files(f).into_iter().filter(|n| n.trim_start_matches('.').starts_with("copy.redb")).collect();
    assert!(left.is_empty(), "a refused import left {left:?}");
}

/// Asserts a refused import of a damaged archive: exit 1, `lineagedb: FILE:LINE: `
/// then `reason` on stderr with the hint, and nothing on stdout.
#[track_caller]
fn refused(out: &Outcome, file: &Path, line: usize, reason: &str) {
    out.exits(1);
    assert_eq!(out.stdout, "");
    let prefix = format!("lineagedb: {}:{line}: ", file.display());
    assert!(out.stderr.starts_with(&prefix), "expected {prefix:?}…\n{}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(first.contains(reason), "{reason:?} not in {first:?}");
    assert!(out.stderr.contains("\nhint: nothing was imported"), "{}", out.stderr);
}

#[test]
fn the_demo_database_round_trips_and_answers_every_query_the_same() {
    let (f, welcome) = demo();
    let original = f.db();
    let before = std::fs::read(&original).expect("the database");
    let file = f.dir().join("demo.archive");
    let out = export(&f, &original, &file);
    assert_eq!(out.stderr, "");
    let manifest = check_layout(&file);
    assert_eq!(out.ok(), format!("archived {} to {}: {}\n", text(&original), text(&file), summary(&manifest)));
    // Read-only: the database is untouched.
    assert_eq!(std::fs::read(&original).expect("the database"), before, "export changed the database");
    let last = manifest["last_snapshot"].as_u64().expect("last_snapshot");
    assert_eq!(last, 8);
    // verify counts the same things, independently.
    let verified = verify_ok(&f, &original);
    let count = |kind: &str| manifest["counts"][kind].as_u64().unwrap();
    assert_eq!(
        verified.trim_end(),
        format!(
            "ok: checked {} snapshots, {} nodes, {} edges, {} audit entries",
            count("snapshots"),
            count("nodes"),
            count("edges"),
            count("audit")
        )
    );
    assert_eq!(count("aliases"), 3, "production moved three times: {manifest}");
    let audit = json_query(&f, &original, "AUDIT");
    let entries = json_lines(audit.ok());
    let tip = entries[0]["audit"].as_array().and_then(|a| a.last()).expect("an audit entry")["hash"].clone();
    assert_eq!(manifest["audit_tip"], tip);

    let copy = f.dir().join("copy.redb");
    let out = import(&f, &copy, &file);
    assert_eq!(out.stderr, "");
    assert_eq!(out.ok(), format!("rebuilt {} from {}: {}\n", text(&copy), text(&file), summary(&manifest)));
    assert_eq!(verify_ok(&f, &copy), verified);

    let mut queries = suggested_queries(&welcome);
    assert!(queries.len() >= 5, "{welcome}");
    queries.extend(["HISTORY OF model:fraud", "AUDIT", "SNAPSHOTS"].map(str::to_owned));
    queries.extend((1..=last).map(|n| format!("ANCESTORS OF model:fraud@production WHERE type=dataset AS OF {n}")));
    for query in &queries {
        let (a, b) = (json_query(&f, &original, query), json_query(&f, &copy, query));
        assert!(!a.stdout.trim().is_empty(), "`{query}` printed nothing");
        assert_eq!((a.code, &a.stdout, &a.stderr), (b.code, &b.stdout, &b.stderr), "`{query}` answers differently");
    }
    // The comparison is not of errors only: production answered from snapshot 4 on, not before.
    let answered = |n: u64| {
        let out = json_query(&f, &copy, &format!("ANCESTORS OF model:fraud@production WHERE type=dataset AS OF {n}"));
        (out.code == 0 && !out.stdout.contains("\"error\"")).then(|| row_keys(&json_lines(&out.stdout)[0]))
    };
    assert_eq!(answered(3), None);
    assert!(answered(4).is_some_and(|keys| keys.contains(&"dataset:transactions@1".to_owned())));
    assert!(answered(8).is_some_and(|keys| !keys.contains(&"dataset:transactions@2".to_owned())), "rolled back");

    let report = |db: &Path| {
        let out = on(&f, db, &["report", "model:fraud@3", "--as-of", "8", "--format", "json"]);
        serde_json::from_str::<Value>(out.ok()).expect("a JSON report")
    };
    let (a, b) = (report(&original), report(&copy));
    assert!(a["digest"].as_str().is_some_and(|d| d.len() == 64), "{a}");
    assert_eq!(a["digest"], b["digest"]);
    assert_eq!(a, b);

    // Nothing lost or added: the copy's archive is the same file.
    let again = f.dir().join("copy.archive");
    export(&f, &copy, &again).ok();
    assert!(std::fs::read(&again).expect("copy.archive") == std::fs::read(&file).expect("demo.archive"));
    // Temporary files were renamed away.
    assert!(!files(&f).iter().any(|n| n.ends_with(".tmp")), "{:?}", files(&f));
}

#[test]
fn the_rebuilt_copy_takes_new_writes_after_the_archived_snapshots() {
    let (f, _) = demo();
    let file = f.dir().join("demo.archive");
    export(&f, &f.db(), &file).ok();
    let manifest = manifest(&archive_lines(&file));
    let copy = f.dir().join("copy.redb");
    import(&f, &copy, &file).ok();

    let out = json_query(&f, &copy, "CREATE dataset:new");
    assert_eq!(json_lines(out.ok()), [serde_json::json!({"keys": ["dataset:new@1"], "ok": true, "snapshot": 9})]);
    // A new version of an archived entity, a new type, a new label, an alias move.
    let out = json_query(
        &f,
        &copy,
        "CREATE model:fraud; CREATE feature:risk; LINK feature:risk@1 -> model:fraud@4 AS feeds; \
         LINK dataset:transactions@2 -> feature:risk@1 AS derives; PROMOTE model:fraud@4 TO production REASON 'after restore'",
    );
    let snapshots: Vec<u64> = json_lines(out.ok()).iter().map(|l| l["snapshot"].as_u64().expect("snapshot")).collect();
    assert_eq!(snapshots, [10, 11, 12, 13, 14]);
    verify_ok(&f, &copy);

    let out = json_query(&f, &copy, "SNAPSHOTS");
    let ids: Vec<u64> = json_lines(out.ok())[0]["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=14).rev().collect::<Vec<_>>());
    // The audit chain goes on from the archived tip.
    let out = json_query(&f, &copy, "AUDIT SINCE 9");
    let audit = json_lines(out.ok())[0]["audit"].as_array().expect("audit").clone();
    assert_eq!(audit[0]["seq"], manifest["counts"]["audit"].as_u64().unwrap() + 1);
    assert_eq!(audit[0]["prev_hash"], manifest["audit_tip"]);
    assert_eq!(audit[0]["subjects"], serde_json::json!(["dataset:new@1"]));

    // Old and new types and labels do not collide.
    let keys = |query: &str| row_keys(&json_lines(json_query(&f, &copy, query).ok())[0]);
    assert_eq!(keys("FIND feature"), ["feature:risk@1"]);
    assert_eq!(keys("ANCESTORS OF model:fraud@production WHERE type=feature"), ["feature:risk@1"]);
    let upstream = keys("ANCESTORS OF model:fraud@production WHERE type=dataset");
    assert_eq!(upstream, ["dataset:transactions@2"]);
    let models = keys("DESCENDANTS OF dataset:transactions@1 WHERE type=model");
    assert_eq!(models.len(), 3, "{models:?}");
    let out = json_query(&f, &copy, "HISTORY OF model:fraud");
    let history = json_lines(out.ok())[0]["history"].as_array().expect("history").clone();
    let moved = history.last().expect("an event");
    assert_eq!(moved["event"], "alias_moved");
    assert_eq!(moved["key"], "model:fraud@4");
    assert_eq!(moved["previous"], "model:fraud@2", "the alias held @2 after the rollback");
    // The original is not affected.
    let out = json_query(&f, &f.db(), "SNAPSHOTS");
    assert_eq!(json_lines(out.ok())[0]["snapshots"][0]["id"], 8);
    verify_ok(&f, &copy);
}

/// `id,label\n1,0\n`, the input of the recorded run.
const DATA: &str = "id,label\n1,0\n";

/// A JSONL import onto the run's output: typed properties, an external label, an alias.
const IMPORTED: &str = r#"{"node": {"type": "dataset", "name": "s3://b/tx.parquet", "label": "8361542", "props": {"rows": 9223372036854775807, "ratio": -0.125, "tiny": 1e-300, "ok": true, "none": null, "text": "é \"quoted\"\nline", "nested": {"cols": ["a", 1, 2.5, {"deep": false}]}}}}
{"node": {"type": "deployment", "name": "api", "props": {"replicas": 3}}}
{"edge": {"from": "model:fraud@1", "to": "deployment:api@1", "label": "serves", "props": {"since": "2026-01-01"}}}
{"edge": {"from": "dataset:\"s3://b/tx.parquet\"@1", "to": "model:fraud@1", "label": "validates"}}
{"node": {"type": "dataset", "name": "tmp"}}
{"edge": {"from": "dataset:tmp@1", "to": "model:fraud@1"}}
{"alias": {"ref": "model:fraud@1", "alias": "production", "reason": "first model"}}
"#;

#[test]
fn a_recorded_run_a_jsonl_import_and_later_changes_round_trip() {
    let f = Fixture::new();
    let db = f.db();
    f.write("data.csv", DATA);
    let out = on(
        &f,
        &db,
        &[
            "run",
            "--job",
            "train_fraud",
            "--input",
            "data.csv",
            "--param",
            "lr=0.1",
            "--param",
            "depth=4",
            "--output",
            "model:fraud=model.bin",
            "--",
            "sh",
            "-c",
            "echo weights > model.bin",
        ],
    );
    out.ok();
    let run = out
        .stderr
        .strip_prefix("lineagedb: recorded ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no recorded run in {}", out.stderr))
        .to_owned();
    assert!(run.starts_with("run:train_fraud_"), "{run}");
    let lineage = f.write("lineage.jsonl", IMPORTED);
    on(&f, &db, &["import", "--format", "jsonl", &text(&lineage)]).ok();
    // An annotation, an unlinked edge, a detached delete, a second alias move.
    f.query("SET model:fraud@1 {note: 'annotated', score: 0.75}").ok();
    f.query("UNLINK model:fraud@1 -> deployment:api@1").ok();
    f.query("DETACH DELETE dataset:tmp@1").ok();
    f.query("CREATE model:fraud; PROMOTE model:fraud@2 TO production REASON 'retrained'").ok();
    f.query("SET model:fraud@1 {note: null}").ok();

    let file = f.dir().join("run.archive");
    export(&f, &db, &file).ok();
    let manifest = check_layout(&file);
    let lines = archive_lines(&file);
    // Two annotation changes on the model, and the run's status going from
    // running (when it started) to succeeded.
    assert_eq!(manifest["counts"]["annotations"], 4, "{manifest}");
    assert_eq!(manifest["counts"]["aliases"], 2, "{manifest}");
    assert!(lines.iter().any(|l| l.starts_with(r#"{"edge":"#) && !l.contains(r#""deleted_in":null"#)), "a tombstone");
    assert!(lines.iter().any(|l| l.starts_with(r#"{"node":"#) && !l.contains(r#""deleted_in":null"#)), "a deletion");
    assert!(lines.iter().any(|l| l.contains(r#""label":"8361542""#)), "the external label");
    let last = manifest["last_snapshot"].as_u64().unwrap();

    let copy = f.dir().join("copy.redb");
    import(&f, &copy, &file).ok();
    assert_eq!(verify_ok(&f, &copy), verify_ok(&f, &db));

    let mut queries: Vec<String> = [
        format!("SHOW {run}"),
        "AUDIT".to_owned(),
        "SNAPSHOTS".to_owned(),
        "HISTORY OF model:fraud".to_owned(),
        "HISTORY OF dataset:tmp".to_owned(),
        r#"SHOW dataset:"s3://b/tx.parquet"@"8361542""#.to_owned(),
        "SHOW model:fraud@production".to_owned(),
        "REPORT model:fraud@1".to_owned(),
    ]
    .to_vec();
    for n in 1..=last {
        queries.push(format!("FIND * AS OF {n}"));
        queries.push(format!("SHOW model:fraud@1 AS OF {n}"));
        queries.push(format!("DESCENDANTS OF dataset:data.csv@1 AS OF {n}"));
        queries.push(format!("ANCESTORS OF deployment:api@1 AS OF {n}"));
    }
    for query in &queries {
        let (a, b) = (json_query(&f, &db, query), json_query(&f, &copy, query));
        assert!(!a.stdout.trim().is_empty(), "`{query}` printed nothing");
        assert_eq!((a.code, &a.stdout, &a.stderr), (b.code, &b.stdout, &b.stderr), "`{query}` answers differently");
    }
    // The run node is all there, typed.
    let out = json_query(&f, &copy, &format!("SHOW {run}"));
    let node = json_lines(out.ok())[0]["node"].clone();
    assert_eq!(node["props"]["params"], serde_json::json!({"depth": 4, "lr": 0.1}), "{node}");
    assert_eq!(node["props"]["status"], "succeeded", "{node}");
    assert_eq!(node["props"]["cwd"], text(f.dir()), "{node}");
    let out = json_query(&f, &copy, r#"SHOW dataset:"s3://b/tx.parquet"@"8361542""#);
    let props = json_lines(out.ok())[0]["node"]["props"].clone();
    assert_eq!(props["rows"], i64::MAX, "{props}");
    assert_eq!(props["tiny"], 1e-300, "{props}");
    assert_eq!(props["text"], "é \"quoted\"\nline", "{props}");
    assert_eq!(props["nested"], serde_json::json!({"cols": ["a", 1, 2.5, {"deep": false}]}), "{props}");
    // The audit export, hashes and all, is the same.
    let (a, b) = (on(&f, &db, &["audit"]), on(&f, &copy, &["audit"]));
    assert!(json_lines(a.ok()).len() as u64 == manifest["counts"]["audit"].as_u64().unwrap());
    assert_eq!(a.stdout, b.ok());
    // And so is the archive.
    let again = f.dir().join("copy.archive");
    export(&f, &copy, &again).ok();
    assert!(std::fs::read(&again).unwrap() == std::fs::read(&file).unwrap(), "the copy archives differently");
}

#[test]
fn an_archive_is_not_imported_into_a_database_that_holds_data() {
    let (f, _) = demo();
    let file = f.dir().join("demo.archive");
    export(&f, &f.db(), &file).ok();
    let snapshots = json_query(&f, &f.db(), "SNAPSHOTS").ok().to_owned();
    let found = json_query(&f, &f.db(), "FIND *").ok().to_owned();
    let out = import(&f, &f.db(), &file);
    out.exits(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with(&format!("lineagedb: cannot import into {}: ", f.db_arg())), "{}", out.stderr);
    assert!(out.stderr.contains("this database is not empty"), "{}", out.stderr);
    assert!(out.stderr.contains("\nhint: pass --db with a new file"), "{}", out.stderr);
    assert_eq!(json_query(&f, &f.db(), "SNAPSHOTS").ok(), snapshots);
    assert_eq!(json_query(&f, &f.db(), "FIND *").ok(), found);
    verify_ok(&f, &f.db());

    // A database with one write is not empty either.
    let other = f.dir().join("other.redb");
    on(&f, &other, &["query", "CREATE dataset:precious"]).ok();
    import(&f, &other, &file).exits(2);
    let out = json_query(&f, &other, "FIND *");
    assert_eq!(row_keys(&json_lines(out.ok())[0]), ["dataset:precious@1"]);

    // An existing but empty database takes it; a failed import leaves it in place, empty.
    let empty = f.dir().join("empty.redb");
    let nothing = f.write("nothing.jsonl", "");
    on(&f, &empty, &["import", "--format", "jsonl", &text(&nothing)]).ok();
    assert!(empty.exists());
    let lines = archive_lines(&file);
    let truncated = f.write("truncated.archive", &(lines[..lines.len() - 1].join("\n") + "\n"));
    refused(&import(&f, &empty, &truncated), &truncated, lines.len() - 1, "truncated");
    assert!(empty.exists(), "the database existed before: it stays");
    assert_eq!(json_lines(json_query(&f, &empty, "SNAPSHOTS").ok())[0]["snapshots"], serde_json::json!([]));
    import(&f, &empty, &file).ok();
    assert_eq!(json_query(&f, &empty, "SNAPSHOTS").ok(), snapshots);
}

#[test]
fn a_truncated_archive_is_refused_and_leaves_no_database() {
    let (f, _) = demo();
    let file = f.dir().join("demo.archive");
    export(&f, &f.db(), &file).ok();
    let lines = archive_lines(&file);
    let copy = f.dir().join("copy.redb");

    // Without its manifest line.
    let truncated = f.write("truncated.archive", &(lines[..lines.len() - 1].join("\n") + "\n"));
    refused(&import(&f, &copy, &truncated), &truncated, lines.len() - 1, "truncated");
    assert_no_copy(&f);

    // Cut in the middle of a node line: that line is named.
    let node = lines.iter().position(|l| l.starts_with(r#"{"node":"#)).expect("a node line");
    let mut cut = lines[..node].join("\n") + "\n";
    cut.push_str(&lines[node][..lines[node].len() / 2]);
    let cut = f.write("cut.archive", &cut);
    refused(&import(&f, &copy, &cut), &cut, node + 1, "not an archive record");
    assert_no_copy(&f);

    // Only the header.
    let header = f.write("header.archive", &format!("{}\n", lines[0]));
    refused(&import(&f, &copy, &header), &header, 1, "truncated");
    assert_no_copy(&f);
}

#[test]
fn an_edited_archive_is_refused_naming_its_manifest_line() {
    let (f, _) = demo();
    let file = f.dir().join("demo.archive");
    export(&f, &f.db(), &file).ok();
    let lines = archive_lines(&file);
    let copy = f.dir().join("copy.redb");

    // One property value of one node changed.
    let node =
        lines.iter().position(|l| l.starts_with(r#"{"node":"#) && l.contains(r#""rows":{"i":"#)).expect("a node");
    let mut edited = lines.clone();
    let at = edited[node].find(r#""rows":{"i":"#).unwrap() + r#""rows":{"i":"#.len();
    edited[node].insert(at, '1');
    assert_ne!(edited, lines);
    let edited_file = f.write("edited.archive", &(edited.join("\n") + "\n"));
    refused(&import(&f, &copy, &edited_file), &edited_file, lines.len(), "does not match its manifest");
    assert_no_copy(&f);

    // The same edit with the manifest's SHA-256 recomputed: the audit log catches it.
    let body: String = edited[..edited.len() - 1].iter().map(|l| format!("{l}\n")).collect();
    let old = manifest(&lines)["sha256"].as_str().unwrap().to_owned();
    let forged_manifest = lines.last().unwrap().replace(&old, &sha256_hex(body.as_bytes()));
    let forged = f.write("forged.archive", &format!("{body}{forged_manifest}\n"));
    refused(&import(&f, &copy, &forged), &forged, lines.len(), "fails verify");
    assert_no_copy(&f);

    // A count changed in the manifest.
    let audit = manifest(&lines)["counts"]["audit"].as_u64().unwrap();
    let mut recounted = lines.clone();
    let last = recounted.len() - 1;
    recounted[last] = recounted[last].replace(&format!(r#""audit":{audit}"#), &format!(r#""audit":{}"#, audit + 1));
    assert_ne!(recounted, lines);
    let recounted = f.write("recounted.archive", &(recounted.join("\n") + "\n"));
    refused(&import(&f, &copy, &recounted), &recounted, lines.len(), "the manifest counts");
    assert_no_copy(&f);

    // A line after the manifest.
    let extra = f.write("extra.archive", &(lines.join("\n") + "\n" + &lines[1] + "\n"));
    refused(&import(&f, &copy, &extra), &extra, lines.len() + 1, "nothing may follow the manifest");
    assert_no_copy(&f);
}

#[test]
fn a_file_that_is_no_archive_is_refused() {
    let (f, _) = demo();
    let file = f.dir().join("demo.archive");
    export(&f, &f.db(), &file).ok();
    let lines = archive_lines(&file);
    let copy = f.dir().join("copy.redb");

    let mut garbage = lines.clone();
    garbage[0] = "PK\u{3}\u{4} this is a zip file".to_owned();
    let garbage = f.write("garbage.archive", &(garbage.join("\n") + "\n"));
    refused(&import(&f, &copy, &garbage), &garbage, 1, "not a LineageDB archive");
    assert_no_copy(&f);

    // JSON Lines of another kind: a lineage import file.
    let jsonl = f.write("lineage.jsonl", IMPORTED);
    refused(&import(&f, &copy, &jsonl), &jsonl, 1, "not a LineageDB archive");
    assert_no_copy(&f);

    // The database file itself.
    let out = on(&f, &copy, &["archive", "import", &f.db_arg()]);
    refused(&out, &f.db(), 1, "not a LineageDB archive");
    assert_no_copy(&f);
}

#[test]
fn a_missing_archive_or_database_is_a_usage_error_that_writes_nothing() {
    let f = Fixture::new();
    let copy = f.dir().join("copy.redb");
    let missing = f.dir().join("missing.archive");
    let out = import(&f, &copy, &missing);
    out.exits(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("lineagedb: "), "{}", out.stderr);
    assert!(out.stderr.contains(&text(&missing)), "{}", out.stderr);
    assert_no_copy(&f);

    let absent = f.dir().join("absent.redb");
    let file = f.dir().join("out.archive");
    let out = export(&f, &absent, &file);
    out.exits(2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with(&format!("lineagedb: no database at {}", text(&absent))), "{}", out.stderr);
    assert!(!absent.exists(), "export created the database");
    assert!(!file.exists(), "export wrote an archive");
    assert_eq!(files(&f), Vec::<String>::new(), "nothing at all was written");
}

#[test]
fn export_refuses_to_write_over_the_database_and_replaces_another_file_whole() {
    let (f, _) = demo();
    let before = std::fs::read(f.db()).expect("the database");
    // As given, and spelled relative to the working directory.
    for output in [f.db_arg(), "test.redb".to_owned(), "./test.redb".to_owned()] {
        let out = on(&f, &f.db(), &["archive", "export", "-o", &output]);
        out.exits(2);
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains("is the database itself"), "{output}: {}", out.stderr);
        assert_eq!(std::fs::read(f.db()).expect("the database"), before, "-o {output} changed the database");
    }
    verify_ok(&f, &f.db());

    // Another existing file is replaced whole, and a failed export leaves it as it was.
    let file = f.write("old.archive", &"x".repeat(1_000_000));
    export(&f, &f.db(), &file).ok();
    let manifest = check_layout(&file);
    assert_eq!(manifest["last_snapshot"], 8);
    let kept = std::fs::read(&file).unwrap();
    let out = export(&f, &f.dir().join("absent.redb"), &file);
    out.exits(2);
    assert_eq!(std::fs::read(&file).unwrap(), kept);
    let out = export(&f, &f.db(), &f.dir().join("no-such-dir").join("x.archive"));
    out.exits(2);
    assert!(out.stderr.contains("cannot write"), "{}", out.stderr);
    assert!(!files(&f).iter().any(|n| n.ends_with(".tmp")), "{:?}", files(&f));
}
