//! The canonical printer: `Display` for statements and their parts.
//!
//! Canonical text uses uppercase keywords, clauses in the documented order,
//! names quoted only when they must be, strings double-quoted with escapes,
//! floats that always carry a `.` or an exponent, and the fewest parentheses
//! that keep the expression tree intact. Printing then parsing gives back an
//! equal tree; the tests and the fuzz target check exactly that.

use std::fmt::{self, Display, Formatter, Write as _};

use lineagedb_engine::write_quoted;

use super::ast::{
    At, CompareOp, Expr, Field, LineageDirection, Link, Map, NodeRef, OrderBy, ReportFormat, SortOrder, Statement,
    Value, VersionSelector, Walk, WalkDirection,
};
use super::lexer::{is_ident_char, is_ident_start};
use super::parser::bare_name_len;

/// True when `s` is an identifier `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_ident(s: &str) -> bool {
    s.starts_with(is_ident_start) && s.chars().all(is_ident_char)
}

/// Writes a reference name: bare when it reads back as the same bare name,
/// quoted otherwise.
pub(crate) fn write_name(f: &mut impl fmt::Write, name: &str) -> fmt::Result {
    if !name.is_empty() && bare_name_len(name) == name.len() { f.write_str(name) } else { write_quoted(f, name) }
}

/// Writes an identifier-or-string (labels, map keys): bare when it is an
/// identifier.
fn write_word(f: &mut impl fmt::Write, word: &str) -> fmt::Result {
    if is_ident(word) { f.write_str(word) } else { write_quoted(f, word) }
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for VersionSelector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            VersionSelector::Number(n) => write!(f, "{n}"),
            VersionSelector::Latest => f.write_str("latest"),
            VersionSelector::Alias(alias) => f.write_str(alias),
            VersionSelector::Label(label) => write_quoted(f, label),
        }
    }
}

impl Display for NodeRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.node_type)?;
        write_name(f, &self.name)?;
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        Ok(())
    }
}

impl Display for At {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            At::Snapshot(id) => write!(f, "{id}"),
            At::Time(time) => write_quoted(f, time),
        }
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = match self {
            Field::Type => "type",
            Field::Name => "name",
            Field::Version => "version",
            Field::Key => "key",
            Field::Depth => "depth",
            Field::CreatedAt => "created_at",
            Field::CreatedBy => "created_by",
            Field::Alias => "alias",
            Field::Property(path) => return f.write_str(&path.join(".")),
        };
        f.write_str(name)
    }
}

/// Writes `{key: value, ...}`.
fn write_map(f: &mut Formatter<'_>, map: &Map) -> fmt::Result {
    f.write_char('{')?;
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_word(f, key)?;
        write!(f, ": {value}")?;
    }
    f.write_char('}')
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            // `{:?}` is the shortest text that reads back as the same f64 and
            // always has a `.` or an exponent (`1.0`, `1e-7`).
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write_quoted(f, s),
            Value::Timestamp(micros) => match chrono::DateTime::<chrono::Utc>::from_timestamp_micros(*micros) {
                Some(time) => {
                    let text = time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                    write!(f, "t'{text}'")
                }
                None => write!(f, "t'out of range: {micros}'"),
            },
            Value::List(items) => {
                f.write_char('[')?;
                write_list(f, items)?;
                f.write_char(']')
            }
            Value::Map(map) => write_map(f, map),
        }
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        })
    }
}

/// Binding strength: a child binding looser than its parent needs parens.
fn precedence(expr: &Expr) -> u8 {
    match expr {
        Expr::Or(_) => 1,
        Expr::And(_) => 2,
        Expr::Not(_) => 3,
        _ => 4,
    }
}

/// Writes `expr`, parenthesized when it binds no tighter than `parent`:
/// under `OR` only a nested `OR` (which can only come from parentheses), under
/// `AND` an `AND` or `OR`, under `NOT` the same as under `AND`.
fn write_operand(f: &mut Formatter<'_>, expr: &Expr, parent: u8) -> fmt::Result {
    if precedence(expr) <= parent { write!(f, "({expr})") } else { write!(f, "{expr}") }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(operands) | Expr::And(operands) => {
                let (separator, level) = match self {
                    Expr::Or(_) => (" OR ", 1),
                    _ => (" AND ", 2),
                };
                for (i, operand) in operands.iter().enumerate() {
                    if i > 0 {
                        f.write_str(separator)?;
                    }
                    write_operand(f, operand, level)?;
                }
                Ok(())
            }
            Expr::Not(operand) => {
                f.write_str("NOT ")?;
                // `NOT NOT x` needs no parens; `NOT (a AND b)` does.
                write_operand(f, operand, 2)
            }
            Expr::Compare { field, op, value } => write!(f, "{field} {op} {value}"),
            Expr::In { field, values } => {
                write!(f, "{field} IN (")?;
                write_list(f, values)?;
                f.write_char(')')
            }
            Expr::Exists { field } => write!(f, "{field} EXISTS"),
            Expr::Glob { field, pattern } => {
                write!(f, "{field} ~ ")?;
                write_quoted(f, pattern)
            }
        }
    }
}

impl Display for OrderBy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "ORDER BY {}", self.field)?;
        if self.order == SortOrder::Desc {
            f.write_str(" DESC")?;
        }
        Ok(())
    }
}

impl Display for ReportFormat {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportFormat::Json => "json",
            ReportFormat::Markdown => "markdown",
            ReportFormat::Dot => "dot",
            ReportFormat::Html => "html",
        })
    }
}

impl Display for LineageDirection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineageDirection::Upstream => "UPSTREAM",
            LineageDirection::Downstream => "DOWNSTREAM",
            LineageDirection::Both => "BOTH",
        })
    }
}

/// The clauses shared by walks and `FIND`, from `WHERE` on.
#[derive(Debug)]
struct ResultClauses<'a> {
    filter: &'a Option<Expr>,
    as_of: &'a Option<At>,
    columns: &'a [Field],
    order_by: &'a Option<OrderBy>,
    limit: Option<u64>,
}

impl Display for ResultClauses<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(filter) = self.filter {
            write!(f, " WHERE {filter}")?;
        }
        if let Some(at) = self.as_of {
            write!(f, " AS OF {at}")?;
        }
        if !self.columns.is_empty() {
            f.write_str(" RETURN ")?;
            write_list(f, self.columns)?;
        }
        if let Some(order_by) = self.order_by {
            write!(f, " {order_by}")?;
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        Ok(())
    }
}

fn write_walk(f: &mut Formatter<'_>, walk: &Walk) -> fmt::Result {
    let keyword = match walk.direction {
        WalkDirection::Ancestors => "ANCESTORS",
        WalkDirection::Descendants => "DESCENDANTS",
    };
    write!(f, "{keyword} OF {}", walk.start)?;
    if let Some(depth) = walk.depth {
        write!(f, " DEPTH {depth}")?;
    }
    if !walk.via.is_empty() {
        f.write_str(" VIA ")?;
        for (i, label) in walk.via.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_word(f, label)?;
        }
    }
    let rest = ResultClauses {
        filter: &walk.filter,
        as_of: &walk.as_of,
        columns: &walk.columns,
        order_by: &walk.order_by,
        limit: walk.limit,
    };
    write!(f, "{rest}")
}

fn write_link(f: &mut Formatter<'_>, keyword: &str, link: &Link) -> fmt::Result {
    write!(f, "{keyword} {} -> {}", link.from, link.to)?;
    if let Some(label) = &link.label {
        f.write_str(" AS ")?;
        write_word(f, label)?;
    }
    if !link.properties.is_empty() {
        f.write_str(" SET ")?;
        write_map(f, &link.properties)?;
    }
    Ok(())
}

fn write_as_of(f: &mut Formatter<'_>, as_of: &Option<At>) -> fmt::Result {
    match as_of {
        Some(at) => write!(f, " AS OF {at}"),
        None => Ok(()),
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Walk(walk, _) => write_walk(f, walk),
            Statement::Lineage(lineage, _) => {
                write!(f, "LINEAGE OF {}", lineage.start)?;
                if let Some(direction) = lineage.direction {
                    write!(f, " {direction}")?;
                }
                if let Some(depth) = lineage.depth {
                    write!(f, " DEPTH {depth}")?;
                }
                if let Some(filter) = &lineage.filter {
                    write!(f, " WHERE {filter}")?;
                }
                write_as_of(f, &lineage.as_of)
            }
            Statement::Path { from, to, as_of, .. } => {
                write!(f, "PATH FROM {from} TO {to}")?;
                write_as_of(f, as_of)
            }
            Statement::Find(find, _) => {
                match &find.node_type {
                    Some(node_type) => write!(f, "FIND {node_type}")?,
                    None => f.write_str("FIND *")?,
                }
                let rest = ResultClauses {
                    filter: &find.filter,
                    as_of: &find.as_of,
                    columns: &find.columns,
                    order_by: &find.order_by,
                    limit: find.limit,
                };
                write!(f, "{rest}")
            }
            Statement::Show { target, as_of, .. } => {
                write!(f, "SHOW {target}")?;
                write_as_of(f, as_of)
            }
            Statement::History { entity, .. } => write!(f, "HISTORY OF {entity}"),
            Statement::Diff { left, right, .. } => write!(f, "DIFF {left} {right}"),
            Statement::Report { target, as_of, format, .. } => {
                write!(f, "REPORT {target}")?;
                write_as_of(f, as_of)?;
                match format {
                    Some(format) => write!(f, " FORMAT {format}"),
                    None => Ok(()),
                }
            }
            Statement::Snapshots { limit, .. } => {
                f.write_str("SNAPSHOTS")?;
                match limit {
                    Some(limit) => write!(f, " LIMIT {limit}"),
                    None => Ok(()),
                }
            }
            Statement::Audit(audit, _) => {
                f.write_str("AUDIT")?;
                if let Some(target) = &audit.target {
                    write!(f, " OF {target}")?;
                }
                if let Some(since) = &audit.since {
                    write!(f, " SINCE {since}")?;
                }
                if let Some(until) = &audit.until {
                    write!(f, " UNTIL {until}")?;
                }
                match audit.limit {
                    Some(limit) => write!(f, " LIMIT {limit}"),
                    None => Ok(()),
                }
            }
            Statement::Verify { .. } => f.write_str("VERIFY"),
            Statement::Explain { statement, .. } => write!(f, "EXPLAIN {statement}"),
            Statement::Create { target, properties, .. } => {
                write!(f, "CREATE {target}")?;
                if properties.is_empty() {
                    return Ok(());
                }
                f.write_str(" SET ")?;
                write_map(f, properties)
            }
            Statement::Link(link, _) => write_link(f, "LINK", link),
            Statement::Unlink(link, _) => write_link(f, "UNLINK", link),
            Statement::Set { target, properties, .. } => {
                write!(f, "SET {target} ")?;
                write_map(f, properties)
            }
            Statement::Delete { target, detach, .. } => {
                if *detach {
                    f.write_str("DETACH ")?;
                }
                write!(f, "DELETE {target}")
            }
            Statement::Promote { target, alias, reason, .. } => {
                write!(f, "PROMOTE {target} TO {alias}")?;
                match reason {
                    Some(reason) => {
                        f.write_str(" REASON ")?;
                        write_quoted(f, reason)
                    }
                    None => Ok(()),
                }
            }
            Statement::Begin { author, message, .. } => {
                f.write_str("BEGIN")?;
                if let Some(author) = author {
                    f.write_str(" AUTHOR ")?;
                    write_quoted(f, author)?;
                }
                if let Some(message) = message {
                    f.write_str(" MESSAGE ")?;
                    write_quoted(f, message)?;
                }
                Ok(())
            }
            Statement::Commit { .. } => f.write_str("COMMIT"),
            Statement::Rollback { .. } => f.write_str("ROLLBACK"),
        }
    }
}
