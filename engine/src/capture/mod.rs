//! Capturing lineage from pipelines: the OpenLineage importer
//! ([`OpenLineageImporter`]) turns RunEvents written by any OpenLineage
//! integration into runs, jobs, datasets, models and code revisions, and the
//! run recorder ([`start_run`]) records one execution of a command or of
//! Rust code, which is what `lineagedb run` does. [`openlineage_events`]
//! gives the graph back as OpenLineage RunEvents.
//!
//! Both speak to the graph only through [`WriteTx`]: every node and edge they
//! write carries `asserted_by` and `asserted_at`, and every mutation gets its
//! audit entry from the engine.

mod openlineage;
mod openlineage_export;
mod recorder;

pub use openlineage::{OpenLineageImporter, OpenLineageOptions};
pub use openlineage_export::{EXPORT_PRODUCER, RUN_EVENT_SCHEMA, openlineage_events};
pub use recorder::{
    GitInfo, HashedOutput, PendingInput, PendingRun, RecorderError, ReservedRun, RunOutcome, RunRecorder, RunStatus,
    start_run, start_run_detached,
};

use crate::error::Result;
use crate::key::{NodeKey, NodeRef, VersionSel};
use crate::value::{Props, Value};
use crate::write::{Created, NewNode, WriteTx};

/// The `code:` node of one source revision: the version of `code:<name>`
/// whose external label is `commit`, created when no version carries it.
/// Returns the key and whether it was created.
pub(crate) fn code_version(
    tx: &mut WriteTx,
    name: &str,
    vcs: &str,
    commit: &str,
    remote: Option<&str>,
) -> Result<(NodeKey, bool)> {
    let by_label = NodeRef::new("code", name, VersionSel::Label(commit.to_owned()))?;
    if let Some((key, _, _)) = tx.lookup(&by_label)? {
        return Ok((key, false));
    }
    let mut props = Props::new();
    props.insert("vcs".into(), Value::from(vcs));
    props.insert("commit".into(), Value::from(commit));
    if let Some(remote) = remote {
        props.insert("remote".into(), Value::from(remote));
    }
    let new = NewNode {
        type_name: "code".into(),
        name: name.to_owned(),
        version: None,
        label: Some(commit.to_owned()),
        props,
    };
    match tx.create(new)? {
        Created::New(key) => Ok((key, true)),
        Created::Existing(key) => Ok((key, false)),
    }
}

/// The latest version of `type:name`, created as version 1 with `props`
/// when the entity has no live version. Returns the key and whether it was created.
pub(crate) fn ensure_entity(tx: &mut WriteTx, type_name: &str, name: &str, props: Props) -> Result<(NodeKey, bool)> {
    let latest = NodeRef::new(type_name, name, VersionSel::Latest)?;
    if let Some((key, _, _)) = tx.lookup(&latest)? {
        return Ok((key, false));
    }
    Ok((tx.create_node(type_name, name, props)?, true))
}
