//! The lineage report as documents: JSON (the canonical content), Markdown
//! for people, DOT for Graphviz, and HTML (the Markdown, rendered by
//! pulldown-cmark, in one self-contained page).
//!
//! Every document states the snapshot it was taken at and the report's
//! digest: SHA-256 of the compact JSON content without its `digest` member.
//! The same report taken `AS OF` the same snapshot has the same digest, so a
//! reviewer can regenerate a report later and check it is unchanged.

use std::fmt::Write as _;

use lineagedb_engine::{Edge, Node, Props, Report, ReportNode, Value, props_to_json};
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::result::audit_json;
use crate::syntax::ReportFormat;

/// A report with its canonical JSON content and digest.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportDocument {
    /// The data, as the engine gathered it.
    pub report: Report,
    /// The format `FORMAT` asked for, if any.
    pub format: Option<ReportFormat>,
    /// The JSON content, `digest` included.
    pub json: Json,
    /// SHA-256 (hex) of the compact JSON content without `digest`.
    pub digest: String,
}

impl ReportDocument {
    /// Builds the JSON content of `report` and its digest.
    pub fn new(report: Report, format: Option<ReportFormat>) -> ReportDocument {
        let mut content = content_json(&report);
        let digest = lineagedb_engine::hex(&Sha256::digest(content.to_string().as_bytes()));
        if let Json::Object(map) = &mut content {
            map.insert("digest".into(), digest.clone().into());
        }
        ReportDocument { report, format, json: content, digest }
    }

    /// The document in `format`: JSON pretty-printed, or Markdown, DOT, HTML.
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Json => serde_json::to_string_pretty(&self.json).unwrap_or_else(|_| self.json.to_string()),
            ReportFormat::Markdown => self.markdown(),
            ReportFormat::Dot => self.dot(),
            ReportFormat::Html => self.html(),
        }
    }

    /// `REPORT ... AS OF n` and `lineagedb report ... --as-of n`: how to
    /// regenerate this report.
    fn regenerate(&self) -> (String, String) {
        let key = self.report.subject.node.key.to_string();
        let at = self.report.snapshot.id;
        (format!("REPORT {key} AS OF {at}"), format!("lineagedb report {} --as-of {at}", shell_quote(&key)))
    }
}

// ---------------------------------------------------------------- JSON

/// The report's content, without the digest.
fn content_json(r: &Report) -> Json {
    let s = &r.snapshot;
    json!({
        "report": "lineage",
        "subject": summary_json(r),
        "snapshot": {"id": s.id, "time": s.time.to_rfc3339(), "author": s.author, "message": s.message},
        "training_runs": r.runs.iter().map(|run| {
            let mut o = run_fields(&run.run);
            o.insert("key".into(), run.run.key.to_string().into());
            o.insert("edge_label".into(), run.label.clone().into());
            o.insert("jobs".into(), run.jobs.iter().map(ToString::to_string).collect::<Vec<_>>().into());
            o.insert("code".into(), run.code.iter().map(|(n, e)| code_json(n, e)).collect::<Vec<_>>().into());
            o.insert("inputs".into(), run.inputs.iter().map(|(n, e)| input_json(n, e)).collect::<Vec<_>>().into());
            o.insert("props".into(), props_to_json(&run.run.props));
            Json::Object(o)
        }).collect::<Vec<_>>(),
        "upstream_datasets": r.upstream.iter().filter(|n| n.node.key.type_name == "dataset").map(dataset_json).collect::<Vec<_>>(),
        "chain": r.chain.iter().map(|key| {
            let from: Vec<Json> = r.upstream_edges.iter().filter(|e| &e.to == key)
                .map(|e| json!({"from": e.from.to_string(), "label": e.label})).collect();
            json!({"key": key.to_string(), "type": key.type_name, "from": from})
        }).collect::<Vec<_>>(),
        "upstream": r.upstream.iter().map(node_json).collect::<Vec<_>>(),
        "downstream": r.downstream.iter().map(|n| {
            let mut o = node_json(n);
            if let Json::Object(m) = &mut o {
                let via: Vec<Json> = r.downstream_edges.iter().filter(|e| e.to == n.node.key)
                    .map(|e| json!({"from": e.from.to_string(), "label": e.label})).collect();
                m.insert("via".into(), via.into());
            }
            o
        }).collect::<Vec<_>>(),
        "audit": r.audit.iter().map(audit_json).collect::<Vec<_>>(),
        "recipe": r.runs.iter().map(|run| json!({
            "run": run.run.key.to_string(),
            "command": command(&run.run),
            "cwd": text(&run.run.props, &["cwd"]),
            "params": run.run.props.get("params").map_or(Json::Null, Value::to_json),
            "code": run.code.iter().map(|(n, e)| code_json(n, e)).collect::<Vec<_>>(),
            "inputs": run.inputs.iter().map(|(n, e)| input_json(n, e)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn summary_json(r: &Report) -> Json {
    let n = &r.subject.node;
    json!({
        "key": n.key.to_string(),
        "type": n.key.type_name,
        "external_version": n.label,
        "content_hash": content_hash(n),
        "record_digest": r.subject.record_digest,
        "created_at": n.created_at.to_rfc3339(),
        "created_in": n.created_in,
        "created_by": n.created_by,
        "aliases": r.aliases.iter().map(|a| json!({
            "alias": a.alias, "since": a.since, "since_time": a.since_time.to_rfc3339(), "by": a.by,
            "reason": a.reason, "previous": a.previous, "until": a.until, "held_now": a.until.is_none(),
        })).collect::<Vec<_>>(),
        "props": props_to_json(&n.props),
    })
}

fn node_json(n: &ReportNode) -> Json {
    json!({
        "depth": n.depth,
        "key": n.node.key.to_string(),
        "type": n.node.key.type_name,
        "external_version": n.node.label,
        "created_at": n.node.created_at.to_rfc3339(),
        "created_by": n.node.created_by,
        "record_digest": n.record_digest,
    })
}

fn dataset_json(n: &ReportNode) -> Json {
    let p = &n.node.props;
    json!({
        "depth": n.depth,
        "key": n.node.key.to_string(),
        "source": source(&n.node),
        "external_version": n.node.label,
        "content_hash": content_hash(&n.node),
        "schema": p.get("schema").map_or(Json::Null, Value::to_json),
        "owner": text(p, &["owner"]),
        "record_digest": n.record_digest,
    })
}

fn run_fields(run: &Node) -> Map<String, Json> {
    let p = &run.props;
    let mut o = Map::new();
    for (name, keys) in [
        ("status", &["status", "state"][..]),
        ("started_at", &["started_at"]),
        ("ended_at", &["ended_at"]),
        ("host", &["host"]),
        ("user", &["user"]),
        ("cwd", &["cwd"]),
    ] {
        o.insert(name.into(), text(p, keys).map_or(Json::Null, Json::from));
    }
    o.insert("command".into(), command(run).map_or(Json::Null, Json::from));
    o.insert("exit_code".into(), p.get("exit_code").map_or(Json::Null, Value::to_json));
    o.insert("params".into(), p.get("params").map_or(Json::Null, Value::to_json));
    o
}

fn code_json(n: &Node, e: &Edge) -> Json {
    json!({
        "key": n.key.to_string(),
        "commit": text(&n.props, &["commit"]).or_else(|| n.label.clone()),
        "branch": text(&e.props, &["branch"]).or_else(|| text(&n.props, &["branch"])),
        "dirty": e.props.get("dirty").or_else(|| n.props.get("dirty")).map_or(Json::Null, Value::to_json),
        "remote": text(&n.props, &["remote"]),
    })
}

fn input_json(n: &Node, e: &Edge) -> Json {
    json!({
        "key": n.key.to_string(),
        "edge_label": e.label,
        "external_version": n.label,
        "content_hash": content_hash(n),
        "source": source(n).or_else(|| text(&e.props, &["path"])),
    })
}

// ---------------------------------------------------------------- properties

/// A property as text: strings as they are, other values as JSON.
fn text(props: &Props, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| props.get(*k)).map(|v| match v {
        Value::String(s) => s.clone(),
        Value::Timestamp(t) => t.to_rfc3339(),
        other => other.to_json().to_string(),
    })
}

/// The content hash a capture tool recorded (`sha256`, or `content_hash`).
fn content_hash(n: &Node) -> Option<String> {
    text(&n.props, &["sha256", "content_hash"]).map(|h| if h.contains(':') { h } else { format!("sha256:{h}") })
}

/// Where the data lives: `source`, else `path`, else `uri`.
fn source(n: &Node) -> Option<String> {
    text(&n.props, &["source", "path", "uri", "location"])
}

/// The command a run executed: `command_line` (the run wrapper), else
/// `command` (a string, or a list of arguments joined by spaces).
fn command(run: &Node) -> Option<String> {
    if let Some(line) = text(&run.props, &["command_line"]) {
        return Some(line);
    }
    match run.props.get("command")? {
        Value::List(args) => Some(
            args.iter()
                .map(|a| match a {
                    Value::String(s) => shell_quote(s),
                    other => other.to_json().to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => text(&run.props, &["command"]),
    }
}

/// `text` quoted for a POSIX shell when it needs it.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain { text.to_owned() } else { format!("'{}'", text.replace('\'', r"'\''")) }
}

// ---------------------------------------------------------------- Markdown

/// Escapes text for Markdown (CommonMark with tables): inline markup, HTML
/// and table pipes become literal; line breaks become spaces.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `body` literally.
fn md_code_block(lang: &str, body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

fn md_row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", if c.is_empty() { "—" } else { c.as_str() });
    }
    out.push('\n');
}

fn md_table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    md_row(out, &headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    md_row(out, &vec!["---".to_owned(); headers.len()]);
    for row in rows {
        md_row(out, row);
    }
    out.push('\n');
}

fn opt(text: Option<String>) -> String {
    text.map(|t| md(&t)).unwrap_or_default()
}

fn json_text(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => md(s),
        other => md(&other.to_string()),
    }
}

impl ReportDocument {
    fn markdown(&self) -> String {
        let r = &self.report;
        let subject = &r.subject.node;
        let key = subject.key.to_string();
        let (statement, command) = self.regenerate();
        let mut out = String::new();
        let _ = writeln!(out, "# Lineage report: {}\n", md(&key));
        let _ = writeln!(
            out,
            "Taken at snapshot {} ({}, committed by {}{}). Report digest: `sha256:{}`.\n",
            r.snapshot.id,
            r.snapshot.time,
            md(&r.snapshot.author),
            r.snapshot.message.as_deref().map(|m| format!(": \"{}\"", md(m))).unwrap_or_default(),
            self.digest
        );
        let _ = writeln!(
            out,
            "To check it later, regenerate it with `{}` (or `{}` in the shell): the digest must be the same.\n",
            command.replace('`', "'"),
            statement.replace('`', "'")
        );

        out.push_str("## Summary\n\n");
        let now: Vec<String> = r.aliases.iter().filter(|a| a.until.is_none()).map(|a| md(&a.alias)).collect();
        let mut rows = vec![
            vec!["key".to_owned(), md(&key)],
            vec!["external version".to_owned(), opt(subject.label.clone())],
            vec!["content hash".to_owned(), opt(content_hash(subject))],
            vec!["record digest".to_owned(), format!("`sha256:{}`", r.subject.record_digest)],
            vec![
                "created".to_owned(),
                format!("{} in snapshot {} by {}", subject.created_at, subject.created_in, md(&subject.created_by)),
            ],
            vec!["aliases now".to_owned(), now.join(", ")],
        ];
        for a in &r.aliases {
            let period = match a.until {
                None => format!("since snapshot {}", a.since),
                Some(u) => format!("from snapshot {} until snapshot {u}, which moved it away", a.since),
            };
            let previous = a.previous.map(|p| format!("; before: version {p}")).unwrap_or_default();
            let reason = a.reason.as_deref().map(|r| format!("; reason: {}", md(r))).unwrap_or_default();
            rows.push(vec![
                format!("alias {}", md(&a.alias)),
                format!("{period}, promoted by {} at {}{previous}{reason}", md(&a.by), a.since_time),
            ]);
        }
        if !subject.props.is_empty() {
            rows.push(vec!["properties".to_owned(), md(&props_to_json(&subject.props).to_string())]);
        }
        md_table(&mut out, &["field", "value"], &rows);

        out.push_str("## Training run\n\n");
        if r.runs.is_empty() {
            out.push_str("No recorded run has an edge into this node.\n\n");
        }
        for run in &r.runs {
            let f = run_fields(&run.run);
            let _ = writeln!(out, "### {}\n", md(&run.run.key.to_string()));
            let mut rows: Vec<Vec<String>> =
                ["status", "command", "started_at", "ended_at", "exit_code", "host", "user", "cwd"]
                    .iter()
                    .map(|name| vec![name.replace('_', " "), json_text(&f[*name])])
                    .collect();
            rows.push(vec![
                "job".to_owned(),
                run.jobs.iter().map(|j| md(&j.to_string())).collect::<Vec<_>>().join(", "),
            ]);
            for (n, e) in &run.code {
                rows.push(vec!["code".to_owned(), code_line(&code_json(n, e))]);
            }
            rows.push(vec!["params".to_owned(), json_text(&f["params"])]);
            md_table(&mut out, &["field", "value"], &rows);
            let inputs: Vec<Vec<String>> = run
                .inputs
                .iter()
                .map(|(n, e)| {
                    let j = input_json(n, e);
                    vec![
                        md(&n.key.to_string()),
                        md(&e.label),
                        json_text(&j["content_hash"]),
                        json_text(&j["external_version"]),
                        json_text(&j["source"]),
                    ]
                })
                .collect();
            if !inputs.is_empty() {
                md_table(&mut out, &["input", "edge", "content hash", "external version", "source"], &inputs);
            }
        }

        out.push_str("## Upstream datasets\n\n");
        let datasets: Vec<Vec<String>> = r
            .upstream
            .iter()
            .filter(|n| n.node.key.type_name == "dataset")
            .map(|n| {
                let j = dataset_json(n);
                vec![
                    n.depth.to_string(),
                    md(&n.node.key.to_string()),
                    json_text(&j["source"]),
                    json_text(&j["external_version"]),
                    json_text(&j["content_hash"]),
                    json_text(&j["owner"]),
                    schema_text(&j["schema"]),
                ]
            })
            .collect();
        if datasets.is_empty() {
            out.push_str("No dataset upstream.\n\n");
        } else {
            md_table(
                &mut out,
                &["depth", "dataset", "source", "external version", "content hash", "owner", "schema"],
                &datasets,
            );
        }

        out.push_str("## Transformation chain\n\nEvery upstream node in topological order: each comes after what it was made from.\n\n");
        for (i, key) in r.chain.iter().enumerate() {
            let from: Vec<String> = r
                .upstream_edges
                .iter()
                .filter(|e| &e.to == key)
                .map(|e| format!("{} ({})", md(&e.from.to_string()), md(&e.label)))
                .collect();
            let from = if from.is_empty() { String::new() } else { format!(" ← {}", from.join(", ")) };
            let _ = writeln!(out, "{}. {}{from}", i + 1, md(&key.to_string()));
        }
        out.push('\n');

        out.push_str("## Downstream consumers\n\n");
        if r.downstream.is_empty() {
            out.push_str("Nothing depends on this node.\n\n");
        } else {
            let rows: Vec<Vec<String>> = r
                .downstream
                .iter()
                .map(|n| {
                    let via: Vec<String> = r
                        .downstream_edges
                        .iter()
                        .filter(|e| e.to == n.node.key)
                        .map(|e| format!("{} ({})", md(&e.from.to_string()), md(&e.label)))
                        .collect();
                    vec![n.depth.to_string(), md(&n.node.key.to_string()), md(&n.node.key.type_name), via.join(", ")]
                })
                .collect();
            md_table(&mut out, &["depth", "node", "type", "from"], &rows);
        }

        out.push_str("## Audit entries\n\n");
        let rows: Vec<Vec<String>> = r
            .audit
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    e.snapshot.to_string(),
                    e.time.to_string(),
                    md(&e.author),
                    md(&e.op),
                    md(&e.subjects.join(", ")),
                    format!("`{}`", &e.hash),
                ]
            })
            .collect();
        md_table(&mut out, &["seq", "snapshot", "time", "author", "op", "subjects", "entry hash"], &rows);

        out.push_str("## Reproduction recipe\n\n");
        if r.runs.is_empty() {
            out.push_str("No recorded run produced this node, so there is nothing to re-run.\n");
        }
        for run in &r.runs {
            let _ = writeln!(out, "To reproduce {}:\n", md(&run.run.key.to_string()));
            out.push_str(&md_code_block("sh", &recipe_script(run)));
            out.push('\n');
        }
        out
    }
}

fn code_line(c: &Json) -> String {
    let mut s = json_text(&c["key"]);
    if let Some(commit) = c["commit"].as_str() {
        let _ = write!(s, ": commit `{}`", commit.replace('`', "'"));
    }
    let mut extra = Vec::new();
    if let Some(b) = c["branch"].as_str() {
        extra.push(format!("branch {}", md(b)));
    }
    if c["dirty"] == Json::Bool(true) {
        extra.push("uncommitted changes".to_owned());
    }
    if let Some(r) = c["remote"].as_str() {
        extra.push(md(r));
    }
    if !extra.is_empty() {
        let _ = write!(s, " ({})", extra.join(", "));
    }
    s
}

/// A schema as `name: type` pairs when it is a list of `{name, type}`.
fn schema_text(schema: &Json) -> String {
    let Some(fields) = schema.as_array() else { return json_text(schema) };
    let parts: Vec<String> = fields
        .iter()
        .map(|f| match (f["name"].as_str(), f["type"].as_str()) {
            (Some(n), Some(t)) => format!("{n}: {t}"),
            _ => f.to_string(),
        })
        .collect();
    md(&parts.join(", "))
}

/// A shell script that re-runs `run`: check out the code, check the inputs,
/// then the command with its parameters noted.
fn recipe_script(run: &lineagedb_engine::ProducingRun) -> String {
    let mut s = String::new();
    for (n, e) in &run.code {
        let c = code_json(n, e);
        if let Some(remote) = c["remote"].as_str() {
            let _ = writeln!(s, "git clone {} src && cd src", shell_quote(remote));
        }
        match c["commit"].as_str() {
            Some(commit) => {
                let _ = writeln!(s, "git checkout {}", shell_quote(commit));
            }
            None => {
                let _ = writeln!(s, "# {}: no commit recorded", n.key);
            }
        }
        if c["dirty"] == Json::Bool(true) {
            s.push_str("# WARNING: the run had uncommitted changes; this commit is not exactly what ran\n");
        }
    }
    if run.code.is_empty() {
        s.push_str("# no code version recorded for this run\n");
    }
    for (n, e) in &run.inputs {
        let i = input_json(n, e);
        let hash = i["content_hash"].as_str().map(|h| format!(" {h}")).unwrap_or_default();
        let version = i["external_version"].as_str().map(|v| format!(" version {v}")).unwrap_or_default();
        let source = i["source"].as_str().map(|v| format!(" at {v}")).unwrap_or_default();
        let _ = writeln!(s, "# input {} ({}){hash}{version}{source}", n.key, e.label);
    }
    if let Some(params) = run.run.props.get("params") {
        let _ = writeln!(s, "# params {}", params.to_json());
    }
    if let Some(cwd) = text(&run.run.props, &["cwd"]) {
        let _ = writeln!(s, "# ran in {cwd}");
    }
    match command(&run.run) {
        Some(c) => s.push_str(&c),
        None => s.push_str("# no command recorded for this run"),
    }
    s
}

// ---------------------------------------------------------------- DOT and HTML

/// A DOT string literal.
fn dot_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dot_color(type_name: &str) -> &'static str {
    match type_name {
        "dataset" => "#dbeafe",
        "run" => "#fef3c7",
        "job" => "#f3f4f6",
        "code" => "#ede9fe",
        "model" => "#dcfce7",
        "deployment" => "#fee2e2",
        _ => "#ffffff",
    }
}

impl ReportDocument {
    fn dot(&self) -> String {
        let r = &self.report;
        let mut out = String::new();
        let _ = writeln!(out, "// Lineage report: {}", r.subject.node.key.to_string().replace('\n', " "));
        let _ = writeln!(out, "// snapshot {}, report digest sha256:{}", r.snapshot.id, self.digest);
        out.push_str(
            "digraph lineage {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
        );
        let nodes = std::iter::once(&r.subject).chain(&r.upstream).chain(&r.downstream);
        for n in nodes {
            let key = n.node.key.to_string();
            let subject = n.depth == 0 && n.node.key == r.subject.node.key;
            let _ = writeln!(
                out,
                "  {} [fillcolor={}{}];",
                dot_string(&key),
                dot_string(dot_color(&n.node.key.type_name)),
                if subject { ", penwidth=3" } else { "" }
            );
        }
        for e in r.upstream_edges.iter().chain(&r.downstream_edges) {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                dot_string(&e.from.to_string()),
                dot_string(&e.to.to_string()),
                dot_string(&e.label)
            );
        }
        out.push_str("}\n");
        out
    }

    fn html(&self) -> String {
        use pulldown_cmark::{Options, Parser, html};
        let markdown = self.markdown();
        let mut body = String::new();
        html::push_html(&mut body, Parser::new_ext(&markdown, Options::ENABLE_TABLES));
        let mut title = String::new();
        let _ = pulldown_cmark_escape::escape_html(
            &mut title,
            &format!("Lineage report: {}", self.report.subject.node.key),
        );
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
             <meta name=\"lineagedb-report-digest\" content=\"sha256:{}\">\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
            self.digest
        )
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#111}\
table{border-collapse:collapse;margin:0 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top;text-align:left}\
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{background:#f5f5f5;padding:.75rem;overflow-x:auto}";
