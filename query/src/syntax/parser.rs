//! Statement parsers: references, clauses, every statement form and scripts.
//!
//! Each statement parser reads its keyword, its required parts, then its
//! optional clauses in any order (each at most once), and finally checks that
//! the statement ends (`;` or end of input). That last check knows which
//! clauses could still follow, so a typo such as `WHER` is reported as
//! "expected ... WHERE ..., found `WHER`" with a did-you-mean hint, at the
//! typo itself. Once a keyword has matched, the rest of its clause is
//! committed (`cut`): errors inside it are reported where they happen.

use nom::Parser;
use nom::combinator::cut;
use nom::multi::separated_list1;

use super::ast::{
    At, Audit, Find, Lineage, LineageDirection, Link, Map, NodeRef, OrderBy, ReportFormat, SortOrder, Span, Statement,
    VersionSelector, Walk, WalkDirection,
};
use super::error::{PErr, PResult, closest};
use super::expr::{expr, field, fields, into_failure, map_literal};
use super::lexer::{at_string, describe_token, ident, is_ident_start, keyword, punct, string, unsigned, word, ws};

/// How deeply parentheses, `NOT`, lists, maps and `EXPLAIN` may nest.
pub const MAX_DEPTH: usize = 64;

/// Parsing context: the source length (to turn the input left into byte
/// offsets for spans) and the current nesting depth.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cx {
    src_len: usize,
    depth: usize,
}

impl Cx {
    /// The context for parsing `src` from its start.
    pub fn new(src: &str) -> Cx {
        Cx { src_len: src.len(), depth: 0 }
    }

    /// The byte offset in the source where `rest` starts.
    pub fn offset(self, rest: &str) -> usize {
        self.src_len.saturating_sub(rest.len())
    }

    /// The context one level deeper, or a failure at `at` past the limit.
    pub fn nested(self, at: &str) -> Result<Cx, nom::Err<PErr>> {
        if self.depth >= MAX_DEPTH {
            return PErr::custom(at, format!("nesting too deep (limit {MAX_DEPTH})"))
                .hint("simplify the statement")
                .fail();
        }
        Ok(Cx { depth: self.depth + 1, ..self })
    }
}

/// The statement keywords, for dispatch and did-you-mean hints.
const STATEMENT_KEYWORDS: &[&str] = &[
    "ANCESTORS",
    "DESCENDANTS",
    "LINEAGE",
    "PATH",
    "FIND",
    "SHOW",
    "HISTORY",
    "DIFF",
    "REPORT",
    "SNAPSHOTS",
    "AUDIT",
    "VERIFY",
    "EXPLAIN",
    "CREATE",
    "LINK",
    "UNLINK",
    "SET",
    "DETACH",
    "DELETE",
    "PROMOTE",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
];

/// The length of the bare name at the start of `s`:
/// `[A-Za-z0-9_][A-Za-z0-9_.-]*`, stopping before `--` (a comment) and `->`
/// (the `LINK` arrow).
pub(crate) fn bare_name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1);
        let ok = b.is_ascii_alphanumeric()
            || b == b'_'
            || (i > 0 && b == b'.')
            || (i > 0 && b == b'-' && !matches!(next, Some(b'-' | b'>')));
        if !ok {
            break;
        }
        i += 1;
    }
    i
}

/// A node reference `type:name[@version]`. Fails recoverably only when there
/// is no identifier at all; after the type it is committed.
pub(crate) fn node_ref(cx: Cx, input: &str) -> PResult<'_, NodeRef> {
    let at = ws(input);
    let start = cx.offset(at);
    let (rest, node_type) = match ident("a reference").parse(at) {
        Ok(ok) => ok,
        Err(_) => {
            let (found, _) = describe_token(at);
            return PErr::custom(at, format!("expected a reference like model:fraud@3, found {found}")).error();
        }
    };
    if rest.starts_with(char::is_whitespace) && ws(rest).starts_with(':') {
        return PErr::custom(rest, "unexpected space inside a reference")
            .hint(format!("write {node_type}:name without spaces"))
            .len(1)
            .fail();
    }
    let Some(rest) = rest.strip_prefix(':') else {
        return PErr::custom(rest, format!("expected ':' after the node type `{node_type}` in a reference"))
            .hint("references look like type:name@version, e.g. model:fraud@3")
            .len(rest.chars().next().map_or(0, char::len_utf8))
            .fail();
    };
    let (rest, name) = if rest.starts_with(['"', '\'']) {
        string(rest)?
    } else {
        let len = bare_name_len(rest);
        if len == 0 {
            return PErr::custom(rest, format!("expected a name after `{node_type}:`"))
                .hint("quote names with other characters: model:\"my model\"")
                .fail();
        }
        (&rest[len..], rest[..len].to_string())
    };
    let (rest, version) = match rest.strip_prefix('@') {
        Some(after) => {
            let (rest, version) = version_selector(after)?;
            (rest, Some(version))
        }
        None => (rest, None),
    };
    let node = NodeRef { node_type: node_type.to_string(), name, version, span: Span::new(start, cx.offset(rest)) };
    Ok((rest, node))
}

/// What follows `@`: a version number, `latest`, an alias or a quoted label.
fn version_selector(at: &str) -> PResult<'_, VersionSelector> {
    let quote_hint = |token: &str| format!("quote external version labels: @\"{token}\"");
    let Some(first) = at.chars().next() else {
        return PErr::custom(at, "expected a version number, alias or quoted label after '@'").fail();
    };
    if first == '"' || first == '\'' {
        let (rest, label) = string(at)?;
        return Ok((rest, VersionSelector::Label(label)));
    }
    let token_len = bare_name_len(at);
    if first.is_ascii_digit() {
        let (rest, digits) = word(at);
        let malformed = token_len > digits.len() || !digits.bytes().all(|b| b.is_ascii_digit());
        if malformed {
            let token = &at[..token_len.max(digits.len())];
            return PErr::custom(at, format!("invalid version `{token}`"))
                .hint(quote_hint(token))
                .len(token.len())
                .fail();
        }
        return match digits.parse::<u64>() {
            Ok(number) => Ok((rest, VersionSelector::Number(number))),
            Err(_) => PErr::custom(at, format!("version `{digits}` is out of range")).len(digits.len()).fail(),
        };
    }
    if is_ident_start(first) {
        let (rest, alias) = word(at);
        if token_len > alias.len() {
            let token = &at[..token_len];
            return PErr::custom(at, format!("invalid version selector `{token}`"))
                .hint(quote_hint(token))
                .len(token.len())
                .fail();
        }
        if alias.eq_ignore_ascii_case("latest") {
            return Ok((rest, VersionSelector::Latest));
        }
        return Ok((rest, VersionSelector::Alias(alias.to_string())));
    }
    PErr::custom(at, "expected a version number, alias or quoted label after '@'")
        .hint("for example model:fraud@3, model:fraud@production or model:fraud@\"v1.2\"")
        .fail()
}

/// `at := INTEGER | STRING`: a snapshot id or a timestamp string.
fn at_point(input: &str) -> PResult<'_, At> {
    let at = ws(input);
    if at_string(at) {
        let (rest, time) = string(at)?;
        return Ok((rest, At::Time(time)));
    }
    if at.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        let (rest, id) = unsigned("a snapshot id").parse(at)?;
        return Ok((rest, At::Snapshot(id)));
    }
    let (found, _) = describe_token(at);
    PErr::custom(at, format!("expected a snapshot id or a quoted timestamp, found {found}"))
        .hint("for example AS OF 42 or AS OF \"2026-11-30T12:00:00Z\"")
        .fail()
}

/// An edge label: an identifier or a quoted string.
fn label(input: &str) -> PResult<'_, String> {
    if at_string(input) {
        return string(input);
    }
    let (rest, label) = ident("an edge label").parse(input)?;
    Ok((rest, label.to_string()))
}

/// A quoted string after a keyword such as `REASON`.
fn quoted(input: &str) -> PResult<'_, String> {
    cut(string).parse(input)
}

/// Checks that the statement ends here: `;` or end of input. Otherwise the
/// error lists `clauses`, the clauses that could still follow.
fn end_of_statement<'a>(input: &'a str, clauses: &[&'static str]) -> PResult<'a, ()> {
    let at = ws(input);
    if at.is_empty() || at.starts_with(';') {
        return Ok((input, ()));
    }
    if clauses.is_empty() {
        let (found, _) = describe_token(at);
        return PErr::custom(at, format!("unexpected {found} after the end of the statement"))
            .hint("separate statements with ';'")
            .fail();
    }
    let mut expected = clauses.to_vec();
    expected.push("';'");
    PErr::expected_any(at, &expected).fail()
}

/// Parses optional clauses in any order, each group at most once, then the
/// end of the statement. `groups` lists each clause's alternative spellings
/// (`"AS OF"` is matched on its first word). `parse_clause` gets the matched
/// spelling and the input after its first word, and parses the rest.
fn clauses<'a>(
    input: &'a str,
    groups: &[&[&'static str]],
    mut parse_clause: impl FnMut(&'static str, &'a str) -> PResult<'a, ()>,
) -> PResult<'a, ()> {
    let mut seen = vec![false; groups.len()];
    let mut last = None;
    let mut input = input;
    loop {
        let at = ws(input);
        let (after, found) = word(at);
        let matched = groups.iter().enumerate().find_map(|(index, group)| {
            group.iter().find_map(|name| {
                let first = name.split(' ').next().unwrap_or(name);
                (!found.is_empty() && first.eq_ignore_ascii_case(found)).then_some((index, *name))
            })
        });
        let Some((index, name)) = matched else { break };
        if seen[index] {
            let message = match groups[index] {
                [one] => format!("duplicate {one} clause"),
                many => format!("more than one of {}", many.join(", ")),
            };
            let error = PErr::custom(at, message).len(found.len());
            return match name {
                "WHERE" => error.hint("combine conditions with AND").fail(),
                _ => error.fail(),
            };
        }
        seen[index] = true;
        last = Some(name);
        let (rest, ()) = parse_clause(name, after).map_err(into_failure)?;
        input = rest;
    }
    // After a condition, a misspelt AND or OR is as likely as a clause.
    let continuations: &[&'static str] = if last == Some("WHERE") { &["AND", "OR"] } else { &[] };
    let unseen = groups.iter().zip(&seen).filter(|(_, seen)| !**seen).flat_map(|(group, _)| group.iter().copied());
    let remaining: Vec<&'static str> = continuations.iter().copied().chain(unseen).collect();
    end_of_statement(input, &remaining)
}

/// The second word of a two-word clause (`OF` of `AS OF`, `BY` of `ORDER BY`).
fn second_word<'a>(input: &'a str, first: &str, second: &'static str) -> PResult<'a, ()> {
    match keyword(second).parse(input) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(_) => {
            let at = ws(input);
            let (found, _) = describe_token(at);
            PErr::custom(at, format!("expected {second} after {first}, found {found}"))
                .hint(format!("write {first} {second}"))
                .fail()
        }
    }
}

/// `ORDER BY field [ASC|DESC]`, after `ORDER`.
fn order_by(input: &str) -> PResult<'_, OrderBy> {
    let (rest, ()) = second_word(input, "ORDER", "BY")?;
    let (rest, field) = cut(field).parse(rest)?;
    if let Ok((rest, _)) = keyword("DESC").parse(rest) {
        return Ok((rest, OrderBy { field, order: SortOrder::Desc }));
    }
    let rest = keyword("ASC").parse(rest).map_or(rest, |(rest, _)| rest);
    Ok((rest, OrderBy { field, order: SortOrder::Asc }))
}

/// `OF`, required after `statement`.
fn of_keyword<'a>(input: &'a str, statement: &str, example: &str) -> PResult<'a, ()> {
    match keyword("OF").parse(input) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(_) => {
            let at = ws(input);
            PErr::custom(at, format!("missing OF after {statement}"))
                .hint(format!("write {statement} OF {example}"))
                .fail()
        }
    }
}

/// A reference in a position where one is required.
fn required_ref(cx: Cx, input: &str) -> PResult<'_, NodeRef> {
    node_ref(cx, input).map_err(into_failure)
}

/// Where a statement starts: gives the statement's span once it is parsed.
#[derive(Clone, Copy, Debug)]
struct Head {
    cx: Cx,
    start: usize,
}

impl Head {
    /// The span from the statement's start to where `rest` begins.
    fn span(self, rest: &str) -> Span {
        Span::new(self.start, self.cx.offset(rest))
    }
}

/// One statement, starting at `input`; the input left is at `;` or the end.
///
/// Each statement form has its own function, so the frame of this one stays
/// small: nested `EXPLAIN`s recurse through it.
pub(crate) fn statement(cx: Cx, input: &str) -> PResult<'_, Statement> {
    let at = ws(input);
    let head = Head { cx, start: cx.offset(at) };
    let (rest, found) = word(at);
    let upper = found.to_ascii_uppercase();
    match upper.as_str() {
        "ANCESTORS" => walk(head, rest, WalkDirection::Ancestors),
        "DESCENDANTS" => walk(head, rest, WalkDirection::Descendants),
        "LINEAGE" => lineage(head, rest),
        "PATH" => path(head, rest),
        "FIND" => find(head, rest),
        "SHOW" => show(head, rest),
        "HISTORY" => history(head, at, rest),
        "DIFF" => diff(head, rest),
        "REPORT" => report(head, rest),
        "SNAPSHOTS" => snapshots(head, rest),
        "AUDIT" => audit(head, rest),
        "VERIFY" | "COMMIT" | "ROLLBACK" => bare_statement(head, rest, &upper),
        "EXPLAIN" => explain(head, at, rest),
        "CREATE" => create(head, rest),
        "LINK" => link(head, rest, true),
        "UNLINK" => link(head, rest, false),
        "SET" => set(head, rest),
        "DETACH" | "DELETE" => delete(head, rest, upper == "DETACH"),
        "PROMOTE" => promote(head, rest),
        "BEGIN" => begin(head, rest),
        _ => unknown_statement(at, found),
    }
}

/// `VERIFY`, `COMMIT`, `ROLLBACK`: a keyword alone.
fn bare_statement<'a>(head: Head, rest: &'a str, keyword: &str) -> PResult<'a, Statement> {
    let (rest, ()) = end_of_statement(rest, &[])?;
    let span = head.span(rest);
    let statement = match keyword {
        "VERIFY" => Statement::Verify { span },
        "COMMIT" => Statement::Commit { span },
        _ => Statement::Rollback { span },
    };
    Ok((rest, statement))
}

/// `AS OF at` as the only optional clause, then the end of the statement.
fn as_of_clause(input: &str) -> PResult<'_, Option<At>> {
    let mut as_of = None;
    let (rest, ()) = clauses(input, &[&["AS OF"]], |_, i| {
        let (i, ()) = second_word(i, "AS", "OF")?;
        let (i, at) = cut(at_point).parse(i)?;
        as_of = Some(at);
        Ok((i, ()))
    })?;
    Ok((rest, as_of))
}

/// `PATH FROM ref TO ref [AS OF at]`, after `PATH`.
fn path(head: Head, input: &str) -> PResult<'_, Statement> {
    let rest = match keyword("FROM").parse(input) {
        Ok((rest, _)) => rest,
        Err(_) => {
            return PErr::custom(ws(input), "missing FROM after PATH")
                .hint("write PATH FROM model:a TO dataset:b")
                .fail();
        }
    };
    let (rest, from) = required_ref(head.cx, rest)?;
    let (rest, _) = cut(keyword("TO")).parse(rest)?;
    let (rest, to) = required_ref(head.cx, rest)?;
    let (rest, as_of) = as_of_clause(rest)?;
    let span = head.span(rest);
    Ok((rest, Statement::Path { from, to, as_of, span }))
}

/// `SHOW ref [AS OF at]`, after `SHOW`.
fn show(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, target) = required_ref(head.cx, input)?;
    let (rest, as_of) = as_of_clause(rest)?;
    let span = head.span(rest);
    Ok((rest, Statement::Show { target, as_of, span }))
}

/// `HISTORY OF entity`, after `HISTORY` (`at` is where `HISTORY` starts).
fn history<'a>(head: Head, at: &'a str, input: &'a str) -> PResult<'a, Statement> {
    let (rest, ()) = of_keyword(input, "HISTORY", "model:fraud")?;
    let (rest, entity) = required_ref(head.cx, rest)?;
    if entity.version.is_some() {
        let ref_at = &at[entity.span.start - head.start..];
        let without = format!("{}:{}", entity.node_type, entity.name);
        return PErr::custom(ref_at, "HISTORY OF takes an entity without a version")
            .hint(format!("write HISTORY OF {without}"))
            .len(entity.span.end - entity.span.start)
            .fail();
    }
    let (rest, ()) = end_of_statement(rest, &[])?;
    let span = head.span(rest);
    Ok((rest, Statement::History { entity, span }))
}

/// `DIFF ref ref`, after `DIFF`.
fn diff(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, left) = required_ref(head.cx, input)?;
    let (rest, right) = required_ref(head.cx, rest)?;
    let (rest, ()) = end_of_statement(rest, &[])?;
    let span = head.span(rest);
    Ok((rest, Statement::Diff { left, right, span }))
}

/// `REPORT ref [AS OF at] [FORMAT f]`, after `REPORT`.
fn report(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, target) = required_ref(head.cx, input)?;
    let (mut format, mut as_of) = (None, None);
    let (rest, ()) = clauses(rest, &[&["AS OF"], &["FORMAT"]], |clause, i| match clause {
        "AS OF" => {
            let (i, ()) = second_word(i, "AS", "OF")?;
            let (i, at) = cut(at_point).parse(i)?;
            as_of = Some(at);
            Ok((i, ()))
        }
        _ => {
            let (i, parsed) = report_format(i)?;
            format = Some(parsed);
            Ok((i, ()))
        }
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Report { target, as_of, format, span }))
}

/// `SNAPSHOTS [LIMIT n]`, after `SNAPSHOTS`.
fn snapshots(head: Head, input: &str) -> PResult<'_, Statement> {
    let mut limit = None;
    let (rest, ()) = clauses(input, &[&["LIMIT"]], |_, i| {
        let (i, n) = cut(unsigned("a row count")).parse(i)?;
        limit = Some(n);
        Ok((i, ()))
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Snapshots { limit, span }))
}

/// `EXPLAIN statement`, after `EXPLAIN` (`at` is where `EXPLAIN` starts).
fn explain<'a>(head: Head, at: &'a str, input: &'a str) -> PResult<'a, Statement> {
    let inner = head.cx.nested(at)?;
    let (rest, explained) = statement(inner, input).map_err(into_failure)?;
    let span = head.span(rest);
    let statement = Statement::Explain { statement: Box::new(explained), span };
    Ok((rest, statement))
}

/// `CREATE ref [SET map]`, after `CREATE`.
fn create(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, target) = required_ref(head.cx, input)?;
    let mut properties = Map::new();
    let (rest, ()) = clauses(rest, &[&["SET"]], |_, i| {
        let (i, parsed) = cut(|i| map_literal(head.cx, i)).parse(i)?;
        properties = parsed;
        Ok((i, ()))
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Create { target, properties, span }))
}

/// `SET ref map`, after `SET`.
fn set(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, target) = required_ref(head.cx, input)?;
    let (rest, properties) = cut(|i| map_literal(head.cx, i)).parse(rest)?;
    let (rest, ()) = end_of_statement(rest, &[])?;
    let span = head.span(rest);
    Ok((rest, Statement::Set { target, properties, span }))
}

/// `[DETACH] DELETE ref`, after the first keyword.
fn delete(head: Head, input: &str, detach: bool) -> PResult<'_, Statement> {
    let rest = if detach {
        match keyword("DELETE").parse(input) {
            Ok((rest, _)) => rest,
            Err(_) => {
                return PErr::custom(ws(input), "expected DELETE after DETACH")
                    .hint("write DETACH DELETE model:fraud@3")
                    .fail();
            }
        }
    } else {
        input
    };
    let (rest, target) = required_ref(head.cx, rest)?;
    let (rest, ()) = end_of_statement(rest, &[])?;
    let span = head.span(rest);
    Ok((rest, Statement::Delete { target, detach, span }))
}

/// `PROMOTE ref TO alias [REASON string]`, after `PROMOTE`.
fn promote(head: Head, input: &str) -> PResult<'_, Statement> {
    let (rest, target) = required_ref(head.cx, input)?;
    let (rest, _) = match keyword("TO").parse(rest) {
        Ok(ok) => ok,
        Err(_) => {
            return PErr::custom(ws(rest), "expected TO and an alias after the reference")
                .hint("write PROMOTE model:fraud@3 TO production")
                .fail();
        }
    };
    let (rest, alias) = cut(ident("an alias")).parse(rest)?;
    let mut reason = None;
    let (rest, ()) = clauses(rest, &[&["REASON"]], |_, i| {
        let (i, text) = quoted(i)?;
        reason = Some(text);
        Ok((i, ()))
    })?;
    let span = head.span(rest);
    let alias = alias.to_string();
    Ok((rest, Statement::Promote { target, alias, reason, span }))
}

/// `BEGIN [AUTHOR string] [MESSAGE string]`, after `BEGIN`.
fn begin(head: Head, input: &str) -> PResult<'_, Statement> {
    let (mut author, mut message) = (None, None);
    let (rest, ()) = clauses(input, &[&["AUTHOR"], &["MESSAGE"]], |name, i| {
        let (i, text) = quoted(i)?;
        match name {
            "AUTHOR" => author = Some(text),
            _ => message = Some(text),
        }
        Ok((i, ()))
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Begin { author, message, span }))
}

fn unknown_statement<'a, T>(at: &'a str, found: &str) -> PResult<'a, T> {
    if found.is_empty() || !found.starts_with(is_ident_start) {
        let (token, _) = describe_token(at);
        return PErr::custom(at, format!("expected a statement, found {token}"))
            .hint("statements start with a keyword such as FIND, SHOW, ANCESTORS or CREATE")
            .fail();
    }
    let error = PErr::custom(at, format!("unknown statement `{found}`")).len(found.len());
    match closest(found, STATEMENT_KEYWORDS.iter().map(|k| (*k, *k))) {
        Some(keyword) => error.hint(format!("did you mean {keyword}?")).fail(),
        None => error.hint("statements start with a keyword such as FIND, SHOW, ANCESTORS or CREATE").fail(),
    }
}

/// `ANCESTORS|DESCENDANTS OF ref` and its clauses, after the first keyword.
fn walk(head: Head, input: &str, direction: WalkDirection) -> PResult<'_, Statement> {
    let cx = head.cx;
    let name = match direction {
        WalkDirection::Ancestors => "ANCESTORS",
        WalkDirection::Descendants => "DESCENDANTS",
    };
    let (rest, ()) = of_keyword(input, name, "model:fraud@3")?;
    let (rest, start) = required_ref(cx, rest)?;
    let mut walk = Walk {
        direction,
        start,
        depth: None,
        via: Vec::new(),
        filter: None,
        as_of: None,
        columns: Vec::new(),
        order_by: None,
        limit: None,
    };
    let groups: &[&[&str]] = &[&["DEPTH"], &["VIA"], &["WHERE"], &["AS OF"], &["RETURN"], &["ORDER BY"], &["LIMIT"]];
    let (rest, ()) = clauses(rest, groups, |clause, i| match clause {
        "DEPTH" => cut(unsigned("a depth")).parse(i).map(|(i, n)| {
            walk.depth = Some(n);
            (i, ())
        }),
        "VIA" => separated_list1(punct(",", "','"), cut(label)).parse(i).map(|(i, labels)| {
            walk.via = labels;
            (i, ())
        }),
        "WHERE" => cut(|i| expr(cx, i)).parse(i).map(|(i, e)| {
            walk.filter = Some(e);
            (i, ())
        }),
        "AS OF" => {
            let (i, ()) = second_word(i, "AS", "OF")?;
            let (i, at) = cut(at_point).parse(i)?;
            walk.as_of = Some(at);
            Ok((i, ()))
        }
        "RETURN" => cut(fields).parse(i).map(|(i, columns)| {
            walk.columns = columns;
            (i, ())
        }),
        "ORDER BY" => order_by(i).map(|(i, order)| {
            walk.order_by = Some(order);
            (i, ())
        }),
        _ => cut(unsigned("a row count")).parse(i).map(|(i, n)| {
            walk.limit = Some(n);
            (i, ())
        }),
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Walk(walk, span)))
}

/// `LINEAGE OF ref ...`, after `LINEAGE`.
fn lineage(head: Head, input: &str) -> PResult<'_, Statement> {
    let cx = head.cx;
    let (rest, ()) = of_keyword(input, "LINEAGE", "model:fraud@3")?;
    let (rest, start) = required_ref(cx, rest)?;
    let mut lineage = Lineage { start, direction: None, depth: None, filter: None, as_of: None };
    let groups: &[&[&str]] = &[&["UPSTREAM", "DOWNSTREAM", "BOTH"], &["DEPTH"], &["WHERE"], &["AS OF"]];
    let (rest, ()) = clauses(rest, groups, |clause, i| match clause {
        "UPSTREAM" | "DOWNSTREAM" | "BOTH" => {
            lineage.direction = Some(match clause {
                "UPSTREAM" => LineageDirection::Upstream,
                "DOWNSTREAM" => LineageDirection::Downstream,
                _ => LineageDirection::Both,
            });
            Ok((i, ()))
        }
        "DEPTH" => cut(unsigned("a depth")).parse(i).map(|(i, n)| {
            lineage.depth = Some(n);
            (i, ())
        }),
        "WHERE" => cut(|i| expr(cx, i)).parse(i).map(|(i, e)| {
            lineage.filter = Some(e);
            (i, ())
        }),
        _ => {
            let (i, ()) = second_word(i, "AS", "OF")?;
            let (i, at) = cut(at_point).parse(i)?;
            lineage.as_of = Some(at);
            Ok((i, ()))
        }
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Lineage(lineage, span)))
}

/// `FIND type|* ...`, after `FIND`.
fn find(head: Head, input: &str) -> PResult<'_, Statement> {
    let cx = head.cx;
    const CLAUSE_WORDS: &[&str] = &["WHERE", "AS", "RETURN", "ORDER", "LIMIT"];
    let at = ws(input);
    let (rest, node_type) = if let Some(rest) = at.strip_prefix('*') {
        (rest, None)
    } else {
        let (rest, found) = word(at);
        let is_clause = CLAUSE_WORDS.iter().any(|k| k.eq_ignore_ascii_case(found));
        if found.is_empty() || !found.starts_with(is_ident_start) || is_clause {
            let (token, _) = describe_token(at);
            return PErr::custom(at, format!("expected a node type or '*' after FIND, found {token}"))
                .hint("write FIND model, or FIND * for every type")
                .fail();
        }
        (rest, Some(found.to_string()))
    };
    let mut find = Find { node_type, filter: None, as_of: None, columns: Vec::new(), order_by: None, limit: None };
    let groups: &[&[&str]] = &[&["WHERE"], &["AS OF"], &["RETURN"], &["ORDER BY"], &["LIMIT"]];
    let (rest, ()) = clauses(rest, groups, |clause, i| match clause {
        "WHERE" => cut(|i| expr(cx, i)).parse(i).map(|(i, e)| {
            find.filter = Some(e);
            (i, ())
        }),
        "AS OF" => {
            let (i, ()) = second_word(i, "AS", "OF")?;
            let (i, at) = cut(at_point).parse(i)?;
            find.as_of = Some(at);
            Ok((i, ()))
        }
        "RETURN" => cut(fields).parse(i).map(|(i, columns)| {
            find.columns = columns;
            (i, ())
        }),
        "ORDER BY" => order_by(i).map(|(i, order)| {
            find.order_by = Some(order);
            (i, ())
        }),
        _ => cut(unsigned("a row count")).parse(i).map(|(i, n)| {
            find.limit = Some(n);
            (i, ())
        }),
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Find(find, span)))
}

/// `AUDIT [OF ref] [SINCE at] [UNTIL at] [LIMIT n]`, after `AUDIT`.
fn audit(head: Head, input: &str) -> PResult<'_, Statement> {
    let cx = head.cx;
    let mut audit = Audit { target: None, since: None, until: None, limit: None };
    let groups: &[&[&str]] = &[&["OF"], &["SINCE"], &["UNTIL"], &["LIMIT"]];
    let (rest, ()) = clauses(input, groups, |clause, i| match clause {
        "OF" => required_ref(cx, i).map(|(i, target)| {
            audit.target = Some(target);
            (i, ())
        }),
        "SINCE" => cut(at_point).parse(i).map(|(i, at)| {
            audit.since = Some(at);
            (i, ())
        }),
        "UNTIL" => cut(at_point).parse(i).map(|(i, at)| {
            audit.until = Some(at);
            (i, ())
        }),
        _ => cut(unsigned("a row count")).parse(i).map(|(i, n)| {
            audit.limit = Some(n);
            (i, ())
        }),
    })?;
    let span = head.span(rest);
    Ok((rest, Statement::Audit(audit, span)))
}

/// `LINK|UNLINK ref -> ref [AS label] [SET map]` (no `SET` for `UNLINK`).
fn link(head: Head, input: &str, is_link: bool) -> PResult<'_, Statement> {
    let cx = head.cx;
    let statement = if is_link { "LINK" } else { "UNLINK" };
    let (rest, from) = required_ref(cx, input)?;
    let rest = match punct("->", "'->'").parse(rest) {
        Ok((rest, _)) => rest,
        Err(_) => {
            let at = ws(rest);
            let (found, _) = describe_token(at);
            return PErr::custom(at, format!("expected '->' between the references of {statement}, found {found}"))
                .hint(format!("write {statement} dataset:raw@1 -> model:fraud@3"))
                .fail();
        }
    };
    let (rest, to) = required_ref(cx, rest)?;
    let mut link = Link { from, to, label: None, properties: Map::new() };
    let groups: &[&[&str]] = if is_link { &[&["AS"], &["SET"]] } else { &[&["AS"]] };
    let (rest, ()) = clauses(rest, groups, |clause, i| match clause {
        "AS" => cut(label).parse(i).map(|(i, label)| {
            link.label = Some(label);
            (i, ())
        }),
        _ => cut(|i| map_literal(cx, i)).parse(i).map(|(i, properties)| {
            link.properties = properties;
            (i, ())
        }),
    })?;
    let span = head.span(rest);
    let statement = if is_link { Statement::Link(link, span) } else { Statement::Unlink(link, span) };
    Ok((rest, statement))
}

/// `json|markdown|dot|html`, after `FORMAT`.
fn report_format(input: &str) -> PResult<'_, ReportFormat> {
    const FORMATS: [(&str, ReportFormat); 4] = [
        ("json", ReportFormat::Json),
        ("markdown", ReportFormat::Markdown),
        ("dot", ReportFormat::Dot),
        ("html", ReportFormat::Html),
    ];
    let at = ws(input);
    let (rest, found) = word(at);
    for (name, format) in FORMATS {
        if !found.is_empty() && found.eq_ignore_ascii_case(name) {
            return Ok((rest, format));
        }
    }
    let (token, len) = describe_token(at);
    let error = PErr::custom(at, format!("unknown report format {token}")).len(len);
    match closest(found, FORMATS.iter().map(|(name, _)| (*name, *name))) {
        Some(name) => error.hint(format!("did you mean {name}?")).fail(),
        None => error.hint("formats are json, markdown, dot and html").fail(),
    }
}

/// A whole script: statements separated by `;`, empty statements skipped.
pub(crate) fn script(src: &str) -> Result<Vec<Statement>, PErr> {
    let cx = Cx::new(src);
    let mut statements = Vec::new();
    let mut input = src;
    loop {
        let at = ws(input);
        if at.is_empty() {
            return Ok(statements);
        }
        if let Some(rest) = at.strip_prefix(';') {
            input = rest;
            continue;
        }
        let (rest, parsed) = statement(cx, at).map_err(unwrap_error)?;
        statements.push(parsed);
        input = rest;
    }
}

/// Exactly one statement, optionally followed by `;`.
pub(crate) fn single(src: &str) -> Result<Statement, PErr> {
    let cx = Cx::new(src);
    let mut at = ws(src);
    while let Some(rest) = at.strip_prefix(';') {
        at = ws(rest);
    }
    if at.is_empty() {
        return Err(PErr::custom(at, "expected a statement, found end of input"));
    }
    let (rest, parsed) = statement(cx, at).map_err(unwrap_error)?;
    let mut rest = ws(rest);
    while let Some(after) = rest.strip_prefix(';') {
        rest = ws(after);
    }
    if !rest.is_empty() {
        let (found, _) = describe_token(rest);
        return Err(PErr::custom(
            rest,
            format!("expected a single statement, found a second one starting with {found}"),
        )
        .hint("run one statement at a time here"));
    }
    Ok(parsed)
}

fn unwrap_error(e: nom::Err<PErr>) -> PErr {
    match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => PErr::custom("", "unexpected end of input"),
    }
}
