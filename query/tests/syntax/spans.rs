//! Spans: every statement and reference points at its source text.

use lineagedb_query::syntax::{Expr, Span, Statement, parse_script, parse_statement};

fn slice(src: &str, span: Span) -> &str {
    span.slice(src)
}

#[test]
fn reference_span_covers_the_reference() {
    let src = "ANCESTORS OF model:fraud@3 WHERE type = dataset";
    let Ok(Statement::Walk(walk, span)) = parse_statement(src) else {
        panic!("expected a walk");
    };
    assert_eq!(slice(src, walk.start.span), "model:fraud@3");
    assert_eq!(slice(src, span), src);
}

#[test]
fn quoted_reference_span_includes_quotes_and_version() {
    let src = "  SHOW dataset:\"s3://b/tx.parquet\"@2 AS OF 3 ; ";
    let Ok(Statement::Show { target, span, .. }) = parse_statement(src) else {
        panic!("expected SHOW");
    };
    assert_eq!(slice(src, target.span), "dataset:\"s3://b/tx.parquet\"@2");
    assert_eq!(slice(src, span), "SHOW dataset:\"s3://b/tx.parquet\"@2 AS OF 3");
    assert_eq!(target.span.line_column(src), (1, 8));
}

#[test]
fn spans_across_lines_and_statements() {
    let src = "VERIFY;\n-- link them\nLINK dataset:raw@1\n  -> model:fraud@3 AS trained_on;\nCOMMIT";
    let statements = parse_script(src).expect("script parses");
    assert_eq!(statements.len(), 3);
    assert_eq!(slice(src, statements[0].span()), "VERIFY");
    let Statement::Link(link, span) = &statements[1] else {
        panic!("expected LINK");
    };
    assert_eq!(slice(src, *span), "LINK dataset:raw@1\n  -> model:fraud@3 AS trained_on");
    assert_eq!(slice(src, link.from.span), "dataset:raw@1");
    assert_eq!(slice(src, link.to.span), "model:fraud@3");
    assert_eq!(link.to.span.line_column(src), (4, 6));
    assert_eq!(slice(src, statements[2].span()), "COMMIT");
}

#[test]
fn span_columns_count_chars() {
    let src = "SHOW model:\"ünï\" ; SHOW x:y";
    let statements = parse_script(src).expect("script parses");
    let Statement::Show { target, .. } = &statements[1] else {
        panic!("expected SHOW");
    };
    assert_eq!(slice(src, target.span), "x:y");
    assert_eq!(target.span.line_column(src), (1, 25));
}

#[test]
fn explain_spans_nest() {
    let src = "EXPLAIN DIFF model:a@1 model:a@2";
    let Ok(Statement::Explain { statement, span }) = parse_statement(src) else {
        panic!("expected EXPLAIN");
    };
    assert_eq!(slice(src, span), src);
    assert_eq!(slice(src, statement.span()), "DIFF model:a@1 model:a@2");
    let Statement::Diff { left, right, .. } = *statement else {
        panic!("expected DIFF");
    };
    assert_eq!(slice(src, left.span), "model:a@1");
    assert_eq!(slice(src, right.span), "model:a@2");
}

#[test]
fn spans_do_not_affect_equality() {
    let a = parse_statement("SHOW model:x@1").expect("parses");
    let b = parse_statement("   show    model:x@1   ").expect("parses");
    assert_ne!(a.span().start, b.span().start);
    assert_eq!(a, b);
    let where_a = parse_statement("FIND x WHERE a = 1").expect("parses");
    let where_b = parse_statement("FIND x WHERE (a = 1)").expect("parses");
    assert_eq!(where_a, where_b);
    let Statement::Find(find, _) = where_a else { panic!("expected FIND") };
    assert!(matches!(find.filter, Some(Expr::Compare { .. })));
}
