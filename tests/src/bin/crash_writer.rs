//! `crash_writer <database> <commits|imports>`: writes to a LineageDB file
//! forever so that the crash test can kill it with SIGKILL at a random moment.
//!
//! It prints `ready` once the database is open, then for each transaction
//! `begin <snapshot>` before starting it and `committed <snapshot>` once its
//! commit has returned, each flushed at once: every id printed as committed
//! is a snapshot the engine promised is durable, and a `begin` without its
//! `committed` names the transaction the kill cut short. What each snapshot holds is
//! defined by `lineagedb_tests::Workload`.

use std::io::Write;
use std::process::ExitCode;

use lineagedb_engine::Database;
use lineagedb_tests::{Workload, WorkloadError, commit_once, head_of, import_once};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash_writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), WorkloadError> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(workload), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: crash_writer <database> <commits|imports>".into());
    };
    let workload = Workload::parse(&workload)
        .ok_or_else(|| format!("unknown workload {workload:?}: expected commits or imports"))?;
    let db = Database::create(&path)?;
    let read = db.begin_read()?;
    let mut head = head_of(&read)?;
    let mut next = read.latest_snapshot() + 1;
    drop(read);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    loop {
        writeln!(stdout, "begin {next}")?;
        stdout.flush()?;
        let snapshot = match workload {
            Workload::Commits => commit_once(&db, head.as_ref())?,
            Workload::Imports => import_once(&db, head.as_ref())?,
        };
        if snapshot != next {
            return Err(format!("committed snapshot {snapshot}, expected {next}").into());
        }
        head = Some(workload.node_key(snapshot, 0));
        next += 1;
        writeln!(stdout, "committed {snapshot}")?;
        stdout.flush()?;
    }
}
