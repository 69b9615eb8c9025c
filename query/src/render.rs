//! Printing results: aligned tables for people (fitted to 80 columns, long
//! cells cut with `…`), one line of JSON per statement, and CSV (RFC 4180
//! quoting, `\n` line ends).

use std::fmt;
use std::str::FromStr;

use lineagedb_engine::{Edge, HistoryKind, Node, Value, props_to_json};

use crate::result::{NodeRow, QueryResult, TxAction};

/// Width a table aims to fit in.
const TABLE_WIDTH: usize = 80;
/// No column is squeezed narrower than this.
const MIN_COLUMN: usize = 6;

/// An output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Aligned columns for a terminal.
    #[default]
    Table,
    /// One JSON object per statement, one per line (JSON Lines).
    Json,
    /// A header line and one line per row.
    Csv,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Format, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "json" | "jsonl" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("unknown format `{text}`: expected table, json or csv")),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Csv => "csv",
        })
    }
}

/// A titled block of rows: the table form of (part of) a result.
#[derive(Debug, Default)]
struct Section {
    title: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    footer: Vec<String>,
}

impl Section {
    fn new(headers: &[&str]) -> Section {
        Section { headers: headers.iter().map(|h| (*h).to_owned()).collect(), ..Section::default() }
    }

    /// A section that is just a line of text (messages).
    fn message(text: impl Into<String>) -> Section {
        Section { title: Some(text.into()), ..Section::default() }
    }
}

impl QueryResult {
    /// The result printed in `format`, without a trailing newline.
    /// JSON is exactly one line.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => self.to_json().to_string(),
            Format::Table => self.sections().iter().map(render_table).collect::<Vec<_>>().join("\n\n"),
            Format::Csv => render_csv(&self.csv_section()),
        }
    }

    fn sections(&self) -> Vec<Section> {
        match self {
            QueryResult::Lineage(g) => {
                let mut nodes = Section::new(&["depth", "key", "props"]);
                nodes.title = Some(format!("{} node(s)", g.nodes.len()));
                for row in &g.nodes {
                    nodes.rows.push(vec![depth_cell(row.depth), row.node.key.to_string(), props_cell(&row.node)]);
                }
                let mut edges = edges_section(&g.edges);
                edges.title = Some(format!("{} edge(s)", g.edges.len()));
                vec![nodes, edges]
            }
            QueryResult::Write(w) => {
                let at = match w.snapshot {
                    Some(s) => format!(" (snapshot {s})"),
                    None => " (pending until COMMIT)".to_owned(),
                };
                vec![Section::message(format!("{}{at}", w.summary))]
            }
            QueryResult::Transaction(t) => vec![Section::message(match t.action {
                TxAction::Begin => "transaction started".to_owned(),
                TxAction::Commit => format!(
                    "committed snapshot {} ({} key(s))",
                    t.snapshot.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    t.keys.len()
                ),
                TxAction::Rollback => format!("rolled back ({} key(s) discarded)", t.keys.len()),
            })],
            QueryResult::Path(p) if p.nodes.is_empty() => {
                vec![Section::message(format!("no path from {} to {}", p.from, p.to))]
            }
            QueryResult::Verify(v) => {
                let mut s = self.csv_section();
                s.title = Some(if v.is_ok() {
                    "ok: the audit chain and the graph invariants hold".to_owned()
                } else {
                    format!("FAILED: {} problem(s) found", v.problems.len())
                });
                vec![s]
            }
            QueryResult::Explain(p) => {
                let mut lines = vec![format!("plan for: {}", p.statement)];
                for (i, step) in p.steps.iter().enumerate() {
                    lines.push(format!("{:>2}. {}: {}", i + 1, step.op, step.detail));
                }
                vec![Section::message(lines.join("\n"))]
            }
            _ => vec![self.csv_section()],
        }
    }

    /// The single flat table used for CSV (and, for most results, for tables too).
    fn csv_section(&self) -> Section {
        match self {
            QueryResult::Nodes(n) => {
                let mut s = if n.columns.is_empty() {
                    if n.walk { Section::new(&["depth", "key", "props"]) } else { Section::new(&["key", "props"]) }
                } else {
                    Section { headers: n.columns.clone(), ..Section::default() }
                };
                for row in &n.rows {
                    s.rows.push(node_cells(row, n.columns.is_empty(), n.walk));
                }
                s.footer.push(format!("{} row(s)", n.rows.len()));
                if n.omitted > 0 {
                    s.footer.push(format!("{} more row(s) omitted by LIMIT", n.omitted));
                }
                s
            }
            QueryResult::Lineage(g) => {
                let mut s = Section::new(&["kind", "key", "depth", "from", "to", "label", "props"]);
                for row in &g.nodes {
                    s.rows.push(vec![
                        "node".into(),
                        row.node.key.to_string(),
                        depth_cell(row.depth),
                        String::new(),
                        String::new(),
                        String::new(),
                        props_cell(&row.node),
                    ]);
                }
                for e in &g.edges {
                    s.rows.push(vec![
                        "edge".into(),
                        String::new(),
                        String::new(),
                        e.from.to_string(),
                        e.to.to_string(),
                        e.label.clone(),
                        props_to_json(&e.props).to_string(),
                    ]);
                }
                s
            }
            QueryResult::Path(p) => {
                let mut s = Section::new(&["step", "key", "label"]);
                for (i, key) in p.nodes.iter().enumerate() {
                    let label = if i == 0 { String::new() } else { p.labels.get(i - 1).cloned().unwrap_or_default() };
                    s.rows.push(vec![i.to_string(), key.clone(), label]);
                }
                s
            }
            QueryResult::Write(w) => {
                let mut s = Section::new(&["ok", "snapshot", "keys"]);
                s.rows.push(vec!["true".into(), opt_cell(w.snapshot), w.keys.join(" ")]);
                s
            }
            QueryResult::Transaction(t) => {
                let mut s = Section::new(&["ok", "transaction", "snapshot", "keys"]);
                let action = match t.action {
                    TxAction::Begin => "begin",
                    TxAction::Commit => "commit",
                    TxAction::Rollback => "rollback",
                };
                s.rows.push(vec!["true".into(), action.into(), opt_cell(t.snapshot), t.keys.join(" ")]);
                s
            }
            QueryResult::Node(d) => {
                let mut s = Section::new(&["field", "value"]);
                let n = &d.node;
                let mut push = |k: &str, v: String| s.rows.push(vec![k.to_owned(), v]);
                push("key", n.key.to_string());
                push("label", n.label.clone().unwrap_or_default());
                push("created_at", n.created_at.to_string());
                push("created_in", n.created_in.to_string());
                push("created_by", n.created_by.clone());
                push("aliases", d.aliases.join(", "));
                for (k, v) in &n.props {
                    push(&format!("props.{k}"), value_cell(v));
                }
                for e in &d.incoming {
                    push("in", format!("{} -[{}]->", e.from, e.label));
                }
                for e in &d.outgoing {
                    push("out", format!("-[{}]-> {}", e.label, e.to));
                }
                s
            }
            QueryResult::History(h) => {
                let mut s = Section::new(&["snapshot", "time", "author", "event", "detail"]);
                s.title = Some(format!("history of {}", h.entity));
                for e in &h.events {
                    let (event, detail) = match &e.kind {
                        HistoryKind::Created { version, label } => (
                            "created",
                            match label {
                                Some(l) => format!("@{version} (label {l:?})"),
                                None => format!("@{version}"),
                            },
                        ),
                        HistoryKind::Annotated { version, props } => {
                            ("annotated", format!("@{version} {}", props_to_json(props)))
                        }
                        HistoryKind::Deleted { version } => ("deleted", format!("@{version}")),
                        HistoryKind::AliasMoved { alias, version, previous, reason } => {
                            let holder = |v: &Option<u64>| v.map_or_else(|| "none".to_owned(), |v| format!("@{v}"));
                            let mut d = format!("{alias}: {} -> {}", holder(previous), holder(version));
                            if let Some(r) = reason {
                                d.push_str(&format!(" ({r})"));
                            }
                            ("alias moved", d)
                        }
                    };
                    s.rows.push(vec![
                        e.snapshot.to_string(),
                        e.time.to_string(),
                        e.author.clone(),
                        event.into(),
                        detail,
                    ]);
                }
                s
            }
            QueryResult::Diff(d) => {
                let mut s = Section::new(&["section", "item", "from", "to"]);
                s.title = Some(format!("diff {} -> {}", d.from, d.to));
                for c in d.changes() {
                    s.rows.push(vec![c.section.into(), c.item, c.from, c.to]);
                }
                if s.rows.is_empty() {
                    s.footer.push("no differences".into());
                }
                s
            }
            QueryResult::Snapshots(list) => {
                let mut s = Section::new(&["id", "time", "author", "changes", "message"]);
                for snap in list {
                    s.rows.push(vec![
                        snap.id.to_string(),
                        snap.time.to_string(),
                        snap.author.clone(),
                        snap.changes.to_string(),
                        snap.message.clone().unwrap_or_default(),
                    ]);
                }
                s
            }
            QueryResult::Audit(a) => {
                let mut s = Section::new(&["seq", "snapshot", "time", "author", "op", "subjects"]);
                for e in &a.entries {
                    s.rows.push(vec![
                        e.seq.to_string(),
                        e.snapshot.to_string(),
                        e.time.to_string(),
                        e.author.clone(),
                        e.op.clone(),
                        e.subjects.join(" "),
                    ]);
                }
                s.footer.push(format!("{} entr{}", a.entries.len(), if a.entries.len() == 1 { "y" } else { "ies" }));
                if a.omitted > 0 {
                    s.footer.push(format!("{} more omitted by LIMIT", a.omitted));
                }
                s
            }
            QueryResult::Verify(v) => {
                let mut s = Section::new(&["check", "result"]);
                s.rows.push(vec!["ok".into(), v.is_ok().to_string()]);
                s.rows.push(vec!["audit entries".into(), v.audit_entries.to_string()]);
                s.rows.push(vec!["nodes".into(), v.nodes.to_string()]);
                s.rows.push(vec!["edges".into(), v.edges.to_string()]);
                s.rows.push(vec!["snapshots".into(), v.snapshots.to_string()]);
                for p in &v.problems {
                    s.rows.push(vec!["problem".into(), p.clone()]);
                }
                s
            }
            QueryResult::Explain(p) => {
                let mut s = Section::new(&["step", "op", "detail"]);
                for (i, step) in p.steps.iter().enumerate() {
                    s.rows.push(vec![(i + 1).to_string(), step.op.clone(), step.detail.clone()]);
                }
                s
            }
        }
    }
}

fn edges_section(edges: &[Edge]) -> Section {
    let mut s = Section::new(&["from", "label", "to", "props"]);
    for e in edges {
        s.rows.push(vec![e.from.to_string(), e.label.clone(), e.to.to_string(), compact_props(&e.props)]);
    }
    s
}

fn node_cells(row: &NodeRow, whole: bool, walk: bool) -> Vec<String> {
    if !whole {
        return row.values.iter().map(value_cell).collect();
    }
    let mut cells = Vec::new();
    if walk {
        cells.push(depth_cell(row.depth));
    }
    cells.push(row.node.key.to_string());
    cells.push(props_cell(&row.node));
    cells
}

fn depth_cell(depth: Option<u32>) -> String {
    depth.map(|d| d.to_string()).unwrap_or_default()
}

fn opt_cell(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn props_cell(node: &Node) -> String {
    compact_props(&node.props)
}

fn compact_props(props: &lineagedb_engine::Props) -> String {
    if props.is_empty() { String::new() } else { props_to_json(props).to_string() }
}

/// A value as a cell: strings bare, `null` as empty, lists and maps as JSON.
pub(crate) fn value_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Cuts `text` to `width` chars, ending with `…` when cut; newlines become spaces.
fn fit(text: &str, width: usize) -> String {
    let clean: String = text.chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect();
    if clean.chars().count() <= width {
        return clean;
    }
    let mut out: String = clean.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn render_table(section: &Section) -> String {
    let mut lines = Vec::new();
    if let Some(title) = &section.title {
        lines.push(title.clone());
    }
    if !section.headers.is_empty() {
        let n = section.headers.len();
        let mut widths: Vec<usize> = section.headers.iter().map(|h| h.chars().count()).collect();
        for row in &section.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                let len = cell.chars().map(|c| usize::from(c != '\r')).sum::<usize>();
                widths[i] = widths[i].max(len);
            }
        }
        let budget = TABLE_WIDTH.saturating_sub(2 * (n - 1));
        while widths.iter().sum::<usize>() > budget {
            let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else { break };
            if w <= MIN_COLUMN {
                break;
            }
            widths[i] = w - 1;
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = fit(cells.get(i).map_or("", String::as_str), *w);
                if i + 1 == n {
                    out.push_str(&cell);
                } else {
                    let pad = w - cell.chars().count();
                    out.push_str(&cell);
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.trim_end().to_owned()
        };
        lines.push(line(&section.headers));
        lines.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
        for row in &section.rows {
            lines.push(line(row));
        }
    }
    for f in &section.footer {
        lines.push(format!("({f})"));
    }
    lines.join("\n")
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) { format!("\"{}\"", cell.replace('"', "\"\"")) } else { cell.to_owned() }
}

fn render_csv(section: &Section) -> String {
    let mut lines = Vec::new();
    lines.push(section.headers.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","));
    for row in &section.rows {
        lines.push(row.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
        assert_eq!(Format::Csv.to_string(), "csv");
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn long_cells_are_cut_to_fit() {
        let mut s = Section::new(&["key", "props"]);
        s.rows.push(vec!["model:fraud@1".into(), "x".repeat(200)]);
        let out = render_table(&s);
        assert!(out.lines().all(|l| l.chars().count() <= TABLE_WIDTH), "{out}");
        assert!(out.contains('…'));
    }
}
