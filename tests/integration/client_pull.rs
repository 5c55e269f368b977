//! Issue 26 with real clients: after `mirror sync --client-config DIR`, skopeo (Debian) with
//! the generated registries.conf.d drop-in and containerd (Debian, started here as root with its
//! own root, state and socket) with the generated `certs.d` pull the source references, by tag
//! and by digest, from the mirror while the source registry is stopped. The repository mirrored
//! with `on-reject: filter` fails a pull by its source digest exactly as the warning said
//! (the pull goes to the stopped source), and serves its filtered digest.
//!
//! The images are real (an uncompressed tar layer whose digest is the config's diff_id), so
//! containerd unpacks the selected platform (`native` snapshotter).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{mirror, sha256, Http, Registry};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A two-platform image (linux/amd64, linux/arm64), each child one real tar layer; returns the
/// index digest and the amd64 child's digest.
async fn push_real_image(http: &Http, host: &str, repo: &str, tag: &str) -> (String, String) {
    let mut entries = vec![];
    let mut amd64 = String::new();
    for arch in ["amd64", "arm64"] {
        let content = format!("{repo} for linux/{arch}\n");
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, "hello.txt", content.as_bytes())
            .unwrap();
        let layer = tar.into_inner().unwrap();
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            sha256(&layer)
        );
        let layer_digest = http.push_blob(host, repo, &layer).await;
        let config_digest = http.push_blob(host, repo, config.as_bytes()).await;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
            config.len(),
            layer.len()
        );
        let digest = sha256(manifest.as_bytes());
        let (status, body) = http
            .put_manifest(host, repo, &digest, OCI_MANIFEST, manifest.as_bytes())
            .await;
        assert_eq!(status, 201, "{body}");
        if arch == "amd64" {
            amd64 = digest.clone();
        }
        entries.push(format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            manifest.len()
        ));
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        entries.join(",")
    );
    let (status, body) = http
        .put_manifest(host, repo, tag, OCI_INDEX, index.as_bytes())
        .await;
    assert_eq!(status, 201, "{body}");
    (sha256(index.as_bytes()), amd64)
}

/// `skopeo --registries-conf CONF ARGS…` → (success, stdout bytes, stderr).
fn skopeo(conf: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(conf)
        .args(args)
        .env("HOME", conf.parent().unwrap())
        .stdin(Stdio::null())
        .output()
        .expect("skopeo (Debian package skopeo) runs");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A containerd daemon with its own root, state and socket under a temp dir; killed on drop.
struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Containerd {
    fn start() -> Containerd {
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "the containerd proof runs containerd as root (CI runs as root)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{0}/debug.sock\"\n[metrics]\n  address = \"\"\n",
            d.display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd (Debian package containerd; scripts/test installs it) starts");
        let c = Containerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.ctr(&["version"]).0 {
            assert!(
                Instant::now() < deadline,
                "containerd did not start:\n{}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCK --namespace mirror-test ARGS…` → (success, stdout + stderr).
    fn ctr(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ctr")
            .arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .args(["--namespace", "mirror-test"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ctr runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn pull(&self, hosts: &Path, reference: &str) -> (bool, String) {
        let hosts = hosts.display().to_string();
        self.ctr(&[
            "images",
            "pull",
            "--hosts-dir",
            &hosts,
            "--snapshotter",
            "native",
            "--platform",
            "linux/amd64",
            reference,
        ])
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_and_containerd_pull_from_the_mirror_with_the_source_down() {
    let src = Registry::start();
    let dst = Registry::start();
    let http = Http::new();
    let (app, app_amd64) = push_real_image(&http, &src.host(), "team/app", "v1").await;
    let (web, _) = push_real_image(&http, &src.host(), "team/web", "v1").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("mirror.yaml");
    // distribution 2.8 refuses sparse indexes: `full` keeps the index digest, `filter` makes one
    // of its own.
    std::fs::write(
        &file,
        format!(
            "defaults:\n  target-prefix: {dst}/mirror\n  platforms: [linux/amd64]\nimages:\n  \
             - source: {src}/team/app\n    tags: [v1]\n    on-reject: full\n  \
             - source: {src}/team/web\n    tags: [v1]\n    on-reject: filter\n",
            dst = dst.host(),
            src = src.host()
        ),
    )
    .unwrap();
    let out_dir = tmp.path().join("clients");
    let (f, o) = (file.to_str().unwrap(), out_dir.to_str().unwrap());
    let run = mirror(&["sync", "-f", f, "--client-config", o]);
    assert_eq!(run.code, 0, "{run}");
    let filtered_warning = format!(
        "{}/team/web: by-digest pulls of 1 item(s) will not be served from {}/mirror/team/web",
        src.host(),
        dst.host()
    );
    assert!(run.stderr.contains(&filtered_warning), "{run}");
    assert!(
        run.stderr
            .contains(&format!("{} is reached over plain HTTP", dst.host())),
        "{run}"
    );
    // `mirror client-config` reads the targets itself and writes the same files.
    let again = tmp.path().join("again");
    let cc = mirror(&[
        "client-config",
        "-f",
        f,
        "--output-dir",
        again.to_str().unwrap(),
    ]);
    assert_eq!(cc.code, 0, "{cc}");
    assert!(cc.stderr.contains(&filtered_warning), "{cc}");
    // --dry-run: the plan, and nothing written.
    let planned = tmp.path().join("planned");
    let plan = mirror(&[
        "client-config",
        "-f",
        f,
        "--dry-run",
        "--output-dir",
        planned.to_str().unwrap(),
    ]);
    assert_eq!(plan.code, 0, "{plan}");
    for want in [
        format!("{}/team/app\n  1. → {}/mirror/team/app  (insecure: plain HTTP; by digest: served (1 item(s)", src.host(), dst.host()),
        format!("→ {}/mirror/team/web  (insecure: plain HTTP; by digest: NOT served for 1 item(s) holding filtered indexes ({}/team/web:v1))", dst.host(), src.host()),
        format!("would write {}", planned.join("imagedigestmirrorset.yaml").display()),
    ] {
        assert!(plan.stdout.contains(&want), "{want:?} not in {plan}");
    }
    assert!(!planned.exists(), "a dry run wrote {}", planned.display());
    let conf = out_dir.join("registries.conf.d/50-sparse-mirror.conf");
    let hosts_toml = out_dir.join(format!("certs.d/{}/hosts.toml", src.host()));
    for rel in [
        "registries.conf.d/50-sparse-mirror.conf",
        &format!("certs.d/{}/hosts.toml", src.host()),
        "imagedigestmirrorset.yaml",
        "imagetagmirrorset.yaml",
    ] {
        let (a, b) = (out_dir.join(rel), again.join(rel));
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{rel}"
        );
    }
    let hosts: toml::Table =
        toml::from_str(&std::fs::read_to_string(&hosts_toml).unwrap()).unwrap();
    let mirror_url = format!("http://{}/v2/mirror", dst.host());
    assert_eq!(
        hosts["host"][&mirror_url]["override_path"].as_bool(),
        Some(true)
    );
    let filtered_digest = {
        let (_, d) = http
            .head_manifest(&dst.host(), "mirror/team/web", "v1")
            .await;
        d.unwrap()
    };
    assert_ne!(
        filtered_digest, web,
        "on-reject: filter made an index of its own"
    );

    // The source is stopped: every pull below is served by the mirror, or fails.
    let src_host = src.host();
    drop(src);
    let r = |repo: &str, rest: &str| format!("docker://{src_host}/{repo}{rest}");

    // skopeo, by tag and by digest.
    for reference in [r("team/app", ":v1"), r("team/app", &format!("@{app}"))] {
        let (ok, raw, err) = skopeo(&conf, &["inspect", "--raw", &reference]);
        assert!(ok, "skopeo inspect {reference}: {err}");
        assert_eq!(
            sha256(&raw),
            app,
            "{reference} is the source index, byte for byte"
        );
        let layout = format!("oci:{}:x", tmp.path().join("copied").display());
        let (ok, _, err) = skopeo(&conf, &["--insecure-policy", "copy", &reference, &layout]);
        assert!(ok, "skopeo copy {reference}: {err}");
    }
    let (ok, raw, err) = skopeo(&conf, &["inspect", "--raw", &r("team/web", ":v1")]);
    assert!(ok, "{err}");
    assert_eq!(sha256(&raw), filtered_digest, "by tag: the filtered index");
    let pinned = r("team/web", &format!("@{filtered_digest}"));
    let (ok, _, err) = skopeo(&conf, &["inspect", "--raw", &pinned]);
    assert!(
        ok,
        "the fix the warning names, pinning the filtered digest, is served: {err}"
    );
    // By the source digest: not on the mirror, so it goes to the (stopped) source.
    let (ok, _, err) = skopeo(
        &conf,
        &["inspect", "--raw", &r("team/web", &format!("@{web}"))],
    );
    assert!(!ok, "the filtered repository served its source digest?");
    assert!(
        err.contains(&src_host),
        "the pull failed at the source: {err}"
    );

    // containerd, through certs.d/<source>/hosts.toml.
    let c = Containerd::start();
    let certs = out_dir.join("certs.d");
    let by_digest = format!("{src_host}/team/app@{app}");
    let (ok, text) = c.pull(&certs, &by_digest);
    assert!(ok, "ctr images pull {by_digest}: {text}\n{}", c.log());
    let (_, content) = c.ctr(&["content", "ls", "-q"]);
    assert!(
        content.contains(&app_amd64),
        "the linux/amd64 child was pulled: {content}"
    );
    let by_tag = format!("{src_host}/team/web:v1");
    let (ok, text) = c.pull(&certs, &by_tag);
    assert!(ok, "ctr images pull {by_tag}: {text}");
    let source_digest = format!("{src_host}/team/web@{web}");
    let (ok, text) = c.pull(&certs, &source_digest);
    assert!(
        !ok,
        "containerd pulled the filtered repository by its source digest: {text}"
    );
    assert!(
        text.contains(&src_host),
        "the pull failed at the source: {text}"
    );
}
