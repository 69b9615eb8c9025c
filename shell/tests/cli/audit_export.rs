//! `lineagedb audit`: the audit log exported as JSON Lines or CSV, every
//! field, filtered by entity or node, snapshot or time, and author; `-o`
//! files; the hash chain re-checked from the export alone; exit statuses.

use serde_json::Value;

use crate::common::{Fixture, Outcome, json_lines};

/// The detail text of the version bob creates: a comma and double quotes, for CSV quoting.
const NOTE: &str = r#"a, "quoted" note"#;

/// Seven audit entries, one per snapshot, by two authors:
///
/// | seq | author | op          | subjects                      |
/// | 1   | alice  | create_node | dataset:tx@1                  |
/// | 2   | alice  | create_node | model:fraud@1                 |
/// | 3   | alice  | link        | dataset:tx@1, model:fraud@1   |
/// | 4   | bob    | create_node | model:fraud@2 (note: NOTE)    |
/// | 5   | bob    | promote     | model:fraud@2 (production)    |
/// | 6   | alice  | set         | model:fraud@1                 |
/// | 7   | bob    | create_node | dataset:"raw; eu"@1           |
fn audited() -> Fixture {
    let f = Fixture::new();
    let db = f.db_arg();
    let as_author = |author: &str, statements: &str| {
        f.run(&["--author", author, "query", "--db", &db, statements]).ok();
    };
    as_author("alice", "CREATE dataset:tx; CREATE model:fraud; LINK dataset:tx@1 -> model:fraud@1 AS input");
    as_author("bob", r#"CREATE model:fraud SET {note: 'a, "quoted" note'}; PROMOTE model:fraud@2 TO production"#);
    as_author("alice", "SET model:fraud@1 {retired: true}");
    as_author("bob", r#"CREATE dataset:"raw; eu""#);
    f
}

/// `lineagedb audit --db DB ARGS...`.
fn audit(f: &Fixture, args: &[&str]) -> Outcome {
    let db = f.db_arg();
    let mut all = vec!["audit", "--db", db.as_str()];
    all.extend_from_slice(args);
    f.run(&all)
}

/// The JSON Lines export with `args`, each line parsed.
#[track_caller]
fn entries(f: &Fixture, args: &[&str]) -> Vec<Value> {
    json_lines(audit(f, args).ok())
}

/// The sequence numbers of `entries`.
#[track_caller]
fn seqs(entries: &[Value]) -> Vec<u64> {
    entries.iter().map(|e| e["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {e}"))).collect()
}

fn text<'a>(entry: &'a Value, field: &str) -> &'a str {
    entry[field].as_str().unwrap_or_else(|| panic!("no text {field} in {entry}"))
}

/// The rows of a CSV export, header first.
#[track_caller]
fn csv_rows(stdout: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(stdout.as_bytes());
    reader.records().map(|record| record.expect("a CSV record").iter().map(str::to_owned).collect()).collect()
}

const COLUMNS: [&str; 10] =
    ["seq", "snapshot", "time", "author", "op", "subjects", "detail", "digest", "prev_hash", "hash"];

#[test]
fn jsonl_has_every_field_of_every_entry_and_the_entries_chain() {
    let f = audited();
    let all = entries(&f, &[]);
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5, 6, 7]);
    for entry in &all {
        let mut keys: Vec<&str> = entry.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = COLUMNS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{entry}");
        assert_eq!(entry["snapshot"], entry["seq"], "one entry per snapshot here: {entry}");
        // RFC 3339, UTC, exactly six fractional digits.
        let time = text(entry, "time");
        assert!(time.len() == 27 && time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
        assert!(time[20..26].bytes().all(|b| b.is_ascii_digit()), "{time}");
        for field in ["digest", "prev_hash", "hash"] {
            let hex = text(entry, field);
            assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "{field}: {hex}");
        }
        assert!(entry["detail"].is_object(), "detail is parsed JSON: {entry}");
        assert!(entry["subjects"].is_array(), "{entry}");
    }
    let authors: Vec<&str> = all.iter().map(|e| text(e, "author")).collect();
    assert_eq!(authors, ["alice", "alice", "alice", "bob", "bob", "alice", "bob"]);
    let ops: Vec<&str> = all.iter().map(|e| text(e, "op")).collect();
    assert_eq!(ops, ["create_node", "create_node", "link", "create_node", "promote", "set", "create_node"]);
    assert_eq!(all[2]["subjects"], serde_json::json!(["dataset:tx@1", "model:fraud@1"]));
    assert_eq!(all[3]["detail"]["props"]["note"], NOTE);
    assert_eq!(all[4]["detail"]["alias"], "production");
    assert_eq!(all[6]["subjects"], serde_json::json!([r#"dataset:"raw; eu"@1"#]));

    // The chain: zeros first, then each entry points at the one before.
    assert_eq!(text(&all[0], "prev_hash"), "0".repeat(64));
    for pair in all.windows(2) {
        assert_eq!(text(&pair[1], "prev_hash"), text(&pair[0], "hash"), "chain broken at seq {}", pair[1]["seq"]);
    }
    let mut times: Vec<&str> = all.iter().map(|e| text(e, "time")).collect();
    let written = times.clone();
    times.sort_unstable();
    assert_eq!(times, written, "times ascend with seq");
}

#[test]
fn the_chain_can_be_recomputed_from_the_csv_export_alone() {
    let f = audited();
    let rows = csv_rows(audit(&f, &["--format", "csv"]).ok());
    let jsonl = entries(&f, &[]);
    assert_eq!(rows.len(), jsonl.len() + 1);
    let mut prev = "0".repeat(64);
    for (row, entry) in rows[1..].iter().zip(&jsonl) {
        let [seq, snapshot, time, author, op, subjects, detail, digest, prev_hash, hash] =
            <[String; 10]>::try_from(row.clone()).expect("ten columns");
        // digest = SHA-256 of the detail text, which CSV carries exactly.
        assert_eq!(hex(&sha256(detail.as_bytes())), digest, "digest of seq {seq}");
        // JSONL's detail is the same JSON; serialized compactly, the same text.
        assert_eq!(entry["detail"].to_string(), detail, "seq {seq}");
        // Subjects: `;`-separated, splitting outside double-quoted names.
        let subjects = split_subjects(&subjects);
        assert_eq!(serde_json::json!(subjects), entry["subjects"], "seq {seq}");
        // hash = SHA-256 of postcard(seq, snapshot, time, author, op, subjects, digest, prev).
        let micros = lineagedb_engine::Timestamp::parse_rfc3339(&time).expect("an RFC 3339 time").micros();
        let mut bytes = Vec::new();
        varint(&mut bytes, seq.parse().expect("seq"));
        varint(&mut bytes, snapshot.parse().expect("snapshot"));
        varint(&mut bytes, ((micros << 1) ^ (micros >> 63)) as u64);
        for text in [&author, &op] {
            string(&mut bytes, text);
        }
        varint(&mut bytes, subjects.len() as u64);
        for subject in &subjects {
            string(&mut bytes, subject);
        }
        bytes.extend(unhex(&digest));
        bytes.extend(unhex(&prev_hash));
        assert_eq!(hex(&sha256(&bytes)), hash, "hash of seq {seq}");
        assert_eq!(prev_hash, prev, "chain at seq {seq}");
        prev = hash;
    }
}

#[test]
fn csv_has_a_header_one_row_per_entry_and_quotes_commas_and_quotes() {
    let f = audited();
    let out = audit(&f, &["--format", "csv"]);
    let stdout = out.ok();
    assert_eq!(stdout.lines().next(), Some("seq,snapshot,time,author,op,subjects,detail,digest,prev_hash,hash"));
    // The note's quotes are doubled inside a quoted cell.
    assert!(stdout.contains(r#",""props"":{""note"":""a, \""quoted\"" note""}}","#), "{stdout}");
    let rows = csv_rows(stdout);
    assert_eq!(rows.len(), 8, "a header and seven entries:\n{stdout}");
    assert!(rows.iter().all(|row| row.len() == 10), "{rows:?}");
    let detail: Value = serde_json::from_str(&rows[4][6]).expect("the detail cell is the JSON text");
    assert_eq!(detail["props"]["note"], NOTE);
    assert_eq!(rows[3][5], "dataset:tx@1;model:fraud@1");
    assert_eq!(rows[7][5], r#"dataset:"raw; eu"@1"#);
    // Filters apply to CSV too; an empty export is the header alone.
    assert_eq!(csv_rows(audit(&f, &["--format", "csv", "--by", "bob"]).ok()).len(), 4);
    assert_eq!(audit(&f, &["--format", "csv", "--by", "nobody"]).ok(), format!("{}\n", COLUMNS.join(",")));
}

#[test]
fn entity_without_a_version_selects_every_version_and_with_one_that_node() {
    let f = audited();
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud"])), [2, 3, 4, 5, 6]);
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud@1"])), [2, 3, 6]);
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud@2"])), [4, 5]);
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud@production"])), [4, 5]);
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud@latest"])), [4, 5]);
    assert_eq!(seqs(&entries(&f, &["--entity", "dataset:tx"])), [1, 3]);
    assert_eq!(seqs(&entries(&f, &["--entity", r#"dataset:"raw; eu""#])), [7]);
    // Combined with the other filters.
    assert_eq!(seqs(&entries(&f, &["--entity", "model:fraud", "--by", "alice", "--since", "3"])), [3, 6]);
}

#[test]
fn since_and_until_take_snapshot_numbers_inclusively() {
    let f = audited();
    assert_eq!(seqs(&entries(&f, &["--since", "3", "--until", "5"])), [3, 4, 5]);
    assert_eq!(seqs(&entries(&f, &["--since", "6"])), [6, 7]);
    assert_eq!(seqs(&entries(&f, &["--until", "2"])), [1, 2]);
    assert_eq!(seqs(&entries(&f, &["--since", "4", "--until", "4"])), [4]);
    assert!(entries(&f, &["--since", "99"]).is_empty());
}

#[test]
fn since_and_until_take_rfc3339_times_inclusively() {
    let f = audited();
    let all = entries(&f, &[]);
    let time = |seq: usize| text(&all[seq - 1], "time").to_owned();
    assert_eq!(seqs(&entries(&f, &["--since", &time(4)])), [4, 5, 6, 7]);
    assert_eq!(seqs(&entries(&f, &["--until", &time(4)])), [1, 2, 3, 4]);
    assert_eq!(seqs(&entries(&f, &["--since", &time(2), "--until", &time(5)])), [2, 3, 4, 5]);
    // Any offset; a time alone and a snapshot number mixed.
    assert_eq!(seqs(&entries(&f, &["--since", "2000-01-01T02:00:00+02:00", "--until", "2"])), [1, 2]);
    assert!(entries(&f, &["--since", "2999-01-01T00:00:00Z"]).is_empty());
}

#[test]
fn by_filters_on_the_author_and_the_global_author_does_not() {
    let f = audited();
    assert_eq!(seqs(&entries(&f, &["--by", "bob"])), [4, 5, 7]);
    assert_eq!(seqs(&entries(&f, &["--by", "alice"])), [1, 2, 3, 6]);
    assert!(entries(&f, &["--by", "nobody"]).is_empty());
    // `--author` names who writes (nothing, here), never whose entries to export.
    let db = f.db_arg();
    let out = f.run(&["--author", "bob", "audit", "--db", &db]);
    assert_eq!(seqs(&json_lines(out.ok())), [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn output_file_gets_the_export_and_stdout_stays_empty() {
    let f = audited();
    let expected = audit(&f, &[]).ok().to_owned();
    let file = f.write("audit.jsonl", "old content that must be replaced, longer than nothing\n".repeat(100).as_str());
    let path = file.display().to_string();
    let out = audit(&f, &["-o", &path]);
    assert_eq!(out.ok(), "", "nothing on stdout");
    assert_eq!(out.stderr, "");
    assert_eq!(std::fs::read_to_string(&file).expect("the export"), expected);

    let csv_file = f.dir().join("audit.csv");
    audit(&f, &["--format", "csv", "--entity", "model:fraud@2", "-o", &csv_file.display().to_string()]).ok();
    let rows = csv_rows(&std::fs::read_to_string(&csv_file).expect("the CSV export"));
    assert_eq!(rows.iter().map(|row| row[0].as_str()).collect::<Vec<_>>(), ["seq", "4", "5"]);

    // No temporary file is left beside them.
    let mut names: Vec<String> = std::fs::read_dir(f.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert_eq!(names, ["audit.csv", "audit.jsonl", "test.redb"]);
}

#[test]
fn an_output_file_that_cannot_be_written_exits_2_and_names_it() {
    let f = audited();
    let path = f.dir().join("missing-dir").join("audit.jsonl").display().to_string();
    let out = audit(&f, &["-o", &path]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: cannot write ") && out.stderr.contains(&path), "{}", out.stderr);
    // Nor is the database itself ever a target.
    let out = audit(&f, &["-o", &f.db_arg()]);
    out.exits(2);
    assert!(out.stderr.contains("is the database itself"), "{}", out.stderr);
    assert_eq!(entries(&f, &[]).len(), 7, "the database is intact");
}

#[test]
fn the_export_leaves_the_database_file_untouched() {
    let f = audited();
    let before = std::fs::read(f.db()).expect("database file");
    audit(&f, &[]).ok();
    audit(&f, &["--format", "csv", "--entity", "model:fraud"]).ok();
    assert!(before == std::fs::read(f.db()).expect("database file"), "an export changed the file");
}

#[test]
fn a_missing_database_exits_2_and_creates_nothing() {
    let f = Fixture::new();
    let out = audit(&f, &[]);
    out.exits(2);
    assert!(out.stderr.starts_with("lineagedb: no database at"), "{}", out.stderr);
    assert!(out.stderr.contains(&f.db_arg()), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(!f.db().exists());
}

#[test]
fn bad_times_and_references_exit_2_naming_the_flag_and_the_value() {
    let f = audited();
    let cases: [(&[&str], &[&str]); 9] = [
        (&["--since", "yesterday"], &["--since", "\"yesterday\"", "hint: ", "RFC 3339"]),
        (&["--until", "2026-11-30"], &["--until", "\"2026-11-30\"", "snapshot number"]),
        (&["--since=-3"], &["--since", "\"-3\""]),
        (&["--since", "5", "--until", "2"], &["--since 5 is after --until 2"]),
        (&["--entity", "fraud"], &["--entity", "\"fraud\"", "model:fraud@3"]),
        (&["--entity", "model:nope"], &["--entity model:nope", "no such entity"]),
        (&["--entity", "model:fraud@9"], &["--entity model:fraud@9", "no version 9", "1 to 2"]),
        (&["--entity", "model:fraud@staging"], &["--entity model:fraud@staging", "no alias `staging`"]),
        (&["--by", " "], &["--by"]),
    ];
    for (args, needles) in cases {
        let out = audit(&f, args);
        out.exits(2);
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.starts_with("lineagedb: "), "{args:?}: {}", out.stderr);
        for needle in needles {
            assert!(out.stderr.contains(needle), "{args:?}: {needle:?} missing from:\n{}", out.stderr);
        }
    }
    // A bad bound is reported before the database is even looked for.
    let out = Fixture::new().run(&["audit", "--db", "nowhere.redb", "--since", "soon"]);
    out.exits(2);
    assert!(out.stderr.contains("--since \"soon\""), "{}", out.stderr);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let f = Fixture::new();
    let mut script = String::from("BEGIN;\n");
    for i in 0..400 {
        script.push_str(&format!("CREATE dataset:table_{i} SET {{owner: \"data-platform\", rows: {i}}};\n"));
    }
    script.push_str("COMMIT;\n");
    f.run_with_stdin(&["exec", "--db", &f.db_arg(), "-"], &script).ok();

    // Far more output than a pipe buffer holds, so the writer meets the closed pipe.
    let (first, out) = f.close_after_first_line(&["audit", "--db", &f.db_arg()]);
    assert!(first.contains("dataset:table_0@1"), "{first}");
    out.exits(0);
    assert!(out.stderr.is_empty(), "nothing on stderr, got: {}", out.stderr);
}

/// Splits a CSV `subjects` cell on `;` outside double quotes (where `\` escapes).
fn split_subjects(cell: &str) -> Vec<String> {
    if cell.is_empty() {
        return Vec::new();
    }
    let (mut subjects, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in cell.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == ';' && !quoted {
            subjects.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    subjects.push(current);
    subjects
}

// What an auditor's own tools do, written out here so the test depends on
// nothing of LineageDB's: postcard's encoding (and SHA-256 from `sha2`).

/// Postcard's unsigned varint (LEB128).
fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Postcard's string: length, then UTF-8 bytes.
fn string(out: &mut Vec<u8>, text: &str) {
    varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
}

/// SHA-256, from the `sha2` crate (as an auditor's tool would use a standard library).
fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
