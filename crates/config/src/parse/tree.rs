//! A loose YAML tree (`serde_json::Value`) walked by hand so that every error can be collected
//! with its field path.

use serde_json::{Map, Value};

use crate::error::ConfigError;

/// Collects errors and warnings while walking the tree.
#[derive(Default)]
pub(crate) struct Ctx {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

impl Ctx {
    /// Records an error about `value` at `path`.
    pub fn error(&mut self, path: &str, value: Option<&Value>, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(path, value.map(show), message));
    }

    /// Records an error with the value given as text.
    pub fn error_text(&mut self, path: &str, value: &str, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(path, Some(value.to_string()), message));
    }

    /// Expects a mapping; reports unknown keys (with a suggestion) and returns it.
    pub fn object<'a>(
        &mut self,
        path: &str,
        value: &'a Value,
        known: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let Value::Object(map) = value else {
            self.error(
                path,
                Some(value),
                format!("expected a mapping, got {}", kind(value)),
            );
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let p = join(path, key);
                let message = match suggest(key, known) {
                    Some(s) => format!("unknown key; did you mean {s}?"),
                    None => format!("unknown key; known keys: {}", known.join(", ")),
                };
                self.errors.push(ConfigError::new(p, None, message));
            }
        }
        Some(map)
    }

    /// Expects a list (null counts as empty).
    pub fn list<'a>(&mut self, path: &str, value: &'a Value) -> &'a [Value] {
        match value {
            Value::Array(items) => items,
            Value::Null => &[],
            other => {
                self.error(
                    path,
                    Some(other),
                    format!("expected a list, got {}", kind(other)),
                );
                &[]
            }
        }
    }

    /// Expects a string (numbers and booleans are accepted as their text, like Go's YAML).
    pub fn string(&mut self, path: &str, value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.error(
                    path,
                    Some(other),
                    format!("expected a string, got {}", kind(other)),
                );
                None
            }
        }
    }

    /// Expects an unsigned integer no larger than `max`.
    pub fn uint(&mut self, path: &str, value: &Value, max: u64) -> Option<u64> {
        let n = match value {
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        match n {
            Some(n) if n <= max => Some(n),
            _ => {
                let message = match value {
                    Value::Number(_) => format!("expected a whole number in 0..={max}"),
                    other => format!("expected a number, got {}", kind(other)),
                };
                self.error(path, Some(value), message);
                None
            }
        }
    }

    /// Expects a boolean (YAML 1.1 spellings yes/no/on/off are accepted, as MetalLB's parser did).
    pub fn boolean(&mut self, path: &str, value: &Value) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "y" => Some(true),
                "false" | "no" | "off" | "n" => Some(false),
                _ => {
                    self.error(path, Some(value), "expected true or false");
                    None
                }
            },
            other => {
                self.error(path, Some(other), "expected true or false");
                None
            }
        }
    }
}

/// `path.key` (or `key` at the top).
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[index]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A value as the user wrote it (scalars plain, collections as compact JSON).
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The known key closest to `key`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let normalized = key.to_ascii_lowercase().replace(['_', ' '], "-");
    if let Some(exact) = known.iter().find(|k| k.eq_ignore_ascii_case(&normalized)) {
        return Some(exact);
    }
    let max = (key.chars().count() / 3).clamp(1, 3);
    known
        .iter()
        .map(|k| (edit_distance(&normalized, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= max)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance between two strings (by chars).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        let known = ["hold-time", "keepalive-time", "peer-address"];
        assert_eq!(suggest("hold_time", &known), Some("hold-time"));
        assert_eq!(suggest("hold-tme", &known), Some("hold-time"));
        assert_eq!(suggest("peer-adress", &known), Some("peer-address"));
        assert_eq!(suggest("colour", &known), None);
    }
}
