//! End-to-end tests of the `lineagedb` binary: one-shot queries, scripts,
//! exit statuses, output formats, environment variables, `verify`, the demo,
//! and the shell, both scripted through a pipe and driven through a
//! pseudo-terminal. Each test gets a fresh database in its own directory.

mod archive;
mod audit_export;
mod common;
mod concurrency;
mod demo;
mod env;
mod exec;
mod export;
mod formats;
mod import;
#[path = "../../../query/tests/support/markdown.rs"]
mod markdown;
mod pipe;
mod query;
mod repl_piped;
mod repl_terminal;
mod report;
mod run;
mod serve;
mod stream;
mod tables;
mod usage;
mod verify;
