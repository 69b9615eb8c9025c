//! The drawing of a report's lineage for the HTML report: an SVG of the DAG
//! laid out in layers, left to right, with no script and no network.
//!
//! Layout: each node's layer is the length of the longest path reaching it
//! from a node without inputs (petgraph's topological order gives them in
//! one pass), so every edge points right; a node without inputs then moves
//! right, to just before the first node it feeds. Within a layer nodes start in key
//! order and are then reordered by a few sweeps of the barycenter heuristic
//! (each node moves towards the mean position of its neighbours in the
//! previous layer, then of the next), which removes most edge crossings of
//! lineage graphs. Columns are as wide as their longest key.

use std::collections::HashMap;
use std::fmt::Write as _;

use lineagedb_engine::{Edge, NodeKey, Report};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::dot_color;

/// Above this many nodes the drawing would not be readable: it is left out
/// and the report says so.
pub(crate) const MAX_DRAWN: usize = 400;

const FONT_SIZE: f64 = 12.0;
/// Advance of one character of the monospace font at `FONT_SIZE`.
const CHAR_WIDTH: f64 = 7.3;
const BOX_HEIGHT: f64 = 26.0;
const ROW_GAP: f64 = 14.0;
const COLUMN_GAP: f64 = 70.0;
const PADDING: f64 = 10.0;
const MARGIN: f64 = 12.0;
const SWEEPS: usize = 4;

/// Text escaped for XML content and attribute values.
fn xml(text: &str) -> String {
    let mut out = String::new();
    let _ = pulldown_cmark_escape::escape_html(&mut out, text);
    out
}

/// The SVG of the report's subject, upstream and downstream nodes and the
/// edges between them, or `None` above [`MAX_DRAWN`] nodes.
pub(crate) fn drawing(report: &Report) -> Option<String> {
    let nodes: Vec<&NodeKey> = std::iter::once(&report.subject)
        .chain(&report.upstream)
        .chain(&report.downstream)
        .map(|n| &n.node.key)
        .collect();
    if nodes.len() > MAX_DRAWN {
        return None;
    }
    let edges: Vec<&Edge> = report.upstream_edges.iter().chain(&report.downstream_edges).collect();
    let mut graph: DiGraph<&NodeKey, &str> = DiGraph::new();
    let index: HashMap<&NodeKey, NodeIndex> = nodes.iter().map(|k| (*k, graph.add_node(*k))).collect();
    for e in &edges {
        if let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) {
            graph.add_edge(a, b, e.label.as_str());
        }
    }
    // A report's lineage is acyclic (the engine refuses cycles); should it
    // not be, draw nothing rather than a wrong picture.
    let order = petgraph::algo::toposort(&graph, None).ok()?;

    // Layers: the longest path from a source.
    let mut layer: HashMap<NodeIndex, usize> = HashMap::new();
    for &n in &order {
        let l = graph.neighbors_directed(n, petgraph::Direction::Incoming).map(|p| layer[&p] + 1).max().unwrap_or(0);
        layer.insert(n, l);
    }
    // A node without inputs (a job, a code version, raw data) sits just
    // before the first node it feeds, not in the first column: its edges
    // then stay short instead of running behind other boxes.
    for &n in order.iter().rev() {
        if graph.neighbors_directed(n, petgraph::Direction::Incoming).next().is_none() {
            if let Some(first) = graph.neighbors_directed(n, petgraph::Direction::Outgoing).map(|s| layer[&s]).min() {
                layer.insert(n, first - 1);
            }
        }
    }
    let depth = layer.values().copied().max().unwrap_or(0) + 1;
    let mut columns: Vec<Vec<NodeIndex>> = vec![Vec::new(); depth];
    for (&n, &l) in &layer {
        columns[l].push(n);
    }
    for column in &mut columns {
        column.sort_by_key(|&n| graph[n]);
    }
    reduce_crossings(&graph, &mut columns);

    // Coordinates.
    let widths: Vec<f64> = columns
        .iter()
        .map(|c| c.iter().map(|&n| text_width(&graph[n].to_string())).fold(0.0, f64::max) + 2.0 * PADDING)
        .collect();
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let height = 2.0 * MARGIN + tallest * BOX_HEIGHT + (tallest - 1.0).max(0.0) * ROW_GAP;
    let mut x = MARGIN;
    let mut place: HashMap<NodeIndex, (f64, f64, f64)> = HashMap::new(); // left, top, width
    for (column, width) in columns.iter().zip(&widths) {
        let used = column.len() as f64 * BOX_HEIGHT + (column.len() as f64 - 1.0).max(0.0) * ROW_GAP;
        let mut y = (height - used) / 2.0;
        for &n in column {
            place.insert(n, (x, y, *width));
            y += BOX_HEIGHT + ROW_GAP;
        }
        x += width + COLUMN_GAP;
    }
    let total_width = x - COLUMN_GAP + MARGIN;

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {total_width:.0} {height:.0}\" font-family=\"ui-monospace,monospace\" font-size=\"{FONT_SIZE}\" \
         role=\"img\" aria-label=\"{}\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" \
         fill=\"#555\"/></marker></defs>\n",
        xml(&format!("lineage of {}", report.subject.node.key))
    );
    for e in graph.edge_references() {
        let (sx, sy, sw) = place[&e.source()];
        let (tx, ty, _) = place[&e.target()];
        let (x1, y1) = (sx + sw, sy + BOX_HEIGHT / 2.0);
        let (x2, y2) = (tx, ty + BOX_HEIGHT / 2.0);
        let bend = (x2 - x1) / 2.0;
        let _ = writeln!(
            svg,
            "<path d=\"M {x1:.1} {y1:.1} C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}\" fill=\"none\" \
             stroke=\"#777\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\"><title>{}</title></path>",
            x1 + bend,
            x2 - bend,
            xml(&format!("{} -> {} ({})", graph[e.source()], graph[e.target()], e.weight()))
        );
    }
    for &n in columns.iter().flatten() {
        let (left, top, width) = place[&n];
        let key = graph[n];
        let subject = *key == report.subject.node.key;
        let _ = writeln!(
            svg,
            "<g><title>{title}</title><rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{BOX_HEIGHT}\" \
             rx=\"6\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{title}</text></g>",
            dot_color(&key.type_name),
            if subject { "#111" } else { "#888" },
            if subject { 3 } else { 1 },
            left + PADDING,
            top + BOX_HEIGHT / 2.0 + FONT_SIZE / 3.0,
            title = xml(&key.to_string()),
        );
    }
    svg.push_str("</svg>\n");
    Some(svg)
}

fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// Barycenter sweeps: down the layers by predecessors, then up by successors.
fn reduce_crossings(graph: &DiGraph<&NodeKey, &str>, columns: &mut [Vec<NodeIndex>]) {
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let (dir, range): (_, Box<dyn Iterator<Item = usize>>) = if down {
            (petgraph::Direction::Incoming, Box::new(1..columns.len()))
        } else {
            (petgraph::Direction::Outgoing, Box::new((0..columns.len().saturating_sub(1)).rev()))
        };
        for l in range {
            let neighbour_layer = if down { l - 1 } else { l + 1 };
            let position: HashMap<NodeIndex, usize> =
                columns[neighbour_layer].iter().enumerate().map(|(i, &n)| (n, i)).collect();
            let current: HashMap<NodeIndex, usize> = columns[l].iter().enumerate().map(|(i, &n)| (n, i)).collect();
            // Nodes without neighbours there keep their place.
            columns[l].sort_by(|&a, &b| {
                let center = |n: NodeIndex| {
                    let (sum, count) = graph
                        .neighbors_directed(n, dir)
                        .filter_map(|m| position.get(&m))
                        .fold((0usize, 0usize), |(s, c), &p| (s + p, c + 1));
                    if count == 0 { current[&n] as f64 } else { sum as f64 / count as f64 }
                };
                center(a).total_cmp(&center(b)).then_with(|| graph[a].cmp(graph[b]))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use lineagedb_engine::{Database, NodeRef, Props};

    use super::*;

    fn r(text: &str) -> NodeRef {
        text.parse().expect("a valid reference")
    }

    /// The numbers of every `name="..."` attribute, in order.
    fn numbers(svg: &str, name: &str) -> Vec<f64> {
        svg.split(&format!(" {name}=\"")).skip(1).map(|s| s[..s.find('"').unwrap()].parse().unwrap()).collect()
    }

    #[test]
    fn every_node_is_drawn_once_and_every_edge_points_right_between_its_boxes() {
        let db = Database::in_memory().unwrap();
        let mut tx = db.begin_write().unwrap();
        for (t, n) in [("dataset", "raw"), ("job", "clean"), ("run", "clean_1"), ("dataset", "<script>x</script>")] {
            tx.create_node(t, n, Props::new()).unwrap();
        }
        for (t, n) in [("code", "repo"), ("run", "train_1"), ("model", "fraud"), ("deployment", "api")] {
            tx.create_node(t, n, Props::new()).unwrap();
        }
        let links = [
            ("dataset:raw@1", "run:clean_1@1", "input"),
            ("job:clean@1", "run:clean_1@1", "job"),
            ("run:clean_1@1", "dataset:\"<script>x</script>\"@1", "output"),
            ("dataset:\"<script>x</script>\"@1", "run:train_1@1", "input"),
            ("code:repo@1", "run:train_1@1", "code"),
            ("dataset:raw@1", "run:train_1@1", "input"),
            ("run:train_1@1", "model:fraud@1", "output"),
            ("model:fraud@1", "deployment:api@1", "serves"),
        ];
        for (from, to, label) in links {
            tx.link(&r(from), &r(to), label, Props::new()).unwrap();
        }
        tx.commit().unwrap();
        let report = db.begin_read().unwrap().report(&r("model:fraud@1")).unwrap();
        let svg = drawing(&report).expect("small enough to draw");

        assert_eq!(svg.matches("<rect").count(), 8, "{svg}");
        assert_eq!(svg.matches("marker-end=").count(), links.len(), "{svg}");
        assert!(!svg.contains("<script>"), "node names are escaped: {svg}");
        assert!(svg.contains("&lt;script&gt;"));
        // The subject is outlined, once.
        assert_eq!(svg.matches("stroke-width=\"3\"").count(), 1);

        // Boxes by key, then every edge from the right side of its source
        // box to the left side of its target box, left to right.
        let (xs, ys, widths) = (numbers(&svg, "x"), numbers(&svg, "y"), numbers(&svg, "width"));
        let titles: Vec<&str> = svg.split("<g><title>").skip(1).map(|s| &s[..s.find('<').unwrap()]).collect();
        assert_eq!(titles.len(), 8);
        let boxes: HashMap<&str, (f64, f64, f64)> =
            titles.iter().enumerate().map(|(i, t)| (*t, (xs[2 * i], ys[2 * i], widths[i + 1]))).collect();
        for (from, to, _) in links {
            let key = |text: &str| xml(&r(text).to_string());
            let (fx, fy, fw) = boxes[key(from).as_str()];
            let (tx, ty, _) = boxes[key(to).as_str()];
            assert!(tx > fx + fw, "{from} -> {to} does not point right");
            let path = format!("M {:.1} {:.1} C", fx + fw, fy + BOX_HEIGHT / 2.0);
            assert!(svg.contains(&path), "no edge leaves {from} at its right side: {path}");
            assert!(svg.contains(&format!("{tx:.1} {:.1}\" fill=\"none\"", ty + BOX_HEIGHT / 2.0)), "{to}");
        }
        // A source sits just before what it feeds: the code next to the training run.
        assert!(boxes["run:train_1@1"].0 - (boxes["code:repo@1"].0 + boxes["code:repo@1"].2) < COLUMN_GAP + 1.0);
        // No two boxes overlap.
        let all: Vec<&(f64, f64, f64)> = boxes.values().collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + BOX_HEIGHT <= b.1 || b.1 + BOX_HEIGHT <= a.1;
                assert!(apart, "boxes {a:?} and {b:?} overlap");
            }
        }
    }

    #[test]
    fn a_graph_too_large_to_read_is_not_drawn() {
        let db = Database::in_memory().unwrap();
        let mut tx = db.begin_write().unwrap();
        tx.create_node("model", "m", Props::new()).unwrap();
        for i in 0..MAX_DRAWN {
            let key = tx.create_node("dataset", &format!("d{i}"), Props::new()).unwrap();
            tx.link(&key.to_ref(), &r("model:m@1"), "input", Props::new()).unwrap();
        }
        tx.commit().unwrap();
        let report = db.begin_read().unwrap().report(&r("model:m@1")).unwrap();
        assert!(drawing(&report).is_none());
    }
}
