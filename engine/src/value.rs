//! Typed property values: what a node or an edge carries besides its key.
//!
//! Values are encoded with serde + postcard on disk and converted to and from
//! JSON at the edges of the system (import files, JSON Lines output).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// A point in time: microseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// Microseconds since the Unix epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 timestamp such as `2026-11-30T12:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| Timestamp(t.with_timezone(&Utc).timestamp_micros()))
    }

    /// RFC 3339 in UTC, with as many fractional digits as needed.
    pub fn to_rfc3339(self) -> String {
        match Utc.timestamp_micros(self.0).single() {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            None => format!("@{}us", self.0),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A property value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// The absence of a value (JSON `null`).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// UTF-8 text.
    String(String),
    /// A UTC timestamp with microsecond precision.
    Timestamp(Timestamp),
    /// An ordered list.
    List(Vec<Value>),
    /// A nested map (hyperparameters, schema, facets).
    Map(BTreeMap<String, Value>),
}

/// The properties of a node or an edge, ordered by name.
pub type Props = BTreeMap<String, Value>;

impl Value {
    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }

    /// Follows a dotted property path (`hyperparameters.lr`) into nested maps.
    pub fn get_path<'a>(props: &'a Props, path: &[impl AsRef<str>]) -> Option<&'a Value> {
        let (first, rest) = path.split_first()?;
        let mut current = props.get(first.as_ref())?;
        for part in rest {
            match current {
                Value::Map(map) => current = map.get(part.as_ref())?,
                _ => return None,
            }
        }
        Some(current)
    }

    /// Converts from JSON. Strings are kept as strings: a timestamp in JSON
    /// stays text unless the caller knows better.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(map) => {
                Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// Converts to JSON. Timestamps become RFC 3339 strings; non-finite
    /// floats become `null` because JSON cannot carry them.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Converts a property map to a JSON object.
pub fn props_to_json(props: &Props) -> serde_json::Value {
    serde_json::Value::Object(props.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Converts a JSON object to a property map; anything else is `None`.
pub fn props_from_json(json: &serde_json::Value) -> Option<Props> {
    match json {
        serde_json::Value::Object(map) => Some(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        _ => None,
    }
}

impl fmt::Display for Value {
    /// Displays the value as JSON-like text (strings unquoted at top level).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => f.write_str(s),
            Value::Timestamp(t) => write!(f, "{t}"),
            Value::List(_) | Value::Map(_) => write!(f, "{}", self.to_json()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Float(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Value {
        Value::Timestamp(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let t = Timestamp::parse_rfc3339("2026-11-30T12:00:00.250Z").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-11-30T12:00:00.250Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-30T13:00:00+01:00"),
            Timestamp::parse_rfc3339("2026-11-30T12:00:00Z")
        );
        assert_eq!(Timestamp::parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn property_paths_follow_nested_maps() {
        let json = serde_json::json!({"hyper": {"lr": 0.1, "depth": 6}, "owner": "ana"});
        let props = props_from_json(&json).expect("object");
        assert_eq!(Value::get_path(&props, &["hyper", "lr"]), Some(&Value::Float(0.1)));
        assert_eq!(Value::get_path(&props, &["owner", "x"]), None);
        assert_eq!(props_to_json(&props), json);
    }
}
