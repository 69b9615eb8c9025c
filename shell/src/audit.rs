//! `lineagedb audit`: exports the hash-chained audit log as JSON Lines or
//! CSV, oldest first, filtered by entity or node (`--entity`), snapshot or
//! time (`--since`, `--until`) and author (`--by`).
//!
//! Every field of an entry is written, so the chain can be re-checked outside
//! LineageDB: `seq`, `snapshot`, `time`, `author`, `op`, `subjects`,
//! `detail`, `digest`, `prev_hash`, `hash` (docs/audit-export.md).
//!
//! The database is opened read-only ([`oneshot::open_existing`](crate::oneshot::open_existing)). Entries are
//! written one at a time as they are formatted; `-o FILE` goes through
//! [`output::write_file_atomically`], so FILE is never left half-written.

use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::anyhow;
use lineagedb_engine::{AuditEntry, AuditFilter, EntityKey, HistoryKind, NodeRef, ReadTx, Timestamp, VersionSel};
use serde_json::Value as Json;

use crate::cli::{AuditArgs, AuditFormat};
use crate::output::{self, Failure, Point};

/// The CSV columns, in order; JSON Lines objects have the same keys in the same order.
pub const COLUMNS: [&str; 10] =
    ["seq", "snapshot", "time", "author", "op", "subjects", "detail", "digest", "prev_hash", "hash"];

/// How subjects are joined in a CSV cell. A node key holding `;` has it
/// inside its double-quoted name, so split outside double quotes.
pub const SUBJECT_SEPARATOR: &str = ";";

/// `lineagedb audit`.
pub fn run(db: &Path, author: &dyn Fn() -> String, args: &AuditArgs) -> Result<(), Failure> {
    // Usage errors first: nothing is opened for a command that cannot run.
    let since = args.since.as_deref().map(|text| Point::parse("--since", text)).transpose()?;
    let until = args.until.as_deref().map(|text| Point::parse("--until", text)).transpose()?;
    check_order(since, until, args)?;
    let target = args.entity.as_deref().map(Target::parse).transpose()?;
    if let Some(by) = &args.by
        && by.trim().is_empty()
    {
        return Err(anyhow!("--by needs an author name\nhint: for example --by alice").into());
    }
    let format = args.format.unwrap_or(AuditFormat::Jsonl);
    if let Some(path) = &args.output {
        output::check_not_database(path, db)?;
    }

    let database = crate::oneshot::open_existing(db, author)?;
    let read = database.begin_read().map_err(|e| anyhow!("cannot read {}: {e}", db.display()))?;
    let mut filter = AuditFilter { author: args.by.clone(), ..AuditFilter::default() };
    if let Some(target) = target {
        target.apply(&read, db, &mut filter)?;
    }
    if let Some(Point::Time(t)) = since {
        filter.since = Some(t);
    }
    if let Some(Point::Time(t)) = until {
        filter.until = Some(t);
    }
    // The engine filters by time, entity, node and author and streams the
    // entries; snapshot bounds are applied here, on each entry's own snapshot.
    let mut read_error = None;
    let mut export = |out: &mut dyn Write| -> io::Result<()> {
        let mut writer = EntryWriter::new(out, format)?;
        let mut failed = None;
        read.audit_each(&filter, &mut |entry| {
            if until.is_some_and(|point| matches!(point, Point::Snapshot(n) if entry.snapshot > n)) {
                return ControlFlow::Break(());
            }
            if !since.is_none_or(|point| at_or_after(&entry, point))
                || !until.is_none_or(|point| at_or_before(&entry, point))
            {
                return ControlFlow::Continue(());
            }
            match writer.write(&entry) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(|e| {
            read_error = Some(e);
            io::Error::other("the audit log could not be read")
        })?;
        match failed {
            Some(e) => Err(e),
            None => writer.finish(),
        }
    };
    let written = match &args.output {
        None => export(&mut io::stdout().lock()).map_err(Failure::from_stdout),
        Some(path) => output::write_file_atomically(path, |file| export(file)),
    };
    match read_error {
        Some(e) => Err(anyhow!("cannot read the audit log of {}: {e}", db.display()).into()),
        None => written,
    }
}

/// Whether `entry` is at or after `point` (`--since`): a snapshot number is
/// compared with the entry's snapshot, a time with its time.
fn at_or_after(entry: &AuditEntry, point: Point) -> bool {
    match point {
        Point::Snapshot(n) => entry.snapshot >= n,
        Point::Time(t) => entry.time >= t,
    }
}

/// Whether `entry` is at or before `point` (`--until`).
fn at_or_before(entry: &AuditEntry, point: Point) -> bool {
    match point {
        Point::Snapshot(n) => entry.snapshot <= n,
        Point::Time(t) => entry.time <= t,
    }
}

/// `--since` after `--until` (of the same kind) can match nothing: most likely swapped.
fn check_order(since: Option<Point>, until: Option<Point>, args: &AuditArgs) -> Result<(), Failure> {
    let swapped = match (since, until) {
        (Some(Point::Snapshot(s)), Some(Point::Snapshot(u))) => s > u,
        (Some(Point::Time(s)), Some(Point::Time(u))) => s > u,
        _ => false,
    };
    if swapped {
        return Err(anyhow!(
            "--since {} is after --until {}: no entry can match\nhint: swap them; both ends are inclusive",
            args.since.as_deref().unwrap_or_default(),
            args.until.as_deref().unwrap_or_default()
        )
        .into());
    }
    Ok(())
}

/// What `--entity` names.
#[derive(Debug)]
enum Target {
    /// `type:name`: every version of the entity.
    Entity(EntityKey),
    /// `type:name@N`, `@alias`, `@"label"`, `@latest`: one node.
    Node { text: String, reference: NodeRef },
}

impl Target {
    /// The same rule as the query language's `AUDIT OF ref`: without a
    /// version the whole entity, with one that node.
    fn parse(text: &str) -> Result<Target, Failure> {
        let reference: NodeRef = text.parse().map_err(|e| {
            anyhow!(
                "invalid --entity {text:?} ({e})\nhint: name an entity such as model:fraud (every version) \
                 or a node such as model:fraud@3"
            )
        })?;
        // `type:name` and `type:name@latest` parse alike; only the first is the
        // entity. A bare name cannot hold `@`, and a quoted one ends in `"`.
        let explicit_version =
            reference.version != VersionSel::Latest || text.trim().to_ascii_lowercase().ends_with("@latest");
        if explicit_version {
            Ok(Target::Node { text: text.trim().to_owned(), reference })
        } else {
            Ok(Target::Entity(reference.entity()))
        }
    }

    /// Sets the filter, after checking that the entity or node exists (a
    /// mistyped `--entity` would otherwise export nothing, silently). An
    /// explicit version number is taken as written: a deleted or superseded
    /// version still has its audit entries. An alias, label or `@latest`
    /// resolves at the latest snapshot.
    fn apply(self, read: &ReadTx, db: &Path, filter: &mut AuditFilter) -> Result<(), Failure> {
        match self {
            Target::Entity(entity) => {
                versions_ever(read, db, &entity)?;
                filter.entity = Some(entity);
            }
            Target::Node { text, reference } => {
                let entity = reference.entity();
                let versions = versions_ever(read, db, &entity)?;
                let key = match reference.version {
                    VersionSel::Number(v) if versions.contains(&v) => entity.version(v),
                    VersionSel::Number(v) => {
                        let last = versions.iter().max().copied().unwrap_or_default();
                        return Err(anyhow!(
                            "--entity {text}: {entity} has no version {v} in {} (its versions are 1 to {last})\n\
                             hint: pass {entity} for every version, or see `lineagedb query \"HISTORY OF {entity}\"`",
                            db.display()
                        )
                        .into());
                    }
                    _ => read.resolve(&reference).map_err(|e| {
                        anyhow!(
                            "--entity {text}: {e}\nhint: pass {entity} for every version, \
                             or an exact version such as {}",
                            entity.version(1)
                        )
                    })?,
                };
                filter.node = Some(key);
            }
        }
        Ok(())
    }
}

/// Every version `entity` ever had (deleted ones included); an error naming
/// `--entity` when it never existed.
fn versions_ever(read: &ReadTx, db: &Path, entity: &EntityKey) -> Result<Vec<u64>, Failure> {
    match read.history(entity) {
        Ok(events) => Ok(events
            .iter()
            .filter_map(|event| match event.kind {
                HistoryKind::Created { version, .. } => Some(version),
                _ => None,
            })
            .collect()),
        Err(lineagedb_engine::Error::NoSuchNode { .. }) => Err(anyhow!(
            "--entity {entity}: no such entity in {}\nhint: check the name with `lineagedb query \"FIND {}\"`",
            db.display(),
            entity.type_name
        )
        .into()),
        Err(e) => Err(anyhow!("cannot read {}: {e}", db.display()).into()),
    }
}

/// Writes entries one at a time in the export format.
enum EntryWriter<'w> {
    Jsonl(BufWriter<&'w mut dyn Write>),
    Csv(Box<csv::Writer<&'w mut dyn Write>>),
}

impl<'w> EntryWriter<'w> {
    /// A writer to `out`; CSV starts with its header row.
    fn new(out: &'w mut dyn Write, format: AuditFormat) -> io::Result<EntryWriter<'w>> {
        Ok(match format {
            AuditFormat::Jsonl => EntryWriter::Jsonl(BufWriter::new(out)),
            AuditFormat::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(COLUMNS).map_err(csv_error)?;
                EntryWriter::Csv(Box::new(csv))
            }
        })
    }

    fn write(&mut self, entry: &AuditEntry) -> io::Result<()> {
        match self {
            EntryWriter::Jsonl(out) => write_json_line(out, entry),
            EntryWriter::Csv(csv) => csv.write_record(csv_record(entry)).map_err(csv_error),
        }
    }

    /// Flushes everything written.
    fn finish(self) -> io::Result<()> {
        match self {
            EntryWriter::Jsonl(out) => out.into_inner().map_err(io::IntoInnerError::into_error)?.flush(),
            EntryWriter::Csv(csv) => csv.into_inner().map_err(|e| e.into_error())?.flush(),
        }
    }
}

/// One JSON object on one line, keys in [`COLUMNS`] order.
fn write_json_line(out: &mut impl Write, e: &AuditEntry) -> io::Result<()> {
    let text = |s: &str| Json::from(s);
    writeln!(
        out,
        "{{\"seq\":{},\"snapshot\":{},\"time\":{},\"author\":{},\"op\":{},\"subjects\":{},\"detail\":{},\
         \"digest\":{},\"prev_hash\":{},\"hash\":{}}}",
        e.seq,
        e.snapshot,
        text(&rfc3339_micros(e.time)),
        text(&e.author),
        text(&e.op),
        Json::from(e.subjects.clone()),
        detail_json(&e.detail),
        text(&e.digest),
        text(&e.prev_hash),
        text(&e.hash),
    )
}

/// The detail as JSON to embed: the stored text itself when it is JSON in
/// the compact form that serializing its value gives back byte for byte (as
/// LineageDB writes every detail), so `SHA-256(compact(detail)) == digest`;
/// any other text as a JSON string holding it exactly.
fn detail_json(detail: &str) -> Json {
    match serde_json::from_str::<Json>(detail) {
        // Not `value == detail`: that compares against a JSON string value.
        Ok(value) if serde_json::to_string(&value).is_ok_and(|text| text == detail) => value,
        _ => Json::String(detail.to_owned()),
    }
}

/// The CSV cells of an entry, in [`COLUMNS`] order; the detail is its exact text.
fn csv_record(e: &AuditEntry) -> [String; 10] {
    [
        e.seq.to_string(),
        e.snapshot.to_string(),
        rfc3339_micros(e.time),
        e.author.clone(),
        e.op.clone(),
        e.subjects.join(SUBJECT_SEPARATOR),
        e.detail.clone(),
        e.digest.clone(),
        e.prev_hash.clone(),
        e.hash.clone(),
    ]
}

/// The I/O error inside a CSV error (so a closed pipe stays recognizable).
fn csv_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// RFC 3339 in UTC with exactly six fractional digits, e.g.
/// `2026-11-30T12:00:00.250000Z`: the stored microseconds, exactly.
pub fn rfc3339_micros(time: Timestamp) -> String {
    let micros = time.micros();
    let seconds = Timestamp(micros.div_euclid(1_000_000) * 1_000_000).to_rfc3339();
    match seconds.strip_suffix('Z') {
        Some(seconds) if !seconds.contains('.') => format!("{seconds}.{:06}Z", micros.rem_euclid(1_000_000)),
        _ => time.to_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_six_fractional_digits() {
        assert_eq!(rfc3339_micros(Timestamp(0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_micros(Timestamp(1_250_000)), "1970-01-01T00:00:01.250000Z");
        assert_eq!(rfc3339_micros(Timestamp(-1)), "1969-12-31T23:59:59.999999Z");
        let t = Timestamp::parse_rfc3339("2026-11-30T12:00:00.123456Z").unwrap();
        assert_eq!(rfc3339_micros(t), "2026-11-30T12:00:00.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&rfc3339_micros(t)), Some(t));
    }

    #[test]
    fn entity_without_version_is_the_entity() {
        assert!(matches!(Target::parse("model:fraud").unwrap(), Target::Entity(_)));
        assert!(matches!(Target::parse("model:fraud@3").unwrap(), Target::Node { .. }));
        assert!(matches!(Target::parse("model:fraud@latest").unwrap(), Target::Node { .. }));
        assert!(matches!(Target::parse("model:fraud@production").unwrap(), Target::Node { .. }));
        assert!(matches!(Target::parse("dataset:\"a@latest\"").unwrap(), Target::Entity(_)));
        assert!(Target::parse("fraud").is_err());
    }

    #[test]
    fn canonical_details_stay_json_and_others_stay_text() {
        assert_eq!(detail_json(r#"{"a":1,"b":[true,null]}"#), serde_json::json!({"a": 1, "b": [true, null]}));
        assert_eq!(detail_json(r#"{"b":1, "a":2}"#), Json::String(r#"{"b":1, "a":2}"#.to_owned()));
        assert_eq!(detail_json("not json"), Json::String("not json".to_owned()));
    }
}
