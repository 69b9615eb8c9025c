//! Integration tests of lineage capture, through the engine's public API:
//! the OpenLineage importer on the fixtures the real `openlineage-python`
//! client wrote (`tests/fixtures/openlineage/`), and the run recorder.

mod import_props;
mod openlineage;
mod recorder;
mod support;
