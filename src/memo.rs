//! Per-thread memos of what a text alone decides: a PromQL query's parse,
//! a condition's compilation.
//!
//! In: a text and the function that works its outcome out. Out: that
//! outcome, worked out once per thread and cloned afterwards. Every run of
//! a sweep, a check or `run --runs` parses the same few queries and
//! compiles the same few conditions (each AnalysisRun anew), and parsing
//! costs hundreds of thousands of instructions where a clone costs a few
//! hundred. The outcome depends on the text alone, so what a run gives
//! cannot depend on which run, or thread, worked it out first.
//!
//! Bounded: at most [`KEPT`] texts of at most [`KEPT_TEXT_BYTES`] each
//! per memo and thread; anything past that is worked out each time again.
//!
//! Neighbours: [`crate::promql::Query::parse`] and
//! [`crate::condition::Condition::compile`] hold one each.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// How many texts a memo keeps per thread.
pub const KEPT: usize = 512;
/// The longest text a memo keeps.
pub const KEPT_TEXT_BYTES: usize = 4096;

/// Outcomes by text; one per thread, in a `thread_local!`.
pub struct TextMemo<V> {
    kept: RefCell<BTreeMap<String, V>>,
}

impl<V: Clone> TextMemo<V> {
    /// An empty memo.
    pub const fn new() -> TextMemo<V> {
        TextMemo {
            kept: RefCell::new(BTreeMap::new()),
        }
    }

    /// `work(text)`, from the memo if this thread worked it out before.
    pub fn get(&self, text: &str, work: impl FnOnce(&str) -> V) -> V {
        if let Some(v) = self.kept.borrow().get(text) {
            return v.clone();
        }
        let v = work(text);
        let mut kept = self.kept.borrow_mut();
        if kept.len() < KEPT && text.len() <= KEPT_TEXT_BYTES {
            kept.insert(text.to_string(), v.clone());
        }
        v
    }
}

impl<V: Clone> Default for TextMemo<V> {
    fn default() -> Self {
        TextMemo::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A text's length, counting the calls in `calls`.
    fn counted_len(calls: &Cell<usize>) -> impl Fn(&str) -> usize + Copy + '_ {
        move |t| {
            calls.set(calls.get() + 1);
            t.len()
        }
    }

    #[test]
    fn a_text_is_worked_out_once_and_each_text_keeps_its_own_outcome() {
        let memo: TextMemo<usize> = TextMemo::new();
        let calls = Cell::new(0);
        let work = counted_len(&calls);
        assert_eq!(memo.get("ab", work), 2);
        assert_eq!(memo.get("abc", work), 3);
        assert_eq!(memo.get("ab", work), 2);
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn past_its_bounds_a_memo_works_texts_out_each_time() {
        let memo: TextMemo<usize> = TextMemo::new();
        let calls = Cell::new(0);
        let work = counted_len(&calls);
        for i in 0..KEPT {
            memo.get(&i.to_string(), work);
        }
        let n = calls.get();
        memo.get("one more", work);
        memo.get("one more", work);
        assert_eq!(calls.get(), n + 2, "a full memo keeps nothing new");
        let long = "x".repeat(KEPT_TEXT_BYTES + 1);
        let fresh: TextMemo<usize> = TextMemo::new();
        fresh.get(&long, work);
        fresh.get(&long, work);
        assert_eq!(calls.get(), n + 4, "a long text is not kept");
    }
}
