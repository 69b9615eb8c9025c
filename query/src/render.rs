//! Printing results: aligned tables for people, one line of JSON per
//! statement, and CSV (RFC 4180 quoting, `\n` line ends).
//!
//! Tables fit the width set for them ([`set_table_width`], 80 by default)
//! without losing what matters: content columns (keys, details, messages,
//! values) share the width left by the short ones and wrap onto continuation
//! lines within their column; keys, hashes and times are never split (a
//! table is wider than its width when they cannot fit side by side); only
//! properties shown as JSON next to a node or an edge are cut, after a few
//! lines. Times print to the second. JSON and CSV print every value in full.

use std::fmt;
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use lineagedb_engine::{Edge, HistoryKind, Node, Timestamp, Value, props_to_json};

use crate::result::{NodeRow, QueryResult, TxAction};

mod stream;
pub use stream::RowsWriter;

/// Width a table fits in when nothing sets another ([`set_table_width`]).
pub const DEFAULT_TABLE_WIDTH: usize = 80;
thread_local! {
    /// Width every line of a table rendered on this thread fits in, in
    /// chars, unless keys, hashes or times are wider than the room left for
    /// them side by side: those are never split.
    static TABLE_WIDTH: std::cell::Cell<usize> = const { std::cell::Cell::new(DEFAULT_TABLE_WIDTH) };
}

/// Sets the width tables rendered on this thread fit in (the shell passes
/// the terminal's); at least 40.
pub fn set_table_width(width: usize) {
    TABLE_WIDTH.with(|w| w.set(width.max(40)));
}

/// The width tables rendered on this thread fit in.
pub fn table_width() -> usize {
    TABLE_WIDTH.with(std::cell::Cell::get)
}
/// Spaces between two columns.
const GAP: usize = 2;
/// Content columns are not squeezed narrower than this while a short column
/// can give way instead.
const MIN_CONTENT: usize = 10;
/// [`Fit::Clip`] columns give way first, down to this width, which still
/// shows a short object (`{"columns":` / `["id","country"]}`) whole.
const MIN_CLIP: usize = 16;
/// Lines a [`Fit::Clip`] cell may take before it is cut with `…`.
const CLIP_LINES: usize = 3;
/// Continuation lines of titles, footers and messages are indented this much.
const HANGING_INDENT: usize = 2;
/// Where a line may break inside a word, after one of these: the earlier a
/// group, the better the break (between JSON members, then between the parts
/// of a key or a path, then inside a name).
const BREAK_AFTER: [&[char]; 3] = [&[',', ';'], &[':', '/'], &['_', '-', '.', '=', '&', '?', ')', ']', '}']];

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

/// How a table column gives way when the table is wider than
/// [`table_width`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fit {
    /// Short values (numbers, times, event names): kept whole, and
    /// squeezed (wrapped) only once the content columns are at
    /// [`MIN_CONTENT`].
    Keep,
    /// Content (keys, details, messages, values, authors): shares the width
    /// left by the other columns and wraps onto continuation lines; never
    /// cut. The widest gives way first, so a short one keeps its width.
    Wrap,
    /// Secondary content (properties as JSON beside a node or an edge): wraps
    /// like [`Fit::Wrap`] but onto at most [`CLIP_LINES`] lines, the last
    /// ending with `…` when cut.
    Clip,
}

use Fit::{Clip, Keep, Wrap};

/// Who a flat table of cells is for: tables show times to the second and
/// shorten what their layout makes redundant; CSV keeps every value whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Table,
    Csv,
}

/// A titled block of rows: the table form of (part of) a result.
#[derive(Debug, Default)]
struct Section {
    title: Option<String>,
    headers: Vec<String>,
    /// How each column fits in a table, parallel to `headers`.
    fits: Vec<Fit>,
    rows: Vec<Vec<String>>,
    footer: Vec<String>,
}

impl Section {
    fn new(columns: &[(&str, Fit)]) -> Section {
        Section {
            headers: columns.iter().map(|(h, _)| (*h).to_owned()).collect(),
            fits: columns.iter().map(|(_, f)| *f).collect(),
            ..Section::default()
        }
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
        if let (QueryResult::Report(r), Format::Table, Some(f)) = (self, format, r_format(self)) {
            // FORMAT asked for a document: print it as it is.
            return r.render(f).trim_end().to_owned();
        }
        match format {
            Format::Json => self.to_json().to_string(),
            Format::Table => self.sections().iter().map(render_table).collect::<Vec<_>>().join("\n\n"),
            Format::Csv => render_csv(&self.flat_section(Target::Csv)),
        }
    }

    fn sections(&self) -> Vec<Section> {
        match self {
            QueryResult::Report(r) => report_sections(r),
            QueryResult::Lineage(g) => {
                let mut nodes = Section::new(&[("depth", Keep), ("key", Wrap), ("props", Clip)]);
                nodes.title = Some(format!("{} node(s)", g.nodes.len()));
                for row in &g.nodes {
                    nodes.rows.push(vec![
                        depth_cell(Some(row.depth)),
                        row.node.key.to_string(),
                        table_props_cell(&row.node),
                    ]);
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
                let mut s = self.flat_section(Target::Table);
                s.title = Some(if v.is_ok() {
                    "ok: the audit chain and the graph invariants hold".to_owned()
                } else {
                    format!("FAILED: {} problem(s) found", v.problems.len())
                });
                vec![s]
            }
            QueryResult::Explain(p) => {
                // Continuation lines of a step line up after its number.
                let mut lines = hanging(&format!("plan for: {}", p.statement), table_width(), 4);
                for (i, step) in p.steps.iter().enumerate() {
                    lines.extend(hanging(&format!("{:>2}. {}: {}", i + 1, step.op, step.detail), table_width(), 4));
                }
                vec![Section::message(lines.join("\n"))]
            }
            _ => vec![self.flat_section(Target::Table)],
        }
    }

    /// The single flat table used for CSV and, for most results, for tables.
    fn flat_section(&self, target: Target) -> Section {
        match self {
            QueryResult::Nodes(n) => {
                let mut s = rows_section(&n.columns, n.walk);
                for row in &n.rows {
                    s.rows.push(node_cells(row, n.columns.is_empty(), n.walk, target));
                }
                s.footer = rows_footer(n.rows.len(), n.omitted);
                s
            }
            QueryResult::Lineage(g) => {
                let mut s = Section::new(&[
                    ("kind", Keep),
                    ("key", Wrap),
                    ("depth", Keep),
                    ("from", Wrap),
                    ("to", Wrap),
                    ("label", Keep),
                    ("props", Clip),
                ]);
                for row in &g.nodes {
                    s.rows.push(vec![
                        "node".into(),
                        row.node.key.to_string(),
                        depth_cell(Some(row.depth)),
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
                let mut s = Section::new(&[("step", Keep), ("key", Wrap), ("label", Keep)]);
                for (i, key) in p.nodes.iter().enumerate() {
                    let label = if i == 0 { String::new() } else { p.labels.get(i - 1).cloned().unwrap_or_default() };
                    s.rows.push(vec![i.to_string(), key.clone(), label]);
                }
                s
            }
            QueryResult::Write(w) => {
                let mut s = Section::new(&[("ok", Keep), ("snapshot", Keep), ("keys", Wrap)]);
                s.rows.push(vec!["true".into(), opt_cell(w.snapshot), w.keys.join(" ")]);
                s
            }
            QueryResult::Transaction(t) => {
                let mut s = Section::new(&[("ok", Keep), ("transaction", Keep), ("snapshot", Keep), ("keys", Wrap)]);
                let action = match t.action {
                    TxAction::Begin => "begin",
                    TxAction::Commit => "commit",
                    TxAction::Rollback => "rollback",
                };
                s.rows.push(vec!["true".into(), action.into(), opt_cell(t.snapshot), t.keys.join(" ")]);
                s
            }
            QueryResult::Node(d) => {
                let mut s = Section::new(&[("field", Wrap), ("value", Wrap)]);
                let n = &d.node;
                let mut push = |k: &str, v: String| s.rows.push(vec![k.to_owned(), v]);
                push("key", n.key.to_string());
                push("label", n.label.clone().unwrap_or_default());
                push("created_at", time_cell(n.created_at, target));
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
                let mut s = Section::new(&[
                    ("snapshot", Keep),
                    ("time", Keep),
                    ("author", Wrap),
                    ("event", Keep),
                    ("detail", Wrap),
                ]);
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
                                // A table gives the reason its own lines under the move.
                                d.push_str(&match target {
                                    Target::Table => format!("\nreason: {r}"),
                                    Target::Csv => format!(" ({r})"),
                                });
                            }
                            ("alias moved", d)
                        }
                    };
                    s.rows.push(vec![
                        e.snapshot.to_string(),
                        time_cell(e.time, target),
                        e.author.clone(),
                        event.into(),
                        detail,
                    ]);
                }
                s
            }
            QueryResult::Diff(d) => {
                let mut s = Section::new(&[("section", Keep), ("item", Wrap), ("from", Wrap), ("to", Wrap)]);
                s.title = Some(format!("diff {} -> {}", d.from, d.to));
                for c in d.changes() {
                    let (from, to) =
                        if target == Target::Table && (c.section.starts_with("input") || c.section == "code") {
                            // These cells hold versions of the entity in `item`:
                            // `@3` says as much as `dataset:features@3` beside it.
                            let entity = format!("{}@", c.item);
                            (c.from.replace(&entity, "@"), c.to.replace(&entity, "@"))
                        } else {
                            (c.from, c.to)
                        };
                    s.rows.push(vec![c.section.into(), c.item, from, to]);
                }
                if s.rows.is_empty() {
                    s.footer.push("no differences".into());
                }
                s
            }
            QueryResult::Snapshots(list) => {
                let mut s = Section::new(&[
                    ("id", Keep),
                    ("time", Keep),
                    ("author", Wrap),
                    ("changes", Keep),
                    ("message", Wrap),
                ]);
                for snap in list {
                    s.rows.push(vec![
                        snap.id.to_string(),
                        time_cell(snap.time, target),
                        snap.author.clone(),
                        snap.changes.to_string(),
                        snap.message.clone().unwrap_or_default(),
                    ]);
                }
                s
            }
            QueryResult::Audit(a) => {
                let mut s = Section::new(&[
                    ("seq", Keep),
                    ("snapshot", Keep),
                    ("time", Keep),
                    ("author", Wrap),
                    ("op", Keep),
                    ("subjects", Wrap),
                ]);
                for e in &a.entries {
                    s.rows.push(vec![
                        e.seq.to_string(),
                        e.snapshot.to_string(),
                        time_cell(e.time, target),
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
                let mut s = Section::new(&[("check", Keep), ("result", Wrap)]);
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
            QueryResult::Report(r) => {
                let mut s = Section::new(&[
                    ("part", Keep),
                    ("depth", Keep),
                    ("key", Wrap),
                    ("type", Keep),
                    ("record_digest", Wrap),
                ]);
                let report = &r.report;
                let parts = [
                    ("subject", std::slice::from_ref(&report.subject)),
                    ("upstream", &report.upstream[..]),
                    ("downstream", &report.downstream[..]),
                ];
                for (part, nodes) in parts {
                    for n in nodes {
                        s.rows.push(vec![
                            part.to_owned(),
                            n.depth.to_string(),
                            n.node.key.to_string(),
                            n.node.key.type_name.clone(),
                            n.record_digest.clone(),
                        ]);
                    }
                }
                s
            }
            QueryResult::Explain(p) => {
                let mut s = Section::new(&[("step", Keep), ("op", Keep), ("detail", Wrap)]);
                for (i, step) in p.steps.iter().enumerate() {
                    s.rows.push(vec![(i + 1).to_string(), step.op.clone(), step.detail.clone()]);
                }
                s
            }
        }
    }
}

/// The `FORMAT` of a report result.
fn r_format(result: &QueryResult) -> Option<crate::syntax::ReportFormat> {
    match result {
        QueryResult::Report(r) => r.format,
        _ => None,
    }
}

/// A report as 80-column tables: its heading, then each part.
fn report_sections(r: &crate::report::ReportDocument) -> Vec<Section> {
    use crate::report::{Body, Col};
    let (title, [taken, digest]) = r.heading();
    let (statement, command) = r.regenerate();
    let mut sections = vec![Section::message(format!(
        "{title}\n{taken}\n{digest}\nTo check it later, regenerate it with {statement} (or {command} \
         from the command line): the digest must be the same."
    ))];
    for p in r.parts() {
        let title = match &p.intro {
            Some(intro) => format!("{}: {intro}", p.title),
            None => p.title.clone(),
        };
        sections.push(match p.body {
            Body::Table { rows, .. } if rows.is_empty() => Section::message(title),
            Body::Table { columns, rows } => {
                let shown: Vec<usize> = (0..columns.len()).filter(|i| columns[*i].1 != Col::Detail).collect();
                let fits: Vec<(&str, Fit)> = shown
                    .iter()
                    .map(|&i| (columns[i].0, if matches!(columns[i].1, Col::Long) { Wrap } else { Keep }))
                    .collect();
                let mut s = Section::new(&fits);
                s.title = Some(title);
                s.rows = rows
                    .into_iter()
                    .map(|row| {
                        shown
                            .iter()
                            .map(|&i| {
                                let cell = row.get(i).cloned().unwrap_or_default();
                                match columns[i].1 {
                                    Col::Time => to_second(&cell),
                                    _ => cell,
                                }
                            })
                            .collect()
                    })
                    .collect();
                if shown.len() < columns.len() {
                    let hidden: Vec<&str> = columns.iter().filter(|c| c.1 == Col::Detail).map(|c| c.0).collect();
                    s.footer.push(format!("{}: see FORMAT markdown or json", hidden.join(", ")));
                }
                s
            }
            Body::Code(text) => Section::message(format!("{title}\n{text}")),
            Body::Empty => Section::message(title),
        });
    }
    sections
}

fn edges_section(edges: &[Edge]) -> Section {
    let mut s = Section::new(&[("from", Wrap), ("label", Keep), ("to", Wrap), ("props", Clip)]);
    for e in edges {
        s.rows.push(vec![e.from.to_string(), e.label.clone(), e.to.to_string(), table_props(&e.props)]);
    }
    s
}

/// The header of a table or CSV of node rows, without rows.
fn rows_section(columns: &[String], walk: bool) -> Section {
    if !columns.is_empty() {
        Section { headers: columns.to_vec(), fits: vec![Wrap; columns.len()], ..Section::default() }
    } else if walk {
        Section::new(&[("depth", Keep), ("key", Wrap), ("props", Clip)])
    } else {
        Section::new(&[("key", Wrap), ("props", Clip)])
    }
}

/// The footer lines under a table of `rows` node rows.
fn rows_footer(rows: usize, omitted: usize) -> Vec<String> {
    let mut footer = vec![format!("{rows} row(s)")];
    if omitted > 0 {
        footer.push(format!("{omitted} more row(s) omitted by LIMIT"));
    }
    footer
}

fn node_cells(row: &NodeRow, whole: bool, walk: bool, target: Target) -> Vec<String> {
    if !whole {
        return row.values.iter().map(value_cell).collect();
    }
    let mut cells = Vec::new();
    if walk {
        cells.push(depth_cell(row.depth));
    }
    cells.push(row.key.to_text());
    let props = match target {
        Target::Table => row.node.as_deref().map(table_props_cell),
        Target::Csv => row.node.as_deref().map(props_cell),
    };
    cells.push(props.unwrap_or_default());
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

/// The properties a table shows beside a node: all but the provenance of
/// captured facts (`asserted_by`, `asserted_at`, ...), which every captured
/// node carries and which would crowd out the rest; `SHOW`, `RETURN` and
/// `--format json` or `csv` print them.
fn table_props_cell(node: &Node) -> String {
    table_props(&node.props)
}

/// [`compact_props`] without the `asserted_*` provenance (see [`table_props_cell`]).
fn table_props(props: &lineagedb_engine::Props) -> String {
    if !props.keys().any(|k| k.starts_with("asserted_")) {
        return compact_props(props);
    }
    let shown: lineagedb_engine::Props =
        props.iter().filter(|(k, _)| !k.starts_with("asserted_")).map(|(k, v)| (k.clone(), v.clone())).collect();
    compact_props(&shown)
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

/// A commit or creation time in a table: to the second, UTC
/// (`2026-11-30T03:30:52Z`, which `AS OF` accepts back); CSV keeps the
/// microseconds.
fn time_cell(time: Timestamp, target: Target) -> String {
    if target == Target::Csv {
        return time.to_string();
    }
    match Utc.timestamp_opt(time.micros().div_euclid(1_000_000), 0).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => time.to_string(),
    }
}

/// An RFC 3339 time written as text, to the second as [`time_cell`] prints it.
fn to_second(text: &str) -> String {
    Timestamp::parse_rfc3339(text).map_or_else(|| text.to_owned(), |t| time_cell(t, Target::Table))
}

/// `text` broken into lines of at most `width` chars. Line breaks in the text
/// are kept (tabs become spaces, carriage returns go); a line too long breaks
/// at its last space that fits, else after the last [`BREAK_AFTER`] char that
/// fits, else mid-word. Nothing but the spaces at a break is lost.
fn wrap(text: &str, width: usize) -> Vec<String> {
    text.split('\n').flat_map(|paragraph| wrap_paragraph(paragraph, width, width)).collect()
}

/// One paragraph (no line break) wrapped: the first line to `first` chars,
/// the others to `then`.
fn wrap_paragraph(paragraph: &str, first: usize, then: usize) -> Vec<String> {
    let mut rest: Vec<char> =
        paragraph.chars().filter(|c| *c != '\r').map(|c| if c == '\t' { ' ' } else { c }).collect();
    let mut lines = Vec::new();
    let mut width = first.max(1);
    while rest.len() > width {
        let (end, next) = break_at(&rest, width, then.max(1));
        lines.push(rest[..end].iter().collect::<String>().trim_end().to_owned());
        let skip = next + rest[next..].iter().take_while(|c| **c == ' ').count();
        rest.drain(..skip);
        width = then.max(1);
    }
    lines.push(rest.iter().collect::<String>().trim_end().to_owned());
    lines
}

/// Where the first line of `text` (longer than `width`) ends, and where the
/// next one starts: at the last space if that fills half the line; else,
/// inside the word, at the best [`BREAK_AFTER`] break that leaves the rest of
/// the word for one next line (`dataset:` / `fraud_features`), or the best
/// that fills half the line; else at the last space or break; else mid-word.
fn break_at(text: &[char], width: usize, then: usize) -> (usize, usize) {
    let space =
        text[1..=width].iter().rposition(|c| *c == ' ').map(|p| p + 1).filter(|&p| text[..p].iter().any(|c| *c != ' '));
    if let Some(p) = space.filter(|&p| 2 * p >= width) {
        return (p, p + 1);
    }
    let rank = |c: char| BREAK_AFTER.iter().position(|group| group.contains(&c));
    // Candidates: (rank, end of the line), the line ending just after the char.
    let breaks: Vec<(usize, usize)> =
        (space.unwrap_or(0)..width).filter_map(|p| rank(text[p]).map(|r| (r, p + 1))).collect();
    let best = |fits: &dyn Fn(usize) -> bool| {
        breaks.iter().filter(|(_, end)| fits(*end)).min_by_key(|(r, end)| (*r, std::cmp::Reverse(*end))).map(|b| b.1)
    };
    let word_end = |end: usize| end + text[end..].iter().take_while(|c| **c != ' ').count();
    let end = best(&|end| word_end(end) - end <= then)
        .or_else(|| best(&|end| 2 * end >= width))
        .or(space)
        .or_else(|| breaks.last().map(|b| b.1));
    match end {
        Some(p) if Some(p) == space => (p, p + 1),
        Some(p) => (p, p),
        None => (width, width),
    }
}

/// [`wrap`], keeping at most `max` lines; the last ends with `…` when some
/// text was left out.
fn clip(text: &str, width: usize, max: usize) -> Vec<String> {
    let mut lines = wrap(text, width);
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            let keep = last.chars().count().min(width.saturating_sub(1));
            *last = last.chars().take(keep).collect::<String>();
            last.push('…');
        }
    }
    lines
}

/// `text` wrapped to `width`, continuation lines indented by `indent`.
fn hanging(text: &str, width: usize, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let lines = wrap_words_hanging(paragraph, width, width.saturating_sub(indent));
        out.extend(lines.into_iter().enumerate().map(|(i, l)| if i == 0 { l } else { format!("{pad}{l}") }));
    }
    out
}

/// The widest line of a cell, in chars.
fn cell_width(cell: &str) -> usize {
    cell.split('\n').map(|l| l.chars().filter(|c| *c != '\r').count()).max().unwrap_or(0)
}

/// Where a word that is not a key, a hash or a time may break: after one of
/// these (a path's `/`, a list's `,`).
const WORD_BREAKS: [char; 3] = ['/', ',', ';'];

/// Whether `word` must never be split across lines: a node key or an
/// entity (`type:name@version`, `dataset:"s3://b/tx.parquet"`; not a URL's
/// `scheme://`), a hash (16 or more hex digits) or a time.
fn is_unbreakable(word: &str) -> bool {
    let key = word.split_once(':').is_some_and(|(t, rest)| {
        t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !rest.starts_with("//")
    });
    let hash = word.len() >= 16 && word.chars().all(|c| c.is_ascii_hexdigit());
    key || hash || Timestamp::parse_rfc3339(word).is_some()
}

/// The widest part of `word` that cannot be split: the whole word for a
/// key, a hash or a time, else its longest piece between [`WORD_BREAKS`].
fn unsplittable_width(word: &str) -> usize {
    if is_unbreakable(word) {
        return word.chars().count();
    }
    word.split_inclusive(WORD_BREAKS).map(|piece| piece.chars().count()).max().unwrap_or(0)
}

/// The widest unsplittable part of a cell ([`unsplittable_width`] of its words), in chars.
fn longest_word(cell: &str) -> usize {
    cell.split([' ', '\n', '\t']).map(|w| unsplittable_width(&w.replace('\r', ""))).max().unwrap_or(0)
}

/// Column widths that fit in [`table_width`]: each column starts at its
/// widest cell (or header); while too wide, the widest [`Fit::Clip`] column
/// gives one char, down to [`MIN_CLIP`]; then the widest content column,
/// down to its longest word (a key, a hash, a path), or a properties column
/// down to [`MIN_CONTENT`]. Short columns ([`Fit::Keep`]: numbers, times) and
/// words are never split, so a table whose keys do not fit side by side is
/// wider than the width rather than broken inside a key.
fn column_widths(section: &Section) -> Vec<usize> {
    let n = section.headers.len();
    let mut widths: Vec<usize> = section.headers.iter().map(|h| cell_width(h).max(1)).collect();
    let mut words: Vec<usize> = section.headers.iter().map(|h| longest_word(h)).collect();
    for row in &section.rows {
        for ((w, word), cell) in widths.iter_mut().zip(words.iter_mut()).zip(row) {
            *w = (*w).max(cell_width(cell));
            *word = (*word).max(longest_word(cell));
        }
    }
    let budget = table_width().saturating_sub(GAP * (n - 1));
    let fit = |i: usize| section.fits.get(i).copied().unwrap_or(Wrap);
    let floor = |i: usize, phase: usize| match (fit(i), phase) {
        (Clip, 0) => MIN_CLIP,
        (Clip, _) => MIN_CONTENT,
        (Wrap, 1) => words[i].max(1),
        _ => usize::MAX,
    };
    for phase in 0..2 {
        while widths.iter().sum::<usize>() > budget {
            let widest =
                (0..n).filter(|&i| widths[i] > floor(i, phase)).max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
            let Some(i) = widest else { break };
            widths[i] -= 1;
        }
    }
    widths
}

/// `text` broken into lines of at most `width` chars at spaces only; a word
/// longer than `width` stands whole on its own line. Line breaks in the text
/// are kept.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    wrap_words_hanging(text, width, width)
}

/// [`wrap_words`] with the first line of each paragraph `first` chars wide
/// and the others `then`. Spaces are kept except at a break.
fn wrap_words_hanging(text: &str, first: usize, then: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut rest: Vec<char> =
            paragraph.chars().filter(|c| *c != '\r').map(|c| if c == '\t' { ' ' } else { c }).collect();
        let mut width = first.max(1);
        while rest.len() > width {
            // The last space that fits and has text before it, else the
            // first space after the word that does not fit.
            let fits = rest[1..=width]
                .iter()
                .rposition(|c| *c == ' ')
                .map(|p| p + 1)
                .filter(|&p| rest[..p].iter().any(|c| *c != ' '));
            // A word too long for a line of its own breaks after its last
            // `/` or `,` that fits, unless it is a key, a hash or a time.
            let word_len = rest.iter().position(|c| *c == ' ').unwrap_or(rest.len());
            let word: String = rest[..word_len].iter().collect();
            let inside = (fits.is_none() && !is_unbreakable(&word))
                .then(|| rest[..width].iter().rposition(|c| WORD_BREAKS.contains(c)).map(|p| p + 1))
                .flatten();
            let Some(end) = fits.or(inside).or_else(|| rest[width..].iter().position(|c| *c == ' ').map(|p| p + width))
            else {
                break;
            };
            lines.push(rest[..end].iter().collect::<String>().trim_end().to_owned());
            let skip = end + rest[end..].iter().take_while(|c| **c == ' ').count();
            rest.drain(..skip);
            width = then.max(1);
        }
        lines.push(rest.iter().collect::<String>().trim_end().to_owned());
    }
    lines
}

fn render_table(section: &Section) -> String {
    let mut lines = Vec::new();
    if let Some(title) = &section.title {
        lines.extend(hanging(title, table_width(), HANGING_INDENT));
    }
    if !section.headers.is_empty() {
        let widths = column_widths(section);
        lines.extend(row_lines(section, &widths, &section.headers, false));
        lines.push(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join(&" ".repeat(GAP)));
        for row in &section.rows {
            lines.extend(row_lines(section, &widths, row, true));
        }
    }
    for f in &section.footer {
        lines.extend(hanging(&format!("({f})"), table_width(), HANGING_INDENT));
    }
    lines.join("\n")
}

/// One row of a table: each cell wrapped (or, with `clip_cells`, clipped as its
/// column says) within its column, the columns side by side, as many lines as
/// the tallest cell.
fn row_lines(section: &Section, widths: &[usize], cells: &[String], clip_cells: bool) -> Vec<String> {
    let wrapped: Vec<Vec<String>> = widths
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let cell = cells.get(i).map_or("", String::as_str);
            let fit = section.fits.get(i).copied().unwrap_or(Wrap);
            match fit {
                Clip if clip_cells => clip(cell, w, CLIP_LINES),
                Clip => wrap(cell, w),
                Wrap | Keep => wrap_words(cell, w),
            }
        })
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    (0..height)
        .map(|k| {
            let mut out = String::new();
            for (i, w) in widths.iter().enumerate() {
                let piece = wrapped[i].get(k).map_or("", String::as_str);
                out.push_str(piece);
                if i + 1 < widths.len() {
                    out.push_str(&" ".repeat(w.saturating_sub(piece.chars().count()) + GAP));
                }
            }
            out.trim_end().to_owned()
        })
        .collect()
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

    fn fits(out: &str) {
        let width = DEFAULT_TABLE_WIDTH;
        assert!(out.lines().all(|l| l.chars().count() <= width), "a line is wider than {width}:\n{out}");
    }

    #[test]
    fn wrapping_breaks_at_spaces_then_between_key_parts_and_loses_nothing() {
        assert_eq!(wrap("roll back the scoring api to fraud@2", 16), ["roll back the", "scoring api to", "fraud@2"]);
        assert_eq!(wrap("dataset:fraud_features", 20), ["dataset:", "fraud_features"]);
        assert_eq!(
            wrap("s3://acme-fraud/models/fraud/3/model.json", 21),
            ["s3://acme-fraud/", "models/fraud/3/", "model.json"]
        );
        assert_eq!(
            wrap("8b4d2e7f93a1c6054d8e2b7a9f1c3e5d7b0a2c44", 20),
            ["8b4d2e7f93a1c6054d8e", "2b7a9f1c3e5d7b0a2c44"]
        );
        assert_eq!(wrap("production: @2 -> @3\nreason: incident", 30), ["production: @2 -> @3", "reason: incident"]);
        assert_eq!(wrap("", 5), [""]);
        for width in 1..40 {
            let text = "ingest, clean:  and\tbuild features_for/dataset:transactions_clean@1 \"quoted\"";
            let lines = wrap(text, width);
            assert!(lines.iter().all(|l| l.chars().count() <= width), "{width}: {lines:?}");
            let squash = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(squash(&lines.concat()), squash(text), "{width}: {lines:?}");
        }
    }

    #[test]
    fn clipped_cells_end_with_an_ellipsis_after_their_last_line() {
        let lines = clip(&"x".repeat(200), 20, CLIP_LINES);
        assert_eq!(lines.len(), CLIP_LINES);
        assert_eq!(lines[CLIP_LINES - 1], format!("{}…", "x".repeat(19)));
        assert_eq!(clip("short", 20, CLIP_LINES), ["short"]);
    }

    #[test]
    fn tables_show_times_to_the_second_and_csv_in_full() {
        let t = Timestamp::parse_rfc3339("2026-11-30T03:30:52.784713Z").expect("a time");
        assert_eq!(time_cell(t, Target::Table), "2026-11-30T03:30:52Z");
        assert_eq!(time_cell(t, Target::Csv), "2026-11-30T03:30:52.784713Z");
        let before_1970 = Timestamp::parse_rfc3339("1969-12-31T23:59:59.5Z").expect("a time");
        assert_eq!(time_cell(before_1970, Target::Table), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn long_cells_wrap_within_their_column() {
        let mut s = Section::new(&[("depth", Keep), ("key", Wrap), ("note", Wrap), ("props", Clip)]);
        s.rows.push(vec![
            "1".into(),
            "dataset:transactions_clean@1".into(),
            "cleaned by the nightly job from the raw card transactions".into(),
            "x".repeat(500),
        ]);
        s.rows.push(vec!["2".into(), "model:m@1".into(), String::new(), String::new()]);
        let out = render_table(&s);
        fits(&out);
        assert!(out.lines().any(|l| l.contains("dataset:transactions_clean@1")), "the key is whole:\n{out}");
        assert!(out.lines().count() > 4, "the note wraps:\n{out}");
        assert!(out.contains('…'), "props are clipped:\n{out}");
        assert_eq!(out.lines().filter(|l| l.starts_with('2')).count(), 1, "{out}");
    }

    #[test]
    fn keys_and_hashes_are_never_split_even_when_the_table_cannot_fit() {
        let mut s = Section::new(&[("depth", Keep), ("key", Wrap), ("props", Clip)]);
        let key = format!("dataset:{}@1", "very_long_name_".repeat(6));
        let hash = "8b4d2e7f93a1c6054d8e2b7a9f1c3e5d7b0a2c448b4d2e7f93a1c6054d8e2b7a";
        s.rows.push(vec!["1".into(), key.clone(), "x".repeat(500)]);
        s.rows.push(vec!["2".into(), format!("{hash} model:m@1"), String::new()]);
        let out = render_table(&s);
        assert!(out.lines().any(|l| l.contains(&key)), "the key is whole, on one line:\n{out}");
        assert!(out.lines().any(|l| l.contains(hash)), "the hash is whole, on one line:\n{out}");
        assert!(out.contains('…'), "props are clipped:\n{out}");
    }

    #[test]
    fn many_columns_wrap_their_words_but_never_split_one() {
        let names: Vec<String> = (0..8).map(|i| format!("column_{i}")).collect();
        let mut s = Section { headers: names.clone(), fits: vec![Wrap; 8], ..Section::default() };
        s.rows.push(names.iter().map(|n| format!("{n} value")).collect());
        let out = render_table(&s);
        fits(&out);
        for name in &names {
            assert!(out.contains(name.as_str()), "{name} is whole:\n{out}");
        }
    }
}
