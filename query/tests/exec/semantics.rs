//! Walks and searches checked against a naive reference: the graph is read
//! back through `FIND *` and `SHOW` (nodes and edges as JSON), and the
//! expected answer is computed by a fixed point over all edges, with no
//! breadth-first search, no adjacency cache and no type push-down.

use std::collections::{BTreeMap, BTreeSet};

use lineagedb_query::{Database, Session};
use serde_json::Value as Json;

use super::support::{fixture, json};

/// A node as the naive model sees it: (type, name, version) and props.
type Key = (String, String, u64);

#[derive(Debug, Default)]
struct Graph {
    text: BTreeMap<Key, String>,
    props: BTreeMap<Key, Json>,
    edges: Vec<(Key, Key, String)>,
}

fn key_of(row: &Json) -> Key {
    (
        row["type"].as_str().unwrap_or_default().to_owned(),
        row["name"].as_str().unwrap_or_default().to_owned(),
        row["version"].as_u64().unwrap_or_default(),
    )
}

fn load(s: &mut Session) -> Graph {
    let mut g = Graph::default();
    let rows = json(s, "FIND *")[0]["rows"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty());
    for row in &rows {
        let k = key_of(row);
        g.text.insert(k.clone(), row["key"].as_str().unwrap_or_default().to_owned());
        g.props.insert(k, row["props"].clone());
    }
    let by_text: BTreeMap<String, Key> = g.text.iter().map(|(k, t)| (t.clone(), k.clone())).collect();
    for (k, t) in g.text.clone() {
        let shown = json(s, &format!("SHOW {t}"));
        for e in shown[0]["node"]["outgoing"].as_array().cloned().unwrap_or_default() {
            let to = by_text[e["to"].as_str().unwrap_or_default()].clone();
            g.edges.push((k.clone(), to, e["label"].as_str().unwrap_or_default().to_owned()));
        }
    }
    g
}

/// Shortest depths by relaxing every edge until nothing changes.
fn naive_walk(g: &Graph, start: &Key, upstream: bool, depth: Option<u64>, via: Option<&[&str]>) -> BTreeMap<Key, u64> {
    let mut dist: BTreeMap<Key, u64> = BTreeMap::new();
    dist.insert(start.clone(), 0);
    loop {
        let mut changed = false;
        for (a, b, label) in &g.edges {
            if via.is_some_and(|v| !v.contains(&label.as_str())) {
                continue;
            }
            let (src, dst) = if upstream { (b, a) } else { (a, b) };
            let Some(&d) = dist.get(src) else { continue };
            if depth.is_some_and(|max| d + 1 > max) {
                continue;
            }
            if dist.get(dst).is_none_or(|&old| d + 1 < old) {
                dist.insert(dst.clone(), d + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    dist.remove(start);
    dist
}

fn rows_of(result: &Json) -> Vec<(u64, Key)> {
    result["rows"]
        .as_array()
        .map(|rows| rows.iter().map(|r| (r["depth"].as_u64().unwrap_or(u64::MAX), key_of(r))).collect())
        .unwrap_or_default()
}

/// Compares every walk variant from `start` with the naive answer.
fn check_walks(s: &mut Session, g: &Graph, start: &Key) {
    let types: [Option<&[&str]>; 3] = [None, Some(&["dataset"]), Some(&["dataset", "model"])];
    let vias: [Option<&[&str]>; 2] = [None, Some(&["input", "output"])];
    for upstream in [true, false] {
        for depth in [None, Some(2)] {
            for via in vias {
                for ty in types {
                    let mut expected: Vec<(u64, Key)> = naive_walk(g, start, upstream, depth, via)
                        .into_iter()
                        .filter(|(k, _)| ty.is_none_or(|t| t.contains(&k.0.as_str())))
                        .map(|(k, d)| (d, k))
                        .collect();
                    expected.sort();
                    let mut q = format!("{} OF {}", if upstream { "ANCESTORS" } else { "DESCENDANTS" }, g.text[start]);
                    if let Some(d) = depth {
                        q.push_str(&format!(" DEPTH {d}"));
                    }
                    if let Some(v) = via {
                        q.push_str(&format!(" VIA {}", v.join(", ")));
                    }
                    let filter = ty.map(|t| format!("type IN ({})", t.join(", ")));
                    let pushed = match &filter {
                        Some(f) => format!("{q} WHERE {f}"),
                        None => q.clone(),
                    };
                    let residual = match &filter {
                        Some(f) => format!("{q} WHERE version >= 1 AND NOT name = \"\" AND ({f})"),
                        None => format!("{q} WHERE version >= 1"),
                    };
                    for query in [pushed, residual] {
                        let actual = rows_of(&json(s, &query)[0]);
                        assert_eq!(actual, expected, "{query}");
                    }
                }
            }
        }
    }
}

#[test]
fn walks_on_the_fixture_match_the_naive_reference() {
    let mut s = fixture();
    let g = load(&mut s);
    assert!(g.edges.len() > 20, "the fixture has a real graph");
    let starts: Vec<Key> =
        g.text.keys().filter(|k| k.0 != "dataset" || k.1 == "tx" || k.1 == "clean_tx").cloned().collect();
    for start in &starts {
        check_walks(&mut s, &g, start);
    }
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn walks_on_a_random_dag_match_the_naive_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let types = ["dataset", "run", "model", "code"];
    let labels = ["input", "output", "code", "derived"];
    let n = 60;
    let mut script = String::from("BEGIN;\n");
    for i in 0..n {
        let t = types[rng.next(types.len() as u64) as usize];
        script.push_str(&format!("CREATE {t}:n{i} SET {{i: {i}}};\n"));
    }
    script.push_str("COMMIT;\n");
    let db = Database::in_memory().expect("db");
    let mut s = Session::new(db);
    s.execute(&script).expect("nodes");
    let rows = json(&mut s, "FIND * ORDER BY i")[0]["rows"].as_array().cloned().unwrap_or_default();
    let keys: Vec<String> = rows.iter().map(|r| r["key"].as_str().unwrap_or_default().to_owned()).collect();
    let mut edges = BTreeSet::new();
    let mut links = String::from("BEGIN;\n");
    for _ in 0..150 {
        let a = rng.next(n);
        let b = rng.next(n);
        let (a, b) = (a.min(b) as usize, a.max(b) as usize);
        let label = labels[rng.next(labels.len() as u64) as usize];
        if a != b && edges.insert((a, b, label)) {
            links.push_str(&format!("LINK {} -> {} AS {label};\n", keys[a], keys[b]));
        }
    }
    links.push_str("COMMIT;\n");
    s.execute(&links).expect("edges");
    let g = load(&mut s);
    assert_eq!(g.edges.len(), edges.len());
    let starts: Vec<Key> = g.text.keys().step_by(7).cloned().collect();
    for start in &starts {
        check_walks(&mut s, &g, start);
    }
}

#[test]
fn find_filters_match_a_naive_evaluation() {
    let mut s = fixture();
    let g = load(&mut s);
    let num = |k: &Key, path: &[&str]| -> Option<f64> {
        let mut v = &g.props[k];
        for p in path {
            v = v.get(p)?;
        }
        v.as_f64()
    };
    type Pred<'a> = Box<dyn Fn(&Key) -> bool + 'a>;
    let cases: Vec<(&str, Pred<'_>)> = vec![
        ("FIND * WHERE rows > 5000", Box::new(|k| num(k, &["rows"]).is_some_and(|r| r > 5000.0))),
        ("FIND * WHERE rows = \"5001\"", Box::new(|_| false)),
        ("FIND * WHERE NOT rows <= 5000", Box::new(|k| num(k, &["rows"]).is_none_or(|r| r > 5000.0))),
        ("FIND dataset WHERE owner EXISTS", Box::new(|k| k.0 == "dataset" && g.props[k].get("owner").is_some())),
        ("FIND * WHERE name ~ \"fr*\"", Box::new(|k| k.1.starts_with("fr"))),
        ("FIND * WHERE name ~ \"?x\"", Box::new(|k| k.1.chars().count() == 2 && k.1.ends_with('x'))),
        ("FIND * WHERE NOT (type = run OR type = dataset)", Box::new(|k| k.0 != "run" && k.0 != "dataset")),
        (
            "FIND * WHERE hyperparameters.lr < 0.1",
            Box::new(|k| num(k, &["hyperparameters", "lr"]).is_some_and(|x| x < 0.1)),
        ),
        (
            "FIND * WHERE type IN (model, code) AND version >= 2",
            Box::new(|k| (k.0 == "model" || k.0 == "code") && k.2 >= 2),
        ),
        (
            "FIND * WHERE params.lr = 0.05 OR auc >= 0.95",
            Box::new(|k| num(k, &["params", "lr"]) == Some(0.05) || num(k, &["auc"]).is_some_and(|a| a >= 0.95)),
        ),
    ];
    for (query, pred) in cases {
        let mut expected: Vec<Key> = g.text.keys().filter(|k| pred(k)).cloned().collect();
        expected.sort();
        let mut actual: Vec<Key> = rows_of(&json(&mut s, query)[0]).into_iter().map(|(_, k)| k).collect();
        actual.sort();
        assert_eq!(actual, expected, "{query}");
    }
}

#[test]
fn limit_reports_what_it_omitted() {
    let mut s = fixture();
    let all = json(&mut s, "ANCESTORS OF model:fraud@3")[0]["rows"].as_array().map(Vec::len).unwrap_or(0);
    let cut = json(&mut s, "ANCESTORS OF model:fraud@3 LIMIT 2");
    assert_eq!(cut[0]["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(cut[0]["omitted"].as_u64(), Some(all as u64 - 2));
    let full = json(&mut s, &format!("ANCESTORS OF model:fraud@3 LIMIT {all}"));
    assert!(full[0].get("omitted").is_none());
}
