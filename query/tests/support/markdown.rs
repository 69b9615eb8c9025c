//! Reading the Markdown of a lineage report in tests: a section, a table
//! row's cells. Shared by the query crate's report tests and the binary's
//! (`shell/tests/cli/report.rs` includes this file by path).

/// The text of the Markdown section `## title`, up to the next `## `.
#[track_caller]
pub fn md_section<'a>(md: &'a str, title: &str) -> &'a str {
    let start = md.find(&format!("\n## {title}\n")).unwrap_or_else(|| panic!("no ## {title}:\n{md}"));
    let rest = &md[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

/// The cells of a Markdown table row, unescaped.
pub fn md_cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = row.trim().trim_start_matches('|').chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cells.last_mut().unwrap().extend(chars.next()),
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The cells of the first table row of section `title` with a cell equal to `cell`.
#[track_caller]
pub fn md_row_with(md: &str, title: &str, cell: &str) -> Vec<String> {
    md_section(md, title)
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(md_cells)
        .find(|cells| cells.iter().any(|c| c == cell))
        .unwrap_or_else(|| panic!("no row with {cell:?} under ## {title}:\n{md}"))
}
