//! The one error type of the PromQL module.
//!
//! A query either does not parse ([`PromqlError::Parse`], carrying the query
//! text and the parser's message) or fails while evaluating; each evaluation
//! variant names its cause the way Prometheus words it, so a template author
//! can search for the message.

/// Why a PromQL query could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PromqlError {
    /// The query text is not valid PromQL.
    #[error("cannot parse query `{query}`: {message}")]
    Parse {
        /// The query as given.
        query: String,
        /// What the parser said.
        message: String,
    },
    /// A one-to-one or many-to-one match found two series on the "one" side.
    #[error(
        "found duplicate series for the match group {group} on the {side} hand-side of the operation: [{first}, {second}];many-to-many matching not allowed: matching labels must be unique on one side"
    )]
    ManyToMany {
        /// The matching labels of the group.
        group: String,
        /// `left` or `right`.
        side: &'static str,
        /// The first duplicate series.
        first: String,
        /// The second duplicate series.
        second: String,
    },
    /// Several left-hand series matched one right-hand series without
    /// `group_left`/`group_right`, or grouping produced the same result twice.
    #[error("multiple matches for labels: {0}")]
    MultipleMatches(&'static str),
    /// Two results ended up with the same label set (typically after the
    /// metric name was dropped).
    #[error("vector cannot contain metrics with the same labelset")]
    DuplicateLabelset,
    /// A function or aggregation got an argument it cannot use.
    #[error("{0}")]
    InvalidArgument(String),
    /// The expression's type does not fit the kind of query.
    #[error("invalid expression type {found:?} for {context}, must be {expected}")]
    InvalidType {
        /// The type found, e.g. `range vector`.
        found: &'static str,
        /// Where it was found.
        context: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A range query with a non-positive step or an end before its start.
    #[error("invalid range query: {0}")]
    InvalidRange(String),
    /// The query would do more work than the evaluator allows (subqueries
    /// with a tiny step over a long range).
    #[error("query is too expensive: {0}")]
    TooExpensive(String),
    /// The query text nests too deeply or has too many operators to be
    /// parsed and evaluated safely (see [`super::limits`]).
    #[error("query is too complex at column {column}: {what}; split it or simplify it")]
    TooComplex {
        /// 1-based column (in characters) where the limit was passed.
        column: usize,
        /// Which limit, with its value.
        what: String,
    },
    /// A valid PromQL feature this evaluator does not implement.
    #[error("unsupported PromQL feature: {0}")]
    Unsupported(String),
}

impl PromqlError {
    /// Whether this error says the evaluator lacks a feature (as opposed to
    /// the query being wrong).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, PromqlError::Unsupported(_))
    }
}
