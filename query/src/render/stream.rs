//! Node rows printed as they come: the streaming form of rendering
//! `ANCESTORS`, `DESCENDANTS` and `FIND` results, so that a result of
//! millions of rows is written with memory bounded by the walk, not by the
//! output.
//!
//! The bytes are those of `QueryResult::Nodes(..).render(format)` followed by
//! a newline: JSON is the one-line object (`{"omitted":N,"rows":[...]}`, its
//! keys in the order `to_json` prints them), CSV the header then one line a
//! row. A table needs its column widths before its first line: the first
//! [`TABLE_LOOKAHEAD`] rows are held to measure them; a result that ends
//! within them prints exactly as `render` does, a longer one keeps those
//! widths for the rows after them (a wider cell wraps in its column).

use std::io::{self, Write};

use super::{
    Format, GAP, HANGING_INDENT, Section, Target, column_widths, csv_cell, hanging, node_cells, render_table,
    row_lines, rows_footer, rows_section,
};
use crate::result::{NodeRow, RowsHeader, row_json};

/// Rows a streamed table holds to measure its columns.
pub const TABLE_LOOKAHEAD: usize = 1000;

/// Writes one statement's node rows, one [`RowsWriter::row`] at a time.
#[derive(Debug)]
pub struct RowsWriter {
    format: Format,
    header: RowsHeader,
    rows: usize,
    /// Tables: the rows held while measuring, then the widths measured.
    held: Section,
    widths: Option<Vec<usize>>,
}

impl RowsWriter {
    /// Starts the rows of a result described by `header`, writing what can
    /// be written before the first row.
    pub fn begin(format: Format, header: RowsHeader, out: &mut dyn Write) -> io::Result<RowsWriter> {
        let held = rows_section(&header.columns, header.walk);
        match format {
            Format::Json => {
                // `to_json` prints its keys in sorted order: "omitted" before "rows".
                if header.omitted > 0 {
                    write!(out, "{{\"omitted\":{},\"rows\":[", header.omitted)?;
                } else {
                    out.write_all(b"{\"rows\":[")?;
                }
            }
            Format::Csv => {
                let line: Vec<String> = held.headers.iter().map(|h| csv_cell(h)).collect();
                out.write_all(line.join(",").as_bytes())?;
            }
            Format::Table => {}
        }
        Ok(RowsWriter { format, header, rows: 0, held, widths: None })
    }

    /// Writes one row.
    pub fn row(&mut self, row: &NodeRow, out: &mut dyn Write) -> io::Result<()> {
        let first = self.rows == 0;
        self.rows += 1;
        match self.format {
            Format::Json => {
                if !first {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, &row_json(&self.header.columns, row))?;
            }
            Format::Csv => {
                let cells = node_cells(row, self.header.columns.is_empty(), self.header.walk, Target::Csv);
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                out.write_all(b"\n")?;
                out.write_all(line.join(",").as_bytes())?;
            }
            Format::Table => {
                let cells = node_cells(row, self.header.columns.is_empty(), self.header.walk, Target::Table);
                match &self.widths {
                    Some(widths) => write_lines(out, &row_lines(&self.held, widths, &cells, true))?,
                    None => {
                        self.held.rows.push(cells);
                        if self.held.rows.len() >= TABLE_LOOKAHEAD {
                            self.start_table(out)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Ends the rows; the output ends with a newline.
    pub fn end(mut self, out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Json => out.write_all(b"]}\n")?,
            Format::Csv => out.write_all(b"\n")?,
            Format::Table => {
                let footer = rows_footer(self.rows, self.header.omitted);
                match self.widths {
                    None => {
                        self.held.footer = footer;
                        out.write_all(render_table(&self.held).as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    Some(_) => {
                        for f in footer {
                            write_lines(out, &hanging(&format!("({f})"), super::table_width(), HANGING_INDENT))?;
                        }
                    }
                }
            }
        }
        out.flush()
    }

    /// Measures the held rows, then writes the header, the rule and them.
    fn start_table(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let widths = column_widths(&self.held);
        write_lines(out, &row_lines(&self.held, &widths, &self.held.headers, false))?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        write_lines(out, &[rule.join(&" ".repeat(GAP))])?;
        for cells in std::mem::take(&mut self.held.rows) {
            write_lines(out, &row_lines(&self.held, &widths, &cells, true))?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

fn write_lines(out: &mut dyn Write, lines: &[String]) -> io::Result<()> {
    for line in lines {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
