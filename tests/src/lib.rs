//! End-to-end test support.
//!
//! `crash_workload` defines what the `crash_writer` binary commits and what
//! the crash test (`tests/crash.rs`) expects to find after killing it.

mod crash_workload;
mod python;

pub use crash_workload::{FOLLOWS, Workload, WorkloadError, commit_once, head_of, import_lines, import_once};
pub use python::python_with;

/// A small deterministic PRNG (splitmix64), seeded per iteration: the crash
/// tests' kill delays.
#[derive(Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}
