//! `archive_importer <database> <archive>`: imports an archive into a new
//! LineageDB file so that the crash test can kill it with SIGKILL while the
//! import runs. Prints `ready` once the database is open, `begin` before the
//! import and `committed <snapshot>` once `import_archive` has returned,
//! each flushed at once.

use std::io::{BufReader, Write};
use std::process::ExitCode;

use lineagedb_engine::Database;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("archive_importer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(archive), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: archive_importer <database> <archive>".into());
    };
    let input = std::fs::File::open(&archive)?;
    let db = Database::create(&path)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready")?;
    stdout.flush()?;
    writeln!(stdout, "begin")?;
    stdout.flush()?;
    let manifest = db.import_archive(&mut BufReader::new(input), &archive, &mut |_| {})?;
    writeln!(stdout, "committed {}", manifest.last_snapshot)?;
    stdout.flush()?;
    Ok(())
}
