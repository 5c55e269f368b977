//! `mirror.yaml`: the declarative configuration of `mirror sync`.
//!
//! Read with `serde-saphyr` under input budgets ([`LIMITS`]), so a hostile or broken file is
//! refused at once. Every check that can be made without the network happens while
//! deserialising, inside the `Deserialize` impl of the value concerned (`values.rs`,
//! `tag_rules.rs`), so the error carries the key path, line and column:
//! `mirror.yaml:12:14: images[3].tags: invalid regex …`. What the file yields is compiled
//! (platform filters, copy rules, artifact-type filters, regexes, digests), and `defaults:` is
//! merged into each image ([`ImageSettings`]); nothing is parsed again later. Nothing runs when
//! the file has an error. `${VAR}` (and `${VAR:-default}`) is expanded in repository names, tag
//! lists, digests and credentials; an unset variable without a default is an error. Checks that
//! span `defaults:` and an entry (the keyless signature keys, `keyless.rs`) run after reading,
//! located with the key's own line and column.
//!
//! ```yaml
//! defaults:
//!   platforms: [linux/amd64, linux/arm64]
//!   on-reject: fail
//! registries:
//!   registry.example.com:
//!     credentials: "${MIRROR_USER}:${MIRROR_PASSWORD}"
//! images:
//!   - source: docker.io/library/nginx
//!     target: registry.example.com/mirror/nginx
//!     tags: {semver: ">=1.26 <2", exclude: ["-perl$"]}
//! ```

mod discovery;
pub mod image;
mod keyless;
mod prefix;
mod schema;
mod tag_rules;
mod values;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::reference::ImageRef;

pub use self::discovery::{Discovery, RepoFilter, SourceRegistry};
pub use self::image::{ImageConfig, ImageSettings};
pub use self::prefix::TargetPrefix;
pub use self::schema::RegistryConfig;
pub use self::values::{expand, Credentials, LayoutRefName, Platforms, Source, Target, TypeList};

/// The largest configuration file read (a sync configuration of 20 000 images is about 3 MB).
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// The deepest nesting accepted; a valid file nests 5 levels (`images` → entry → `tags` →
/// `list` → tag).
pub const MAX_DEPTH: usize = 20;
/// The most YAML values (scalars, lists and mappings) accepted in one file.
pub const MAX_NODES: usize = 200_000;
/// The limits as said in errors.
pub const LIMITS: &str =
    "a sync configuration may nest 20 levels, hold 200000 values and be 8 MiB at most";

/// A configuration error, located in the file where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong, starting with the key path (`images[3].tags: …`).
    pub message: String,
    /// The offending line of the file, when known.
    pub snippet: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message)?,
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message)?,
            _ => write!(f, "{}: {}", self.file, self.message)?,
        }
        if let (Some(s), Some(l)) = (&self.snippet, self.line) {
            let (s, column) = window(s, self.column);
            write!(f, "\n  {l:>4} | {s}")?;
            if let Some(c) = column {
                write!(f, "\n       | {}^", " ".repeat(c.saturating_sub(1)))?;
            }
        }
        Ok(())
    }
}

/// At most [`SNIPPET_WIDTH`] characters of a long line, around `column`, and the column
/// within them.
fn window(line: &str, column: Option<usize>) -> (String, Option<usize>) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= SNIPPET_WIDTH {
        return (line.to_string(), column);
    }
    let at = column.unwrap_or(1).saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(SNIPPET_WIDTH / 2);
    let end = (start + SNIPPET_WIDTH).min(chars.len());
    let mut out = String::from(if start > 0 { "…" } else { "" });
    out.extend(&chars[start..end]);
    if end < chars.len() {
        out.push('…');
    }
    (out, column.map(|_| at - start + 1 + usize::from(start > 0)))
}

/// The widest part of a line an error shows.
const SNIPPET_WIDTH: usize = 100;

impl std::error::Error for ConfigError {}

/// The whole file, compiled.
#[derive(Debug)]
pub struct Config {
    /// Connection settings per registry host (as written in references, e.g. `docker.io`).
    pub registries: BTreeMap<String, RegistryConfig>,
    /// What to mirror, in file order.
    pub images: Vec<ImageConfig>,
    /// `source-registry:` entries, resolved into `images` through the registry's catalog when
    /// the run starts (`sync/discover.rs`).
    pub discoveries: Vec<Discovery>,
    /// `hooks:`.
    pub hooks: crate::app::hooks::HooksConfig,
    /// `limit-rate:` in bytes per second.
    pub limit_rate: Option<u64>,
}

impl Config {
    /// Image `i`'s effective settings.
    pub fn settings(&self, i: usize) -> &ImageSettings {
        &self.images[i].settings
    }
}

/// Read and validate a configuration file. Errors carry the file, line, column and key path.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let fail = |message: String| ConfigError {
        file: file.clone(),
        line: None,
        column: None,
        message,
        snippet: None,
    };
    let f = std::fs::File::open(path)
        .map_err(|e| fail(format!("cannot read the configuration: {e}")))?;
    let mut bytes = vec![];
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read the configuration: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!(
            "the file is larger than {} MiB: {LIMITS}",
            MAX_FILE_BYTES >> 20
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| fail(format!("cannot read the configuration: not UTF-8 ({e})")))?;
    parse(&file, &text)
}

/// The parser's options: YAML 1.2 booleans, duplicate keys refused, and the input budgets.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_events = 2 * MAX_NODES;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES as usize;
    budget.max_documents = 1;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_merge_keys = 1_000;
    budget.max_recorded_anchor_events = MAX_NODES;
    let mut o = serde_saphyr::Options::default();
    o.budget = Some(budget);
    o.alias_limits.max_total_replayed_events = MAX_NODES;
    o.strict_booleans = true;
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o
}

/// Parse configuration text (`file` names it in errors).
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let path: RefCell<Option<serde_path_to_error::Path>> = RefCell::default();
    let raw: schema::FileConfig =
        serde_saphyr::with_deserializer_from_str_with_options(text, options(), |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                *path.borrow_mut() = Some(e.path().clone());
                e.into_inner()
            })
        })
        .map_err(|e| yaml_error(file, text, &e, path.borrow().as_ref()))?;
    let at_line = |line: Option<usize>, message: String| ConfigError {
        file: file.to_string(),
        line,
        column: None,
        message,
        snippet: line
            .and_then(|l| text.lines().nth(l - 1))
            .map(str::to_string),
    };
    if raw.images.is_empty() {
        return Err(at_line(
            None,
            "`images:` is empty: nothing to mirror".into(),
        ));
    }
    let located = |e: keyless::Located| ConfigError {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
        snippet: e
            .line
            .and_then(|l| text.lines().nth(l - 1))
            .map(str::to_string),
    };
    // Every trusted root written is read (once) and checked, used or not.
    let mut roots = keyless::Roots::default();
    let defaults_keys = raw.defaults.keyless("defaults");
    roots.load(&defaults_keys).map_err(located)?;
    let mut images = Vec::with_capacity(raw.images.len());
    let mut discoveries = vec![];
    for (i, entry) in raw.images.into_iter().enumerate() {
        let line = usize::try_from(entry.referenced.line())
            .ok()
            .filter(|&l| l > 0);
        let (split, tags, overrides) = entry.value.split();
        let level = format!("images[{i}]");
        let keys = overrides.keyless(&level);
        roots.load(&keys).map_err(located)?;
        let keyless = keyless::resolve(&keys, &defaults_keys, &mut roots).map_err(located)?;
        let prefix = split
            .target_prefix
            .as_ref()
            .or(raw.defaults.target_prefix.as_ref());
        if split.target.is_some() && split.target_prefix.is_some() {
            return Err(at_line(
                line,
                format!("images[{i}]: `target` and `target-prefix` exclude each other: give one"),
            ));
        }
        let mut settings = overrides.over(&raw.defaults);
        settings.signatures.keyless = keyless;
        let source = match (split.source, split.source_registry) {
            (Some(_), Some(_)) => {
                return Err(at_line(line, format!(
                    "images[{i}]: `source` (one repository) and `source-registry` (repositories found in the catalog) exclude each other: give one"
                )))
            }
            (None, None) => {
                return Err(at_line(
                    line,
                    format!("images[{i}]: give `source: REGISTRY/REPO` or `source-registry: REGISTRY[/ORG]`"),
                ))
            }
            (Some(s), None) => s,
            (None, Some(reg)) => {
                if split.target.is_some() {
                    return Err(at_line(line, format!(
                        "images[{i}]: a `source-registry` entry maps many repositories: give `target-prefix`, not `target`"
                    )));
                }
                let Some(prefix) = prefix else {
                    return Err(at_line(line, format!(
                        "images[{i}]: a `source-registry` entry needs `target-prefix` (here or under `defaults:`)"
                    )));
                };
                if !tags.digests.is_empty() {
                    return Err(at_line(line, format!(
                        "images[{i}]: `tags.digests` cannot apply to every discovered repository: list tags instead"
                    )));
                }
                discoveries.push(Discovery {
                    entry: i,
                    position: images.len(),
                    source: reg,
                    repositories: split.repositories.unwrap_or_default(),
                    prefix: prefix.clone(),
                    tags,
                    settings,
                    line,
                });
                continue;
            }
        };
        if split.repositories.is_some() {
            return Err(at_line(line, format!(
                "images[{i}]: `repositories` filters a `source-registry` catalog; with `source` it does nothing"
            )));
        }
        let target = match (split.target, prefix) {
            (Some(t), _) => t,
            (None, Some(p)) => p
                .target_for(&source.reference)
                .map_err(|e| at_line(line, format!("images[{i}]: {e}")))?,
            (None, None) => {
                return Err(at_line(
                    line,
                    format!("images[{i}]: no target: give `target:`, or `target-prefix:` here or under `defaults:`"),
                ))
            }
        };
        if matches!(target.reference, ImageRef::Layout(_)) && !tags.digests.is_empty() {
            return Err(at_line(line, format!(
                "images[{i}]: `tags.digests` pins need a registry target; an OCI layout ({}) records images by tag: write them as TAG@DIGEST under `tags.list`",
                target.text
            )));
        }
        images.push(ImageConfig {
            source,
            target,
            tags,
            settings,
            line,
        });
    }
    Ok(Config {
        registries: raw.registries,
        images,
        discoveries,
        hooks: raw.hooks,
        limit_rate: raw.limit_rate.map(|r| r.0),
    })
}

/// A parser or value error as a [`ConfigError`]: the key path, then the message without the
/// parser's own " at line L, column C" (the location goes in front).
fn yaml_error(
    file: &str,
    text: &str,
    e: &serde_saphyr::Error,
    path: Option<&serde_path_to_error::Path>,
) -> ConfigError {
    let e = e.without_snippet();
    let loc = e
        .location()
        .filter(|l| l.line() > 0)
        .map(|l| (l.line() as usize, l.column() as usize));
    let mut message = e.to_string();
    if let Some((l, c)) = loc {
        if let Some(m) = message.strip_suffix(&format!(" at line {l}, column {c}")) {
            message = m.to_string();
        }
    }
    if let Some(m) = message.strip_suffix(", set DuplicateKeyPolicy in Options if acceptable") {
        message = m.to_string();
    }
    if let serde_saphyr::Error::Budget { breach, .. } = e {
        use serde_saphyr::budget::BudgetBreach;
        message = match breach {
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => {
                format!("too many values (more than {MAX_NODES})")
            }
            BudgetBreach::Depth { .. } => format!("nested more than {MAX_DEPTH} levels deep"),
            other => format!("an input limit was exceeded ({other:?})"),
        };
    }
    if matches!(e, serde_saphyr::Error::Budget { .. })
        || message.contains("recursion limit")
        || message.contains("nesting limit")
    {
        message = format!("{message}: {LIMITS}");
    }
    let key = path.map(key_path).unwrap_or_default();
    if !key.is_empty() {
        message = format!("{key}: {message}");
    }
    ConfigError {
        file: file.to_string(),
        line: loc.map(|(l, _)| l),
        column: loc.map(|(_, c)| c),
        message,
        snippet: loc
            .and_then(|(l, _)| text.lines().nth(l - 1))
            .map(str::to_string),
    }
}

/// `images[3].tags.regex[1]`. The `value` step into a located value (an `images` entry, or a
/// key of [`LOCATED_KEYS`]) is dropped: it is the span wrapper, not a key of the file.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    let mut spanned = false;
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                spanned = out.starts_with("images[") && !out.contains('.');
                continue;
            }
            Segment::Map { key } if spanned && key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
                spanned = LOCATED_KEYS.contains(&key.as_str());
                continue;
            }
            Segment::Unknown => {}
        }
        spanned = false;
    }
    out
}

/// The keys whose values are read with their location (`serde_saphyr::Spanned`).
const LOCATED_KEYS: &[&str] = &[
    "require-signature-identity",
    "require-signature-identity-regexp",
    "require-signature-issuer",
    "require-signature-issuer-regexp",
    "trusted-root",
];

/// Where the per-run manifest cache lives by default: `$XDG_CACHE_HOME/sparse-mirror/manifests`
/// or `~/.cache/sparse-mirror/manifests`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(base.join("sparse-mirror").join("manifests"))
}

#[cfg(test)]
mod keyless_tests;
#[cfg(test)]
mod tests;
