# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mirror_global_optspecs
    string join \n o/output= q/quiet v/verbose no-progress color= h/help V/version
end

function __fish_mirror_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mirror_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mirror_using_subcommand
    set -l cmd (__fish_mirror_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mirror -n "__fish_mirror_needs_command" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_needs_command" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_needs_command" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_needs_command" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_needs_command" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_needs_command" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "copy" -d 'Copy an image, keeping only selected platforms and the original index digest'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "inspect" -d 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "inventory" -d 'List what registry repositories or OCI layouts hold (tags, manifests, blobs, with digests and sizes), for computing an air-gap delta against it. Writes nothing (but see --probe-sparse)'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "man" -d 'Write man pages (mirror.1 and one per subcommand) into a directory'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "completions" -d 'Print shell completions to stdout'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "sync" -d 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "client-config" -d 'Write the configuration that points clients at the mirror: containerd hosts.toml, a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah), OpenShift ImageDigestMirrorSet and ImageTagMirrorSet'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "bundle" -d 'Apply or check a delta bundle on the air-gapped side (written by `copy`/`sync --bundle`)'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "verify" -d 'Check that a target holds a complete mirror of a source image (HEAD requests only)'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "gc" -d 'Delete the blobs of an OCI layout that nothing reachable from its index.json references'
complete -c mirror -n "__fish_mirror_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s p -l platform -d 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l platformless -d 'What to do with index entries that have no platform (artifacts, nested indexes)' -r -f -a "copy\t'Copy them (default)'
skip\t'Leave them out'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l on-reject -d 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)' -r -f -a "fail\t'Stop with exit code 4; nothing is tagged'
filter\t'Push a new index listing only the copied entries (new digest)'
full\t'Copy the remaining children too and push the original index'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l referrers-artifact-type -d 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l always-copy -d 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l never-copy -d 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l range-streams -d 'Fetch each blob of 32 MiB or more as N byte ranges in parallel, each on its own HTTP/1.1 connection (N for the whole run); 1 turns ranges off' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l limit-rate -d 'Cap the run\'s blob traffic at RATE bytes per second: 20M (20 MB/s), 512k, 1.5G, 20Mi (MiB/s)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l range-window -d 'The reorder window of ranged downloads, for the run (benchmarks; default 28Mi)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l range-chunk -d 'Bytes per range request (benchmarks; default: half the window\'s share per stream)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l range-min-rtt -d 'Sources that answer the range probe faster than this (milliseconds) get one stream (tests and benchmarks; default 20)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-creds -d 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-registry-token -d 'A bearer token for the source registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-authfile -d 'A docker config.json or containers auth.json to read source credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-tls-verify -d 'Verify the source registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-cert-dir -d 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-creds -d 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-registry-token -d 'A bearer token for the target registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-authfile -d 'A docker config.json or containers auth.json to read target credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-tls-verify -d 'Verify the target registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-cert-dir -d 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature -d 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature-identity -d 'Accept keyless cosign signatures whose certificate names this identity (the SAN: an email or URI), as cosign\'s --certificate-identity; repeatable. Needs an issuer flag and --trusted-root. Checked offline: certificate chain, SCT, Rekor entry (docs/signatures.md)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature-identity-regexp -d 'As --require-signature-identity, a regular expression matched anywhere in the SAN (as cosign\'s --certificate-identity-regexp; anchor it with ^…$); repeatable' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature-issuer -d 'The OIDC issuer the identities must come from, as cosign\'s --certificate-oidc-issuer' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature-issuer-regexp -d 'As --require-signature-issuer, a regular expression (cosign\'s --certificate-oidc-issuer-regexp)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l trusted-root -d 'The Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp authorities) keyless signatures are checked against; read from disk, never fetched. Refresh it on the connected side (`cosign trusted-root create`)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l sign-key -d 'Once the image is complete on the target, sign the digest its tag resolves to (the source\'s index, a sparse or a filtered one) with this private key, so clusters behind the gap trust one site key. Needs --require-signature: only what was verified is signed' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l sign-format -d 'With --sign-key: which signature objects to write' -r -f -a "tag\t'cosign\'s `sha256-<hex>.sig` tag: read by cosign 2 and 3, Kyverno, policy-controller and Connaisseur; works on every registry'
bundle\t'A Sigstore bundle referrer (cosign 3\'s format; the `sha256-<hex>` fallback tag where the registry has no referrers API)'
both\t'Both'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l layout-ref-name -d 'What an OCI-layout target records in `org.opencontainers.image.ref.name`: the tag, or the full source reference (`registry/repo:tag`). Both forms are accepted when reading' -r -f -a "tag\t'Just the tag, e.g. `v1` (what skopeo and regclient write)'
full\t'The full source reference, e.g. `quay.io/org/app:v1`'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l on-change -d 'Run CMD after the copy wrote something (not for an up-to-date target or a dry run)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l on-failure -d 'Run CMD after the copy failed (stdin: `{"source","target","error","exit_code"}`)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l hook-env -d 'Pass this environment variable to hooks (repeatable; MIRROR_*, REGISTRY_AUTH_FILE and DOCKER_CONFIG are refused)' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l hook-timeout -d 'Kill a hook (its whole process group) after SECS seconds [default: 60, or `hooks.timeout` in a sync file]' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l bundle -d 'Write everything into a bundle directory DIR instead of the target: an OCI layout (DIR/layout) plus DIR/bundle.json, which maps each image to its target. The target (or the sync file\'s targets) is the far side\'s, and nothing is written there now; carry DIR across and run `mirror bundle apply DIR` on the far side' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l inventory -d 'Leave out the blobs this inventory (`mirror inventory --output json` on the far side) lists for the target repository, or for another repository of the same registry (the apply mounts those). Repeatable' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l ledger -d 'The near side\'s record of what earlier bundles shipped: read as an inventory (when it exists), and this bundle\'s blobs are added to it once the bundle is sealed' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l max-volume-size -d 'Pack the layout into tar volumes of at most SIZE bytes (e.g. 4G, 700M, 64K), each with its own SHA-256 in bundle.json' -r
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l metrics-file -d 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter\'s textfile collector (name it `*.prom`). See docs/sync.md' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dry-run -d 'Show the plan (entries, reasons, sizes) and write nothing'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-platforms -d 'Fail (exit 3) when a literal --platform matches nothing, instead of warning'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l no-attestations -d 'Leave out BuildKit attestation manifests of the selected platforms'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l referrers -d 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l digest-tags -d 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l include-foreign-layers -d 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-password-stdin -d 'Read the source password from stdin (with --src-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l src-plain-http -d 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-password-stdin -d 'Read the target password from stdin (with --dest-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l dest-plain-http -d 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l require-signature-children -d 'With --require-signature or an identity: every selected child manifest must carry a valid signature too'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l sign-children -d 'With --sign-key: also sign each copied child image manifest'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l sign-key-password-stdin -d 'With --sign-key: read the password of cosign\'s encrypted key from stdin (instead of COSIGN_PASSWORD)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l hook-failure-exit -d 'A failed hook makes the exit code non-zero (copy: 1; sync: 6) when it would be 0'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l pack -d 'Pack the layout into one tar volume (DIR/layout.tar.001)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand copy" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-creds -d 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-registry-token -d 'A bearer token for the source registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-authfile -d 'A docker config.json or containers auth.json to read source credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-tls-verify -d 'Verify the source registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-cert-dir -d 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l referrers -d 'Also list referrers (OCI referrers API or `sha256-<hex>` fallback tag) and cosign-style `sha256-<hex>.*` digest tags of the index and every child'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-password-stdin -d 'Read the source password from stdin (with --src-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l src-plain-http -d 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s f -l file -d 'Also every target repository of this sync file (YAML; see docs/sync.md)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-creds -d 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-registry-token -d 'A bearer token for the target registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-authfile -d 'A docker config.json or containers auth.json to read target credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-tls-verify -d 'Verify the target registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-cert-dir -d 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l probe-sparse -d 'Per registry, PUT (by digest, untagged) a tiny index whose only child does not exist, and record whether the registry accepts sparse indexes (accepted, rejected or unknown)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-password-stdin -d 'Read the target password from stdin (with --dest-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l dest-plain-http -d 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand inventory" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand man" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand man" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand man" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand man" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand man" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand man" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand completions" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand completions" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand completions" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand completions" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand completions" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s f -l file -d 'The configuration file (YAML; see docs/sync.md)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l parallel -d 'Images (work items) processed at the same time' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l shard -d 'Run only shard INDEX of COUNT (0-based): N machines with 0/N … N-1/N cover every item once' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l shards -d 'Split into COUNT shards and run the one named by $JOB_COMPLETION_INDEX (Kubernetes Indexed Job)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l min-rate-remaining -d 'Pause before pulling when a registry\'s `ratelimit-remaining` (Docker Hub) drops below N' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l cache-dir -d 'Where to keep index manifests between runs, so unchanged tags cost HEAD requests only' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l prune-max -d 'More tag deletions than N in one run deletes nothing (exit 6, the list printed); 0 only plans' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l gc-min-age -d 'OCI layout targets: after pruning, unreferenced blobs younger than this stay (a copy may still be writing them)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l range-streams -d 'Fetch each blob of 32 MiB or more as N byte ranges in parallel, each on its own HTTP/1.1 connection (N for the whole run); 1 turns ranges off' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l limit-rate -d 'Cap the run\'s blob traffic at RATE bytes per second: 20M (20 MB/s), 512k, 1.5G, 20Mi (MiB/s)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l range-window -d 'The reorder window of ranged downloads, for the run (benchmarks; default 28Mi)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l range-chunk -d 'Bytes per range request (benchmarks; default: half the window\'s share per stream)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l range-min-rtt -d 'Sources that answer the range probe faster than this (milliseconds) get one stream (tests and benchmarks; default 20)' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l hook-timeout -d 'Kill a hook (its whole process group) after SECS seconds [default: 60, or `hooks.timeout` in a sync file]' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l sign-key -d 'Once the image is complete on the target, sign the digest its tag resolves to (the source\'s index, a sparse or a filtered one) with this private key, so clusters behind the gap trust one site key. Needs --require-signature: only what was verified is signed' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l sign-format -d 'With --sign-key: which signature objects to write' -r -f -a "tag\t'cosign\'s `sha256-<hex>.sig` tag: read by cosign 2 and 3, Kyverno, policy-controller and Connaisseur; works on every registry'
bundle\t'A Sigstore bundle referrer (cosign 3\'s format; the `sha256-<hex>` fallback tag where the registry has no referrers API)'
both\t'Both'"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l bundle -d 'Write everything into a bundle directory DIR instead of the target: an OCI layout (DIR/layout) plus DIR/bundle.json, which maps each image to its target. The target (or the sync file\'s targets) is the far side\'s, and nothing is written there now; carry DIR across and run `mirror bundle apply DIR` on the far side' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l inventory -d 'Leave out the blobs this inventory (`mirror inventory --output json` on the far side) lists for the target repository, or for another repository of the same registry (the apply mounts those). Repeatable' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l ledger -d 'The near side\'s record of what earlier bundles shipped: read as an inventory (when it exists), and this bundle\'s blobs are added to it once the bundle is sealed' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l max-volume-size -d 'Pack the layout into tar volumes of at most SIZE bytes (e.g. 4G, 700M, 64K), each with its own SHA-256 in bundle.json' -r
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l metrics-file -d 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter\'s textfile collector (name it `*.prom`). See docs/sync.md' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l client-config -d 'After the run, write the client configuration (as `mirror client-config --output-dir DIR`, every format) from what the targets hold now' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l dry-run -d 'Show what would be copied or repaired, with sizes; write nothing'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l verify -d 'After syncing, verify every item (exit 7 when something is still missing)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l keep-going -d 'Go on after an item fails (the default); the exit code is then 6'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l no-keep-going -d 'Stop starting new items after the first failure'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l no-cache -d 'Use no manifest cache (an unchanged tag then costs one GET on the target, none on the source)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l prune -d 'After the items, delete the target tags each entry\'s rules own and no longer select'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l hook-failure-exit -d 'A failed hook makes the exit code non-zero (copy: 1; sync: 6) when it would be 0'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l sign-children -d 'With --sign-key: also sign each copied child image manifest'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l sign-key-password-stdin -d 'With --sign-key: read the password of cosign\'s encrypted key from stdin (instead of COSIGN_PASSWORD)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l pack -d 'Pack the layout into one tar volume (DIR/layout.tar.001)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand sync" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s f -l file -d 'The sync configuration file (YAML; see docs/sync.md)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l format -d 'Which files (comma-separated or repeated; default: all four)' -r -f -a "containerd\t'containerd certs.d/<registry>/hosts.toml'
registries-conf\t'A registries.conf.d drop-in (CRI-O, podman, skopeo, buildah)'
idms\t'An OpenShift ImageDigestMirrorSet'
itms\t'An OpenShift ImageTagMirrorSet'"
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l output-dir -d 'Write the files under DIR (each through a temporary file and a rename); without it they are printed to stdout' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l parallel -d 'Targets checked at once' -r
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l dry-run -d 'Print the plan (each source, its mirrors, whether pulls by digest are served) and the files that would be written; write nothing'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand client-config" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -f -a "apply" -d 'Push every image of a bundle to its target; left-out blobs must be there already'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -f -a "check" -d 'Verify bundle.json and every volume without unpacking or pushing anything'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and not __fish_seen_subcommand_from apply check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l on-reject -d 'When the target refuses a sparse index: fail (exit 6 for that image), or push a filtered index (new digest). `full` cannot help here: the bundle holds only the selected platforms' -r -f -a "fail\t'Stop with exit code 4; nothing is tagged'
filter\t'Push a new index listing only the copied entries (new digest)'
full\t'Copy the remaining children too and push the original index'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l parallel -d 'Repositories applied at the same time (the images of one repository go one after another)' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l work-dir -d 'Where volumes are unpacked (default: the system temp directory)' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l prune-max -d 'More tag deletions than N deletes nothing (exit 6, the list printed); 0 only plans' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-creds -d 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-registry-token -d 'A bearer token for the target registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-authfile -d 'A docker config.json or containers auth.json to read target credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-tls-verify -d 'Verify the target registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-cert-dir -d 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dry-run -d 'Say what would be pushed and which left-out blobs are present, mountable or missing (HEAD requests only); push nothing'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l prune -d 'After the images, apply the bundle\'s deletion plan (written by `sync --bundle --prune`): each far tag that still names the planned digest is deleted with its artifacts, never a digest another tag needs. Nothing is pruned in a repository where an image failed'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-password-stdin -d 'Read the target password from stdin (with --dest-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l dest-plain-http -d 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from apply" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from help" -f -a "apply" -d 'Push every image of a bundle to its target; left-out blobs must be there already'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from help" -f -a "check" -d 'Verify bundle.json and every volume without unpacking or pushing anything'
complete -c mirror -n "__fish_mirror_using_subcommand bundle; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s p -l platform -d 'Platform(s) to mirror: os/arch[/variant][:os.version]; globs allowed; `!PATTERN` excludes' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l platformless -d 'What to do with index entries that have no platform (artifacts, nested indexes)' -r -f -a "copy\t'Copy them (default)'
skip\t'Leave them out'"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l on-reject -d 'When the target refuses a sparse index: fail (exit 4), filter (push a new, smaller index with a NEW digest), or full (copy every child and push the original index)' -r -f -a "fail\t'Stop with exit code 4; nothing is tagged'
filter\t'Push a new index listing only the copied entries (new digest)'
full\t'Copy the remaining children too and push the original index'"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l referrers-artifact-type -d 'Only referrers whose artifact type matches GLOB (repeatable; implies --referrers)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l always-copy -d 'Index entries that match RULE are mirrored even when the platform filter skips them (repeatable)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l never-copy -d 'Leave out index entries that match RULE (same forms as --always-copy; repeatable)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s j -l jobs -d 'Concurrent transfers: blob copies (HEAD requests for `verify`); at most a third of them (rounded up) move blobs of 1 MiB or more' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l retries -d 'Retries for each idempotent request or blob copy (exponential backoff with jitter)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l timeout -d 'Per-request timeout in seconds (blob bodies excepted)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-creds -d 'Credentials for the source registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-registry-token -d 'A bearer token for the source registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-authfile -d 'A docker config.json or containers auth.json to read source credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-tls-verify -d 'Verify the source registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-cert-dir -d 'Certificates for the source registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-creds -d 'Credentials for the target registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-registry-token -d 'A bearer token for the target registry, sent as is (no token server round trip)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-authfile -d 'A docker config.json or containers auth.json to read target credentials from' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-tls-verify -d 'Verify the target registry\'s TLS certificate' -r -f -a "true\t''
false\t''"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-cert-dir -d 'Certificates for the target registry: *.crt CA files, client.cert + client.key for mutual TLS' -r -f -a "(__fish_complete_directories)"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l authfile -d 'A docker config.json or containers auth.json with credentials for any registry (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature -d 'Refuse (exit 8, nothing written) unless a signature over the source index digest verifies with this PEM public key; repeatable, any one key suffices' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature-identity -d 'Accept keyless cosign signatures whose certificate names this identity (the SAN: an email or URI), as cosign\'s --certificate-identity; repeatable. Needs an issuer flag and --trusted-root. Checked offline: certificate chain, SCT, Rekor entry (docs/signatures.md)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature-identity-regexp -d 'As --require-signature-identity, a regular expression matched anywhere in the SAN (as cosign\'s --certificate-identity-regexp; anchor it with ^…$); repeatable' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature-issuer -d 'The OIDC issuer the identities must come from, as cosign\'s --certificate-oidc-issuer' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature-issuer-regexp -d 'As --require-signature-issuer, a regular expression (cosign\'s --certificate-oidc-issuer-regexp)' -r
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l trusted-root -d 'The Sigstore trusted root (trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp authorities) keyless signatures are checked against; read from disk, never fetched. Refresh it on the connected side (`cosign trusted-root create`)' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l metrics-file -d 'Write Prometheus metrics (text format) to PATH when the run ends, replacing the file atomically: for node_exporter\'s textfile collector (name it `*.prom`). See docs/sync.md' -r -F
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-platforms -d 'Fail (exit 3) when a literal --platform matches nothing, instead of warning'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l no-attestations -d 'Leave out BuildKit attestation manifests of the selected platforms'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l referrers -d 'Mirror referrers of the index and of each selected child: signatures, SBOMs, attestations (manifests whose `subject` names them), recursively; `verify` checks them'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l digest-tags -d 'Mirror cosign-style tags `sha256-<hex>.<suffix>` (.sig, .att, .sbom, any suffix) of the index and of each selected child, byte for byte; `verify` checks them'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l include-foreign-layers -d 'Foreign / non-distributable layers (Windows base layers) are copied too, each downloaded from its URLs and verified by digest'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-password-stdin -d 'Read the source password from stdin (with --src-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l src-plain-http -d 'Talk plain HTTP to the source registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-password-stdin -d 'Read the target password from stdin (with --dest-creds USER)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l dest-plain-http -d 'Talk plain HTTP to the target registry (loopback hosts fall back to it by themselves)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l allow-insecure-auth -d 'Send credentials over plain HTTP to registries that are not on this machine (unsafe)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l require-signature-children -d 'With --require-signature or an identity: every selected child manifest must carry a valid signature too'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand verify" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -l min-age -d 'Keep unreferenced blobs younger than this many seconds' -r
complete -c mirror -n "__fish_mirror_using_subcommand gc" -l lock-timeout -d 'Seconds to wait for another writer of the same OCI layout before failing' -r
complete -c mirror -n "__fish_mirror_using_subcommand gc" -s o -l output -d 'Result format on stdout: `human` prints TARGET@DIGEST, `json` prints the full report' -r -f -a "human\t'`TARGET@DIGEST` on stdout, a summary on stderr'
json\t'The JSON report on stdout (see docs/json-output.md)'"
complete -c mirror -n "__fish_mirror_using_subcommand gc" -l color -d 'When to use colour on stderr. NO_COLOR is honoured by `auto`' -r -f -a "auto\t'Colour when stderr is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c mirror -n "__fish_mirror_using_subcommand gc" -l dry-run -d 'List the unreferenced blobs and their sizes; delete nothing'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -s q -l quiet -d 'Print only errors on stderr: no warnings, no summary, no progress'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -s v -l verbose -d 'More logging on stderr: -v for debug, -vv for trace (RUST_LOG overrides)'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -l no-progress -d 'Never draw progress bars (they are drawn only when stderr is a terminal anyway)'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mirror -n "__fish_mirror_using_subcommand gc" -s V -l version -d 'Print version'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "copy" -d 'Copy an image, keeping only selected platforms and the original index digest'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "inspect" -d 'Show what a reference resolves to: the index, every child with its platform and size, attestations, annotations, and which children a sparse source lacks. Copies nothing'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "inventory" -d 'List what registry repositories or OCI layouts hold (tags, manifests, blobs, with digests and sizes), for computing an air-gap delta against it. Writes nothing (but see --probe-sparse)'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "man" -d 'Write man pages (mirror.1 and one per subcommand) into a directory'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "completions" -d 'Print shell completions to stdout'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "sync" -d 'Mirror every image and tag listed in a YAML file: incremental, parallel, shardable'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "client-config" -d 'Write the configuration that points clients at the mirror: containerd hosts.toml, a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah), OpenShift ImageDigestMirrorSet and ImageTagMirrorSet'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "bundle" -d 'Apply or check a delta bundle on the air-gapped side (written by `copy`/`sync --bundle`)'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "verify" -d 'Check that a target holds a complete mirror of a source image (HEAD requests only)'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "gc" -d 'Delete the blobs of an OCI layout that nothing reachable from its index.json references'
complete -c mirror -n "__fish_mirror_using_subcommand help; and not __fish_seen_subcommand_from copy inspect inventory man completions sync client-config bundle verify gc help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mirror -n "__fish_mirror_using_subcommand help; and __fish_seen_subcommand_from bundle" -f -a "apply" -d 'Push every image of a bundle to its target; left-out blobs must be there already'
complete -c mirror -n "__fish_mirror_using_subcommand help; and __fish_seen_subcommand_from bundle" -f -a "check" -d 'Verify bundle.json and every volume without unpacking or pushing anything'
