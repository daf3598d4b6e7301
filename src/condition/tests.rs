//! Cases from Argo's evaluate_test.go and prometheus_test.go, plus the Go
//! behaviours the Rust port of expr does not share.

use super::*;

fn verdict(result: &ResultValue, success: &str, failure: &str) -> Result<Verdict, EvalError> {
    evaluate_texts(result, success, failure)
}

#[test]
fn both_conditions_empty_is_successful() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "", ""),
        Ok(Verdict::Successful)
    );
}

#[test]
fn both_conditions_false_is_inconclusive() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "false", "false"),
        Ok(Verdict::Inconclusive)
    );
}

#[test]
fn both_conditions_true_failure_wins() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "true", "true"),
        Ok(Verdict::Failed)
    );
}

#[test]
fn success_true_failure_false_is_successful() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "true", "false"),
        Ok(Verdict::Successful)
    );
}

#[test]
fn success_only_false_is_failed_and_true_is_successful() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "false", ""),
        Ok(Verdict::Failed)
    );
    assert_eq!(
        verdict(&ResultValue::Bool(true), "result == true", ""),
        Ok(Verdict::Successful)
    );
}

#[test]
fn failure_only_false_is_successful_and_true_is_failed() {
    assert_eq!(
        verdict(&ResultValue::Bool(true), "", "false"),
        Ok(Verdict::Successful)
    );
    assert_eq!(
        verdict(&ResultValue::Bool(true), "", "result"),
        Ok(Verdict::Failed)
    );
}

#[test]
fn error_in_either_condition_is_an_error_naming_it() {
    let e = verdict(&ResultValue::Bool(true), "a == true", "true").unwrap_err();
    assert_eq!(e.kind, ConditionKind::Success);
    assert!(
        e.to_string()
            .starts_with("could not evaluate successCondition \"a == true\"")
    );
    let e = verdict(&ResultValue::Bool(true), "true", "invalidVar == true").unwrap_err();
    assert_eq!(e.kind, ConditionKind::Failure);
    assert!(
        e.to_string()
            .contains("could not evaluate failureCondition")
    );
    assert!(e.to_string().contains("invalidVar == true"));
}

#[test]
fn non_bool_output_is_an_error() {
    assert_eq!(
        eval_condition(&ResultValue::Bool(true), "1"),
        Err(ConditionError::NotBool { type_name: "int" })
    );
    assert_eq!(
        eval_condition(&ResultValue::Numbers(vec![0.5]), "result[0] * 2"),
        Err(ConditionError::NotBool {
            type_name: "float64"
        })
    );
}

#[test]
fn unknown_variable_is_an_error() {
    let e = eval_condition(&ResultValue::Bool(true), "invalidVariable").unwrap_err();
    assert!(matches!(e, ConditionError::Eval { .. }), "{e:?}");
}

#[test]
fn syntax_error_is_reported_by_check() {
    assert!(matches!(
        check("result <"),
        Err(ConditionError::Syntax { .. })
    ));
    assert_eq!(check("result[0] < 0.01"), Ok(()));
}

#[test]
fn indexing_an_empty_vector_is_an_error_with_argos_message() {
    let e = verdict(&ResultValue::Numbers(vec![]), "result[0] < 0.01", "").unwrap_err();
    assert!(
        e.to_string().contains("metric result is nil or empty"),
        "{e}"
    );
    assert!(e.to_string().contains("successCondition"));
}

#[test]
fn out_of_range_index_is_an_error_even_when_compared_with_nil() {
    // Go's expr fails on the index itself; the Rust port alone would say true.
    assert!(eval_condition(&ResultValue::Numbers(vec![]), "result[0] == nil").is_err());
    assert!(eval_condition(&ResultValue::Numbers(vec![1.0]), "result[1] == nil").is_err());
    assert!(eval_condition(&ResultValue::Numbers(vec![1.0]), "result[-2] == nil").is_err());
    assert_eq!(
        eval_condition(&ResultValue::Numbers(vec![1.0, 2.0]), "result[-1] == 2"),
        Ok(true)
    );
}

#[test]
fn len_guard_short_circuits_an_empty_vector() {
    // Guarded, the empty result is a plain false: a Failure, not an Error.
    assert_eq!(
        verdict(
            &ResultValue::Numbers(vec![]),
            "len(result) > 0 && result[0] < 0.01",
            ""
        ),
        Ok(Verdict::Failed)
    );
    assert_eq!(
        verdict(
            &ResultValue::Numbers(vec![]),
            "len(result) == 0 || result[0] < 0.01",
            ""
        ),
        Ok(Verdict::Successful)
    );
}

#[test]
fn scalar_cannot_be_indexed_and_vector_cannot_be_compared() {
    assert!(eval_condition(&ResultValue::Number(0.001), "result[0] < 0.01").is_err());
    assert!(eval_condition(&ResultValue::Numbers(vec![0.001]), "result < 0.01").is_err());
    assert_eq!(
        eval_condition(&ResultValue::Numbers(vec![0.001]), "result[0] < 0.01"),
        Ok(true)
    );
}

#[test]
fn nan_with_both_conditions_is_inconclusive() {
    assert_eq!(
        verdict(
            &ResultValue::Number(f64::NAN),
            "result >= 0.9",
            "result < 0.9"
        ),
        Ok(Verdict::Inconclusive)
    );
}

#[test]
fn nan_guarded_by_isnan_is_successful() {
    assert_eq!(
        verdict(
            &ResultValue::Number(f64::NAN),
            "result >= 0.9 || isNaN(result)",
            "result < 0.9"
        ),
        Ok(Verdict::Successful)
    );
}

#[test]
fn nan_with_success_condition_only_is_failed() {
    assert_eq!(
        verdict(&ResultValue::Number(f64::NAN), "result >= 0.9", ""),
        Ok(Verdict::Failed)
    );
}

#[test]
fn positive_inf_passes_a_lower_bound() {
    assert_eq!(
        verdict(&ResultValue::Number(f64::INFINITY), "result >= 0.9", ""),
        Ok(Verdict::Successful)
    );
}

#[test]
fn isinf_failure_condition_fails_on_inf() {
    assert_eq!(
        verdict(&ResultValue::Number(f64::INFINITY), "", "isInf(result)"),
        Ok(Verdict::Failed)
    );
    assert_eq!(
        verdict(&ResultValue::Number(f64::NEG_INFINITY), "", "isInf(result)"),
        Ok(Verdict::Failed)
    );
    assert_eq!(
        verdict(&ResultValue::Number(1.0), "", "isInf(result)"),
        Ok(Verdict::Successful)
    );
}

#[test]
fn isnan_of_a_list_is_an_error() {
    assert!(eval_condition(&ResultValue::Numbers(vec![f64::NAN]), "isNaN(result)").is_err());
    assert_eq!(
        eval_condition(&ResultValue::Numbers(vec![f64::NAN]), "isNaN(result[0])"),
        Ok(true)
    );
}

#[test]
fn vector_membership_and_length() {
    assert_eq!(
        verdict(
            &ResultValue::Numbers(vec![10.0, 11.0]),
            "10 in result",
            "len(result) != 2"
        ),
        Ok(Verdict::Successful)
    );
    assert_eq!(
        eval_condition(
            &ResultValue::Numbers(vec![11.0, 12.0]),
            "all(result, # > 10)"
        ),
        Ok(true)
    );
}

#[test]
fn as_int_truncates_numbers_and_parses_integer_strings() {
    assert_eq!(
        eval_condition(&ResultValue::Text("1".into()), "asInt(result) == 1"),
        Ok(true)
    );
    assert_eq!(
        eval_condition(&ResultValue::Number(1.123), "asInt(result) == 1"),
        Ok(true)
    );
    assert!(eval_condition(&ResultValue::Text("1.1".into()), "asInt(result) == 1").is_err());
    assert!(eval_condition(&ResultValue::Text("notint".into()), "asInt(result) == 1").is_err());
}

#[test]
fn as_float_parses_numeric_strings_only() {
    assert_eq!(
        eval_condition(&ResultValue::Text("1.1".into()), "asFloat(result) >= 1.1"),
        Ok(true)
    );
    assert_eq!(
        eval_condition(&ResultValue::Number(1.0), "asFloat(result) == 1"),
        Ok(true)
    );
    let e = eval_condition(
        &ResultValue::Text("NotANum".into()),
        "asFloat(result) == 1.1",
    )
    .unwrap_err();
    assert!(e.to_string().contains("NotANum"), "{e}");
}

#[test]
fn isnil_and_default_test_the_whole_result() {
    assert_eq!(eval_condition(&ResultValue::Nil, "isNil(result)"), Ok(true));
    // An empty vector is not nil (Argo's provider builds a non-nil empty slice).
    assert_eq!(
        eval_condition(&ResultValue::Numbers(vec![]), "isNil(result)"),
        Ok(false)
    );
    // The argument is ignored: whatever is passed, the whole result is tested.
    assert_eq!(eval_condition(&ResultValue::Nil, "isNil(1)"), Ok(true));
    assert_eq!(
        eval_condition(&ResultValue::Nil, "default(result, 5) == 5"),
        Ok(true)
    );
    assert_eq!(
        eval_condition(&ResultValue::Number(1.0), "default(7, 5) == 1"),
        Ok(true)
    );
}

#[test]
fn shadowing_result_does_not_fool_isnil() {
    assert_eq!(
        eval_condition(&ResultValue::Number(1.0), "let result = nil; isNil(result)"),
        Ok(false)
    );
}

#[test]
fn bool_check_tells_bool_from_non_bool_and_always_failing() {
    assert_eq!(bool_check("result[0] < 0.01"), Ok(BoolCheck::CanBeBool));
    assert_eq!(bool_check("result < 0.01"), Ok(BoolCheck::CanBeBool));
    assert_eq!(
        bool_check("result[0] * 2"),
        Ok(BoolCheck::NeverBool {
            type_name: "float64"
        })
    );
    match bool_check("isNa(result)") {
        Ok(BoolCheck::AlwaysFails { message }) => assert!(message.contains("isNa"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert!(bool_check("result <").is_err());
}

#[test]
fn values_print_as_prometheus_prints_them() {
    assert_eq!(ResultValue::Number(0.002).to_argo_string(), "0.002");
    assert_eq!(ResultValue::Number(f64::NAN).to_argo_string(), "NaN");
    assert_eq!(ResultValue::Number(f64::INFINITY).to_argo_string(), "+Inf");
    assert_eq!(
        ResultValue::Number(f64::NEG_INFINITY).to_argo_string(),
        "-Inf"
    );
    assert_eq!(
        ResultValue::Number(1e21).to_argo_string(),
        "1000000000000000000000"
    );
    assert_eq!(
        ResultValue::Numbers(vec![10.0, 11.5]).to_argo_string(),
        "[10,11.5]"
    );
    assert_eq!(ResultValue::Numbers(vec![]).to_argo_string(), "[]");
}

fn eval_err(result: &ResultValue, text: &str) -> Option<String> {
    match eval_condition(result, text) {
        Err(ConditionError::Eval { message }) => Some(message),
        _ => None,
    }
}

#[test]
fn mismatched_equality_is_a_compile_error_as_expr_checker_go_types_it() {
    // Argo compiles with expr.Env(env) (utils/evaluate/evaluate.go), and
    // expr's checker (checker/checker.go, Nature.ComparableTo) rejects `==`
    // and `!=` between a []float64 and an int; the Rust port said true.
    let vector = ResultValue::Numbers(vec![0.5]);
    assert_eq!(
        eval_err(&vector, "result != 0").as_deref(),
        Some("invalid operation: != (mismatched types []float64 and int)")
    );
    assert_eq!(
        eval_err(&vector, "result == 0.5").as_deref(),
        Some("invalid operation: == (mismatched types []float64 and float64)")
    );
    assert_eq!(
        eval_err(&ResultValue::Number(0.5), "result == \"0.5\"").as_deref(),
        Some("invalid operation: == (mismatched types float64 and string)")
    );
    // Comparable operands are fine: numbers with numbers, anything with nil,
    // an element of the vector, a let-bound or predicate-bound float.
    let fine = [
        (ResultValue::Number(0.5), "result != 0"),
        (vector.clone(), "result[0] != 0"),
        (vector.clone(), "result != nil"),
        (vector.clone(), "len(result) == 1"),
        (vector.clone(), "all(result, {# == 0.5})"),
        (vector.clone(), "let v = result[0]; v == 0.5"),
        (vector.clone(), "asInt(result[0]) == 0"),
        (vector.clone(), "default(result, 0) != 0"),
        (vector.clone(), "result == [0.5]"),
    ];
    for (r, text) in fine {
        assert!(eval_condition(&r, text).is_ok(), "{text} on {r:?}");
    }
    // The measurement is an Error with Argo's wording around the message.
    let e = verdict(&vector, "result != 0", "").unwrap_err();
    assert_eq!(
        e.to_string(),
        "could not evaluate successCondition \"result != 0\": invalid operation: != (mismatched types []float64 and int)"
    );
}

#[test]
fn unknown_names_fail_at_compile_even_when_short_circuited_checker_ident() {
    // expr's checker in strict mode (expr.Env) reports "unknown name X"
    // wherever the name stands; the Rust port only failed on reaching it.
    let empty = ResultValue::Numbers(Vec::new());
    assert_eq!(
        eval_err(
            &ResultValue::Numbers(vec![1.0]),
            "len(result) == 1 || foo > 1"
        )
        .as_deref(),
        Some("unknown name foo")
    );
    assert_eq!(
        eval_err(&ResultValue::Number(1.0), "isNan(result)").as_deref(),
        Some("unknown name isNan")
    );
    // Argo's own functions, expr's builtins, predicate variables and
    // let-bound names are known.
    for text in [
        "isNaN(asFloat(0))",
        "isNil(result) || len(result) == 0",
        "none(result, {# > 1})",
        "count(result, # > 1) == 0",
        "let x = 1; x > 0",
    ] {
        assert!(eval_condition(&empty, text).is_ok(), "{text}");
    }
}

#[test]
fn a_kept_compilation_serves_only_its_own_text() {
    // Compiled twice each, interleaved: the second compile of each text is
    // the kept one, and must still be that text's program and error.
    let one = ResultValue::Numbers(vec![1.5]);
    for _ in 0..2 {
        let below_one = Condition::compile("result[0] < 1").unwrap();
        let below_two = Condition::compile("result[0] < 2").unwrap();
        assert_eq!(below_one.text(), "result[0] < 1");
        assert_eq!(below_one.eval(&one), Ok(false));
        assert_eq!(below_two.eval(&one), Ok(true));
        // `result[5]` is rewritten to Argo's out-of-range error; kept too.
        assert!(
            Condition::compile("result[5] < 1")
                .unwrap()
                .eval(&one)
                .is_err()
        );
        assert!(matches!(
            Condition::compile("result[0] <"),
            Err(ConditionError::Syntax { .. })
        ));
    }
}

#[test]
fn past_the_kept_texts_conditions_still_compile() {
    for i in 0..crate::memo::KEPT + 10 {
        let text = format!("result[0] < {i}");
        let c = Condition::compile(&text).unwrap();
        assert_eq!(c.text(), text);
        assert_eq!(c.eval(&ResultValue::Numbers(vec![5.0])), Ok(i > 5));
    }
}

#[test]
fn indexing_a_scalar_result_says_result_is_a_number_not_a_list() {
    let e = eval_condition(&ResultValue::Number(0.5), "default(result[0], 0) < 1").unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("result is a number (0.5), not a list, so result[0] cannot index it"),
        "{message}"
    );
    assert!(!message.contains("cannot fetch"), "{message}");
    let e = eval_condition(&ResultValue::Bool(true), "result[0]").unwrap_err();
    assert!(
        e.to_string()
            .contains("result is a bool (true), not a list"),
        "{e}"
    );
}

#[test]
fn a_blank_condition_is_an_error_at_every_measurement_as_argo_compiles_it() {
    // Argo treats only "" as unset; "   " is compiled, and expr refuses it.
    for result in ResultShape::Any.probes() {
        assert!(evaluate_texts(&result, "   ", "").is_err(), "{result:?}");
    }
    assert_eq!(
        evaluate_texts(&ResultValue::Number(0.5), "", ""),
        Ok(Verdict::Successful)
    );
}

#[test]
fn bool_check_on_a_shape_sees_only_what_that_provider_returns() {
    // `result` alone is a bool only when the result is one, which a
    // Prometheus query never gives.
    assert_eq!(bool_check("result"), Ok(BoolCheck::CanBeBool));
    assert!(matches!(
        bool_check_on("result", &ResultShape::Prometheus.probes()),
        Ok(BoolCheck::NeverBool { .. })
    ));
    // A guarded index fails on every scalar, and holds on a vector.
    let guarded = "len(result) > 0 && result[0] < 1";
    assert!(matches!(
        bool_check_on(guarded, &ResultShape::Scalar.probes()),
        Ok(BoolCheck::AlwaysFails { .. })
    ));
    assert_eq!(
        bool_check_on(guarded, &ResultShape::Vector.probes()),
        Ok(BoolCheck::CanBeBool)
    );
}
