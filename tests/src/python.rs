//! Real Python tools for the tests that meet another system (the
//! `openlineage-python` client, an `mlflow` server, `dvc`): a virtual
//! environment with pinned packages from PyPI, made by `tests/python/env.sh`
//! the first time a test asks for it and shared by every later run.

use std::path::PathBuf;
use std::process::Command;

/// The interpreter of the environment `name`, with `requirements` (pip
/// requirement specifiers, pinned) installed.
///
/// # Errors
/// What could not be installed, and why, for a test to fail with: a test whose
/// tool cannot be had fails and says so, it never passes silently.
pub fn python_with(name: &str, requirements: &[&str]) -> Result<PathBuf, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/env.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(name)
        .args(requirements)
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cannot set up the Python environment {name:?} with {requirements:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok(PathBuf::from(path))
}
