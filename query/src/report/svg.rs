//! The drawing of a report's lineage for the HTML report: an SVG of the DAG
//! laid out in layers, left to right, with no script and no network.
//!
//! Layout: each node's layer is the length of the longest path reaching it
//! from a node without inputs (petgraph's topological order gives them in
//! one pass), so every edge points right; a node without inputs then moves
//! right, to just before the first node it feeds. An edge that spans several
//! layers gets a bend in each layer it crosses, a slot of its own, so it runs
//! between the boxes there rather than behind them. Within a layer the slots
//! start in key order and are then reordered by a few sweeps of the
//! barycenter heuristic (each moves towards the mean position of its
//! neighbours in the previous layer, then of the next), which removes most
//! edge crossings of lineage graphs. Columns are as wide as their longest key.

use std::collections::HashMap;
use std::fmt::Write as _;

use lineagedb_engine::{Edge, NodeKey, Report};
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
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
/// Vertical room a bend takes in its column.
const BEND_PITCH: f64 = 12.0;

/// What occupies a place in a column.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// A node's box.
    Node(NodeIndex),
    /// Where an edge crosses a column between its ends (the step-th column after its source).
    Bend(EdgeIndex, usize),
}

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

    // Slots: every node, and a bend where an edge crosses a column between
    // its ends, so long edges take part in the ordering and pass between
    // boxes instead of behind them.
    let mut slots: DiGraph<Slot, ()> = DiGraph::new();
    let mut slot_of: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut columns: Vec<Vec<NodeIndex>> = vec![Vec::new(); depth];
    for &n in &order {
        let s = slots.add_node(Slot::Node(n));
        slot_of.insert(n, s);
        columns[layer[&n]].push(s);
    }
    let mut routes: Vec<(EdgeIndex, Vec<NodeIndex>)> = Vec::new();
    for e in graph.edge_references() {
        let (from, to) = (layer[&e.source()], layer[&e.target()]);
        let mut route = vec![slot_of[&e.source()]];
        for (step, column) in (from + 1..to).enumerate() {
            let bend = slots.add_node(Slot::Bend(e.id(), step));
            columns[column].push(bend);
            route.push(bend);
        }
        route.push(slot_of[&e.target()]);
        for pair in route.windows(2) {
            slots.add_edge(pair[0], pair[1], ());
        }
        routes.push((e.id(), route));
    }
    let sort_key = |s: NodeIndex| -> (String, usize) {
        match slots[s] {
            Slot::Node(n) => (graph[n].to_string(), 0),
            Slot::Bend(e, step) => {
                let (a, b) = graph.edge_endpoints(e).expect("an edge of the graph");
                (format!("{}\u{0}{}", graph[a], graph[b]), step + 1)
            }
        }
    };
    let keys: HashMap<NodeIndex, (String, usize)> = slots.node_indices().map(|s| (s, sort_key(s))).collect();
    for column in &mut columns {
        column.sort_by(|a, b| keys[a].cmp(&keys[b]));
    }
    reduce_crossings(&slots, &keys, &mut columns);

    // Coordinates: (left, top, width, height) of every slot.
    let widths: Vec<f64> = columns
        .iter()
        .map(|c| {
            let text = c.iter().filter_map(|&s| match slots[s] {
                Slot::Node(n) => Some(text_width(&graph[n].to_string()) + 2.0 * PADDING),
                Slot::Bend(..) => None,
            });
            text.fold(0.0, f64::max)
        })
        .collect();
    let pitch = |s: NodeIndex| match slots[s] {
        Slot::Node(_) => BOX_HEIGHT + ROW_GAP,
        Slot::Bend(..) => BEND_PITCH,
    };
    let column_height = |c: &Vec<NodeIndex>| c.iter().map(|&s| pitch(s)).sum::<f64>();
    let tallest = columns.iter().map(column_height).fold(0.0, f64::max);
    let height = 2.0 * MARGIN + tallest;
    let mut x = MARGIN;
    let mut place: HashMap<NodeIndex, (f64, f64, f64)> = HashMap::new(); // left, top, width
    for (column, width) in columns.iter().zip(&widths) {
        let mut y = (height - column_height(column)) / 2.0 + ROW_GAP / 2.0;
        for &s in column {
            let top = match slots[s] {
                Slot::Node(_) => y,
                // A bend's line runs through the middle of a box's row height.
                Slot::Bend(..) => y - (BOX_HEIGHT - BEND_PITCH) / 2.0 - ROW_GAP / 2.0,
            };
            place.insert(s, (x, top, *width));
            y += pitch(s);
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
    for (edge, route) in &routes {
        // From the right side of the source box, through each bend (across
        // its column), to the left side of the target box.
        let mid = |s: NodeIndex| place[&s].1 + BOX_HEIGHT / 2.0;
        let (sx, _, sw) = place[&route[0]];
        let mut points = vec![(sx + sw, mid(route[0]))];
        for &bend in &route[1..route.len() - 1] {
            let (left, _, width) = place[&bend];
            points.push((left, mid(bend)));
            points.push((left + width, mid(bend)));
        }
        points.push((place[&route[route.len() - 1]].0, mid(route[route.len() - 1])));
        let mut d = format!("M {:.1} {:.1}", points[0].0, points[0].1);
        for (i, pair) in points.windows(2).enumerate() {
            let ((x1, y1), (x2, y2)) = (pair[0], pair[1]);
            if i % 2 == 1 {
                // Across a bend's column: a straight line.
                let _ = write!(d, " L {x2:.1} {y2:.1}");
            } else {
                let bend = (x2 - x1) / 2.0;
                let _ = write!(d, " C {:.1} {y1:.1}, {:.1} {y2:.1}, {x2:.1} {y2:.1}", x1 + bend, x2 - bend);
            }
        }
        let (a, b) = graph.edge_endpoints(*edge).expect("an edge of the graph");
        let _ = writeln!(
            svg,
            "<path d=\"{d}\" fill=\"none\" stroke=\"#777\" stroke-width=\"1.2\" marker-end=\"url(#arrow)\">\
             <title>{}</title></path>",
            xml(&format!("{} -> {} ({})", graph[a], graph[b], graph[*edge]))
        );
    }
    for &s in columns.iter().flatten() {
        let Slot::Node(n) = slots[s] else { continue };
        let (left, top, width) = place[&s];
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

/// Barycenter sweeps: down the layers by predecessors, then up by successors;
/// ties keep `keys` order.
fn reduce_crossings(
    slots: &DiGraph<Slot, ()>,
    keys: &HashMap<NodeIndex, (String, usize)>,
    columns: &mut [Vec<NodeIndex>],
) {
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
            // Slots without neighbours there keep their place.
            let center = |n: NodeIndex| {
                let (sum, count) = slots
                    .neighbors_directed(n, dir)
                    .filter_map(|m| position.get(&m))
                    .fold((0usize, 0usize), |(s, c), &p| (s + p, c + 1));
                if count == 0 { current[&n] as f64 } else { sum as f64 / count as f64 }
            };
            let centers: HashMap<NodeIndex, f64> = columns[l].iter().map(|&n| (n, center(n))).collect();
            columns[l].sort_by(|a, b| centers[a].total_cmp(&centers[b]).then_with(|| keys[a].cmp(&keys[b])));
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
        // An edge spanning columns bends through them, beside the boxes there.
        let long = svg.lines().find(|l| l.contains("dataset:raw@1 -&gt; run:train_1@1")).expect("the long edge");
        let d = &long[long.find("d=\"").unwrap() + 3..];
        let d = &d[..d.find('"').unwrap()];
        let mut crossings = 0;
        let tokens: Vec<&str> = d.split([' ', ',']).filter(|t| !t.is_empty()).collect();
        for (i, _) in tokens.iter().enumerate().filter(|(_, t)| **t == "L") {
            let (x1, y): (f64, f64) = (tokens[i - 2].parse().unwrap(), tokens[i - 1].parse().unwrap());
            let x2: f64 = tokens[i + 1].parse().unwrap();
            for (key, (bx, by, bw)) in &boxes {
                let beside = *bx + *bw < x1 || *bx > x2 || y < *by || y > *by + BOX_HEIGHT;
                assert!(beside, "the long edge runs through {key}: {d}");
            }
            crossings += 1;
        }
        assert!(crossings > 0, "the long edge does not bend: {d}");
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
