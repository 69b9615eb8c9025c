//! The abstract syntax tree of the LineageDB query language.
//!
//! These types describe what a statement says, not what it means: names are
//! kept as written, timestamps in `AS OF` are kept as strings, and optional
//! clauses that have a default (the `LINK` label, the `LINEAGE` direction, the
//! `REPORT` format) stay `None` when they were not written, so the executor
//! owns every default. Every statement and every node reference carries a
//! [`Span`] into the source text; spans never take part in equality, so a tree
//! parsed from canonical text compares equal to the tree that printed it.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A byte range `start..end` in the source text a statement was parsed from.
///
/// All spans compare equal to each other (and hash alike), so that two trees
/// that differ only in where they came from are equal: `parse(print(ast)) ==
/// ast`. Compare `start` and `end` directly when positions matter.
#[derive(Clone, Copy, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span covering `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The text this span covers in `src`, or `""` when it does not fit `src`.
    pub fn slice<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.start..self.end).unwrap_or("")
    }

    /// The 1-based line and column (counted in chars) of `start` in `src`.
    pub fn line_column(&self, src: &str) -> (usize, usize) {
        line_column(src, self.start)
    }
}

/// The 1-based line and column (in chars) of byte `offset` in `src`.
///
/// Offsets past the end or inside a multi-byte char are clamped down to the
/// nearest char boundary.
pub(crate) fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

impl PartialEq for Span {
    fn eq(&self, _other: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl Hash for Span {
    fn hash<H: Hasher>(&self, _state: &mut H) {}
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Which version of an entity a reference means: the part after `@`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VersionSelector {
    /// `@3`: a version number.
    Number(u64),
    /// `@latest` (any case): the newest version.
    Latest,
    /// `@production`: an alias (an identifier other than `latest`).
    Alias(String),
    /// `@"8361542"`: an external version label (a quoted string).
    Label(String),
}

/// A reference to a node: `type:name[@version]`, e.g. `model:fraud@3`.
///
/// Without a version the reference is an entity (`HISTORY OF`, `CREATE`); the
/// executor decides what a missing version means elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The node type, as written (`model`, `dataset`).
    pub node_type: String,
    /// The name, unquoted and unescaped.
    pub name: String,
    /// The `@` part, if any.
    pub version: Option<VersionSelector>,
    /// Where the whole reference is in the source.
    pub span: Span,
}

/// A point in the commit history: the `at` of `AS OF`, `SINCE`, `UNTIL`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum At {
    /// An integer: a snapshot id.
    Snapshot(u64),
    /// A string: an RFC 3339 timestamp, kept as written for the executor.
    Time(String),
}

/// A node field: a built-in column or a property path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `type`
    Type,
    /// `name`
    Name,
    /// `version`
    Version,
    /// `key`: the canonical `type:name@version`.
    Key,
    /// `depth`: the distance from the start node of a walk.
    Depth,
    /// `created_at`
    CreatedAt,
    /// `created_by`
    CreatedBy,
    /// `alias`
    Alias,
    /// `a.b.c`: a property path, at least one segment. A single segment is
    /// never a built-in name (those parse as the built-in variants).
    Property(Vec<String>),
}

impl Field {
    /// The built-in fields with their spelling; matched case-insensitively.
    pub const BUILTINS: [(&'static str, Field); 8] = [
        ("type", Field::Type),
        ("name", Field::Name),
        ("version", Field::Version),
        ("key", Field::Key),
        ("depth", Field::Depth),
        ("created_at", Field::CreatedAt),
        ("created_by", Field::CreatedBy),
        ("alias", Field::Alias),
    ];
}

/// A literal value: in comparisons, `IN` lists and `SET` maps.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A number with a `.` or an exponent. Never NaN or infinite.
    Float(f64),
    /// A quoted string or a bare word.
    String(String),
    /// `t'2026-11-30T12:00:00Z'`: microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// `[v, ...]` (only inside maps and lists).
    List(Vec<Value>),
    /// `{k: v, ...}` (only inside maps and lists).
    Map(Map),
}

/// A `{ key: value, ... }` map; keys are unique and kept in written order.
pub type Map = Vec<(String, Value)>;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A `WHERE` condition.
///
/// `And` and `Or` hold two or more operands, flattened: `a OR b OR c` is one
/// `Or` of three. A nested `Or` inside `Or` means the source had parentheses.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `a OR b OR ...`
    Or(Vec<Expr>),
    /// `a AND b AND ...`
    And(Vec<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `field op value`
    Compare {
        /// The left-hand side.
        field: Field,
        /// The operator.
        op: CompareOp,
        /// The right-hand side.
        value: Value,
    },
    /// `field IN (v, ...)`, at least one value.
    In {
        /// The field tested.
        field: Field,
        /// The candidates.
        values: Vec<Value>,
    },
    /// `field EXISTS`
    Exists {
        /// The field tested.
        field: Field,
    },
    /// `field ~ "glob"` with `*` and `?` wildcards.
    Glob {
        /// The field tested.
        field: Field,
        /// The pattern, unescaped.
        pattern: String,
    },
}

/// Sort direction of `ORDER BY`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// `ASC` (the default; not printed).
    #[default]
    Asc,
    /// `DESC`
    Desc,
}

/// `ORDER BY field [ASC|DESC]`
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderBy {
    /// The sort key.
    pub field: Field,
    /// The direction.
    pub order: SortOrder,
}

/// Which way `ANCESTORS` / `DESCENDANTS` walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalkDirection {
    /// `ANCESTORS`: edges backwards, towards sources.
    Ancestors,
    /// `DESCENDANTS`: edges forwards, impact analysis.
    Descendants,
}

/// `ANCESTORS OF ref ...` / `DESCENDANTS OF ref ...`
#[derive(Clone, Debug, PartialEq)]
pub struct Walk {
    /// Upstream or downstream.
    pub direction: WalkDirection,
    /// The start node (not part of the result).
    pub start: NodeRef,
    /// `DEPTH n`: the walk stops after n edges.
    pub depth: Option<u64>,
    /// `VIA label, ...`: only these edge labels; empty means every label.
    pub via: Vec<String>,
    /// `WHERE expr`: filters the returned nodes.
    pub filter: Option<Expr>,
    /// `AS OF at`
    pub as_of: Option<At>,
    /// `RETURN fields`; empty means the default columns.
    pub columns: Vec<Field>,
    /// `ORDER BY`
    pub order_by: Option<OrderBy>,
    /// `LIMIT n`
    pub limit: Option<u64>,
}

/// The direction of `LINEAGE OF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineageDirection {
    /// `UPSTREAM`
    Upstream,
    /// `DOWNSTREAM`
    Downstream,
    /// `BOTH`
    Both,
}

/// `LINEAGE OF ref [UPSTREAM|DOWNSTREAM|BOTH] [DEPTH n] [WHERE expr] [AS OF at]`
#[derive(Clone, Debug, PartialEq)]
pub struct Lineage {
    /// The centre of the subgraph.
    pub start: NodeRef,
    /// `None` when not written; the executor picks the default.
    pub direction: Option<LineageDirection>,
    /// `DEPTH n`
    pub depth: Option<u64>,
    /// `WHERE expr`
    pub filter: Option<Expr>,
    /// `AS OF at`
    pub as_of: Option<At>,
}

/// `FIND type|* [WHERE expr] [AS OF at] [RETURN fields] [ORDER BY ...] [LIMIT n]`
#[derive(Clone, Debug, PartialEq)]
pub struct Find {
    /// The node type, or `None` for `*`.
    pub node_type: Option<String>,
    /// `WHERE expr`
    pub filter: Option<Expr>,
    /// `AS OF at`
    pub as_of: Option<At>,
    /// `RETURN fields`; empty means the default columns.
    pub columns: Vec<Field>,
    /// `ORDER BY`
    pub order_by: Option<OrderBy>,
    /// `LIMIT n`
    pub limit: Option<u64>,
}

/// The output format of `REPORT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportFormat {
    /// `json`
    Json,
    /// `markdown`
    Markdown,
    /// `dot` (Graphviz)
    Dot,
    /// `html`
    Html,
}

/// `AUDIT [OF ref] [SINCE at] [UNTIL at] [LIMIT n]`
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    /// `OF ref`: only entries touching this node.
    pub target: Option<NodeRef>,
    /// `SINCE at`
    pub since: Option<At>,
    /// `UNTIL at`
    pub until: Option<At>,
    /// `LIMIT n`
    pub limit: Option<u64>,
}

/// `LINK from -> to [AS label] [SET map]` / `UNLINK from -> to [AS label]`
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The upstream end.
    pub from: NodeRef,
    /// The downstream end.
    pub to: NodeRef,
    /// `AS label`; `None` when not written (the executor's default label).
    pub label: Option<String>,
    /// `SET map` (always empty for `UNLINK`).
    pub properties: Map,
}

/// One statement of the query language.
///
/// Read statements come first, then writes, then transaction control. Use
/// [`Statement::span`] for the statement's position in the source.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `ANCESTORS OF ...` / `DESCENDANTS OF ...`
    Walk(Walk, Span),
    /// `LINEAGE OF ...`
    Lineage(Lineage, Span),
    /// `PATH FROM ref TO ref [AS OF at]`
    Path {
        /// The start.
        from: NodeRef,
        /// The goal.
        to: NodeRef,
        /// `AS OF at`
        as_of: Option<At>,
        /// The statement's source span.
        span: Span,
    },
    /// `FIND ...`
    Find(Find, Span),
    /// `SHOW ref [AS OF at]`
    Show {
        /// The node shown.
        target: NodeRef,
        /// `AS OF at`
        as_of: Option<At>,
        /// The statement's source span.
        span: Span,
    },
    /// `HISTORY OF entity`
    History {
        /// The entity; its `version` is always `None`.
        entity: NodeRef,
        /// The statement's source span.
        span: Span,
    },
    /// `DIFF ref ref`
    Diff {
        /// The older side.
        left: NodeRef,
        /// The newer side.
        right: NodeRef,
        /// The statement's source span.
        span: Span,
    },
    /// `REPORT ref [AS OF at] [FORMAT json|markdown|dot|html]`
    Report {
        /// The node reported on.
        target: NodeRef,
        /// `AS OF at`
        as_of: Option<At>,
        /// `None` when not written.
        format: Option<ReportFormat>,
        /// The statement's source span.
        span: Span,
    },
    /// `SNAPSHOTS [LIMIT n]`
    Snapshots {
        /// `LIMIT n`
        limit: Option<u64>,
        /// The statement's source span.
        span: Span,
    },
    /// `AUDIT ...`
    Audit(Audit, Span),
    /// `VERIFY`
    Verify {
        /// The statement's source span.
        span: Span,
    },
    /// `EXPLAIN statement`
    Explain {
        /// The statement explained (not run).
        statement: Box<Statement>,
        /// The statement's source span.
        span: Span,
    },
    /// `CREATE entity|ref [SET map]`
    Create {
        /// The entity, or a ref with the explicit next version.
        target: NodeRef,
        /// `SET map`; empty when not written.
        properties: Map,
        /// The statement's source span.
        span: Span,
    },
    /// `LINK ref -> ref [AS label] [SET map]`
    Link(Link, Span),
    /// `UNLINK ref -> ref [AS label]`
    Unlink(Link, Span),
    /// `SET ref map`
    Set {
        /// The node annotated.
        target: NodeRef,
        /// The properties to change.
        properties: Map,
        /// The statement's source span.
        span: Span,
    },
    /// `[DETACH] DELETE ref`
    Delete {
        /// The node tombstoned.
        target: NodeRef,
        /// `DETACH`: tombstone its live edges too.
        detach: bool,
        /// The statement's source span.
        span: Span,
    },
    /// `PROMOTE ref TO alias [REASON string]`
    Promote {
        /// The version the alias moves to.
        target: NodeRef,
        /// The alias moved.
        alias: String,
        /// `REASON string`
        reason: Option<String>,
        /// The statement's source span.
        span: Span,
    },
    /// `BEGIN [AUTHOR string] [MESSAGE string]`
    Begin {
        /// `AUTHOR string`
        author: Option<String>,
        /// `MESSAGE string`
        message: Option<String>,
        /// The statement's source span.
        span: Span,
    },
    /// `COMMIT`
    Commit {
        /// The statement's source span.
        span: Span,
    },
    /// `ROLLBACK`
    Rollback {
        /// The statement's source span.
        span: Span,
    },
}

impl Statement {
    /// Where the statement is in the source (without the trailing `;`).
    pub fn span(&self) -> Span {
        match self {
            Statement::Walk(_, span)
            | Statement::Lineage(_, span)
            | Statement::Find(_, span)
            | Statement::Audit(_, span)
            | Statement::Link(_, span)
            | Statement::Unlink(_, span)
            | Statement::Path { span, .. }
            | Statement::Show { span, .. }
            | Statement::History { span, .. }
            | Statement::Diff { span, .. }
            | Statement::Report { span, .. }
            | Statement::Snapshots { span, .. }
            | Statement::Verify { span }
            | Statement::Explain { span, .. }
            | Statement::Create { span, .. }
            | Statement::Set { span, .. }
            | Statement::Delete { span, .. }
            | Statement::Promote { span, .. }
            | Statement::Begin { span, .. }
            | Statement::Commit { span }
            | Statement::Rollback { span } => *span,
        }
    }

    /// True for statements that only read: neither writes nor transaction
    /// control (`EXPLAIN` of a write only reads).
    pub fn only_reads(&self) -> bool {
        !self.is_write()
            && !matches!(self, Statement::Begin { .. } | Statement::Commit { .. } | Statement::Rollback { .. })
    }

    /// True for statements that change the graph (not `BEGIN`/`COMMIT`/`ROLLBACK`).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Statement::Create { .. }
                | Statement::Link(..)
                | Statement::Unlink(..)
                | Statement::Set { .. }
                | Statement::Delete { .. }
                | Statement::Promote { .. }
        )
    }
}
