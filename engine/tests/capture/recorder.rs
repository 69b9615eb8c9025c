//! The run recorder: what `lineagedb run` records for a command, on success
//! and on failure, with files hashed and the code revision taken from git.

use std::path::Path;
use std::process::Command;

use lineagedb_engine::{
    EntityKey, HistoryKind, PendingRun, RecorderError, RunStatus, Value, start_run, start_run_detached,
};

use crate::support::{fresh_db, k, keys, node, r, set};

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        other => panic!("expected a string, found {other:?}"),
    }
}

/// Runs git in `dir` with a fixed identity, asserting success.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_failing_run_records_a_failed_run_and_no_output_version() {
    let (dir, db) = fresh_db();
    let data = dir.path().join("tx.csv");
    std::fs::write(&data, "id,amount\n1,10\n").expect("write");
    let model = dir.path().join("model.bin");
    std::fs::write(&model, "weights").expect("write");

    let mut rec = start_run(&db, "train_fraud").expect("start");
    let reserved = rec.run_key();
    assert!(reserved.name.starts_with("train_fraud_"), "{reserved}");
    let hash = rec.input_file(&data, Some("transactions")).expect("hash input");
    assert_eq!(hash.len(), 64);
    rec.param("lr", 0.1).param("epochs", 3i64);
    rec.output_file("model", "fraud", &model).expect("declare output");
    let argv: Vec<String> = ["python", "train.py", "--lr", "0.1"].map(String::from).to_vec();
    rec.command(&argv, dir.path());
    let outcome = rec.finish(3).expect("records");

    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.run, reserved);
    assert!(outcome.outputs.is_empty());
    let run = node(&db, &outcome.run.to_string());
    assert_eq!(text(run.props.get("status")), "failed");
    assert_eq!(run.props.get("exit_code"), Some(&Value::Int(3)));
    assert_eq!(text(run.props.get("command_line")), "python train.py --lr 0.1");
    assert_eq!(text(run.props.get("cwd")), dir.path().display().to_string());
    assert_eq!(Value::get_path(&run.props, &["params", "lr"]), Some(&Value::Float(0.1)));
    assert!(run.props.contains_key("host") && run.props.contains_key("started_at"));
    assert!(matches!(run.props.get("duration_ms"), Some(Value::Int(ms)) if *ms >= 0));
    let read = db.begin_read().expect("read");
    assert!(read.node(&r("model:fraud")).is_err(), "a failed run creates no output version");
    let up = read.ancestors(&outcome.run.to_ref()).collect().expect("walk");
    assert_eq!(keys(&up), set(&["dataset:transactions@1", "job:train_fraud@1"]));
    let input = read.node(&r("dataset:transactions@1")).expect("input");
    assert_eq!(input.label.as_deref(), Some(hash.as_str()));
    assert_eq!(input.props.get("size_bytes"), Some(&Value::Int(15)));
    // Everything recorded says who asserted it and when: the run's snapshot.
    let recorded_at = read.snapshots(Some(1)).expect("log").last().expect("a snapshot").time;
    for props in [&run.props, &input.props, &read.node_detail(&outcome.run.to_ref()).expect("detail").incoming[0].props]
    {
        assert!(text(props.get("asserted_by")).starts_with("lineagedb run ("), "{props:?}");
        assert_eq!(props.get("asserted_at"), Some(&Value::Timestamp(recorded_at)), "{props:?}");
    }
    let audit = read.audit(&Default::default()).expect("audit");
    assert!(audit.iter().any(|a| a.op == "run" && a.subjects == vec![outcome.run.to_string()]));
}

#[test]
fn fail_records_the_message_and_no_exit_code() {
    let (_dir, db) = fresh_db();
    let rec = start_run(&db, "nightly").expect("start");
    let outcome = rec.fail("could not start: no such file `trian.py`").expect("records");
    let run = node(&db, &outcome.run.to_string());
    assert_eq!(text(run.props.get("status")), "failed");
    assert_eq!(text(run.props.get("errorMessage")), "could not start: no such file `trian.py`");
    assert!(!run.props.contains_key("exit_code"));
}

#[test]
fn retraining_twice_gives_two_model_versions_with_their_own_run_inputs_and_code() {
    let (dir, db) = fresh_db();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("train.py"), "lr = 0.1\n").expect("write");
    // Data and weights stay out of git; anything else untracked is a change.
    std::fs::write(repo.join(".gitignore"), "data.csv\nmodel.bin\n").expect("write");
    git(&repo, &["add", "train.py", ".gitignore"]);
    git(&repo, &["commit", "-q", "-m", "first model"]);
    let first_commit = git(&repo, &["rev-parse", "HEAD"]);
    let data = repo.join("data.csv");
    std::fs::write(&data, "id,label\n1,0\n").expect("write");
    let weights = repo.join("model.bin");

    let train = |weights_text: &str| {
        let mut rec = start_run(&db, "train_fraud").expect("start");
        rec.input_file(&data, Some("training_data")).expect("input");
        rec.output_file("model", "fraud", &weights).expect("output");
        let git = rec.code_from_git(&repo).expect("in a git repository");
        std::fs::write(&weights, weights_text).expect("the command writes its output");
        (rec.finish(0).expect("records"), git)
    };
    let (first, git1) = train("weights v1");
    assert_eq!(git1.commit, first_commit);
    assert_eq!(git1.repo, "repo");
    assert!(!git1.dirty);
    std::fs::write(repo.join("train.py"), "lr = 0.05\n").expect("write");
    let (_, dirty) = {
        let mut probe = start_run(&db, "probe").expect("start");
        (probe.run_key(), probe.code_from_git(&repo).expect("git"))
    };
    assert!(dirty.dirty, "an uncommitted change makes the tree dirty");
    assert!(dirty.diff_sha256.is_some() && dirty.untracked.is_empty(), "{dirty:?}");
    std::fs::write(repo.join("notes.txt"), "not committed").expect("write");
    let untracked = start_run(&db, "probe").expect("start").code_from_git(&repo).expect("git");
    assert_eq!(untracked.untracked, ["notes.txt"]);
    assert_ne!(untracked.diff_sha256, dirty.diff_sha256, "the untracked file is part of the difference");
    std::fs::remove_file(repo.join("notes.txt")).expect("remove");
    git(&repo, &["commit", "-q", "-am", "lower learning rate"]);
    let (second, git2) = train("weights v2");
    assert_ne!(git1.commit, git2.commit);

    assert_eq!(first.status, RunStatus::Succeeded);
    assert_ne!(first.run, second.run, "each training is its own run");
    assert_eq!(first.outputs, vec![k("model:fraud@1")]);
    assert_eq!(second.outputs, vec![k("model:fraud@2")]);
    assert_eq!(first.inputs, second.inputs, "the same data file is the same dataset version");
    assert_eq!(first.code, Some(k("code:repo@1")));
    assert_eq!(second.code, Some(k("code:repo@2")));

    let read = db.begin_read().expect("read");
    let history = read.history(&EntityKey::new("model", "fraud").expect("key")).expect("history");
    let versions: Vec<u64> = history
        .iter()
        .filter_map(|h| match h.kind {
            HistoryKind::Created { version, .. } => Some(version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, vec![1, 2]);
    for (model, outcome, commit) in [("model:fraud@1", &first, &git1.commit), ("model:fraud@2", &second, &git2.commit)]
    {
        let up = read.ancestors(&r(model)).collect().expect("walk");
        let expected = [
            outcome.run.to_string(),
            "dataset:training_data@1".to_owned(),
            "job:train_fraud@1".to_owned(),
            outcome.code.as_ref().expect("code").to_string(),
        ];
        assert_eq!(keys(&up), expected.iter().map(String::as_str).map(str::to_owned).collect());
        let code = read.node(&outcome.code.as_ref().expect("code").to_ref()).expect("code node");
        assert_eq!(code.label.as_ref(), Some(commit));
        let run = read.node(&outcome.run.to_ref()).expect("run");
        assert_eq!(Value::get_path(&run.props, &["code", "commit"]), Some(&Value::from(commit.as_str())));
        let model = read.node(&r(model)).expect("model");
        assert!(matches!(model.props.get("sha256"), Some(Value::String(h)) if h.len() == 64));
    }
}

#[test]
fn an_input_file_with_a_new_hash_makes_a_new_version_and_an_old_hash_reuses_its_version() {
    let (dir, db) = fresh_db();
    let data = dir.path().join("tx.csv");
    let record = |content: &str| {
        std::fs::write(&data, content).expect("write");
        let mut rec = start_run(&db, "score").expect("start");
        rec.input_file(&data, None).expect("input");
        rec.finish(0).expect("records").inputs
    };
    let name = data.display().to_string();
    let entity = |v: u64| k(&format!("dataset:\"{name}\"@{v}"));
    assert_eq!(record("a"), vec![entity(1)]);
    assert_eq!(record("b"), vec![entity(2)]);
    assert_eq!(record("a"), vec![entity(1)]);
}

#[test]
fn declared_inputs_must_exist_and_params_must_be_an_object() {
    let (_dir, db) = fresh_db();
    let mut rec = start_run(&db, "train").expect("start");
    let err = rec.input_ref(&r("dataset:nowhere@3")).expect_err("missing input");
    assert!(matches!(err, RecorderError::NoInput { .. }));
    assert!(err.to_string().starts_with("input dataset:nowhere@3 does not exist"), "{err}");
    let err = rec.params_json(&serde_json::json!([1, 2])).expect_err("not an object");
    assert_eq!(err.to_string(), "run parameters must be a JSON object of name/value pairs, not an array");
    rec.params_json(&serde_json::json!({"model": {"depth": 6}})).expect("an object");
    let err = start_run(&db, "").expect_err("empty job name");
    assert!(matches!(err, RecorderError::Invalid { .. }), "{err}");
    let outcome = rec.finish(0).expect("records");
    let run = node(&db, &outcome.run.to_string());
    assert_eq!(Value::get_path(&run.props, &["params", "model", "depth"]), Some(&Value::Int(6)));
}

#[test]
fn runs_started_together_get_distinct_keys() {
    let (_dir, db) = fresh_db();
    let (mut a, mut b) = (start_run(&db, "etl").expect("start"), start_run(&db, "etl").expect("start"));
    let existing = {
        let mut tx = db.begin_write().expect("write");
        let ds = tx.create_node("dataset", "tx", Default::default()).expect("create");
        tx.commit().expect("commit");
        ds
    };
    a.input_ref(&existing.to_ref()).expect("input");
    b.input_ref(&existing.to_ref()).expect("input");
    let (first, second) = (a.finish(0).expect("records"), b.finish(0).expect("records"));
    assert_ne!(first.run, second.run);
    assert!(first.run.version == 1 && second.run.version == 1);
}

#[test]
fn a_pending_run_survives_serialization_and_commits_once() {
    let (dir, db) = fresh_db();
    let data = dir.path().join("tx.csv");
    std::fs::write(&data, "id,amount\n1,10\n").expect("write");
    let model = dir.path().join("model.bin");
    std::fs::write(&model, "weights").expect("write");
    let mut rec = start_run(&db, "train").expect("start");
    rec.input_file(&data, Some("tx")).expect("input");
    rec.output_file("model", "fraud", &model).expect("output");
    rec.param("lr", 0.1);
    rec.release_database();
    let pending = rec.finished(0);
    // What a spool file holds, read back in another process.
    let json = serde_json::to_string(&pending).expect("serialize");
    let back: PendingRun = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, pending);

    let outcome = back.commit(&db).expect("commit").expect("first commit records it");
    assert_eq!(outcome.outputs, vec![k("model:fraud@1")]);
    let head = db.begin_read().expect("read").latest_snapshot();
    // Committing the same record again (a replay stopped before it removed
    // the file) changes nothing.
    assert_eq!(pending.commit(&db).expect("commit again"), None);
    let read = db.begin_read().expect("read");
    assert_eq!(read.latest_snapshot(), head);
    assert_eq!(read.claimed_once(&format!("run:{}", pending.token)).expect("token"), Some(head));
    assert_eq!(read.find(Some("run")).expect("runs").len(), 1);
}

#[test]
fn a_run_started_without_a_database_resolves_its_node_inputs_when_it_commits() {
    let (_dir, db) = fresh_db();
    let mut rec = start_run_detached("score").expect("start");
    assert!(!rec.is_attached());
    rec.input_ref_unchecked(&r("model:fraud"));
    let pending = rec.finished(0);
    // Nothing to link yet: the commit fails and writes nothing.
    assert!(pending.commit(&db).is_err());
    assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);
    let mut tx = db.begin_write().expect("write");
    tx.create_node("model", "fraud", lineagedb_engine::Props::new()).expect("create");
    tx.commit().expect("commit");
    let outcome = pending.commit(&db).expect("commit").expect("recorded");
    assert_eq!(outcome.inputs, vec![k("model:fraud@1")]);
}
