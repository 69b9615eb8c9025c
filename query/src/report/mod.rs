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

mod svg;

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
    pub(crate) fn regenerate(&self) -> (String, String) {
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
        "recipe": recipe_steps(r).iter().map(|step| json!({
            "run": step.run.key.to_string(),
            "command": command(step.run),
            "cwd": text(&step.run.props, &["cwd"]),
            "params": step.run.props.get("params").map_or(Json::Null, Value::to_json),
            "code": step.code.iter().map(|(n, e)| code_json(n, e)).collect::<Vec<_>>(),
            "inputs": step.inputs.iter().map(|(n, e)| input_json(n, e)).collect::<Vec<_>>(),
            "outputs": step.outputs.iter().map(|(n, e)| input_json(n, e)).collect::<Vec<_>>(),
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

// ---------------------------------------------------------------- parts

/// One part of the report as people read it: the Markdown and HTML
/// documents and the shell's 80-column tables are both made of these.
#[derive(Debug)]
pub(crate) struct Part {
    /// 2 for a section, 3 for a part of one.
    pub level: u8,
    pub title: String,
    /// A sentence under the title, if any.
    pub intro: Option<String>,
    pub body: Body,
}

/// What a column holds, which decides how a terminal table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Col {
    /// Short values, kept whole.
    Short,
    /// Long content (keys, sources, messages), wrapped.
    Long,
    /// A time: to the second in a terminal.
    Time,
    /// Detail only the documents show (schemas): left out of a terminal table.
    Detail,
}

#[derive(Debug)]
pub(crate) enum Body {
    /// Columns with what they hold, and rows of plain text; an empty cell means "none".
    Table { columns: Vec<(&'static str, Col)>, rows: Vec<Vec<String>> },
    /// Text shown exactly, such as a shell script.
    Code(String),
    /// Nothing more than the intro.
    Empty,
}

fn part(level: u8, title: impl Into<String>, intro: Option<String>, body: Body) -> Part {
    Part { level, title: title.into(), intro, body }
}

fn json_plain(v: &Json) -> String {
    match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The edges into `key` among `edges`, as `from (label)`.
fn edges_into(edges: &[Edge], key: &lineagedb_engine::NodeKey) -> String {
    let from: Vec<String> =
        edges.iter().filter(|e| &e.to == key).map(|e| format!("{} ({})", e.from, e.label)).collect();
    from.join(", ")
}

impl ReportDocument {
    /// The first lines of every document: the title, the snapshot taken
    /// at, and the digest, as plain text.
    pub(crate) fn heading(&self) -> (String, [String; 2]) {
        let r = &self.report;
        let message = r.snapshot.message.as_deref().map(|m| format!(": \"{m}\"")).unwrap_or_default();
        (
            format!("Lineage report: {}", r.subject.node.key),
            [
                format!(
                    "Taken at snapshot {} ({}, committed by {}{message}).",
                    r.snapshot.id, r.snapshot.time, r.snapshot.author
                ),
                format!("Report digest: sha256:{}", self.digest),
            ],
        )
    }

    /// The report's parts, in reading order.
    pub(crate) fn parts(&self) -> Vec<Part> {
        let r = &self.report;
        let subject = &r.subject.node;
        let mut parts = Vec::new();
        let mut rows = vec![
            vec!["key".to_owned(), subject.key.to_string()],
            vec!["external version".to_owned(), subject.label.clone().unwrap_or_default()],
            vec!["content hash".to_owned(), content_hash(subject).unwrap_or_default()],
            vec!["record digest".to_owned(), format!("sha256:{}", r.subject.record_digest)],
            vec![
                "created".to_owned(),
                format!("{} in snapshot {} by {}", subject.created_at, subject.created_in, subject.created_by),
            ],
            vec![
                "aliases now".to_owned(),
                r.aliases.iter().filter(|a| a.until.is_none()).map(|a| a.alias.clone()).collect::<Vec<_>>().join(", "),
            ],
        ];
        for a in &r.aliases {
            let period = match a.until {
                None => format!("since snapshot {}", a.since),
                Some(u) => format!("from snapshot {} until snapshot {u}, which moved it away", a.since),
            };
            let previous = a.previous.map(|p| format!("; before: version {p}")).unwrap_or_default();
            let reason = a.reason.as_deref().map(|r| format!("; reason: {r}")).unwrap_or_default();
            rows.push(vec![
                format!("alias {}", a.alias),
                format!("{period}, promoted by {} at {}{previous}{reason}", a.by, a.since_time),
            ]);
        }
        if !subject.props.is_empty() {
            rows.push(vec!["properties".to_owned(), props_to_json(&subject.props).to_string()]);
        }
        parts.push(part(
            2,
            "Summary",
            None,
            Body::Table { columns: vec![("field", Col::Short), ("value", Col::Long)], rows },
        ));

        let intro = r.runs.is_empty().then(|| "No recorded run has an edge into this node.".to_owned());
        parts.push(part(2, "Training run", intro, Body::Empty));
        for run in &r.runs {
            let f = run_fields(&run.run);
            let mut rows: Vec<Vec<String>> =
                ["status", "command", "started_at", "ended_at", "exit_code", "host", "user", "cwd"]
                    .iter()
                    .map(|name| vec![name.replace('_', " "), json_plain(&f[*name])])
                    .collect();
            rows.push(vec!["job".to_owned(), run.jobs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")]);
            for (n, e) in &run.code {
                rows.push(vec!["code".to_owned(), code_line(&code_json(n, e))]);
            }
            rows.push(vec!["params".to_owned(), json_plain(&f["params"])]);
            let title = run.run.key.to_string();
            parts.push(part(
                3,
                title,
                None,
                Body::Table { columns: vec![("field", Col::Short), ("value", Col::Long)], rows },
            ));
            let rows: Vec<Vec<String>> = run
                .inputs
                .iter()
                .map(|(n, e)| {
                    let j = input_json(n, e);
                    let version = [json_plain(&j["content_hash"]), json_plain(&j["external_version"])]
                        .into_iter()
                        .filter(|v| !v.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ");
                    vec![n.key.to_string(), e.label.clone(), version, json_plain(&j["source"])]
                })
                .collect();
            let columns = vec![
                ("input", Col::Long),
                ("edge", Col::Short),
                ("content hash, version", Col::Long),
                ("source", Col::Long),
            ];
            parts.push(part(3, format!("Inputs of {}", run.run.key), None, Body::Table { columns, rows }));
        }

        let rows: Vec<Vec<String>> = r
            .upstream
            .iter()
            .filter(|n| n.node.key.type_name == "dataset")
            .map(|n| {
                let j = dataset_json(n);
                let version = [json_plain(&j["external_version"]), json_plain(&j["content_hash"])]
                    .into_iter()
                    .filter(|v| !v.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                vec![
                    n.depth.to_string(),
                    n.node.key.to_string(),
                    json_plain(&j["source"]),
                    version,
                    json_plain(&j["owner"]),
                    schema_text(&j["schema"]),
                ]
            })
            .collect();
        let columns = vec![
            ("depth", Col::Short),
            ("dataset", Col::Long),
            ("source", Col::Long),
            ("version, content hash", Col::Long),
            ("owner", Col::Short),
            ("schema", Col::Detail),
        ];
        let intro = rows.is_empty().then(|| "No dataset upstream.".to_owned());
        parts.push(part(2, "Upstream datasets", intro, Body::Table { columns, rows }));

        let rows: Vec<Vec<String>> = r
            .chain
            .iter()
            .enumerate()
            .map(|(i, key)| vec![(i + 1).to_string(), key.to_string(), edges_into(&r.upstream_edges, key)])
            .collect();
        let intro = "Every upstream node in topological order: each comes after what it was made from.";
        let columns = vec![("step", Col::Short), ("node", Col::Long), ("made from", Col::Long)];
        parts.push(part(2, "Transformation chain", Some(intro.into()), Body::Table { columns, rows }));

        let rows: Vec<Vec<String>> = r
            .downstream
            .iter()
            .map(|n| {
                let from = edges_into(&r.downstream_edges, &n.node.key);
                vec![n.depth.to_string(), n.node.key.to_string(), n.node.key.type_name.clone(), from]
            })
            .collect();
        let intro = rows.is_empty().then(|| "Nothing depends on this node.".to_owned());
        let columns = vec![("depth", Col::Short), ("node", Col::Long), ("type", Col::Short), ("from", Col::Long)];
        parts.push(part(2, "Downstream consumers", intro, Body::Table { columns, rows }));

        let rows: Vec<Vec<String>> = r
            .audit
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    e.snapshot.to_string(),
                    e.time.to_string(),
                    e.author.clone(),
                    e.op.clone(),
                    e.subjects.join(", "),
                    e.hash.clone(),
                ]
            })
            .collect();
        let columns = vec![
            ("seq", Col::Short),
            ("snapshot", Col::Short),
            ("time", Col::Time),
            ("author", Col::Short),
            ("op", Col::Short),
            ("subjects", Col::Long),
            ("entry hash", Col::Detail),
        ];
        parts.push(part(2, "Audit entries", None, Body::Table { columns, rows }));

        let steps = recipe_steps(r);
        if steps.is_empty() {
            let intro = "No recorded run produced this node, so there is nothing to re-run.";
            parts.push(part(2, "Reproduction recipe", Some(intro.into()), Body::Empty));
        } else {
            let intro = format!(
                "To reproduce {} from its recorded lineage, {} run(s), upstream first; each checks its inputs \
                 and outputs against the recorded hashes and stops at the first that differs:",
                r.subject.node.key,
                steps.len()
            );
            parts.push(part(2, "Reproduction recipe", Some(intro), Body::Code(recipe_script(&steps))));
        }
        parts
    }
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

fn md_row(out: &mut String, cells: impl Iterator<Item = String>) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", if c.is_empty() { "—".to_owned() } else { md(&c) });
    }
    out.push('\n');
}

impl ReportDocument {
    fn markdown(&self) -> String {
        let (title, [taken, _]) = self.heading();
        let (statement, command) = self.regenerate();
        let code = |text: &str| format!("`{}`", text.replace('`', "'"));
        let mut out = format!(
            "# {}\n\n{} Report digest: `sha256:{}`.\n\nTo check it later, regenerate it with {} (or {} in the shell): the digest must \
             be the same.\n\n",
            md(&title),
            md(&taken),
            self.digest,
            code(&command),
            code(&statement)
        );
        for p in self.parts() {
            let _ = write!(out, "{} {}\n\n", "#".repeat(usize::from(p.level)), md(&p.title));
            if let Some(intro) = &p.intro {
                let _ = write!(out, "{}\n\n", md(intro));
            }
            match &p.body {
                Body::Table { rows, .. } if rows.is_empty() => {}
                Body::Table { columns, rows } => {
                    md_row(&mut out, columns.iter().map(|(c, _)| (*c).to_owned()));
                    md_row(&mut out, columns.iter().map(|_| "---".to_owned()));
                    for row in rows {
                        md_row(&mut out, row.iter().cloned());
                    }
                    out.push('\n');
                }
                Body::Code(text) => {
                    out.push_str(&md_code_block("sh", text));
                    out.push('\n');
                }
                Body::Empty => {}
            }
        }
        out
    }
}

fn code_line(c: &Json) -> String {
    let mut s = json_plain(&c["key"]);
    if let Some(commit) = c["commit"].as_str() {
        let _ = write!(s, ": commit {commit}");
    }
    let mut extra = Vec::new();
    if let Some(b) = c["branch"].as_str() {
        extra.push(format!("branch {b}"));
    }
    if c["dirty"] == Json::Bool(true) {
        extra.push("uncommitted changes".to_owned());
    }
    if let Some(r) = c["remote"].as_str() {
        extra.push(r.to_owned());
    }
    if !extra.is_empty() {
        let _ = write!(s, " ({})", extra.join(", "));
    }
    s
}

/// A schema as `name: type` pairs when it is a list of `{name, type}`.
fn schema_text(schema: &Json) -> String {
    let Some(fields) = schema.as_array() else { return json_plain(schema) };
    let parts: Vec<String> = fields
        .iter()
        .map(|f| match (f["name"].as_str(), f["type"].as_str()) {
            (Some(n), Some(t)) => format!("{n}: {t}"),
            _ => f.to_string(),
        })
        .collect();
    parts.join(", ")
}

/// `text` on one line, for a comment in a script: control characters (a
/// newline would end the comment and run the rest) become escapes.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// One run of the transformation chain, with what it read and wrote.
pub(crate) struct Step<'a> {
    run: &'a Node,
    code: Vec<(&'a Node, &'a Edge)>,
    inputs: Vec<(&'a Node, &'a Edge)>,
    outputs: Vec<(&'a Node, &'a Edge)>,
}

/// Every run upstream of the subject, in the chain's topological order
/// (each after the runs that made its inputs), with its code, inputs and
/// outputs within the lineage.
pub(crate) fn recipe_steps(r: &Report) -> Vec<Step<'_>> {
    let nodes: std::collections::HashMap<&lineagedb_engine::NodeKey, &Node> =
        std::iter::once(&r.subject).chain(&r.upstream).map(|n| (&n.node.key, &n.node)).collect();
    let mut steps = Vec::new();
    for key in r.chain.iter().filter(|k| k.type_name == "run") {
        let Some(run) = nodes.get(key) else { continue };
        let mut step = Step { run, code: Vec::new(), inputs: Vec::new(), outputs: Vec::new() };
        for e in &r.upstream_edges {
            if &e.to == key {
                if let Some(from) = nodes.get(&e.from) {
                    match from.key.type_name.as_str() {
                        "code" => step.code.push((from, e)),
                        "job" => {}
                        _ => step.inputs.push((from, e)),
                    }
                }
            } else if &e.from == key {
                if let Some(to) = nodes.get(&e.to) {
                    step.outputs.push((to, e));
                }
            }
        }
        steps.push(step);
    }
    steps
}

/// The recipe's helper: `check FILE SHA256` stops the script when FILE is
/// not the recorded version.
const CHECK_FUNCTION: &str = "check() { echo \"$2  $1\" | sha256sum -c --status - || \
{ echo \"recipe: $1 is not the recorded version (sha256 $2)\" >&2; exit 1; }; }";

/// A shell script that re-runs the chain: for each run, check out its code,
/// check its inputs against their recorded hashes, run its command, check
/// what it wrote. Everything taken from the database is quoted, or written
/// as a comment on one line.
fn recipe_script(steps: &[Step<'_>]) -> String {
    let mut s = String::from("set -eu\n");
    s.push_str(CHECK_FUNCTION);
    s.push('\n');
    let first_remote =
        steps.iter().flat_map(|st| &st.code).find_map(|(n, e)| code_json(n, e)["remote"].as_str().map(str::to_owned));
    if let Some(remote) = &first_remote {
        let _ = writeln!(s, "git clone {} src && cd src", shell_quote(remote));
    }
    for (i, step) in steps.iter().enumerate() {
        let _ = writeln!(s, "# step {} of {}: {}", i + 1, steps.len(), one_line(&step.run.key.to_string()));
        for (n, e) in &step.code {
            let c = code_json(n, e);
            if let Some(remote) = c["remote"].as_str().filter(|r| Some(*r) != first_remote.as_deref()) {
                let _ = writeln!(s, "# in a checkout of {}", one_line(remote));
            }
            match c["commit"].as_str() {
                Some(commit) => {
                    let _ = writeln!(s, "git checkout {}", shell_quote(commit));
                }
                None => {
                    let _ = writeln!(s, "# {}: no commit recorded", one_line(&n.key.to_string()));
                }
            }
            if c["dirty"] == Json::Bool(true) {
                let diff = match step.run.props.get("code") {
                    Some(Value::Map(m)) => match m.get("diff_sha256") {
                        Some(Value::String(d)) => format!(" (difference sha256 {d})"),
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "# WARNING: the run had uncommitted changes{}; this commit is not exactly what ran",
                    one_line(&diff)
                );
            }
        }
        if step.code.is_empty() {
            s.push_str("# no code version recorded for this run\n");
        }
        for (n, e) in &step.inputs {
            file_check(&mut s, "input", n, e);
        }
        if let Some(env) = step.run.props.get("env") {
            let _ = writeln!(s, "# environment {}", one_line(&env.to_json().to_string()));
        }
        if let Some(params) = step.run.props.get("params") {
            let _ = writeln!(s, "# params {}", one_line(&params.to_json().to_string()));
        }
        if let Some(cwd) = text(&step.run.props, &["cwd"]) {
            let _ = writeln!(s, "# ran in {}", one_line(&cwd));
        }
        match command(step.run) {
            Some(c) => {
                s.push_str(&c);
                s.push('\n');
            }
            None => s.push_str("# no command recorded for this run\n"),
        }
        for (n, e) in &step.outputs {
            file_check(&mut s, "output", n, e);
        }
    }
    s.trim_end().to_owned()
}

/// A `check` line for a file with a recorded SHA-256 and a local path (the
/// edge's `path`, as the run wrapper records it, else the node's), else a
/// comment saying what the step reads or writes.
fn file_check(s: &mut String, what: &str, n: &Node, e: &Edge) {
    let hash = text(&n.props, &["sha256"]).filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
    let path = text(&e.props, &["path"]).or_else(|| text(&n.props, &["path"])).filter(|p| !p.contains("://"));
    let directory = matches!(n.props.get("kind"), Some(Value::String(k)) if k == "directory");
    match (hash, path) {
        (Some(hash), Some(path)) if !directory => {
            let _ = writeln!(s, "check {} {hash}  # {what} {}", shell_quote(&path), one_line(&n.key.to_string()));
        }
        (hash, path) => {
            let i = input_json(n, e);
            let shown = i["content_hash"].as_str().map(|h| format!(" {h}")).unwrap_or_default();
            let version = i["external_version"].as_str().map(|v| format!(" version {v}")).unwrap_or_default();
            let source = i["source"].as_str().map(|v| format!(" at {v}")).unwrap_or_default();
            let note = match (directory, hash.is_some() && path.is_some()) {
                (true, true) => " (a directory: its manifest hash is not checked here)",
                _ => "",
            };
            let line = format!("{what} {} ({}){shown}{version}{source}{note}", n.key, e.label);
            let _ = writeln!(s, "# {}", one_line(&line));
        }
    }
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

pub(crate) fn dot_color(type_name: &str) -> &'static str {
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
        // The drawing goes between the heading and the first section.
        let graph = match svg::drawing(&self.report) {
            Some(svg) => format!("<h2>Lineage graph</h2>\n<div class=\"graph\">\n{svg}</div>\n"),
            None => format!(
                "<h2>Lineage graph</h2>\n<p>The graph has more than {} nodes, too many to draw readably here: \
                 use <code>FORMAT dot</code> with Graphviz, or the tables below.</p>\n",
                svg::MAX_DRAWN
            ),
        };
        let at = body.find("<h2>").unwrap_or(body.len());
        body.insert_str(at, &graph);
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
code,pre{font-family:ui-monospace,monospace;font-size:.9em}pre{background:#f5f5f5;padding:.75rem;overflow-x:auto}\
.graph{overflow-x:auto;border:1px solid #ddd;padding:.5rem;margin:0 0 1rem}";
