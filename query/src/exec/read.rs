//! Read statements: `ANCESTORS`, `DESCENDANTS`, `FIND`, `LINEAGE`, `PATH`,
//! `SHOW`, `HISTORY`, `SNAPSHOTS`, `AUDIT`, `VERIFY`.

use std::collections::HashSet;

use lineagedb_engine::{AuditFilter, Database, EntityKey, NodeKey, VersionSel};

use super::filter::{self, Aliases, RowView};
use super::rows::{self, Candidates, Shape};
use super::{Cx, clamp_u32, clamp_usize, engine_ref, parse_time, reader, resolve};
use crate::error::QueryError;
use crate::report::ReportDocument;
use crate::result::{AuditRows, HistoryResult, LineageGraph, LineageNode, PathResult, QueryResult};
use crate::sink::ResultSink;
use crate::syntax::{At, Audit, Find, Lineage, LineageDirection, NodeRef, ReportFormat, Walk, WalkDirection};

/// `ANCESTORS OF` / `DESCENDANTS OF`: the walk gives ids and depths (the
/// type filter applied on the adjacency), `rows::stream` the rows.
pub(crate) fn walk(cx: &Cx<'_>, db: &Database, w: &Walk, sink: &mut dyn ResultSink) -> Result<(), QueryError> {
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
    let candidates = Candidates { ids: ids.into_iter().map(|(id, depth)| (id, Some(depth))).collect() };
    rows::stream(cx, &read, candidates, &shape, sink)
}

/// `FIND type|*`: ids in key order from the key dictionary, the invisible
/// dropped on the heads of their records, then `rows::stream`.
pub(crate) fn find(cx: &Cx<'_>, db: &Database, f: &Find, sink: &mut dyn ResultSink) -> Result<(), QueryError> {
    let read = reader(cx, db, f.as_of.as_ref())?;
    let engine = |e| cx.engine(cx.span, e);
    let (pushed, residual) = match &f.node_type {
        Some(_) => (None, f.filter.clone()),
        None => filter::split_type_filter(f.filter.as_ref()),
    };
    let mut ids = match (&f.node_type, pushed) {
        (Some(t), _) => read.find_ids(Some(t)).map_err(engine)?,
        (None, Some(mut types)) => {
            // Types in name order keep the ids in key order.
            types.sort();
            types.dedup();
            let mut ids = Vec::new();
            for t in types {
                ids.extend(read.find_ids(Some(&t)).map_err(engine)?);
            }
            ids
        }
        (None, None) => read.find_ids(None).map_err(engine)?,
    };
    read.retain_visible(&mut ids).map_err(engine)?;
    let shape = Shape {
        filter: residual.as_ref(),
        columns: &f.columns,
        order_by: f.order_by.as_ref(),
        limit: f.limit,
        walk: false,
    };
    rows::stream(cx, &read, Candidates { ids: ids.into_iter().map(|id| (id, None)).collect() }, &shape, sink)
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
    let mut nodes = vec![LineageNode { node: start_node, depth: 0 }];
    for reached in sub.nodes {
        if l.filter
            .as_ref()
            .is_none_or(|e| filter::eval(e, RowView::of(&reached.node, Some(reached.depth)), &mut aliases))
        {
            nodes.push(LineageNode { node: reached.node, depth: reached.depth });
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
                    f.until = Some(super::end_of_written_second(text, t));
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
