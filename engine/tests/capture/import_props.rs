//! The importers' promises on generated input, the ordinary-test version of
//! the fuzz targets in `engine/fuzz/`: lines mixing valid records, records
//! that break a rule (bad types, missing endpoints, cycles, unknown aliases)
//! and garbage. No input panics; a failed import commits nothing and names a
//! line of the input; a committed import leaves a database `verify` finds
//! sound; with `skip_invalid`, every rejected line is a line of the input.
//! `PROPTEST_CASES` sets how many inputs each property tries (default 256).

use lineagedb_engine::{
    Database, ImportError, ImportOptions, ImportReport, Importer, OpenLineageImporter, OpenLineageOptions,
};
use proptest::prelude::*;

fn reference() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["dataset", "model", "run"]), prop::sample::select(vec!["a", "b", "c"]), 0u8..4)
        .prop_map(|(t, n, v)| if v == 0 { format!("{t}:{n}") } else { format!("{t}:{n}@{v}") })
}

fn jsonl_line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (
            prop::sample::select(vec!["dataset", "model", "run", "", "Bad Type"]),
            prop::sample::select(vec!["a", "b", "c", "", "x y"]),
            prop::option::of(-1i64..4),
            prop::option::of((any::<i32>(), "[a-z]{0,3}")),
        )
            .prop_map(|(t, n, v, props)| {
                let mut node = serde_json::json!({"type": t, "name": n});
                if let Some(v) = v {
                    node["version"] = v.into();
                }
                if let Some((rows, owner)) = props {
                    node["props"] = serde_json::json!({"rows": rows, "owner": owner});
                }
                serde_json::json!({ "node": node }).to_string()
            }),
        3 => (reference(), reference(), prop::sample::select(vec!["input", "output", ""])).prop_map(|(f, t, l)| {
            serde_json::json!({"edge": {"from": f, "to": t, "label": l}}).to_string()
        }),
        1 => (reference(), prop::sample::select(vec!["production", "staging", ""])).prop_map(|(r, a)| {
            serde_json::json!({"alias": {"ref": r, "alias": a}}).to_string()
        }),
        1 => "\\PC{0,24}",
        1 => (reference(), 0usize..30).prop_map(|(r, cut)| {
            let line = serde_json::json!({"node": {"type": "dataset", "name": r}}).to_string();
            line[..cut.min(line.len())].to_owned()
        }),
    ]
}

fn ol_event() -> impl Strategy<Value = String> {
    let dataset = (prop::sample::select(vec!["s3://raw", "pg"]), prop::sample::select(vec!["tx", "features", "m"]))
        .prop_map(|(ns, name)| serde_json::json!({"namespace": ns, "name": name}));
    prop_oneof![
        6 => (
            prop::sample::select(vec!["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER", "BOGUS"]),
            prop::sample::select(vec![
                "01940000-0000-7000-8000-000000000001",
                "01940000-0000-7000-8000-000000000002",
                "not-a-uuid",
            ]),
            prop::sample::select(vec!["clean", "train"]),
            prop::sample::select(vec!["2026-12-07T10:00:00Z", "2026-12-07T11:00:00.5+01:00", "yesterday"]),
            prop::collection::vec(dataset.clone(), 0..3),
            prop::collection::vec(dataset, 0..3),
        )
            .prop_map(|(kind, run, job, time, inputs, outputs)| {
                serde_json::json!({
                    "eventType": kind,
                    "eventTime": time,
                    "run": {"runId": run},
                    "job": {"namespace": "airflow", "name": job},
                    "inputs": inputs,
                    "outputs": outputs,
                    "producer": "https://example.invalid/producer",
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                })
                .to_string()
            }),
        1 => "\\PC{0,24}",
        1 => Just("{}".to_owned()),
    ]
}

/// Checks what an import of `lines` (joined with newlines) left behind.
fn check(db: &Database, lines: usize, result: Result<ImportReport, ImportError>) -> Result<(), TestCaseError> {
    let read = db.begin_read().expect("read");
    match result {
        Err(error) => {
            prop_assert!(error.line as usize <= lines, "error at line {} of {lines}: {error}", error.line);
            prop_assert!(!error.reason.is_empty());
            prop_assert_eq!(read.latest_snapshot(), 0, "a failed import committed: {}", error);
        }
        Ok(report) => {
            for rejected in &report.rejected {
                prop_assert!(rejected.line as usize <= lines, "{:?}", rejected);
            }
            prop_assert_eq!(read.latest_snapshot(), report.snapshot.unwrap_or(0));
            let verified = read.verify().expect("verify");
            prop_assert!(verified.is_ok(), "verify after an import: {:?}", verified.problems);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn json_lines_imports_commit_whole_or_nothing(lines in prop::collection::vec(jsonl_line(), 0..12), skip in any::<bool>()) {
        let text = lines.join("\n");
        let db = Database::in_memory().expect("in-memory database");
        let mut importer = Importer::new(&db, ImportOptions { skip_invalid: skip, ..ImportOptions::default() })
            .expect("begin");
        let result = importer.read("gen.jsonl", text.as_bytes(), &mut |_| {}).and_then(|()| importer.commit());
        check(&db, lines.len().max(1), result)?;
    }

    #[test]
    fn openlineage_imports_commit_whole_or_nothing(events in prop::collection::vec(ol_event(), 0..10), skip in any::<bool>()) {
        let text = events.join("\n");
        let db = Database::in_memory().expect("in-memory database");
        let mut importer =
            OpenLineageImporter::new(&db, OpenLineageOptions { skip_invalid: skip, ..OpenLineageOptions::default() })
                .expect("begin");
        let result = importer.read("gen.jsonl", text.as_bytes(), &mut |_| {}).and_then(|()| importer.commit());
        check(&db, events.len().max(1), result)?;
    }
}
