//! The fixture: a temporary directory holding the database, the history file
//! and the working directory of every command, plus helpers to run the binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_lineagedb");

/// A fresh directory and database for one test.
pub struct Fixture {
    dir: tempfile::TempDir,
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn from(output: Output) -> Outcome {
        Outcome {
            // A signal (no code) must fail every assertion on the code.
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts exit status `code`.
    #[track_caller]
    pub fn exits(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, code, "unexpected exit status\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture { dir: tempfile::tempdir().expect("temporary directory") }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The test's database file (created by the first command that opens it).
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("test.redb")
    }

    pub fn db_arg(&self) -> String {
        self.db().display().to_string()
    }

    /// The binary, run in the test directory with a clean environment: no
    /// inherited LINEAGEDB_* variables, HOME and the history in the test
    /// directory, and the author `tester`.
    pub fn command(&self) -> Command {
        let mut command = self.terminal_command();
        command.stdin(Stdio::null());
        command
    }

    /// Like [`Fixture::command`] but with stdio left alone, for a pseudo-terminal.
    pub fn terminal_command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .current_dir(self.dir.path())
            .env_remove("LINEAGEDB_DB")
            .env_remove("LINEAGEDB_WAIT")
            .env_remove("COLUMNS")
            .env("LINEAGEDB_AUTHOR", "tester")
            .env("HOME", self.dir.path())
            .env("LINEAGEDB_HISTORY", self.dir.path().join("history"));
        command
    }

    /// Runs the binary with `args`.
    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome::from(self.command().args(args).output().expect("run lineagedb"))
    }

    /// Runs the binary with `args` and `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Outcome {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lineagedb");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
        drop(stdin);
        Outcome::from(child.wait_with_output().expect("wait for lineagedb"))
    }

    /// `lineagedb query --db DB STATEMENTS`.
    pub fn query(&self, statements: &str) -> Outcome {
        self.run(&["query", "--db", &self.db_arg(), statements])
    }

    /// `lineagedb query --db DB --format json STATEMENTS`, each line parsed.
    pub fn query_json(&self, statements: &str) -> (Outcome, Vec<serde_json::Value>) {
        let outcome = self.run(&["query", "--db", &self.db_arg(), "--format", "json", statements]);
        let lines = json_lines(&outcome.stdout);
        (outcome, lines)
    }

    /// Writes `text` to `name` in the test directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }
}

/// Parses every line of `stdout` as JSON.
#[track_caller]
pub fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}")))
        .collect()
}

/// The keys of the rows of a JSON node result.
#[track_caller]
pub fn row_keys(value: &serde_json::Value) -> Vec<String> {
    value["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {value}"))
        .iter()
        .map(|row| row["key"].as_str().unwrap_or_else(|| panic!("row without key: {row}")).to_owned())
        .collect()
}

impl Fixture {
    /// Runs the binary with `args`, reads the first line of its stdout, then
    /// closes the pipe as `| head -1` would; returns the line and how the
    /// command ended.
    pub fn close_after_first_line(&self, args: &[&str]) -> (String, Outcome) {
        let mut child =
            self.command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn lineagedb");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut first).expect("read the first line");
        drop(stdout);
        (first, Outcome::from(child.wait_with_output().expect("wait")))
    }
}

/// Runs git in `dir` with a fixed identity, asserting success; returns its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The queries the welcome suggests: its indented lines ending with `;`.
pub fn suggested_queries(welcome: &str) -> Vec<String> {
    welcome
        .lines()
        .filter(|line| line.starts_with("  ") && line.trim_end().ends_with(';'))
        .map(|line| line.trim().to_owned())
        .collect()
}
