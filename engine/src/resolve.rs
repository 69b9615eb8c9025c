//! Resolving references (`model:fraud@production`) to nodes at a snapshot,
//! shared by read and write transactions, and turning records into `Node`s.

use crate::db::Dict;
use crate::error::{Error, Result};
use crate::key::{NodeKey, NodeRef, VersionSel};
use crate::model::Node;
use crate::storage::StoreRead;
use crate::storage::codec::{NodeHeader, NodeId, NodeRecord, SnapshotId};
use crate::value::Timestamp;

/// Resolves `r` as it stood at snapshot `at`, with the node's full record.
pub(crate) fn resolve(
    tables: &dyn StoreRead,
    dict: &Dict,
    r: &NodeRef,
    at: SnapshotId,
) -> Result<(NodeId, NodeRecord)> {
    let (id, _) = resolve_header(tables, dict, r, at)?;
    let record = tables.node(id)?.ok_or_else(|| Error::Corrupt { detail: format!("node id {id} has no record") })?;
    Ok((id, record))
}

/// Resolves `r` as it stood at snapshot `at`, decoding only the record's header.
pub(crate) fn resolve_header(
    tables: &dyn StoreRead,
    dict: &Dict,
    r: &NodeRef,
    at: SnapshotId,
) -> Result<(NodeId, NodeHeader)> {
    let Some(&type_id) = dict.type_ids.get(&r.type_name) else {
        let mut known: Vec<&str> = dict.type_ids.keys().map(String::as_str).collect();
        known.sort_unstable();
        let hint = if known.is_empty() {
            "the database has no nodes yet".to_owned()
        } else {
            format!("no node has type `{}`; known types: {}", r.type_name, known.join(", "))
        };
        return Err(Error::NoSuchNode { reference: r.to_string(), hint: Some(hint) });
    };
    let wanted = match &r.version {
        VersionSel::Number(n) => *n,
        VersionSel::Latest => match latest_visible(tables, type_id, &r.name, at)? {
            Some(v) => v,
            None => {
                return Err(Error::NoSuchNode {
                    reference: r.to_string(),
                    hint: missing_hint(tables, type_id, r, at)?,
                });
            }
        },
        VersionSel::Label(label) => match tables.label_version(type_id, &r.name, label)? {
            Some(v) => v,
            None => {
                return Err(Error::NoSuchNode {
                    reference: r.to_string(),
                    hint: Some(format!("no version of {} carries label {label:?}", r.entity())),
                });
            }
        },
        VersionSel::Alias(alias) => match tables.alias_at(type_id, &r.name, alias, at)?.and_then(|m| m.version) {
            Some(v) => v,
            None => {
                let mut held: Vec<String> = Vec::new();
                for (name, _) in tables.alias_moves(type_id, &r.name, None)? {
                    if !held.contains(&name)
                        && tables.alias_at(type_id, &r.name, &name, at)?.and_then(|m| m.version).is_some()
                    {
                        held.push(name);
                    }
                }
                let hint =
                    if held.is_empty() { None } else { Some(format!("aliases at snapshot {at}: {}", held.join(", "))) };
                return Err(Error::NoSuchAlias { entity: r.entity().to_string(), alias: alias.clone(), hint });
            }
        },
    };
    let found = match tables.node_id(type_id, &r.name, wanted)? {
        Some(id) => tables.node_header(id)?.map(|header| (id, header)),
        None => None,
    };
    match found {
        Some((id, record)) if record.created_in <= at => {
            if let Some(d) = record.deleted_in.filter(|d| *d <= at) {
                return Err(Error::Deleted { key: header_key(dict, &record)?.to_string(), snapshot: d });
            }
            Ok((id, record))
        }
        Some((_, record)) => Err(Error::NoSuchNode {
            reference: r.to_string(),
            hint: Some(format!("it was created at snapshot {}, after snapshot {at}", record.created_in)),
        }),
        None => Err(Error::NoSuchNode { reference: r.to_string(), hint: missing_hint(tables, type_id, r, at)? }),
    }
}

/// The newest version of an entity visible at `at`.
fn latest_visible(tables: &dyn StoreRead, type_id: u32, name: &str, at: SnapshotId) -> Result<Option<u64>> {
    for (version, id) in tables.versions(type_id, name)?.into_iter().rev() {
        if tables.node_header(id)?.is_some_and(|header| header.visible_at(at)) {
            return Ok(Some(version));
        }
    }
    Ok(None)
}

/// The hint of a "no node" error: the latest version, or why there is none.
fn missing_hint(tables: &dyn StoreRead, type_id: u32, r: &NodeRef, at: SnapshotId) -> Result<Option<String>> {
    if let Some(v) = latest_visible(tables, type_id, &r.name, at)? {
        return Ok(Some(format!("latest version is {v}")));
    }
    let any = tables.versions(type_id, &r.name)?;
    Ok(Some(if any.is_empty() {
        format!("there is no entity {}", r.entity())
    } else {
        format!("{} has no live version at snapshot {at}", r.entity())
    }))
}

/// The canonical key of a record header.
pub(crate) fn header_key(dict: &Dict, header: &NodeHeader) -> Result<NodeKey> {
    Ok(NodeKey {
        type_name: dict.type_name(header.type_id)?.to_owned(),
        name: header.name.clone(),
        version: header.version,
    })
}

/// The canonical key of a record.
pub(crate) fn key_of(dict: &Dict, record: &NodeRecord) -> Result<NodeKey> {
    Ok(NodeKey {
        type_name: dict.type_name(record.type_id)?.to_owned(),
        name: record.name.clone(),
        version: record.version,
    })
}

/// Builds the public `Node` for a record as seen at `at`: content merged with
/// the annotations current then.
pub(crate) fn to_node(
    tables: &dyn StoreRead,
    dict: &Dict,
    id: NodeId,
    record: NodeRecord,
    at: SnapshotId,
) -> Result<Node> {
    let key = key_of(dict, &record)?;
    let mut props = record.props;
    if let Some(overlay) = tables.annotations_at(id, at)? {
        // A null annotation removes the property, content included.
        for (k, v) in overlay {
            if v == crate::value::Value::Null {
                props.remove(&k);
            } else {
                props.insert(k, v);
            }
        }
    }
    Ok(Node {
        id,
        key,
        label: record.label,
        props,
        created_at: Timestamp(record.created_at),
        created_in: record.created_in,
        created_by: record.created_by,
        deleted_in: record.deleted_in.filter(|d| *d <= at),
    })
}
