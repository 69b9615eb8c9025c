//! LineageDB query language.
