//! Write statements: `CREATE`, `LINK`, `UNLINK`, `SET`, `DELETE`,
//! `PROMOTE`, applied to the write transaction the session provides. The
//! outcome carries no snapshot: the session fills it in after committing.

use lineagedb_engine::{Created, NewNode, NodeKey, WriteTx};

use super::filter::props;
use super::{Cx, engine_ref};
use crate::error::QueryError;
use crate::result::WriteOutcome;
use crate::syntax::{Link, NodeRef, Statement, VersionSelector};

/// The label `LINK` uses when no `AS label` is written.
pub(crate) const DEFAULT_LABEL: &str = "flows_to";

/// Resolves a reference against the transaction's state (its own writes included).
fn resolve(cx: &Cx<'_>, tx: &WriteTx, r: &NodeRef) -> Result<NodeKey, QueryError> {
    let er = engine_ref(cx, r)?;
    tx.resolve(&er).map_err(|e| cx.engine(r.span, e))
}

fn outcome(summary: String, keys: Vec<String>) -> WriteOutcome {
    WriteOutcome { summary, snapshot: None, keys }
}

/// Applies one write statement.
pub(crate) fn apply(tx: &mut WriteTx, src: &str, statement: &Statement) -> Result<WriteOutcome, QueryError> {
    let cx = Cx { src, span: statement.span() };
    match statement {
        Statement::Create { target, properties, .. } => create(&cx, tx, target, properties),
        Statement::Link(link, _) => self::link(&cx, tx, link),
        Statement::Unlink(link, _) => unlink(&cx, tx, link),
        Statement::Set { target, properties, .. } => {
            let key = resolve(&cx, tx, target)?;
            let changes = props(properties);
            let n = changes.len();
            let key = tx.set(&key.to_ref(), changes).map_err(|e| cx.engine(cx.span, e))?;
            Ok(outcome(format!("set {n} propert{} on {key}", if n == 1 { "y" } else { "ies" }), vec![key.to_string()]))
        }
        Statement::Delete { target, detach, .. } => {
            let key = resolve(&cx, tx, target)?;
            let key = tx.delete(&key.to_ref(), *detach).map_err(|e| cx.engine(target.span, e))?;
            let what = if *detach { " and its edges" } else { "" };
            Ok(outcome(format!("deleted {key}{what}"), vec![key.to_string()]))
        }
        Statement::Promote { target, alias, reason, .. } => {
            if alias.eq_ignore_ascii_case("latest") {
                return Err(cx
                    .statement_error("cannot promote to `latest`: it always means the newest version")
                    .with_hint("pick another alias name, such as production or staging"));
            }
            let key = resolve(&cx, tx, target)?;
            let previous = tx.promote(&key.to_ref(), alias, reason.as_deref()).map_err(|e| cx.engine(cx.span, e))?;
            let was = match previous {
                Some(v) if v == key.version => format!(" (already held by {key})"),
                Some(v) => format!(" (was {})", key.entity().version(v)),
                None => String::new(),
            };
            Ok(outcome(format!("promoted {key} to {alias}{was}"), vec![key.to_string()]))
        }
        _ => Err(cx.statement_error("internal: statement is not a write")),
    }
}

fn create(
    cx: &Cx<'_>,
    tx: &mut WriteTx,
    target: &NodeRef,
    properties: &[(String, crate::syntax::Value)],
) -> Result<WriteOutcome, QueryError> {
    let mut new = NewNode {
        type_name: target.node_type.clone(),
        name: target.name.clone(),
        props: props(properties),
        ..NewNode::default()
    };
    match &target.version {
        None => {}
        Some(VersionSelector::Number(n)) => new.version = Some(*n),
        Some(VersionSelector::Label(l)) => new.label = Some(l.clone()),
        Some(VersionSelector::Latest | VersionSelector::Alias(_)) => {
            let entity = engine_ref(cx, target)?.entity();
            return Err(cx
                .error(target.span, "CREATE takes an entity or an explicit version number, not an alias")
                .with_hint(format!("write CREATE {entity} to create the next version, then PROMOTE it")));
        }
    }
    match tx.create(new).map_err(|e| cx.engine(target.span, e))? {
        Created::New(key) => Ok(outcome(format!("created {key}"), vec![key.to_string()])),
        Created::Existing(key) => Err(cx
            .error(target.span, format!("cannot create {key}: it already exists"))
            .with_hint(format!("write CREATE {} to create the next version", key.entity()))),
    }
}

fn link(cx: &Cx<'_>, tx: &mut WriteTx, link: &Link) -> Result<WriteOutcome, QueryError> {
    let from = resolve(cx, tx, &link.from)?;
    let to = resolve(cx, tx, &link.to)?;
    let label = link.label.as_deref().unwrap_or(DEFAULT_LABEL);
    tx.link(&from.to_ref(), &to.to_ref(), label, props(&link.properties)).map_err(|e| cx.engine(cx.span, e))?;
    Ok(outcome(format!("linked {from} -[{label}]-> {to}"), vec![from.to_string(), to.to_string()]))
}

fn unlink(cx: &Cx<'_>, tx: &mut WriteTx, link: &Link) -> Result<WriteOutcome, QueryError> {
    let from = resolve(cx, tx, &link.from)?;
    let to = resolve(cx, tx, &link.to)?;
    let n = tx.unlink(&from.to_ref(), &to.to_ref(), link.label.as_deref()).map_err(|e| cx.engine(cx.span, e))?;
    Ok(outcome(
        format!("removed {n} edge{} {from} -> {to}", if n == 1 { "" } else { "s" }),
        vec![from.to_string(), to.to_string()],
    ))
}
