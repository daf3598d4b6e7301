//! Bad input never panics: the scenario and manifest loaders on mangled
//! copies of the shipped files (truncated, lines dropped, bytes replaced).

use canarysim::manifest::{self, SourceFile};
use canarysim::scenario;
use proptest::prelude::*;

/// `text` with one of three manglings chosen by `how`, at `at` and `len`.
fn mangle(text: &str, how: u8, at: usize, len: usize) -> String {
    let bytes = text.as_bytes();
    let at = at % bytes.len().max(1);
    let mangled: Vec<u8> = match how % 3 {
        0 => bytes[..at].to_vec(),
        1 => {
            let lines: Vec<&str> = text.lines().collect();
            let drop = at % lines.len().max(1);
            let keep: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < drop || *i > drop + len % 4)
                .map(|(_, l)| *l)
                .collect();
            keep.join("\n").into_bytes()
        }
        _ => {
            let mut b = bytes.to_vec();
            for i in at..(at + len % 8 + 1).min(b.len()) {
                b[i] = b"{}[]=\"'-:#0 \n"[(i + len) % 13];
            }
            b
        }
    };
    String::from_utf8_lossy(&mangled).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mangled_scenarios_load_or_fail_with_a_location(how in 0u8..3, at in 0usize..20_000, len in 0usize..64) {
        let text = super::fixtures::flagship_base();
        let bad = mangle(&text, how, at, len);
        if let Err(e) = scenario::load_str("bad.toml", &bad) {
            prop_assert!(e.0.location.line >= 1 && e.0.location.column >= 1);
            prop_assert!(!e.0.message.is_empty());
        }
    }

    #[test]
    fn mangled_manifests_load_or_fail_with_a_location(file in 0usize..4, how in 0u8..3, at in 0usize..6_000, len in 0usize..64) {
        let names = ["rollout.yaml", "canary-error-rate.yaml", "canary-memory.yaml", "locust-canary-validation.yaml"];
        let label = format!("scenarios/argo/seed/{}", names[file]);
        let text = std::fs::read_to_string(&label).unwrap();
        let bad = mangle(&text, how, at, len);
        if let Ok(set) = manifest::load(vec![SourceFile { label, text: bad }]) {
            // What loads converts without panicking too.
            let _ = set.policy(&canarysim::diag::Location::start_of("bad"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_conditions_compile_or_fail_without_panicking(text in "[ -~]{0,40}") {
        let _ = canarysim::condition::check(&text);
        let _ = canarysim::condition::bool_check(&text);
        let _ = canarysim::condition::evaluate_texts(
            &canarysim::condition::ResultValue::Numbers(vec![0.5, f64::NAN]),
            &text,
            "",
        );
    }

    #[test]
    fn conditions_built_from_argo_tokens_never_panic(tokens in proptest::collection::vec(
        prop_oneof![
            Just("result"), Just("result[0]"), Just("result[-1]"), Just("len(result)"), Just("isNaN(result[0])"),
            Just("asInt(result)"), Just("default(result, 0)"), Just("all(result, {# < 1})"), Just("&&"), Just("||"),
            Just("<"), Just(">="), Just("=="), Just("!"), Just("0.01"), Just("("), Just(")"), Just("?"), Just(":"),
            Just("\"x\""), Just("nil"), Just("in"), Just("[1, 2]"),
        ],
        0..12,
    )) {
        let text = tokens.join(" ");
        for r in [
            canarysim::condition::ResultValue::Numbers(vec![]),
            canarysim::condition::ResultValue::Numbers(vec![0.005]),
            canarysim::condition::ResultValue::Number(f64::INFINITY),
            canarysim::condition::ResultValue::Nil,
        ] {
            let _ = canarysim::condition::evaluate_texts(&r, &text, "");
        }
    }
}
