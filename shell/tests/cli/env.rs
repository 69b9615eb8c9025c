//! Environment variables and defaults: LINEAGEDB_DB, LINEAGEDB_AUTHOR,
//! `--author`, and ./lineage.redb.

use crate::common::Fixture;

#[test]
fn lineagedb_db_names_the_database() {
    let f = Fixture::new();
    let out = f.command().env("LINEAGEDB_DB", f.db()).args(["query", "CREATE dataset:from_env"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(f.db().exists(), "LINEAGEDB_DB was not used");
    assert!(f.query("FIND dataset").ok().contains("dataset:from_env@1"));
}

#[test]
fn the_default_database_is_lineage_redb_in_the_working_directory() {
    let f = Fixture::new();
    f.run(&["query", "CREATE dataset:here"]).ok();
    assert!(f.dir().join("lineage.redb").exists());
    assert!(f.run(&["query", "FIND dataset"]).ok().contains("dataset:here@1"));
}

#[test]
fn lineagedb_author_is_recorded_on_snapshots() {
    let f = Fixture::new();
    let out = f
        .command()
        .env("LINEAGEDB_AUTHOR", "grace.hopper")
        .args(["query", "--db", &f.db_arg(), "CREATE dataset:a"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    f.run(&["query", "--db", &f.db_arg(), "--author", "ada.lovelace", "CREATE dataset:b"]).ok();

    let (out, lines) = f.query_json("SNAPSHOTS");
    out.ok();
    let text = lines[0].to_string();
    assert!(text.contains("grace.hopper"), "{text}");
    assert!(text.contains("ada.lovelace"), "--author overrides the environment: {text}");
    let table = f.query("SNAPSHOTS");
    assert!(table.ok().contains("grace.hopper"), "{}", table.stdout);
}

#[test]
fn without_lineagedb_author_the_os_user_or_git_name_is_used() {
    let f = Fixture::new();
    let out = f
        .command()
        .env_remove("LINEAGEDB_AUTHOR")
        // No git configuration is found in the test's HOME, so the OS user is used.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", f.dir().join("no-gitconfig"))
        .env("USER", "os-user-42")
        .args(["query", "--db", &f.db_arg(), "CREATE dataset:a; SNAPSHOTS"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("os-user-42"), "{stdout}");
}
