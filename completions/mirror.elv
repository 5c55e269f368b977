
use builtin;
use str;

set edit:completion:arg-completer[mirror] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mirror'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mirror'= {
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand copy 'Copy an image, keeping only selected platforms and the original index digest'
            cand inspect 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing'
            cand man 'Write man pages (mirror.1 and one per subcommand) into a directory'
            cand completions 'Print shell completions to stdout'
            cand sync 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable'
            cand verify 'Check that a target holds a complete mirror of a source image (HEAD requests only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mirror;copy'= {
            cand -p 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes'
            cand --platform 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes'
            cand --platformless 'What to do with index entries that have no platform (artifacts, nested indexes)'
            cand --on-reject 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)'
            cand --referrers-artifact-type 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)'
            cand --always-copy 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)'
            cand --never-copy 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)'
            cand -j 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --jobs 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --retries 'Retries for each idempotent request or blob copy (exponential backoff with jitter)'
            cand --timeout 'Per-request timeout in seconds (blob bodies excepted)'
            cand --lock-timeout 'Seconds to wait for another writer of the same OCI layout before failing'
            cand --src-creds 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)'
            cand --src-registry-token 'A bearer token for the source registry, sent as is (no token server round trip)'
            cand --src-authfile 'A docker config.json or containers auth.json to read source credentials from'
            cand --src-tls-verify 'Verify the source registry''s TLS certificate'
            cand --src-cert-dir 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS'
            cand --dest-creds 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)'
            cand --dest-registry-token 'A bearer token for the target registry, sent as is (no token server round trip)'
            cand --dest-authfile 'A docker config.json or containers auth.json to read target credentials from'
            cand --dest-tls-verify 'Verify the target registry''s TLS certificate'
            cand --dest-cert-dir 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS'
            cand --authfile 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)'
            cand --require-signature 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices'
            cand --layout-ref-name 'What an OCI-layout target records in `org.opencontainers.image.ref.name`: the tag, or the full source reference (`registry/repo:tag`). Both forms are accepted when reading'
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand --dry-run 'Show the plan (entries, reasons, sizes) and write nothing'
            cand --require-platforms 'Fail (exit 3) when a literal --platform matches nothing, instead of warning'
            cand --no-attestations 'Leave out BuildKit attestation manifests of the selected platforms'
            cand --referrers 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them'
            cand --digest-tags 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them'
            cand --include-foreign-layers 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest'
            cand --src-password-stdin 'Read the source password from stdin (with --src-creds USER)'
            cand --src-plain-http 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
            cand --dest-password-stdin 'Read the target password from stdin (with --dest-creds USER)'
            cand --dest-plain-http 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
            cand --allow-insecure-auth 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
            cand --require-signature-children 'With --require-signature: every selected child manifest must carry a valid signature too'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;inspect'= {
            cand --src-creds 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)'
            cand --src-registry-token 'A bearer token for the source registry, sent as is (no token server round trip)'
            cand --src-authfile 'A docker config.json or containers auth.json to read source credentials from'
            cand --src-tls-verify 'Verify the source registry''s TLS certificate'
            cand --src-cert-dir 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS'
            cand --authfile 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)'
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand --referrers 'Also list referrers (OCI referrers API or `sha256-<hex>` fallback tag) and cosign-style `sha256-<hex>.*` digest tags of the index and every child'
            cand --src-password-stdin 'Read the source password from stdin (with --src-creds USER)'
            cand --src-plain-http 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
            cand --allow-insecure-auth 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;man'= {
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;completions'= {
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;sync'= {
            cand -f 'The configuration file (YAML; see docs/sync.md)'
            cand --file 'The configuration file (YAML; see docs/sync.md)'
            cand --parallel 'Images (work items) processed at the same time'
            cand --shard 'Run only shard INDEX of COUNT (0-based): N machines with 0/N … N-1/N cover every item once'
            cand --shards 'Split into COUNT shards and run the one named by $JOB_COMPLETION_INDEX (Kubernetes Indexed Job)'
            cand --min-rate-remaining 'Pause before pulling when a registry''s `ratelimit-remaining` (Docker Hub) drops below N'
            cand --cache-dir 'Where to keep index manifests between runs, so unchanged tags cost HEAD requests only'
            cand -j 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --jobs 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --retries 'Retries for each idempotent request or blob copy (exponential backoff with jitter)'
            cand --timeout 'Per-request timeout in seconds (blob bodies excepted)'
            cand --lock-timeout 'Seconds to wait for another writer of the same OCI layout before failing'
            cand --authfile 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)'
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand --dry-run 'Show what would be copied or repaired, with sizes; write nothing'
            cand --verify 'After syncing, verify every item (exit 7 when something is still missing)'
            cand --keep-going 'Go on after an item fails (the default); the exit code is then 6'
            cand --no-keep-going 'Stop starting new items after the first failure'
            cand --no-cache 'Use no manifest cache (an unchanged tag then costs one GET on the target, none on the source)'
            cand --allow-insecure-auth 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;verify'= {
            cand -p 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes'
            cand --platform 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes'
            cand --platformless 'What to do with index entries that have no platform (artifacts, nested indexes)'
            cand --on-reject 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)'
            cand --referrers-artifact-type 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)'
            cand --always-copy 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)'
            cand --never-copy 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)'
            cand -j 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --jobs 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more'
            cand --retries 'Retries for each idempotent request or blob copy (exponential backoff with jitter)'
            cand --timeout 'Per-request timeout in seconds (blob bodies excepted)'
            cand --lock-timeout 'Seconds to wait for another writer of the same OCI layout before failing'
            cand --src-creds 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)'
            cand --src-registry-token 'A bearer token for the source registry, sent as is (no token server round trip)'
            cand --src-authfile 'A docker config.json or containers auth.json to read source credentials from'
            cand --src-tls-verify 'Verify the source registry''s TLS certificate'
            cand --src-cert-dir 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS'
            cand --dest-creds 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)'
            cand --dest-registry-token 'A bearer token for the target registry, sent as is (no token server round trip)'
            cand --dest-authfile 'A docker config.json or containers auth.json to read target credentials from'
            cand --dest-tls-verify 'Verify the target registry''s TLS certificate'
            cand --dest-cert-dir 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS'
            cand --authfile 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)'
            cand --require-signature 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices'
            cand -o 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --output 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report'
            cand --color 'When to use colour on stderr. NO_COLOR is honoured by `auto`'
            cand --require-platforms 'Fail (exit 3) when a literal --platform matches nothing, instead of warning'
            cand --no-attestations 'Leave out BuildKit attestation manifests of the selected platforms'
            cand --referrers 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them'
            cand --digest-tags 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them'
            cand --include-foreign-layers 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest'
            cand --src-password-stdin 'Read the source password from stdin (with --src-creds USER)'
            cand --src-plain-http 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
            cand --dest-password-stdin 'Read the target password from stdin (with --dest-creds USER)'
            cand --dest-plain-http 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
            cand --allow-insecure-auth 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
            cand --require-signature-children 'With --require-signature: every selected child manifest must carry a valid signature too'
            cand -q 'Print only errors on stderr: no warnings, no summary, no progress'
            cand --quiet 'Print only errors on stderr: no warnings, no summary, no progress'
            cand -v 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --verbose 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
            cand --no-progress 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mirror;help'= {
            cand copy 'Copy an image, keeping only selected platforms and the original index digest'
            cand inspect 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing'
            cand man 'Write man pages (mirror.1 and one per subcommand) into a directory'
            cand completions 'Print shell completions to stdout'
            cand sync 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable'
            cand verify 'Check that a target holds a complete mirror of a source image (HEAD requests only)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mirror;help;copy'= {
        }
        &'mirror;help;inspect'= {
        }
        &'mirror;help;man'= {
        }
        &'mirror;help;completions'= {
        }
        &'mirror;help;sync'= {
        }
        &'mirror;help;verify'= {
        }
        &'mirror;help;help'= {
        }
    ]
    $completions[$command]
}
