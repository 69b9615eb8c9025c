//! Property tests: generated trees survive `parse(print(tree))`, and no
//! input at all makes the parser panic.

use lineagedb_query::syntax::{
    At, Audit, CompareOp, Expr, Field, Find, KEYWORDS, Lineage, LineageDirection, Link, Map, NodeRef, OrderBy,
    ReportFormat, SortOrder, Span, Statement, Value, VersionSelector, Walk, WalkDirection, parse_script,
    parse_statement, statement_is_complete,
};
use proptest::prelude::*;

fn is_reserved(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
        || Field::BUILTINS.iter().any(|(name, _)| name.eq_ignore_ascii_case(word))
}

fn ident() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_filter("not a keyword", |s| !is_reserved(s))
}

/// Text with the characters that need care: quotes, backslashes, control
/// chars, unicode, spaces, comment and arrow markers.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9_.@:;-]{0,12}", "[ \"'\\\\\n\t\r\u{0}\u{7f}é😀;>-]{0,10}", any::<String>(),]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", text()]
}

fn version() -> impl Strategy<Value = VersionSelector> {
    prop_oneof![
        any::<u64>().prop_map(VersionSelector::Number),
        Just(VersionSelector::Latest),
        ident().prop_filter("not latest", |s| !s.eq_ignore_ascii_case("latest")).prop_map(VersionSelector::Alias),
        text().prop_map(VersionSelector::Label),
    ]
}

fn node_ref() -> impl Strategy<Value = NodeRef> {
    (ident(), name(), proptest::option::of(version())).prop_map(|(node_type, name, version)| NodeRef {
        node_type,
        name,
        version,
        span: Span::default(),
    })
}

fn entity() -> impl Strategy<Value = NodeRef> {
    node_ref().prop_map(|r| NodeRef { version: None, ..r })
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![any::<u64>().prop_map(At::Snapshot), text().prop_map(At::Time)]
}

fn field() -> impl Strategy<Value = Field> {
    let builtins: Vec<Field> = Field::BUILTINS.iter().map(|(_, f)| f.clone()).collect();
    prop_oneof![proptest::sample::select(builtins), proptest::collection::vec(ident(), 1..4).prop_map(Field::Property),]
}

/// Timestamps between 0000-01-01 and 9999-12-31, the RFC 3339 range.
fn timestamp() -> impl Strategy<Value = i64> {
    -62_167_219_200_000_000i64..253_402_300_799_999_999i64
}

fn finite_float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        finite_float().prop_map(Value::Float),
        text().prop_map(Value::String),
        timestamp().prop_map(Value::Timestamp),
    ]
}

fn unique_keys<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut out: Vec<(String, T)> = Vec::new();
    for (key, value) in entries {
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, value));
        }
    }
    out
}

fn any_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec((text(), inner), 0..4).prop_map(|entries| Value::Map(unique_keys(entries))),
        ]
    })
}

fn map() -> impl Strategy<Value = Map> {
    proptest::collection::vec((text(), any_value()), 0..4).prop_map(unique_keys)
}

fn comparison() -> impl Strategy<Value = Expr> {
    let op = proptest::sample::select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
    ]);
    prop_oneof![
        (field(), op, scalar()).prop_map(|(field, op, value)| Expr::Compare { field, op, value }),
        (field(), proptest::collection::vec(scalar(), 1..4)).prop_map(|(field, values)| Expr::In { field, values }),
        field().prop_map(|field| Expr::Exists { field }),
        (field(), text()).prop_map(|(field, pattern)| Expr::Glob { field, pattern }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    comparison().prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn order_by() -> impl Strategy<Value = OrderBy> {
    (field(), any::<bool>())
        .prop_map(|(field, desc)| OrderBy { field, order: if desc { SortOrder::Desc } else { SortOrder::Asc } })
}

fn columns() -> impl Strategy<Value = Vec<Field>> {
    proptest::collection::vec(field(), 0..4)
}

fn walk() -> impl Strategy<Value = Statement> {
    (
        (any::<bool>(), node_ref(), proptest::option::of(any::<u64>())),
        proptest::collection::vec(text(), 0..3),
        proptest::option::of(expr()),
        proptest::option::of(at()),
        columns(),
        proptest::option::of(order_by()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|((up, start, depth), via, filter, as_of, columns, order_by, limit)| {
            let direction = if up { WalkDirection::Ancestors } else { WalkDirection::Descendants };
            let walk = Walk { direction, start, depth, via, filter, as_of, columns, order_by, limit };
            Statement::Walk(walk, Span::default())
        })
}

fn lineage() -> impl Strategy<Value = Statement> {
    let direction = proptest::option::of(proptest::sample::select(vec![
        LineageDirection::Upstream,
        LineageDirection::Downstream,
        LineageDirection::Both,
    ]));
    (
        node_ref(),
        direction,
        proptest::option::of(any::<u64>()),
        proptest::option::of(expr()),
        proptest::option::of(at()),
    )
        .prop_map(|(start, direction, depth, filter, as_of)| {
            let lineage = Lineage { start, direction, depth, filter, as_of };
            Statement::Lineage(lineage, Span::default())
        })
}

fn find() -> impl Strategy<Value = Statement> {
    (
        proptest::option::of(ident()),
        proptest::option::of(expr()),
        proptest::option::of(at()),
        columns(),
        proptest::option::of(order_by()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(node_type, filter, as_of, columns, order_by, limit)| {
            let find = Find { node_type, filter, as_of, columns, order_by, limit };
            Statement::Find(find, Span::default())
        })
}

fn link(with_properties: bool) -> impl Strategy<Value = Link> {
    (node_ref(), node_ref(), proptest::option::of(text()), map()).prop_map(move |(from, to, label, properties)| Link {
        from,
        to,
        label,
        properties: if with_properties { properties } else { Map::new() },
    })
}

fn simple_statement() -> impl Strategy<Value = Statement> {
    let span = Span::default();
    let format = proptest::sample::select(vec![
        ReportFormat::Json,
        ReportFormat::Markdown,
        ReportFormat::Dot,
        ReportFormat::Html,
    ]);
    prop_oneof![
        walk(),
        lineage(),
        find(),
        (node_ref(), node_ref(), proptest::option::of(at())).prop_map(move |(from, to, as_of)| Statement::Path {
            from,
            to,
            as_of,
            span
        }),
        (node_ref(), proptest::option::of(at())).prop_map(move |(target, as_of)| Statement::Show {
            target,
            as_of,
            span
        }),
        entity().prop_map(move |entity| Statement::History { entity, span }),
        (node_ref(), node_ref()).prop_map(move |(left, right)| Statement::Diff { left, right, span }),
        (node_ref(), proptest::option::of(at()), proptest::option::of(format))
            .prop_map(move |(target, as_of, format)| Statement::Report { target, as_of, format, span }),
        proptest::option::of(any::<u64>()).prop_map(move |limit| Statement::Snapshots { limit, span }),
        (
            proptest::option::of(node_ref()),
            proptest::option::of(at()),
            proptest::option::of(at()),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(move |(target, since, until, limit)| {
                Statement::Audit(Audit { target, since, until, limit }, span)
            }),
        Just(Statement::Verify { span }),
        (node_ref(), map()).prop_map(move |(target, properties)| Statement::Create { target, properties, span }),
        link(true).prop_map(move |link| Statement::Link(link, span)),
        link(false).prop_map(move |link| Statement::Unlink(link, span)),
        (node_ref(), map()).prop_map(move |(target, properties)| Statement::Set { target, properties, span }),
        (node_ref(), any::<bool>()).prop_map(move |(target, detach)| Statement::Delete { target, detach, span }),
        (node_ref(), "[A-Za-z_][A-Za-z0-9_]{0,8}", proptest::option::of(text()))
            .prop_map(move |(target, alias, reason)| Statement::Promote { target, alias, reason, span }),
        (proptest::option::of(text()), proptest::option::of(text()))
            .prop_map(move |(author, message)| Statement::Begin { author, message, span }),
        Just(Statement::Commit { span }),
        Just(Statement::Rollback { span }),
    ]
}

fn statement() -> impl Strategy<Value = Statement> {
    prop_oneof![
        4 => simple_statement(),
        1 => simple_statement().prop_map(|s| Statement::Explain {
            statement: Box::new(s),
            span: Span::default(),
        }),
    ]
}

/// Fragments of the language, so random soups reach deep into the parser.
fn soup() -> impl Strategy<Value = String> {
    let pieces = vec![
        "ANCESTORS",
        "DESCENDANTS",
        "OF",
        "LINEAGE",
        "PATH",
        "FROM",
        "TO",
        "FIND",
        "SHOW",
        "HISTORY",
        "DIFF",
        "REPORT",
        "FORMAT",
        "json",
        "SNAPSHOTS",
        "AUDIT",
        "SINCE",
        "UNTIL",
        "VERIFY",
        "EXPLAIN",
        "CREATE",
        "LINK",
        "UNLINK",
        "SET",
        "DETACH",
        "DELETE",
        "PROMOTE",
        "REASON",
        "BEGIN",
        "AUTHOR",
        "MESSAGE",
        "COMMIT",
        "ROLLBACK",
        "DEPTH",
        "VIA",
        "WHERE",
        "AS",
        "RETURN",
        "ORDER",
        "BY",
        "DESC",
        "LIMIT",
        "AND",
        "OR",
        "NOT",
        "IN",
        "EXISTS",
        "UPSTREAM",
        "BOTH",
        "model:fraud@3",
        "dataset:\"s3://x\"@latest",
        "x:y@prod",
        "x:y",
        "a",
        "type",
        "p.q",
        "=",
        "!=",
        "<",
        ">=",
        "~",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        ",",
        ";",
        "->",
        "*",
        "1",
        "-2",
        "3.5",
        "1e9",
        "'s'",
        "\"t\\\"\"",
        "t'2026-11-30T12:00:00Z'",
        "true",
        "null",
        "--c\n",
        "\n",
        "@",
        "'",
        "\\",
    ];
    proptest::collection::vec(proptest::sample::select(pieces), 0..24).prop_map(|p| p.join(" "))
}

fn check_error_is_sane(src: &str) {
    if let Err(e) = parse_script(src) {
        assert!(e.offset <= src.len());
        assert!(e.line >= 1 && e.column >= 1);
        assert!(!e.message.is_empty() && !e.message.ends_with('.'));
        let rendered = e.render(src);
        assert!(rendered.contains('^'));
    }
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn printed_trees_parse_back(statement in statement()) {
        let printed = statement.to_string();
        let reparsed = parse_statement(&printed);
        prop_assert_eq!(&reparsed, &Ok(statement), "{}", printed);
    }

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        check_error_is_sane(&src);
        let _ = parse_statement(&src);
        let _ = statement_is_complete(&src);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let src = String::from_utf8_lossy(&bytes);
        check_error_is_sane(&src);
    }

    #[test]
    fn soups_never_panic_and_round_trip(src in soup()) {
        check_error_is_sane(&src);
        if let Ok(statements) = parse_script(&src) {
            for statement in statements {
                let printed = statement.to_string();
                prop_assert_eq!(parse_statement(&printed), Ok(statement), "{}", printed);
            }
        }
    }
}
