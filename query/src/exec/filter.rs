//! `WHERE` evaluation, field values, literal conversion and `ORDER BY`.
//!
//! Semantics (the language contract): a comparison between values of
//! different kinds (a number and a string, ...) is false, never an error; a
//! missing property is false for every comparison (only `EXISTS` sees it);
//! `~` is a glob with `*` and `?`. A list-valued field (`alias`, a `tags`
//! property) matches `=`, `IN` and `~` when any element does, and `!=` when
//! no element equals the value.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use lineagedb_engine::{EntityKey, Node, NodeKey, Props, ReadTx, Timestamp, Value};

use crate::syntax::{CompareOp, Expr, Field, OrderBy, SortOrder, Value as Literal};

/// Converts a literal of the language into an engine value.
pub(crate) fn literal(v: &Literal) -> Value {
    match v {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(x) => Value::Float(*x),
        Literal::String(s) => Value::String(s.clone()),
        Literal::Timestamp(micros) => Value::Timestamp(Timestamp(*micros)),
        Literal::List(items) => Value::List(items.iter().map(literal).collect()),
        Literal::Map(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), literal(v))).collect()),
    }
}

/// Converts a `{k: v, ...}` map into properties.
pub(crate) fn props(map: &[(String, Literal)]) -> Props {
    map.iter().map(|(k, v)| (k.clone(), literal(v))).collect()
}

/// The name of a field as a column header and JSON key.
pub(crate) fn field_name(field: &Field) -> String {
    match field {
        Field::Type => "type".into(),
        Field::Name => "name".into(),
        Field::Version => "version".into(),
        Field::Key => "key".into(),
        Field::Depth => "depth".into(),
        Field::CreatedAt => "created_at".into(),
        Field::CreatedBy => "created_by".into(),
        Field::Alias => "alias".into(),
        Field::Property(path) => path.join("."),
    }
}

/// Looks up, and caches, which aliases each entity's versions hold at the
/// snapshot read. Only queried when a statement mentions `alias`.
pub(crate) struct Aliases<'r> {
    read: &'r ReadTx,
    cache: HashMap<EntityKey, BTreeMap<String, u64>>,
}

impl std::fmt::Debug for Aliases<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aliases").field("cached", &self.cache.len()).finish()
    }
}

impl<'r> Aliases<'r> {
    pub(crate) fn new(read: &'r ReadTx) -> Aliases<'r> {
        Aliases { read, cache: HashMap::new() }
    }

    /// Aliases held by the node `key` at the snapshot read (a lookup failure counts as none).
    fn held(&mut self, key: &NodeKey) -> Vec<String> {
        let entity = key.entity();
        let map = match self.cache.get(&entity) {
            Some(m) => m,
            None => {
                let m = self.read.aliases(&entity).unwrap_or_default();
                self.cache.entry(entity).or_insert(m)
            }
        };
        map.iter().filter(|(_, v)| **v == key.version).map(|(a, _)| a.clone()).collect()
    }
}

/// What a row offers to fields and filters: its key always, the whole node
/// when it was loaded (see `needs_node`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowView<'a> {
    pub(crate) key: &'a NodeKey,
    pub(crate) node: Option<&'a Node>,
    pub(crate) depth: Option<u32>,
}

impl<'a> RowView<'a> {
    /// A loaded node.
    pub(crate) fn of(node: &'a Node, depth: Option<u32>) -> RowView<'a> {
        RowView { key: &node.key, node: Some(node), depth }
    }
}

/// Whether `field` needs the whole node, not just its key (and depth).
pub(crate) fn needs_node(field: &Field) -> bool {
    matches!(field, Field::CreatedAt | Field::CreatedBy | Field::Property(_))
}

/// Whether evaluating `expr` needs the whole node.
pub(crate) fn expr_needs_node(expr: &Expr) -> bool {
    match expr {
        Expr::Or(items) | Expr::And(items) => items.iter().any(expr_needs_node),
        Expr::Not(inner) => expr_needs_node(inner),
        // A name also matches a node's other names (`names`, such as the
        // OpenLineage symlinks of a dataset), which its record holds.
        Expr::Compare { field: Field::Name, .. } | Expr::In { field: Field::Name, .. } => true,
        Expr::Compare { field, .. } | Expr::In { field, .. } | Expr::Exists { field } | Expr::Glob { field, .. } => {
            needs_node(field)
        }
    }
}

/// The value of `field` on a row; `None` when it is missing (or, for a
/// field that `needs_node`, when the row's node was not loaded: the
/// executor loads it whenever a statement names such a field).
pub(crate) fn field_value(field: &Field, row: RowView<'_>, aliases: &mut Aliases<'_>) -> Option<Value> {
    let key = row.key;
    Some(match field {
        Field::Type => Value::String(key.type_name.clone()),
        Field::Name => Value::String(key.name.clone()),
        Field::Version => Value::Int(i64::try_from(key.version).unwrap_or(i64::MAX)),
        Field::Key => Value::String(key.to_text()),
        Field::Depth => Value::Int(i64::from(row.depth?)),
        Field::CreatedAt => Value::Timestamp(row.node?.created_at),
        Field::CreatedBy => Value::String(row.node?.created_by.clone()),
        Field::Alias => {
            let held = aliases.held(key);
            if held.is_empty() {
                return None;
            }
            Value::List(held.into_iter().map(Value::String).collect())
        }
        Field::Property(path) => Value::get_path(&row.node?.props, path)?.clone(),
    })
}

/// Whether `expr` holds for the row.
pub(crate) fn eval(expr: &Expr, row: RowView<'_>, aliases: &mut Aliases<'_>) -> bool {
    match expr {
        Expr::Or(items) => items.iter().any(|e| eval(e, row, aliases)),
        Expr::And(items) => items.iter().all(|e| eval(e, row, aliases)),
        Expr::Not(inner) => !eval(inner, row, aliases),
        Expr::Compare { field: Field::Name, op: CompareOp::Eq, value } => {
            names(row).any(|n| compare(&n, CompareOp::Eq, &literal(value)))
        }
        Expr::Compare { field: Field::Name, op: CompareOp::Ne, value } => {
            !names(row).any(|n| compare(&n, CompareOp::Eq, &literal(value)))
        }
        Expr::In { field: Field::Name, values } => {
            names(row).any(|n| values.iter().any(|v| compare(&n, CompareOp::Eq, &literal(v))))
        }
        Expr::Compare { field, op, value } => {
            field_value(field, row, aliases).is_some_and(|lhs| compare(&lhs, *op, &literal(value)))
        }
        Expr::In { field, values } => field_value(field, row, aliases)
            .is_some_and(|lhs| values.iter().any(|v| compare(&lhs, CompareOp::Eq, &literal(v)))),
        Expr::Exists { field } => field_value(field, row, aliases).is_some(),
        Expr::Glob { field, pattern } => field_value(field, row, aliases).is_some_and(|lhs| glob_value(&lhs, pattern)),
    }
}

/// A row's entity name, then the other names its node lists in `names`.
fn names<'a>(row: RowView<'a>) -> impl Iterator<Item = Value> + 'a {
    let others = match row.node.map(|n| n.props.get("names")) {
        Some(Some(Value::List(items))) => items.as_slice(),
        _ => &[],
    };
    std::iter::once(Value::String(row.key.name.clone())).chain(others.iter().cloned())
}

fn glob_value(v: &Value, pattern: &str) -> bool {
    match v {
        Value::String(s) => glob(pattern, s),
        Value::List(items) => items.iter().any(|i| glob_value(i, pattern)),
        _ => false,
    }
}

/// `lhs op rhs` with the language's rules (see the module docs).
pub(crate) fn compare(lhs: &Value, op: CompareOp, rhs: &Value) -> bool {
    if let (Value::List(items), false) = (lhs, matches!(rhs, Value::List(_))) {
        return match op {
            CompareOp::Eq => items.iter().any(|i| compare(i, CompareOp::Eq, rhs)),
            CompareOp::Ne => !items.iter().any(|i| compare(i, CompareOp::Eq, rhs)),
            _ => false,
        };
    }
    if matches!((lhs, rhs), (Value::List(_), Value::List(_)) | (Value::Map(_), Value::Map(_))) {
        return match op {
            CompareOp::Eq => lhs == rhs,
            CompareOp::Ne => lhs != rhs,
            _ => false,
        };
    }
    let Some(ord) = ordering(lhs, rhs) else { return false };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
    }
}

/// The order of two scalars of comparable kinds; `None` when they are not comparable.
fn ordering(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::String(s)) => Timestamp::parse_rfc3339(s).map(|y| x.cmp(&y)),
        (Value::String(s), Value::Timestamp(y)) => Timestamp::parse_rfc3339(s).map(|x| x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

/// Glob match of the whole `text`: `*` any run of chars, `?` one char.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Splits a filter into a type restriction the walk can apply itself (a
/// top-level `type = x`, `type IN (...)`, or one such conjunct of an `AND`)
/// and the rest, which must be evaluated on loaded nodes.
pub(crate) fn split_type_filter(expr: Option<&Expr>) -> (Option<Vec<String>>, Option<Expr>) {
    let Some(expr) = expr else { return (None, None) };
    if let Some(types) = type_restriction(expr) {
        return (Some(types), None);
    }
    if let Expr::And(items) = expr {
        if let Some(i) = items.iter().position(|e| type_restriction(e).is_some()) {
            let types = type_restriction(&items[i]);
            let mut rest: Vec<Expr> = items.clone();
            rest.remove(i);
            let rest = if rest.len() == 1 { rest.pop() } else { Some(Expr::And(rest)) };
            return (types, rest);
        }
    }
    (None, Some(expr.clone()))
}

fn type_restriction(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::Compare { field: Field::Type, op: CompareOp::Eq, value: Literal::String(s) } => Some(vec![s.clone()]),
        Expr::In { field: Field::Type, values } => values
            .iter()
            .map(|v| match v {
                Literal::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Rank of a value's kind in `ORDER BY`: values of different kinds sort by kind.
fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) => 2,
        Value::String(_) => 3,
        Value::Timestamp(_) => 4,
        Value::List(_) => 5,
        Value::Map(_) => 6,
    }
}

/// Total order used by `ORDER BY` over possibly missing values; missing sorts last
/// in both directions.
pub(crate) fn sort_cmp(a: &Option<Value>, b: &Option<Value>, order: SortOrder) -> Ordering {
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(a), Some(b)) => (a, b),
    };
    let ord = kind_rank(a).cmp(&kind_rank(b)).then_with(|| match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => as_f64(a).total_cmp(&as_f64(b)),
        (Value::List(_) | Value::Map(_), _) => a.to_json().to_string().cmp(&b.to_json().to_string()),
        _ => ordering(a, b).unwrap_or(Ordering::Equal),
    });
    match order {
        SortOrder::Asc => ord,
        SortOrder::Desc => ord.reverse(),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(x) => *x,
        _ => 0.0,
    }
}

/// Whether an `ORDER BY` leaves the default order (depth, then key) in place.
pub(crate) fn is_default_order(order: Option<&OrderBy>) -> bool {
    order.is_none_or(|o| o.field == Field::Depth && o.order == SortOrder::Asc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_text() {
        assert!(glob("fr*", "fraud"));
        assert!(glob("f?aud", "fraud"));
        assert!(glob("*", ""));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("fr*", "xfraud"));
        assert!(!glob("f?", "fraud"));
    }

    #[test]
    fn mixed_kinds_compare_false() {
        assert!(!compare(&Value::Int(3), CompareOp::Eq, &Value::String("3".into())));
        assert!(!compare(&Value::Int(3), CompareOp::Ne, &Value::String("3".into())));
        assert!(compare(&Value::Int(3), CompareOp::Lt, &Value::Float(3.5)));
        assert!(compare(&Value::List(vec!["pii".into()]), CompareOp::Eq, &Value::String("pii".into())));
        assert!(compare(&Value::Timestamp(Timestamp(0)), CompareOp::Lt, &Value::String("2026-01-01T00:00:00Z".into())));
    }
}
