
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mirror' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mirror'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mirror' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy an image, keeping only selected platforms and the original index digest')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing')
            [CompletionResult]::new('inventory', 'inventory', [CompletionResultType]::ParameterValue, 'List what registry repositories or OCI layouts hold (tags, manifests, blobs, with digests and sizes), for computing an air-gap delta against it. Writes nothing (but see --probe-sparse)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (mirror.1 and one per subcommand) into a directory')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions to stdout')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable')
            [CompletionResult]::new('client-config', 'client-config', [CompletionResultType]::ParameterValue, 'Write the configuration that points clients at the mirror: containerd hosts.toml, a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah), OpenShift ImageDigestMirrorSet and ImageTagMirrorSet')
            [CompletionResult]::new('bundle', 'bundle', [CompletionResultType]::ParameterValue, 'Apply or check a delta bundle on the air-gapped side (written by `copy`/`sync --bundle`)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a target holds a complete mirror of a source image (HEAD requests only)')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Delete the blobs of an OCI layout that nothing reachable from its index.json references')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mirror;copy' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes')
            [CompletionResult]::new('--platformless', '--platformless', [CompletionResultType]::ParameterName, 'What to do with index entries that have no platform (artifacts, nested indexes)')
            [CompletionResult]::new('--on-reject', '--on-reject', [CompletionResultType]::ParameterName, 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)')
            [CompletionResult]::new('--referrers-artifact-type', '--referrers-artifact-type', [CompletionResultType]::ParameterName, 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)')
            [CompletionResult]::new('--always-copy', '--always-copy', [CompletionResultType]::ParameterName, 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)')
            [CompletionResult]::new('--never-copy', '--never-copy', [CompletionResultType]::ParameterName, 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--range-streams', '--range-streams', [CompletionResultType]::ParameterName, 'Fetch each blob of 32 MiB or more as N byte ranges in parallel, each on its own HTTP/1.1 connection (N for the whole run); 1 turns ranges off')
            [CompletionResult]::new('--limit-rate', '--limit-rate', [CompletionResultType]::ParameterName, 'Cap the run''s blob traffic at RATE bytes per second: 20M (20 MB/s), 512k, 1.5G, 20Mi (MiB/s)')
            [CompletionResult]::new('--range-window', '--range-window', [CompletionResultType]::ParameterName, 'The reorder window of ranged downloads, for the run (benchmarks; default 28Mi)')
            [CompletionResult]::new('--range-chunk', '--range-chunk', [CompletionResultType]::ParameterName, 'Bytes per range request (benchmarks; default: half the window''s share per stream)')
            [CompletionResult]::new('--range-min-rtt', '--range-min-rtt', [CompletionResultType]::ParameterName, 'Sources that answer the range probe faster than this (milliseconds) get one stream (tests and benchmarks; default 20)')
            [CompletionResult]::new('--src-creds', '--src-creds', [CompletionResultType]::ParameterName, 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--src-registry-token', '--src-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the source registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--src-authfile', '--src-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read source credentials from')
            [CompletionResult]::new('--src-tls-verify', '--src-tls-verify', [CompletionResultType]::ParameterName, 'Verify the source registry''s TLS certificate')
            [CompletionResult]::new('--src-cert-dir', '--src-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--dest-creds', '--dest-creds', [CompletionResultType]::ParameterName, 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--dest-registry-token', '--dest-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the target registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--dest-authfile', '--dest-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read target credentials from')
            [CompletionResult]::new('--dest-tls-verify', '--dest-tls-verify', [CompletionResultType]::ParameterName, 'Verify the target registry''s TLS certificate')
            [CompletionResult]::new('--dest-cert-dir', '--dest-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('--require-signature', '--require-signature', [CompletionResultType]::ParameterName, 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices')
            [CompletionResult]::new('--require-signature-identity', '--require-signature-identity', [CompletionResultType]::ParameterName, 'Accept keyless cosign signatures whose certificate names this identity (the SAN: an email or URI), as cosign''s --certificate-identity; repeatable. Needs an issuer flag and --trusted-root. Checked offline: certificate chain, SCT, Rekor entry (docs/signatures.md)')
            [CompletionResult]::new('--require-signature-identity-regexp', '--require-signature-identity-regexp', [CompletionResultType]::ParameterName, 'As --require-signature-identity, a regular expression matched anywhere in the SAN (as cosign''s --certificate-identity-regexp; anchor it with ^…$); repeatable')
            [CompletionResult]::new('--require-signature-issuer', '--require-signature-issuer', [CompletionResultType]::ParameterName, 'The OIDC issuer the identities must come from, as cosign''s --certificate-oidc-issuer')
            [CompletionResult]::new('--require-signature-issuer-regexp', '--require-signature-issuer-regexp', [CompletionResultType]::ParameterName, 'As --require-signature-issuer, a regular expression (cosign''s --certificate-oidc-issuer-regexp)')
            [CompletionResult]::new('--trusted-root', '--trusted-root', [CompletionResultType]::ParameterName, 'The Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp authorities) keyless signatures are checked against; read from disk, never fetched. Refresh it on the connected side (`cosign trusted-root create`)')
            [CompletionResult]::new('--sign-key', '--sign-key', [CompletionResultType]::ParameterName, 'Once the image is complete on the target, sign the digest its tag resolves to (the source''s index, a sparse or a filtered one) with this private key, so clusters behind the gap trust one site key. Needs --require-signature: only what was verified is signed')
            [CompletionResult]::new('--sign-format', '--sign-format', [CompletionResultType]::ParameterName, 'With --sign-key: which signature objects to write')
            [CompletionResult]::new('--layout-ref-name', '--layout-ref-name', [CompletionResultType]::ParameterName, 'What an OCI-layout target records in `org.opencontainers.image.ref.name`: the tag, or the full source reference (`registry/repo:tag`). Both forms are accepted when reading')
            [CompletionResult]::new('--on-change', '--on-change', [CompletionResultType]::ParameterName, 'Run CMD after the copy wrote something (not for an up-to-date target or a dry run)')
            [CompletionResult]::new('--on-failure', '--on-failure', [CompletionResultType]::ParameterName, 'Run CMD after the copy failed (stdin: `{"source","target","error","exit_code"}`)')
            [CompletionResult]::new('--hook-env', '--hook-env', [CompletionResultType]::ParameterName, 'Pass this environment variable to hooks (repeatable; MIRROR_*, REGISTRY_AUTH_FILE and DOCKER_CONFIG are refused)')
            [CompletionResult]::new('--hook-timeout', '--hook-timeout', [CompletionResultType]::ParameterName, 'Kill a hook (its whole process group) after SECS seconds [default: 60, or `hooks.timeout` in a sync file]')
            [CompletionResult]::new('--bundle', '--bundle', [CompletionResultType]::ParameterName, 'Write everything into a bundle directory DIR instead of the target: an OCI layout (DIR/layout) plus DIR/bundle.json, which maps each image to its target. The target (or the sync file''s targets) is the far side''s, and nothing is written there now; carry DIR across and run `mirror bundle apply DIR` on the far side')
            [CompletionResult]::new('--inventory', '--inventory', [CompletionResultType]::ParameterName, 'Leave out the blobs this inventory (`mirror inventory --output json` on the far side) lists for the target repository, or for another repository of the same registry (the apply mounts those). Repeatable')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The near side''s record of what earlier bundles shipped: read as an inventory (when it exists), and this bundle''s blobs are added to it once the bundle is sealed')
            [CompletionResult]::new('--max-volume-size', '--max-volume-size', [CompletionResultType]::ParameterName, 'Pack the layout into tar volumes of at most SIZE bytes (e.g. 4G, 700M, 64K), each with its own SHA-256 in bundle.json')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter''s textfile collector (name it `*.prom`). See docs/sync.md')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the plan (entries, reasons, sizes) and write nothing')
            [CompletionResult]::new('--require-platforms', '--require-platforms', [CompletionResultType]::ParameterName, 'Fail (exit 3) when a literal --platform matches nothing, instead of warning')
            [CompletionResult]::new('--no-attestations', '--no-attestations', [CompletionResultType]::ParameterName, 'Leave out BuildKit attestation manifests of the selected platforms')
            [CompletionResult]::new('--referrers', '--referrers', [CompletionResultType]::ParameterName, 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them')
            [CompletionResult]::new('--digest-tags', '--digest-tags', [CompletionResultType]::ParameterName, 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them')
            [CompletionResult]::new('--include-foreign-layers', '--include-foreign-layers', [CompletionResultType]::ParameterName, 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest')
            [CompletionResult]::new('--src-password-stdin', '--src-password-stdin', [CompletionResultType]::ParameterName, 'Read the source password from stdin (with --src-creds USER)')
            [CompletionResult]::new('--src-plain-http', '--src-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--dest-password-stdin', '--dest-password-stdin', [CompletionResultType]::ParameterName, 'Read the target password from stdin (with --dest-creds USER)')
            [CompletionResult]::new('--dest-plain-http', '--dest-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('--require-signature-children', '--require-signature-children', [CompletionResultType]::ParameterName, 'With --require-signature or an identity: every selected child manifest must carry a valid signature too')
            [CompletionResult]::new('--sign-children', '--sign-children', [CompletionResultType]::ParameterName, 'With --sign-key: also sign each copied child image manifest')
            [CompletionResult]::new('--sign-key-password-stdin', '--sign-key-password-stdin', [CompletionResultType]::ParameterName, 'With --sign-key: read the password of cosign''s encrypted key from stdin (instead of COSIGN_PASSWORD)')
            [CompletionResult]::new('--hook-failure-exit', '--hook-failure-exit', [CompletionResultType]::ParameterName, 'A failed hook makes the exit code non-zero (copy: 1; sync: 6) when it would be 0')
            [CompletionResult]::new('--pack', '--pack', [CompletionResultType]::ParameterName, 'Pack the layout into one tar volume (DIR/layout.tar.001)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;inspect' {
            [CompletionResult]::new('--src-creds', '--src-creds', [CompletionResultType]::ParameterName, 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--src-registry-token', '--src-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the source registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--src-authfile', '--src-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read source credentials from')
            [CompletionResult]::new('--src-tls-verify', '--src-tls-verify', [CompletionResultType]::ParameterName, 'Verify the source registry''s TLS certificate')
            [CompletionResult]::new('--src-cert-dir', '--src-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--referrers', '--referrers', [CompletionResultType]::ParameterName, 'Also list referrers (OCI referrers API or `sha256-<hex>` fallback tag) and cosign-style `sha256-<hex>.*` digest tags of the index and every child')
            [CompletionResult]::new('--src-password-stdin', '--src-password-stdin', [CompletionResultType]::ParameterName, 'Read the source password from stdin (with --src-creds USER)')
            [CompletionResult]::new('--src-plain-http', '--src-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;inventory' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Also every target repository of this sync file (YAML; see docs/sync.md)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Also every target repository of this sync file (YAML; see docs/sync.md)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--dest-creds', '--dest-creds', [CompletionResultType]::ParameterName, 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--dest-registry-token', '--dest-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the target registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--dest-authfile', '--dest-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read target credentials from')
            [CompletionResult]::new('--dest-tls-verify', '--dest-tls-verify', [CompletionResultType]::ParameterName, 'Verify the target registry''s TLS certificate')
            [CompletionResult]::new('--dest-cert-dir', '--dest-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--probe-sparse', '--probe-sparse', [CompletionResultType]::ParameterName, 'Per registry, PUT (by digest, untagged) a tiny index whose only child does not exist, and record whether the registry accepts sparse indexes (accepted, rejected or unknown)')
            [CompletionResult]::new('--dest-password-stdin', '--dest-password-stdin', [CompletionResultType]::ParameterName, 'Read the target password from stdin (with --dest-creds USER)')
            [CompletionResult]::new('--dest-plain-http', '--dest-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;man' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;completions' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;sync' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The configuration file (YAML; see docs/sync.md)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The configuration file (YAML; see docs/sync.md)')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Images (work items) processed at the same time')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only shard INDEX of COUNT (0-based): N machines with 0/N … N-1/N cover every item once')
            [CompletionResult]::new('--shards', '--shards', [CompletionResultType]::ParameterName, 'Split into COUNT shards and run the one named by $JOB_COMPLETION_INDEX (Kubernetes Indexed Job)')
            [CompletionResult]::new('--min-rate-remaining', '--min-rate-remaining', [CompletionResultType]::ParameterName, 'Pause before pulling when a registry''s `ratelimit-remaining` (Docker Hub) drops below N')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Where to keep index manifests between runs, so unchanged tags cost HEAD requests only')
            [CompletionResult]::new('--prune-max', '--prune-max', [CompletionResultType]::ParameterName, 'More tag deletions than N in one run deletes nothing (exit 6, the list printed); 0 only plans')
            [CompletionResult]::new('--gc-min-age', '--gc-min-age', [CompletionResultType]::ParameterName, 'OCI layout targets: after pruning, unreferenced blobs younger than this stay (a copy may still be writing them)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--range-streams', '--range-streams', [CompletionResultType]::ParameterName, 'Fetch each blob of 32 MiB or more as N byte ranges in parallel, each on its own HTTP/1.1 connection (N for the whole run); 1 turns ranges off')
            [CompletionResult]::new('--limit-rate', '--limit-rate', [CompletionResultType]::ParameterName, 'Cap the run''s blob traffic at RATE bytes per second: 20M (20 MB/s), 512k, 1.5G, 20Mi (MiB/s)')
            [CompletionResult]::new('--range-window', '--range-window', [CompletionResultType]::ParameterName, 'The reorder window of ranged downloads, for the run (benchmarks; default 28Mi)')
            [CompletionResult]::new('--range-chunk', '--range-chunk', [CompletionResultType]::ParameterName, 'Bytes per range request (benchmarks; default: half the window''s share per stream)')
            [CompletionResult]::new('--range-min-rtt', '--range-min-rtt', [CompletionResultType]::ParameterName, 'Sources that answer the range probe faster than this (milliseconds) get one stream (tests and benchmarks; default 20)')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('--hook-timeout', '--hook-timeout', [CompletionResultType]::ParameterName, 'Kill a hook (its whole process group) after SECS seconds [default: 60, or `hooks.timeout` in a sync file]')
            [CompletionResult]::new('--sign-key', '--sign-key', [CompletionResultType]::ParameterName, 'Once the image is complete on the target, sign the digest its tag resolves to (the source''s index, a sparse or a filtered one) with this private key, so clusters behind the gap trust one site key. Needs --require-signature: only what was verified is signed')
            [CompletionResult]::new('--sign-format', '--sign-format', [CompletionResultType]::ParameterName, 'With --sign-key: which signature objects to write')
            [CompletionResult]::new('--bundle', '--bundle', [CompletionResultType]::ParameterName, 'Write everything into a bundle directory DIR instead of the target: an OCI layout (DIR/layout) plus DIR/bundle.json, which maps each image to its target. The target (or the sync file''s targets) is the far side''s, and nothing is written there now; carry DIR across and run `mirror bundle apply DIR` on the far side')
            [CompletionResult]::new('--inventory', '--inventory', [CompletionResultType]::ParameterName, 'Leave out the blobs this inventory (`mirror inventory --output json` on the far side) lists for the target repository, or for another repository of the same registry (the apply mounts those). Repeatable')
            [CompletionResult]::new('--ledger', '--ledger', [CompletionResultType]::ParameterName, 'The near side''s record of what earlier bundles shipped: read as an inventory (when it exists), and this bundle''s blobs are added to it once the bundle is sealed')
            [CompletionResult]::new('--max-volume-size', '--max-volume-size', [CompletionResultType]::ParameterName, 'Pack the layout into tar volumes of at most SIZE bytes (e.g. 4G, 700M, 64K), each with its own SHA-256 in bundle.json')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter''s textfile collector (name it `*.prom`). See docs/sync.md')
            [CompletionResult]::new('--client-config', '--client-config', [CompletionResultType]::ParameterName, 'After the run, write the client configuration (as `mirror client-config --output-dir DIR`, every format) from what the targets hold now')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would be copied or repaired, with sizes; write nothing')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'After syncing, verify every item (exit 7 when something is still missing)')
            [CompletionResult]::new('--keep-going', '--keep-going', [CompletionResultType]::ParameterName, 'Go on after an item fails (the default); the exit code is then 6')
            [CompletionResult]::new('--no-keep-going', '--no-keep-going', [CompletionResultType]::ParameterName, 'Stop starting new items after the first failure')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no manifest cache (an unchanged tag then costs one GET on the target, none on the source)')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'After the items, delete the target tags each entry''s rules own and no longer select')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('--hook-failure-exit', '--hook-failure-exit', [CompletionResultType]::ParameterName, 'A failed hook makes the exit code non-zero (copy: 1; sync: 6) when it would be 0')
            [CompletionResult]::new('--sign-children', '--sign-children', [CompletionResultType]::ParameterName, 'With --sign-key: also sign each copied child image manifest')
            [CompletionResult]::new('--sign-key-password-stdin', '--sign-key-password-stdin', [CompletionResultType]::ParameterName, 'With --sign-key: read the password of cosign''s encrypted key from stdin (instead of COSIGN_PASSWORD)')
            [CompletionResult]::new('--pack', '--pack', [CompletionResultType]::ParameterName, 'Pack the layout into one tar volume (DIR/layout.tar.001)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;client-config' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'The sync configuration file (YAML; see docs/sync.md)')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'The sync configuration file (YAML; see docs/sync.md)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Which files (comma-separated or repeated; default: all four)')
            [CompletionResult]::new('--output-dir', '--output-dir', [CompletionResultType]::ParameterName, 'Write the files under DIR (each through a temporary file and a rename); without it they are printed to stdout')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Targets checked at once')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan (each source, its mirrors, whether pulls by digest are served) and the files that would be written; write nothing')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;bundle' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Push every image of a bundle to its target; left-out blobs must be there already')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Verify bundle.json and every volume without unpacking or pushing anything')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mirror;bundle;apply' {
            [CompletionResult]::new('--on-reject', '--on-reject', [CompletionResultType]::ParameterName, 'When the target refuses a sparse index: fail (exit 6 for that image), or push a filtered index (new digest). `full` cannot help here: the bundle holds only the selected platforms')
            [CompletionResult]::new('--parallel', '--parallel', [CompletionResultType]::ParameterName, 'Repositories applied at the same time (the images of one repository go one after another)')
            [CompletionResult]::new('--work-dir', '--work-dir', [CompletionResultType]::ParameterName, 'Where volumes are unpacked (default: the system temp directory)')
            [CompletionResult]::new('--prune-max', '--prune-max', [CompletionResultType]::ParameterName, 'More tag deletions than N deletes nothing (exit 6, the list printed); 0 only plans')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--dest-creds', '--dest-creds', [CompletionResultType]::ParameterName, 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--dest-registry-token', '--dest-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the target registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--dest-authfile', '--dest-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read target credentials from')
            [CompletionResult]::new('--dest-tls-verify', '--dest-tls-verify', [CompletionResultType]::ParameterName, 'Verify the target registry''s TLS certificate')
            [CompletionResult]::new('--dest-cert-dir', '--dest-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be pushed and which left-out blobs are present, mountable or missing (HEAD requests only); push nothing')
            [CompletionResult]::new('--prune', '--prune', [CompletionResultType]::ParameterName, 'After the images, apply the bundle''s deletion plan (written by `sync --bundle --prune`): each far tag that still names the planned digest is deleted with its artifacts, never a digest another tag needs. Nothing is pruned in a repository where an image failed')
            [CompletionResult]::new('--dest-password-stdin', '--dest-password-stdin', [CompletionResultType]::ParameterName, 'Read the target password from stdin (with --dest-creds USER)')
            [CompletionResult]::new('--dest-plain-http', '--dest-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;bundle;check' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;bundle;help' {
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Push every image of a bundle to its target; left-out blobs must be there already')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Verify bundle.json and every volume without unpacking or pushing anything')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mirror;bundle;help;apply' {
            break
        }
        'mirror;bundle;help;check' {
            break
        }
        'mirror;bundle;help;help' {
            break
        }
        'mirror;verify' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes')
            [CompletionResult]::new('--platformless', '--platformless', [CompletionResultType]::ParameterName, 'What to do with index entries that have no platform (artifacts, nested indexes)')
            [CompletionResult]::new('--on-reject', '--on-reject', [CompletionResultType]::ParameterName, 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)')
            [CompletionResult]::new('--referrers-artifact-type', '--referrers-artifact-type', [CompletionResultType]::ParameterName, 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)')
            [CompletionResult]::new('--always-copy', '--always-copy', [CompletionResultType]::ParameterName, 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)')
            [CompletionResult]::new('--never-copy', '--never-copy', [CompletionResultType]::ParameterName, 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries for each idempotent request or blob copy (exponential backoff with jitter)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-request timeout in seconds (blob bodies excepted)')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('--src-creds', '--src-creds', [CompletionResultType]::ParameterName, 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--src-registry-token', '--src-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the source registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--src-authfile', '--src-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read source credentials from')
            [CompletionResult]::new('--src-tls-verify', '--src-tls-verify', [CompletionResultType]::ParameterName, 'Verify the source registry''s TLS certificate')
            [CompletionResult]::new('--src-cert-dir', '--src-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--dest-creds', '--dest-creds', [CompletionResultType]::ParameterName, 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)')
            [CompletionResult]::new('--dest-registry-token', '--dest-registry-token', [CompletionResultType]::ParameterName, 'A bearer token for the target registry, sent as is (no token server round trip)')
            [CompletionResult]::new('--dest-authfile', '--dest-authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json to read target credentials from')
            [CompletionResult]::new('--dest-tls-verify', '--dest-tls-verify', [CompletionResultType]::ParameterName, 'Verify the target registry''s TLS certificate')
            [CompletionResult]::new('--dest-cert-dir', '--dest-cert-dir', [CompletionResultType]::ParameterName, 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS')
            [CompletionResult]::new('--authfile', '--authfile', [CompletionResultType]::ParameterName, 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)')
            [CompletionResult]::new('--require-signature', '--require-signature', [CompletionResultType]::ParameterName, 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices')
            [CompletionResult]::new('--require-signature-identity', '--require-signature-identity', [CompletionResultType]::ParameterName, 'Accept keyless cosign signatures whose certificate names this identity (the SAN: an email or URI), as cosign''s --certificate-identity; repeatable. Needs an issuer flag and --trusted-root. Checked offline: certificate chain, SCT, Rekor entry (docs/signatures.md)')
            [CompletionResult]::new('--require-signature-identity-regexp', '--require-signature-identity-regexp', [CompletionResultType]::ParameterName, 'As --require-signature-identity, a regular expression matched anywhere in the SAN (as cosign''s --certificate-identity-regexp; anchor it with ^…$); repeatable')
            [CompletionResult]::new('--require-signature-issuer', '--require-signature-issuer', [CompletionResultType]::ParameterName, 'The OIDC issuer the identities must come from, as cosign''s --certificate-oidc-issuer')
            [CompletionResult]::new('--require-signature-issuer-regexp', '--require-signature-issuer-regexp', [CompletionResultType]::ParameterName, 'As --require-signature-issuer, a regular expression (cosign''s --certificate-oidc-issuer-regexp)')
            [CompletionResult]::new('--trusted-root', '--trusted-root', [CompletionResultType]::ParameterName, 'The Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp authorities) keyless signatures are checked against; read from disk, never fetched. Refresh it on the connected side (`cosign trusted-root create`)')
            [CompletionResult]::new('--metrics-file', '--metrics-file', [CompletionResultType]::ParameterName, 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter''s textfile collector (name it `*.prom`). See docs/sync.md')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--require-platforms', '--require-platforms', [CompletionResultType]::ParameterName, 'Fail (exit 3) when a literal --platform matches nothing, instead of warning')
            [CompletionResult]::new('--no-attestations', '--no-attestations', [CompletionResultType]::ParameterName, 'Leave out BuildKit attestation manifests of the selected platforms')
            [CompletionResult]::new('--referrers', '--referrers', [CompletionResultType]::ParameterName, 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them')
            [CompletionResult]::new('--digest-tags', '--digest-tags', [CompletionResultType]::ParameterName, 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them')
            [CompletionResult]::new('--include-foreign-layers', '--include-foreign-layers', [CompletionResultType]::ParameterName, 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest')
            [CompletionResult]::new('--src-password-stdin', '--src-password-stdin', [CompletionResultType]::ParameterName, 'Read the source password from stdin (with --src-creds USER)')
            [CompletionResult]::new('--src-plain-http', '--src-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--dest-password-stdin', '--dest-password-stdin', [CompletionResultType]::ParameterName, 'Read the target password from stdin (with --dest-creds USER)')
            [CompletionResult]::new('--dest-plain-http', '--dest-plain-http', [CompletionResultType]::ParameterName, 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)')
            [CompletionResult]::new('--allow-insecure-auth', '--allow-insecure-auth', [CompletionResultType]::ParameterName, 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)')
            [CompletionResult]::new('--require-signature-children', '--require-signature-children', [CompletionResultType]::ParameterName, 'With --require-signature or an identity: every selected child manifest must carry a valid signature too')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;gc' {
            [CompletionResult]::new('--min-age', '--min-age', [CompletionResultType]::ParameterName, 'Keep unreferenced blobs younger than this many seconds')
            [CompletionResult]::new('--lock-timeout', '--lock-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for another writer of the same OCI layout before failing')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour on stderr. NO_COLOR is honoured by `auto`')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List the unreferenced blobs and their sizes; delete nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors on stderr: no warnings, no summary, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mirror;help' {
            [CompletionResult]::new('copy', 'copy', [CompletionResultType]::ParameterValue, 'Copy an image, keeping only selected platforms and the original index digest')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing')
            [CompletionResult]::new('inventory', 'inventory', [CompletionResultType]::ParameterValue, 'List what registry repositories or OCI layouts hold (tags, manifests, blobs, with digests and sizes), for computing an air-gap delta against it. Writes nothing (but see --probe-sparse)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Write man pages (mirror.1 and one per subcommand) into a directory')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions to stdout')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable')
            [CompletionResult]::new('client-config', 'client-config', [CompletionResultType]::ParameterValue, 'Write the configuration that points clients at the mirror: containerd hosts.toml, a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah), OpenShift ImageDigestMirrorSet and ImageTagMirrorSet')
            [CompletionResult]::new('bundle', 'bundle', [CompletionResultType]::ParameterValue, 'Apply or check a delta bundle on the air-gapped side (written by `copy`/`sync --bundle`)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a target holds a complete mirror of a source image (HEAD requests only)')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Delete the blobs of an OCI layout that nothing reachable from its index.json references')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mirror;help;copy' {
            break
        }
        'mirror;help;inspect' {
            break
        }
        'mirror;help;inventory' {
            break
        }
        'mirror;help;man' {
            break
        }
        'mirror;help;completions' {
            break
        }
        'mirror;help;sync' {
            break
        }
        'mirror;help;client-config' {
            break
        }
        'mirror;help;bundle' {
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Push every image of a bundle to its target; left-out blobs must be there already')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Verify bundle.json and every volume without unpacking or pushing anything')
            break
        }
        'mirror;help;bundle;apply' {
            break
        }
        'mirror;help;bundle;check' {
            break
        }
        'mirror;help;verify' {
            break
        }
        'mirror;help;gc' {
            break
        }
        'mirror;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
