//! Parse errors: the public [`ParseError`] with its caret rendering, and the
//! internal nom error type the parsers pass around.
//!
//! Internally an error is a position (as the length of the input left, so it
//! needs no reference to the whole source) and a fault. When alternatives fail
//! at the same place their expectations are merged; otherwise the error that
//! got furthest wins, so the caret lands on the token that is really wrong.

use super::ast::line_column;
use super::lexer::describe_token;

/// A statement that does not parse: what is wrong and where.
///
/// `Display` gives the one-line form (`message at line L, column C`);
/// [`ParseError::render`] adds the source line, a caret and the hint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
#[non_exhaustive]
pub struct ParseError {
    /// What is wrong: lowercase, no trailing period.
    pub message: String,
    /// 1-based line of the fault.
    pub line: usize,
    /// 1-based column of the fault, counted in chars.
    pub column: usize,
    /// Byte offset of the fault in the source.
    pub offset: usize,
    /// Byte length of the offending text (0 at the end of the input).
    pub len: usize,
    /// A suggestion, such as `did you mean DESCENDANTS?`.
    pub hint: Option<String>,
}

impl ParseError {
    /// The error with the offending source line and a caret under the fault:
    ///
    /// ```text
    /// expected DEPTH, VIA, WHERE, ... or ';', found `WHER` at line 1, column 28
    ///   |
    /// 1 | ANCESTORS OF model:fraud@3 WHER type=dataset
    ///   |                            ^^^^
    /// hint: did you mean WHERE?
    /// ```
    pub fn render(&self, src: &str) -> String {
        render_fault(src, self.offset, self.len, self.line, &self.to_string(), self.hint.as_deref())
    }
}

/// What went wrong, before it is turned into a message.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// One of these was expected here (keywords in uppercase, punctuation
    /// quoted, other things described: `a reference`).
    Expected(Vec<&'static str>),
    /// A specific message, with an optional hint and caret length.
    Custom { message: String, hint: Option<String>, len: Option<usize> },
}

/// The error type of every internal nom parser.
#[derive(Clone, Debug)]
pub(crate) struct PErr {
    /// Length of the input left at the fault: `src.len() - offset`.
    pub rest: usize,
    pub fault: Fault,
}

/// The result type of every internal nom parser.
pub(crate) type PResult<'a, T> = nom::IResult<&'a str, T, PErr>;

impl PErr {
    /// `what` was expected at `at`.
    pub fn expected(at: &str, what: &'static str) -> PErr {
        PErr { rest: at.len(), fault: Fault::Expected(vec![what]) }
    }

    /// Any of `what` was expected at `at`.
    pub fn expected_any(at: &str, what: &[&'static str]) -> PErr {
        PErr { rest: at.len(), fault: Fault::Expected(what.to_vec()) }
    }

    /// A specific message about the token at `at`.
    pub fn custom(at: &str, message: impl Into<String>) -> PErr {
        PErr { rest: at.len(), fault: Fault::Custom { message: message.into(), hint: None, len: None } }
    }

    /// Adds a hint to a custom error.
    pub fn hint(mut self, text: impl Into<String>) -> PErr {
        if let Fault::Custom { hint, .. } = &mut self.fault {
            *hint = Some(text.into());
        }
        self
    }

    /// Sets how many bytes the caret covers.
    pub fn len(mut self, bytes: usize) -> PErr {
        if let Fault::Custom { len, .. } = &mut self.fault {
            *len = Some(bytes);
        }
        self
    }

    /// This error as a nom failure (no backtracking).
    pub fn fail<T>(self) -> Result<T, nom::Err<PErr>> {
        Err(nom::Err::Failure(self))
    }

    /// This error as a recoverable nom error.
    pub fn error<T>(self) -> Result<T, nom::Err<PErr>> {
        Err(nom::Err::Error(self))
    }

    /// The public error for `src`, the whole text that was parsed.
    pub fn into_parse_error(self, src: &str) -> ParseError {
        let mut offset = src.len().saturating_sub(self.rest);
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let (found, found_len) = describe_token(&src[offset..]);
        if src[offset..].trim().is_empty() {
            // At the end of the input: point just after the last token
            // rather than at an empty line after it.
            offset = src[..offset].trim_end().len();
        }
        let (line, column) = line_column(src, offset);
        let (message, hint, len) = match self.fault {
            Fault::Expected(items) => {
                let hint = did_you_mean(&src[offset..offset + found_len], &items);
                let message = format!("expected {}, found {found}", list(&items));
                (message, hint, found_len)
            }
            Fault::Custom { message, hint, len } => (message, hint, len.unwrap_or(found_len)),
        };
        ParseError { message, line, column, offset, len, hint }
    }
}

impl nom::error::ParseError<&str> for PErr {
    fn from_error_kind(input: &str, _kind: nom::error::ErrorKind) -> PErr {
        PErr { rest: input.len(), fault: Fault::Expected(Vec::new()) }
    }

    fn append(_input: &str, _kind: nom::error::ErrorKind, other: PErr) -> PErr {
        other
    }

    /// Keeps the error that got furthest; at the same place, merges what was
    /// expected (a specific message beats a list).
    fn or(self, other: PErr) -> PErr {
        if self.rest != other.rest {
            return if self.rest < other.rest { self } else { other };
        }
        match (self.fault, other.fault) {
            (Fault::Expected(mut a), Fault::Expected(b)) => {
                for item in b {
                    if !a.contains(&item) {
                        a.push(item);
                    }
                }
                PErr { rest: self.rest, fault: Fault::Expected(a) }
            }
            (custom @ Fault::Custom { .. }, _) | (_, custom @ Fault::Custom { .. }) => {
                PErr { rest: self.rest, fault: custom }
            }
        }
    }
}

/// `a`, `a or b`, `a, b or c`; `something else` for an empty list.
fn list(items: &[&str]) -> String {
    match items {
        [] => "something else".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `did you mean X?` when `found` is a near miss of one of the keywords in
/// `expected` (the first word of each all-uppercase item).
pub(crate) fn did_you_mean(found: &str, expected: &[&str]) -> Option<String> {
    let keywords = expected.iter().filter_map(|item| {
        let is_keyword = item.chars().all(|c| c.is_ascii_uppercase() || c == ' ');
        is_keyword.then(|| (item.split(' ').next().unwrap_or(item), *item))
    });
    closest(found, keywords).map(|item| format!("did you mean {item}?"))
}

/// The `display` of the candidate whose `word` is closest to `found`, if it
/// is close enough to be a typo.
pub(crate) fn closest<'k>(found: &str, candidates: impl IntoIterator<Item = (&'k str, &'k str)>) -> Option<&'k str> {
    if found.is_empty() || found.len() > 40 || !found.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let found = found.to_ascii_uppercase();
    let allowed = if found.chars().count() <= 4 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for (word, display) in candidates {
        let distance = levenshtein(&found, &word.to_ascii_uppercase());
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, display));
        }
    }
    best.map(|(_, display)| display)
}

/// The edit distance between `a` and `b` in chars, counting a swap of two
/// neighbours as one edit (`ADN` is one edit from `AND`).
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j]; three rows suffice.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j - 1] + cost).min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// `headline`, then the source line holding byte `offset` with a caret under
/// the `len` bytes of the fault, then the hint. Shared by parse and
/// execution errors so both point at their fault the same way.
pub fn render_fault(src: &str, offset: usize, len: usize, line: usize, headline: &str, hint: Option<&str>) -> String {
    use std::fmt::Write;
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let line_text = src[line_start..line_end].trim_end_matches('\r');
    let mut fault_end = (offset + len).min(line_start + line_text.len()).max(offset);
    while !src.is_char_boundary(fault_end) {
        fault_end -= 1;
    }
    let carets = src[offset..fault_end].chars().count().max(1);
    let padding: String = src[line_start..offset].chars().map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    let mut out = String::new();
    let _ = writeln!(out, "{headline}");
    let _ = writeln!(out, "{gutter} |");
    let _ = writeln!(out, "{number} | {line_text}");
    let _ = write!(out, "{gutter} | {padding}{}", "^".repeat(carets));
    if let Some(hint) = hint {
        let _ = write!(out, "\nhint: {hint}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("WHER", "WHERE"), 1);
        assert_eq!(levenshtein("DESCENDENTS", "DESCENDANTS"), 1);
        assert_eq!(levenshtein("", "ABC"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("ADN", "AND"), 1);
        assert_eq!(levenshtein("ANCSETORS", "ANCESTORS"), 1);
    }

    #[test]
    fn did_you_mean_picks_a_close_keyword() {
        let expected = ["DEPTH", "WHERE", "AS OF", "';'"];
        assert_eq!(did_you_mean("wher", &expected), Some("did you mean WHERE?".to_string()));
        assert_eq!(did_you_mean("AS", &["ORDER BY", "AS OF"]), Some("did you mean AS OF?".to_string()));
        assert_eq!(did_you_mean("banana", &expected), None);
    }
}
