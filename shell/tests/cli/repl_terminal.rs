//! The shell on a pseudo-terminal, as a person uses it: prompts, tab
//! completion, multi-line statements, Ctrl-C, errors that keep the session,
//! the transaction prompt, history and `.quit`.
//!
//! Each step waits for the prompt before typing: rustyline asks the terminal
//! for the cursor position before drawing a prompt, and input typed during
//! that exchange would be taken as the answer.

use std::time::Duration;

use expectrl::session::OsSession;
use expectrl::{ControlCode, Eof, Expect, Session};

use crate::common::Fixture;

type Pty = OsSession;

fn spawn(f: &Fixture) -> Pty {
    let mut command = f.terminal_command();
    command.args(["--db", &f.db_arg()]).env("TERM", "xterm");
    let mut pty = Session::spawn(command).expect("spawn lineagedb on a pseudo-terminal");
    pty.set_expect_timeout(Some(Duration::from_secs(10)));
    pty
}

#[track_caller]
fn expect(pty: &mut Pty, text: &str) {
    if let Err(error) = pty.expect(text) {
        panic!("expected {text:?} from the shell: {error}");
    }
}

#[test]
fn a_terminal_session_completes_runs_multi_line_statements_and_survives_errors() {
    let f = Fixture::new();
    f.query(
        "CREATE dataset:transactions SET {rows: 1111}; CREATE dataset:transactions_clean SET {rows: 4242}; \
         LINK dataset:transactions@1 -> dataset:transactions_clean@1 AS cleaned",
    )
    .ok();
    let mut pty = spawn(&f);
    expect(&mut pty, "lineagedb> ");

    // A keyword: `ANCE` + Tab becomes `ANCESTORS `.
    pty.send("ANCE\t").expect("type");
    expect(&mut pty, "ANCESTORS");
    pty.send("OF dataset:transactions_clean@1;\r").expect("type");
    expect(&mut pty, "dataset:transactions@1");
    expect(&mut pty, "lineagedb> ");

    // A node key: `dataset:transactions_c` + Tab names the entity.
    pty.send("SHOW dataset:transactions_c\t").expect("type");
    expect(&mut pty, "transactions_clean");
    pty.send("@1;\r").expect("type");
    expect(&mut pty, "4242");
    expect(&mut pty, "lineagedb> ");

    // A statement over two lines: the first shows the continuation prompt.
    pty.send("FIND dataset\r").expect("type");
    expect(&mut pty, "...> ");
    pty.send("WHERE rows > 2000;\r").expect("type");
    expect(&mut pty, "dataset:transactions_clean@1");
    expect(&mut pty, "lineagedb> ");

    // Ctrl-C forgets the statement being typed.
    pty.send("FIND dataset\r").expect("type");
    expect(&mut pty, "...> ");
    pty.send(ControlCode::EndOfText).expect("Ctrl-C");
    expect(&mut pty, "lineagedb> ");

    // An error shows the statement and a caret, and the shell goes on.
    pty.send("SHOW dataset:transactions@9;\r").expect("type");
    expect(&mut pty, "^");
    expect(&mut pty, "lineagedb> ");
    pty.send("SNAPSHOTS LIMIT 1;\r").expect("type");
    expect(&mut pty, "tester");
    expect(&mut pty, "lineagedb> ");

    // An open transaction shows in the prompt.
    pty.send("BEGIN;\r").expect("type");
    expect(&mut pty, "lineagedb(tx)> ");
    pty.send("ROLLBACK;\r").expect("type");
    expect(&mut pty, "lineagedb> ");

    pty.send(".quit\r").expect("type");
    if let Err(error) = pty.expect(Eof) {
        panic!("the shell did not end after .quit: {error}");
    }
    let history = std::fs::read_to_string(f.dir().join("history")).expect("the history file was written");
    assert!(history.contains("SHOW dataset:transactions_clean@1;"), "{history}");
}

#[test]
fn ctrl_d_leaves_the_shell() {
    let f = Fixture::new();
    let mut pty = spawn(&f);
    expect(&mut pty, "lineagedb> ");
    pty.send(ControlCode::EndOfTransmission).expect("Ctrl-D");
    if let Err(error) = pty.expect(Eof) {
        panic!("the shell did not end on Ctrl-D: {error}");
    }
}

#[test]
fn statements_typed_ahead_in_one_burst_all_run() {
    let f = Fixture::new();
    let mut pty = spawn(&f);
    expect(&mut pty, "lineagedb> ");
    // Pasted at once, while the shell is still drawing its prompt.
    pty.send("CREATE dataset:a;\rCREATE dataset:b;\rCREATE dataset:c;\rCREATE dataset:d;\r").expect("type");
    expect(&mut pty, "created dataset:d@1");
    expect(&mut pty, "lineagedb> ");
    pty.send(".quit\r").expect("type");
    pty.expect(Eof).expect("the shell ends");
    let (out, lines) = f.query_json("FIND dataset RETURN key");
    out.ok();
    assert_eq!(crate::common::row_keys(&lines[0]), ["dataset:a@1", "dataset:b@1", "dataset:c@1", "dataset:d@1"]);
}
