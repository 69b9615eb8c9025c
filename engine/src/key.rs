//! Node keys (`type:name@version`), references with a version selector
//! (`@3`, `@latest`, `@production`, `@"label"`) and their canonical text.

use std::fmt;
use std::str::FromStr;

use crate::error::KeyError;

/// An entity: a `(type, name)` pair whose versions are nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityKey {
    /// Lowercase identifier such as `dataset` or `model`.
    pub type_name: String,
    /// Any non-empty UTF-8 string without NUL.
    pub name: String,
}

/// The canonical key of one node: one version of an entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    /// The node's type.
    pub type_name: String,
    /// The entity name.
    pub name: String,
    /// The version, 1, 2, 3, ... per entity in commit order.
    pub version: u64,
}

/// How a reference picks a version of an entity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VersionSel {
    /// `type:name` or `type:name@latest`: the newest live version.
    Latest,
    /// `@3`: that version number.
    Number(u64),
    /// `@production`: the version holding that alias.
    Alias(String),
    /// `@"8361542"`: the version with that external label.
    Label(String),
}

/// A reference to a node as a user writes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The node's type.
    pub type_name: String,
    /// The entity name.
    pub name: String,
    /// Which version.
    pub version: VersionSel,
}

impl EntityKey {
    /// Builds an entity key, checking the type and name.
    pub fn new(type_name: &str, name: &str) -> Result<EntityKey, KeyError> {
        check_type(type_name)?;
        check_name(name)?;
        Ok(EntityKey { type_name: type_name.to_owned(), name: name.to_owned() })
    }

    /// The key of one version of this entity.
    pub fn version(&self, version: u64) -> NodeKey {
        NodeKey { type_name: self.type_name.clone(), name: self.name.clone(), version }
    }
}

impl NodeKey {
    /// Builds a node key, checking the type, name and version.
    pub fn new(type_name: &str, name: &str, version: u64) -> Result<NodeKey, KeyError> {
        check_type(type_name)?;
        check_name(name)?;
        if version == 0 {
            return Err(KeyError::BadVersion { text: "0".into() });
        }
        Ok(NodeKey { type_name: type_name.to_owned(), name: name.to_owned(), version })
    }

    /// The entity this node is a version of.
    pub fn entity(&self) -> EntityKey {
        EntityKey { type_name: self.type_name.clone(), name: self.name.clone() }
    }

    /// A reference that names exactly this node.
    pub fn to_ref(&self) -> NodeRef {
        NodeRef {
            type_name: self.type_name.clone(),
            name: self.name.clone(),
            version: VersionSel::Number(self.version),
        }
    }
}

impl NodeRef {
    /// The entity the reference points into.
    pub fn entity(&self) -> EntityKey {
        EntityKey { type_name: self.type_name.clone(), name: self.name.clone() }
    }

    /// Builds a reference, checking the type and name.
    pub fn new(type_name: &str, name: &str, version: VersionSel) -> Result<NodeRef, KeyError> {
        check_type(type_name)?;
        check_name(name)?;
        Ok(NodeRef { type_name: type_name.to_owned(), name: name.to_owned(), version })
    }
}

impl From<&NodeKey> for NodeRef {
    fn from(key: &NodeKey) -> NodeRef {
        key.to_ref()
    }
}

/// Checks a type name: an identifier `[A-Za-z_][A-Za-z0-9_]*`.
pub fn check_type(type_name: &str) -> Result<(), KeyError> {
    let mut chars = type_name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    };
    if ok { Ok(()) } else { Err(KeyError::BadType { text: type_name.to_owned() }) }
}

/// Checks an entity name: non-empty, no NUL character.
pub fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() {
        return Err(KeyError::EmptyName);
    }
    if name.contains('\0') {
        return Err(KeyError::NulInName { text: name.to_owned() });
    }
    Ok(())
}

/// True when a name can be written without quotes: `[A-Za-z0-9_][A-Za-z0-9_.\-]*`.
pub fn is_bare_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        }
        _ => false,
    }
}

/// Writes `text` double-quoted with backslash escapes: `\" \\ \n \r \t \0`
/// and `\u{hex}` for other control characters. Node keys and the query
/// language read the same escapes back.
pub fn write_quoted(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\0' => f.write_str("\\0")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Decodes a unicode escape at the start of `text`: `\u{hex}` (1 to 6 hex
/// digits), or JSON's `\uXXXX` (exactly 4, as Python's `json.dumps` writes),
/// where a high surrogate must be followed by its low one (`\ud83d\ude00`).
/// Returns the char and the escape's length in bytes.
pub fn unicode_escape(text: &str) -> Option<(char, usize)> {
    let body = text.strip_prefix("\\u")?;
    if let Some(braced) = body.strip_prefix('{') {
        let close = braced.find('}')?;
        let hex = &braced[..close];
        if hex.is_empty() || hex.len() > 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
        return Some((c, 3 + close + 1));
    }
    let four = |text: &str| -> Option<u32> {
        let hex = text.get(..4)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let unit = four(body)?;
    match unit {
        0xD800..=0xDBFF => {
            let low = four(body[4..].strip_prefix("\\u")?)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
            Some((c, 12))
        }
        0xDC00..=0xDFFF => None,
        _ => Some((char::from_u32(unit)?, 6)),
    }
}

fn write_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_bare_name(name) { f.write_str(name) } else { write_quoted(f, name) }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.type_name)?;
        write_name(f, &self.name)
    }
}

impl NodeKey {
    /// The key as text, as `Display` writes it (`type:name@version`), in one
    /// allocation: `to_string` grows its string as it goes.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.type_name.len() + self.name.len() + 22);
        text.push_str(&self.type_name);
        text.push(':');
        if is_bare_name(&self.name) {
            text.push_str(&self.name);
        } else {
            let _ = write_quoted(&mut text, &self.name);
        }
        text.push('@');
        // The version's digits, without the formatting machinery.
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut v = self.version;
        loop {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        text.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
        text
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.type_name)?;
        write_name(f, &self.name)?;
        write!(f, "@{}", self.version)
    }
}

impl fmt::Display for VersionSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSel::Latest => f.write_str("latest"),
            VersionSel::Number(n) => write!(f, "{n}"),
            VersionSel::Alias(a) => f.write_str(a),
            VersionSel::Label(l) => write_quoted(f, l),
        }
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.type_name)?;
        write_name(f, &self.name)?;
        match &self.version {
            VersionSel::Latest => Ok(()),
            other => write!(f, "@{other}"),
        }
    }
}

/// A tiny cursor over reference text, for `FromStr`.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !keep(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    fn quoted(&mut self) -> Result<String, KeyError> {
        let quote = self.peek().unwrap_or('"');
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(KeyError::Syntax { text: self.text.to_owned(), reason: "unterminated string" });
            };
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(out);
            }
            if c == '\\' {
                let Some(e) = self.peek() else {
                    return Err(KeyError::Syntax { text: self.text.to_owned(), reason: "unterminated string" });
                };
                if e == 'u' {
                    let escape = &self.text[self.pos - 1..];
                    let Some((decoded, len)) = unicode_escape(escape) else {
                        return Err(KeyError::Syntax { text: self.text.to_owned(), reason: "invalid \\u{hex} escape" });
                    };
                    self.pos += len - 1;
                    out.push(decoded);
                    continue;
                }
                self.pos += e.len_utf8();
                out.push(match e {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '0' => '\0',
                    other => other,
                });
            } else {
                out.push(c);
            }
        }
    }

    fn name(&mut self) -> Result<String, KeyError> {
        match self.peek() {
            Some('"' | '\'') => self.quoted(),
            _ => {
                let bare = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
                Ok(bare.to_owned())
            }
        }
    }
}

/// A borrowed exact key `type:name@version`, parsed without allocating:
/// what bulk imports resolve millions of times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRef<'a> {
    /// The node's type.
    pub type_name: &'a str,
    /// The entity name.
    pub name: &'a str,
    /// The version.
    pub version: u64,
}

impl<'a> KeyRef<'a> {
    /// Parses `text` when it is an exact key with a bare (unquoted) name, such
    /// as `dataset:tx@5`: exactly what `NodeRef::from_str` would make of it.
    /// Anything else (quoted names, aliases, labels, `@latest`, errors) gives
    /// `None`; parse those with `NodeRef::from_str`.
    pub fn parse_bare(text: &'a str) -> Option<KeyRef<'a>> {
        let text = text.trim();
        let (type_name, rest) = text.split_once(':')?;
        let (name, digits) = rest.rsplit_once('@')?;
        check_type(type_name).ok()?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return None;
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let version: u64 = digits.parse().ok().filter(|v| *v > 0)?;
        Some(KeyRef { type_name, name, version })
    }

    /// The owned reference naming exactly this node.
    pub fn to_ref(&self) -> NodeRef {
        NodeRef {
            type_name: self.type_name.to_owned(),
            name: self.name.to_owned(),
            version: VersionSel::Number(self.version),
        }
    }

    /// The owned key.
    pub fn to_key(&self) -> NodeKey {
        NodeKey { type_name: self.type_name.to_owned(), name: self.name.to_owned(), version: self.version }
    }
}

impl FromStr for NodeRef {
    type Err = KeyError;

    /// Parses `type:name`, `type:name@3`, `type:name@alias`, `type:"quoted name"@"label"`.
    fn from_str(text: &str) -> Result<NodeRef, KeyError> {
        let mut cur = Cursor { text: text.trim(), pos: 0 };
        let type_name = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_').to_owned();
        if cur.peek() != Some(':') {
            return Err(KeyError::Syntax { text: text.to_owned(), reason: "expected `type:name`" });
        }
        cur.pos += 1;
        let name = cur.name()?;
        let version = if cur.peek() == Some('@') {
            cur.pos += 1;
            match cur.peek() {
                Some('"' | '\'') => VersionSel::Label(cur.quoted()?),
                Some(c) if c.is_ascii_digit() => {
                    let digits = cur.take_while(|c| c.is_ascii_digit());
                    let n: u64 = digits.parse().map_err(|_| KeyError::BadVersion { text: digits.to_owned() })?;
                    if n == 0 {
                        return Err(KeyError::BadVersion { text: digits.to_owned() });
                    }
                    VersionSel::Number(n)
                }
                _ => {
                    let ident = cur.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                    if ident.is_empty() {
                        return Err(KeyError::Syntax {
                            text: text.to_owned(),
                            reason: "expected a version, alias or label after `@`",
                        });
                    }
                    if ident.eq_ignore_ascii_case("latest") {
                        VersionSel::Latest
                    } else {
                        VersionSel::Alias(ident.to_owned())
                    }
                }
            }
        } else {
            VersionSel::Latest
        };
        if cur.pos != cur.text.len() {
            return Err(KeyError::Syntax { text: text.to_owned(), reason: "unexpected text after the reference" });
        }
        NodeRef::new(&type_name, &name, version)
    }
}

impl FromStr for NodeKey {
    type Err = KeyError;

    /// Parses an exact key `type:name@version`.
    fn from_str(text: &str) -> Result<NodeKey, KeyError> {
        let node_ref: NodeRef = text.parse()?;
        match node_ref.version {
            VersionSel::Number(version) => Ok(NodeKey { type_name: node_ref.type_name, name: node_ref.name, version }),
            _ => Err(KeyError::Syntax {
                text: text.to_owned(),
                reason: "a node key needs an explicit version number, e.g. `model:fraud@3`",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `KeyRef::parse_bare` agrees with `NodeRef::from_str` whenever it accepts.
    fn agrees(text: &str) -> bool {
        match KeyRef::parse_bare(text) {
            Some(k) => text.parse::<NodeRef>().ok() == Some(k.to_ref()),
            None => true,
        }
    }

    #[test]
    fn bare_keys_parse_as_node_refs_do() {
        let accepted = ["dataset:tx@5", " model:fraud-v2.1@12 ", "_t:_@1", "run:a.b-c_d@007"];
        for text in accepted {
            assert!(KeyRef::parse_bare(text).is_some(), "{text}");
            assert!(agrees(text), "{text}");
        }
        let refused = [
            "dataset:tx",
            "dataset:tx@0",
            "dataset:tx@latest",
            "dataset:tx@prod",
            "dataset:\"a b\"@1",
            "dataset:tx@\"v1\"",
            "9x:tx@1",
            ":tx@1",
            "dataset:@1",
            "dataset:a@b@1",
            "dataset:tx@1x",
            "dataset:tx@99999999999999999999999",
            "data set:tx@1",
        ];
        for text in refused {
            assert_eq!(KeyRef::parse_bare(text), None, "{text}");
        }
    }

    #[test]
    fn to_text_is_what_display_writes() {
        for text in [
            "dataset:tx@1",
            "dataset:tx@10",
            "model:fraud@18446744073709551615",
            "dataset:\"s3://b/tx.parquet\"@12",
            "run:a_b-c.d@7",
        ] {
            let key: NodeKey = text.parse().expect("a key");
            assert_eq!(key.to_text(), key.to_string());
            assert_eq!(key.to_text(), text);
        }
    }

    proptest::proptest! {
        #[test]
        fn bare_key_parsing_never_disagrees(text in "[a-z_9 ]{0,3}[:]?[a-zA-Z0-9_.@\"' -]{0,8}[@]?[0-9a-z]{0,3}") {
            proptest::prop_assert!(agrees(&text), "{}", text);
        }
    }

    #[test]
    fn canonical_text_quotes_only_when_needed() {
        let key = NodeKey::new("dataset", "s3://bucket/tx.parquet", 2).expect("valid");
        assert_eq!(key.to_string(), "dataset:\"s3://bucket/tx.parquet\"@2");
        let key = NodeKey::new("model", "fraud-v2.1", 3).expect("valid");
        assert_eq!(key.to_string(), "model:fraud-v2.1@3");
        let back: NodeKey = "dataset:\"s3://bucket/tx.parquet\"@2".parse().expect("parses");
        assert_eq!(back.name, "s3://bucket/tx.parquet");
        // Every character survives printing and parsing, control characters included.
        let odd = NodeKey::new("dataset", "a\"b\\c\nd\tef\u{1}g\u{7f}h é", 1).expect("valid");
        assert_eq!(odd.to_string(), "dataset:\"a\\\"b\\\\c\\nd\\tef\\u{1}g\\u{7f}h é\"@1");
        assert_eq!(odd.to_string().parse::<NodeKey>().expect("parses"), odd);
        let label = NodeRef { type_name: "model".into(), name: "m".into(), version: VersionSel::Label("v\0x".into()) };
        assert_eq!(label.to_string(), "model:m@\"v\\0x\"");
        assert_eq!(label.to_string().parse::<NodeRef>().expect("parses"), label);
        assert!("dataset:\"a\\u{zz}\"@1".parse::<NodeRef>().is_err());
    }

    #[test]
    fn version_selectors_parse() {
        let r: NodeRef = "model:fraud@production".parse().expect("parses");
        assert_eq!(r.version, VersionSel::Alias("production".into()));
        let r: NodeRef = "model:fraud@latest".parse().expect("parses");
        assert_eq!(r.version, VersionSel::Latest);
        let r: NodeRef = "dataset:tx@\"8361542\"".parse().expect("parses");
        assert_eq!(r.version, VersionSel::Label("8361542".into()));
        assert!("model:fraud@0".parse::<NodeRef>().is_err());
        assert!("fraud".parse::<NodeRef>().is_err());
        assert!("model:".parse::<NodeRef>().is_err());
        assert!("model:a b".parse::<NodeRef>().is_err());
    }
}
