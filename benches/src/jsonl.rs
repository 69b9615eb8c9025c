//! Writes a generated graph in the bulk import format of `interfaces.md`:
//! one `{"node": {...}}` line per node in order (with its
//! properties), then one `{"edge": {...}}`
//! line per edge (every edge names nodes created earlier in the file).

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::error::Result;
use crate::graph::LineageGraph;

/// Writes `graph` as JSON Lines to `out`; returns the number of lines.
pub fn write_jsonl(graph: &LineageGraph, out: &mut impl Write) -> Result<usize> {
    for (i, node) in graph.nodes.iter().enumerate() {
        let props = graph.props(i as u32);
        let line = json!({"node": {"type": node.node_type.as_str(), "name": node.name, "version": node.version, "props": props}});
        writeln!(out, "{line}")?;
    }
    for e in &graph.edges {
        let from = graph.nodes[e.src as usize].key();
        let to = graph.nodes[e.dst as usize].key();
        writeln!(out, "{}", json!({"edge": {"from": from, "to": to, "label": e.label.as_str()}}))?;
    }
    Ok(graph.records())
}

/// Writes `graph` as JSON Lines to the file `path`; returns the number of lines.
pub fn write_jsonl_file(graph: &LineageGraph, path: &Path) -> Result<usize> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let lines = write_jsonl(graph, &mut out)?;
    out.flush()?;
    Ok(lines)
}
