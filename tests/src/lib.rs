//! End-to-end test support.
//!
//! `crash_workload` defines what the `crash_writer` binary commits and what
//! the crash test (`tests/crash.rs`) expects to find after killing it.

mod crash_workload;

pub use crash_workload::{FOLLOWS, Workload, WorkloadError, commit_once, head_of, import_lines, import_once};
