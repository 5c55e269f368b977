//! Flag groups and their settings: one definition per flag, the same range and format in every
//! command, and the engine types they compile to.

use crate::model::reference::names_tag_or_digest;
use clap::{CommandFactory, Parser};

use super::*;
use crate::app::cli::{Cli, Command};
use crate::auth::Credentials;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("mirror").chain(args.iter().copied()))
}

#[test]
fn explicit_tags() {
    assert!(names_tag_or_digest("127.0.0.1:5000/a:v1"));
    assert!(!names_tag_or_digest("127.0.0.1:5000/a"));
    assert!(names_tag_or_digest("a@sha256:x"));
    assert!(!names_tag_or_digest("docker://localhost:5000/a/b"));
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

/// Every flag of the shared groups has one help text, value name, environment variable and
/// default in every command that has it: it is defined once. (Command-specific flags with the
/// same name, such as `--dry-run` of copy and sync, are not group flags.)
#[test]
fn shared_flags_are_identical_in_every_command() {
    use clap::Args;
    let mut groups = clap::Command::new("groups");
    groups = SelectionArgs::augment_args(groups);
    groups = TransferArgs::augment_args(groups);
    groups = WanArgs::augment_args(groups);
    groups = crate::app::flags::SourceAccessArgs::augment_args(groups);
    groups = crate::app::flags::TargetAccessArgs::augment_args(groups);
    groups = SharedAccessArgs::augment_args(groups);
    let group_flags: std::collections::HashSet<String> = groups
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let cmd = Cli::command();
    let mut seen: std::collections::HashMap<String, (String, String)> = Default::default();
    let mut shared = 0;
    for sub in cmd.get_subcommands() {
        for a in sub.get_arguments().filter(|a| !a.is_global_set()) {
            let Some(long) = a.get_long() else { continue };
            // `inspect --referrers` lists referrers; it is not the selection flag.
            if !group_flags.contains(long) || (sub.get_name(), long) == ("inspect", "referrers") {
                continue;
            }
            let sig = format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                a.get_help().map(|h| h.to_string()),
                a.get_value_names(),
                a.get_env(),
                a.get_default_values(),
                a.get_help_heading(),
                a.get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect::<Vec<_>>(),
            );
            match seen.get(long) {
                Some((first, s)) => {
                    shared += 1;
                    assert_eq!(
                        s,
                        &sig,
                        "--{long} differs between {first} and {}",
                        sub.get_name()
                    );
                }
                None => {
                    seen.insert(long.to_string(), (sub.get_name().to_string(), sig));
                }
            }
        }
    }
    assert!(shared > 20, "only {shared} shared flags found");
}

#[test]
fn jobs_has_the_same_range_in_copy_sync_and_verify() {
    let commands: [&[&str]; 3] = [
        &["copy", "a/b:v1", "oci:/tmp/x"],
        &["sync", "-f", "m.yaml"],
        &["verify", "a/b:v1", "oci:/tmp/x"],
    ];
    for base in commands {
        let with = |n: &str| {
            let mut v = base.to_vec();
            v.extend(["--jobs", n]);
            parse(&v)
        };
        for ok in ["1", "64", "256"] {
            let cli = with(ok).unwrap_or_else(|e| panic!("{base:?} --jobs {ok}: {e}"));
            let jobs = match cli.command {
                Command::Copy(a) => a.transfer.jobs,
                Command::Sync(a) => a.transfer.jobs,
                Command::Verify(a) => a.transfer.jobs,
                _ => unreachable!(),
            };
            assert_eq!(jobs.to_string(), ok);
        }
        for bad in ["0", "257"] {
            assert!(with(bad).is_err(), "{base:?} --jobs {bad} accepted");
        }
    }
}

/// `USER[:PASSWORD]` everywhere: copy, verify and inspect parse both forms and resolve a
/// password given inline the same way.
#[test]
fn creds_format_is_the_same_in_every_command() {
    let cancel = CancelToken::new();
    let src = "127.0.0.1:5000/a/b:v1";
    for cmd in ["copy", "verify", "inspect"] {
        let mut args = vec![cmd, src];
        if cmd != "inspect" {
            args.push("127.0.0.1:5001/c/d");
        }
        // Both forms parse.
        for creds in ["user", "user:pw"] {
            let mut v = args.clone();
            v.extend(["--src-creds", creds]);
            parse(&v).unwrap_or_else(|e| panic!("{cmd} --src-creds {creds}: {e}"));
        }
        let mut v = args.clone();
        v.extend(["--src-creds", "user:pa:ss"]);
        let cli = parse(&v).unwrap();
        let source = match &cli.command {
            Command::Copy(a) => CopySettings::from_args(a, &cancel).unwrap().source,
            Command::Verify(a) => VerifySettings::from_args(a, &cancel).unwrap().source,
            Command::Inspect(a) => InspectSettings::from_args(a, &cancel).unwrap().source,
            _ => unreachable!(),
        };
        match &source.auth.credentials {
            Credentials::Basic { username, password } => {
                assert_eq!(
                    (username.as_str(), password.as_str()),
                    ("user", "pa:ss"),
                    "{cmd}"
                )
            }
            other => panic!("{cmd}: {other:?}"),
        }
        assert!(source.auth.source.contains("--src-creds"), "{cmd}");
        // An empty user is the same usage error everywhere.
        let mut v = args.clone();
        v.extend(["--src-creds", ":pw"]);
        let cli = parse(&v).unwrap();
        let err = match &cli.command {
            Command::Copy(a) => CopySettings::from_args(a, &cancel).err(),
            Command::Verify(a) => VerifySettings::from_args(a, &cancel).err(),
            Command::Inspect(a) => InspectSettings::from_args(a, &cancel).err(),
            _ => unreachable!(),
        }
        .unwrap_or_else(|| panic!("{cmd}: empty user accepted"));
        assert_eq!(err.kind(), crate::error::ErrorKind::Usage);
        assert!(err.to_string().contains("empty user name"), "{cmd}: {err}");
    }
}

#[test]
fn verify_takes_selection_tls_and_token_flags() {
    let cli = parse(&[
        "verify",
        "127.0.0.1:5000/a:v1",
        "127.0.0.1:5001/a",
        "--platform",
        "linux/amd64",
        "--on-reject",
        "filter",
        "--platformless",
        "skip",
        "--dest-tls-verify",
        "false",
        "--dest-registry-token",
        "tok",
        "--src-plain-http",
    ])
    .unwrap();
    let Command::Verify(a) = &cli.command else {
        unreachable!()
    };
    let s = VerifySettings::from_args(a, &CancelToken::new()).unwrap();
    assert_eq!(s.selection.on_reject, OnReject::Filter);
    assert_eq!(s.selection.selector.platformless, PlatformlessPolicy::Skip);
    assert!(s.target.client.insecure_tls && !s.source.client.insecure_tls);
    assert!(s.source.client.plain_http && !s.target.client.plain_http);
    assert!(matches!(&s.target.auth.credentials, Credentials::Bearer(t) if t == "tok"));
    // The target tag is inherited from the source, as for copy.
    assert_eq!(s.target_tag.as_deref(), Some("v1"));
}

#[test]
fn settings_carry_the_cancel_token_to_the_transport() {
    let cli = parse(&["copy", "127.0.0.1:5000/a:v1", "oci:/tmp/never-created"]).unwrap();
    let Command::Copy(a) = &cli.command else {
        unreachable!()
    };
    let cancel = CancelToken::new();
    let s = CopySettings::from_args(a, &cancel).unwrap();
    cancel.cancel();
    assert!(s.source.client.cancel.is_cancelled());
    assert!(s.target.client.cancel.is_cancelled());
    assert!(s.cancel.is_cancelled());
}

#[test]
fn selection_compiles_to_engine_types() {
    let a = SelectionArgs {
        platforms: vec!["linux/amd64".into()],
        on_reject: OnRejectArg::Full,
        referrers_artifact_types: vec!["application/spdx+json".into()],
        no_attestations: true,
        ..SelectionArgs::default()
    };
    let s = SelectionSettings::from_args(&a, 3).unwrap();
    assert_eq!(s.on_reject, OnReject::Full);
    assert!(
        s.artifacts.referrers,
        "an artifact type implies --referrers"
    );
    assert!(!s.selector.attestations && !s.artifacts.attestations);
    assert_eq!(s.artifacts.jobs, 3);
    let bad = SelectionArgs {
        platforms: vec!["linux".into()],
        ..SelectionArgs::default()
    };
    let e = SelectionSettings::from_args(&bad, 1).unwrap_err();
    assert_eq!(e.kind(), crate::error::ErrorKind::Usage);
}

#[test]
fn both_sides_cannot_read_stdin() {
    let cli = parse(&[
        "copy",
        "a/b:v1",
        "c/d:v1",
        "--src-creds",
        "u",
        "--src-password-stdin",
        "--dest-creds",
        "v",
        "--dest-password-stdin",
    ])
    .unwrap();
    let Command::Copy(a) = &cli.command else {
        unreachable!()
    };
    let e = CopySettings::from_args(a, &CancelToken::new()).unwrap_err();
    assert!(e.to_string().contains("cannot both read stdin"), "{e}");
}

/// `--range-streams` and `--limit-rate` build one budget for the run; 1 stream is no ranges;
/// the flag's rate wins over the sync file's.
#[test]
fn wan_flags_compile_to_the_run_budget() {
    let Command::Copy(a) = parse(&["copy", "r.io/a:v1", "oci:/tmp/x", "--limit-rate", "20M"])
        .unwrap()
        .command
    else {
        panic!("copy")
    };
    let t = TransferSettings::from_args(&a.transfer);
    let w = wan_settings(&a.wan, Some(5_000_000), &t);
    let ranges = w.ranges.expect("ranges by default");
    assert_eq!((ranges.streams(), ranges.window()), (8, 28 << 20));
    assert_eq!(ranges.chunk(), (28 << 20) / 16);
    assert_eq!(w.limit.map(|l| l.bytes_per_second()), Some(20_000_000));
    let Command::Copy(a) = parse(&["copy", "r.io/a:v1", "oci:/tmp/x", "--range-streams", "1"])
        .unwrap()
        .command
    else {
        panic!("copy")
    };
    let w = wan_settings(&a.wan, Some(5_000_000), &t);
    assert!(w.ranges.is_none());
    assert_eq!(w.limit.map(|l| l.bytes_per_second()), Some(5_000_000));
    assert!(parse(&["copy", "r.io/a:v1", "oci:/tmp/x", "--limit-rate", "fast"]).is_err());
    assert!(parse(&["copy", "r.io/a:v1", "oci:/tmp/x", "--range-streams", "0"]).is_err());
}
