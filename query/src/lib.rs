//! LineageDB query language.
pub mod syntax;
