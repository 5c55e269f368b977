//! The command line itself: help, completions, documented exit codes, usage errors.

use crate::harness::mirror;

#[test]
fn completions_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (shell, file) in [
        ("bash", "mirror.bash"),
        ("zsh", "_mirror"),
        ("fish", "mirror.fish"),
        ("powershell", "_mirror.ps1"),
        ("elvish", "mirror.elv"),
    ] {
        let out = mirror(&["completions", shell]);
        assert_eq!(out.code, 0, "{out}");
        let committed =
            std::fs::read_to_string(root.join("completions").join(file)).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "completions/{file} is stale: run `cargo run -- completions {shell} > completions/{file}`"
        );
    }
}

#[test]
fn exit_code_docs_match_the_constants() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/exit-codes.md"),
    )
    .unwrap();
    for (code, name) in sparse_mirror::exit::ALL {
        assert!(
            doc.contains(&format!("| {code} | {name} |")),
            "docs/exit-codes.md lacks | {code} | {name} |"
        );
    }
}

#[test]
fn usage_errors_exit_2_and_name_the_part() {
    let out = mirror(&["copy", "Bad/Repo:v1", "oci:/tmp/x"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(out.stderr.contains("\"Bad\""), "{out}");
    let out = mirror(&["copy", "a/b:v1", "oci:/tmp/x", "--platform", "linux"]);
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("invalid platform pattern \"linux\""),
        "{out}"
    );
    assert!(out.stderr.contains("os/arch[/variant]"), "{out}");
    let out = mirror(&["copy", "a/b:v1"]);
    assert_eq!(out.code, 2, "{out}");
}

/// The example lines of a help text or man page (after the `Examples:` / `EXAMPLES` heading) that
/// are neither comments, the sync YAML sample, nor prose: each must be one whole command.
fn example_lines(text: &str, heading: &str) -> Vec<String> {
    let Some(start) = text.find(heading) else {
        return vec![];
    };
    text[start + heading.len()..]
        .lines()
        .map(str::trim_end)
        .take_while(|l| !l.starts_with("A minimal mirror.yaml") && !l.starts_with("Each command"))
        .take_while(|l| !l.starts_with(".fi") && !l.starts_with(".SH"))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn examples_show_one_command_per_line_in_help_and_man_pages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages: &[(&[&str], &str)] = &[
        (&["--help"], "mirror.1"),
        (&["copy", "--help"], "mirror-copy.1"),
        (&["sync", "--help"], "mirror-sync.1"),
        (&["inventory", "--help"], "mirror-inventory.1"),
        (&["verify", "--help"], "mirror-verify.1"),
        (&["bundle", "--help"], "mirror-bundle.1"),
    ];
    for (args, man) in pages {
        let out = mirror(args);
        assert_eq!(out.code, 0, "{out}");
        let lines = example_lines(&out.stdout, "Examples:\n");
        assert!(lines.len() >= 2, "mirror {args:?}: no examples\n{out}");
        for l in &lines {
            // A wrapped command continues on a line that does not start a command.
            assert!(
                l.starts_with("  mirror ") || l.starts_with("  JOB_COMPLETION_INDEX="),
                "mirror {args:?}: example line {l:?} is not a whole command\n{}",
                out.stdout
            );
        }
        // The man page: the same lines, verbatim (no-fill), under EXAMPLES.
        let page = std::fs::read_to_string(root.join("docs/man").join(man)).unwrap();
        assert!(page.contains(".SH EXAMPLES\n.nf\n"), "{man}: {page}");
        let in_man = example_lines(&page, ".SH EXAMPLES\n.nf\n");
        let unescape = |s: &str| s.replace("\\-", "-").replace("\\*(Aq", "'");
        assert_eq!(
            in_man.iter().map(|l| unescape(l)).collect::<Vec<_>>(),
            lines,
            "{man}"
        );
    }
}

#[test]
fn help_teaches_with_examples() {
    let out = mirror(&["copy", "--help"]);
    assert_eq!(out.code, 0);
    for needle in [
        "Examples:",
        "--on-reject",
        "--platform",
        "sparse",
        "Exit codes",
    ] {
        assert!(out.stdout.contains(needle), "copy --help lacks {needle:?}");
    }
}

#[test]
fn unreachable_registry_is_a_clear_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = mirror(&[
        "copy",
        &format!("127.0.0.1:{port}/a:v1"),
        "oci:/tmp/never-written-2:v1",
        "--retries",
        "0",
    ]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stderr
            .contains(&format!("GET http://127.0.0.1:{port}/v2/")),
        "names method and URL: {out}"
    );
    assert!(out.stderr.contains("hint:"), "{out}");
}

#[test]
fn json_output_doc_lists_every_field() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json-output.md"),
    )
    .unwrap();
    // The example in the doc must decode into the typed report, and list every field.
    let start = doc.find("```json\n").expect("example present") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let example: sparse_mirror::engine::report::Report = serde_json::from_str(&doc[start..end])
        .expect("the example decodes with deny_unknown_fields");
    let v = serde_json::to_value(&example).unwrap();
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.extend(v["entries"][0].as_object().unwrap().keys().cloned());
    for k in keys {
        assert!(
            doc.contains(&format!("| `{k}` |")),
            "docs/json-output.md has no row for `{k}`"
        );
    }
}

#[test]
fn broken_pipe_on_stdout_exits_0() {
    for args in [
        vec!["completions", "bash"],
        vec!["--help"],
        vec!["copy", "--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader); // every write now fails with EPIPE
        let out = std::process::Command::new(crate::harness::mirror_bin())
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn color_always_and_never() {
    let on = mirror(&[
        "copy",
        "Bad/x",
        "oci:/tmp/never-written-3",
        "--color",
        "always",
    ]);
    assert!(on.stderr.contains("\u{1b}[31merror\u{1b}[0m"), "{on}");
    let off = mirror(&[
        "copy",
        "Bad/x",
        "oci:/tmp/never-written-3",
        "--color",
        "never",
    ]);
    assert!(
        off.stderr.starts_with("error: ") && !off.stderr.contains('\u{1b}'),
        "{off}"
    );
}
