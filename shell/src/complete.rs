//! Tab completion for the REPL: keywords (offered in uppercase, matched
//! case-insensitively), meta-commands, the node types of the open database
//! (`data` -> `dataset:`), node keys (`dataset:tr` -> `dataset:transactions`,
//! `dataset:transactions@1`, ...) and aliases (`model:fraud@p` ->
//! `model:fraud@production`), and file names after `.open` and `.read`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use lineagedb_engine::{Database, EntityKey, NodeRef, VersionSel};
use lineagedb_query::syntax::KEYWORDS;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::repl::META_COMMANDS;

/// Most keys offered for one completion: enough to browse, bounded on big graphs.
const MAX_KEYS: usize = 200;

/// How long a Tab press waits for a database another process holds before
/// completing keywords only.
const COMPLETION_WAIT: Duration = Duration::from_millis(200);

/// The REPL's rustyline helper. It completes against the database the shell
/// holds (in a transaction), else opens the file read-only for the moment it
/// completes: the shell does not hold the file while the prompt waits.
pub struct LineHelper {
    path: PathBuf,
    held: Option<Database>,
    files: FilenameCompleter,
}

impl std::fmt::Debug for LineHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineHelper").field("path", &self.path).finish_non_exhaustive()
    }
}

impl LineHelper {
    /// A helper completing against the database at `path`.
    pub fn new(path: PathBuf) -> LineHelper {
        LineHelper { path, held: None, files: FilenameCompleter::new() }
    }

    /// Switches to another database file (after `.open`).
    pub fn set_path(&mut self, path: PathBuf) {
        self.path = path;
        self.held = None;
    }

    /// The database the shell holds open (while a transaction is), if any.
    pub fn set_held(&mut self, db: Option<Database>) {
        self.held = db;
    }
}

impl Completer for LineHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        // `.open PATH` and `.read FILE` take file names.
        let trimmed = line.trim_start();
        if [".open ", ".read "].iter().any(|command| trimmed.starts_with(command)) {
            return self.files.complete(line, pos, ctx);
        }
        let start = word_start(line, pos);
        let word = &line[start..pos];
        let at_line_start = line[..start].trim().is_empty();
        let opened = match &self.held {
            Some(_) => None,
            None => Database::builder().busy_timeout(COMPLETION_WAIT).open_read_only(&self.path).ok(),
        };
        Ok((start, candidates(word, at_line_start, self.held.as_ref().or(opened.as_ref()))))
    }
}

impl Hinter for LineHelper {
    type Hint = String;
}

impl Highlighter for LineHelper {}

impl Validator for LineHelper {}

impl Helper for LineHelper {}

/// Characters that end the word being completed. `-`, `.`, `@`, `:` and
/// quotes belong to references, so they are not among them.
fn is_break(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '{' | '}' | '[' | ']' | '=' | '<' | '>' | '!' | '~')
}

/// Byte offset where the word ending at `pos` starts.
fn word_start(line: &str, pos: usize) -> usize {
    line[..pos].char_indices().rev().find(|&(_, c)| is_break(c)).map_or(0, |(i, c)| i + c.len_utf8())
}

/// Completions of `word`. A word with `:` is a reference (keys, entities and
/// aliases); otherwise keywords and types, and meta-commands at the start of
/// a line.
pub fn candidates(word: &str, at_line_start: bool, db: Option<&Database>) -> Vec<Pair> {
    if word.is_empty() {
        return Vec::new();
    }
    if word.starts_with('.') {
        if !at_line_start {
            return Vec::new();
        }
        return META_COMMANDS
            .iter()
            .filter(|(name, _, _)| name.starts_with(word))
            .map(|(name, _, _)| pair(name, format!("{name} ")))
            .collect();
    }
    if word.contains(':') {
        return db.map(|db| reference_candidates(word, db)).unwrap_or_default();
    }
    let upper = word.to_ascii_uppercase();
    let mut out: Vec<Pair> = KEYWORDS
        .iter()
        .filter(|keyword| keyword.starts_with(&upper))
        .map(|keyword| pair(keyword, format!("{keyword} ")))
        .collect();
    if let Some(Ok(read)) = db.map(Database::begin_read) {
        out.extend(
            read.types().into_iter().filter(|t| t.starts_with(word)).map(|t| pair(&format!("{t}:"), format!("{t}:"))),
        );
    }
    out
}

/// Keys starting with `word`, the entities they belong to, and, after `@`,
/// the aliases of that entity.
fn reference_candidates(word: &str, db: &Database) -> Vec<Pair> {
    let Ok(read) = db.begin_read() else { return Vec::new() };
    let mut found = BTreeSet::new();
    if let Ok(keys) = read.keys_with_prefix(word, MAX_KEYS) {
        for key in keys {
            if let Some((entity, version)) = key.rsplit_once('@')
                && version.bytes().all(|b| b.is_ascii_digit())
                && entity.starts_with(word)
            {
                found.insert(entity.to_owned());
            }
            found.insert(key);
        }
    }
    if let Some((entity_text, partial)) = word.rsplit_once('@')
        && let Ok(reference) = entity_text.parse::<NodeRef>()
        && reference.version == VersionSel::Latest
    {
        let entity = EntityKey { type_name: reference.type_name, name: reference.name };
        let mut names: Vec<String> = read.aliases(&entity).map(|a| a.into_keys().collect()).unwrap_or_default();
        names.push("latest".to_owned());
        for name in names.into_iter().filter(|n| n.starts_with(partial)) {
            found.insert(format!("{entity_text}@{name}"));
        }
    }
    found.into_iter().map(|text| pair(&text, text.clone())).collect()
}

fn pair(display: &str, replacement: String) -> Pair {
    Pair { display: display.to_owned(), replacement }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lineagedb_engine::Props;

    fn sample() -> Database {
        let db = Database::in_memory().expect("in-memory database");
        let mut tx = db.begin_write().expect("write");
        for _ in 0..2 {
            tx.create_node("dataset", "transactions", Props::new()).expect("node");
        }
        tx.create_node("dataset", "transactions_clean", Props::new()).expect("node");
        tx.create_node("model", "fraud", Props::new()).expect("node");
        tx.commit().expect("commit");
        db
    }

    fn replacements(word: &str, db: &Database) -> Vec<String> {
        candidates(word, false, Some(db)).into_iter().map(|p| p.replacement).collect()
    }

    #[test]
    fn keywords_match_case_insensitively_and_complete_in_uppercase() {
        let db = sample();
        assert_eq!(replacements("ance", &db), ["ANCESTORS "]);
        assert_eq!(replacements("ANCE", &db), ["ANCESTORS "]);
    }

    #[test]
    fn types_complete_with_a_colon() {
        let db = sample();
        assert_eq!(replacements("data", &db), ["dataset:"]);
        assert!(replacements("mo", &db).contains(&"model:".to_owned()));
    }

    #[test]
    fn keys_complete_with_their_entity() {
        let db = sample();
        assert_eq!(
            replacements("dataset:tr", &db),
            [
                "dataset:transactions",
                "dataset:transactions@1",
                "dataset:transactions@2",
                "dataset:transactions_clean",
                "dataset:transactions_clean@1"
            ]
        );
        assert_eq!(replacements("model:fraud@l", &db), ["model:fraud@latest"]);
        assert!(replacements("nothing:x", &db).is_empty());
    }

    #[test]
    fn the_word_is_what_follows_the_last_separator() {
        assert_eq!(word_start("ANCESTORS OF dataset:t", 22), 13);
        assert_eq!(word_start("FIND model WHERE (name=x", 24), 23);
        assert_eq!(word_start("anc", 3), 0);
    }

    #[test]
    fn meta_commands_complete_only_at_the_start_of_a_line() {
        let db = sample();
        assert_eq!(
            candidates(".ti", true, Some(&db)).into_iter().map(|p| p.replacement).collect::<Vec<_>>(),
            [".timing "]
        );
        assert!(candidates(".ti", false, Some(&db)).is_empty());
        assert_eq!(
            replacements("ance", &db),
            candidates("ance", false, None).into_iter().map(|p| p.replacement).collect::<Vec<_>>()
        );
    }
}
