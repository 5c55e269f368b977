//! Hooks: a command run after an image changed (`on-change`) or failed (`on-failure`).
//!
//! - The command is a program and its arguments, run directly: no shell, unless the user
//!   writes `sh -c '…'`. `--on-change` on the command line is split into words at spaces
//!   (`'…'` and `"…"` group words; nothing is expanded).
//! - stdin: the item's JSON report. Environment: a short allowlist (`PATH`, `HOME`, `USER`,
//!   `LOGNAME`, `LANG`, `LANGUAGE`, `LC_*`, `TZ`, `TMPDIR`), the names the user passes
//!   (`pass-env` / `--hook-env`; names that carry `mirror`'s own credentials are refused:
//!   `MIRROR_*`, `REGISTRY_AUTH_FILE`, `DOCKER_CONFIG`), and `MIRROR_EVENT`, `MIRROR_OUTCOME`,
//!   `MIRROR_SOURCE`, `MIRROR_TARGET`, `MIRROR_DIGEST`. Everything else is cleared, so
//!   passwords and tokens in `mirror`'s environment never reach it.
//! - Its stdout goes to `mirror`'s stderr (stdout carries the report), its stderr too.
//! - A timeout (default 60 s) kills its whole process group (it runs in a group of its own).
//! - A failure (non-zero exit, a signal, the timeout, a program that does not start) is
//!   reported and counted; it changes the exit code only with `--hook-failure-exit`.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::app::flags::{CopyHookArgs, HookPolicyArgs};
use crate::app::printer::Printer;
use crate::app::sync::report::{Action, HookReport, ItemReport};

/// The default hook timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables a hook keeps from `mirror`'s environment.
const ALLOWED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR",
];

/// Whether a variable name may never be passed to a hook (it carries `mirror`'s credentials).
pub fn is_secret_name(name: &str) -> bool {
    name.starts_with("MIRROR_") || name == "REGISTRY_AUTH_FILE" || name == "DOCKER_CONFIG"
}

/// `hooks:` in a sync file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HooksConfig {
    /// Program and arguments run after an item was copied or repaired.
    pub on_change: Option<Argv>,
    /// Program and arguments run after an item failed.
    pub on_failure: Option<Argv>,
    /// Seconds before a hook is killed (default 60; 1..=86400).
    pub timeout: Option<TimeoutSecs>,
    /// Environment variables passed through.
    #[serde(default)]
    pub pass_env: Vec<EnvName>,
}

/// A hook timeout in seconds, 1..=86400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutSecs(pub u64);

impl<'de> Deserialize<'de> for TimeoutSecs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        if !(1..=86400).contains(&n) {
            return Err(serde::de::Error::custom(format!(
                "timeout must be 1..=86400 seconds, not {n}"
            )));
        }
        Ok(TimeoutSecs(n))
    }
}

/// A non-empty argument vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        if v.is_empty() || v[0].is_empty() {
            return Err(serde::de::Error::custom(
                "a hook is a list: [PROGRAM, ARG, …] (no shell; write [sh, -c, '…'] for one)",
            ));
        }
        Ok(Argv(v))
    }
}

/// An environment variable name that may be passed to hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvName(pub String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = String::deserialize(d)?;
        check_env_name(&n).map_err(serde::de::Error::custom)?;
        Ok(EnvName(n))
    }
}

/// Refuse names that carry `mirror`'s credentials.
pub fn check_env_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.contains('=') {
        return Err(format!("{n:?} is not an environment variable name"));
    }
    if is_secret_name(n) {
        return Err(format!(
            "{n} is not passed to hooks: MIRROR_* variables, REGISTRY_AUTH_FILE and DOCKER_CONFIG carry mirror's credentials"
        ));
    }
    Ok(())
}

/// Hooks ready to run.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// After a change.
    pub on_change: Option<Vec<String>>,
    /// After a failure.
    pub on_failure: Option<Vec<String>>,
    /// The timeout.
    pub timeout: Duration,
    /// Variables passed through.
    pub pass_env: Vec<String>,
}

impl Hooks {
    /// From a sync file's `hooks:` and the command line's policy.
    pub fn from_config(c: &HooksConfig, policy: &HookPolicyArgs) -> Hooks {
        Hooks {
            on_change: c.on_change.as_ref().map(|a| a.0.clone()),
            on_failure: c.on_failure.as_ref().map(|a| a.0.clone()),
            timeout: policy
                .hook_timeout
                .or(c.timeout.map(|t| t.0))
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            pass_env: c.pass_env.iter().map(|n| n.0.clone()).collect(),
        }
    }

    /// From `mirror copy`'s flags.
    pub fn from_copy_args(a: &CopyHookArgs) -> Result<Hooks, String> {
        for n in &a.hook_env {
            check_env_name(n).map_err(|e| format!("--hook-env {e}"))?;
        }
        let split = |s: &Option<String>, flag: &str| -> Result<Option<Vec<String>>, String> {
            s.as_deref()
                .map(|c| split_words(c).map_err(|e| format!("{flag} {c:?}: {e}")))
                .transpose()
        };
        Ok(Hooks {
            on_change: split(&a.on_change, "--on-change")?,
            on_failure: split(&a.on_failure, "--on-failure")?,
            timeout: a
                .policy
                .hook_timeout
                .map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            pass_env: a.hook_env.clone(),
        })
    }

    /// Whether any hook is configured.
    pub fn any(&self) -> bool {
        self.on_change.is_some() || self.on_failure.is_some()
    }
}

/// Split a command line into words: spaces separate, `'…'` and `"…"` group (a backslash
/// escapes the next character outside single quotes). Nothing is expanded.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().ok_or("a trailing backslash")?),
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \"".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or("a trailing backslash")?);
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("the command is empty".into());
    }
    Ok(out)
}

/// What one hook is told.
pub struct HookInput<'a> {
    /// `on-change` or `on-failure`.
    pub event: &'static str,
    /// The outcome (`copied`, `failed`, …).
    pub outcome: &'a str,
    /// Source and target as reported.
    pub source: &'a str,
    /// The target.
    pub target: &'a str,
    /// The source digest, when known.
    pub digest: Option<String>,
    /// The JSON given on stdin.
    pub stdin: Vec<u8>,
}

/// Run one hook to its end or its timeout.
pub async fn run_hook(argv: &[String], hooks: &Hooks, input: HookInput<'_>) -> HookReport {
    use tokio::io::AsyncWriteExt;
    let started = Instant::now();
    let mut report = HookReport {
        on: input.event.to_string(),
        program: argv[0].clone(),
        ok: false,
        exit_code: None,
        timed_out: false,
        error: None,
        duration_seconds: 0.0,
    };
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_clear();
    for (k, v) in std::env::vars_os() {
        let name = k.to_string_lossy();
        let keep = ALLOWED_ENV.contains(&name.as_ref())
            || name.starts_with("LC_")
            || hooks.pass_env.iter().any(|p| p == name.as_ref());
        if keep && !is_secret_name(&name) {
            cmd.env(&k, &v);
        }
    }
    cmd.env("MIRROR_EVENT", input.event)
        .env("MIRROR_OUTCOME", input.outcome)
        .env("MIRROR_SOURCE", input.source)
        .env("MIRROR_TARGET", input.target)
        .env("MIRROR_DIGEST", input.digest.unwrap_or_default())
        .stdin(std::process::Stdio::piped())
        .stdout(stderr_stdio())
        .stderr(std::process::Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("cannot start {}: {e}", argv[0]));
            return report;
        }
    };
    let pid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let data = input.stdin;
        // A hook that does not read stdin closes it: that is not an error.
        tokio::spawn(async move {
            let _ = stdin.write_all(&data).await;
        });
    }
    match tokio::time::timeout(hooks.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            report.exit_code = status.code();
            report.ok = status.success();
            if !status.success() {
                report.error = Some(match status.code() {
                    Some(c) => format!("{} exited with {c}", argv[0]),
                    None => format!("{} was killed by a signal", argv[0]),
                });
            }
        }
        Ok(Err(e)) => report.error = Some(format!("waiting for {}: {e}", argv[0])),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) on the hook's own process group (it leads it: process_group(0)).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.wait().await;
            report.timed_out = true;
            report.error = Some(format!(
                "{} did not finish within {}s: its process group was killed",
                argv[0],
                hooks.timeout.as_secs()
            ));
        }
    }
    report.duration_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    report
}

/// The hook's stdout: `mirror`'s stderr (stdout carries reports).
fn stderr_stdio() -> std::process::Stdio {
    use std::os::fd::AsFd;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => std::process::Stdio::from(fd),
        Err(_) => std::process::Stdio::null(),
    }
}

/// Run the hook a sync item calls for (if any) and add its report to the item.
pub async fn after_item(hooks: &Hooks, r: &mut ItemReport, printer: Printer) {
    let (event, argv) = match r.action {
        Action::Copied | Action::PartialRepair | Action::Pruned => ("on-change", &hooks.on_change),
        Action::Failed => ("on-failure", &hooks.on_failure),
        _ => return,
    };
    let Some(argv) = argv else { return };
    let stdin = serde_json::to_vec(&*r).unwrap_or_default();
    let h = run_hook(
        argv,
        hooks,
        HookInput {
            event,
            outcome: r.action.as_str(),
            source: &r.source,
            target: &r.target,
            // A pruned tag has no source digest: the hook gets the one deleted.
            digest: match r.action {
                Action::Pruned => r.target_digest.as_ref(),
                _ => r.source_digest.as_ref(),
            }
            .map(|d| d.to_string()),
            stdin,
        },
    )
    .await;
    if let Some(e) = &h.error {
        printer.warn(&format!("{event} hook for {}: {e}", r.source));
    }
    r.hooks.push(h);
}

/// `sync`'s exit code after hooks: with `--hook-failure-exit`, a failed hook turns 0 into 6.
pub fn sync_exit_code(code: u8, hook_failures: usize, policy: &HookPolicyArgs) -> u8 {
    if code == crate::exit::OK && hook_failures > 0 && policy.hook_failure_exit {
        crate::exit::PARTIAL_FAILURE
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_without_a_shell() {
        assert_eq!(
            split_words(r#"notify --to 'a b' "c \"d\"" e\ f $HOME"#).unwrap(),
            vec!["notify", "--to", "a b", "c \"d\"", "e f", "$HOME"]
        );
        assert!(split_words("  ").is_err());
        assert!(split_words("a 'b").is_err());
    }

    #[test]
    fn credential_names_are_refused() {
        for n in [
            "MIRROR_SRC_CREDS",
            "MIRROR_DEST_REGISTRY_TOKEN",
            "REGISTRY_AUTH_FILE",
            "DOCKER_CONFIG",
        ] {
            assert!(check_env_name(n).is_err(), "{n}");
        }
        assert!(check_env_name("SLACK_WEBHOOK").is_ok());
    }
}
