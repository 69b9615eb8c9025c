//! `lineagedb verify`: a summary, and exit 1 when the file was tampered with.

use crate::common::Fixture;

#[test]
fn verify_passes_on_a_sound_database() {
    let f = Fixture::new();
    f.query("CREATE dataset:a; CREATE model:m; LINK dataset:a@1 -> model:m@1; PROMOTE model:m@1 TO production").ok();
    let out = f.run(&["verify", "--db", &f.db_arg()]);
    let stdout = out.ok();
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains("2 nodes"), "{stdout}");
}

#[test]
fn verify_detects_a_removed_audit_entry() {
    let f = Fixture::new();
    f.query("CREATE dataset:a; CREATE dataset:b; CREATE dataset:c").ok();
    lineagedb_engine::tamper_remove_audit(&f.db(), 2).expect("tamper");
    let out = f.run(&["verify", "--db", &f.db_arg()]);
    out.exits(1);
    assert!(out.stdout.contains("problem: "), "{}", out.stdout);
    assert!(out.stderr.starts_with("lineagedb: verify found"), "{}", out.stderr);
}

#[test]
fn verify_of_a_missing_database_exits_2() {
    let f = Fixture::new();
    let out = f.run(&["verify", "--db", &f.db_arg()]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: no database at"), "{}", out.stderr);
    assert!(!f.db().exists());
}

/// A file of the previous storage format is upgraded in place by the first
/// command that opens it, a read-only `query` included, and nothing is lost.
#[test]
fn a_format_3_file_is_upgraded_by_any_command() {
    let f = Fixture::new();
    f.query("CREATE dataset:a; CREATE dataset:a; CREATE model:m; LINK dataset:a@2 -> model:m@1").ok();
    lineagedb_engine::downgrade_to_format_3(&f.db()).expect("downgrade");
    assert!(matches!(
        lineagedb_engine::Database::open_read_only(f.db()),
        Err(lineagedb_engine::Error::NeedsUpgrade { found: 3, .. })
    ));
    let out = f.run(&["query", "--db", &f.db_arg(), "--format", "csv", "ANCESTORS OF model:m"]);
    assert!(out.ok().contains("dataset:a@2"), "{}", out.stdout);
    assert!(lineagedb_engine::Database::open_read_only(f.db()).is_ok(), "the file is at the current format now");
    assert!(f.run(&["verify", "--db", &f.db_arg()]).ok().starts_with("ok: "));
}
