//! Issue 26, the generated files themselves: snapshots of every format from one sync file
//! (with a filtered mirror, an insecure one, a CA directory, a rename, a namespace and an OCI
//! layout), each file parsed back (TOML with the `toml` crate, YAML with serde-saphyr), the
//! OpenShift sets validated against the CRD schemas of openshift/api
//! (tests/fixtures/openshift/README.md), and Docker Hub short names mapping alike. Real
//! clients pulling through the files: `client_pull.rs`.

use std::path::Path;

use serde_json::Value;
use sparse_mirror::app::client_config::mapping;
use sparse_mirror::app::client_config::model::{Format, Model, Observed};
use sparse_mirror::app::client_config::render::render;
use sparse_mirror::app::sync::config;
use sparse_mirror::engine::image::state::TargetState;

fn digest(c: char) -> sparse_mirror::model::digest::Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

/// The model of `yaml`, with `found[k]` standing for what the k-th `source-registry:` entry's
/// catalog listed (as `sync/discover.rs` would splice it in).
fn model_of(yaml: &str, found: &[&[&str]], observed: &[Observed]) -> Model {
    let mut cfg = config::parse("mirror.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    let discoveries = std::mem::take(&mut cfg.discoveries);
    let mut counts = vec![];
    for (d, repos) in discoveries.iter().zip(found).rev() {
        let images: Vec<_> = repos.iter().map(|r| d.image(r).unwrap()).collect();
        cfg.images.splice(d.position..d.position, images);
    }
    for repos in found {
        counts.push(repos.len());
    }
    let ranges = mapping::discovered(&discoveries, &counts);
    let access = |h: &str| mapping::access(&cfg.registries, h, false).unwrap();
    let (maps, left_out) = mapping::mappings(&cfg, &ranges, &access);
    Model::build("mirror.yaml", &maps, observed, left_out)
}

fn seen(image: usize, source: &str, state: Option<TargetState>) -> Observed {
    Observed {
        image,
        source: source.into(),
        error: state
            .is_none()
            .then(|| "connecting to registry.example.com: refused".into()),
        state,
    }
}

fn rich(certs: &Path) -> (String, Vec<Observed>) {
    let yaml = format!(
        r#"
defaults:
  target-prefix: mirror.example.com:5000/mirror
registries:
  mirror.example.com:5000: {{plain-http: true}}
  backup.example.com: {{tls-verify: false, cert-dir: "{}"}}
images:
  - source: nginx
    tags: [v1]
  - source: quay.io/org/app
    tags: [v1, v2]
    on-reject: filter
  - source: quay.io/org/app
    target: backup.example.com/org/app
    tags: [v1]
  - source: registry.example.com/team/web
    target: mirror.example.com:5000/renamed/web
    tags: [v1]
  - source: registry.example.com/team/tool
    target: oci:/srv/layout
    tags: [v1]
  - source-registry: registry.example.com/ns
    tags: [v1]
"#,
        certs.display()
    );
    let observed = vec![
        seen(
            0,
            "docker.io/library/nginx:v1",
            Some(TargetState::Current {
                digest: digest('a'),
            }),
        ),
        seen(
            1,
            "quay.io/org/app:v1",
            Some(TargetState::Current {
                digest: digest('b'),
            }),
        ),
        seen(
            1,
            "quay.io/org/app:v2",
            Some(TargetState::Filtered {
                source_digest: digest('c'),
                filtered_digest: digest('d'),
            }),
        ),
        seen(2, "quay.io/org/app:v1", Some(TargetState::Absent)),
        seen(3, "registry.example.com/team/web:v1", None),
        seen(
            5,
            "registry.example.com/ns/one:v1",
            Some(TargetState::Current {
                digest: digest('e'),
            }),
        ),
        seen(
            6,
            "registry.example.com/ns/two:v1",
            Some(TargetState::Current {
                digest: digest('f'),
            }),
        ),
    ];
    (yaml, observed)
}

fn cert_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("ca.crt"), "not read here").unwrap();
    std::fs::write(d.path().join("client.cert"), "x").unwrap();
    std::fs::write(d.path().join("client.key"), "x").unwrap();
    d
}

fn snapshot(name: &str, text: &str, certs: &Path) {
    let real = std::fs::canonicalize(certs).unwrap();
    let t = text.replace(&real.display().to_string(), "[CERTS]");
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| insta::assert_snapshot!(name, t));
}

#[test]
fn every_format_is_snapshotted_and_parses() {
    let certs = cert_dir();
    let (yaml, observed) = rich(certs.path());
    let model = model_of(&yaml, &[&["ns/one", "ns/two"]], &observed);
    let mut all = String::new();
    for f in Format::ALL {
        let r = render(&model, f);
        for file in &r.files {
            let path = file.path.display().to_string();
            match f {
                Format::Containerd | Format::RegistriesConf => {
                    toml::from_str::<toml::Table>(&file.text)
                        .unwrap_or_else(|e| panic!("{path} is not TOML: {e}\n{}", file.text));
                }
                Format::Idms | Format::Itms => {
                    validate_crd(f, &file.text);
                }
            }
            all.push_str(&format!("==> {path}\n{}\n", file.text));
        }
        for w in &r.warnings {
            all.push_str(&format!("warning ({}): {w}\n", f.name()));
        }
    }
    for w in model.warnings() {
        all.push_str(&format!("warning: {w}\n"));
    }
    all.push_str("plan:\n");
    for l in model.plan() {
        all.push_str(&format!("{l}\n"));
    }
    snapshot("client-config-all-formats", &all, certs.path());
}

#[test]
fn hosts_toml_reads_as_containerd_reads_it() {
    let certs = cert_dir();
    let (yaml, observed) = rich(certs.path());
    let model = model_of(&yaml, &[&["ns/one", "ns/two"]], &observed);
    let r = render(&model, Format::Containerd);
    let file = |p: &str| {
        let f = r
            .files
            .iter()
            .find(|f| f.path == Path::new(p))
            .unwrap_or_else(|| panic!("{p}: {:?}", r.files));
        toml::from_str::<toml::Table>(&f.text).unwrap()
    };
    let hub = file("certs.d/docker.io/hosts.toml");
    assert_eq!(hub["server"].as_str(), Some("https://registry-1.docker.io"));
    let host = hub["host"]["http://mirror.example.com:5000/v2/mirror"]
        .as_table()
        .unwrap();
    assert_eq!(host["override_path"].as_bool(), Some(true));
    let caps: Vec<&str> = host["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(caps, ["pull", "resolve"]);
    assert!(
        !host.contains_key("skip_verify") && !host.contains_key("ca"),
        "{host:?}"
    );
    // quay.io/org/app has two mirrors, in the file's order.
    let quay = file("certs.d/quay.io/hosts.toml");
    let hosts: Vec<&String> = quay["host"].as_table().unwrap().keys().collect();
    let text = &r
        .files
        .iter()
        .find(|f| f.path == Path::new("certs.d/quay.io/hosts.toml"))
        .unwrap()
        .text;
    let (a, b) = (
        text.find("[host.\"http://mirror.example.com:5000/v2/mirror\"]")
            .unwrap(),
        text.find("[host.\"https://backup.example.com\"]").unwrap(),
    );
    assert!(a < b, "{text}");
    assert_eq!(hosts.len(), 2);
    let backup = quay["host"]["https://backup.example.com"]
        .as_table()
        .unwrap();
    assert_eq!(backup["skip_verify"].as_bool(), Some(true));
    assert!(!backup.contains_key("override_path"));
    let ca = std::fs::canonicalize(certs.path()).unwrap().join("ca.crt");
    assert_eq!(backup["ca"][0].as_str(), Some(ca.to_str().unwrap()));
    assert_eq!(
        backup["client"][0][1]
            .as_str()
            .map(|k| k.ends_with("client.key")),
        Some(true)
    );
    // The rename is left out of containerd's file, with a warning.
    let reg = file("certs.d/registry.example.com/hosts.toml");
    let reg_hosts: Vec<&String> = reg["host"].as_table().unwrap().keys().collect();
    assert_eq!(
        reg_hosts,
        ["http://mirror.example.com:5000/v2/mirror"],
        "the namespace only"
    );
    assert!(r.warnings.iter().any(|w| w
        .contains("registry.example.com/team/web → mirror.example.com:5000/renamed/web renames")));
}

#[test]
fn registries_conf_reads_as_containers_image_reads_it() {
    let certs = cert_dir();
    let (yaml, observed) = rich(certs.path());
    let model = model_of(&yaml, &[&["ns/one", "ns/two"]], &observed);
    let r = render(&model, Format::RegistriesConf);
    let t: toml::Table = toml::from_str(&r.files[0].text).unwrap();
    let regs = t["registry"].as_array().unwrap();
    let by_prefix = |p: &str| {
        regs.iter()
            .find(|r| r["prefix"].as_str() == Some(p))
            .unwrap_or_else(|| panic!("{p} in {regs:?}"))
    };
    let nginx = by_prefix("docker.io/library/nginx");
    assert_eq!(nginx["location"].as_str(), Some("docker.io/library/nginx"));
    let m = &nginx["mirror"].as_array().unwrap()[0];
    assert_eq!(
        m["location"].as_str(),
        Some("mirror.example.com:5000/mirror/library/nginx")
    );
    assert_eq!(m["insecure"].as_bool(), Some(true));
    assert_eq!(m["pull-from-mirror"].as_str(), Some("all"));
    let app: Vec<&str> = by_prefix("quay.io/org/app")["mirror"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        app,
        [
            "mirror.example.com:5000/mirror/org/app",
            "backup.example.com/org/app"
        ]
    );
    let web = by_prefix("registry.example.com/team/web");
    assert_eq!(
        web["mirror"][0]["location"].as_str(),
        Some("mirror.example.com:5000/renamed/web")
    );
    let ns = by_prefix("registry.example.com/ns");
    assert_eq!(
        ns["mirror"][0]["location"].as_str(),
        Some("mirror.example.com:5000/mirror/ns")
    );
    assert!(
        !regs
            .iter()
            .any(|r| r["prefix"].as_str().unwrap().contains("tool")),
        "the layout is left out"
    );
    assert!(model
        .warnings()
        .iter()
        .any(|w| w.contains("oci:/srv/layout") && w.contains("left out")));
}

#[test]
fn docker_hub_short_names_map_alike() {
    let generate = |source: &str| {
        let yaml = format!(
            "defaults: {{target-prefix: registry.internal/mirror}}\nimages:\n  - source: {source}\n    tags: [v1]\n"
        );
        let observed = [seen(
            0,
            "docker.io/library/nginx:v1",
            Some(TargetState::Current {
                digest: digest('a'),
            }),
        )];
        let model = model_of(&yaml, &[], &observed);
        Format::ALL
            .iter()
            .flat_map(|f| render(&model, *f).files)
            .map(|f| format!("{}\n{}", f.path.display(), f.text))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let first = generate("nginx");
    assert!(first.contains("certs.d/docker.io/hosts.toml"), "{first}");
    assert!(
        first.contains("prefix = \"docker.io/library/nginx\""),
        "{first}"
    );
    assert!(
        first.contains("\"registry.internal/mirror/library/nginx\""),
        "{first}"
    );
    for other in [
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
    ] {
        assert_eq!(generate(other), first, "{other}");
    }
}

// ------------------------------------------------------------- CRD schema --

/// The `openAPIV3Schema` of the fixture CRD for `f`.
fn crd_schema(f: Format) -> Value {
    let name = match f {
        Format::Idms => "imagedigestmirrorsets",
        _ => "imagetagmirrorsets",
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openshift")
        .join(format!("{name}.crd.yaml"));
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

/// Check `v` against the structural schema the API server applies: types, properties
/// (unknown fields refused here, where the server would prune them silently), `required`,
/// `enum`, `pattern`, and `x-kubernetes-list-type: set` (no duplicates).
fn check(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    match schema["type"].as_str() {
        Some("object") => {
            let Some(obj) = v.as_object() else {
                return errors.push(format!("{at}: not an object"));
            };
            for r in schema["required"].as_array().into_iter().flatten() {
                if !obj.contains_key(r.as_str().unwrap()) {
                    errors.push(format!("{at}: `{}` is required", r.as_str().unwrap()));
                }
            }
            if let Some(props) = schema["properties"].as_object() {
                for (k, val) in obj {
                    match props.get(k) {
                        Some(s) => check(s, val, &format!("{at}.{k}"), errors),
                        None => errors.push(format!("{at}: unknown field `{k}`")),
                    }
                }
            }
        }
        Some("array") => {
            let Some(items) = v.as_array() else {
                return errors.push(format!("{at}: not an array"));
            };
            if schema["x-kubernetes-list-type"] == "set" {
                for (i, x) in items.iter().enumerate() {
                    if items[..i].contains(x) {
                        errors.push(format!("{at}[{i}]: duplicate {x} in a set"));
                    }
                }
            }
            for (i, x) in items.iter().enumerate() {
                check(&schema["items"], x, &format!("{at}[{i}]"), errors);
            }
        }
        Some("string") => {
            let Some(s) = v.as_str() else {
                return errors.push(format!("{at}: not a string"));
            };
            if let Some(p) = schema["pattern"].as_str() {
                if !regex::Regex::new(p).unwrap().is_match(s) {
                    errors.push(format!("{at}: {s:?} does not match {p}"));
                }
            }
            if let Some(e) = schema["enum"].as_array() {
                if !e.iter().any(|x| x.as_str() == Some(s)) {
                    errors.push(format!("{at}: {s:?} is not one of {e:?}"));
                }
            }
        }
        other => errors.push(format!(
            "{at}: schema type {other:?} not handled by this check"
        )),
    }
}

fn crd_errors(f: Format, v: &Value) -> Vec<String> {
    let mut errors = vec![];
    check(&crd_schema(f), v, "", &mut errors);
    let kind = if f == Format::Idms {
        "ImageDigestMirrorSet"
    } else {
        "ImageTagMirrorSet"
    };
    if v["apiVersion"] != "config.openshift.io/v1" || v["kind"] != kind {
        errors.push(format!(
            "apiVersion/kind: {} {}",
            v["apiVersion"], v["kind"]
        ));
    }
    // metadata.name: a DNS-1123 subdomain (the API server's own check).
    let name = v["metadata"]["name"].as_str().unwrap_or("");
    let dns =
        regex::Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .unwrap();
    if !dns.is_match(name) || name.len() > 253 {
        errors.push(format!("metadata.name {name:?}"));
    }
    errors
}

fn validate_crd(f: Format, text: &str) {
    let v: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"));
    let errors = crd_errors(f, &v);
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
}

#[test]
fn the_crd_check_refuses_what_the_api_server_refuses() {
    let bad: Value = serde_json::json!({
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": {"name": "Bad_Name"},
        "spec": {"imageDigestMirrors": [
            {"source": "quay.io/Org/app", "mirrors": ["m.io/a", "m.io/a"], "mirrorSourcePolicy": "Sometimes"},
            {"mirrors": ["m.io/b"], "extra": 1}
        ]}
    });
    let errors = crd_errors(Format::Idms, &bad).join("\n");
    for expected in [
        "metadata.name",
        "\"quay.io/Org/app\" does not match",
        "duplicate",
        "\"Sometimes\" is not one of",
        "`source` is required",
        "unknown field `extra`",
    ] {
        assert!(errors.contains(expected), "{expected} not in:\n{errors}");
    }
}
