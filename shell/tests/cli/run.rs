//! `lineagedb run`: the command runs with `LINEAGEDB_RUN` in its
//! environment and a run is recorded however it ends; outputs only on
//! success; retraining makes new versions with their own run and code; usage
//! errors exit 2 before anything runs.

use crate::common::{Fixture, Outcome, git, row_keys};

/// The child writes its `LINEAGEDB_RUN` here, in the test directory.
const SEEN: &str = "seen.txt";

/// `lineagedb run --db DB --job JOB ARGS... -- sh -c SCRIPT`.
fn run_sh(f: &Fixture, job: &str, args: &[&str], script: &str) -> Outcome {
    let db = f.db_arg();
    let mut all = vec!["run", "--db", &db, "--job", job];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "sh", "-c", script]);
    f.run(&all)
}

/// The run key the last child saw in `LINEAGEDB_RUN`.
fn seen_run(f: &Fixture) -> String {
    let seen = std::fs::read_to_string(f.dir().join(SEEN)).expect("the child wrote LINEAGEDB_RUN");
    seen.trim().to_owned()
}

/// `SHOW reference`, as JSON.
fn show(f: &Fixture, reference: &str) -> serde_json::Value {
    let (out, lines) = f.query_json(&format!("SHOW {reference}"));
    out.ok();
    lines[0]["node"].clone()
}

/// The keys a query returns, as JSON rows.
fn keys(f: &Fixture, query: &str) -> Vec<String> {
    let (out, lines) = f.query_json(query);
    out.ok();
    row_keys(&lines[0])
}

/// The versions created in an entity's history, in order.
fn created_versions(f: &Fixture, entity: &str) -> Vec<String> {
    let (out, lines) = f.query_json(&format!("HISTORY OF {entity}"));
    out.ok();
    lines[0]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|event| event["event"] == "created")
        .map(|event| event["key"].as_str().expect("key").to_owned())
        .collect()
}

#[test]
fn a_successful_run_records_its_input_params_and_output_and_tells_the_child_its_key() {
    let f = Fixture::new();
    f.write("tx.csv", "id,amount\n1,10\n");
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}; echo weights > model.bin; echo trained");
    let args = ["--input", "tx.csv", "--param", "lr=0.1", "--param", "epochs=3", "--param", "optimizer=adam"];
    let out = run_sh(&f, "train_fraud", &[&args[..], &["--output", "model:fraud=model.bin"]].concat(), &script);
    assert_eq!(out.ok(), "trained\n", "stdout belongs to the command");
    let run = seen_run(&f);
    assert!(run.starts_with("run:train_fraud_") && run.ends_with("@1"), "{run}");
    assert!(
        out.stderr.starts_with(&format!("lineagedb: recorded {run} (succeeded, snapshot 2; outputs model:fraud@1)")),
        "{}",
        out.stderr
    );

    let mut upstream = keys(&f, "ANCESTORS OF model:fraud@1");
    upstream.sort();
    assert_eq!(upstream, ["dataset:tx.csv@1", "job:train_fraud@1", run.as_str()]);

    let node = show(&f, &run);
    let props = &node["props"];
    assert_eq!(props["status"], "succeeded");
    assert_eq!(props["exit_code"], 0);
    assert_eq!(props["job"], "train_fraud");
    assert_eq!(props["params"], serde_json::json!({"lr": 0.1, "epochs": 3, "optimizer": "adam"}));
    assert_eq!(props["command"][0], "sh");
    assert_eq!(props["cwd"], f.dir().display().to_string());
    assert_eq!(node["created_by"], "tester");
    let model = show(&f, "model:fraud@1");
    assert!(model["props"]["sha256"].as_str().is_some_and(|h| h.len() == 64), "{model}");
    assert_eq!(model["props"]["size_bytes"], 8);
    let input = show(&f, "dataset:tx.csv@1");
    assert_eq!(input["props"]["size_bytes"], 15);
}

#[test]
fn a_failing_run_exits_with_its_status_and_records_a_failed_run_without_outputs() {
    let f = Fixture::new();
    f.write("tx.csv", "id,amount\n1,10\n");
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}; echo partial > model.bin; exit 3");
    let out = run_sh(&f, "train_fraud", &["--input", "tx.csv", "--output", "model:fraud=model.bin"], &script);
    out.exits(3);
    let run = seen_run(&f);
    assert!(
        out.stderr.starts_with(&format!("lineagedb: recorded {run} (failed: exit code 3, snapshot 2)")),
        "{}",
        out.stderr
    );
    let props = &show(&f, &run)["props"];
    assert_eq!(props["status"], "failed");
    assert_eq!(props["exit_code"], 3);
    assert!(keys(&f, "FIND model").is_empty(), "a failed run creates no output version");
    assert_eq!(keys(&f, &format!("ANCESTORS OF {run} WHERE type = dataset")), ["dataset:tx.csv@1"]);
}

#[test]
fn a_command_that_cannot_start_or_is_killed_is_recorded_as_failed() {
    let f = Fixture::new();
    let db = f.db_arg();
    let out = f.run(&["run", "--db", &db, "--job", "nightly", "--", "./no-such-program", "--flag"]);
    out.exits(127);
    assert!(out.stderr.starts_with("lineagedb: cannot start ./no-such-program: "), "{}", out.stderr);
    assert!(out.stderr.contains("(failed: could not start, snapshot 2)"), "{}", out.stderr);
    let runs = keys(&f, "FIND run");
    assert_eq!(runs.len(), 1, "{runs:?}");
    let props = &show(&f, &runs[0])["props"];
    assert_eq!(props["status"], "failed");
    assert!(props["errorMessage"].as_str().is_some_and(|m| m.starts_with("cannot start ./no-such-program")));
    assert!(props.get("exit_code").is_none(), "{props}");

    let out = run_sh(&f, "nightly", &[], &format!("echo $LINEAGEDB_RUN > {SEEN}; kill -KILL $$"));
    out.exits(128 + 9);
    let props = &show(&f, &seen_run(&f))["props"];
    assert_eq!(props["status"], "failed");
    assert_eq!(props["errorMessage"], "killed by signal 9");
}

/// Starts `lineagedb run --job JOB -- sh -c SCRIPT` in a process group of its
/// own (as a shell starts a foreground job), waits until the command has
/// written its run key, sends `signal` to the wrapper alone or, with
/// `whole_group`, to the whole group as Ctrl-C at a terminal does, and
/// returns how the wrapper ended and the run key the command saw.
fn signalled_run(f: &Fixture, job: &str, signal: nix::sys::signal::Signal, whole_group: bool) -> (Outcome, String) {
    use std::os::unix::process::CommandExt;
    let db = f.db_arg();
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}.tmp && mv {SEEN}.tmp {SEEN} && exec sleep 30");
    let child = f
        .command()
        .args(["run", "--db", &db, "--job", job, "--", "sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn lineagedb run");
    let seen = f.dir().join(SEEN);
    let started = std::time::Instant::now();
    while !seen.exists() {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the command never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    if whole_group {
        nix::sys::signal::killpg(pid, signal).expect("signal the process group");
    } else {
        nix::sys::signal::kill(pid, signal).expect("signal the wrapper");
    }
    let output = child.wait_with_output().expect("wait for lineagedb run");
    let run = seen_run(f);
    std::fs::remove_file(&seen).expect("remove the run key file");
    let outcome = Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    (outcome, run)
}

#[test]
fn a_run_stopped_by_sigterm_or_ctrl_c_is_still_recorded_as_failed() {
    use nix::sys::signal::Signal;
    let f = Fixture::new();
    // A scheduler stopping the job: SIGTERM to the wrapper, which passes it on.
    let (out, run) = signalled_run(&f, "train", Signal::SIGTERM, false);
    out.exits(128 + 15);
    assert!(out.stderr.contains("received SIGTERM while the command ran"), "{}", out.stderr);
    let props = &show(&f, &run)["props"];
    assert_eq!(props["status"], "failed");
    assert_eq!(props["errorMessage"], "killed by signal 15");

    // Ctrl-C at a terminal: SIGINT to the whole foreground group.
    let (out, run) = signalled_run(&f, "evaluate", Signal::SIGINT, true);
    out.exits(128 + 2);
    assert!(out.stderr.contains("received SIGINT while the command ran"), "{}", out.stderr);
    let props = &show(&f, &run)["props"];
    assert_eq!(props["status"], "failed");
    assert_eq!(props["errorMessage"], "killed by signal 2");
    assert_eq!(keys(&f, "FIND run").len(), 2, "both stopped runs are recorded");
}

#[test]
fn a_declared_output_the_command_did_not_write_fails_the_run() {
    let f = Fixture::new();
    let out = run_sh(
        &f,
        "export",
        &["--output", "report:weekly=weekly.pdf", "--output", "report:daily=daily.pdf"],
        "echo x > daily.pdf",
    );
    out.exits(2);
    assert!(
        out.stderr.contains("lineagedb: error: declared output report:weekly (weekly.pdf) was not written"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(failed: exit code 0, snapshot 2)"), "{}", out.stderr);
    // No output of a failed run is recorded, not even the one written.
    assert!(keys(&f, "FIND report").is_empty());
    let run = keys(&f, "FIND run");
    let node = show(&f, &run[0]);
    assert_eq!(node["props"]["status"], "failed");
    assert!(node["props"]["errorMessage"].as_str().unwrap_or_default().contains("weekly.pdf"), "{node}");
    // A command that failed keeps its own exit status.
    run_sh(&f, "export", &["--output", "report:weekly=weekly.pdf"], "exit 5").exits(5);
}

#[test]
fn directories_are_inputs_and_outputs_hashed_as_a_manifest() {
    let f = Fixture::new();
    let script = "mkdir -p ckpt/sub && echo w1 > ckpt/weights.bin && echo cfg > ckpt/sub/config.json";
    run_sh(&f, "train", &["--output", "model:x=ckpt"], script).ok();
    let model = show(&f, "model:x@1");
    assert_eq!(model["props"]["kind"], "directory", "{model}");
    assert_eq!(model["props"]["files"], 2, "{model}");
    assert_eq!(model["props"]["size_bytes"], 7, "{model}");
    let manifest_hash = model["props"]["sha256"].as_str().expect("hash").to_owned();
    assert_eq!(manifest_hash.len(), 64);
    // The same tree elsewhere hashes the same; a changed file changes it.
    std::fs::create_dir_all(f.dir().join("copy/sub")).expect("mkdir");
    std::fs::copy(f.dir().join("ckpt/weights.bin"), f.dir().join("copy/weights.bin")).expect("copy");
    std::fs::copy(f.dir().join("ckpt/sub/config.json"), f.dir().join("copy/sub/config.json")).expect("copy");
    // Read back as an input, the copy is the checkpoint the run wrote.
    run_sh(&f, "evaluate", &["--input", "copy"], "true").ok();
    assert_eq!(keys(&f, "FIND run WHERE job = evaluate").len(), 1);
    assert_eq!(keys(&f, "DESCENDANTS OF model:x@1 WHERE type = run").len(), 1);
    std::fs::write(f.dir().join("copy/sub/config.json"), "changed").expect("write");
    run_sh(&f, "evaluate", &["--input", "copy"], "true").ok();
    let changed = show(&f, "dataset:copy@1");
    assert_ne!(changed["props"]["sha256"], manifest_hash.as_str());
    assert_eq!(changed["props"]["kind"], "directory");
}

#[test]
fn params_come_from_a_json_file_and_the_command_line_overrides_them() {
    let f = Fixture::new();
    f.write("params.json", r#"{"lr": 0.1, "model": {"depth": 6}, "tags": ["a", "b"]}"#);
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}");
    let out = run_sh(&f, "train", &["--params", "params.json", "--param", "lr=0.05", "--param", "id=007"], &script);
    out.ok();
    let props = &show(&f, &seen_run(&f))["props"];
    assert_eq!(
        props["params"],
        serde_json::json!({"lr": 0.05, "model": {"depth": 6}, "tags": ["a", "b"], "id": "007"})
    );
}

#[test]
fn retraining_in_git_gives_model_versions_with_their_own_run_and_code() {
    let f = Fixture::new();
    git(f.dir(), &["init", "-q"]);
    f.write("train.py", "lr = 0.1\n");
    f.write("data.csv", "id,label\n1,0\n");
    // Data and artifacts are kept out of git, as in a real project.
    f.write(".gitignore", "data.csv\nmodel.bin\nseen.txt\nhistory\n");
    git(f.dir(), &["add", "train.py", ".gitignore"]);
    git(f.dir(), &["commit", "-q", "-m", "first model"]);
    let train = |weights: &str| {
        let script = format!("echo $LINEAGEDB_RUN > {SEEN}; echo {weights} > model.bin");
        run_sh(&f, "train_fraud", &["--input", "data.csv", "--output", "model:fraud=model.bin"], &script).ok();
        seen_run(&f)
    };
    let first = train("v1");
    f.write("train.py", "lr = 0.05\n");
    git(f.dir(), &["commit", "-q", "-am", "lower learning rate"]);
    let second = train("v2");
    assert_ne!(first, second);

    assert_eq!(created_versions(&f, "model:fraud"), ["model:fraud@1", "model:fraud@2"]);
    let runs_of = |model: &str| keys(&f, &format!("ANCESTORS OF {model} WHERE type = run"));
    assert_eq!(runs_of("model:fraud@1"), [first.as_str()]);
    assert_eq!(runs_of("model:fraud@2"), [second.as_str()]);
    let code_of = |model: &str| keys(&f, &format!("ANCESTORS OF {model} WHERE type = code"));
    let (code1, code2) = (code_of("model:fraud@1"), code_of("model:fraud@2"));
    assert_eq!(code1.len(), 1, "{code1:?}");
    assert_eq!(code2.len(), 1, "{code2:?}");
    assert!(code1[0].starts_with("code:") && code1[0].ends_with("@1"), "{code1:?}");
    assert!(code2[0].starts_with("code:") && code2[0].ends_with("@2"), "{code2:?}");
    let (commit1, commit2) = (&show(&f, &first)["props"]["code"], &show(&f, &second)["props"]["code"]);
    assert_ne!(commit1["commit"], commit2["commit"]);
    assert_eq!(commit2["dirty"], false);
    let data = |model: &str| keys(&f, &format!("ANCESTORS OF {model} WHERE type = dataset"));
    assert_eq!(data("model:fraud@1"), data("model:fraud@2"), "the same data file is the same dataset version");
}

#[test]
fn the_same_input_file_reuses_its_dataset_version_and_new_content_makes_a_new_one() {
    let f = Fixture::new();
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}");
    let mut used = Vec::new();
    // `./tx.csv` and `tx.csv` name the same dataset.
    for (content, path) in
        [("a,b\n1,2\n", "tx.csv"), ("a,b\n1,2\n", "./tx.csv"), ("a,b\n3,4\n", "tx.csv"), ("a,b\n1,2\n", "tx.csv")]
    {
        f.write("tx.csv", content);
        run_sh(&f, "score", &["--input", path], &script).ok();
        used.push(keys(&f, &format!("ANCESTORS OF {} WHERE type = dataset", seen_run(&f))));
    }
    let one = vec!["dataset:tx.csv@1".to_owned()];
    let two = vec!["dataset:tx.csv@2".to_owned()];
    assert_eq!(used, [one.clone(), one.clone(), two, one]);
    assert_eq!(created_versions(&f, "dataset:tx.csv"), ["dataset:tx.csv@1", "dataset:tx.csv@2"]);
}

#[test]
fn an_existing_node_is_an_input_by_reference() {
    let f = Fixture::new();
    f.query("CREATE dataset:features SET {rows: 10}; CREATE dataset:features SET {rows: 20}").ok();
    let script = format!("echo $LINEAGEDB_RUN > {SEEN}");
    run_sh(&f, "train", &["--input", "dataset:features@1", "--input", "dataset:features"], &script).ok();
    let mut inputs = keys(&f, &format!("ANCESTORS OF {} WHERE type = dataset", seen_run(&f)));
    inputs.sort();
    assert_eq!(inputs, ["dataset:features@1", "dataset:features@2"]);
}

#[test]
fn usage_errors_exit_2_before_the_command_runs_and_record_nothing() {
    let f = Fixture::new();
    f.write("list.json", "[1, 2]");
    f.write("broken.json", "{\"lr\": ");
    let cases: [(&[&str], &str); 8] = [
        (&["--input", "missing.csv"], "lineagedb: input missing.csv is neither an existing file nor a node reference"),
        (&["--input", "dataset:nowhere@3"], "lineagedb: input dataset:nowhere@3 does not exist"),
        (&["--output", "model.bin"], "lineagedb: invalid --output \"model.bin\": expected TYPE:NAME=FILE"),
        (&["--output", "model:=x.bin"], "lineagedb: invalid --output \"model:=x.bin\""),
        (&["--param", "lr"], "lineagedb: invalid --param \"lr\": expected NAME=VALUE"),
        (&["--params", "list.json"], "lineagedb: params file list.json must hold a JSON object"),
        (&["--params", "broken.json"], "lineagedb: params file broken.json is not valid JSON"),
        (&["--params", "none.json"], "lineagedb: cannot read params file none.json"),
    ];
    for (args, expected) in cases {
        let out = run_sh(&f, "train", args, "touch ran.txt");
        out.exits(2);
        assert!(out.stderr.starts_with(expected), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(!f.dir().join("ran.txt").exists(), "{args:?}: the command ran");
    }
    let out = run_sh(&f, "train", &["--input", "missing.csv"], "true");
    assert!(out.stderr.contains("\nhint: pass the path of an existing file"), "{}", out.stderr);
    assert!(keys(&f, "FIND run").is_empty(), "nothing was recorded");
}

#[test]
fn the_command_may_use_lineagedb_on_the_same_database_while_it_runs() {
    let f = Fixture::new();
    f.query("CREATE dataset:transactions").ok();
    let bin = crate::common::BIN;
    let script = format!(
        "{bin} query --db '{}' --format json 'FIND dataset' > found.json && echo \"$LINEAGEDB_RUN\" > {SEEN}",
        f.db_arg()
    );
    let out = run_sh(&f, "inspect", &[], &script);
    out.exits(0);
    let found = std::fs::read_to_string(f.dir().join("found.json")).expect("the child queried the database");
    assert!(found.contains("dataset:transactions@1"), "{found}");
    let run = seen_run(&f);
    assert_eq!(show(&f, &run)["key"], run.as_str());
}

#[test]
fn the_command_annotates_its_own_run_while_it_is_recorded_as_running() {
    let f = Fixture::new();
    let bin = crate::common::BIN;
    let db = f.db_arg();
    // While it runs the run exists, as running; the command sets its mse on it.
    let script = format!(
        "{bin} query --db '{db}' --format json \"SHOW $LINEAGEDB_RUN\" > during.json && \
         {bin} query --db '{db}' \"SET $LINEAGEDB_RUN {{mse: 0.25}}\" && echo \"$LINEAGEDB_RUN\" > {SEEN}"
    );
    run_sh(&f, "train", &[], &script).ok();
    let during: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir().join("during.json")).expect("read")).expect("json");
    assert_eq!(during["node"]["props"]["status"], "running", "{during}");
    let run = seen_run(&f);
    let node = show(&f, &run);
    assert_eq!(node["props"]["mse"], 0.25, "{node}");
    assert_eq!(node["props"]["status"], "succeeded", "{node}");
    assert_eq!(keys(&f, "FIND run"), [run]);
}

#[test]
fn runs_of_one_job_started_in_the_same_second_annotate_their_own_runs() {
    let f = Fixture::new();
    let bin = crate::common::BIN;
    let db = f.db_arg();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let script = format!(
                "{bin} query --db '{db}' \"SET $LINEAGEDB_RUN {{mse: {i}}}\" && echo \"$LINEAGEDB_RUN\" > seen{i}.txt"
            );
            f.command()
                .args(["run", "--db", &db, "--job", "retrain", "--param", &format!("i={i}"), "--", "sh", "-c", &script])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        Outcome::from(child.wait_with_output().expect("wait")).ok();
    }
    let mut seen = Vec::new();
    for i in 0..4 {
        let run = std::fs::read_to_string(f.dir().join(format!("seen{i}.txt"))).expect("seen").trim().to_owned();
        let node = show(&f, &run);
        // Its own metric, on its own run (the one with its param).
        assert_eq!(node["props"]["params"]["i"], i, "{node}");
        assert_eq!(node["props"]["mse"], i, "{node}");
        seen.push(run);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(keys(&f, "FIND run").len(), 4);
}

#[test]
fn metrics_come_from_a_file_the_command_writes_and_json_says_what_was_recorded() {
    let f = Fixture::new();
    f.write("raw.csv", "a\n1\n");
    let out = run_sh(
        &f,
        "train",
        &["--input", "raw.csv", "--output", "model:m=m.bin", "--metrics", "metrics.json", "--format", "json"],
        r#"echo weights > m.bin; echo '{"mse": 0.12, "auc": {"val": 0.9}}' > metrics.json; echo trained"#,
    );
    out.ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("trained"), "the command's own output comes first");
    let recorded: serde_json::Value = serde_json::from_str(lines.next().expect("the JSON line")).expect("json");
    assert_eq!(recorded["status"], "succeeded");
    assert_eq!(recorded["outputs"], serde_json::json!(["model:m@1"]));
    assert_eq!(recorded["inputs"], serde_json::json!(["dataset:raw.csv@1"]));
    let run = recorded["run"].as_str().expect("run").to_owned();
    assert_eq!(recorded["snapshot"], 2, "{recorded}");
    let node = show(&f, &run);
    assert_eq!(node["props"]["metrics"]["mse"], 0.12, "{node}");
    assert_eq!(node["props"]["metrics"]["auc"]["val"], 0.9, "{node}");
    // A metrics file the command did not write is a warning.
    let out = run_sh(&f, "train", &["--metrics", "none.json"], "true");
    out.ok();
    assert!(out.stderr.contains("cannot read the metrics file none.json"), "{}", out.stderr);
}

#[test]
fn an_input_file_a_run_wrote_binds_to_that_output_version() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.dir().join("data/raw")).expect("mkdir");
    f.write("data/raw/houses.csv", "sqft,price\n1000,200\n");
    let prep = "mkdir -p data/processed && cp data/raw/houses.csv data/processed/houses.csv";
    run_sh(
        &f,
        "prep",
        &["--input", "data/raw/houses.csv", "--output", "dataset:houses=data/processed/houses.csv"],
        prep,
    )
    .ok();
    // Training reads the prepared file by its path.
    run_sh(
        &f,
        "train",
        &["--input", "data/processed/houses.csv", "--output", "model:price=model.bin"],
        "echo w > model.bin",
    )
    .ok();
    let mut ancestors = keys(&f, "ANCESTORS OF model:price@1 WHERE type=dataset");
    ancestors.sort();
    assert_eq!(ancestors, [r#"dataset:"data/raw/houses.csv"@1"#, "dataset:houses@1"]);
    assert!(keys(&f, "FIND dataset").len() == 2, "no second dataset for the same content");
    let (out, lines) = f.query_json(r#"PATH FROM dataset:"data/raw/houses.csv"@1 TO model:price@1"#);
    out.ok();
    assert!(lines[0].to_string().contains("dataset:houses@1"), "{}", lines[0]);
    // Changed content is a new dataset version under the path's name.
    f.write("data/processed/houses.csv", "sqft,price\n1000,210\n");
    run_sh(&f, "train", &["--input", "data/processed/houses.csv"], "true").ok();
    assert!(keys(&f, "FIND dataset").contains(&r#"dataset:"data/processed/houses.csv"@1"#.to_owned()));
}

#[test]
fn untracked_files_make_the_code_dirty_with_a_hash_of_the_difference_and_the_environment_is_recorded() {
    let f = Fixture::new();
    git(f.dir(), &["init", "-q"]);
    f.write("train.py", "lr = 0.1\n");
    f.write(".gitignore", "history\n");
    git(f.dir(), &["add", "train.py", ".gitignore"]);
    git(f.dir(), &["commit", "-q", "-m", "first"]);
    f.write("requirements.txt", "numpy==2.1.0\n");
    let code = |f: &Fixture| {
        let out = run_sh(f, "train", &["--format", "json"], "true");
        out.ok();
        let recorded: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
        show(f, recorded["run"].as_str().expect("run"))["props"].clone()
    };
    // The database sits in the tree and is not a change; requirements.txt is.
    let first = code(&f);
    assert_eq!(first["code"]["dirty"], true, "{first}");
    assert_eq!(first["code"]["untracked"], serde_json::json!(["requirements.txt"]), "{first}");
    let diff1 = first["code"]["diff_sha256"].as_str().expect("a diff hash").to_owned();
    assert_eq!(diff1.len(), 64);
    assert_eq!(first["env"]["locks"]["requirements.txt"], sha256_hex(b"numpy==2.1.0\n").as_str(), "{first}");
    // Another change to a tracked file gives another hash.
    f.write("train.py", "lr = 0.2\n");
    let second = code(&f);
    assert_ne!(second["code"]["diff_sha256"], diff1.as_str(), "{second}");
    // Committed and ignored, the tree is clean again.
    f.write(".gitignore", "history\nrequirements.txt\n");
    git(f.dir(), &["commit", "-q", "-am", "second"]);
    let clean = code(&f);
    assert_eq!(clean["code"]["dirty"], false, "{clean}");
    assert!(clean["code"].get("diff_sha256").is_none(), "{clean}");
}

#[test]
fn a_python_command_records_the_python_version() {
    let f = Fixture::new();
    let Ok(version) = std::process::Command::new("python3").arg("--version").output() else {
        panic!("python3 is needed for this test: install it (Debian: apt-get install python3)");
    };
    let version = String::from_utf8_lossy(&version.stdout).trim().trim_start_matches("Python ").to_owned();
    f.write("train.py", "print('trained')\n");
    let out = f.run(&["run", "--db", &f.db_arg(), "--job", "train", "--format", "json", "--", "python3", "train.py"]);
    out.ok();
    let recorded: serde_json::Value = serde_json::from_str(out.stdout.lines().last().expect("json")).expect("json");
    let props = &show(&f, recorded["run"].as_str().expect("run"))["props"];
    assert_eq!(props["env"]["python"], version.as_str(), "{props}");
    // With pip, the installed packages are listed and hashed.
    let has_pip = std::process::Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(has_pip, "python3 -m pip is needed for this test: install pip (Debian: apt-get install python3-pip)");
    assert!(props["env"]["packages"].is_array(), "{props}");
    assert_eq!(props["env"]["packages_sha256"].as_str().map(str::len), Some(64), "{props}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
