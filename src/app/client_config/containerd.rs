//! containerd: one `certs.d/<registry>/hosts.toml` per upstream registry (containerd's
//! `config_path`, or `ctr images pull --hosts-dir`; docs/hosts.md of containerd).
//!
//! A hosts.toml mirrors a whole registry: every repository of the upstream is tried on each
//! `[host."…"]` in file order, then on `server`. A mirror that keeps the repository path under
//! a prefix (`target-prefix: reg/mirror`, so `docker.io/library/nginx` is at
//! `reg/mirror/library/nginx`) is the host URL `https://reg/v2/mirror` with
//! `override_path = true` (containerd then puts the repository after that path instead of
//! after `/v2`). A `target:` that renames the repository (`library/nginx` → `mirror/nginx`)
//! cannot be said in hosts.toml: it is left out with a warning.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::app::client_config::model::{Access, Digests, File, Model, Rendered};
use crate::app::client_config::text::{comment, toml_str};
use crate::model::reference::{DOCKER_HUB, DOCKER_HUB_API};

/// One `[host."…"]` entry being assembled.
struct Host {
    url: String,
    override_path: bool,
    access: Access,
    /// Source repositories (or namespaces) served through it.
    serves: Vec<String>,
    /// Comment lines about pulls by digest.
    notes: Vec<String>,
}

/// The mirror namespace under which `source_path` appears as the same path, or `None` when
/// the mirror renames the repository. An empty `source_path` (a whole registry) maps to
/// `mirror_path` itself.
pub fn namespace(source_path: &str, mirror_path: &str) -> Option<String> {
    if source_path.is_empty() || mirror_path == source_path {
        return Some(if source_path.is_empty() {
            mirror_path.to_string()
        } else {
            String::new()
        });
    }
    mirror_path
        .strip_suffix(source_path)
        .and_then(|p| p.strip_suffix('/'))
        .map(str::to_string)
}

/// The URL containerd falls back to for `registry` (Docker Hub's API host for `docker.io`).
pub fn server(registry: &str, a: &Access) -> String {
    let host = if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    };
    format!("{}://{host}", a.scheme())
}

/// The files and the warnings.
pub fn render(model: &Model) -> Rendered {
    let mut out = Rendered::default();
    // Upstream registry → (its access, hosts in file order, left-out notes).
    let mut by_registry: BTreeMap<&str, (Access, Vec<Host>, Vec<String>)> = BTreeMap::new();
    let mut order: Vec<&str> = vec![];
    for s in &model.sources {
        let entry = by_registry.entry(&s.registry).or_insert_with(|| {
            order.push(&s.registry);
            (s.access.clone(), vec![], vec![])
        });
        for m in &s.mirrors {
            let Some(ns) = namespace(&s.path, &m.path) else {
                let why = format!(
                    "{} → {} renames the repository, which a containerd hosts.toml cannot express (it mirrors whole registries, keeping the repository path): left out of certs.d/{}/hosts.toml; map it with `target-prefix` (the target is PREFIX/<source path>) to have containerd pull it from the mirror",
                    s.location(),
                    m.location(),
                    s.registry
                );
                entry.2.push(why.clone());
                out.warnings.push(why);
                continue;
            };
            let url = match ns.as_str() {
                "" => format!("{}://{}", m.access.scheme(), m.registry),
                _ => format!("{}://{}/v2/{ns}", m.access.scheme(), m.registry),
            };
            let at = match entry.1.iter().position(|h| h.url == url) {
                Some(i) => i,
                None => {
                    entry.1.push(Host {
                        url,
                        override_path: !ns.is_empty(),
                        access: m.access.clone(),
                        serves: vec![],
                        notes: vec![],
                    });
                    entry.1.len() - 1
                }
            };
            let h = &mut entry.1[at];
            let served = if s.namespace {
                format!("{}/*", s.location())
            } else {
                s.location()
            };
            h.serves.push(served);
            if m.holds.digests() == Digests::Filtered {
                h.notes.push(format!(
                    "{}: by-digest pulls of {} will not be served here (filtered indexes, whose digests differ from the source's): {}. Fix: a registry that accepts sparse indexes, `on-reject: full`, or pin the filtered digest.",
                    s.location(),
                    m.location(),
                    m.holds
                        .filtered
                        .iter()
                        .map(|f| format!("{} is {} here", f.source, f.filtered_digest))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    for registry in order {
        let (access, hosts, left_out) = &by_registry[registry];
        if hosts.is_empty() {
            continue;
        }
        out.files.push(File {
            path: PathBuf::from("certs.d").join(registry).join("hosts.toml"),
            text: hosts_toml(&model.file, registry, access, hosts, left_out),
        });
    }
    out
}

fn hosts_toml(
    file: &str,
    registry: &str,
    access: &Access,
    hosts: &[Host],
    left_out: &[String],
) -> String {
    let mut t = comment(
        "",
        &format!(
            "Generated by `mirror client-config` from {file}: pulls from {registry} try these mirrors in order, then the registry itself.\nInstall as /etc/containerd/certs.d/{registry}/hosts.toml (the CRI plugin's registry config_path = \"/etc/containerd/certs.d\"), or pass `--hosts-dir DIR/certs.d` to ctr."
        ),
    );
    for l in left_out {
        t.push_str(&comment("", &format!("Left out: {l}")));
    }
    t.push_str(&format!(
        "server = {}\n",
        toml_str(&server(registry, access))
    ));
    t.push_str(&tls_lines("", access));
    for h in hosts {
        t.push('\n');
        t.push_str(&comment("", &format!("Serves {}.", h.serves.join(", "))));
        for n in &h.notes {
            t.push_str(&comment("", n));
        }
        if h.access.plain_http {
            t.push_str("# Insecure: plain HTTP.\n");
        } else if h.access.skip_verify {
            t.push_str("# Insecure: the certificate is not verified (tls-verify: false).\n");
        }
        t.push_str(&format!("[host.{}]\n", toml_str(&h.url)));
        t.push_str("  capabilities = [\"pull\", \"resolve\"]\n");
        if h.override_path {
            t.push_str("  override_path = true\n");
        }
        t.push_str(&tls_lines("  ", &h.access));
    }
    t
}

/// `skip_verify`, `ca` and `client`, only when the sync file asks for them.
fn tls_lines(indent: &str, a: &Access) -> String {
    let mut t = String::new();
    if a.skip_verify && !a.plain_http {
        t.push_str(&format!("{indent}skip_verify = true\n"));
    }
    if !a.ca_files.is_empty() {
        let list: Vec<String> = a
            .ca_files
            .iter()
            .map(|p| toml_str(&p.display().to_string()))
            .collect();
        t.push_str(&format!("{indent}ca = [{}]\n", list.join(", ")));
    }
    if !a.client_pairs.is_empty() {
        let list: Vec<String> = a
            .client_pairs
            .iter()
            .map(|(c, k)| {
                format!(
                    "[{}, {}]",
                    toml_str(&c.display().to_string()),
                    toml_str(&k.display().to_string())
                )
            })
            .collect();
        t.push_str(&format!("{indent}client = [{}]\n", list.join(", ")));
    }
    t
}
