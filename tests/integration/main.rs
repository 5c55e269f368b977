//! The one integration-test binary. Registries are real `docker-registry` (distribution 2.8)
//! and `crane registry serve` (go-containerregistry) processes started by `harness`;
//! `fake_registry` stands in only for behaviour no installable registry has (accepting sparse
//! indexes, distribution v3's `platforms: list` mode).

mod fake_registry; // in-process registry that accepts sparse indexes
mod fake_sigstore; // in-process private Fulcio + Rekor for keyless signing (issue 23)
mod fault_proxy; // fault-injecting proxy in front of a real registry
mod fixtures; // deterministic images with unusual JSON formatting
mod harness; // registry processes, HTTP helpers, running the binary
mod hostile_registry_cases; // one misbehaviour per case, for hostile_registry
mod hostile_registry_server; // scriptable hostile registry in front of a real one; measured runs

mod airgap; // archives, shared layouts, crash safety, skopeo interop
mod airgap_delta; // issue 16: inventory, delta bundles, volumes, apply; the 3-trip scenario, docs walkthrough
mod archive_entries;
mod auth; // credentials, token auth, TLS and secret hygiene against secured registries
mod bundle; // issue 16: --bundle, bundle apply/check, ledger, mounts // oci-archive tars: only regular files and directories are unpacked
mod citations; // registry-fact citations name sections of docs/registries.md
mod cli; // help, completions, exit-code docs, usage errors
mod client_config; // issue 26: generated client configuration: snapshots, parsers, CRD schema
mod client_pull; // issue 26: skopeo and containerd pull through the generated files, source down
mod copy_layout; // registry ↔ OCI layout
mod copy_registry; // registry → registry: byte equality, sparse rejection, policies, reruns
mod copy_sparse; // a target that accepts sparse indexes
mod crane_registry; // go-containerregistry's registry as the target: a second real implementation
mod crash; // SIGKILL at random moments: no tag on an incomplete image, reruns finish
mod docs; // README demo, docs/air-gap.md commands, inspect, man pages
mod faults; // retries under injected faults (reset, 5xx, 429, truncation, stalls, bad digests)
mod gateway; // --sign-key: the site signature, verified by the real cosign 3/2 (issue 22)
mod hooks; // issue 17: sync hooks and copy --on-change run real programs
mod hostile; // hostile sources: refused with a clear error, nothing written to the target
mod hostile_registry; // hostile registries: no panic, no hang, bounded memory, credentials stay home
mod inventory; // issue 16: mirror inventory of registries, layouts and sync targets; the sealed file
mod keyless_signers; // issue 23: cosign 3/2 sign keylessly against the private instance
mod keyless_sync; // issue 23: keyless identity policies in the sync file (defaults, entries, --verify, --bundle)
mod layers; // the architecture check: no import cycles between top-level modules, layers kept
mod messages; // golden snapshots of errors and help
mod missing_children; // issue 21: children the source lacks are checked --jobs at a time (copy, --dry-run)
mod one_truth; // issue 13: copy, verify and sync report one target state (filtered mirrors, read cost)
mod outputs; // insta snapshots of the human output and JSON of copy, sync, verify and inspect
mod preflight_probe; // the preflight's probe index per registry behaviour (2.8, crane, fake v3 list mode)
mod prune; // issue 25: sync --prune, gc, bundle apply --prune; 2.8 with and without deletes, crane
mod ranges; // issue 24: parallel ranged downloads, refusing sources, largest first, the rate cap
mod ranges_redirect; // issue 24: ranges from redirected, expiring blob URLs carry no credentials
mod retry_after; // issue 21: a Retry-After beyond the 30 s limit ends the step at once, saying when to retry
mod secrets; // no URL userinfo, token parameter or _state in logs, reports or errors
mod short_body; // issue 21: a blob body shorter than its Content-Length gets a hint that fits
mod sigint; // SIGINT/SIGTERM mid-transfer: sessions cancelled, no temp files, exit 130
mod signature_gate; // --require-signature: refusals (exit 8, nothing written), formats, hostile objects
mod signers; // cosign 3/2 and notation signatures verify after every copy path (issue 15)
mod soak; // many copies through random faults on both sides: correct or a clean error
mod supply_chain; // referrers, digest tags, copy rules, foreign layers (issue 5)
mod sync; // mirror sync / verify: incremental refresh, request counts, tags, shards, failures
mod unattended; // issue 17: target-prefix, catalog discovery, metrics, hooks
