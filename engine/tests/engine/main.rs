//! Integration tests of the storage engine, through its public API only.
//!
//! One test binary made of modules (one per concern); every test gets a fresh
//! file-backed database from `support::fresh_db`.

mod aliases;
mod audit;
mod cache;
mod concurrency;
mod edges;
mod files;
mod model;
mod newer_format_untouched;
mod nodes;
mod relink_props;
mod snapshots;
mod support;
mod traversal;
