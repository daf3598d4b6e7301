//! The expr environment Argo's `EvalCondition` builds: the helper functions
//! with Argo's meanings, registered once for the whole process.
//!
//! `isNil(x)` and `default(x, d)` ignore `x` and test the whole result, as
//! Argo's closures over `resultValue` do; they read it from a context key no
//! expression can name, so a shadowing `let result = …` cannot fool them.

use std::sync::LazyLock;

use expr::{Environment, Value};

/// Context key holding the provider's result for `isNil` and `default`.
pub(super) const HIDDEN_RESULT: &str = "@argo-result";

/// Name of the checked indexing helper that [`super::index`] rewrites
/// `result[i]` into.
pub(super) const INDEX_FN: &str = "__argoIndex";

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(build);

/// The shared environment.
pub(super) fn environment() -> &'static Environment<'static> {
    &ENVIRONMENT
}

fn err(message: String) -> expr::Error {
    expr::Error::ExprError(message)
}

fn one_arg(name: &str, args: &[Value]) -> Result<Value, expr::Error> {
    match args {
        [v] => Ok(v.clone()),
        _ => Err(err(format!(
            "{name}() takes exactly one argument, got {}",
            args.len()
        ))),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => format!("bool {b}"),
        Value::String(s) => format!("string {s}"),
        Value::Array(_) => "[]interface {}".to_string(),
        Value::Map(_) | Value::KeyedMap(_) => "map[string]interface {}".to_string(),
        other => format!("{other:?}"),
    }
}

/// `result`'s kind and value in plain words: `a number (0.5)`.
fn what_result_is(v: &Value) -> String {
    match v {
        Value::Nil => "nil".to_string(),
        Value::Integer(i) => format!("a number ({i})"),
        Value::Float(f) => format!("a number ({f})"),
        Value::Bool(b) => format!("a bool ({b})"),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Map(_) | Value::KeyedMap(_) => "a map".to_string(),
        other => describe(other),
    }
}

/// An index as written between the brackets.
fn index_text(i: &Value) -> String {
    match i {
        Value::String(s) => format!("{s:?}"),
        other => describe(other),
    }
}

fn build() -> Environment<'static> {
    let mut env = Environment::new();

    // math.IsNaN(float64): a list or a string is a type error, i.e. an Error.
    env.add_function("isNaN", |c| match one_arg("isNaN", &c.args)? {
        Value::Float(f) => Ok(Value::Bool(f.is_nan())),
        Value::Integer(_) => Ok(Value::Bool(false)),
        other => Err(err(format!(
            "isNaN() takes a float64, not {}",
            describe(&other)
        ))),
    });

    // math.IsInf(f, 0): either sign.
    env.add_function("isInf", |c| match one_arg("isInf", &c.args)? {
        Value::Float(f) => Ok(Value::Bool(f.is_infinite())),
        Value::Integer(_) => Ok(Value::Bool(false)),
        other => Err(err(format!(
            "isInf() takes a float64, not {}",
            describe(&other)
        ))),
    });

    // asInt: numbers truncate toward zero; strings must be base-10 integers.
    env.add_function("asInt", |c| match one_arg("asInt", &c.args)? {
        Value::Integer(i) => Ok(Value::Integer(i)),
        Value::Float(f) => Ok(Value::Integer(f.trunc() as i64)),
        Value::String(s) => s
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"))),
        other => Err(err(format!(
            "asInt() not supported on {}",
            describe(&other)
        ))),
    });

    // asFloat: numbers widen; strings must parse as floats.
    env.add_function("asFloat", |c| match one_arg("asFloat", &c.args)? {
        Value::Integer(i) => Ok(Value::Float(i as f64)),
        Value::Float(f) => Ok(Value::Float(f)),
        Value::String(s) => s
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| err(format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))),
        other => Err(err(format!(
            "asFloat() not supported on {}",
            describe(&other)
        ))),
    });

    // isNil(_) tests the whole result, whatever it is given.
    env.add_function("isNil", |c| {
        one_arg("isNil", &c.args)?;
        let whole = c.ctx.get(HIDDEN_RESULT).cloned().unwrap_or(Value::Nil);
        Ok(Value::Bool(whole.is_nil()))
    });

    // default(_, d): d when the whole result is nil, else the whole result.
    env.add_function("default", |c| match c.args.as_slice() {
        [_, fallback] => {
            let whole = c.ctx.get(HIDDEN_RESULT).cloned().unwrap_or(Value::Nil);
            Ok(if whole.is_nil() {
                fallback.clone()
            } else {
                whole
            })
        }
        args => Err(err(format!(
            "default() takes exactly two arguments, got {}",
            args.len()
        ))),
    });

    // Checked indexing: Go's expr fails on an out-of-range index, where the
    // Rust port returns nil.
    env.add_function(INDEX_FN, |c| match c.args.as_slice() {
        [Value::Array(items), Value::Integer(i)] => {
            let len = items.len() as i64;
            let at = if *i < 0 { i + len } else { *i };
            if at < 0 || at >= len {
                Err(err(format!(
                    "index out of range: {i} (array length is {len})"
                )))
            } else {
                Ok(items[at as usize].clone())
            }
        }
        [Value::String(s), Value::Integer(i)] => {
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let at = if *i < 0 { i + len } else { *i };
            if at < 0 || at >= len {
                Err(err(format!(
                    "index out of range: {i} (string length is {len})"
                )))
            } else {
                Ok(Value::String(chars[at as usize].to_string()))
            }
        }
        [Value::Map(m), Value::String(k)] => Ok(m.get(k).cloned().unwrap_or(Value::Nil)),
        // Only `result[…]` is rewritten into this helper, so `v` is the
        // result: say what it is in the words of the condition.
        [Value::Array(_), i] => Err(err(format!(
            "result is a list, so result[…] needs an integer index, not {}",
            describe(i)
        ))),
        [v, i] => {
            let hint = if matches!(v, Value::Float(_) | Value::Integer(_)) {
                " (a Prometheus scalar query gives one number: compare result itself)"
            } else {
                ""
            };
            Err(err(format!(
                "result is {}, not a list, so result[{}] cannot index it{hint}",
                what_result_is(v),
                index_text(i)
            )))
        }
        args => Err(err(format!("index takes two operands, got {}", args.len()))),
    });

    env
}
