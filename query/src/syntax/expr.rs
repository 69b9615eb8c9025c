//! Parsers for fields, literal values, `{...}` maps and `WHERE` expressions.
//!
//! Precedence, loosest first: `OR`, `AND`, `NOT`, then comparisons and
//! parentheses. `AND`/`OR` chains are parsed iteratively into flat operand
//! lists, so a long chain never builds a deep tree; parentheses, `NOT`, and
//! nested lists and maps count against the nesting limit in [`Cx`].

use std::collections::HashSet;

use nom::Parser;
use nom::branch::alt;
use nom::combinator::{cut, map, value};
use nom::multi::separated_list1;

use super::ast::{CompareOp, Expr, Field, Map, Value};
use super::error::{Fault, PErr, PResult};
use super::lexer::{Number, at_string, ident, keyword, number, punct, string, word, ws};
use super::parser::Cx;

/// Words that cannot be a bare-word string value, because they end or
/// continue an expression.
const RESERVED_VALUES: &[&str] = &["AND", "OR", "NOT", "IN", "EXISTS"];

/// A field: a built-in name (case-insensitive) or a property path `a.b.c`.
pub(crate) fn field(input: &str) -> PResult<'_, Field> {
    let (mut rest, first) = ident("a field").parse(input)?;
    let mut segments = vec![first.to_string()];
    while let Some(after_dot) = rest.strip_prefix('.') {
        let (after, segment) = word(after_dot);
        if segment.is_empty() || segment.starts_with(|c: char| c.is_ascii_digit()) {
            return PErr::custom(after_dot, "expected a property name after '.'")
                .hint("property paths look like params.lr")
                .fail();
        }
        segments.push(segment.to_string());
        rest = after;
    }
    if segments.len() == 1 {
        for (name, builtin) in Field::BUILTINS {
            if first.eq_ignore_ascii_case(name) {
                return Ok((rest, builtin));
            }
        }
    }
    Ok((rest, Field::Property(segments)))
}

/// A comma-separated list of fields (`RETURN`).
pub(crate) fn fields(input: &str) -> PResult<'_, Vec<Field>> {
    separated_list1(punct(",", "','"), cut(field)).parse(input)
}

/// A scalar value: string, number, `true`, `false`, `null`, timestamp or a
/// bare word (a string).
pub(crate) fn scalar(input: &str) -> PResult<'_, Value> {
    let at = ws(input);
    let Some(first) = at.chars().next() else {
        return PErr::expected(at, "a value").error();
    };
    if first == '"' || first == '\'' {
        return map(string, Value::String).parse(at);
    }
    if first == '-' || first.is_ascii_digit() {
        return match number(at)? {
            (rest, Number::Int(i)) => Ok((rest, Value::Int(i))),
            (rest, Number::Float(f)) => Ok((rest, Value::Float(f))),
        };
    }
    if (first == 't' || first == 'T') && matches!(at[1..].chars().next(), Some('"' | '\'')) {
        return timestamp(at);
    }
    let (rest, bare) = word(at);
    if bare.is_empty() || !bare.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return PErr::expected(at, "a value").error();
    }
    let literal = [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)];
    for (text, literal) in literal {
        if bare.eq_ignore_ascii_case(text) {
            return Ok((rest, literal));
        }
    }
    if RESERVED_VALUES.iter().any(|r| bare.eq_ignore_ascii_case(r)) {
        return PErr::expected(at, "a value").error();
    }
    Ok((rest, Value::String(bare.to_string())))
}

/// `t'2026-11-30T12:00:00Z'`, stored as microseconds since the epoch, UTC.
fn timestamp(at: &str) -> PResult<'_, Value> {
    let (rest, text) = string(&at[1..])?;
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(time) => Ok((rest, Value::Timestamp(time.timestamp_micros()))),
        Err(e) => PErr::custom(at, format!("invalid timestamp `{text}`: {e}"))
            .hint("timestamps are RFC 3339, e.g. t'2026-11-30T12:00:00Z'")
            .len(at.len() - rest.len())
            .fail(),
    }
}

/// Any value: a scalar, a `[...]` list or a `{...}` map.
///
/// Lists and maps recurse through here; the functions on that path are plain
/// loops with small frames, so [`super::MAX_DEPTH`] levels fit any stack.
pub(crate) fn value_any(cx: Cx, input: &str) -> PResult<'_, Value> {
    let at = ws(input);
    if at.starts_with('[') {
        let (rest, items) = list(cx, at)?;
        return Ok((rest, Value::List(items)));
    }
    if at.starts_with('{') {
        let (rest, entries) = map_literal(cx, at)?;
        return Ok((rest, Value::Map(entries)));
    }
    scalar(at)
}

/// `[v, ...]`, possibly empty; `at` starts with `[`.
fn list(cx: Cx, at: &str) -> PResult<'_, Vec<Value>> {
    let inner = cx.nested(at)?;
    let mut items = Vec::new();
    let mut rest = &at[1..];
    if let Ok((after, _)) = punct("]", "']'").parse(rest) {
        return Ok((after, items));
    }
    loop {
        let (after, item) = value_any(inner, rest).map_err(into_failure)?;
        items.push(item);
        let (after, closed) = separator(after, "']'")?;
        rest = after;
        if closed {
            return Ok((rest, items));
        }
    }
}

/// `,` (false) or the closing bracket (true) of a list, map or `IN` list;
/// `close` is the bracket quoted, e.g. `']'`.
fn separator<'a>(input: &'a str, close: &'static str) -> PResult<'a, bool> {
    let at = ws(input);
    match at.chars().next() {
        Some(',') => Ok((&at[1..], false)),
        Some(c @ (']' | '}' | ')')) if close.contains(c) => Ok((&at[1..], true)),
        _ => PErr::expected_any(at, &["','", close]).fail(),
    }
}

/// `{ key: value, ... }`; keys are identifiers or strings and must be
/// unique. The empty map `{}` is allowed.
pub(crate) fn map_literal(cx: Cx, input: &str) -> PResult<'_, Map> {
    let at = ws(input);
    if !at.starts_with('{') {
        return PErr::expected(at, "a map like {key: value}").error();
    }
    let inner = cx.nested(at)?;
    let mut rest = &at[1..];
    let mut entries: Map = Vec::new();
    if let Ok((after, _)) = punct("}", "'}'").parse(rest) {
        return Ok((after, entries));
    }
    // Seen keys, so that duplicate detection stays linear in huge maps.
    let mut keys = HashSet::new();
    loop {
        let (after, key) = map_key(rest, &mut keys)?;
        let (after, value) = value_any(inner, after).map_err(into_failure)?;
        entries.push((key, value));
        let (after, closed) = separator(after, "'}'")?;
        rest = after;
        if closed {
            return Ok((rest, entries));
        }
    }
}

/// A map key (identifier or string) not yet in `keys`, and its `:`.
fn map_key<'a>(input: &'a str, keys: &mut HashSet<String>) -> PResult<'a, String> {
    let key_at = ws(input);
    let (after_key, key) = if at_string(key_at) {
        string(key_at)?
    } else {
        let (after, key) = ident("a key").parse(key_at).map_err(into_failure)?;
        (after, key.to_string())
    };
    if !keys.insert(key.clone()) {
        return PErr::custom(key_at, format!("duplicate key `{key}` in map"))
            .len(key_at.len() - after_key.len())
            .fail();
    }
    let (rest, _) = cut(punct(":", "':'")).parse(after_key)?;
    Ok((rest, key))
}

/// A `WHERE` expression.
///
/// Parentheses and `NOT` recurse through `expr`, `and_expr` and `unary`;
/// those are kept small for the same reason as [`value_any`].
pub(crate) fn expr(cx: Cx, input: &str) -> PResult<'_, Expr> {
    let (mut rest, first) = and_expr(cx, input)?;
    let mut operands = vec![first];
    while let Ok((after, _)) = keyword("OR").parse(rest) {
        let (after, operand) = and_expr(cx, after).map_err(into_failure)?;
        operands.push(operand);
        rest = after;
    }
    Ok((rest, flatten(operands, Expr::Or)))
}

fn and_expr(cx: Cx, input: &str) -> PResult<'_, Expr> {
    let (mut rest, first) = unary(cx, input)?;
    let mut operands = vec![first];
    while let Ok((after, _)) = keyword("AND").parse(rest) {
        let (after, operand) = unary(cx, after).map_err(into_failure)?;
        operands.push(operand);
        rest = after;
    }
    Ok((rest, flatten(operands, Expr::And)))
}

fn flatten(mut operands: Vec<Expr>, wrap: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1 {
        if let Some(only) = operands.pop() {
            return only;
        }
    }
    wrap(operands)
}

fn unary(cx: Cx, input: &str) -> PResult<'_, Expr> {
    let at = ws(input);
    let (after, found) = word(at);
    if found.eq_ignore_ascii_case("NOT") {
        let inner = cx.nested(at)?;
        let (rest, operand) = unary(inner, after).map_err(into_failure)?;
        return Ok((rest, Expr::Not(Box::new(operand))));
    }
    if let Some(after) = at.strip_prefix('(') {
        let inner = cx.nested(at)?;
        let (rest, inside) = expr(inner, after).map_err(into_failure)?;
        let (rest, _) = cut(punct(")", "')'")).parse(rest)?;
        return Ok((rest, inside));
    }
    condition(at)
}

/// A comparison, or an error that says a condition was expected.
fn condition(at: &str) -> PResult<'_, Expr> {
    comparison(at).map_err(|e| match e {
        nom::Err::Error(mut e) if e.rest == at.len() => {
            e.fault = Fault::Expected(vec!["a condition like type = dataset"]);
            nom::Err::Error(e)
        }
        other => other,
    })
}

/// `field op value`, `field IN (...)`, `field EXISTS`, `field ~ "glob"`.
fn comparison(input: &str) -> PResult<'_, Expr> {
    let (rest, field) = field(input)?;
    let mut op = alt((
        value(CompareOp::Eq, punct("=", "'='")),
        value(CompareOp::Ne, punct("!=", "'!='")),
        value(CompareOp::Le, punct("<=", "'<='")),
        value(CompareOp::Lt, punct("<", "'<'")),
        value(CompareOp::Ge, punct(">=", "'>='")),
        value(CompareOp::Gt, punct(">", "'>'")),
    ));
    if let Ok((rest, op)) = op.parse(rest) {
        let (rest, value) = cut(scalar).parse(rest)?;
        return Ok((rest, Expr::Compare { field, op, value }));
    }
    if let Ok((rest, _)) = keyword("IN").parse(rest) {
        let (mut rest, _) = cut(punct("(", "'('")).parse(rest)?;
        let mut values = Vec::new();
        loop {
            let (after, value) = cut(scalar).parse(rest)?;
            values.push(value);
            let (after, closed) = separator(after, "')'")?;
            rest = after;
            if closed {
                return Ok((rest, Expr::In { field, values }));
            }
        }
    }
    if let Ok((rest, _)) = keyword("EXISTS").parse(rest) {
        return Ok((rest, Expr::Exists { field }));
    }
    if let Ok((rest, _)) = punct("~", "'~'").parse(rest) {
        let (rest, pattern) = cut(string).parse(rest)?;
        return Ok((rest, Expr::Glob { field, pattern }));
    }
    let after = ws(rest);
    PErr::expected_any(after, &["'='", "'!='", "'<'", "'<='", "'>'", "'>='", "IN", "EXISTS", "'~'"]).fail()
}

/// Turns a recoverable error into a failure (the caller is committed).
pub(crate) fn into_failure(e: nom::Err<PErr>) -> nom::Err<PErr> {
    match e {
        nom::Err::Error(e) => nom::Err::Failure(e),
        other => other,
    }
}
