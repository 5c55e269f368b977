//! Issue 25: `mirror sync --prune`, `mirror gc`, `bundle apply --prune`, against real
//! distribution 2.8 processes (deletes enabled, and one with them off) and go-containerregistry's
//! registry as a second implementation of the delete API. The fault proxy stands in only for a
//! source whose tag list comes back empty or truncated.

use std::collections::BTreeSet;
use std::path::Path;

use crate::fault_proxy::{Fault, FaultConfig, FaultProxy, Rule};
use crate::fixtures::{self, Blob, Image, Manifest, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST};
use crate::harness::{mirror_in_async, sha256, CraneRegistry, Http, Output, Registry};
use crate::supply_chain::{cosign_sig, fallback_index, fallback_tag, signature, Art};
use sparse_mirror::app::sync::report::{Action, ItemReport, Line, Summary};

mod airgap;
mod layout;

/// A small single-platform image whose digest depends on `v` only.
pub fn version(v: &str) -> Image {
    let config = Blob::new(
        OCI_CONFIG,
        format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"version":"{v}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#).into_bytes(),
    );
    let layer = Blob::new(
        OCI_LAYER,
        fixtures::pseudo_bytes(&format!("layer {v}"), 700),
    );
    let bytes = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":{}}},"layers":[{{"mediaType":"{OCI_LAYER}","digest":"{}","size":{}}}]}}"#,
        config.digest,
        config.bytes.len(),
        layer.digest,
        layer.bytes.len()
    )
    .into_bytes();
    Image {
        index: Manifest {
            media_type: OCI_MANIFEST.into(),
            digest: sha256(&bytes),
            bytes,
            platform: Some("linux/amd64".into()),
            blobs: vec![config, layer],
            attestation_of: None,
        },
        children: vec![],
        nested: vec![],
    }
}

/// Push `versions` to `host/repo`; with `artifacts`, each also gets a cosign `.sig` tag and a
/// signature referrer listed in its `sha256-<hex>` fallback index (2.8 has no referrers API).
pub async fn push_versions(
    http: &Http,
    host: &str,
    repo: &str,
    versions: &[&str],
    artifacts: bool,
) -> Vec<(Image, Vec<Art>)> {
    let mut out = vec![];
    for v in versions {
        let img = version(v);
        fixtures::push_image(http, host, repo, v, &img).await;
        let mut arts = vec![];
        if artifacts {
            arts = vec![
                cosign_sig(&format!("{v}.sig"), &img.index),
                signature(&format!("{v}-sig"), &img.index),
            ];
            for a in &arts {
                fixtures::push_blobs(
                    http,
                    host,
                    repo,
                    &a.manifest.blobs.iter().collect::<Vec<_>>(),
                )
                .await;
                let r = a.tag.clone().unwrap_or_else(|| a.manifest.digest.clone());
                fixtures::push_manifest_only(http, host, repo, &r, &a.manifest).await;
            }
            let fb = fallback_index(&[&arts[1]]);
            let (s, body) = http
                .put_manifest(
                    host,
                    repo,
                    &fallback_tag(&img.index.digest),
                    fixtures::OCI_INDEX,
                    &fb,
                )
                .await;
            assert_eq!(s, 201, "{body}");
        }
        out.push((img, arts));
    }
    out
}

/// Decode `--output json`: item lines, then exactly one summary line, last.
pub fn lines(out: &Output) -> (Vec<ItemReport>, Summary) {
    let mut items = vec![];
    let mut summary = None;
    for l in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        assert!(summary.is_none(), "a line after the summary: {out}");
        match serde_json::from_str::<Line>(l)
            .unwrap_or_else(|e| panic!("JSON line does not decode ({e}): {l}\n{out}"))
        {
            Line::Item(i) => items.push(i),
            Line::Summary(s) => summary = Some(s),
        }
    }
    (
        items,
        summary.unwrap_or_else(|| panic!("no summary line: {out}")),
    )
}

/// Items with `action`, by target.
pub fn with(items: &[ItemReport], action: Action) -> BTreeSet<String> {
    items
        .iter()
        .filter(|i| i.action == action)
        .map(|i| i.target.clone())
        .collect()
}

pub async fn sync(dir: &Path, cfg: &str, extra: &[&str]) -> Output {
    std::fs::write(dir.join("mirror.yaml"), cfg).unwrap();
    let mut args = vec!["sync", "-f", "mirror.yaml", "--no-cache", "-o", "json"];
    args.extend_from_slice(extra);
    mirror_in_async(dir, &args, &[]).await
}

pub fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn tags(http: &Http, host: &str, repo: &str) -> BTreeSet<String> {
    http.tags(host, repo).await.into_iter().collect()
}

fn cfg(src: &str, dst: &str, latest: usize) -> String {
    format!(
        r#"hooks:
  on-change: [sh, -c, 'echo "$MIRROR_OUTCOME $MIRROR_TARGET $MIRROR_DIGEST" >> hooks.log']
images:
  - source: {src}/team/app
    target: {dst}/mirror/app
    digest-tags: true
    referrers: true
    tags: {{semver: ">=1", latest: {latest}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_two_of_five_keeps_the_two_newest_with_their_artifacts_and_nothing_else() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let (s, t) = (src.host(), dst.host());
    let pushed = push_versions(
        &http,
        &s,
        "team/app",
        &["1.0", "1.1", "1.2", "1.3", "1.4"],
        true,
    )
    .await;
    let out = sync(dir.path(), &cfg(&s, &t, 5), &[]).await;
    assert_eq!(out.code, 0, "{out}");
    // Someone else's tag in the same repository, which the rules do not match.
    let other = version("nightly");
    fixtures::push_image(&http, &t, "mirror/app", "nightly", &other).await;
    let all = tags(&http, &t, "mirror/app").await;
    assert_eq!(
        all.len(),
        16,
        "5 versions, their .sig and fallback tags, nightly: {all:?}"
    );

    // The plan: lines and JSON, nothing written.
    let plan = sync(dir.path(), &cfg(&s, &t, 2), &["--prune", "--dry-run"]).await;
    assert_eq!(plan.code, 0, "{plan}");
    let (items, summary) = lines(&plan);
    let would: Vec<&ItemReport> = items
        .iter()
        .filter(|i| i.action == Action::WouldPrune)
        .collect();
    assert_eq!(would.len(), 3, "{plan}");
    for w in &would {
        let p = w.prune.as_ref().unwrap();
        assert_eq!(p.why.to_string(), "not-selected: latest 2 of semver >=1");
        let kinds: BTreeSet<&str> = p.artifacts.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["digest-tag", "referrer", "referrers-index"]),
            "{plan}"
        );
    }
    assert_eq!(summary.would_prune, 3);
    assert_eq!(summary.not_owned[0].tags, vec!["nightly".to_string()]);
    assert_eq!(
        tags(&http, &t, "mirror/app").await,
        all,
        "a dry run deletes nothing"
    );

    // Over the cap: nothing deleted, exit 6, the list in the report.
    let capped = sync(
        dir.path(),
        &cfg(&s, &t, 2),
        &["--prune", "--prune-max", "2"],
    )
    .await;
    assert_eq!(capped.code, 6, "{capped}");
    let (items, summary) = lines(&capped);
    assert_eq!(with(&items, Action::PruneRefused).len(), 3, "{capped}");
    assert!(items
        .iter()
        .filter(|i| i.action == Action::PruneRefused)
        .all(|i| i
            .error
            .as_deref()
            .unwrap()
            .contains("more than --prune-max 2")));
    assert_eq!(summary.prune_failures, 3);
    assert_eq!(tags(&http, &t, "mirror/app").await, all);

    let prom = dir.path().join("m.prom");
    let done = sync(
        dir.path(),
        &cfg(&s, &t, 2),
        &["--prune", "--metrics-file", prom.to_str().unwrap()],
    )
    .await;
    assert_eq!(done.code, 0, "{done}");
    let (items, summary) = lines(&done);
    let target = |v: &str| format!("{t}/mirror/app:{v}");
    assert_eq!(
        with(&items, Action::Pruned),
        [target("1.0"), target("1.1"), target("1.2")].into()
    );
    assert_eq!(summary.pruned, 3);
    let mut want = set(&["1.3", "1.4", "nightly"]);
    for (img, _) in &pushed[3..] {
        want.insert(fallback_tag(&img.index.digest));
        want.insert(format!("{}.sig", fallback_tag(&img.index.digest)));
    }
    assert_eq!(tags(&http, &t, "mirror/app").await, want);
    // The older digests, their signatures and referrers are gone; the kept ones are whole.
    for (k, (img, arts)) in pushed.iter().enumerate() {
        let gone = k < 3;
        for d in std::iter::once(&img.index.digest).chain(arts.iter().map(|a| &a.manifest.digest)) {
            let (status, _) = http.head_manifest(&t, "mirror/app", d).await;
            assert_eq!(status, if gone { 404 } else { 200 }, "{d} of version {k}");
        }
    }
    assert_eq!(
        http.head_manifest(&t, "mirror/app", "nightly").await.1,
        Some(other.index.digest.clone())
    );
    // Reports, metrics and hooks know.
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(
        metrics.contains("mirror_pruned_total{command=\"sync\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mirror_items_total{command=\"sync\",outcome=\"pruned\"} 3"),
        "{metrics}"
    );
    let hooks = std::fs::read_to_string(dir.path().join("hooks.log")).unwrap();
    for (img, _) in &pushed[..3] {
        assert!(
            hooks.contains(&format!("pruned {t}/mirror/app:")) && hooks.contains(&img.index.digest),
            "{hooks}"
        );
    }
    // A rerun has nothing to prune.
    let again = sync(dir.path(), &cfg(&s, &t, 2), &["--prune"]).await;
    let (items, _) = lines(&again);
    assert!(items.iter().all(|i| i.prune.is_none()), "{again}");
}

/// Two tags on one digest, one of them dropped, on both implementations.
async fn shared_digest(t: &str, tag_alone: bool) {
    let src = Registry::start();
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let s = src.host();
    push_versions(&http, &s, "team/app", &["1.0", "1.1"], false).await;
    let b = version("1.1");
    fixtures::push_manifest_only(&http, &s, "team/app", "1.1.0", &b.index).await;
    let c = |n| {
        format!("images:\n  - source: {s}/team/app\n    target: {t}/mirror/app\n    tags: {{semver: \">=1\", latest: {n}}}\n")
    };
    assert_eq!(sync(dir.path(), &c(3), &[]).await.code, 0);
    // `latest: 1` keeps 1.1 (1.1 and 1.1.0 are one version; the shorter tag ranks first).
    let out = sync(dir.path(), &c(1), &["--prune"]).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, _) = lines(&out);
    let item = |v: &str| {
        items
            .iter()
            .find(|i| i.target == format!("{t}/mirror/app:{v}"))
            .unwrap_or_else(|| panic!("{out}"))
    };
    assert_eq!(item("1.0").action, Action::Pruned);
    assert_eq!(
        item("1.1.0").target_digest.as_ref().unwrap().as_str(),
        b.index.digest
    );
    if tag_alone {
        assert_eq!(item("1.1.0").action, Action::Pruned);
        assert!(item("1.1.0").prune.as_ref().unwrap().tag_only);
        assert_eq!(tags(&http, t, "mirror/app").await, set(&["1.1"]));
    } else {
        assert_eq!(item("1.1.0").action, Action::PruneRefused, "{out}");
        let w = &item("1.1.0").warnings[0];
        assert!(
            w.contains("cannot delete a tag alone")
                && w.contains("DIGEST_INVALID")
                && w.contains("kept tag(s) 1.1"),
            "{w}"
        );
        assert_eq!(tags(&http, t, "mirror/app").await, set(&["1.1", "1.1.0"]));
    }
    assert_eq!(
        http.head_manifest(t, "mirror/app", "1.1").await.1,
        Some(b.index.digest.clone())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_a_kept_tag_needs_survives_on_distribution_which_keeps_the_other_tag_too() {
    let dst = Registry::start();
    shared_digest(&dst.host(), false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crane_s_registry_deletes_the_tag_alone_and_the_digest_survives() {
    let dst = CraneRegistry::start();
    shared_digest(&dst.host(), true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gone_at_source_is_pruned_and_an_empty_or_truncated_listing_prunes_nothing() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let (s, t) = (src.host(), dst.host());
    let pushed = push_versions(&http, &s, "team/app", &["v1", "v2", "v3"], false).await;
    let c = |host: &str| {
        format!("images:\n  - source: {host}/team/app\n    target: {t}/mirror/app\n    tags: {{regex: '^v'}}\n")
    };
    assert_eq!(sync(dir.path(), &c(&s), &[]).await.code, 0);
    assert_eq!(
        http.delete_manifest(&s, "team/app", &pushed[2].0.index.digest)
            .await,
        202
    );
    let before = tags(&http, &t, "mirror/app").await;
    for (listing, why) in [
        (
            r#"{"name":"team/app","tags":[]}"#,
            "listing failed or listed no tag",
        ),
        (
            r#"{"name":"team/app","tags":["v1"]}"#,
            "omitted v2, which the source still serves",
        ),
    ] {
        let proxy = FaultProxy::start(
            &s,
            FaultConfig::rules(vec![Rule {
                method: "GET",
                path_contains: "/tags/list".into(),
                nth: 0,
                fault: Fault::Canned(200, listing),
            }]),
        )
        .await;
        let out = sync(dir.path(), &c(&proxy.host()), &["--prune"]).await;
        assert_eq!(out.code, 6, "{out}");
        let (items, summary) = lines(&out);
        let refused: Vec<&ItemReport> = items
            .iter()
            .filter(|i| i.action == Action::PruneRefused)
            .collect();
        assert_eq!(refused.len(), 1, "{out}");
        assert_eq!(refused[0].target, format!("{t}/mirror/app:*"));
        let text = refused[0]
            .error
            .clone()
            .or(refused[0].warnings.first().cloned())
            .unwrap();
        assert!(
            text.starts_with("nothing pruned") && text.contains(why),
            "{text}"
        );
        assert_eq!(summary.pruned, 0);
        assert_eq!(tags(&http, &t, "mirror/app").await, before, "{out}");
    }
    // The true listing: v3 answers 404 at the source.
    let out = sync(dir.path(), &c(&s), &["--prune"]).await;
    assert_eq!(out.code, 0, "{out}");
    let (items, _) = lines(&out);
    let p = items
        .iter()
        .find(|i| i.action == Action::Pruned)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(p.target, format!("{t}/mirror/app:v3"));
    assert_eq!(p.prune.as_ref().unwrap().why.to_string(), "gone-at-source");
    assert_eq!(tags(&http, &t, "mirror/app").await, set(&["v1", "v2"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn deletes_disabled_are_a_clear_error_and_the_copies_of_the_run_are_done() {
    let (src, dst) = (Registry::start(), Registry::start_without_deletes());
    let (http, dir) = (Http::new(), tempfile::tempdir().unwrap());
    let (s, t) = (src.host(), dst.host());
    push_versions(&http, &s, "team/app", &["1.0", "1.1"], false).await;
    let c = format!("images:\n  - source: {s}/team/app\n    target: {t}/mirror/app\n    tags: {{semver: \">=1\", latest: 2}}\n");
    assert_eq!(sync(dir.path(), &c, &[]).await.code, 0);
    push_versions(&http, &s, "team/app", &["1.2"], false).await;
    let out = sync(dir.path(), &c, &["--prune"]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, summary) = lines(&out);
    assert_eq!(
        with(&items, Action::Copied),
        set(&[format!("{t}/mirror/app:1.2").as_str()])
    );
    let r = items
        .iter()
        .find(|i| i.action == Action::PruneRefused)
        .unwrap_or_else(|| panic!("{out}"));
    let e = r.error.as_deref().unwrap();
    for want in [
        &format!("{t}/mirror/app"),
        "DELETE",
        "405",
        "UNSUPPORTED",
        "storage.delete.enabled: true",
    ] {
        assert!(e.contains(want), "{want:?} missing from: {e}");
    }
    assert_eq!((summary.copied, summary.prune_failures), (1, 1));
    assert_eq!(
        tags(&http, &t, "mirror/app").await,
        set(&["1.0", "1.1", "1.2"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prune_refuses_shards_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let c = "defaults:\n  prune: true\nimages:\n  - source: 127.0.0.1:9/team/app\n    target: 127.0.0.1:9/mirror/app\n    tags: {latest: 2}\n";
    let out = sync(dir.path(), c, &["--shard", "0/2"]).await;
    assert_eq!(out.code, 2, "{out}");
    assert!(
        out.stderr.contains("does not combine with --shard"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_the_delete_action_is_a_clear_error() {
    use crate::auth::token_issuer::{IssuerConfig, TokenIssuer};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("issuer")).unwrap();
    let issuer = TokenIssuer::start(
        &dir.path().join("issuer"),
        IssuerConfig {
            user: "alice".into(),
            password: "prune-test-pass".into(),
            refresh_token: None,
            lifetime: 300,
            expires_in: Some(300),
        },
    )
    .await;
    let (src, dst) = (
        Registry::start(),
        Registry::start_with(&issuer.registry_yaml()),
    );
    let http = Http::new();
    let (s, t) = (src.host(), dst.host());
    push_versions(&http, &s, "team/app", &["1.0", "1.1"], false).await;
    let c = |n| {
        format!("registries:\n  {t}:\n    credentials: \"alice:prune-test-pass\"\nimages:\n  - source: {s}/team/app\n    target: {t}/mirror/app\n    tags: {{semver: \">=1\", latest: {n}}}\n")
    };
    assert_eq!(sync(dir.path(), &c(2), &[]).await.code, 0);
    issuer.withhold("delete");
    let out = sync(dir.path(), &c(1), &["--prune"]).await;
    assert_eq!(out.code, 6, "{out}");
    let (items, _) = lines(&out);
    let r = items
        .iter()
        .find(|i| i.action == Action::PruneRefused)
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(r.exit_code, Some(5), "{out}");
    let e = r.error.as_deref().unwrap();
    for want in ["DELETE", "401", &t, "repository:NAME:delete"] {
        assert!(e.contains(want), "{want:?} missing from: {e}");
    }
    assert!(issuer
        .requests()
        .iter()
        .any(|q| q.scopes.iter().any(|sc| sc.ends_with("mirror/app:delete"))));
}
