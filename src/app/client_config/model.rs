//! The model the renderers read: the sync file's mappings grouped by source repository, each
//! mirror with what its items hold (see the module documentation of `client_config`).

use std::path::PathBuf;

use crate::engine::image::state::TargetState;
use crate::model::digest::Digest;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// containerd `certs.d` directories: `certs.d/<registry>/hosts.toml`.
    Containerd,
    /// A `registries.conf.d` drop-in for CRI-O, podman, skopeo and buildah.
    RegistriesConf,
    /// An OpenShift `ImageDigestMirrorSet`.
    Idms,
    /// An OpenShift `ImageTagMirrorSet`.
    Itms,
}

impl Format {
    /// Every format, in the order they are written.
    pub const ALL: [Format; 4] = [
        Format::Containerd,
        Format::RegistriesConf,
        Format::Idms,
        Format::Itms,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Containerd => "containerd",
            Format::RegistriesConf => "registries-conf",
            Format::Idms => "idms",
            Format::Itms => "itms",
        }
    }
}

/// How clients reach a registry, as the sync file says (`registries:`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Plain HTTP: `plain-http: true`, or a loopback registry that answered in plain HTTP.
    pub plain_http: bool,
    /// `tls-verify: false`.
    pub skip_verify: bool,
    /// CA certificates: the `*.crt` files of the `cert-dir` the sync file names, absolute.
    pub ca_files: Vec<PathBuf>,
    /// Client certificate and key pairs of that directory (mutual TLS), absolute.
    pub client_pairs: Vec<(PathBuf, PathBuf)>,
}

impl Access {
    /// Plain HTTP or no certificate verification.
    pub fn insecure(&self) -> bool {
        self.plain_http || self.skip_verify
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.plain_http {
            "http"
        } else {
            "https"
        }
    }
}

/// One source repository (or namespace) mapped to one mirror location, as the sync file maps
/// it: `source: docker.io/library/nginx` + `target-prefix: reg/mirror` is `docker.io` +
/// `library/nginx` → `reg` + `mirror/library/nginx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The source registry host as in normalised references (`docker.io`, `quay.io:443`).
    pub source_registry: String,
    /// The repository (`library/nginx`), or for a namespace mapping the organisation (`team`,
    /// empty for a whole registry).
    pub source_path: String,
    /// A namespace (a `source-registry:` entry without `repositories:` filters): every
    /// repository below `source_path` maps below `mirror_path`.
    pub namespace: bool,
    /// The mirror registry host.
    pub mirror_registry: String,
    /// The mirror repository (or namespace) replacing `source_registry/source_path`.
    pub mirror_path: String,
    /// How clients reach the source registry.
    pub source_access: Access,
    /// How clients reach the mirror registry.
    pub mirror_access: Access,
    /// The `images:` entries (after discovery) this mapping comes from, for their states.
    pub images: Vec<usize>,
}

/// What one mirrored item (a tag, or a digest pin) holds on its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The `images:` entry (after discovery).
    pub image: usize,
    /// The source as reports name it (`127.0.0.1:5000/team/app:v1`).
    pub source: String,
    /// What the target holds, as `mirror verify` reads it; `None` when it could not be read.
    pub state: Option<TargetState>,
    /// Why the state is unknown (the item's error), when it is.
    pub error: Option<String>,
}

/// A tag whose target holds the `--on-reject filter` index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredTag {
    /// The source as reports name it.
    pub source: String,
    /// The digest clients pin (the source index).
    pub source_digest: Digest,
    /// The digest the mirror holds instead.
    pub filtered_digest: Digest,
}

/// What the items of one mirror entry hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Items holding the source digest with every selected child (sparse or full mirrors).
    pub kept: Vec<String>,
    /// Items holding a filtered index (a digest of its own).
    pub filtered: Vec<FilteredTag>,
    /// Items the mirror does not serve as they are: `(source, why)` (absent, another digest,
    /// missing children, or the state could not be read).
    pub not_served: Vec<(String, String)>,
}

/// Whether pulls by digest are served by a mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digests {
    /// Every item checked holds the source digest.
    Served,
    /// Some items hold filtered indexes: pulls by their source digest are not served.
    Filtered,
    /// No item of this mapping is known to hold the source digest (none checked, or none
    /// mirrored yet).
    Unknown,
}

impl Holdings {
    /// The verdict for pulls by digest.
    pub fn digests(&self) -> Digests {
        if !self.filtered.is_empty() {
            Digests::Filtered
        } else if self.kept.is_empty() {
            Digests::Unknown
        } else {
            Digests::Served
        }
    }

    fn add(&mut self, o: &Observed) {
        let why = match &o.state {
            Some(TargetState::Current { .. }) => {
                self.kept.push(o.source.clone());
                return;
            }
            Some(TargetState::Filtered {
                source_digest,
                filtered_digest,
            }) => {
                self.filtered.push(FilteredTag {
                    source: o.source.clone(),
                    source_digest: source_digest.clone(),
                    filtered_digest: filtered_digest.clone(),
                });
                return;
            }
            Some(
                s @ TargetState::MissingChildren {
                    source_digest,
                    holds,
                    ..
                },
            ) => {
                if holds != source_digest {
                    self.filtered.push(FilteredTag {
                        source: o.source.clone(),
                        source_digest: source_digest.clone(),
                        filtered_digest: holds.clone(),
                    });
                }
                s.describe()
            }
            Some(s) => s.describe(),
            None => format!(
                "not checked: {}",
                o.error.as_deref().unwrap_or("the target could not be read")
            ),
        };
        self.not_served.push((o.source.clone(), one_line(&why)));
    }
}

/// One mirror of a source, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// The mirror registry host.
    pub registry: String,
    /// The repository or namespace on it (may be empty: the registry's root).
    pub path: String,
    /// How clients reach it.
    pub access: Access,
    /// What its items hold.
    pub holds: Holdings,
}

impl Mirror {
    /// `registry/path` (or `registry`).
    pub fn location(&self) -> String {
        join(&self.registry, &self.path)
    }
}

/// One source repository or namespace and its mirrors, in the order the sync file gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The source registry host.
    pub registry: String,
    /// The repository or namespace (may be empty: the whole registry).
    pub path: String,
    /// A namespace rather than one repository.
    pub namespace: bool,
    /// How clients reach the source registry.
    pub access: Access,
    /// Its mirrors, in file order.
    pub mirrors: Vec<Mirror>,
}

impl Source {
    /// `registry/path` (or `registry`).
    pub fn location(&self) -> String {
        join(&self.registry, &self.path)
    }
}

/// `a/b`, or `a` when `b` is empty.
pub fn join(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// Newlines and tabs become spaces: comments and warnings are one line each.
pub fn one_line(s: &str) -> String {
    s.split(['\n', '\r', '\t'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything the renderers need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    /// The sync file as the user named it (file headers say where the content came from).
    pub file: String,
    /// Source repositories and namespaces in the order the sync file first maps them.
    pub sources: Vec<Source>,
    /// Entries no client pulls through (an OCI layout source or target), with why.
    pub left_out: Vec<String>,
}

/// One generated file: its path relative to the output directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative path (`certs.d/docker.io/hosts.toml`).
    pub path: PathBuf,
    /// The content.
    pub text: String,
}

/// What a renderer makes: files, and warnings of its own (on top of [`Model::warnings`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The files.
    pub files: Vec<File>,
    /// Warnings that only apply to this format.
    pub warnings: Vec<String>,
}

impl Model {
    /// Group mappings by source (first appearance first) and mirrors within a source (file
    /// order), and attach to each mirror what its items hold.
    pub fn build(
        file: &str,
        mappings: &[Mapping],
        observed: &[Observed],
        left_out: Vec<String>,
    ) -> Model {
        let mut sources: Vec<Source> = vec![];
        for m in mappings {
            let at = match sources.iter().position(|s| {
                s.registry == m.source_registry
                    && s.path == m.source_path
                    && s.namespace == m.namespace
            }) {
                Some(i) => i,
                None => {
                    sources.push(Source {
                        registry: m.source_registry.clone(),
                        path: m.source_path.clone(),
                        namespace: m.namespace,
                        access: m.source_access.clone(),
                        mirrors: vec![],
                    });
                    sources.len() - 1
                }
            };
            let s = &mut sources[at];
            let k = match s
                .mirrors
                .iter()
                .position(|x| x.registry == m.mirror_registry && x.path == m.mirror_path)
            {
                Some(k) => k,
                None => {
                    s.mirrors.push(Mirror {
                        registry: m.mirror_registry.clone(),
                        path: m.mirror_path.clone(),
                        access: m.mirror_access.clone(),
                        holds: Holdings::default(),
                    });
                    s.mirrors.len() - 1
                }
            };
            for o in observed.iter().filter(|o| m.images.contains(&o.image)) {
                s.mirrors[k].holds.add(o);
            }
        }
        Model {
            file: file.to_string(),
            sources,
            left_out,
        }
    }

    /// Warnings every format shares: filtered indexes (with the fix), items the mirror does
    /// not serve, insecure mirrors, entries left out.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = vec![];
        let mut insecure: Vec<String> = vec![];
        for s in &self.sources {
            for m in &s.mirrors {
                if !m.holds.filtered.is_empty() {
                    out.push(filtered_warning(s, m));
                }
                for (item, why) in &m.holds.not_served {
                    out.push(format!(
                        "{item} is not served by {} as it is ({why}): pulls of it go to {}; run `mirror sync` (then generate again)",
                        m.location(),
                        s.registry
                    ));
                }
                if m.access.insecure() && !insecure.contains(&m.registry) {
                    insecure.push(m.registry.clone());
                    out.push(insecure_warning(&m.registry, &m.access));
                }
            }
        }
        out.extend(self.left_out.iter().cloned());
        out
    }

    /// The plan, a line per source and mirror, for `--dry-run`.
    pub fn plan(&self) -> Vec<String> {
        let mut out = vec![];
        for s in &self.sources {
            let what = if s.namespace { "/* (namespace)" } else { "" };
            out.push(format!("{}{what}", s.location()));
            for (i, m) in s.mirrors.iter().enumerate() {
                let mut notes = vec![];
                if m.access.plain_http {
                    notes.push("insecure: plain HTTP".to_string());
                } else if m.access.skip_verify {
                    notes.push("insecure: tls-verify false".to_string());
                }
                if !m.access.ca_files.is_empty() {
                    notes.push(format!("{} CA file(s)", m.access.ca_files.len()));
                }
                let h = &m.holds;
                notes.push(match h.digests() {
                    Digests::Served => format!(
                        "by digest: served ({} item(s) hold the source digest)",
                        h.kept.len()
                    ),
                    Digests::Filtered => format!(
                        "by digest: NOT served for {} item(s) holding filtered indexes ({})",
                        h.filtered.len(),
                        h.filtered
                            .iter()
                            .map(|f| f.source.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Digests::Unknown => {
                        "by digest: nothing served yet (no item holds the source digest)"
                            .to_string()
                    }
                });
                if !h.not_served.is_empty() {
                    notes.push(format!("{} item(s) not on the mirror", h.not_served.len()));
                }
                out.push(format!(
                    "  {}. → {}  ({})",
                    i + 1,
                    m.location(),
                    notes.join("; ")
                ));
            }
        }
        out
    }
}

/// The warning for a mirror holding filtered indexes, with the fix.
pub fn filtered_warning(s: &Source, m: &Mirror) -> String {
    let first = &m.holds.filtered[0];
    let items = m
        .holds
        .filtered
        .iter()
        .map(|f| {
            format!(
                "{} (source {}, mirror {})",
                f.source, f.source_digest, f.filtered_digest
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{}: by-digest pulls of {} item(s) will not be served from {}: they hold filtered indexes (on-reject: filter) whose digests differ from the source's, so a pull by the source digest goes to {} (and fails where it is unreachable): {items}. Fix: mirror to a registry that accepts sparse indexes, set `on-reject: full` for the image, or pin the filtered digest (e.g. {}@{})",
        s.location(),
        m.holds.filtered.len(),
        m.location(),
        s.registry,
        repository_of(&first.source),
        first.filtered_digest
    )
}

/// The repository an item belongs to (`host/repo` of `host/repo:tag` or `host/repo@digest`).
pub fn repository_of(item: &str) -> String {
    let no_digest = item.split('@').next().unwrap_or(item);
    let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[slash..].find(':') {
        Some(c) => no_digest[..slash + c].to_string(),
        None => no_digest.to_string(),
    }
}

/// The warning for a mirror reached without TLS or without verification.
pub fn insecure_warning(registry: &str, a: &Access) -> String {
    let (how, containerd) = if a.plain_http {
        ("over plain HTTP", "an http:// host URL")
    } else {
        (
            "without TLS certificate verification (tls-verify: false)",
            "skip_verify = true",
        )
    };
    format!(
        "{registry} is reached {how}: the generated files mark it insecure (containerd: {containerd}; registries.conf: insecure = true; OpenShift: add it to image.config.openshift.io/cluster spec.registrySources.insecureRegistries)"
    )
}
