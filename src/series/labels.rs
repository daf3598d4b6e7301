//! Label sets: the identity of a series, as Prometheus defines it.
//!
//! A [`Labels`] is a list of `(name, value)` pairs sorted by name, with the
//! metric name stored under `__name__` like any other label. Empty values are
//! dropped on construction, because Prometheus treats `l=""` as "no label".

use std::fmt;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// A sorted set of label pairs, metric name included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels {
    pairs: Vec<(String, String)>,
}

impl Labels {
    /// Builds a label set from pairs in any order. Pairs with empty values are
    /// dropped; when a name appears twice, the last value wins.
    pub fn new<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut v: Vec<(String, String)> = Vec::new();
        for (n, val) in pairs {
            let (n, val) = (n.into(), val.into());
            if let Some(existing) = v.iter_mut().find(|(k, _)| *k == n) {
                existing.1 = val;
            } else {
                v.push((n, val));
            }
        }
        v.retain(|(_, val)| !val.is_empty());
        v.sort();
        Labels { pairs: v }
    }

    /// A label set with a metric name and further pairs.
    pub fn with_name<N: Into<String>, V: Into<String>>(
        name: &str,
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut l = Labels::new(pairs);
        l.set(METRIC_NAME, name);
        l
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.pairs[i].1.as_str())
    }

    /// The metric name, if the set has one.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets label `name` to `value`; an empty value removes it.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.pairs.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.pairs.remove(i);
            }
            Ok(i) => self.pairs[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs.insert(i, (name.to_string(), value.to_string())),
        }
    }

    /// Removes label `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// A copy that keeps only the named labels.
    pub fn keep_only(&self, names: &[&str]) -> Labels {
        Labels {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| !names.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }
}

impl fmt::Display for Labels {
    /// Prometheus text form: `name{a="1", b="2"}`, or `{a="1"}` without a name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.metric_name() {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (k, v) in self.iter().filter(|(k, _)| *k != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}=\"")?;
            for c in v.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_and_empty_values_dropped() {
        let l = Labels::with_name("up", [("pod", "a"), ("job", "x"), ("empty", "")]);
        let names: Vec<&str> = l.iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["__name__", "job", "pod"]);
        assert_eq!(l.get("pod"), Some("a"));
        assert_eq!(l.get("empty"), None);
        assert_eq!(l.to_string(), "up{job=\"x\", pod=\"a\"}");
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut l = Labels::new([("b", "2")]);
        l.set("a", "1");
        l.set("c", "3");
        l.remove("b");
        assert_eq!(l.to_string(), "{a=\"1\", c=\"3\"}");
    }
}
