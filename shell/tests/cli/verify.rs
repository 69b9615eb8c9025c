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
