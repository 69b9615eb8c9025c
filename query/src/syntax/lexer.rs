//! Token-level parsers: whitespace and comments, keywords, identifiers,
//! quoted strings, numbers and punctuation.
//!
//! Convention: every token parser skips the whitespace and `--` comments in
//! front of it and never the whitespace after it, so the input left after a
//! token starts right where that token ended (statement spans rely on it), and
//! a failure is reported at the start of the offending token.

use nom::Parser;
use nom::bytes::complete::take_while;
use nom::character::complete::satisfy;
use nom::combinator::recognize;

use lineagedb_engine::unicode_escape;

use super::error::{PErr, PResult};

/// Every keyword of the language, uppercase, for tab completion.
pub const KEYWORDS: &[&str] = &[
    "ANCESTORS",
    "AND",
    "AS",
    "ASC",
    "AUDIT",
    "AUTHOR",
    "BEGIN",
    "BOTH",
    "BY",
    "COMMIT",
    "CREATE",
    "DELETE",
    "DEPTH",
    "DESC",
    "DESCENDANTS",
    "DETACH",
    "DIFF",
    "DOWNSTREAM",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FIND",
    "FORMAT",
    "FROM",
    "HISTORY",
    "IN",
    "LATEST",
    "LIMIT",
    "LINEAGE",
    "LINK",
    "MESSAGE",
    "NOT",
    "NULL",
    "OF",
    "OR",
    "ORDER",
    "PATH",
    "PROMOTE",
    "REASON",
    "REPORT",
    "RETURN",
    "ROLLBACK",
    "SET",
    "SHOW",
    "SINCE",
    "SNAPSHOTS",
    "TO",
    "TRUE",
    "UNLINK",
    "UNTIL",
    "UPSTREAM",
    "VERIFY",
    "VIA",
    "WHERE",
];

/// Skips whitespace and `--` comments.
pub(crate) fn ws(mut input: &str) -> &str {
    loop {
        let trimmed = input.trim_start();
        if let Some(comment) = trimmed.strip_prefix("--") {
            input = comment.find('\n').map_or("", |i| &comment[i..]);
        } else {
            return trimmed;
        }
    }
}

/// `[A-Za-z_]`
pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// `[A-Za-z0-9_]`
pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The run of identifier chars at the start of `input` (no whitespace
/// skipped), possibly empty, and what follows it.
pub(crate) fn word(input: &str) -> (&str, &str) {
    let end = input.find(|c| !is_ident_char(c)).unwrap_or(input.len());
    (&input[end..], &input[..end])
}

/// A short description of the token at the start of `input` for messages,
/// and its length in bytes: `` `WHER` ``, `end of input`.
pub(crate) fn describe_token(input: &str) -> (String, usize) {
    let Some(first) = input.chars().next() else {
        return ("end of input".to_string(), 0);
    };
    let len = if is_ident_char(first) {
        input.find(|c| !is_ident_char(c)).unwrap_or(input.len())
    } else if first == '"' || first == '\'' {
        input[1..].find(first).map_or_else(|| input.find('\n').unwrap_or(input.len()), |i| i + 2)
    } else {
        first.len_utf8()
    };
    let text = &input[..len];
    if first.is_whitespace() || first.is_control() {
        return (format!("{first:?}"), len);
    }
    let shown = if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        format!("`{cut}...`")
    } else {
        format!("`{text}`")
    };
    (shown, len)
}

/// A keyword, matched case-insensitively as a whole word. On failure, the
/// error expects `keyword`.
pub(crate) fn keyword<'a>(keyword: &'static str) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |input: &'a str| {
        let at = ws(input);
        let (rest, found) = word(at);
        if !found.is_empty() && found.eq_ignore_ascii_case(keyword) {
            Ok((rest, found))
        } else {
            PErr::expected(at, keyword).error()
        }
    }
}

/// Exact punctuation such as `(`, `->` or `;`; on failure the error expects
/// `display` (the punctuation quoted, e.g. `')'`).
pub(crate) fn punct<'a>(text: &'static str, display: &'static str) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |input: &'a str| {
        let at = ws(input);
        match at.strip_prefix(text) {
            Some(rest) => Ok((rest, &at[..text.len()])),
            None => PErr::expected(at, display).error(),
        }
    }
}

/// An identifier `[A-Za-z_][A-Za-z0-9_]*`; the error expects `what`.
pub(crate) fn ident<'a>(what: &'static str) -> impl Fn(&'a str) -> PResult<'a, &'a str> {
    move |input: &'a str| {
        let at = ws(input);
        recognize((satisfy(is_ident_start), take_while(is_ident_char)))
            .parse(at)
            .or_else(|_: nom::Err<PErr>| PErr::expected(at, what).error())
    }
}

/// True when `input` (after whitespace) starts a quoted string.
pub(crate) fn at_string(input: &str) -> bool {
    matches!(ws(input).chars().next(), Some('"' | '\''))
}

/// A single- or double-quoted string with backslash escapes (`\\ \" \' \n
/// \r \t \0 \u{hex}`). An unterminated string fails at its opening quote.
pub(crate) fn string(input: &str) -> PResult<'_, String> {
    let at = ws(input);
    let Some(quote) = at.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return PErr::expected(at, "a quoted string").error();
    };
    let mut out = String::new();
    let mut chars = at.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((&at[i + 1..], out));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escape_at = &at[i..];
        let Some((_, escaped)) = chars.next() else { break };
        match escaped {
            '\\' | '"' | '\'' => out.push(escaped),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                let decoded = unicode_escape(escape_at);
                let Some((c, len)) = decoded else {
                    return PErr::custom(escape_at, "invalid unicode escape in string")
                        .hint("write unicode escapes as \\u{1F600} or \\u00e9 (4 hex digits, surrogate pairs for the rest)")
                        .len(2)
                        .fail();
                };
                out.push(c);
                // `len` counts `\u{...}`; the `\` and `u` are consumed already.
                for _ in 0..len - 2 {
                    chars.next();
                }
            }
            other => {
                return PErr::custom(escape_at, format!("unknown escape `\\{other}` in string"))
                    .hint("write a backslash as \\\\")
                    .len(1 + other.len_utf8())
                    .fail();
            }
        }
    }
    PErr::custom(at, "unterminated string").hint(format!("close the string with {quote}")).len(1).fail()
}

/// A numeric literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

/// The extent of a number-like token: `-?digits(.digits)?([eE][+-]?digits)?`,
/// whether it is a float, and how far the whole (maybe malformed) token goes.
fn scan_number(at: &str) -> Option<(usize, bool, usize)> {
    let bytes = at.as_bytes();
    let digits = |from: usize| bytes[from..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |n| from + n);
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    let int_end = digits(end);
    if int_end == end {
        return None;
    }
    end = int_end;
    let mut is_float = false;
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
        is_float = true;
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exp_end = digits(end + 1 + sign);
        if exp_end > end + 1 + sign {
            end = exp_end;
            is_float = true;
        }
    }
    let token_end = at[end..].find(|c: char| !(is_ident_char(c) || c == '.')).map_or(at.len(), |n| end + n);
    Some((end, is_float, token_end))
}

/// A signed integer or float. Malformed numbers (`3x`, `1.2.3`) and numbers
/// out of range fail with a specific message.
pub(crate) fn number(input: &str) -> PResult<'_, Number> {
    let at = ws(input);
    let Some((end, is_float, token_end)) = scan_number(at) else {
        return PErr::expected(at, "a number").error();
    };
    if token_end > end {
        return bad_number(at, token_end);
    }
    let text = &at[..end];
    let value = if is_float {
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Number::Float(f),
            _ => {
                return PErr::custom(at, format!("number `{text}` is out of range"))
                    .hint("floats are 64-bit, up to about 1.8e308")
                    .len(end)
                    .fail();
            }
        }
    } else {
        match text.parse::<i64>() {
            Ok(i) => Number::Int(i),
            Err(_) => return out_of_range(at, end),
        }
    };
    Ok((&at[end..], value))
}

/// A non-negative integer (versions, snapshot ids, `DEPTH`, `LIMIT`); the
/// error expects `what`.
pub(crate) fn unsigned<'a>(what: &'static str) -> impl Fn(&'a str) -> PResult<'a, u64> {
    move |input: &'a str| {
        let at = ws(input);
        let Some((end, is_float, token_end)) = scan_number(at) else {
            return PErr::expected(at, what).error();
        };
        if token_end > end {
            return bad_number(at, token_end);
        }
        let text = &at[..end];
        if is_float || text.starts_with('-') {
            return PErr::custom(at, format!("expected {what}, found `{text}`"))
                .hint("use a whole number, 0 or more")
                .len(end)
                .fail();
        }
        match text.parse::<u64>() {
            Ok(n) => Ok((&at[end..], n)),
            Err(_) => out_of_range(at, end),
        }
    }
}

fn bad_number<T>(at: &str, token_end: usize) -> PResult<'_, T> {
    let token = &at[..token_end];
    PErr::custom(at, format!("invalid number `{token}`"))
        .hint("numbers look like 42, -7, 0.5 or 1e-3; quote text as a string")
        .len(token_end)
        .fail()
}

fn out_of_range<T>(at: &str, end: usize) -> PResult<'_, T> {
    PErr::custom(at, format!("number `{}` is out of range", &at[..end])).hint("integers are 64-bit").len(end).fail()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_skips_comments() {
        assert_eq!(ws("  -- hi\n  -- there\n x"), "x");
        assert_eq!(ws("-- only a comment"), "");
    }

    #[test]
    fn strings_unescape() {
        let (rest, s) = string(r#" "a\"b\\c\n\u{1F600}" tail"#).expect("string parses");
        assert_eq!(s, "a\"b\\c\n\u{1F600}");
        assert_eq!(rest, " tail");
        let (_, s) = string(r"'it\'s'").expect("string parses");
        assert_eq!(s, "it's");
    }

    #[test]
    fn strings_take_the_unicode_escapes_json_writes() {
        // What Python's json.dumps writes for "café 😀".
        let (rest, s) = string(r#""caf\u00e9 \ud83d\ude00" tail"#).expect("string parses");
        assert_eq!(s, "café \u{1F600}");
        assert_eq!(rest, " tail");
        for bad in [r#""\ud83d""#, r#""\ude00""#, r#""\u00g9""#, r#""\u00e""#, r#""\ud83d\u0041""#] {
            assert!(string(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number("42").map(|r| r.1).ok(), Some(Number::Int(42)));
        assert_eq!(number("-7").map(|r| r.1).ok(), Some(Number::Int(-7)));
        assert_eq!(number("1e-3").map(|r| r.1).ok(), Some(Number::Float(1e-3)));
        assert_eq!(number("2.5").map(|r| r.1).ok(), Some(Number::Float(2.5)));
        assert!(matches!(number("3x"), Err(nom::Err::Failure(_))));
        assert!(matches!(number("1.2.3"), Err(nom::Err::Failure(_))));
        assert!(matches!(number("99999999999999999999"), Err(nom::Err::Failure(_))));
        assert!(matches!(number("1e999"), Err(nom::Err::Failure(_))));
    }
}
