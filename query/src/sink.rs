//! `ResultSink`: where a script's results go as its statements produce them.
//! Node rows (`ANCESTORS`, `DESCENDANTS`, `FIND`) arrive one at a time, in
//! output order, so a caller can print millions of rows without holding
//! them; every other result arrives whole.

use crate::result::{NodeRow, NodeRows, QueryResult, RowsHeader};

/// Receives results as a script runs (see `Session::execute_streaming`).
///
/// For a statement returning node rows: `begin_rows`, then `row` for each
/// row, then `end_rows`. When reading fails part way, `end_rows` is not
/// called and the script's error follows.
pub trait ResultSink {
    /// Node rows begin.
    fn begin_rows(&mut self, header: RowsHeader);
    /// The next node row.
    fn row(&mut self, row: NodeRow);
    /// The node rows begun last are complete.
    fn end_rows(&mut self);
    /// The whole result of a statement that does not return node rows.
    fn result(&mut self, result: QueryResult);
}

/// Collects streamed rows back into whole results for a callback.
pub(crate) struct Collect<'a> {
    pub(crate) on_result: &'a mut dyn FnMut(QueryResult),
    pub(crate) rows: Option<NodeRows>,
}

impl ResultSink for Collect<'_> {
    fn begin_rows(&mut self, header: RowsHeader) {
        let rows = Vec::with_capacity(header.rows);
        self.rows = Some(NodeRows { columns: header.columns, rows, walk: header.walk, omitted: header.omitted });
    }

    fn row(&mut self, row: NodeRow) {
        if let Some(rows) = &mut self.rows {
            rows.rows.push(row);
        }
    }

    fn end_rows(&mut self) {
        if let Some(rows) = self.rows.take() {
            (self.on_result)(QueryResult::Nodes(rows));
        }
    }

    fn result(&mut self, result: QueryResult) {
        (self.on_result)(result);
    }
}
