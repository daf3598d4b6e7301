//! From an Argo Job provider's container to a [`LocustRunSpec`]: the
//! interface the analysis `job` provider uses.
//!
//! In: the container's `env` (name, value) pairs and its `command` (plus
//! `args`), e.g. the seed's `/bin/sh -c "locust -f $LOCUST_FILE … --exit-code-on-error 1
//! \n python3 push_metrics.py …"`. Out: a [`LocustJob`] holding Locust's
//! parameters as Locust would read them (`cli`: flags first, then `LOCUST_*`
//! variables, then Locust's defaults), how the process starts ([`Start`]:
//! runs the test, serves its web UI and waits, or exits at once), the push
//! step's labels, and what the container's exit status is.
//!
//! That last point matters: `sh -c` exits with the status of its *last*
//! command. In the seed's script `locust` is followed by `python3
//! push_metrics.py` with no `set -e`, so a Locust exit code of 1 is lost and
//! the Job succeeds whenever the push succeeds; `locust …; exit 0` masks it
//! the same way, and a quote left open makes `sh` refuse the line (exit 2).
//! [`LocustJob::job_exit_code`] applies these rules;
//! [`LocustReport::exit_code`](super::LocustReport) stays Locust's own.

use super::cli::{self, Early};
use super::spec::{LocustRunSpec, LocustSpecError, Target, UserClass, checkout_user};
use crate::sim::SimDuration;

/// The most users one Locust Job may run (the scenario's `traffic.users`
/// has the same bound).
pub const MAX_USERS: u32 = 100_000;

/// How the Locust process of a Job's pod starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `--headless` (or `--autostart --autoquit 0`): runs the test at once
    /// and exits when it ends.
    Headless,
    /// `--autostart` without `--autoquit`: runs the test at once, and when
    /// it ends stops its users but keeps serving its web UI; it never exits.
    AutostartStays,
    /// Neither `--headless` nor `--autostart`: serves its web UI and waits
    /// for someone to press start. No request is sent and it never exits
    /// (`-t` only counts from a start).
    WebUi,
    /// Exits before any user starts, with `code` (2 for a command line
    /// Locust's parser refuses), printing `message`.
    Exits {
        /// Locust's exit code (or the shell's, when `by_shell`).
        code: i32,
        /// What it prints.
        message: String,
        /// The shell refused the script before Locust ran at all.
        by_shell: bool,
    },
}

/// What a pod of the Job does, once its locustfile is known.
#[derive(Debug, Clone, PartialEq)]
pub enum Launch {
    /// Runs the test (see [`LocustJob::start`] for what happens after it).
    Run(LocustRunSpec),
    /// Exits at once with this Locust exit code, sending nothing.
    Exits {
        /// Locust's exit code.
        code: i32,
        /// Why.
        message: String,
    },
    /// Waits forever, sending nothing (the web UI with nobody to press start).
    Waits,
}

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
    /// `-t/--run-time` (none: run until stopped; Locust reads 0 as none).
    pub run_time: Option<SimDuration>,
    /// `--stop-timeout` (default 0).
    pub stop_timeout: SimDuration,
    /// `--exit-code-on-error` (default 1).
    pub exit_code_on_error: i32,
    /// `--csv` prefix, if given.
    pub csv_prefix: Option<String>,
    /// User class names given on the command line (or `LOCUST_USER_CLASSES`).
    pub user_classes: Vec<String>,
    /// `--show-task-ratio`/`--show-task-ratio-json`: print and exit 0.
    pub show_task_ratio: bool,
    /// How the process starts.
    pub start: Start,
    /// Whether a failing Locust's exit code reaches the container (Locust
    /// is the last command, runs under `set -e`, or is `exec`'d).
    pub propagates_exit_code: bool,
    /// The container's exit code when Locust's does not reach it: 0 when
    /// later commands are taken to succeed, N after a trailing `exit N`, 2
    /// when `sh` refuses a later line.
    pub later_exit_code: i32,
    /// The container's exit code when Locust fails and its `||` runs
    /// `exit N` (`locust … || exit 1`, `|| { echo …; exit 1; }`).
    pub or_exit: Option<i32>,
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
    /// shell (`sh`/`bash` with `-c`) is looked into for the `locust` command.
    ///
    /// `Err` only for what canarysim cannot simulate (no `locust` command,
    /// a background run, more users or a longer span than it models); a
    /// command line Locust itself refuses is [`Start::Exits`].
    pub fn from_container(
        env: &[(String, String)],
        command: &[String],
    ) -> Result<LocustJob, LocustSpecError> {
        let bad = |name: &str, problem: String| LocustSpecError::JobParameter {
            name: name.to_string(),
            problem,
        };
        // `sh -c SCRIPT`, with the shell's own options before or after
        // `-c` (`sh -ec`, `sh -e -c`, `bash -o pipefail -c`): `-e` is
        // errexit from the start, `-o NAME` sets an option.
        let mut shell = ShellOptions::default();
        let script = match command {
            [sh, rest @ ..] if is_shell(sh) => {
                let i = shell.read(rest);
                match rest.get(i) {
                    Some(script) if shell.c => Some(parse_script(script, env)),
                    _ => None,
                }
            }
            _ => None,
        };
        let mut job = LocustJob::defaults();
        let words: Vec<String>;
        match &script {
            None => {
                let start = command.iter().position(|t| is_locust(t));
                let Some(start) = start else {
                    return Err(no_locust());
                };
                words = command[start + 1..].to_vec();
            }
            Some(script) => {
                // Only the commands before a line `sh` refuses ever run.
                let runnable = script.error.as_ref().map_or(script.commands.len(), |e| e.0);
                let found = script.commands[..runnable].iter().position(|c| {
                    c.words
                        .iter()
                        .find(|w| *w != "exec")
                        .is_some_and(|w| is_locust(w))
                });
                let Some(li) = found else {
                    return match &script.error {
                        Some((_, message)) => {
                            job.start = Start::Exits {
                                code: 2,
                                message: message.clone(),
                                by_shell: true,
                            };
                            Ok(job)
                        }
                        None => Err(no_locust()),
                    };
                };
                let cmds = &script.commands;
                // An `exit` that runs whatever came before (not after `&&`
                // or `||`) ends the script before Locust starts.
                let unconditional = |i: usize| {
                    i == 0 || !matches!(cmds[i - 1].then, Sep::And | Sep::Or | Sep::Pipe)
                };
                if let Some(i) = (0..li).find(|&i| {
                    cmds[i].words.first().is_some_and(|w| w == "exit") && unconditional(i)
                }) {
                    // A bare `exit` (or `exit $?`) keeps the last status,
                    // taken as a success as every other command's is.
                    let code = exit_status(&cmds[i].words).unwrap_or(0);
                    job.start = Start::Exits {
                        code,
                        message: format!("the script exits {code} before it runs locust"),
                        by_shell: true,
                    };
                    return Ok(job);
                }
                // `set` in order: `-e`/`-o errexit` on, `+e`/`+o errexit` off.
                let mut opts = shell;
                for c in &cmds[..li] {
                    if c.words.first().is_some_and(|t| t == "set") {
                        opts.read(&c.words[1..]);
                    }
                }
                let (errexit, pipefail) = (opts.errexit, opts.pipefail);
                for c in cmds {
                    if let Some(v) = flag_value(&c.words, &["--labels"]) {
                        job.push_labels = v
                            .split(',')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                            .collect();
                    }
                }
                let lc = &cmds[li];
                let at = lc.words.iter().position(|t| is_locust(t)).unwrap_or(0);
                words = lc.words[at + 1..].to_vec();
                if lc.then == Sep::Background {
                    return Err(bad(
                        "command",
                        "a Locust run in the background (`&`) is not modelled; run it in the foreground"
                            .to_string(),
                    ));
                }
                let execd = lc.words.first().is_some_and(|t| t == "exec");
                // The end of Locust's and-or list: `locust … || true` and a
                // pipe without pipefail hide its status; after `&&` a
                // failure ends the list with Locust's status.
                let mut end = li;
                let mut swallowed = false;
                while matches!(cmds[end].then, Sep::And | Sep::Or | Sep::Pipe) {
                    match cmds[end].then {
                        Sep::Or if end == li => {
                            // `|| exit N` (or a `{ …; exit N; }` group) exits
                            // with N when Locust fails; anything else after
                            // `||` succeeds in Locust's place.
                            let (exit, last) = or_branch(cmds, li + 1, runnable);
                            match exit {
                                Some(None) => {}
                                Some(Some(n)) => job.or_exit = Some(n),
                                None => swallowed = true,
                            }
                            end = last;
                            continue;
                        }
                        Sep::Pipe if end == li && !pipefail => swallowed = true,
                        _ => {}
                    }
                    end += 1;
                    if end >= runnable {
                        break;
                    }
                }
                let and_list = lc.then == Sep::And;
                // What runs after the list decides the status, unless a
                // failure stops the script first (`set -e`, outside `&&`).
                let mut later: Option<i32> = None;
                let mut first = true;
                for c in cmds.get(end + 1..runnable).unwrap_or(&[]) {
                    if c.words.first().is_some_and(|w| w == "exit") {
                        later = Some(match exit_status(&c.words) {
                            None if first => -1,
                            None => 0,
                            Some(n) => n,
                        });
                        break;
                    }
                    first = false;
                    later = Some(0);
                }
                if later.is_none() && script.error.is_some() {
                    later = Some(2);
                }
                job.later_exit_code = 0;
                job.propagates_exit_code = if execd {
                    true
                } else if swallowed {
                    false
                } else {
                    match later {
                        None | Some(-1) => true,
                        Some(code) => {
                            job.later_exit_code = code;
                            errexit && !and_list
                        }
                    }
                };
            }
        }
        if script.is_none() {
            job.propagates_exit_code = true;
        }
        job.read_args(&words, env)?;
        Ok(job)
    }

    fn defaults() -> LocustJob {
        LocustJob {
            locustfile: "locustfile.py".to_string(),
            host: None,
            users: 1,
            spawn_rate: 1.0,
            run_time: None,
            stop_timeout: SimDuration::ZERO,
            exit_code_on_error: 1,
            csv_prefix: None,
            user_classes: Vec::new(),
            show_task_ratio: false,
            start: Start::Headless,
            propagates_exit_code: true,
            later_exit_code: 0,
            or_exit: None,
            push_labels: Vec::new(),
            backoff_limit: DEFAULT_BACKOFF_LIMIT,
        }
    }

    /// Reads Locust's command line (the words after `locust`) as Locust's
    /// `main` does, in its order: the parser (exit 2), then its own checks.
    fn read_args(
        &mut self,
        words: &[String],
        env: &[(String, String)],
    ) -> Result<(), LocustSpecError> {
        let exits = |code: i32, message: String| Start::Exits {
            code,
            message,
            by_shell: false,
        };
        if let Some(f) = cli::locustfile(words, env) {
            self.locustfile = f;
        }
        let a = match cli::parse(words, env) {
            Ok(a) => a,
            Err(Early::Printed(what)) => {
                self.start = exits(0, format!("locust prints its {what} and exits 0"));
                return Ok(());
            }
            Err(Early::Refused(message)) => {
                self.start = exits(2, format!("locust: error: {message}"));
                return Ok(());
            }
        };
        if let Some(f) = a.value("locustfile") {
            self.locustfile = f.to_string();
        }
        self.host = a.value("host").map(str::to_string);
        self.csv_prefix = a.value("csv").map(str::to_string);
        self.user_classes = a.user_classes.clone();
        self.show_task_ratio = a.flag("show-task-ratio") || a.flag("show-task-ratio-json");
        if a.flag("csv-full-history") && self.csv_prefix.is_none() {
            self.start = exits(
                2,
                "locust: error: '--csv-full-history' requires '--csv'.".into(),
            );
            return Ok(());
        }
        let autostart = a.flag("autostart");
        let autoquit = a.value("autoquit").map_or(-1, |v| {
            v.trim()
                .parse::<i64>()
                .expect("invariant: the parser checked the int")
        });
        if autoquit != -1 && !autostart {
            self.start = exits(
                1,
                "--autoquit is only meaningful in combination with --autostart".into(),
            );
            return Ok(());
        }
        if a.flag("list") {
            self.start = exits(0, "locust lists its User classes and exits 0".into());
            return Ok(());
        }
        let bad = |name: &str, problem: String| LocustSpecError::JobParameter {
            name: name.to_string(),
            problem,
        };
        if a.flag("master") || a.flag("worker") || a.value("processes").is_some() {
            return Err(bad(
                "--master/--worker/--processes",
                "distributed Locust is not modelled; run one process with --headless".into(),
            ));
        }
        let headless = a.flag("headless") && !a.flag("headful");
        self.start = if headless || (autostart && autoquit == 0) {
            Start::Headless
        } else if autostart && autoquit == -1 {
            Start::AutostartStays
        } else if autostart {
            return Err(bad(
                "--autoquit",
                format!("--autostart with --autoquit {autoquit} is not modelled; use --headless"),
            ));
        } else {
            Start::WebUi
        };
        if let Some(v) = a.value("users") {
            let n = v
                .trim()
                .parse::<i64>()
                .expect("invariant: the parser checked the int");
            self.users = u32::try_from(n).map_err(|_| {
                bad(
                    "--users",
                    format!("{v:?}: a negative number of users is not modelled"),
                )
            })?;
        }
        if self.users > MAX_USERS {
            return Err(bad(
                "--users",
                format!(
                    "{} users is more than {MAX_USERS}, the most canarysim simulates",
                    self.users
                ),
            ));
        }
        if let Some(v) = a.value("spawn-rate") {
            self.spawn_rate = v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite())
                .ok_or_else(|| bad("--spawn-rate", format!("{v:?} is not a finite rate")))?;
        }
        let span = |name: &str, v: &str| -> Result<SimDuration, LocustSpecError> {
            let secs = cli::timespan_seconds(v).expect("invariant: the parser checked the span");
            let d = SimDuration::from_secs(secs);
            if d > SimDuration::MAX_INPUT {
                return Err(bad(
                    name,
                    format!(
                        "{v:?} is longer than 365 days (8760h), the longest span canarysim simulates"
                    ),
                ));
            }
            Ok(d)
        };
        // `if options.run_time:`: Locust reads 0 as no limit.
        self.run_time = match a.value("run-time") {
            Some(v) => Some(span("--run-time", v)?).filter(|d| *d > SimDuration::ZERO),
            None => None,
        };
        if let Some(v) = a.value("stop-timeout") {
            self.stop_timeout = span("--stop-timeout", v)?;
        }
        if let Some(v) = a.value("exit-code-on-error") {
            let n = v
                .trim()
                .parse::<i64>()
                .expect("invariant: the parser checked the int");
            // A process's exit status is its code modulo 256.
            self.exit_code_on_error = n.rem_euclid(256) as i32;
        }
        Ok(())
    }

    /// What a pod of this Job does: the run spec (the built-in locustfile's
    /// user classes against the service the host names), or an exit before
    /// any user starts, or a wait that never ends. `Err` is what canarysim
    /// cannot simulate (a locustfile it does not have, no host).
    pub fn launch(
        &self,
        canary_service: &str,
        stable_service: &str,
        namespace: &str,
    ) -> Result<Launch, LocustSpecError> {
        if let Start::Exits {
            code,
            message,
            by_shell: true,
        } = &self.start
        {
            return Ok(Launch::Exits {
                code: *code,
                message: message.clone(),
            });
        }
        let classes = builtin_locustfile(&self.locustfile)
            .ok_or_else(|| LocustSpecError::UnknownLocustfile(self.locustfile.clone()))?;
        match &self.start {
            Start::Exits { code, message, .. } => {
                return Ok(Launch::Exits {
                    code: *code,
                    message: message.clone(),
                });
            }
            Start::WebUi => return Ok(Launch::Waits),
            Start::Headless | Start::AutostartStays => {}
        }
        let missing: Vec<&str> = self
            .user_classes
            .iter()
            .filter(|n| !classes.iter().any(|c| c.name == **n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Ok(Launch::Exits {
                code: 1,
                message: format!("Unknown User(s): {}", missing.join(", ")),
            });
        }
        if self.show_task_ratio {
            return Ok(Launch::Exits {
                code: 0,
                message: "locust prints its task ratio and exits 0".to_string(),
            });
        }
        self.to_spec(canary_service, stable_service, namespace)
            .map(Launch::Run)
    }

    /// The run spec: the built-in locustfile's user classes against the
    /// service the host names.
    pub fn to_spec(
        &self,
        canary_service: &str,
        stable_service: &str,
        namespace: &str,
    ) -> Result<LocustRunSpec, LocustSpecError> {
        let user_classes = builtin_locustfile(&self.locustfile)
            .ok_or_else(|| LocustSpecError::UnknownLocustfile(self.locustfile.clone()))?;
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
        if !(self.spawn_rate.is_finite() && self.spawn_rate > 0.0) {
            return Err(LocustSpecError::SpawnRate(self.spawn_rate));
        }
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

    /// The container's exit code when Locust exits with `locust_exit`:
    /// Locust's if it is not 0 and reaches the container, else the code the
    /// rest of the script leaves ([`Self::later_exit_code`]).
    pub fn job_exit_code(&self, locust_exit: i32) -> i32 {
        // A process's exit status is its exit code modulo 256
        // (`--exit-code-on-error 256` exits 0, -1 exits 255).
        let code = locust_exit.rem_euclid(256);
        if let Some(n) = self.or_exit
            && code != 0
        {
            return n;
        }
        if self.propagates_exit_code && code != 0 {
            code
        } else {
            self.later_exit_code
        }
    }
}

fn no_locust() -> LocustSpecError {
    LocustSpecError::JobParameter {
        name: "command".to_string(),
        problem: "no `locust` command found in the container's command".to_string(),
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

/// Locust's `parse_timespan` (see [`cli::timespan_seconds`]).
pub fn parse_timespan(text: &str) -> Option<SimDuration> {
    cli::timespan_seconds(text).map(SimDuration::from_secs)
}

fn is_shell(s: &str) -> bool {
    matches!(s.rsplit('/').next(), Some("sh" | "bash" | "ash" | "dash"))
}

/// The status an `exit` command (`words`, `exit` first) ends the script
/// with: its number modulo 256 (2, as sh refuses, when it is not one), or
/// `None` for a bare `exit` or `exit $?`, which keep the last status.
fn exit_status(words: &[String]) -> Option<i32> {
    match words.get(1).map(String::as_str) {
        None | Some("$?") => None,
        Some(n) => Some(n.parse::<i64>().map_or(2, |n| n.rem_euclid(256) as i32)),
    }
}

/// The command `||` runs after Locust, from index `first`: whether it exits
/// (`Some(Some(n))` with `n`, `Some(None)` with Locust's own status: a bare
/// `exit` or `exit $?`; `None` when it does not exit), and the index of its
/// last command (a `{ … }` group's closing one).
fn or_branch(cmds: &[Cmd], first: usize, runnable: usize) -> (Option<Option<i32>>, usize) {
    let Some(c) = cmds.get(first).filter(|_| first < runnable) else {
        return (None, first.min(cmds.len().saturating_sub(1)));
    };
    if c.words.first().is_some_and(|w| w == "exit") {
        return (Some(exit_status(&c.words)), first);
    }
    if c.words.first().is_some_and(|w| w == "{") {
        // The group runs to the command that starts with `}`.
        let close = (first..runnable)
            .find(|&i| cmds[i].words.first().is_some_and(|w| w == "}"))
            .unwrap_or(runnable.saturating_sub(1));
        let exit = (first..=close).find_map(|i| {
            let words = &cmds[i].words;
            let words = if i == first { &words[1..] } else { &words[..] };
            words
                .first()
                .is_some_and(|w| w == "exit")
                .then(|| exit_status(words))
        });
        return (exit, close);
    }
    (None, first)
}

fn is_locust(s: &str) -> bool {
    s.rsplit('/').next() == Some("locust")
}

/// The shell options canarysim reads, as `sh` takes them before its
/// script and `set` in it.
#[derive(Debug, Clone, Copy, Default)]
struct ShellOptions {
    errexit: bool,
    pipefail: bool,
    /// `-c`: the script is the next word.
    c: bool,
}

impl ShellOptions {
    /// Reads options from the start of `words` in order: `-e` turns
    /// errexit on and `+e` off, `-o NAME`/`+o NAME` (also clustered,
    /// `-eo pipefail`) errexit or pipefail; stops at the first word that is
    /// no option and returns how many words it read.
    fn read(&mut self, words: &[String]) -> usize {
        let mut i = 0;
        while let Some(w) = words.get(i) {
            let on = w.starts_with('-');
            if !(on || w.starts_with('+')) || w.starts_with("--") || w.len() < 2 {
                break;
            }
            i += 1;
            let letters = &w[1..];
            if letters.contains('e') {
                self.errexit = on;
            }
            self.c |= on && letters.contains('c');
            if letters.ends_with('o') {
                match words.get(i).map(String::as_str) {
                    Some("errexit") => self.errexit = on,
                    Some("pipefail") => self.pipefail = on,
                    _ => {}
                }
                i += 1;
            }
        }
        i
    }
}

/// What separates a simple command from the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// A newline, `;` or the end of the script.
    End,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `|`
    Pipe,
    /// `&`
    Background,
}

/// A simple command: its words, and what follows it.
#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    words: Vec<String>,
    then: Sep,
}

/// A `sh -c` script as the shell reads it.
#[derive(Debug, Clone, PartialEq)]
struct Script {
    commands: Vec<Cmd>,
    /// A line the shell refuses: the index of its first command (the
    /// commands before it run, it and those after do not) and the message.
    error: Option<(usize, String)>,
}

/// Splits a script into simple commands: quotes grouped, backslash escapes
/// and line continuations applied, `$VAR`/`${VAR}` expanded from `env`
/// outside single quotes, `#` comments dropped, redirections skipped. The
/// shell reads a line, then runs it, so a quote still open at the end makes
/// it refuse the line the quote starts on (`sh` exits 2).
fn parse_script(script: &str, env: &[(String, String)]) -> Script {
    let mut commands: Vec<Cmd> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut skip_next_word = false;
    let mut quote: Option<char> = None;
    let mut line_start = 0usize;
    let mut quote_line_start = 0usize;
    let mut chars = script.chars().peekable();
    let end_cmd = |words: &mut Vec<String>, then: Sep, commands: &mut Vec<Cmd>| {
        if !words.is_empty() || then != Sep::End {
            commands.push(Cmd {
                words: std::mem::take(words),
                then,
            });
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('\''), c) => cur.push(c),
            (Some('"'), '\\') => match chars.peek() {
                Some(&n @ ('"' | '\\' | '$' | '`')) => {
                    cur.push(n);
                    chars.next();
                }
                Some('\n') => {
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            (None, '\\') => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    cur.push(n);
                    in_word = true;
                }
            },
            (None, '\'' | '"') => {
                quote = Some(c);
                quote_line_start = line_start;
                in_word = true;
            }
            (None, '#') if !in_word => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            (None, '\n') => {
                end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words);
                end_cmd(&mut words, Sep::End, &mut commands);
                line_start = commands.len();
            }
            (None, ';') => {
                end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words);
                end_cmd(&mut words, Sep::End, &mut commands);
            }
            (None, '&' | '|') => {
                end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words);
                let then = match (c, chars.peek()) {
                    ('&', Some('&')) => {
                        chars.next();
                        Sep::And
                    }
                    ('|', Some('|')) => {
                        chars.next();
                        Sep::Or
                    }
                    ('&', _) => Sep::Background,
                    _ => Sep::Pipe,
                };
                end_cmd(&mut words, then, &mut commands);
            }
            (None, '>' | '<') => {
                // `2>&1`, `> log`: the fd number and the target are not words.
                if in_word && cur.bytes().all(|b| b.is_ascii_digit()) {
                    cur.clear();
                    in_word = false;
                }
                end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words);
                if chars.peek() == Some(&'&') || chars.peek() == Some(&c) {
                    chars.next();
                }
                skip_next_word = true;
            }
            (None, c) if c.is_whitespace() => {
                end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words)
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
                // An unquoted expansion to nothing is no word at all
                // (`locust $EXTRA …` with EXTRA unset); a quoted one is "".
                in_word |= quote.is_some() || !cur.is_empty();
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        let what = if q == '"' { "\"" } else { "'" };
        return Script {
            commands,
            error: Some((
                quote_line_start,
                format!("sh: syntax error: unterminated quoted string ({what} never closed)"),
            )),
        };
    }
    end_word(&mut cur, &mut in_word, &mut skip_next_word, &mut words);
    end_cmd(&mut words, Sep::End, &mut commands);
    Script {
        commands,
        error: None,
    }
}

/// Ends the word being read, unless it is a redirection's target.
fn end_word(cur: &mut String, in_word: &mut bool, skip: &mut bool, words: &mut Vec<String>) {
    if *in_word {
        let w = std::mem::take(cur);
        if *skip {
            *skip = false;
        } else {
            words.push(w);
        }
        *in_word = false;
    }
}

/// The value of the last of `flags` in `tokens`: `--flag value` or `--flag=value`.
fn flag_value(tokens: &[String], flags: &[&str]) -> Option<String> {
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

    /// The container's exit code, as `dash -c` gives it, when Locust exits
    /// with `locust` (each case checked with a stand-in `locust` there).
    fn container(command: &[&str], locust: i32) -> i32 {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        let job = LocustJob::from_container(&[], &command).unwrap();
        match job.start {
            Start::Exits { code, .. } => job.job_exit_code(code),
            _ => job.job_exit_code(locust),
        }
    }

    #[test]
    fn an_unquoted_expansion_to_nothing_is_no_argument_as_sh_drops_it() {
        let run = "locust -f checkout_flow.py $EXTRA --headless --host=http://a -t 1m";
        let job = shell(run);
        assert!(job.user_classes.is_empty(), "{:?}", job.user_classes);
        assert!(matches!(job.start, Start::Headless), "{:?}", job.start);
        // Quoted, it is an empty argument: a User class named "".
        let job = shell(&run.replace("$EXTRA", "\"$EXTRA\""));
        assert_eq!(job.user_classes, vec![String::new()]);
    }

    #[test]
    fn or_exit_n_fails_the_container_with_n_when_locust_fails() {
        let run = "locust -f checkout_flow.py --headless --host=http://a -t 1m";
        let sh = |script: &str, locust| container(&["/bin/sh", "-c", script], locust);
        assert_eq!(sh(&format!("{run} || exit 1"), 1), 1);
        assert_eq!(sh(&format!("{run} || exit 1"), 0), 0);
        assert_eq!(sh(&format!("{run} || exit 7\necho done"), 3), 7);
        assert_eq!(
            sh(&format!("{run} || {{ echo failed; exit 4; }}\necho ok"), 3),
            4
        );
        assert_eq!(
            sh(&format!("{run} || {{ echo failed; exit 4; }}\necho ok"), 0),
            0
        );
        assert_eq!(sh(&format!("{run} || exit"), 3), 3);
        assert_eq!(sh(&format!("{run} || exit $?"), 3), 3);
        // Anything else after `||` succeeds in Locust's place.
        assert_eq!(sh(&format!("{run} || true"), 3), 0);
        assert_eq!(sh(&format!("{run} || echo failed"), 3), 0);
    }

    #[test]
    fn the_shells_own_e_option_is_errexit_and_set_plus_e_turns_it_off() {
        let run = "locust -f checkout_flow.py --headless --host=http://a -t 1m";
        let then = format!("{run}\necho done");
        assert_eq!(container(&["/bin/sh", "-ec", &then], 1), 1);
        assert_eq!(container(&["/bin/sh", "-e", "-c", &then], 1), 1);
        assert_eq!(container(&["bash", "-o", "errexit", "-c", &then], 1), 1);
        let piped = format!("{run} | tee /tmp/log");
        assert_eq!(container(&["bash", "-eo", "pipefail", "-c", &piped], 1), 1);
        assert_eq!(container(&["bash", "-c", &piped], 1), 0);
        assert_eq!(container(&["/bin/sh", "-c", &then], 1), 0);
        let sh = |script: &str| container(&["/bin/sh", "-c", script], 1);
        assert_eq!(sh(&format!("set -e\nset +e\n{then}")), 0);
        assert_eq!(sh(&format!("set -e\nset +o errexit\n{then}")), 0);
        assert_eq!(sh(&format!("set +e\nset -e\n{then}")), 1);
    }

    #[test]
    fn an_exit_before_locust_ends_the_script_and_locust_never_runs() {
        let run = "locust -f checkout_flow.py --headless --host=http://a -t 1m";
        let sh = |script: &str| container(&["/bin/sh", "-c", script], 0);
        assert_eq!(sh(&format!("exit 3\n{run}")), 3);
        assert_eq!(sh(&format!("echo hi; exit\n{run}")), 0);
        // A conditional exit may not run: Locust is read as usual.
        let job = shell(&format!("test -f /x || exit 3\n{run}"));
        assert!(matches!(job.start, Start::Headless), "{:?}", job.start);
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
    fn bad_parameters_make_locust_exit_2_and_canarysim_limits_name_the_flag() {
        let cmd: Vec<String> = ["locust", "--headless", "-u", "many"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let job = LocustJob::from_container(&[], &cmd).unwrap();
        assert!(
            matches!(&job.start, Start::Exits { code: 2, message, .. }
                if message == "locust: error: argument -u/--users: invalid int value: 'many'"),
            "{:?}",
            job.start
        );
        let cmd: Vec<String> = ["locust", "-f", "other.py", "-t", "1m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let job = LocustJob::from_container(&[], &cmd).unwrap();
        assert!(matches!(
            job.launch("a", "b", "production"),
            Err(LocustSpecError::UnknownLocustfile(_))
        ));
    }

    fn exits(job: &LocustJob) -> (i32, String) {
        match job.launch("checkout-canary", "checkout-stable", "production") {
            Ok(Launch::Exits { code, message }) => (code, message),
            other => panic!("{other:?}"),
        }
    }

    const RUN: &str = "locust -f checkout_flow.py --headless --host=http://checkout-canary -t 30s";

    #[test]
    fn an_option_locust_does_not_define_makes_it_exit_2_as_the_locustfile_adds_none() {
        let job = shell(&format!("{RUN} --bogus-flag"));
        assert_eq!(
            exits(&job),
            (
                2,
                "locust: error: unrecognized arguments: --bogus-flag".to_string()
            )
        );
        assert_eq!(job.job_exit_code(2), 2);
        // A unique prefix is Locust's own option, not an unknown one.
        let job = shell(&RUN.replace("-t 30s", "--run 30s"));
        assert_eq!(job.run_time, Some(SimDuration::from_secs(30)));
        assert!(matches!(
            job.launch("checkout-canary", "b", "production"),
            Ok(Launch::Run(_))
        ));
    }

    #[test]
    fn an_unknown_user_class_makes_locust_exit_1() {
        assert_eq!(
            exits(&shell(&format!("{RUN} AdminUser"))).0,
            1,
            "Unknown User(s)"
        );
        let job = shell(&format!("{RUN} CheckoutUser"));
        assert!(matches!(
            job.launch("checkout-canary", "b", "production"),
            Ok(Launch::Run(_))
        ));
    }

    #[test]
    fn without_headless_or_autostart_locust_serves_its_web_ui_and_waits() {
        let job = shell(&RUN.replace(" --headless", ""));
        assert_eq!(job.start, Start::WebUi);
        assert_eq!(
            job.launch("checkout-canary", "b", "production"),
            Ok(Launch::Waits)
        );
        // --autostart runs the test but, without --autoquit, never exits.
        let job = shell(&RUN.replace("--headless", "--autostart"));
        assert_eq!(job.start, Start::AutostartStays);
        let job = shell(&RUN.replace("--headless", "--autostart --autoquit 0"));
        assert_eq!(job.start, Start::Headless);
        // --autoquit without --autostart: Locust exits 1.
        assert_eq!(exits(&shell(&format!("{RUN} --autoquit 5"))).0, 1);
        // LOCUST_HEADLESS stands in for the flag; --headful overrides it.
        let env = [("LOCUST_HEADLESS".to_string(), "true".to_string())];
        let cmd: Vec<String> = ["locust", "-f", "checkout_flow.py", "-t", "1m"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let job = LocustJob::from_container(&env, &cmd).unwrap();
        assert_eq!(job.start, Start::Headless);
        let mut headful = cmd.clone();
        headful.push("--headful".to_string());
        let job = LocustJob::from_container(&env, &headful).unwrap();
        assert_eq!(job.start, Start::WebUi);
    }

    #[test]
    fn a_zero_run_time_is_no_limit_as_locust_reads_it() {
        // main.py: `if options.run_time:` skips the limit for 0.
        for t in ["0", "0s", "0h0m"] {
            let job = shell(&RUN.replace("30s", t));
            assert_eq!(job.run_time, None, "{t}");
        }
    }

    #[test]
    fn a_run_time_in_days_is_refused_by_locust_which_has_no_day_unit() {
        let job = shell(&RUN.replace("30s", "365d"));
        let (code, message) = exits(&job);
        assert_eq!(code, 2);
        assert!(
            message.contains("argument -t/--run-time: Invalid time span format"),
            "{message}"
        );
        // The same span in hours is Locust's; canarysim simulates it.
        let job = shell(&RUN.replace("30s", "8760h"));
        assert_eq!(job.run_time, Some(SimDuration::from_secs(365 * 86_400)));
        // Longer is canarysim's own limit, and says so.
        let err = LocustJob::from_container(
            &[],
            &["sh", "-c", &RUN.replace("30s", "8761h")].map(str::to_string),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("longer than 365 days"), "{err}");
    }

    #[test]
    fn an_unterminated_quote_before_locust_makes_sh_exit_2_and_locust_never_runs() {
        let job = shell(&format!("echo \"starting\n{RUN}\n"));
        assert_eq!(
            exits(&job).0,
            2,
            "the quote swallows the locust line; sh refuses the script"
        );
        let job = shell(&format!("{RUN} --csv='/tmp/results\n"));
        assert_eq!(exits(&job).0, 2, "the locust line itself is refused");
    }

    #[test]
    fn an_unterminated_quote_after_locust_fails_the_container_with_2() {
        let job = shell(&format!("{RUN}\npython3 push.py --labels=\"type=canary\n"));
        assert_eq!(job.job_exit_code(0), 2);
        assert_eq!(job.job_exit_code(1), 2);
        // Under `set -e` a failing Locust stops the script first.
        let job = shell(&format!(
            "set -e\n{RUN}\npython3 push.py --labels=\"type=canary\n"
        ));
        assert_eq!((job.job_exit_code(0), job.job_exit_code(1)), (2, 1));
    }

    #[test]
    fn a_command_after_a_semicolon_sets_the_status_exit_0_masks_locust() {
        let job = shell(&format!("{RUN}; exit 0"));
        assert_eq!(job.run_time, Some(SimDuration::from_secs(30)));
        assert!(!job.propagates_exit_code);
        assert_eq!(job.job_exit_code(1), 0);
        let job = shell(&format!("{RUN}; exit 3"));
        assert_eq!((job.job_exit_code(0), job.job_exit_code(1)), (3, 3));
        for keep in ["exit", "exit $?"] {
            let job = shell(&format!("{RUN}; {keep}"));
            assert_eq!(job.job_exit_code(1), 1, "{keep}");
        }
        let job = shell(&format!("set -e; {RUN}; exit 0"));
        assert_eq!((job.job_exit_code(0), job.job_exit_code(1)), (0, 1));
        // `&&` ends the list with Locust's failure.
        let job = shell(&format!("{RUN} && echo ok"));
        assert_eq!(job.job_exit_code(1), 1);
    }

    #[test]
    fn redirections_and_quotes_are_not_locust_arguments() {
        let job = shell(&format!("{RUN} > /tmp/log 2>&1"));
        assert!(matches!(
            job.launch("checkout-canary", "b", "production"),
            Ok(Launch::Run(_))
        ));
        let job = shell(&RUN.replace("-t 30s", "-t '30s'"));
        assert_eq!(job.run_time, Some(SimDuration::from_secs(30)));
    }
}
