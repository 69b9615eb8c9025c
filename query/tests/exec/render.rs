//! Tables for people: every result kind, rendered with keys, messages and
//! reasons far longer than a column, fits in 80 columns and still holds each
//! of those texts whole, wrapped within its column.

use std::collections::BTreeSet;

use lineagedb_query::{Database, Format, QueryResult, Session};

/// Names long enough that no table can print them on one line, one with
/// spaces and non-ASCII letters (widths are counted in chars, not bytes).
const RAW: &str = "card_transactions_cleaned_deduplicated_and_joined_with_the_merchant_registry";
const FEATURES: &str = "données clients agrégées par marchand pour le modèle de fraude trimestriel";
const MODEL: &str = "fraud_detection_gradient_boosted_trees_with_device_and_merchant_risk";
const MESSAGE: &str = "retrain the fraud model on the february features, with deeper trees and the device risk score, after review RISK-131";
const REASON: &str = "auc 0.944 vs 0.931 on the february holdout, precision up two points; approved in review RISK-131 by the risk committee";
const AUTHOR: &str = "carla.martinez-operations@risk-engineering.acme.example";

fn raw() -> String {
    format!("dataset:{RAW}")
}
fn features() -> String {
    format!("dataset:\"{FEATURES}\"")
}
fn model() -> String {
    format!("model:{MODEL}")
}

/// A database whose lineage is raw data -> run -> features -> model@1, @2,
/// with long names, a long commit message and a long promotion reason.
fn long_session() -> Session {
    let mut s = Session::new(Database::in_memory().expect("in-memory database"));
    s.set_author(AUTHOR);
    let (raw, features, model) = (raw(), features(), model());
    let run = format!("run:build_{RAW}");
    let script = format!(
        "CREATE {raw} SET {{rows: 4812330, source: 's3://acme-fraud/raw/transactions/month=2026-01/part-0000.parquet'}};
         CREATE {run} SET {{command: 'python jobs/features.py --window 30d --join merchants --output s3://acme-fraud/features'}};
         LINK {raw}@1 -> {run}@1 AS input SET {{columns: ['tx_id', 'card_id', 'merchant_id', 'amount', 'timestamp']}};
         CREATE {features};
         LINK {run}@1 -> {features}@1 AS output;
         CREATE {model} SET {{artifact: 's3://acme-fraud/models/fraud_detection/1/model.json', auc: 0.931}};
         LINK {features}@1 -> {model}@1 AS input;
         PROMOTE {model}@1 TO production REASON 'first release';
         CREATE {raw} SET {{rows: 5120440}};
         BEGIN MESSAGE '{MESSAGE}';
           CREATE {model} SET {{artifact: 's3://acme-fraud/models/fraud_detection/2/model.json', auc: 0.944}};
           LINK {features}@1 -> {model}@2 AS input;
           LINK {raw}@2 -> {model}@2 AS input;
         COMMIT;
         PROMOTE {model}@2 TO production REASON '{REASON}'"
    );
    if let Err(e) = s.execute(&script) {
        panic!("the long-name database does not load:\n{}", e.render(&script));
    }
    s
}

/// Text without whitespace: a wrapped cell loses the spaces it broke at.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Each column of each table in `out`, read top to bottom with the wrapped
/// pieces concatenated; columns are found from the `----  ---` rule under the
/// headers. Text outside tables (titles, messages, footers) comes as one more
/// entry.
fn columns(out: &str) -> Vec<String> {
    let lines: Vec<Vec<char>> = out.lines().map(|l| l.chars().collect()).collect();
    let mut found = Vec::new();
    let mut outside = String::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let is_rule = !line.is_empty() && line.iter().all(|c| *c == '-' || *c == ' ');
        if is_rule {
            found.append(&mut current);
            spans.clear();
            let mut start = None;
            for (j, c) in line.iter().chain([&' ']).enumerate() {
                match (c, start) {
                    ('-', None) => start = Some(j),
                    (' ', Some(s)) => {
                        spans.push((s, j));
                        start = None;
                    }
                    _ => {}
                }
            }
            current = vec![String::new(); spans.len()];
            continue;
        }
        let is_header =
            lines.get(i + 1).is_some_and(|next| !next.is_empty() && next.iter().all(|c| *c == '-' || *c == ' '));
        if line.is_empty() || spans.is_empty() || is_header || line[0] == '(' {
            found.append(&mut current);
            spans.clear();
            outside.push_str(&line.iter().collect::<String>());
            continue;
        }
        for (k, (from, to)) in spans.iter().enumerate() {
            // The last column runs to the end of the line.
            let to = if k + 1 == spans.len() { line.len() } else { (*to).min(line.len()) };
            if *from < to {
                current[k].push_str(&line[*from..to].iter().collect::<String>());
            }
        }
    }
    found.append(&mut current);
    found.push(outside);
    found.iter().map(|c| squash(c)).collect()
}

fn kind(r: &QueryResult) -> &'static str {
    match r {
        QueryResult::Nodes(_) => "nodes",
        QueryResult::Lineage(_) => "lineage",
        QueryResult::Path(_) => "path",
        QueryResult::Write(_) => "write",
        QueryResult::Node(_) => "node",
        QueryResult::History(_) => "history",
        QueryResult::Diff(_) => "diff",
        QueryResult::Snapshots(_) => "snapshots",
        QueryResult::Audit(_) => "audit",
        QueryResult::Verify(_) => "verify",
        QueryResult::Explain(_) => "explain",
        QueryResult::Transaction(_) => "transaction",
        _ => "other",
    }
}

#[test]
fn every_result_kind_keeps_long_keys_and_messages_whole_and_fits_the_width_it_can() {
    let mut s = long_session();
    let (raw, features, model) = (raw(), features(), model());
    // Each statement, with the texts its table must show whole.
    let cases: Vec<(String, Vec<String>)> = vec![
        (format!("ANCESTORS OF {model}@2"), vec![format!("{raw}@2"), format!("{features}@1")]),
        (
            format!("DESCENDANTS OF {raw}@1 RETURN key, name, created_by"),
            vec![format!("{model}@1"), MODEL.into(), AUTHOR.into()],
        ),
        ("FIND model WHERE auc > 0.9".into(), vec![format!("{model}@2")]),
        (format!("LINEAGE OF {model}@1"), vec![format!("{features}@1"), format!("run:build_{RAW}@1")]),
        (
            format!("PATH FROM {raw}@1 TO {model}@1"),
            vec![format!("{raw}@1"), format!("{features}@1"), format!("{model}@1")],
        ),
        (
            format!("SHOW {model}@production"),
            vec![format!("{model}@2"), "s3://acme-fraud/models/fraud_detection/2/model.json".into(), AUTHOR.into()],
        ),
        (format!("HISTORY OF {model}"), vec![REASON.into(), "production: @1 -> @2".into(), AUTHOR.into()]),
        (
            format!("DIFF {model}@1 {model}@2"),
            vec![raw.clone(), "s3://acme-fraud/models/fraud_detection/1/model.json".into()],
        ),
        ("SNAPSHOTS".into(), vec![MESSAGE.into(), AUTHOR.into()]),
        ("AUDIT".into(), vec![format!("{features}@1 {model}@2"), AUTHOR.into()]),
        ("VERIFY".into(), vec![]),
        (
            format!("EXPLAIN DESCENDANTS OF {raw}@1 DEPTH 4 VIA input, output WHERE type = model ORDER BY auc DESC"),
            vec![format!("{raw}@1")],
        ),
        (format!("BEGIN MESSAGE 'x'; CREATE {features}; COMMIT"), vec![format!("{features}@2")]),
        (format!("SET {model}@2 {{note: '{MESSAGE}'}}"), vec![format!("{model}@2")]),
    ];
    let mut kinds = BTreeSet::new();
    for (query, texts) in &cases {
        let results = s.execute(query).unwrap_or_else(|e| panic!("{query} fails:\n{}", e.render(query)));
        let out = results.iter().map(|r| r.render(Format::Table)).collect::<Vec<_>>().join("\n\n");
        kinds.extend(results.iter().map(kind));
        // Keys are never split: each is whole on one line, even where that
        // makes the line wider than 80 (paths may break after a `/`).
        for text in texts.iter().filter(|t| !t.contains(' ') && !t.contains("://")) {
            assert!(out.lines().any(|l| l.contains(text.as_str())), "{query}: `{text}` is split:\n{out}");
        }
        // Only a table holding a key too long to share 80 columns is wider.
        let longest_word = out.split([' ', '\n']).map(|w| w.chars().count()).max().unwrap_or(0);
        for line in out.lines().filter(|l| l.chars().count() > 80) {
            assert!(longest_word > 40, "{query}: a line of {} chars:\n{line}\n\n{out}", line.chars().count());
        }
        // At 160 columns only two words too long to share them make a line wider.
        lineagedb_query::set_table_width(160);
        let wide = results.iter().map(|r| r.render(Format::Table)).collect::<Vec<_>>().join("\n\n");
        lineagedb_query::set_table_width(lineagedb_query::DEFAULT_TABLE_WIDTH);
        let mut words: Vec<usize> = wide.split([' ', '\n']).map(|w| w.chars().count()).collect();
        words.sort_unstable_by(|a, b| b.cmp(a));
        for line in wide.lines().filter(|l| l.chars().count() > 160) {
            assert!(words[0] + words[1] > 150, "{query}: a line of {} chars at 160:\n{line}", line.chars().count());
        }
        let columns = columns(&out);
        for text in texts {
            assert!(
                columns.iter().any(|c| c.contains(&squash(text))),
                "{query}: `{text}` is not whole in any column:\n{out}\n\ncolumns: {columns:#?}"
            );
        }
    }
    let all = [
        "nodes",
        "lineage",
        "path",
        "write",
        "node",
        "history",
        "diff",
        "snapshots",
        "audit",
        "verify",
        "explain",
        "transaction",
    ];
    assert_eq!(kinds, all.into_iter().collect(), "every result kind is rendered");
}

#[test]
fn table_times_are_to_the_second_and_json_keeps_microseconds() {
    let mut s = long_session();
    let results = s.execute("SNAPSHOTS LIMIT 1").expect("reads");
    let json = results[0].to_json();
    let full = json["snapshots"][0]["time"].as_str().expect("a time").to_owned();
    let table = results[0].render(Format::Table);
    let second = format!("{}Z", &full[..19]);
    assert!(table.contains(&second), "{second} missing from:\n{table}");
    assert!(!table.contains(&full) || full == second, "the table shows {full}:\n{table}");
    assert!(results[0].render(Format::Csv).contains(&full), "CSV keeps {full}");
}
