//! Tables as a person sees them: the width of the terminal (`COLUMNS`), keys
//! and hashes never split, the `asserted_*` provenance hidden. Compared with
//! golden files in `golden/`; `UPDATE_EXPECT=1` rewrites them.

use std::path::Path;

use crate::common::Fixture;

const QUERIES: &str = "ANCESTORS OF model:fraud_gradient_boosted@1; \
                       LINEAGE OF model:fraud_gradient_boosted@1 UPSTREAM; \
                       FIND dataset RETURN key, sha256";

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/golden").join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(actual, expected, "{} differs (rerun with UPDATE_EXPECT=1 to accept):\n{actual}", path.display());
}

fn at_width(f: &Fixture, columns: &str) -> String {
    let out = f.command().args(["query", "--db", &f.db_arg(), QUERIES]).env("COLUMNS", columns).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn tables_follow_the_terminal_width_and_never_split_a_key_or_a_hash() {
    let f = Fixture::new();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/golden/long_keys.jsonl");
    f.run(&["import", "--db", &f.db_arg(), "--format", "jsonl", &data.display().to_string()]).ok();
    let keys = [
        "run:train_fraud_gradient_boosted_20261201T090000Z@1",
        "dataset:card_transactions_cleaned_deduplicated@1",
        "run:clean_card_transactions_20261130T101500Z@1",
        "dataset:card_transactions_raw@1",
        "model:fraud_gradient_boosted@1",
    ];
    for (columns, file) in [("80", "long_keys_80.txt"), ("160", "long_keys_160.txt")] {
        let out = at_width(&f, columns);
        for key in keys {
            assert!(out.lines().any(|l| l.contains(key)), "{key} is split at {columns} columns:\n{out}");
        }
        assert!(!out.contains("asserted_"), "provenance is hidden in tables:\n{out}");
        golden(file, &out);
    }
    let wide = at_width(&f, "160");
    assert!(wide.lines().all(|l| l.chars().count() <= 160), "{wide}");
    assert!(
        wide.contains("8b4d2e7f93a1c6054d8e2b7a9f1c3e5d7b0a2c448b4d2e7f93a1c6054d8e2b7a"),
        "the hash is whole:\n{wide}"
    );
    // The provenance is still there for whoever asks for it.
    let (out, lines) = f.query_json("ANCESTORS OF model:fraud_gradient_boosted@1 LIMIT 1");
    out.ok();
    assert!(lines[0].to_string().contains("asserted_by"), "{}", lines[0]);
}
