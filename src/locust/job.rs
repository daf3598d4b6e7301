//! From an Argo Job provider's container to a [`LocustRunSpec`]: the
//! interface the analysis `job` provider uses.
//!
//! In: the container's `env` (name, value) pairs and its `command` (plus
//! `args`), e.g. the seed's `/bin/sh -c "locust -f $LOCUST_FILE … --exit-code-on-error 1
//! \n python3 push_metrics.py …"`. Out: a [`LocustJob`] holding Locust's
//! parameters as Locust would read them (flags first, then `LOCUST_*`
//! variables, then Locust's defaults), the push step's labels, and whether
//! the container's exit status is Locust's at all.
//!
//! That last point matters: `sh -c` exits with the status of its *last*
//! command. In the seed's script `locust` is followed by `python3
//! push_metrics.py` with no `set -e`, so a Locust exit code of 1 is lost and
//! the Job succeeds whenever the push succeeds. [`LocustJob::job_exit_code`]
//! applies that rule; [`LocustReport::exit_code`](super::LocustReport) stays
//! Locust's own.

use super::spec::{LocustRunSpec, LocustSpecError, Target, UserClass, checkout_user};
use crate::sim::SimDuration;

/// The most users one Locust Job may run (the scenario's `traffic.users`
/// has the same bound).
pub const MAX_USERS: u32 = 100_000;

/// Locust's parameters for one Job, as read from its container.
#[derive(Debug, Clone, PartialEq)]
pub struct LocustJob {
    /// `-f/--locustfile` (default `locustfile.py`).
    pub locustfile: String,
    /// `-H/--host`, if given.
    pub host: Option<String>,
    /// `-u/--users` (default 1).
    pub users: u32,
    /// `-r/--spawn-rate` (default 1).
    pub spawn_rate: f64,
    /// `-t/--run-time` (none: run until stopped).
    pub run_time: Option<SimDuration>,
    /// `--stop-timeout` (default 0).
    pub stop_timeout: SimDuration,
    /// `--exit-code-on-error` (default 1).
    pub exit_code_on_error: i32,
    /// `--csv` prefix, if given.
    pub csv_prefix: Option<String>,
    /// Whether the container exits with Locust's exit code (Locust is the
    /// last command, runs under `set -e`, or is `exec`'d).
    pub propagates_exit_code: bool,
    /// Labels of the push step (`--labels="service=…,type=canary"`), in order.
    pub push_labels: Vec<(String, String)>,
    /// `spec.backoffLimit` of the Job running the container: how many failed
    /// pods are retried before the Job fails (Kubernetes' default 6).
    pub backoff_limit: u32,
}

/// Kubernetes' default `backoffLimit` of a Job.
pub const DEFAULT_BACKOFF_LIMIT: u32 = 6;

impl LocustJob {
    /// Reads the container. `command` is `command` followed by `args`; a
    /// shell (`sh`/`bash` with `-c`) is looked into for the `locust` line.
    pub fn from_container(
        env: &[(String, String)],
        command: &[String],
    ) -> Result<LocustJob, LocustSpecError> {
        let (script, direct) = match command {
            [shell, flag, script, ..]
                if is_shell(shell) && flag.starts_with('-') && flag.contains('c') =>
            {
                (script.clone(), false)
            }
            _ => (command.join(" "), true),
        };
        let lines = logical_lines(&script);
        let mut errexit = false;
        let mut pipefail = false;
        let mut locust_line: Option<usize> = None;
        let mut push_labels = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let tokens = tokenize(line, env);
            if tokens.first().is_some_and(|t| t == "set")
                && tokens
                    .windows(2)
                    .any(|w| w[0].starts_with('-') && w[0].ends_with('o') && w[1] == "pipefail")
            {
                pipefail = true;
            }
            match tokens.first().map(String::as_str) {
                Some("set") if tokens[1..].iter().any(|t| sets_errexit(t)) => errexit = true,
                Some("set") if tokens.windows(2).any(|w| w[0] == "-o" && w[1] == "errexit") => {
                    errexit = true
                }
                _ => {}
            }
            let first_cmd = tokens
                .iter()
                .position(|t| t != "exec")
                .map(|p| tokens[p].as_str());
            if locust_line.is_none() && first_cmd.is_some_and(is_locust) {
                locust_line = Some(i);
            }
            if let Some(v) = flag_value(&tokens, &["--labels"]) {
                push_labels = v
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
            }
        }
        let Some(li) = locust_line else {
            return Err(LocustSpecError::JobParameter {
                name: "command".to_string(),
                problem: "no `locust` command found in the container's command".to_string(),
            });
        };
        let line = &lines[li];
        let all = tokenize(line, env);
        let start = all.iter().position(|t| is_locust(t)).unwrap_or(0) + 1;
        let end = all[start..]
            .iter()
            .position(|t| matches!(t.as_str(), "&&" | "||" | ";" | "|" | ">" | ">>" | "&"))
            .map_or(all.len(), |p| start + p);
        let args = &all[start..end];
        // `locust … || true` hides Locust's status, and so does a pipe
        // (`locust … | tee log`) without `set -o pipefail`: a pipeline's
        // status is its last command's.
        let piped = all.get(end).is_some_and(|t| t == "|") && !pipefail;
        let swallowed = piped || all[end..].iter().any(|t| t == "||");
        let is_last = lines[li + 1..].iter().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#')
        });
        let execd = all.first().is_some_and(|t| t == "exec");
        let propagates = !swallowed && (direct || errexit || execd || is_last);

        let env_get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let param = |flags: &[&str], var: &str| flag_value(args, flags).or_else(|| env_get(var));
        let bad = |name: &str, problem: String| LocustSpecError::JobParameter {
            name: name.to_string(),
            problem,
        };
        let users = match param(&["-u", "--users"], "LOCUST_USERS") {
            Some(v) => v
                .parse::<u32>()
                .map_err(|_| bad("--users", format!("{v:?} is not a whole number of users")))?,
            None => 1,
        };
        if users > MAX_USERS {
            return Err(bad(
                "--users",
                format!("{users} users is more than {MAX_USERS}, the most canarysim simulates"),
            ));
        }
        let spawn_rate = match param(&["-r", "--spawn-rate"], "LOCUST_SPAWN_RATE") {
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| bad("--spawn-rate", format!("{v:?} is not a positive number")))?,
            None => 1.0,
        };
        let run_time = match param(&["-t", "--run-time"], "LOCUST_RUN_TIME") {
            Some(v) => Some(
                parse_timespan(&v)
                    .filter(|d| *d <= SimDuration::MAX_INPUT)
                    .ok_or_else(|| {
                        bad(
                            "--run-time",
                            format!(
                                "{v:?} is not a time span of at most 365d (20, 20s, 3m, 1h20m)"
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        let stop_timeout = match param(&["--stop-timeout"], "LOCUST_STOP_TIMEOUT") {
            Some(v) => parse_timespan(&v).ok_or_else(|| {
                bad(
                    "--stop-timeout",
                    format!("{v:?} is not a time span (20, 20s, 3m)"),
                )
            })?,
            None => SimDuration::ZERO,
        };
        let exit_code_on_error = match param(&["--exit-code-on-error"], "LOCUST_EXIT_CODE_ON_ERROR")
        {
            Some(v) => v
                .parse::<i32>()
                .map_err(|_| bad("--exit-code-on-error", format!("{v:?} is not an integer")))?,
            None => 1,
        };
        Ok(LocustJob {
            locustfile: param(&["-f", "--locustfile"], "LOCUST_LOCUSTFILE")
                .unwrap_or_else(|| "locustfile.py".to_string()),
            host: param(&["-H", "--host"], "LOCUST_HOST"),
            users,
            spawn_rate,
            run_time,
            stop_timeout,
            exit_code_on_error,
            csv_prefix: param(&["--csv"], "LOCUST_CSV"),
            propagates_exit_code: propagates,
            push_labels,
            backoff_limit: DEFAULT_BACKOFF_LIMIT,
        })
    }

    /// The run spec: the built-in locustfile's user classes against the
    /// service the host names. A Job needs a run time, or it never ends.
    pub fn to_spec(
        &self,
        canary_service: &str,
        stable_service: &str,
        namespace: &str,
    ) -> Result<LocustRunSpec, LocustSpecError> {
        let user_classes = builtin_locustfile(&self.locustfile)
            .ok_or_else(|| LocustSpecError::UnknownLocustfile(self.locustfile.clone()))?;
        if self.run_time.is_none() {
            return Err(LocustSpecError::JobParameter {
                name: "--run-time".to_string(),
                problem: "a Locust job needs a run time, or it never finishes (add -t 45s)"
                    .to_string(),
            });
        }
        // The built-in user classes name no host of their own, and Locust
        // refuses to start a user without one ("You must specify the base
        // host").
        let Some(host) = self.host.as_deref().filter(|h| !h.trim().is_empty()) else {
            return Err(LocustSpecError::JobParameter {
                name: "--host".to_string(),
                problem: "the locustfile's users name no host, so Locust needs --host (or LOCUST_HOST), e.g. --host=http://checkout-canary"
                    .to_string(),
            });
        };
        let target = target_of_host(host, canary_service, stable_service, namespace);
        let spec = LocustRunSpec {
            users: self.users,
            spawn_rate: self.spawn_rate,
            run_time: self.run_time,
            stop_timeout: self.stop_timeout,
            target,
            user_classes,
            exit_code_on_error: self.exit_code_on_error,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The container's exit code when Locust exits with `locust_exit`: that
    /// code if the script propagates it, else 0 (the commands after Locust,
    /// such as the push, are taken to succeed).
    pub fn job_exit_code(&self, locust_exit: i32) -> i32 {
        if self.propagates_exit_code {
            // A process's exit status is its exit code modulo 256
            // (`--exit-code-on-error 256` exits 0, -1 exits 255).
            locust_exit.rem_euclid(256)
        } else {
            0
        }
    }
}

/// Which service a `--host` URL names: its host name's first label compared
/// with the canary and stable service names (`http://checkout-canary.production.svc.cluster.local`
/// → the canary service). A name that cluster DNS looks up in the
/// service's own namespace (`checkout-canry`, `x.production`,
/// `x.production.svc.cluster.local`) and that names neither Service does
/// not resolve; anything else (a public name, another namespace's Service)
/// is taken to be the ingress.
pub fn target_of_host(
    host: &str,
    canary_service: &str,
    stable_service: &str,
    namespace: &str,
) -> Target {
    let rest = host.split_once("://").map_or(host, |(_, r)| r);
    let hostname = rest.split(['/', ':']).next().unwrap_or("");
    let labels: Vec<&str> = hostname.trim_end_matches('.').split('.').collect();
    let first = labels[0];
    if !canary_service.is_empty() && first == canary_service {
        return Target::CanaryService;
    }
    if !stable_service.is_empty() && first == stable_service {
        return Target::StableService;
    }
    // A pod's resolv.conf searches `<namespace>.svc.cluster.local` first,
    // so a bare name, `name.<namespace>` and `name.<namespace>.svc…` are
    // Services of this namespace: neither of the two is NXDOMAIN.
    let in_namespace = match labels.as_slice() {
        [""] => true,
        [_] => true,
        [_, ns] => *ns == namespace,
        [_, ns, "svc", ..] => *ns == namespace,
        _ => false,
    };
    if in_namespace {
        Target::Unresolved
    } else {
        Target::Ingress
    }
}

/// The user classes of a locustfile the simulator knows, by file name
/// (directories ignored): `checkout_flow.py` is the seed's [`checkout_user`].
pub fn builtin_locustfile(path: &str) -> Option<Vec<UserClass>> {
    match path.rsplit('/').next().unwrap_or(path) {
        "checkout_flow.py" => Some(vec![checkout_user()]),
        _ => None,
    }
}

/// Locust's `parse_timespan`: whole seconds (`45`) or `h`/`m`/`s` parts in
/// that order, each a whole number (`45s`, `3m`, `1h20m`).
pub fn parse_timespan(text: &str) -> Option<SimDuration> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().ok().map(SimDuration::from_secs);
    }
    let mut total = 0u64;
    let mut rank = 0;
    let mut digits = String::new();
    for c in t.chars() {
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
    Some(SimDuration::from_secs(total))
}

fn is_shell(s: &str) -> bool {
    matches!(s.rsplit('/').next(), Some("sh" | "bash" | "ash" | "dash"))
}

fn is_locust(s: &str) -> bool {
    s.rsplit('/').next() == Some("locust")
}

fn sets_errexit(t: &str) -> bool {
    t.starts_with('-') && !t.starts_with("--") && t.contains('e')
}

/// The script's lines with backslash-newline continuations joined.
fn logical_lines(script: &str) -> Vec<String> {
    let joined = script.replace("\\\r\n", " ").replace("\\\n", " ");
    joined.lines().map(str::to_string).collect()
}

/// Splits a shell line into words: quotes grouped, `$VAR` and `${VAR}`
/// expanded from `env` outside single quotes, a `#` word ending the line.
fn tokenize(line: &str, env: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, '$') => {
                let mut name = String::new();
                if chars.peek() == Some(&'{') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                        name.push(c);
                    }
                } else {
                    while let Some(&c) = chars.peek() {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            name.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
                if name.is_empty() {
                    cur.push('$');
                } else if let Some((_, v)) = env.iter().find(|(k, _)| *k == name) {
                    cur.push_str(v);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// The value of the first of `flags` in `tokens`: `--flag value`, `--flag=value` or `-uVALUE`.
fn flag_value(tokens: &[String], flags: &[&str]) -> Option<String> {
    // argparse keeps the last of a repeated option (`-t 30s -t 1m` is 1m).
    let mut last = None;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        for f in flags {
            if t == f {
                last = tokens.get(i + 1).cloned();
                i += 1;
                break;
            }
            if let Some(v) = t.strip_prefix(f).and_then(|r| r.strip_prefix('=')) {
                last = Some(v.to_string());
                break;
            }
            if f.len() == 2
                && !f.starts_with("--")
                && t.len() > 2
                && t.starts_with(f)
                && !t.starts_with("--")
            {
                last = Some(t[2..].to_string());
                break;
            }
        }
        i += 1;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's `locust-canary-validation` container, verbatim.
    fn seed_container() -> (Vec<(String, String)>, Vec<String>) {
        let env = [
            (
                "TARGET_HOST",
                "http://checkout-canary.production.svc.cluster.local",
            ),
            ("USERS", "20"),
            ("SPAWN_RATE", "5"),
            ("RUN_TIME", "45s"),
            ("LOCUST_FILE", "checkout_flow.py"),
            (
                "PUSHGATEWAY_URL",
                "http://prometheus-pushgateway.monitoring:9091",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let script = "locust -f $LOCUST_FILE \\\n  --headless \\\n  --host=$TARGET_HOST \\\n  --users=$USERS \\\n  --spawn-rate=$SPAWN_RATE \\\n  --run-time=$RUN_TIME \\\n  --csv=/tmp/results \\\n  --exit-code-on-error 1\n# Push results to Prometheus\npython3 push_metrics.py \\\n  --csv=/tmp/results \\\n  --pushgateway=$PUSHGATEWAY_URL \\\n  --labels=\"service=checkout-canary,type=canary\"\n";
        let command = vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()];
        (env, command)
    }

    #[test]
    fn the_seed_job_reads_as_its_template_says() {
        let (env, command) = seed_container();
        let job = LocustJob::from_container(&env, &command).unwrap();
        assert_eq!(job.users, 20);
        assert_eq!(job.spawn_rate, 5.0);
        assert_eq!(job.run_time, Some(SimDuration::from_secs(45)));
        assert_eq!(job.exit_code_on_error, 1);
        assert_eq!(job.locustfile, "checkout_flow.py");
        assert_eq!(job.csv_prefix.as_deref(), Some("/tmp/results"));
        assert_eq!(
            job.push_labels,
            [
                ("service".to_string(), "checkout-canary".to_string()),
                ("type".to_string(), "canary".to_string())
            ]
        );
        let spec = job
            .to_spec("checkout-canary", "checkout-stable", "production")
            .unwrap();
        assert_eq!(spec, LocustRunSpec::seed_canary_validation());
    }

    fn shell(script: &str) -> LocustJob {
        let command: Vec<String> = ["/bin/sh", "-c", script]
            .iter()
            .map(|s| s.to_string())
            .collect();
        LocustJob::from_container(&[], &command).unwrap()
    }

    #[test]
    fn a_pipeline_s_status_is_its_last_command_s_unless_pipefail() {
        let run = "locust -f checkout_flow.py --headless --host=http://a -t 1m | tee /tmp/log";
        assert!(!shell(run).propagates_exit_code);
        assert!(!shell(&format!("set -e\n{run}")).propagates_exit_code);
        assert!(shell(&format!("set -o pipefail\n{run}")).propagates_exit_code);
        assert!(shell(&format!("set -eo pipefail\n{run}\necho done")).propagates_exit_code);
        assert!(shell(&run.replace(" | tee /tmp/log", "")).propagates_exit_code);
    }

    #[test]
    fn a_repeated_option_takes_its_last_value_as_argparse_does() {
        let job =
            shell("locust -f checkout_flow.py --host=http://a -t 30s --run-time=1m -u 3 -u 7");
        assert_eq!(job.run_time, Some(SimDuration::from_secs(60)));
        assert_eq!(job.users, 7);
    }

    #[test]
    fn the_job_sees_the_exit_code_modulo_256() {
        let job = shell("locust -f checkout_flow.py --host=http://a -t 1m");
        assert_eq!(job.job_exit_code(256), 0);
        assert_eq!(job.job_exit_code(257), 1);
        assert_eq!(job.job_exit_code(-1), 255);
        assert_eq!(job.job_exit_code(1), 1);
    }

    #[test]
    fn a_shell_that_runs_more_after_locust_loses_its_exit_code() {
        let (env, command) = seed_container();
        let job = LocustJob::from_container(&env, &command).unwrap();
        assert!(!job.propagates_exit_code);
        assert_eq!(job.job_exit_code(1), 0);
        // With `set -e` the script stops at Locust's failure.
        let mut fixed = command.clone();
        fixed[2] = format!("set -e\n{}", command[2]);
        let job = LocustJob::from_container(&env, &fixed).unwrap();
        assert!(job.propagates_exit_code);
        assert_eq!(job.job_exit_code(1), 1);
        // Locust alone as the container command propagates.
        let direct: Vec<String> = ["locust", "-f", "checkout_flow.py", "-u", "5", "-t", "1m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let job = LocustJob::from_container(&[], &direct).unwrap();
        assert!(job.propagates_exit_code);
        assert_eq!(
            (job.users, job.run_time),
            (5, Some(SimDuration::from_mins(1)))
        );
    }

    #[test]
    fn timespans_follow_locust() {
        assert_eq!(parse_timespan("45"), Some(SimDuration::from_secs(45)));
        assert_eq!(parse_timespan("45s"), Some(SimDuration::from_secs(45)));
        assert_eq!(parse_timespan("1h20m"), Some(SimDuration::from_secs(4800)));
        assert_eq!(parse_timespan("20m1h"), None);
        assert_eq!(parse_timespan("1.5s"), None);
        assert_eq!(parse_timespan(""), None);
    }

    #[test]
    fn hosts_name_their_service() {
        let t = |h| target_of_host(h, "checkout-canary", "checkout-stable", "production");
        assert_eq!(
            t("http://checkout-canary.production.svc.cluster.local"),
            Target::CanaryService
        );
        assert_eq!(t("http://checkout-stable:8080/"), Target::StableService);
        assert_eq!(t("https://shop.example.com"), Target::Ingress);
        assert_eq!(
            t("http://ingress-nginx-controller.ingress-nginx.svc.cluster.local"),
            Target::Ingress
        );
    }

    #[test]
    fn a_service_name_of_its_own_namespace_that_names_neither_service_does_not_resolve() {
        // Cluster DNS answers NXDOMAIN: the typo is not the ingress.
        let t = |h| target_of_host(h, "checkout-canary", "checkout-stable", "production");
        for h in [
            "http://checkout-canry",
            "http://checkout-canry.production",
            "http://checkout-canry.production.svc.cluster.local:8080/",
            "http://",
            "",
        ] {
            assert_eq!(t(h), Target::Unresolved, "{h}");
        }
    }

    #[test]
    fn bad_parameters_name_the_flag() {
        let cmd: Vec<String> = ["locust", "-u", "many"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = LocustJob::from_container(&[], &cmd).unwrap_err();
        assert!(err.to_string().contains("--users"), "{err}");
        let cmd: Vec<String> = ["locust", "-f", "other.py", "-t", "1m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let job = LocustJob::from_container(&[], &cmd).unwrap();
        assert!(matches!(
            job.to_spec("a", "b", "production"),
            Err(LocustSpecError::UnknownLocustfile(_))
        ));
    }
}
