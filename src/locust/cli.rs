//! Locust's command line as its argument parser reads it: the options
//! Locust 2.46 defines (`-f`, `-u`, `-t`, `--headless`, …), the `LOCUST_*`
//! variables that stand in for options not on the command line, and the
//! parser's rules (unique prefixes of long options, `-uVALUE`,
//! `--opt=VALUE`, the last of a repeated option wins, a value may not look
//! like an option, `--` ends the options, other words are user class names).
//!
//! A word that is no option of Locust's, a bad value, or an ambiguous prefix
//! makes Locust print `locust: error: …` and exit 2 before any user starts.
//! A locustfile may add options of its own (`init_command_line_parser`);
//! the only built-in locustfile, `checkout_flow.py`, adds none, so every
//! other option is refused, as Locust refuses it.
//!
//! Neighbours: `job` finds the `locust` command in a container and reads
//! the values this file collects.

use std::collections::BTreeMap;

/// How an option consumes words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arity {
    /// A switch (`store_true`).
    Flag,
    /// One value.
    One,
    /// Any number of values (`nargs="*"`).
    Many,
    /// `-h`/`--help`, `-V`/`--version`: print and exit 0 when reached.
    PrintExit,
    /// A removed option: using it is an error with this message.
    Removed(&'static str),
}

/// One option: its spellings (in Locust's order, for messages), its key,
/// how it takes values, and the variable that stands in for it.
struct Opt {
    names: &'static [&'static str],
    key: &'static str,
    arity: Arity,
    env: Option<&'static str>,
}

const fn opt(
    names: &'static [&'static str],
    key: &'static str,
    arity: Arity,
    env: Option<&'static str>,
) -> Opt {
    Opt {
        names,
        key,
        arity,
        env,
    }
}

use Arity::{Flag, Many, One, PrintExit, Removed};

/// Locust's options (`locust/argument_parser.py`, `get_empty_argument_parser`
/// and `setup_parser_arguments`).
const OPTIONS: &[Opt] = &[
    opt(&["-h", "--help"], "help", PrintExit, None),
    opt(
        &["-f", "--locustfile"],
        "locustfile",
        One,
        Some("LOCUST_LOCUSTFILE"),
    ),
    opt(&["--config"], "config", One, None),
    opt(&["-H", "--host"], "host", One, Some("LOCUST_HOST")),
    opt(&["-u", "--users"], "users", One, Some("LOCUST_USERS")),
    opt(
        &["-r", "--spawn-rate"],
        "spawn-rate",
        One,
        Some("LOCUST_SPAWN_RATE"),
    ),
    opt(
        &["-t", "--run-time"],
        "run-time",
        One,
        Some("LOCUST_RUN_TIME"),
    ),
    opt(&["-l", "--list"], "list", Flag, None),
    opt(
        &["--config-users"],
        "config-users",
        Many,
        Some("LOCUST_CONFIG_USERS"),
    ),
    opt(&["--web-host"], "web-host", One, Some("LOCUST_WEB_HOST")),
    opt(
        &["--web-host-display-name"],
        "web-host-display-name",
        One,
        None,
    ),
    opt(
        &["--web-port", "-P"],
        "web-port",
        One,
        Some("LOCUST_WEB_PORT"),
    ),
    opt(&["--headless"], "headless", Flag, Some("LOCUST_HEADLESS")),
    opt(
        &["--autostart"],
        "autostart",
        Flag,
        Some("LOCUST_AUTOSTART"),
    ),
    opt(&["--autoquit"], "autoquit", One, Some("LOCUST_AUTOQUIT")),
    opt(&["--headful"], "headful", Flag, Some("LOCUST_HEADFUL")),
    opt(
        &["--web-auth"],
        "web-auth",
        Removed(
            "The --web-auth parameters has been replaced with --web-login. See https://docs.locust.io/en/stable/extending-locust.html#authentication for details",
        ),
        None,
    ),
    opt(&["--web-login"], "web-login", Flag, None),
    opt(&["--tls-cert"], "tls-cert", One, None),
    opt(&["--tls-key"], "tls-key", One, None),
    opt(&["--class-picker"], "class-picker", Flag, None),
    opt(&["--build-path"], "build-path", One, None),
    opt(
        &["--legacy-ui"],
        "legacy-ui",
        Removed("--legacy-ui is no longer supported, remove the parameter to continue"),
        None,
    ),
    opt(&["--master"], "master", Flag, Some("LOCUST_MODE_MASTER")),
    opt(&["--master-bind-host"], "master-bind-host", One, None),
    opt(&["--master-bind-port"], "master-bind-port", One, None),
    opt(&["--expect-workers"], "expect-workers", One, None),
    opt(
        &["--expect-workers-max-wait"],
        "expect-workers-max-wait",
        One,
        None,
    ),
    opt(&["--enable-rebalancing"], "enable-rebalancing", Flag, None),
    opt(
        &["--expect-slaves"],
        "expect-slaves",
        Removed("The --expect-slaves parameter has been renamed --expect-workers"),
        None,
    ),
    opt(&["--worker"], "worker", Flag, Some("LOCUST_MODE_WORKER")),
    opt(&["--processes"], "processes", One, Some("LOCUST_PROCESSES")),
    opt(
        &["--slave"],
        "slave",
        Removed("The --slave parameter has been renamed --worker"),
        None,
    ),
    opt(&["--master-host"], "master-host", One, None),
    opt(&["--master-port"], "master-port", One, None),
    opt(&["--web-base-path"], "web-base-path", One, None),
    opt(&["-T", "--tags"], "tags", Many, None),
    opt(&["-E", "--exclude-tags"], "exclude-tags", Many, None),
    opt(&["--csv"], "csv", One, Some("LOCUST_CSV")),
    opt(
        &["--csv-full-history"],
        "csv-full-history",
        Flag,
        Some("LOCUST_CSV_FULL_HISTORY"),
    ),
    opt(&["--print-stats"], "print-stats", Flag, None),
    opt(&["--only-summary"], "only-summary", Flag, None),
    opt(&["--reset-stats"], "reset-stats", Flag, None),
    opt(&["--html"], "html", One, None),
    opt(&["--json"], "json", Flag, None),
    opt(&["--json-file"], "json-file", One, None),
    opt(&["--skip-log-setup"], "skip-log-setup", Flag, None),
    opt(
        &["--loglevel", "-L"],
        "loglevel",
        One,
        Some("LOCUST_LOGLEVEL"),
    ),
    opt(&["--logfile"], "logfile", One, None),
    opt(&["--show-task-ratio"], "show-task-ratio", Flag, None),
    opt(
        &["--show-task-ratio-json"],
        "show-task-ratio-json",
        Flag,
        None,
    ),
    opt(&["--version", "-V"], "version", PrintExit, None),
    opt(
        &["--exit-code-on-error"],
        "exit-code-on-error",
        One,
        Some("LOCUST_EXIT_CODE_ON_ERROR"),
    ),
    opt(
        &["-s", "--stop-timeout"],
        "stop-timeout",
        One,
        Some("LOCUST_STOP_TIMEOUT"),
    ),
    opt(&["--equal-weights"], "equal-weights", Flag, None),
    opt(&["--profile"], "profile", One, None),
    opt(&["--otel"], "otel", Flag, None),
];

/// The spelling Locust's messages use for an option (`-t/--run-time`).
pub fn display_name(key: &str) -> String {
    OPTIONS
        .iter()
        .find(|o| o.key == key)
        .map_or_else(|| format!("--{key}"), |o| o.names.join("/"))
}

/// What the parser collected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Args {
    /// Each option's last value by key (`""` for a switch that is set).
    values: BTreeMap<&'static str, String>,
    /// The words that are not options: user class names.
    pub user_classes: Vec<String>,
}

impl Args {
    /// The last value of option `key`, if given.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether switch `key` is set.
    pub fn flag(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
}

/// How the parse ended when Locust does not go on to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Early {
    /// `-h`/`--help` or `-V`/`--version` was reached: Locust prints and exits 0.
    Printed(&'static str),
    /// The parser refused the command line: Locust prints
    /// `locust: error: <message>` and exits 2.
    Refused(String),
}

fn looks_like_option(word: &str) -> bool {
    // argparse: a word starting with '-' is an option unless it is a
    // negative number (no Locust option looks like one) or just "-".
    if !word.starts_with('-') || word == "-" {
        return false;
    }
    let rest = &word[1..];
    let negative_number = (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
        || rest.split_once('.').is_some_and(|(a, b)| {
            a.bytes().all(|c| c.is_ascii_digit())
                && !b.is_empty()
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    !negative_number
}

/// The option a word names and the value written into it (`--run-time=1m`,
/// `-t1m`), or why it names none.
fn find_option(word: &str) -> Result<Option<(&'static Opt, Option<String>)>, String> {
    if let Some(o) = OPTIONS.iter().find(|o| o.names.contains(&word)) {
        return Ok(Some((o, None)));
    }
    // `-t=45s` as `--run-time=45s`: argparse splits any option at its first
    // `=` when what precedes it is an option's exact name.
    if let Some((name, value)) = word.split_once('=')
        && let Some(o) = OPTIONS.iter().find(|o| o.names.contains(&name))
    {
        return Ok(Some((o, Some(value.to_string()))));
    }
    if word.starts_with("--") {
        let (name, value) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (word, None),
        };
        if let Some(o) = OPTIONS.iter().find(|o| o.names.contains(&name)) {
            return Ok(Some((o, value)));
        }
        // A unique prefix of a long option stands for it.
        let matches: Vec<(&Opt, &str)> = OPTIONS
            .iter()
            .flat_map(|o| o.names.iter().map(move |n| (o, *n)))
            .filter(|(_, n)| n.starts_with("--") && n.starts_with(name))
            .collect();
        return match matches.as_slice() {
            [] => Ok(None),
            [(o, _)] => Ok(Some((o, value))),
            many => Err(format!(
                "ambiguous option: {name} could match {}",
                many.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
            )),
        };
    }
    // `-uVALUE`: a short option with its value attached.
    let short = word.get(..2).unwrap_or(word);
    Ok(OPTIONS
        .iter()
        .find(|o| o.names.contains(&short))
        .map(|o| (o, Some(word[short.len()..].to_string()))))
}

/// Parses the words after `locust`, then fills options not on the command
/// line from their `LOCUST_*` variables in `env`, as Locust's parser does.
pub fn parse(words: &[String], env: &[(String, String)]) -> Result<Args, Early> {
    let mut args = Args::default();
    let mut unrecognized: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        i += 1;
        if word == "--" {
            args.user_classes.extend(words[i..].iter().cloned());
            break;
        }
        if !looks_like_option(word) {
            args.user_classes.push(word.to_string());
            continue;
        }
        let Some((o, attached)) = find_option(word).map_err(Early::Refused)? else {
            unrecognized.push(word);
            continue;
        };
        let name = o.names.join("/");
        match o.arity {
            PrintExit => return Err(Early::Printed(o.key)),
            Removed(message) => return Err(Early::Refused(format!("argument {name}: {message}"))),
            Flag => {
                if let Some(v) = attached {
                    return Err(Early::Refused(format!(
                        "argument {name}: ignored explicit argument '{v}'"
                    )));
                }
                args.values.insert(o.key, String::new());
            }
            One => {
                let value = match attached {
                    Some(v) => v,
                    None => match words.get(i) {
                        Some(next) if !looks_like_option(next) && next != "--" => {
                            i += 1;
                            next.clone()
                        }
                        _ => {
                            return Err(Early::Refused(format!(
                                "argument {name}: expected one argument"
                            )));
                        }
                    },
                };
                check_value(o.key, &name, &value)?;
                args.values.insert(o.key, value);
            }
            Many => {
                let mut values: Vec<String> = attached.into_iter().collect();
                while let Some(next) = words.get(i).filter(|w| !looks_like_option(w) && *w != "--")
                {
                    values.push(next.clone());
                    i += 1;
                }
                args.values.insert(o.key, values.join(" "));
            }
        }
    }
    if !unrecognized.is_empty() {
        return Err(Early::Refused(format!(
            "unrecognized arguments: {}",
            unrecognized.join(" ")
        )));
    }
    let given = |o: &Opt| args.values.contains_key(o.key);
    let mut from_env = Vec::new();
    for o in OPTIONS.iter().filter(|o| !given(o)) {
        let Some(var) = o.env else { continue };
        let Some((_, value)) = env.iter().find(|(k, _)| k == var) else {
            continue;
        };
        let name = o.names.join("/");
        match o.arity {
            Flag => match value.to_ascii_lowercase().as_str() {
                // configargparse's convert_item_to_command_line_arg
                // (on and off since 1.5.5; Locust 2.46 requires 1.7.1).
                "true" | "yes" | "on" | "1" => from_env.push((o.key, String::new())),
                "false" | "no" | "off" | "0" => {}
                _ => {
                    return Err(Early::Refused(format!(
                        "{var}: unexpected value '{value}' for {name}: expecting true, false, yes, no, on, off, 1 or 0"
                    )));
                }
            },
            _ => {
                check_value(o.key, &name, value)?;
                from_env.push((o.key, value.clone()));
            }
        }
    }
    args.values.extend(from_env);
    if args.user_classes.is_empty()
        && let Some((_, v)) = env.iter().find(|(k, _)| k == "LOCUST_USER_CLASSES")
    {
        args.user_classes = v.split_whitespace().map(str::to_string).collect();
    }
    Ok(args)
}

/// The locustfile Locust imports before it parses the rest of its command
/// line: `-f` as a first, lenient pass reads it (words it does not know are
/// skipped), or `LOCUST_LOCUSTFILE`.
pub fn locustfile(words: &[String], env: &[(String, String)]) -> Option<String> {
    let mut last = None;
    let mut i = 0;
    while i < words.len() && words[i] != "--" {
        let w = words[i].as_str();
        i += 1;
        let (name, attached) = match w.split_once('=') {
            Some((n, v)) if n.starts_with("--") || n == "-f" => (n, Some(v.to_string())),
            _ => (w, None),
        };
        let value = if name == "-f" || (name.len() > 2 && "--locustfile".starts_with(name)) {
            attached.or_else(|| {
                let next = words.get(i).filter(|n| !looks_like_option(n))?;
                i += 1;
                Some(next.clone())
            })
        } else {
            w.strip_prefix("-f")
                .filter(|v| !v.is_empty() && !w.starts_with("--"))
                .map(str::to_string)
        };
        if value.is_some() {
            last = value;
        }
    }
    last.or_else(|| {
        env.iter()
            .find(|(k, _)| k == "LOCUST_LOCUSTFILE")
            .map(|(_, v)| v.clone())
    })
}

/// The type check Locust's parser makes of an option's value.
fn check_value(key: &str, name: &str, value: &str) -> Result<(), Early> {
    let refuse = |problem: String| Err(Early::Refused(format!("argument {name}: {problem}")));
    let int = |v: &str| v.trim().parse::<i64>().is_ok();
    match key {
        "users"
        | "web-port"
        | "autoquit"
        | "master-bind-port"
        | "expect-workers-max-wait"
        | "processes"
        | "master-port"
        | "exit-code-on-error"
            if !int(value) =>
        {
            refuse(format!("invalid int value: '{value}'"))
        }
        "expect-workers" if !int(value) => refuse(format!("invalid int value: '{value}'")),
        "spawn-rate" => match value.trim().parse::<f64>() {
            // gt_zero(float): a number that is not > 0 is refused; NaN is not <= 0.
            Err(_) => refuse(format!("invalid checker value: '{value}'")),
            Ok(v) if v <= 0.0 => refuse("must be > 0".to_string()),
            Ok(_) => Ok(()),
        },
        "run-time" | "stop-timeout" if timespan_seconds(value).is_none() => refuse(
            "Invalid time span format. Valid formats: 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc."
                .to_string(),
        ),
        "loglevel"
            if !["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
                .contains(&value.to_ascii_uppercase().as_str()) =>
        {
            refuse(format!(
                "invalid choice: '{}' (choose from DEBUG, INFO, WARNING, ERROR, CRITICAL)",
                value.to_ascii_uppercase()
            ))
        }
        _ => Ok(()),
    }
}

/// Locust's `parse_timespan`, in seconds: whole seconds (`45`) or `h`, `m`,
/// `s` parts in that order, each a whole number (`45s`, `3m`, `1h20m`).
/// There is no `d` unit, and no space is allowed.
pub fn timespan_seconds(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().ok();
    }
    let mut total = 0u64;
    let mut rank = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (r, mult) = match c {
            'h' => (1, 3600),
            'm' => (2, 60),
            's' => (3, 1),
            _ => return None,
        };
        if digits.is_empty() || r <= rank {
            return None;
        }
        rank = r;
        total = total.checked_add(digits.parse::<u64>().ok()?.checked_mul(mult)?)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn refused(s: &str) -> String {
        match parse(&words(s), &[]) {
            Err(Early::Refused(m)) => m,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn an_option_locust_does_not_define_is_refused_as_unrecognized() {
        assert_eq!(
            refused("-f checkout_flow.py --headless --users-count 5 -t 1m"),
            "unrecognized arguments: --users-count"
        );
        assert_eq!(refused("--headless -x"), "unrecognized arguments: -x");
    }

    #[test]
    fn a_unique_prefix_of_a_long_option_stands_for_it_and_an_ambiguous_one_is_refused() {
        let a = parse(&words("--run 30s --headl --spawn 2"), &[]).unwrap();
        assert_eq!(a.value("run-time"), Some("30s"));
        assert!(a.flag("headless"));
        assert_eq!(a.value("spawn-rate"), Some("2"));
        assert!(refused("--c x").starts_with("ambiguous option: --c could match --config"));
        // --headful is hidden from the help, but it is an option.
        assert!(refused("--head").starts_with("ambiguous option: --head could match --headless"));
    }

    #[test]
    fn a_short_option_takes_its_value_after_an_equals_sign_as_argparse_splits_it() {
        let a = parse(&words("-t=45s -u=3"), &[]).unwrap();
        assert_eq!(
            (a.value("run-time"), a.value("users")),
            (Some("45s"), Some("3"))
        );
        assert_eq!(
            locustfile(&words("-f=checkout_flow.py --headless"), &[]),
            Some("checkout_flow.py".to_string())
        );
        // Attached without `=`, the value is the rest of the word.
        assert_eq!(parse(&words("-u5"), &[]).unwrap().value("users"), Some("5"));
    }

    #[test]
    fn bad_values_are_refused_with_locusts_wording() {
        assert_eq!(
            refused("-u many"),
            "argument -u/--users: invalid int value: 'many'"
        );
        assert_eq!(refused("-r 0"), "argument -r/--spawn-rate: must be > 0");
        assert!(refused("-t 365d").starts_with("argument -t/--run-time: Invalid time span format"));
        assert_eq!(
            refused("--headless -t"),
            "argument -t/--run-time: expected one argument"
        );
        assert_eq!(
            refused("-t --headless"),
            "argument -t/--run-time: expected one argument"
        );
    }

    #[test]
    fn variables_stand_in_only_for_options_not_given() {
        let env = vec![
            ("LOCUST_RUN_TIME".to_string(), "2m".to_string()),
            ("LOCUST_HEADLESS".to_string(), "true".to_string()),
            ("LOCUST_USERS".to_string(), "3".to_string()),
        ];
        let a = parse(&words("-u 9"), &env).unwrap();
        assert_eq!(
            (a.value("users"), a.value("run-time"), a.flag("headless")),
            (Some("9"), Some("2m"), true)
        );
        // A flag's variable takes configargparse's words, in any case.
        for (value, set) in [
            ("On", true),
            ("YES", true),
            ("1", true),
            ("off", false),
            ("0", false),
        ] {
            let env = vec![("LOCUST_HEADLESS".to_string(), value.to_string())];
            assert_eq!(parse(&[], &env).unwrap().flag("headless"), set, "{value}");
        }
        let env = vec![("LOCUST_HEADLESS".to_string(), "y".to_string())];
        assert!(matches!(parse(&[], &env), Err(Early::Refused(_))));
    }

    #[test]
    fn help_and_version_print_and_exit_when_reached() {
        assert_eq!(
            parse(&words("--bogus -h"), &[]),
            Err(Early::Printed("help"))
        );
        assert!(matches!(
            parse(&words("-u x -h"), &[]),
            Err(Early::Refused(_))
        ));
    }

    #[test]
    fn timespans_follow_locust_without_a_day_unit() {
        assert_eq!(timespan_seconds("45"), Some(45));
        assert_eq!(timespan_seconds("1h20m"), Some(4800));
        assert_eq!(timespan_seconds("0s"), Some(0));
        assert_eq!(timespan_seconds("365d"), None);
        assert_eq!(timespan_seconds(" 45s"), None);
        assert_eq!(timespan_seconds("20m1h"), None);
    }
}
