//! Node rows of `ANCESTORS`, `DESCENDANTS` and `FIND`: what each row needs
//! read, then filtering, ordering, `LIMIT` and projection, streamed to a
//! [`ResultSink`].
//!
//! A row costs what its output needs. The walk gives node ids with their
//! depth (the type filter already applied on the adjacency, no record read).
//! Without a residual `WHERE` or another `ORDER BY`, rows go out depth level
//! by depth level: the level's keys are read from the heads of the records
//! (no properties), sorted, cut at `LIMIT`, and only the rows returned have
//! their whole node read, and only when the statement prints or tests more
//! than the key (see `filter::needs_node`). Memory is then the walk's ids
//! and the keys of one level. A residual `WHERE` or an `ORDER BY` of another
//! field holds the candidates it filters and sorts (keys alone when the
//! fields it names are in the key).

use lineagedb_engine::{Node, NodeId, NodeKey, ReadTx, Value};

use super::Cx;
use super::clamp_usize;
use super::filter::{self, Aliases, RowView};
use crate::error::QueryError;
use crate::result::{NodeRow, RowsHeader};
use crate::sink::ResultSink;
use crate::syntax::{Expr, Field, OrderBy};

/// A candidate held for filtering and sorting: its key, its node when read, its depth.
type Held = (NodeKey, Option<Box<Node>>, Option<u32>);

/// Rows read at once when a chunk needs no sorting (`FIND`, loading nodes).
const CHUNK: usize = 4096;

/// Clauses shared by walks and `FIND` that shape the rows.
pub(crate) struct Shape<'a> {
    pub(crate) filter: Option<&'a Expr>,
    pub(crate) columns: &'a [Field],
    pub(crate) order_by: Option<&'a OrderBy>,
    pub(crate) limit: Option<u64>,
    pub(crate) walk: bool,
}

impl Shape<'_> {
    /// Whether rows need their whole node: printed whole, or a column, the
    /// filter or the order naming a field the key does not hold.
    fn needs_node(&self) -> bool {
        self.columns.is_empty()
            || self.columns.iter().any(filter::needs_node)
            || self.filter.is_some_and(filter::expr_needs_node)
            || self.order_by.is_some_and(|o| filter::needs_node(&o.field))
    }

    fn header(&self, rows: usize, omitted: usize) -> RowsHeader {
        RowsHeader { columns: self.columns.iter().map(filter::field_name).collect(), walk: self.walk, omitted, rows }
    }
}

/// Candidate rows: node ids with their depth (walks), in breadth-first
/// order, or without (`FIND`), in key order and visible at the snapshot.
pub(crate) struct Candidates {
    pub(crate) ids: Vec<(NodeId, Option<u32>)>,
}

/// Shapes `candidates` and hands the rows to `sink`.
pub(crate) fn stream(
    cx: &Cx<'_>,
    read: &ReadTx,
    candidates: Candidates,
    shape: &Shape<'_>,
    sink: &mut dyn ResultSink,
) -> Result<(), QueryError> {
    if shape.filter.is_none() && filter::is_default_order(shape.order_by) {
        stream_in_order(cx, read, candidates, shape, sink)
    } else {
        shape_held(cx, read, candidates, shape, sink)
    }
}

/// The default order (depth, then key) and no residual filter: level by level.
fn stream_in_order(
    cx: &Cx<'_>,
    read: &ReadTx,
    candidates: Candidates,
    shape: &Shape<'_>,
    sink: &mut dyn ResultSink,
) -> Result<(), QueryError> {
    let engine = |e| cx.engine(cx.span, e);
    let ids = candidates.ids;
    let take = shape.limit.map_or(ids.len(), |l| clamp_usize(l).min(ids.len()));
    sink.begin_rows(shape.header(take, ids.len() - take));
    let needs_node = shape.needs_node();
    let mut aliases = Aliases::new(read);
    let mut emitted = 0;
    let mut start = 0;
    while emitted < take {
        let depth = ids[start].1;
        // A walk's level is sorted by key; `FIND` comes in key order already.
        let end = match depth {
            Some(d) => start + ids[start..].partition_point(|(_, e)| *e == Some(d)),
            None => (start + CHUNK).min(ids.len()),
        };
        let level: Vec<NodeId> = ids[start..end].iter().map(|(id, _)| *id).collect();
        let keys = read.keys_by_ids(&level).map_err(engine)?;
        let mut keyed: Vec<(NodeKey, NodeId)> = keys.into_iter().zip(level).collect();
        if depth.is_some() {
            keyed.sort_unstable();
        }
        keyed.truncate(take - emitted);
        emitted += keyed.len();
        while !keyed.is_empty() {
            let rest = keyed.split_off(keyed.len().min(CHUNK));
            let chunk = std::mem::replace(&mut keyed, rest);
            let nodes = load(cx, read, &chunk, needs_node)?;
            for ((key, _), node) in chunk.into_iter().zip(nodes) {
                sink.row(project(shape, key, node, depth, &mut aliases));
            }
        }
        start = end;
    }
    sink.end_rows();
    Ok(())
}

/// A residual `WHERE` or another `ORDER BY`: the candidates are read (keys,
/// or whole nodes when the clauses name more), filtered, sorted, cut.
fn shape_held(
    cx: &Cx<'_>,
    read: &ReadTx,
    candidates: Candidates,
    shape: &Shape<'_>,
    sink: &mut dyn ResultSink,
) -> Result<(), QueryError> {
    let engine = |e| cx.engine(cx.span, e);
    let needs_node = shape.needs_node();
    let mut aliases = Aliases::new(read);
    let mut kept: Vec<Held> = Vec::new();
    for chunk in candidates.ids.chunks(CHUNK) {
        let ids: Vec<NodeId> = chunk.iter().map(|(id, _)| *id).collect();
        let keys = read.keys_by_ids(&ids).map_err(engine)?;
        let keyed: Vec<(NodeKey, NodeId)> = keys.into_iter().zip(ids).collect();
        let nodes = load(cx, read, &keyed, needs_node)?;
        for (((key, _), node), (_, depth)) in keyed.into_iter().zip(nodes).zip(chunk) {
            let row = RowView { key: &key, node: node.as_deref(), depth: *depth };
            if shape.filter.is_none_or(|expr| filter::eval(expr, row, &mut aliases)) {
                kept.push((key, node, *depth));
            }
        }
    }
    kept.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
    if let Some(order) = shape.order_by.filter(|o| !filter::is_default_order(Some(o))) {
        let mut sorted: Vec<(Option<Value>, Held)> = kept
            .into_iter()
            .map(|(key, node, depth)| {
                let value = filter::field_value(
                    &order.field,
                    RowView { key: &key, node: node.as_deref(), depth },
                    &mut aliases,
                );
                (value, (key, node, depth))
            })
            .collect();
        sorted.sort_by(|a, b| filter::sort_cmp(&a.0, &b.0, order.order));
        kept = sorted.into_iter().map(|(_, row)| row).collect();
    }
    let take = shape.limit.map_or(kept.len(), |l| clamp_usize(l).min(kept.len()));
    sink.begin_rows(shape.header(take, kept.len() - take));
    kept.truncate(take);
    for (key, node, depth) in kept {
        sink.row(project(shape, key, node, depth, &mut aliases));
    }
    sink.end_rows();
    Ok(())
}

/// The whole nodes of `keyed`, when they are needed.
fn load(
    cx: &Cx<'_>,
    read: &ReadTx,
    keyed: &[(NodeKey, NodeId)],
    needs_node: bool,
) -> Result<Vec<Option<Box<Node>>>, QueryError> {
    if !needs_node {
        return Ok(vec![None; keyed.len()]);
    }
    let ids: Vec<NodeId> = keyed.iter().map(|(_, id)| *id).collect();
    let nodes = read.nodes_by_ids(&ids).map_err(|e| cx.engine(cx.span, e))?;
    if nodes.len() != ids.len() {
        return Err(cx.statement_error("a node reached has no record: run VERIFY"));
    }
    Ok(nodes.into_iter().map(|n| Some(Box::new(n))).collect())
}

/// One output row: the `RETURN` values computed from what was read.
fn project(
    shape: &Shape<'_>,
    key: NodeKey,
    node: Option<Box<Node>>,
    depth: Option<u32>,
    aliases: &mut Aliases<'_>,
) -> NodeRow {
    let values = shape
        .columns
        .iter()
        .map(|f| {
            filter::field_value(f, RowView { key: &key, node: node.as_deref(), depth }, aliases).unwrap_or(Value::Null)
        })
        .collect();
    NodeRow { key, node, depth, values }
}
