//! Read statements: `ANCESTORS`, `DESCENDANTS`, `FIND`, `LINEAGE`, `PATH`,
//! `SHOW`, `HISTORY`, `SNAPSHOTS`, `AUDIT`, `VERIFY`.

use std::collections::HashSet;

use lineagedb_engine::{AuditFilter, Database, EntityKey, Node, NodeId, NodeKey, ReadTx, VersionSel};

use super::filter::{self, Aliases};
use super::{Cx, clamp_u32, clamp_usize, engine_ref, parse_time, reader, resolve};
use crate::error::QueryError;
use crate::report::ReportDocument;
use crate::result::{AuditRows, HistoryResult, LineageGraph, NodeRow, NodeRows, PathResult, QueryResult};
use crate::syntax::{
    At, Audit, Expr, Field, Find, Lineage, LineageDirection, NodeRef, OrderBy, ReportFormat, Walk, WalkDirection,
};

/// A loaded node with its depth (walks only).
type Candidate = (Node, Option<u32>);

/// Clauses shared by walks and `FIND` that shape the rows.
struct Shape<'a> {
    filter: Option<&'a Expr>,
    columns: &'a [Field],
    order_by: Option<&'a OrderBy>,
    limit: Option<u64>,
    walk: bool,
}

/// Filters, sorts, limits and projects loaded nodes.
fn shape_rows(read: &ReadTx, nodes: Vec<(Node, Option<u32>)>, shape: &Shape<'_>) -> NodeRows {
    let mut aliases = Aliases::new(read);
    let mut kept: Vec<(Node, Option<u32>)> = match shape.filter {
        Some(expr) => nodes.into_iter().filter(|(n, d)| filter::eval(expr, n, *d, &mut aliases)).collect(),
        None => nodes,
    };
    kept.sort_by(|a, b| (a.1, &a.0.key).cmp(&(b.1, &b.0.key)));
    if !filter::is_default_order(shape.order_by) {
        if let Some(order) = shape.order_by {
            let mut keyed: Vec<(Option<lineagedb_engine::Value>, Candidate)> = kept
                .into_iter()
                .map(|(n, d)| (filter::field_value(&order.field, &n, d, &mut aliases), (n, d)))
                .collect();
            keyed.sort_by(|a, b| filter::sort_cmp(&a.0, &b.0, order.order));
            kept = keyed.into_iter().map(|(_, row)| row).collect();
        }
    }
    let mut omitted = 0;
    if let Some(limit) = shape.limit.map(clamp_usize) {
        omitted = kept.len().saturating_sub(limit);
        kept.truncate(limit);
    }
    let rows = kept
        .into_iter()
        .map(|(node, depth)| {
            let values = shape
                .columns
                .iter()
                .map(|f| filter::field_value(f, &node, depth, &mut aliases).unwrap_or(lineagedb_engine::Value::Null))
                .collect();
            NodeRow { node, depth, values }
        })
        .collect();
    NodeRows { columns: shape.columns.iter().map(filter::field_name).collect(), rows, walk: shape.walk, omitted }
}

/// `ANCESTORS OF` / `DESCENDANTS OF`.
pub(crate) fn walk(cx: &Cx<'_>, db: &Database, w: &Walk) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, w.as_of.as_ref())?;
    let start = resolve(cx, &read, &w.start)?.to_ref();
    let (types, residual) = filter::split_type_filter(w.filter.as_ref());
    let mut t = match w.direction {
        WalkDirection::Ancestors => read.ancestors(&start),
        WalkDirection::Descendants => read.descendants(&start),
    };
    if let Some(d) = w.depth {
        t = t.max_depth(clamp_u32(d));
    }
    if !w.via.is_empty() {
        t = t.via(w.via.iter().cloned());
    }
    for ty in types.into_iter().flatten() {
        t = t.only_type(ty);
    }
    let ids = t.collect_ids().map_err(|e| cx.engine(w.start.span, e))?;
    let shape = Shape {
        filter: residual.as_ref(),
        columns: &w.columns,
        order_by: w.order_by.as_ref(),
        limit: w.limit,
        walk: true,
    };
    let engine = |e| cx.engine(cx.span, e);
    if residual.is_none() && filter::is_default_order(w.order_by.as_ref()) {
        // Fast path: sort by (depth, key) on keys alone, load only the rows returned.
        let mut keyed: Vec<(u32, NodeKey, NodeId)> = Vec::with_capacity(ids.len());
        for (id, depth) in ids {
            keyed.push((depth, read.key_by_id(id).map_err(engine)?, id));
        }
        keyed.sort();
        let mut omitted = 0;
        if let Some(limit) = w.limit.map(clamp_usize) {
            omitted = keyed.len().saturating_sub(limit);
            keyed.truncate(limit);
        }
        let mut nodes = Vec::with_capacity(keyed.len());
        for (depth, _, id) in keyed {
            nodes.push((read.node_by_id(id).map_err(engine)?, Some(depth)));
        }
        let mut rows = shape_rows(&read, nodes, &Shape { limit: None, ..shape });
        rows.omitted = omitted;
        return Ok(QueryResult::Nodes(rows));
    }
    let mut nodes = Vec::with_capacity(ids.len());
    for (id, depth) in ids {
        nodes.push((read.node_by_id(id).map_err(engine)?, Some(depth)));
    }
    Ok(QueryResult::Nodes(shape_rows(&read, nodes, &shape)))
}

/// `FIND type|*`.
pub(crate) fn find(cx: &Cx<'_>, db: &Database, f: &Find) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, f.as_of.as_ref())?;
    let engine = |e| cx.engine(cx.span, e);
    let (pushed, residual) = match &f.node_type {
        Some(_) => (None, f.filter.clone()),
        None => filter::split_type_filter(f.filter.as_ref()),
    };
    let mut found = Vec::new();
    match (&f.node_type, pushed) {
        (Some(t), _) => found = read.find(Some(t)).map_err(engine)?,
        (None, Some(types)) => {
            let mut seen = HashSet::new();
            for t in types {
                if seen.insert(t.clone()) {
                    found.extend(read.find(Some(&t)).map_err(engine)?);
                }
            }
        }
        (None, None) => found = read.find(None).map_err(engine)?,
    }
    let nodes = found.into_iter().map(|n| (n, None)).collect();
    let shape = Shape {
        filter: residual.as_ref(),
        columns: &f.columns,
        order_by: f.order_by.as_ref(),
        limit: f.limit,
        walk: false,
    };
    Ok(QueryResult::Nodes(shape_rows(&read, nodes, &shape)))
}

/// The direction `LINEAGE` uses when none is written.
pub(crate) const DEFAULT_LINEAGE: LineageDirection = LineageDirection::Both;

/// `LINEAGE OF`: the subgraph; `WHERE` drops nodes (never the start) and
/// every edge touching a dropped node.
pub(crate) fn lineage(cx: &Cx<'_>, db: &Database, l: &Lineage) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, l.as_of.as_ref())?;
    let start_key = resolve(cx, &read, &l.start)?;
    let start = start_key.to_ref();
    let (up, down) = match l.direction.unwrap_or(DEFAULT_LINEAGE) {
        LineageDirection::Upstream => (true, false),
        LineageDirection::Downstream => (false, true),
        LineageDirection::Both => (true, true),
    };
    let engine = |e| cx.engine(cx.span, e);
    let sub = read.lineage(&start, up, down, l.depth.map(clamp_u32)).map_err(engine)?;
    let start_node = read.node(&start).map_err(engine)?;
    let mut aliases = Aliases::new(&read);
    let mut nodes = vec![NodeRow { node: start_node, depth: Some(0), values: Vec::new() }];
    for reached in sub.nodes {
        if l.filter.as_ref().is_none_or(|e| filter::eval(e, &reached.node, Some(reached.depth), &mut aliases)) {
            nodes.push(NodeRow { node: reached.node, depth: Some(reached.depth), values: Vec::new() });
        }
    }
    let kept: HashSet<&NodeKey> = nodes.iter().map(|r| &r.node.key).collect();
    let edges = sub.edges.iter().filter(|e| kept.contains(&e.from) && kept.contains(&e.to)).cloned().collect();
    Ok(QueryResult::Lineage(LineageGraph { nodes, edges }))
}

/// `PATH FROM a TO b`: a shortest path along edge direction. No path is an
/// empty result, unless one exists the other way round, which is an error
/// with a hint to swap the ends.
pub(crate) fn path(
    cx: &Cx<'_>,
    db: &Database,
    from: &NodeRef,
    to: &NodeRef,
    as_of: Option<&At>,
) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, as_of)?;
    let a = resolve(cx, &read, from)?;
    let b = resolve(cx, &read, to)?;
    let engine = |e| cx.engine(cx.span, e);
    if let Some(p) = read.path(&a.to_ref(), &b.to_ref()).map_err(engine)? {
        return Ok(QueryResult::Path(PathResult {
            from: a.to_string(),
            to: b.to_string(),
            nodes: p.nodes.iter().map(ToString::to_string).collect(),
            labels: p.labels,
        }));
    }
    if read.path(&b.to_ref(), &a.to_ref()).map_err(engine)?.is_some() {
        return Err(cx
            .statement_error(format!("no path from {a} to {b} following edge direction"))
            .with_hint(format!("there is a path from {b} to {a}: swap FROM and TO")));
    }
    Ok(QueryResult::Path(PathResult { from: a.to_string(), to: b.to_string(), nodes: Vec::new(), labels: Vec::new() }))
}

/// `SHOW ref`.
pub(crate) fn show(
    cx: &Cx<'_>,
    db: &Database,
    target: &NodeRef,
    as_of: Option<&At>,
) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, as_of)?;
    let r = engine_ref(cx, target)?;
    let detail = read.node_detail(&r).map_err(|e| cx.engine(target.span, e))?;
    Ok(QueryResult::Node(Box::new(detail)))
}

/// `REPORT ref [AS OF at] [FORMAT f]`.
pub(crate) fn report(
    cx: &Cx<'_>,
    db: &Database,
    target: &NodeRef,
    as_of: Option<&At>,
    format: Option<ReportFormat>,
) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, as_of)?;
    let r = engine_ref(cx, target)?;
    let report = read.report(&r).map_err(|e| cx.engine(target.span, e))?;
    Ok(QueryResult::Report(Box::new(ReportDocument::new(report, format))))
}

/// `HISTORY OF entity`.
pub(crate) fn history(cx: &Cx<'_>, db: &Database, entity: &NodeRef) -> Result<QueryResult, QueryError> {
    if entity.version.is_some() {
        return Err(cx
            .error(entity.span, "HISTORY OF takes an entity, not one version")
            .with_hint(format!("write HISTORY OF {}", entity_text(cx, entity)?)));
    }
    let read = reader(cx, db, None)?;
    let key = entity_key(cx, entity)?;
    let events = read.history(&key).map_err(|e| cx.engine(entity.span, e))?;
    Ok(QueryResult::History(HistoryResult { entity: key.to_string(), events }))
}

fn entity_key(cx: &Cx<'_>, r: &NodeRef) -> Result<EntityKey, QueryError> {
    EntityKey::new(&r.node_type, &r.name).map_err(|e| cx.error(r.span, e.to_string()))
}

fn entity_text(cx: &Cx<'_>, r: &NodeRef) -> Result<String, QueryError> {
    Ok(entity_key(cx, r)?.to_string())
}

/// `SNAPSHOTS [LIMIT n]`: newest first.
pub(crate) fn snapshots(cx: &Cx<'_>, db: &Database, limit: Option<u64>) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, None)?;
    let list = read.snapshots(limit.map(clamp_usize)).map_err(|e| cx.engine(cx.span, e))?;
    Ok(QueryResult::Snapshots(list))
}

/// `AUDIT [OF ref] [SINCE at] [UNTIL at] [LIMIT n]`: oldest first; `SINCE`
/// and `UNTIL` are inclusive and take a snapshot id or a time.
pub(crate) fn audit(cx: &Cx<'_>, db: &Database, a: &Audit) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, None)?;
    let mut f = AuditFilter::default();
    if let Some(target) = &a.target {
        if target.version.is_none() {
            f.entity = Some(entity_key(cx, target)?);
        } else {
            let r = engine_ref(cx, target)?;
            // A deleted or superseded version is still a valid audit subject: an
            // explicit number is taken as written, other selectors resolve now.
            f.node = Some(match r.version {
                VersionSel::Number(v) => r.entity().version(v),
                _ => read.resolve(&r).map_err(|e| cx.engine(target.span, e))?,
            });
        }
    }
    let mut since_snapshot = None;
    let mut until_snapshot = None;
    for (at, word, snapshot_slot, is_since) in
        [(&a.since, "since", &mut since_snapshot, true), (&a.until, "until", &mut until_snapshot, false)]
    {
        match at {
            None => {}
            Some(At::Snapshot(n)) => *snapshot_slot = Some(*n),
            Some(At::Time(text)) => {
                let t = parse_time(cx, cx.clause_span(&[word]), text)?;
                if is_since {
                    f.since = Some(t);
                } else {
                    f.until = Some(t);
                }
            }
        }
    }
    let mut entries = read.audit(&f).map_err(|e| cx.engine(cx.span, e))?;
    entries
        .retain(|e| since_snapshot.is_none_or(|s| e.snapshot >= s) && until_snapshot.is_none_or(|u| e.snapshot <= u));
    let mut omitted = 0;
    if let Some(limit) = a.limit.map(clamp_usize) {
        omitted = entries.len().saturating_sub(limit);
        entries.truncate(limit);
    }
    Ok(QueryResult::Audit(AuditRows { entries, omitted }))
}

/// `VERIFY`: the report, whether or not it found problems.
pub(crate) fn verify(cx: &Cx<'_>, db: &Database) -> Result<QueryResult, QueryError> {
    let read = reader(cx, db, None)?;
    let report = read.verify().map_err(|e| cx.engine(cx.span, e))?;
    Ok(QueryResult::Verify(report))
}
