//! Integration tests of the query executor, one binary made of modules:
//! data-driven cases (`test_data/exec/*.test`), the session and transaction
//! API, walks checked against a naive reference evaluation, tables with
//! long keys and messages, and every example of `docs/query-language.md`.

mod api;
mod data;
mod docs;
mod render;
mod semantics;
mod support;
