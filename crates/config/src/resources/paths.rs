//! Maps field paths of the translated legacy tree back to the objects and fields they came from,
//! so that errors found by the shared validator name `Kind/namespace/name: spec.field[i]`.

use super::kinds::crd_key;
use crate::error::ConfigError;

/// Legacy path prefixes and the object paths they stand for.
#[derive(Default)]
pub(crate) struct PathMap {
    entries: Vec<(String, String)>,
}

impl PathMap {
    /// Records that the legacy `prefix` (e.g. `address-pools[0]`) is the object path `target`
    /// (e.g. `IPAddressPool/metallb-system/default: spec`).
    pub fn add(&mut self, prefix: impl Into<String>, target: impl Into<String>) {
        self.entries.push((prefix.into(), target.into()));
    }

    /// The object path of a legacy path (unchanged when no prefix matches).
    pub fn rewrite(&self, path: &str) -> String {
        let best = self
            .entries
            .iter()
            .filter(|(prefix, _)| {
                path.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
            .max_by_key(|(prefix, _)| prefix.len());
        match best {
            Some((prefix, target)) => format!("{target}{}", crd_fields(&path[prefix.len()..])),
            None => path.to_string(),
        }
    }

    /// An error with its path, and the legacy paths its message mentions, rewritten.
    pub fn error(&self, err: ConfigError) -> ConfigError {
        ConfigError {
            path: self.rewrite(&err.path),
            message: self.rewrite_mentions(&err.message),
            ..err
        }
    }

    /// Rewrites the legacy paths inside a message (`identical to peers[0]`, `(address-pools[1].addresses[0])`).
    fn rewrite_mentions(&self, message: &str) -> String {
        let mut out = String::new();
        let mut rest = message;
        while let Some(start) = ["peers[", "address-pools[", "bfd-profiles["]
            .iter()
            .filter_map(|top| rest.find(top))
            .min()
        {
            let len = rest[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']')))
                .unwrap_or(rest.len() - start);
            let token = rest[start..start + len].trim_end_matches('.');
            out.push_str(&rest[..start]);
            out.push_str(&self.rewrite(token));
            rest = &rest[start + token.len()..];
        }
        out.push_str(rest);
        out
    }

    /// A warning (`path: text`) with its path rewritten.
    pub fn warning(&self, warning: &str) -> String {
        match warning.split_once(": ") {
            Some((path, text)) => format!("{}: {text}", self.rewrite(path)),
            None => warning.to_string(),
        }
    }
}

/// `.hold-time` -> `.holdTime`, segment by segment (indexes kept).
fn crd_fields(rest: &str) -> String {
    let mut out = String::new();
    for (i, segment) in rest.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let end = segment.find('[').unwrap_or(segment.len());
        out.push_str(crd_key(&segment[..end]));
        out.push_str(&segment[end..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_at_a_boundary() {
        let mut map = PathMap::default();
        map.add("address-pools[1]", "IPAddressPool/ns/a: spec");
        map.add("address-pools[1].name", "IPAddressPool/ns/a: metadata.name");
        map.add(
            "address-pools[1].bgp-advertisements[0]",
            "BGPAdvertisement/ns/b: spec",
        );
        assert_eq!(
            map.rewrite("address-pools[1].addresses[2]"),
            "IPAddressPool/ns/a: spec.addresses[2]"
        );
        assert_eq!(
            map.rewrite("address-pools[1].avoid-buggy-ips"),
            "IPAddressPool/ns/a: spec.avoidBuggyIPs"
        );
        assert_eq!(
            map.rewrite("address-pools[1].name"),
            "IPAddressPool/ns/a: metadata.name"
        );
        assert_eq!(
            map.rewrite("address-pools[1].bgp-advertisements[0].aggregation-length-v6"),
            "BGPAdvertisement/ns/b: spec.aggregationLengthV6"
        );
        assert_eq!(map.rewrite("address-pools[10]"), "address-pools[10]");
        let err = map.error(ConfigError::new(
            "address-pools[1].addresses[0]",
            None,
            "overlaps x (address-pools[1].addresses[2]); see address-pools[1].",
        ));
        assert_eq!(
            err.message,
            "overlaps x (IPAddressPool/ns/a: spec.addresses[2]); see IPAddressPool/ns/a: spec."
        );
    }
}
