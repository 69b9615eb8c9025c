//! `lineagedb`: the command line and interactive shell of LineageDB.
//!
//! Exit status: 0 on success (and when a reader closes stdout early, as
//! `| head` does), 1 when a statement fails, 2 on a usage or I/O error.
//! Errors go to stderr, prefixed `lineagedb:`.

mod archive;
mod audit;
mod cli;
mod complete;
mod demo;
mod export;
mod import;
mod oneshot;
mod output;
mod repl;
mod report;
mod run;
mod serve;
mod spool;

use std::process::ExitCode;

use clap::Parser;
use lineagedb_query::Format;

use crate::cli::{ArchiveCommand, Cli, Command, OutputFormat};
use crate::output::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) | Err(Failure::ClosedPipe) => ExitCode::SUCCESS,
        Err(Failure::Statement) => ExitCode::from(1),
        Err(Failure::Other(error)) => {
            output::report_error(&error);
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    oneshot::set_wait(cli.wait);
    lineagedb_query::set_table_width(output::table_width());
    // Looked up only by commands that may write (it can run `git config`).
    let author = || cli.author();
    let shell_format = format_of(None, cli.format);
    match &cli.command {
        None => {
            let path = cli.db_path();
            let author = author();
            let session = oneshot::open_session(&path, &author)?;
            repl::Repl::new(session, path, author, shell_format).run()
        }
        Some(Command::Query { format, statements }) => oneshot::query(
            &cli.db_path(),
            &author,
            &oneshot::join_statements(statements),
            format_of(*format, cli.format),
        ),
        Some(Command::Exec { format, file }) => {
            oneshot::exec(&cli.db_path(), &author, file, format_of(*format, cli.format))
        }
        Some(Command::Verify) => oneshot::verify(&cli.db_path(), &author),
        Some(Command::Demo { no_repl }) => demo::run(cli.db.as_deref(), &author(), shell_format, *no_repl),
        Some(Command::Import(args)) => import::run(&cli.db_path(), &author(), args),
        Some(Command::Run(args)) => run::run(&cli.db_path(), &author(), args),
        Some(Command::Report(args)) => report::run(&cli.db_path(), &author, args),
        Some(Command::Audit(args)) => audit::run(&cli.db_path(), &author, args),
        Some(Command::Export(args)) => export::run(&cli.db_path(), &author, args),
        Some(Command::Serve(args)) => serve::run(&cli.db_path(), &author(), args),
        Some(Command::Archive { command: ArchiveCommand::Export { output } }) => {
            archive::export(&cli.db_path(), &author, output)
        }
        Some(Command::Archive { command: ArchiveCommand::Import { file } }) => {
            archive::import(&cli.db_path(), &author(), file)
        }
    }
}

/// The subcommand's `--format`, else the global one, else a table.
fn format_of(own: Option<OutputFormat>, global: Option<OutputFormat>) -> Format {
    own.or(global).map_or(Format::Table, Format::from)
}
