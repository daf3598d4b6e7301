//! Label sets: the identity of a series, as Prometheus defines it.
//!
//! A [`Labels`] is a list of `(name, value)` pairs sorted by name, with the
//! metric name stored under `__name__` like any other label. Empty values are
//! dropped on construction, because Prometheus treats `l=""` as "no label".
//! The pairs and each of their strings are shared between copies (a clone
//! is a reference count, not a copy of every string): PromQL hands a
//! series' labels to every element it selects and derives new sets from
//! them (`rate` drops the name, `sum by (le)` keeps one pair), and only
//! the list is copied when one is changed, never the strings.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// The labels Prometheus treats as metric metadata, which PromQL's
/// functions and operators drop with the name: the name itself and the
/// experimental `__type__` and `__unit__`.
pub const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// A sorted set of label pairs, metric name included. Sets order as their
/// lists of pairs do, pair by pair (name, then value), as Prometheus sorts
/// series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Labels {
    /// Shared by clones; [`Labels::set`] copies the list first if it is.
    pairs: Arc<Vec<(Arc<str>, Arc<str>)>>,
}

impl Labels {
    /// Builds a label set from pairs in any order. Pairs with empty values are
    /// dropped; when a name appears twice, the last value wins.
    pub fn new<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut v: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        for (n, val) in pairs {
            let (n, val): (String, String) = (n.into(), val.into());
            if let Some(existing) = v.iter_mut().find(|(k, _)| **k == *n) {
                existing.1 = val.into();
            } else {
                v.push((n.into(), val.into()));
            }
        }
        v.retain(|(_, val)| !val.is_empty());
        v.sort();
        Labels { pairs: Arc::new(v) }
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

    /// This set with `extra` pairs added, as [`Labels::new`] would build it
    /// from this set's pairs followed by `extra` (a name given again takes
    /// the later value, an empty value removes the label), sharing this
    /// set's strings rather than copying them: how a target makes the label
    /// set of each series it exports from its own.
    pub fn with_pairs(&self, extra: &[(&str, &str)]) -> Labels {
        let mut v: Vec<(Arc<str>, Arc<str>)> = Vec::with_capacity(self.pairs.len() + extra.len());
        v.extend(self.pairs.iter().cloned());
        for &(n, val) in extra {
            if let Some(at) = v.iter().position(|(k, _)| **k == *n) {
                if *v[at].1 != *val {
                    v[at].1 = val.into();
                }
            } else {
                v.push((n.into(), val.into()));
            }
        }
        v.retain(|(_, val)| !val.is_empty());
        // Names are unique by now: sorting by them sorts the pairs.
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Labels { pairs: Arc::new(v) }
    }

    /// This set with the pairs of `over` added, `over`'s value winning for a
    /// name both hold: [`Labels::with_pairs`] with `over`'s pairs, but with
    /// no string copied and no sorting, as both lists are sorted already.
    /// How a target makes the label set of each series it exports from its
    /// own labels and the series' own pairs, which every target shares.
    pub fn merged(&self, over: &Labels) -> Labels {
        let (a, b) = (&*self.pairs, &*over.pairs);
        let mut v = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    v.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    v.push(b[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    v.push(b[j].clone());
                    i += 1;
                    j += 1;
                }
            }
        }
        v.extend_from_slice(&a[i..]);
        v.extend_from_slice(&b[j..]);
        Labels { pairs: Arc::new(v) }
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &*self.pairs[i].1)
    }

    /// The metric name, if the set has one.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets label `name` to `value`; an empty value removes it.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.pairs.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.pairs).remove(i);
            }
            Ok(i) if *self.pairs[i].1 == *value => {}
            Ok(i) => Arc::make_mut(&mut self.pairs)[i].1 = value.into(),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.pairs).insert(i, (name.into(), value.into())),
        }
    }

    /// Replaces the strings of each pair by the equal ones `share` returns
    /// (the store's one copy of each, [`super::SeriesStore`]), so that equal
    /// strings are one allocation and compare by address.
    pub(super) fn share_strings(
        &mut self,
        mut share: impl FnMut(&Arc<str>, &Arc<str>) -> (Arc<str>, Arc<str>),
    ) {
        for pair in Arc::make_mut(&mut self.pairs) {
            let shared = share(&pair.0, &pair.1);
            debug_assert!(*shared.0 == *pair.0 && *shared.1 == *pair.1);
            *pair = shared;
        }
    }

    /// Removes label `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// The pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (&**k, &**v))
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
            pairs: Arc::new(
                self.pairs
                    .iter()
                    .filter(|(k, _)| names.contains(&&**k))
                    .cloned()
                    .collect(),
            ),
        }
    }

    /// This set without [`METADATA_LABELS`], in one pass: the set itself
    /// (shared, not copied) when it has none of them. What removing each of
    /// them in turn gives, without copying the pairs once per removal.
    pub fn without_metadata(&self) -> Labels {
        // Most names fail the cheap prefix test, sparing three comparisons.
        let is_metadata = |k: &Arc<str>| k.starts_with("__") && METADATA_LABELS.contains(&&**k);
        if !self.pairs.iter().any(|(k, _)| is_metadata(k)) {
            return self.clone();
        }
        let mut v = Vec::with_capacity(self.pairs.len() - 1);
        v.extend(self.pairs.iter().filter(|(k, _)| !is_metadata(k)).cloned());
        Labels { pairs: Arc::new(v) }
    }

    /// A copy without the named labels.
    pub fn without(&self, names: &[&str]) -> Labels {
        Labels {
            pairs: Arc::new(
                self.pairs
                    .iter()
                    .filter(|(k, _)| !names.contains(&&**k))
                    .cloned()
                    .collect(),
            ),
        }
    }
}

impl Ord for Labels {
    /// The order of the pairs' lists, as a derived `Ord` would give it, but
    /// with strings that are one allocation (as a store's series share
    /// them) found equal without reading them.
    fn cmp(&self, other: &Labels) -> Ordering {
        if Arc::ptr_eq(&self.pairs, &other.pairs) {
            return Ordering::Equal;
        }
        let str_cmp = |a: &Arc<str>, b: &Arc<str>| {
            if Arc::ptr_eq(a, b) {
                Ordering::Equal
            } else {
                a.cmp(b)
            }
        };
        for ((an, av), (bn, bv)) in self.pairs.iter().zip(other.pairs.iter()) {
            let c = str_cmp(an, bn).then_with(|| str_cmp(av, bv));
            if c.is_ne() {
                return c;
            }
        }
        self.pairs.len().cmp(&other.pairs.len())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<Ordering> {
        Some(self.cmp(other))
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

    #[test]
    fn with_pairs_builds_what_new_builds_from_all_the_pairs() {
        let base = Labels::new([("pod", "p-1"), ("job", "svc"), ("namespace", "prod")]);
        let cases: [&[(&str, &str)]; 6] = [
            &[],
            &[("__name__", "up")],
            &[("le", "0.5"), ("__name__", "x_bucket"), ("code", "200")],
            &[("pod", "p-2"), ("a", "1")],
            &[("job", ""), ("zz", "")],
            &[("b", "1"), ("b", "2"), ("b", "")],
        ];
        for extra in cases {
            let expected = Labels::new(base.iter().chain(extra.iter().copied()));
            assert_eq!(base.with_pairs(extra), expected, "{extra:?}");
        }
        assert_eq!(
            base.to_string(),
            "{job=\"svc\", namespace=\"prod\", pod=\"p-1\"}"
        );
    }

    #[test]
    fn merged_builds_what_with_pairs_builds() {
        let base = Labels::new([("pod", "p-1"), ("job", "svc"), ("namespace", "prod")]);
        let cases: [&[(&str, &str)]; 5] = [
            &[],
            &[("__name__", "up")],
            &[("le", "0.5"), ("__name__", "x_bucket"), ("code", "200")],
            &[("pod", "p-2"), ("a", "1"), ("zz", "z")],
            &[("job", "other"), ("namespace", "n"), ("pod", "p")],
        ];
        for extra in cases {
            let over = Labels::new(extra.iter().copied());
            assert_eq!(base.merged(&over), base.with_pairs(extra), "{extra:?}");
            assert_eq!(over.merged(&Labels::default()), over);
        }
    }

    #[test]
    fn sets_order_as_their_pairs_do_whether_or_not_they_share_strings() {
        let sets = [
            Labels::new([("a", "1")]),
            Labels::new([("a", "1"), ("b", "2")]),
            Labels::new([("a", "2")]),
            Labels::new([("a", "10"), ("c", "")]),
            Labels::new([("b", "1")]),
            Labels::with_name("up", [("a", "1")]),
            Labels::new(Vec::<(String, String)>::new()),
        ];
        // The same sets again, their strings shared with the first copies.
        let mut shared = sets.clone();
        for (s, original) in shared.iter_mut().zip(&sets) {
            let mut own = Labels::new(s.iter());
            let mut pairs = original.pairs.iter();
            own.share_strings(|_, _| pairs.next().cloned().expect("same length"));
            *s = own;
        }
        for a in sets.iter().chain(&shared) {
            for b in sets.iter().chain(&shared) {
                assert_eq!(a.cmp(b), a.iter().cmp(b.iter()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn without_metadata_removes_what_removing_each_metadata_label_removes() {
        let cases = [
            Labels::new(Vec::<(String, String)>::new()),
            Labels::new([("pod", "a")]),
            Labels::with_name("up", [("pod", "a"), ("job", "x")]),
            Labels::with_name("up", [("__type__", "counter"), ("__unit__", "bytes")]),
            Labels::new([("A", "1"), ("__unit__", "s"), ("zz", "2")]),
        ];
        for l in cases {
            let mut expected = l.clone();
            for name in METADATA_LABELS {
                expected.remove(name);
            }
            assert_eq!(l.without_metadata(), expected, "{l}");
        }
    }

    #[test]
    fn changing_a_copy_leaves_the_original_as_it_was() {
        let original = Labels::with_name("up", [("pod", "a"), ("job", "x")]);
        let mut copy = original.clone();
        copy.set("pod", "b");
        copy.remove("job");
        copy.set("zone", "z");
        assert_eq!(original.to_string(), "up{job=\"x\", pod=\"a\"}");
        assert_eq!(copy.to_string(), "up{pod=\"b\", zone=\"z\"}");
        let mut same = original.clone();
        same.set("pod", "a");
        assert_eq!(same, original);
    }
}
