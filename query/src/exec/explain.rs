//! `EXPLAIN statement`: the plan the executor would follow, built from the
//! statement alone (nothing is resolved or read).

use super::filter::{field_name, is_default_order, split_type_filter};
use super::read::DEFAULT_LINEAGE;
use super::write::DEFAULT_LABEL;
use crate::result::{Plan, PlanStep};
use crate::syntax::{At, Expr, Field, LineageDirection, OrderBy, SortOrder, Statement, VersionSelector, WalkDirection};

fn step(op: &str, detail: impl Into<String>) -> PlanStep {
    PlanStep { op: op.to_owned(), detail: detail.into() }
}

fn at_text(at: Option<&At>) -> String {
    match at {
        None => "the latest snapshot".into(),
        Some(At::Snapshot(n)) => format!("snapshot {n} (AS OF)"),
        Some(At::Time(t)) => format!("the latest snapshot at or before {t} (AS OF)"),
    }
}

fn resolve_step(what: &str, r: &crate::syntax::NodeRef, at: Option<&At>) -> PlanStep {
    let how = match &r.version {
        None | Some(VersionSelector::Latest) => "its latest live version",
        Some(VersionSelector::Number(_)) => "that exact version",
        Some(VersionSelector::Alias(_)) => "the version holding the alias",
        Some(VersionSelector::Label(_)) => "the version carrying the external label",
    };
    step("resolve", format!("{what} {r} to {how} at {}", at_text(at)))
}

/// The clauses that shape rows of a walk (`walk`) or of `FIND`.
struct RowClauses<'a> {
    walk: bool,
    filter: Option<&'a Expr>,
    columns: &'a [Field],
    order: Option<&'a OrderBy>,
    limit: Option<u64>,
}

fn rows_steps(steps: &mut Vec<PlanStep>, c: RowClauses<'_>) {
    let RowClauses { walk, filter, columns, order, limit } = c;
    let default_order = if walk { "by depth, then key (default)" } else { "by key (default)" };
    if let Some(f) = filter {
        steps.push(step("filter", format!("keep nodes where {f} (evaluated on each loaded node)")));
    }
    if is_default_order(order) {
        steps.push(step("sort", default_order));
    } else if let Some(o) = order {
        let dir = if o.order == SortOrder::Desc { "DESC" } else { "ASC" };
        steps.push(step("sort", format!("by {} {dir}, ties in the default order; missing values last", o.field)));
    }
    if let Some(n) = limit {
        steps.push(step("limit", format!("keep the first {n} rows and report how many were omitted")));
    }
    steps.push(step(
        "project",
        if columns.is_empty() {
            if walk {
                "default row: key, type, name, version, depth, props"
            } else {
                "default row: key, type, name, version, props"
            }
            .to_owned()
        } else {
            format!("RETURN {}", columns.iter().map(field_name).collect::<Vec<_>>().join(", "))
        },
    ));
}

/// The plan of `statement`.
pub(crate) fn plan(statement: &Statement) -> Plan {
    let mut steps = Vec::new();
    match statement {
        Statement::Walk(w, _) => {
            steps.push(resolve_step("start", &w.start, w.as_of.as_ref()));
            let dir = match w.direction {
                WalkDirection::Ancestors => "upstream (edges followed backwards)",
                WalkDirection::Descendants => "downstream (edges followed forwards)",
            };
            let depth = w.depth.map_or_else(|| "no depth bound".to_owned(), |d| format!("at most {d} edges"));
            let labels =
                if w.via.is_empty() { "every label".to_owned() } else { format!("only labels {}", w.via.join(", ")) };
            steps.push(step(
                "walk",
                format!("breadth-first {dir}, {depth}, {labels}; each node once at its shortest depth"),
            ));
            let (types, residual) = split_type_filter(w.filter.as_ref());
            match types {
                Some(t) => steps.push(step(
                    "type filter",
                    format!(
                        "pushed into the walk: only nodes of type {} are returned, the walk passes through every type",
                        t.join(", ")
                    ),
                )),
                None => steps.push(step("type filter", "none pushed into the walk")),
            }
            let fast = residual.is_none() && is_default_order(w.order_by.as_ref());
            if fast {
                steps.push(step("load", "sort reached ids by (depth, key) and load only the rows returned"));
            } else {
                steps.push(step("load", "load every reached node"));
            }
            rows_steps(
                &mut steps,
                RowClauses {
                    walk: true,
                    filter: residual.as_ref(),
                    columns: &w.columns,
                    order: w.order_by.as_ref(),
                    limit: w.limit,
                },
            );
        }
        Statement::Find(f, _) => {
            let (types, residual) = match &f.node_type {
                Some(t) => (Some(vec![t.clone()]), f.filter.clone()),
                None => split_type_filter(f.filter.as_ref()),
            };
            let scan = match types {
                Some(t) => format!("scan nodes of type {} at {}", t.join(", "), at_text(f.as_of.as_ref())),
                None => format!("scan nodes of every type at {}", at_text(f.as_of.as_ref())),
            };
            steps.push(step("scan", scan));
            rows_steps(
                &mut steps,
                RowClauses {
                    walk: false,
                    filter: residual.as_ref(),
                    columns: &f.columns,
                    order: f.order_by.as_ref(),
                    limit: f.limit,
                },
            );
        }
        Statement::Lineage(l, _) => {
            steps.push(resolve_step("start", &l.start, l.as_of.as_ref()));
            let (dir, default) = match l.direction {
                Some(d) => (d, ""),
                None => (DEFAULT_LINEAGE, " (default)"),
            };
            let dir = match dir {
                LineageDirection::Upstream => "upstream",
                LineageDirection::Downstream => "downstream",
                LineageDirection::Both => "upstream and downstream",
            };
            let depth = l.depth.map_or_else(|| "no depth bound".to_owned(), |d| format!("at most {d} edges"));
            steps.push(step("walk", format!("{dir}{default}, {depth}, collecting the edges walked")));
            if let Some(f) = &l.filter {
                steps.push(step(
                    "filter",
                    format!("keep nodes where {f} (the start always stays); drop edges touching removed nodes"),
                ));
            }
        }
        Statement::Path { from, to, as_of, .. } => {
            steps.push(resolve_step("start", from, as_of.as_ref()));
            steps.push(resolve_step("goal", to, as_of.as_ref()));
            steps.push(step("search", "breadth-first along edge direction; stops at the goal (a shortest path)"));
            steps.push(step("fallback", "if none, search the reverse direction to suggest swapping FROM and TO"));
        }
        Statement::Show { target, as_of, .. } => {
            steps.push(resolve_step("node", target, as_of.as_ref()));
            steps.push(step("read", "properties, aliases held, incoming and outgoing live edges"));
        }
        Statement::History { entity, .. } => {
            steps.push(step("read", format!("every version, annotation change, deletion and alias move of {entity}")));
        }
        Statement::Diff { left, right, .. } => {
            steps.push(resolve_step("left", left, None));
            steps.push(resolve_step("right", right, None));
            steps.push(step("walk", "all ancestors of each side, grouped by entity"));
            steps.push(step("compare", "inputs by entity, own properties (flattened), producing runs, upstream code"));
        }
        Statement::Report { target, as_of, format, .. } => {
            steps.push(resolve_step("subject", target, as_of.as_ref()));
            steps.push(step("walk", "every ancestor and every descendant, with the edges between them"));
            steps.push(step("read", "producing runs with their jobs, code and inputs; alias moves of the entity"));
            steps.push(step("order", "the upstream chain in topological order"));
            steps.push(step("audit", "scan the audit log for entries of the report's nodes and their batch entries"));
            let f = format.map_or_else(|| "the output format".to_owned(), |f| f.to_string());
            steps.push(step("render", format!("{f}, with the snapshot read and a SHA-256 digest of the content")));
        }
        Statement::Snapshots { limit, .. } => {
            let n = limit.map_or_else(|| "every snapshot".to_owned(), |n| format!("the newest {n} snapshots"));
            steps.push(step("read", format!("commit log, newest first: {n}")));
        }
        Statement::Audit(a, _) => {
            let who = match &a.target {
                None => "every entry".to_owned(),
                Some(r) if r.version.is_none() => format!("entries about any version of {r}"),
                Some(r) => format!("entries about the node {r}"),
            };
            steps.push(step("scan", format!("audit log, oldest first: {who}")));
            if a.since.is_some() || a.until.is_some() {
                steps.push(step("filter", "SINCE / UNTIL bounds (inclusive)"));
            }
            if let Some(n) = a.limit {
                steps.push(step("limit", format!("the first {n} entries")));
            }
        }
        Statement::Verify { .. } => {
            steps.push(step("verify", "recompute the audit hash chain and check the graph invariants"));
        }
        Statement::Explain { statement, .. } => {
            steps.push(step("explain", format!("describe the plan of: {statement}")));
        }
        Statement::Create { target, properties, .. } => {
            let what = match &target.version {
                Some(VersionSelector::Number(n)) => format!("version {n}, which must be the next one"),
                Some(VersionSelector::Label(l)) => format!("the next version, with external label {l:?}"),
                _ => "the next version".to_owned(),
            };
            steps.push(step(
                "create",
                format!("{what} of {}:{} with {} propert(ies)", target.node_type, target.name, properties.len()),
            ));
            steps.push(commit_step());
        }
        Statement::Link(l, _) | Statement::Unlink(l, _) => {
            steps.push(resolve_step("from", &l.from, None));
            steps.push(resolve_step("to", &l.to, None));
            if matches!(statement, Statement::Link(..)) {
                let label = l.label.as_deref().unwrap_or(DEFAULT_LABEL);
                steps.push(step("link", format!("add edge labelled {label}; refused if it closes a cycle or exists")));
            } else {
                let label = l.label.as_deref().map_or_else(|| "every label".to_owned(), |l| format!("label {l}"));
                steps.push(step("unlink", format!("tombstone live edges between them with {label}")));
            }
            steps.push(commit_step());
        }
        Statement::Set { target, properties, .. } => {
            steps.push(resolve_step("node", target, None));
            steps.push(step(
                "set",
                format!("change {} annotation(s); old values stay readable AS OF", properties.len()),
            ));
            steps.push(commit_step());
        }
        Statement::Delete { target, detach, .. } => {
            steps.push(resolve_step("node", target, None));
            let how = if *detach {
                "tombstone the node and its live edges"
            } else {
                "tombstone the node; refused while it has live edges"
            };
            steps.push(step("delete", how));
            steps.push(commit_step());
        }
        Statement::Promote { target, alias, .. } => {
            steps.push(resolve_step("node", target, None));
            steps.push(step("promote", format!("move alias {alias} to it, recording the previous holder")));
            steps.push(commit_step());
        }
        Statement::Begin { .. } => steps.push(step("begin", "open a transaction; later writes commit together")),
        Statement::Commit { .. } => steps.push(step("commit", "make the open transaction one snapshot")),
        Statement::Rollback { .. } => steps.push(step("rollback", "discard the open transaction")),
    }
    Plan { statement: statement.to_string(), steps }
}

fn commit_step() -> PlanStep {
    step("commit", "its own snapshot, or part of the open BEGIN ... COMMIT transaction")
}
