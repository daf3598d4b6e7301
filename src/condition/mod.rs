//! Argo's `successCondition` / `failureCondition`: expr-lang expressions over a
//! provider's result, judged the way `utils/evaluate/evaluate.go` judges them.
//!
//! In: a [`ResultValue`] (what a provider measured: a number, a list of numbers,
//! nothing, …) and the condition texts. Out: `Ok(bool)` per condition, and for
//! the pair a [`Verdict`] (Successful, Failed, Inconclusive) or an
//! [`EvalError`], which the analysis run records as a measurement Error.
//!
//! The environment is Argo's: `result`, `asInt`, `asFloat`, `isNaN`, `isInf`,
//! `isNil`, `default`, plus expr's own builtins. Two Go behaviours the Rust
//! port of expr does not share are restored here:
//! - indexing `result` out of range (`result[0]` on an empty vector) is an
//!   error, as in Go, not `nil` (see the `index` submodule);
//! - the output must be a bool, else the evaluation is an error;
//! - Go's expr type-checks the condition against the result's Go type
//!   before running it: `==`/`!=` between types that cannot be compared
//!   (`result != 0` on a vector) and names it does not know are errors (see
//!   the `types` submodule).
//!
//! Neighbours: `crate::analysis` calls [`evaluate_result`] for every
//! Prometheus measurement; the lint issue will call [`check`] and
//! [`bool_check`] on templates without running them.

mod env;
mod index;
pub mod limits;
mod types;

use std::fmt;

use expr::{Context, Program, Value};

use crate::memo::TextMemo;

/// What a metric provider measured, as Argo hands it to `EvalCondition`.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultValue {
    /// No result at all (Go's `nil`); `isNil(result)` is true.
    Nil,
    /// A boolean.
    Bool(bool),
    /// One number: a Prometheus scalar (`float64`).
    Number(f64),
    /// A list of numbers: a Prometheus vector (even with one sample) or a
    /// flattened matrix (`[]float64`). May be empty, which is not nil.
    Numbers(Vec<f64>),
    /// A string (for `asInt` / `asFloat` on textual results).
    Text(String),
}

impl ResultValue {
    /// Argo's `isNilOrEmpty`: nil, or a list with no element.
    pub fn is_nil_or_empty(&self) -> bool {
        match self {
            ResultValue::Nil => true,
            ResultValue::Numbers(v) => v.is_empty(),
            _ => false,
        }
    }

    /// The value as Argo stores it in `Measurement.Value`: Prometheus's
    /// `SampleValue.String()` for numbers (`0.002`, `NaN`, `+Inf`), and
    /// `[a,b]` for lists.
    pub fn to_argo_string(&self) -> String {
        match self {
            ResultValue::Nil => String::new(),
            ResultValue::Bool(b) => b.to_string(),
            ResultValue::Number(v) => format_sample_value(*v),
            ResultValue::Numbers(vs) => {
                let parts: Vec<String> = vs.iter().map(|v| format_sample_value(*v)).collect();
                format!("[{}]", parts.join(","))
            }
            ResultValue::Text(s) => s.clone(),
        }
    }

    fn to_expr(&self) -> Value {
        match self {
            ResultValue::Nil => Value::Nil,
            ResultValue::Bool(b) => Value::Bool(*b),
            ResultValue::Number(v) => Value::Float(*v),
            ResultValue::Numbers(vs) => Value::Array(vs.iter().map(|v| Value::Float(*v)).collect()),
            ResultValue::Text(s) => Value::String(s.clone()),
        }
    }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` does, which is
/// how Prometheus's client prints sample values: shortest round-trip digits,
/// never an exponent, `NaN`, `+Inf`, `-Inf`.
pub fn format_sample_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display is the shortest round-trip form without an exponent.
        format!("{v}")
    }
}

/// Why a condition could not give a bool.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConditionError {
    /// The text does not parse.
    #[error("syntax error: {message}")]
    Syntax {
        /// The parser's message (with a caret under the column when it has one).
        message: String,
    },
    /// Evaluation failed: unknown name or function, bad operand, index out
    /// of range, a panicking helper such as `asInt("x")`.
    #[error("{message}")]
    Eval {
        /// What went wrong.
        message: String,
    },
    /// The expression evaluated, but not to a bool (Argo: `expected bool, but got int`).
    #[error("expected bool, but got {type_name}")]
    NotBool {
        /// Go's name for the type that came out (`int`, `float64`, `string`, …).
        type_name: &'static str,
    },
}

thread_local! {
    /// [`Condition::compile`]'s outcomes by text, on this thread.
    static COMPILED: TextMemo<Result<Condition, ConditionError>> = const { TextMemo::new() };
}

/// A condition compiled once and evaluated against many results.
#[derive(Debug, Clone)]
pub struct Condition {
    text: String,
    program: Program,
    /// Whether the `types` submodule can check this text.
    typed: bool,
}

impl Condition {
    /// Parses a condition. Only syntax is checked here; unknown names and
    /// functions are found when it runs (as measurement Errors), or by
    /// [`bool_check`].
    ///
    /// Compiling is costly (expr's pest parser: about 170k instructions for
    /// a typical condition, where evaluating it takes a few thousand), and
    /// every AnalysisRun of every run compiles its metrics' conditions
    /// again, so each thread keeps the outcome ([`crate::memo`]).
    pub fn compile(text: &str) -> Result<Condition, ConditionError> {
        COMPILED.with(|memo| memo.get(text, Condition::compile_anew))
    }

    fn compile_anew(text: &str) -> Result<Condition, ConditionError> {
        limits::check_text(text).map_err(|message| ConditionError::Syntax { message })?;
        // Syntax errors are reported against the user's own text.
        let original = expr::compile(text).map_err(|e| ConditionError::Syntax {
            message: e.to_string(),
        })?;
        let rewritten = index::rewrite_result_indexing(text);
        let program = if rewritten == text {
            original
        } else {
            // The rewrite only swaps `result[i]` for a call; should it ever fail
            // to compile, the unrewritten program is still a faithful fallback
            // apart from out-of-range indexing.
            expr::compile(&rewritten).unwrap_or(original)
        };
        Ok(Condition {
            text: text.to_string(),
            program,
            typed: types::supported(text),
        })
    }

    /// The condition as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Argo's `EvalCondition`: runs the condition with `result` bound to the
    /// provider's result; the output must be a bool.
    pub fn eval(&self, result: &ResultValue) -> Result<bool, ConditionError> {
        if self.typed
            && let Some(message) = types::first_error(&self.text, result)
        {
            return Err(ConditionError::Eval { message });
        }
        let mut ctx = Context::default();
        let value = result.to_expr();
        ctx.insert(env::HIDDEN_RESULT, value.clone());
        ctx.insert("result", value);
        match env::environment().run(&self.program, &ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(ConditionError::NotBool {
                type_name: go_type_name(&other),
            }),
            Err(e) => Err(ConditionError::Eval {
                message: e.to_string(),
            }),
        }
    }
}

/// The compile error Go's expr raises for `text` against a result like
/// `result` (mismatched `==`/`!=` operands, an unknown name), if any; for
/// lint.
pub fn type_error(text: &str, result: &ResultValue) -> Option<String> {
    types::first_error(text, result)
}

/// Compiles `text` without evaluating it (for lint).
pub fn check(text: &str) -> Result<(), ConditionError> {
    Condition::compile(text).map(|_| ())
}

/// Compiles and evaluates `text` once (Argo's `EvalCondition`).
pub fn eval_condition(result: &ResultValue, text: &str) -> Result<bool, ConditionError> {
    Condition::compile(text)?.eval(result)
}

/// What [`bool_check`] learned about a condition by running it against a set
/// of typical results (a number, lists of one and two numbers, an empty
/// list, NaN, nil, a bool, a numeric string).
#[derive(Debug, Clone, PartialEq)]
pub enum BoolCheck {
    /// At least one typical result gave a bool.
    CanBeBool,
    /// Every typical result either failed or gave something other than a
    /// bool, and at least one gave this type.
    NeverBool {
        /// Go's name for the type that came out.
        type_name: &'static str,
    },
    /// Every typical result failed; the message of the first failure (for
    /// example an unknown function or variable).
    AlwaysFails {
        /// The first error.
        message: String,
    },
}

/// Tells whether a condition can return a bool, for lint: compiles it, then
/// runs it on typical results of any provider. A syntax error is returned
/// as `Err`.
pub fn bool_check(text: &str) -> Result<BoolCheck, ConditionError> {
    bool_check_on(text, &ResultShape::Any.probes())
}

/// What a provider can hand a condition, as far as lint can tell before
/// running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultShape {
    /// Anything (a provider whose result lint does not know).
    Any,
    /// What Argo's Prometheus `processResponse` gives for a query whose
    /// type is not known: a number or a list of numbers, never nil, a bool
    /// or a string.
    Prometheus,
    /// A Prometheus scalar: `result` is a number (`float64`).
    Scalar,
    /// A Prometheus instant vector or matrix: `result` is a list of
    /// numbers (`[]float64`), possibly empty.
    Vector,
}

impl ResultShape {
    /// Typical results of this shape, for [`bool_check_on`].
    pub fn probes(self) -> Vec<ResultValue> {
        let number = || vec![ResultValue::Number(0.5), ResultValue::Number(f64::NAN)];
        let numbers = || {
            vec![
                ResultValue::Numbers(vec![0.5]),
                ResultValue::Numbers(vec![0.5, 2.0]),
                ResultValue::Numbers(Vec::new()),
            ]
        };
        match self {
            ResultShape::Scalar => number(),
            ResultShape::Vector => numbers(),
            ResultShape::Prometheus => [number(), numbers()].concat(),
            ResultShape::Any => [
                number(),
                numbers(),
                vec![
                    ResultValue::Nil,
                    ResultValue::Bool(true),
                    ResultValue::Text("1".to_string()),
                ],
            ]
            .concat(),
        }
    }
}

/// [`bool_check`] against the given results only (for instance
/// [`ResultShape::probes`] of what the metric's provider returns).
pub fn bool_check_on(text: &str, probes: &[ResultValue]) -> Result<BoolCheck, ConditionError> {
    let condition = Condition::compile(text)?;
    let mut first_error: Option<String> = None;
    let mut non_bool: Option<&'static str> = None;
    for probe in probes {
        match condition.eval(probe) {
            Ok(_) => return Ok(BoolCheck::CanBeBool),
            Err(ConditionError::NotBool { type_name }) => {
                non_bool.get_or_insert(type_name);
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Ok(match non_bool {
        Some(type_name) => BoolCheck::NeverBool { type_name },
        None => BoolCheck::AlwaysFails {
            message: first_error.unwrap_or_default(),
        },
    })
}

/// The judgement of one measurement whose conditions evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The success condition held (or no condition failed).
    Successful,
    /// The failure condition held, or the only (success) condition did not.
    Failed,
    /// Both conditions are set and neither held.
    Inconclusive,
}

/// Which of the two conditions an [`EvalError`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKind {
    /// `successCondition`.
    Success,
    /// `failureCondition`.
    Failure,
}

impl fmt::Display for ConditionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConditionKind::Success => "successCondition",
            ConditionKind::Failure => "failureCondition",
        })
    }
}

/// A condition that could not be evaluated: the measurement is an Error.
/// The message is Argo's (`could not evaluate successCondition "…": …`,
/// with `metric result is nil or empty` when the result was nil or empty).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("could not evaluate {kind} \"{text}\": {detail}")]
pub struct EvalError {
    /// Which condition failed.
    pub kind: ConditionKind,
    /// Its text.
    pub text: String,
    /// Why (Argo's wording when the result was nil or empty).
    pub detail: String,
    /// The underlying error.
    pub cause: ConditionError,
}

/// Argo's `EvaluateResult` on already compiled conditions:
/// - neither set: Successful;
/// - only success: true gives Successful, false gives Failed;
/// - only failure: true gives Failed, false gives Successful;
/// - both: failure true gives Failed (failure wins), else success true gives
///   Successful, else Inconclusive.
///
/// The success condition is evaluated first; an error in either is an Error.
pub fn evaluate_result(
    result: &ResultValue,
    success: Option<&Condition>,
    failure: Option<&Condition>,
) -> Result<Verdict, EvalError> {
    let run = |kind: ConditionKind, c: &Condition| {
        c.eval(result)
            .map_err(|cause| eval_error(kind, c.text(), result, cause))
    };
    let success_held = success
        .map(|c| run(ConditionKind::Success, c))
        .transpose()?;
    let failure_held = failure
        .map(|c| run(ConditionKind::Failure, c))
        .transpose()?;
    Ok(combine(success_held, failure_held))
}

/// The truth table of `EvaluateResult` once the set conditions evaluated.
fn combine(success_held: Option<bool>, failure_held: Option<bool>) -> Verdict {
    match (success_held, failure_held) {
        (None, None) => Verdict::Successful,
        (Some(true), None) | (None, Some(false)) => Verdict::Successful,
        (Some(false), None) | (None, Some(true)) => Verdict::Failed,
        (Some(_), Some(true)) => Verdict::Failed,
        (Some(true), Some(false)) => Verdict::Successful,
        (Some(false), Some(false)) => Verdict::Inconclusive,
    }
}

/// A metric's two conditions, compiled once. A condition that does not
/// compile is kept as its error and reported at every evaluation, as Argo
/// (which compiles at each measurement) reports it.
#[derive(Debug, Clone)]
pub struct ConditionPair {
    success: Option<(String, Result<Condition, ConditionError>)>,
    failure: Option<(String, Result<Condition, ConditionError>)>,
}

impl ConditionPair {
    /// Compiles both texts; an empty text means "not set".
    pub fn new(success: &str, failure: &str) -> ConditionPair {
        let compile =
            |text: &str| (!text.is_empty()).then(|| (text.to_string(), Condition::compile(text)));
        ConditionPair {
            success: compile(success),
            failure: compile(failure),
        }
    }

    /// The success condition's text, or "".
    pub fn success_text(&self) -> &str {
        self.success.as_ref().map_or("", |(t, _)| t)
    }

    /// The failure condition's text, or "".
    pub fn failure_text(&self) -> &str {
        self.failure.as_ref().map_or("", |(t, _)| t)
    }

    /// [`evaluate_result`], with a compile error reported as an evaluation
    /// error of its condition (success first, as Argo evaluates it).
    pub fn evaluate(&self, result: &ResultValue) -> Result<Verdict, EvalError> {
        type Slot = Option<(String, Result<Condition, ConditionError>)>;
        let run = |kind: ConditionKind, slot: &Slot| -> Result<Option<bool>, EvalError> {
            match slot {
                None => Ok(None),
                Some((text, Ok(c))) => c
                    .eval(result)
                    .map(Some)
                    .map_err(|cause| eval_error(kind, text, result, cause)),
                Some((text, Err(cause))) => Err(eval_error(kind, text, result, cause.clone())),
            }
        };
        let success = run(ConditionKind::Success, &self.success)?;
        let failure = run(ConditionKind::Failure, &self.failure)?;
        Ok(combine(success, failure))
    }
}

fn eval_error(
    kind: ConditionKind,
    text: &str,
    result: &ResultValue,
    cause: ConditionError,
) -> EvalError {
    let detail = if result.is_nil_or_empty() {
        "metric result is nil or empty: no data returned from the metric provider".to_string()
    } else {
        cause.to_string()
    };
    EvalError {
        kind,
        text: text.to_string(),
        detail,
        cause,
    }
}

/// [`evaluate_result`] on condition texts; empty texts mean "not set".
/// A syntax error is an evaluation error of that condition, as in Argo.
pub fn evaluate_texts(
    result: &ResultValue,
    success: &str,
    failure: &str,
) -> Result<Verdict, EvalError> {
    ConditionPair::new(success, failure).evaluate(result)
}

/// Go's `%T` for the value kinds an expression can produce.
fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Nil => "<nil>",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Bytes(_) => "[]uint8",
        Value::Map(_) | Value::KeyedMap(_) => "map[string]interface {}",
        // Date and duration values exist only with expr-lang's `temporal` feature.
        #[allow(unreachable_patterns)]
        _ => "interface {}",
    }
}

#[cfg(test)]
mod tests;
