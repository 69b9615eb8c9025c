//! SQLite, the strongest peer: integer ids, `nodes(id, type, key, props)` (the
//! properties as JSON text) and
//! `edges(src, dst, label)`, covering indexes both ways, the query mix as a
//! recursive CTE with `UNION` (which dedupes the frontier) joined to `nodes`
//! to filter by type.
//!
//! The type filter is a correlated scalar subquery rather than `JOIN nodes`:
//! with the join, SQLite's planner builds a Bloom filter by scanning all of
//! `nodes` on every query, which made the mix about 3x slower at 10k nodes
//! and grows with the table. The form used here is SQLite's fastest we found.
//!
//! To give SQLite its best case the rows go in within one transaction and the
//! indexes are built after the rows, and its page cache is raised to 256 MiB
//! (LineageDB's default adjacency cache budget).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::graph::LineageGraph;
use crate::mix::{Direction, Query};

const ANCESTORS: &str = "WITH RECURSIVE up(id) AS (
        SELECT id FROM nodes WHERE key = ?1
        UNION
        SELECT e.src FROM edges e JOIN up ON e.dst = up.id
    )
    SELECT up.id FROM up
    WHERE (SELECT n.type FROM nodes n WHERE n.id = up.id) = ?2
      AND up.id <> (SELECT id FROM nodes WHERE key = ?1)";

const DESCENDANTS: &str = "WITH RECURSIVE down(id) AS (
        SELECT id FROM nodes WHERE key = ?1
        UNION
        SELECT e.dst FROM edges e JOIN down ON e.src = down.id
    )
    SELECT down.id FROM down
    WHERE (SELECT n.type FROM nodes n WHERE n.id = down.id) = ?2
      AND down.id <> (SELECT id FROM nodes WHERE key = ?1)";

/// `ANCESTORS` answering keys, as the language's `RETURN key` does.
const ANCESTOR_KEYS: &str = "WITH RECURSIVE up(id) AS (
        SELECT id FROM nodes WHERE key = ?1
        UNION
        SELECT e.src FROM edges e JOIN up ON e.dst = up.id
    )
    SELECT (SELECT n.key FROM nodes n WHERE n.id = up.id) FROM up
    WHERE (SELECT n.type FROM nodes n WHERE n.id = up.id) = ?2
      AND up.id <> (SELECT id FROM nodes WHERE key = ?1)";

/// `DESCENDANTS` answering keys.
const DESCENDANT_KEYS: &str = "WITH RECURSIVE down(id) AS (
        SELECT id FROM nodes WHERE key = ?1
        UNION
        SELECT e.dst FROM edges e JOIN down ON e.src = down.id
    )
    SELECT (SELECT n.key FROM nodes n WHERE n.id = down.id) FROM down
    WHERE (SELECT n.type FROM nodes n WHERE n.id = down.id) = ?2
      AND down.id <> (SELECT id FROM nodes WHERE key = ?1)";

/// The page cache and the two tables, before any row.
const SCHEMA: &str = "PRAGMA cache_size = -262144;
     CREATE TABLE nodes(id INTEGER PRIMARY KEY, type TEXT NOT NULL, key TEXT NOT NULL, props TEXT NOT NULL);
     CREATE TABLE edges(src INTEGER NOT NULL, dst INTEGER NOT NULL, label TEXT NOT NULL);";

/// The indexes and statistics, built after the rows.
const INDEXES: &str = "CREATE UNIQUE INDEX nodes_key ON nodes(key);
     CREATE INDEX edges_src ON edges(src, dst);
     CREATE INDEX edges_dst ON edges(dst, src);
     ANALYZE;";

/// Creates a database file at `path` and loads `graph`; node ids are the
/// generated indices.
pub fn load(path: &Path, graph: &LineageGraph) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO nodes(id, type, key, props) VALUES (?1, ?2, ?3, ?4)")?;
        for (i, node) in graph.nodes.iter().enumerate() {
            let props = graph.props(i as u32).to_string();
            insert.execute(params![i as i64, node.node_type.as_str(), node.key(), props])?;
        }
        let mut insert = tx.prepare("INSERT INTO edges(src, dst, label) VALUES (?1, ?2, ?3)")?;
        for e in &graph.edges {
            insert.execute(params![i64::from(e.src), i64::from(e.dst), e.label.as_str()])?;
        }
    }
    tx.execute_batch(INDEXES)?;
    tx.commit()?;
    Ok(conn)
}

/// Loads the JSON Lines import file `jsonl` (written by `write_jsonl`) into a
/// new database at `path`, the way `lineagedb import` reads it: each line is
/// parsed with serde_json, nodes get consecutive ids and their key text in a
/// map, each edge's endpoints are looked up there by key. Same schema, page
/// cache, indexes and `ANALYZE` as `load`, in one transaction. Returns the
/// connection and the (nodes, edges) loaded.
pub fn load_jsonl(path: &Path, jsonl: &Path) -> Result<(Connection, usize, usize)> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Line<'a> {
        #[serde(borrow)]
        Node(NodeLine<'a>),
        #[serde(borrow)]
        Edge(EdgeLine<'a>),
    }
    #[derive(serde::Deserialize)]
    struct NodeLine<'a> {
        #[serde(borrow)]
        r#type: Cow<'a, str>,
        #[serde(borrow)]
        name: Cow<'a, str>,
        version: u64,
        #[serde(default)]
        props: Option<serde_json::Value>,
    }
    #[derive(serde::Deserialize)]
    struct EdgeLine<'a> {
        #[serde(borrow)]
        from: Cow<'a, str>,
        #[serde(borrow)]
        to: Cow<'a, str>,
        #[serde(borrow)]
        label: Cow<'a, str>,
    }
    let mut conn = Connection::open(path)?;
    conn.execute_batch(SCHEMA)?;
    let (mut nodes, mut edges) = (0, 0);
    let tx = conn.transaction()?;
    {
        let mut insert_node = tx.prepare("INSERT INTO nodes(id, type, key, props) VALUES (?1, ?2, ?3, ?4)")?;
        let mut insert_edge = tx.prepare("INSERT INTO edges(src, dst, label) VALUES (?1, ?2, ?3)")?;
        let mut ids: HashMap<String, i64> = HashMap::new();
        let bad = |what: String| Error::Invalid(format!("{}: {what}", jsonl.display()));
        let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(jsonl)?);
        let mut text = String::new();
        while reader.read_line(&mut text)? > 0 {
            match serde_json::from_str::<Line<'_>>(text.trim()).map_err(|e| bad(e.to_string()))? {
                Line::Node(n) => {
                    let key = format!("{}:{}@{}", n.r#type, n.name, n.version);
                    let id = nodes as i64;
                    let props = n.props.map_or_else(|| "{}".to_owned(), |p| p.to_string());
                    insert_node.execute(params![id, n.r#type, key, props])?;
                    ids.insert(key, id);
                    nodes += 1;
                }
                Line::Edge(e) => {
                    let id = |key: &str| ids.get(key).copied().ok_or_else(|| bad(format!("no node {key}")));
                    insert_edge.execute(params![id(&e.from)?, id(&e.to)?, e.label])?;
                    edges += 1;
                }
            }
            text.clear();
        }
    }
    tx.execute_batch(INDEXES)?;
    tx.commit()?;
    Ok((conn, nodes, edges))
}

/// Runs one query of the mix; returns node ids (= generated indices), unsorted.
pub fn run_query(conn: &Connection, query: &Query) -> Result<Vec<u32>> {
    let sql = match query.direction {
        Direction::Ancestors => ANCESTORS,
        Direction::Descendants => DESCENDANTS,
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![query.key, query.want.as_str()], |row| row.get::<_, i64>(0))?;
    let mut out = Vec::new();
    for id in rows {
        out.push(id? as u32);
    }
    Ok(out)
}

/// Runs one query of the mix answering the keys of the nodes, unsorted.
pub fn run_query_keys(conn: &Connection, query: &Query) -> Result<Vec<String>> {
    let sql = match query.direction {
        Direction::Ancestors => ANCESTOR_KEYS,
        Direction::Descendants => DESCENDANT_KEYS,
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![query.key, query.want.as_str()], |row| row.get::<_, String>(0))?;
    let mut out = Vec::new();
    for key in rows {
        out.push(key?);
    }
    Ok(out)
}
