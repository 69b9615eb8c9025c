//! Bulk import of JSON Lines lineage records (`lineagedb import --format
//! jsonl`): one transaction and one snapshot per import, idempotent
//! re-import, `FILE:LINE: reason` errors.
//!
//! Each line is one object:
//! `{"node": {"type", "name", "version"?, "label"?, "props"?}}`,
//! `{"edge": {"from", "to", "label"?, "props"?}}` or
//! `{"alias": {"ref", "alias", "reason"?}}`. Edges may reference nodes
//! created earlier in the import or already in the database.

use std::borrow::Cow;
use std::io::BufRead;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::key::{KeyRef, NodeRef, VersionSel};
use crate::storage::codec::SnapshotId;
use crate::value::{Props, props_from_json};
use crate::write::{Created, NewNode, WriteTx, same_content};

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Commit the valid lines and report the rejected ones instead of failing.
    pub skip_invalid: bool,
    /// Recorded as `asserted_by` on every node and edge, with the author.
    pub importer: String,
    /// Commit author.
    pub author: Option<String>,
    /// Commit message.
    pub message: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { skip_invalid: false, importer: "lineagedb import".into(), author: None, message: None }
    }
}

/// A line that was not imported.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The file it came from.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The line as read.
    pub text: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A failed import: nothing was committed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct ImportError {
    /// The file.
    pub file: String,
    /// 1-based line number (0 when the failure is not tied to a line).
    pub line: u64,
    /// What went wrong.
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportReport {
    /// The snapshot committed, or `None` when nothing changed.
    pub snapshot: Option<SnapshotId>,
    /// Lines read (blank lines excluded).
    pub records: u64,
    /// New node versions.
    pub nodes_created: u64,
    /// Nodes already present with identical content.
    pub nodes_unchanged: u64,
    /// New edges.
    pub edges_created: u64,
    /// Edges already present.
    pub edges_unchanged: u64,
    /// Alias moves.
    pub aliases_moved: u64,
    /// Aliases already in place.
    pub aliases_unchanged: u64,
    /// Lines skipped with `skip_invalid`.
    pub rejected: Vec<Rejected>,
}

/// An import in progress: one write transaction fed from one or more files.
pub struct Importer {
    tx: WriteTx,
    options: ImportOptions,
    report: ImportReport,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer").field("report", &self.report).finish()
    }
}

impl Importer {
    /// Starts the import's transaction.
    pub fn new(db: &Database, options: ImportOptions) -> Result<Importer> {
        let mut tx = db.begin_write()?;
        if let Some(a) = &options.author {
            tx.author(a.clone());
        }
        tx.message(options.message.clone().unwrap_or_else(|| "import".to_owned()));
        tx.keep_going_on_error(options.skip_invalid);
        tx.batch_audit("import", serde_json::json!({}))?;
        let asserted_by = format!("{} ({})", options.importer, tx.author_name());
        // Nodes and edges get the assertion once, on the snapshot (see `WriteTx::assert_created`).
        tx.assert_created(asserted_by);
        Ok(Importer { tx, options, report: ImportReport::default() })
    }

    /// Reads every line of `reader`. `progress(bytes)` is called as lines are
    /// consumed. Fails at the first bad line unless `skip_invalid`.
    pub fn read(
        &mut self,
        file: &str,
        reader: impl BufRead,
        progress: &mut dyn FnMut(u64),
    ) -> std::result::Result<(), ImportError> {
        for_each_line(file, reader, progress, |line_no, text| {
            self.report.records += 1;
            if let Err(reason) = self.apply(text.trim()) {
                if self.options.skip_invalid && !reason.fatal {
                    self.report.rejected.push(Rejected {
                        file: file.into(),
                        line: line_no,
                        text: text.to_owned(),
                        reason: reason.message,
                    });
                    return Ok(());
                }
                return Err(ImportError { file: file.into(), line: line_no, reason: reason.message });
            }
            Ok(())
        })
    }

    /// Commits the import as one snapshot and appends an `import` audit entry.
    pub fn commit(mut self) -> std::result::Result<ImportReport, ImportError> {
        let fail = |e: Error| ImportError { file: String::new(), line: 0, reason: e.to_string() };
        if self.tx.changes() > 0 {
            let detail = serde_json::json!({
                "records": self.report.records,
                "nodes_created": self.report.nodes_created,
                "edges_created": self.report.edges_created,
                "aliases_moved": self.report.aliases_moved,
                "rejected": self.report.rejected.len(),
            });
            self.tx.set_batch_detail(detail);
            self.report.snapshot = Some(self.tx.commit().map_err(fail)?);
        } else {
            self.tx.rollback().map_err(fail)?;
        }
        Ok(self.report)
    }

    fn apply(&mut self, text: &str) -> std::result::Result<(), LineError> {
        let record: Record = serde_json::from_str(text).map_err(|e| LineError::bad(describe_json_error(&e)))?;
        match record {
            Record::Node(node) => self.node(node),
            Record::Edge(edge) => self.edge(edge),
            Record::Alias(alias) => self.alias(alias),
        }
    }

    fn node(&mut self, node: NodeLine) -> std::result::Result<(), LineError> {
        let props = props_of(node.props)?;
        if node.version == Some(0) {
            return Err(LineError::bad("\"version\" must be a positive integer".into()));
        }
        if node.version.is_none() {
            // Without a version, identical content to the latest version is the same node.
            let latest = NodeRef::new(&node.r#type, &node.name, VersionSel::Latest).map_err(LineError::from_engine)?;
            if let Some((_, l, p)) = self.tx.lookup(&latest).map_err(LineError::from_engine)? {
                if l == node.label && same_content(&p, &props) {
                    self.report.nodes_unchanged += 1;
                    return Ok(());
                }
            }
        }
        let new = NewNode { type_name: node.r#type, name: node.name, version: node.version, label: node.label, props };
        match self.tx.create(new).map_err(LineError::from_engine)? {
            Created::New(_) => self.report.nodes_created += 1,
            Created::Existing(_) => self.report.nodes_unchanged += 1,
        }
        Ok(())
    }

    fn edge(&mut self, edge: EdgeLine<'_>) -> std::result::Result<(), LineError> {
        let label = edge.label.as_deref().unwrap_or("flows_to");
        let props = props_of(edge.props)?;
        // Exact keys with bare names (nearly every line of a bulk file) are
        // resolved without building owned references.
        let added = match (KeyRef::parse_bare(&edge.from), KeyRef::parse_bare(&edge.to)) {
            (Some(from), Some(to)) => self.tx.link_keys_idempotent(from, to, label, props),
            _ => {
                let from = edge.from.parse::<NodeRef>().map_err(LineError::from_engine)?;
                let to = edge.to.parse::<NodeRef>().map_err(LineError::from_engine)?;
                self.tx.link_idempotent(&from, &to, label, props)
            }
        };
        if added.map_err(LineError::from_engine)? {
            self.report.edges_created += 1;
        } else {
            self.report.edges_unchanged += 1;
        }
        Ok(())
    }

    fn alias(&mut self, alias: AliasLine) -> std::result::Result<(), LineError> {
        let target = alias.r#ref.parse::<NodeRef>().map_err(LineError::from_engine)?;
        let key = self.tx.resolve(&target).map_err(LineError::from_engine)?;
        let current = NodeRef::new(&key.type_name, &key.name, VersionSel::Alias(alias.alias.clone()))
            .map_err(LineError::from_engine)?;
        if self.tx.lookup(&current).map_err(LineError::from_engine)?.is_some_and(|(k, _, _)| k == key) {
            self.report.aliases_unchanged += 1;
            return Ok(());
        }
        self.tx.promote(&key.to_ref(), &alias.alias, alias.reason.as_deref()).map_err(LineError::from_engine)?;
        self.report.aliases_moved += 1;
        Ok(())
    }
}

/// One line of the import format.
#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum Record<'a> {
    Node(NodeLine),
    #[serde(borrow)]
    Edge(EdgeLine<'a>),
    Alias(AliasLine),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeLine {
    r#type: String,
    name: String,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    props: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeLine<'a> {
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(default, borrow)]
    label: Option<Cow<'a, str>>,
    #[serde(default)]
    props: Option<serde_json::Value>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AliasLine {
    r#ref: String,
    alias: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A JSON error in words, without serde's "line 1 column N" (the caller gives
/// the file and line; the column is kept).
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let message = message
        .replace("unknown variant", "unknown record kind")
        .replace("`node`, `edge`, `alias`", "node, edge or alias");
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("invalid JSON at column {}: {message}", e.column())
        }
        _ => message,
    }
}

fn props_of(value: Option<serde_json::Value>) -> std::result::Result<Props, LineError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Props::new()),
        Some(v) => props_from_json(&v).ok_or_else(|| LineError::bad("\"props\" must be an object".into())),
    }
}

/// Calls `each(line number, text)` for every non-blank line of `reader`
/// (without its line ending), reporting consumed bytes to `progress`; stops
/// at the first error. One buffer serves every line.
pub(crate) fn for_each_line(
    file: &str,
    mut reader: impl BufRead,
    progress: &mut dyn FnMut(u64),
    mut each: impl FnMut(u64, &str) -> std::result::Result<(), ImportError>,
) -> std::result::Result<(), ImportError> {
    let mut line = String::new();
    let mut line_no = 0;
    loop {
        line_no += 1;
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| ImportError {
            file: file.into(),
            line: line_no,
            reason: e.to_string(),
        })?;
        if read == 0 {
            return Ok(());
        }
        progress(read as u64);
        let text = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
        if !text.trim().is_empty() {
            each(line_no, text)?;
        }
    }
}

/// Why one line failed; `fatal` errors (storage) end the import even with `skip_invalid`.
struct LineError {
    message: String,
    fatal: bool,
}

impl LineError {
    fn bad(message: String) -> LineError {
        LineError { message, fatal: false }
    }

    fn from_engine(e: impl Into<Error>) -> LineError {
        let e = e.into();
        let fatal = matches!(e, Error::Storage(_) | Error::Corrupt { .. } | Error::Io { .. } | Error::Aborted { .. });
        LineError { message: e.to_string(), fatal }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    const GOOD: &str = r#"{"node": {"type": "dataset", "name": "tx", "version": 1, "props": {"rows": 10}}}
{"node": {"type": "run", "name": "train_1", "props": {"lr": 0.1}}}

{"edge": {"from": "dataset:tx@1", "to": "run:train_1@1", "label": "input"}}
{"node": {"type": "model", "name": "fraud"}}
{"edge": {"from": "run:train_1@1", "to": "model:fraud@1", "label": "output"}}
{"alias": {"ref": "model:fraud@1", "alias": "production", "reason": "first"}}
"#;

    fn import(db: &Database, text: &str, skip: bool) -> std::result::Result<ImportReport, ImportError> {
        let mut importer = Importer::new(db, ImportOptions { skip_invalid: skip, ..ImportOptions::default() })
            .map_err(|e| ImportError { file: "x".into(), line: 0, reason: e.to_string() })?;
        importer.read("lineage.jsonl", text.as_bytes(), &mut |_| {})?;
        importer.commit()
    }

    #[test]
    fn an_import_is_one_snapshot_and_re_importing_changes_nothing() {
        let db = Database::in_memory().expect("db");
        let report = import(&db, GOOD, false).expect("imports");
        assert_eq!(report.snapshot, Some(1));
        assert_eq!((report.records, report.nodes_created, report.edges_created, report.aliases_moved), (6, 3, 2, 1));
        let again = import(&db, GOOD, false).expect("re-imports");
        assert_eq!(again.snapshot, None);
        assert_eq!((again.nodes_unchanged, again.edges_unchanged, again.aliases_unchanged), (3, 2, 1));
        let read = db.begin_read().expect("read");
        assert_eq!(read.latest_snapshot(), 1);
        let up = read
            .ancestors(&"model:fraud@production".parse().expect("ref"))
            .only_type("dataset")
            .collect()
            .expect("walk");
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].node.key.to_string(), "dataset:tx@1");
        assert!(
            matches!(up[0].node.props.get("asserted_by"), Some(Value::String(s)) if s.starts_with("lineagedb import"))
        );
    }

    #[test]
    fn a_bad_line_names_its_position_and_commits_nothing() {
        let db = Database::in_memory().expect("db");
        let bad = GOOD.replace(r#""to": "model:fraud@1""#, r#""to": "model:fraud@7""#);
        let err = import(&db, &bad, false).expect_err("must fail");
        assert_eq!((err.file.as_str(), err.line), ("lineage.jsonl", 6));
        assert!(err.to_string().starts_with("lineage.jsonl:6: no node model:fraud@7"), "{err}");
        assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);
        let err = import(&db, "{\"node\": {\"type\": \"dataset\"}}\n", false).expect_err("must fail");
        assert_eq!(err.to_string(), "lineage.jsonl:1: missing field `name`");
        let err = import(&db, "not json\n", false).expect_err("must fail");
        assert!(err.to_string().starts_with("lineage.jsonl:1: invalid JSON"), "{err}");
    }

    /// Positions, escaped strings (serde hands those back owned, not
    /// borrowed) and CRLF endings, over more lines than one read buffer.
    #[test]
    fn long_files_keep_line_positions_escapes_and_crlf_endings() {
        const LINES: usize = 4096;
        let mut text = String::new();
        for i in 0..LINES + 10 {
            text.push_str(&format!("{{\"node\": {{\"type\": \"dataset\", \"name\": \"d{i}\", \"version\": 1}}}}\r\n"));
        }
        // JSON escapes make serde hand back owned strings instead of borrowed ones.
        text.push_str("{\"edge\": {\"from\": \"dataset:\\u0064\\u0030@1\", \"to\": \"dataset:d4100@1\", \"label\": \"in\\u0070ut\"}}\n");
        text.push_str("{\"edge\": {\"from\": \"dataset:d1@1\", \"to\": \"dataset:d4101@1\"}}\n");
        let db = Database::in_memory().expect("db");
        let bad = format!("{text}{{\"edge\": {{\"from\": \"dataset:d1@1\", \"to\": \"dataset:nope@1\"}}}}\n");
        let err = import(&db, &bad, false).expect_err("must fail");
        assert_eq!(err.line, LINES as u64 + 13, "{err}");
        assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);

        let report = import(&db, &text, false).expect("import");
        assert_eq!((report.nodes_created, report.edges_created), (LINES as u64 + 10, 2));
        let read = db.begin_read().expect("read");
        let detail = read.node_detail(&"dataset:d4100@1".parse().expect("ref")).expect("node");
        assert_eq!(detail.incoming[0].from.to_string(), "dataset:d0@1");
        assert_eq!(detail.incoming[0].label, "input");
        let skipped = import(&db, &format!("not json\r\n{text}"), true).expect("import");
        assert_eq!((skipped.rejected.len(), skipped.rejected[0].line), (1, 1));
        assert_eq!(skipped.rejected[0].text, "not json");
    }

    #[test]
    fn skip_invalid_commits_the_valid_lines_and_reports_the_rest() {
        let db = Database::in_memory().expect("db");
        let bad = GOOD.replace(r#""to": "model:fraud@1""#, r#""to": "model:fraud@7""#);
        let report = import(&db, &bad, true).expect("imports");
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].line, 6);
        assert_eq!(report.edges_created, 1);
        assert!(report.snapshot.is_some());
    }

    #[test]
    fn verify_detects_imported_content_edited_behind_the_engine() {
        let dir = std::env::temp_dir().join(format!("lineagedb-import-tamper-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("db.redb");
        let _ = std::fs::remove_file(&path);
        let db = Database::create(&path).expect("db");
        import(&db, GOOD, false).expect("imports");
        let id = db.begin_read().expect("read").node(&"dataset:tx@1".parse().expect("ref")).expect("node").id;
        drop(db);
        crate::tamper_node(&path, id, |props| {
            props.insert("rows".into(), Value::Int(11));
        })
        .expect("tamper");
        let db = Database::open(&path).expect("reopen");
        let report = db.begin_read().expect("read").verify().expect("verify");
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("differ from what audit entry"), "{:?}", report.problems);
        drop(db);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cycle_in_the_import_is_refused() {
        let db = Database::in_memory().expect("db");
        let text = format!("{GOOD}{{\"edge\": {{\"from\": \"model:fraud@1\", \"to\": \"dataset:tx@1\"}}}}\n");
        let err = import(&db, &text, false).expect_err("cycle");
        assert_eq!(err.line, 8);
        assert!(err.reason.contains("would close a cycle"), "{err}");
        assert_eq!(db.begin_read().expect("read").latest_snapshot(), 0);
    }
}
