//! TLS material in the docker/podman `certs.d` layout.
//!
//! A certificate directory holds `*.crt` files (extra CA certificates, trusted on top of the
//! system roots) and `NAME.cert` + `NAME.key` pairs (a client certificate for mutual TLS). With
//! `--src-cert-dir`/`--dest-cert-dir` only that directory is read; otherwise the first existing
//! one of `$XDG_CONFIG_HOME/containers/certs.d/HOST` (default `~/.config/…`),
//! `/etc/containers/certs.d/HOST` and `/etc/docker/certs.d/HOST`, where HOST is `host[:port]`
//! as written in the reference.

use std::fmt;
use std::path::{Path, PathBuf};

/// Certificates for one registry, already read and checked.
#[derive(Clone, Default)]
pub struct TlsFiles {
    /// Where they came from.
    pub dir: Option<PathBuf>,
    /// PEM bundles of extra CA certificates (one per `*.crt` file).
    pub roots: Vec<Vec<u8>>,
    /// A client certificate chain followed by its private key, PEM (mutual TLS).
    pub identity: Option<Vec<u8>>,
}

impl fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsFiles")
            .field("dir", &self.dir)
            .field("roots", &self.roots.len())
            .field("identity", &self.identity.as_ref().map(|_| "<client cert>"))
            .finish()
    }
}

impl TlsFiles {
    /// Apply to a client builder.
    pub fn apply(&self, mut b: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, String> {
        for pem in &self.roots {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("a CA certificate is not PEM: {e}"))?;
            b = b.tls_certs_merge(certs);
        }
        if let Some(id) = &self.identity {
            let id = reqwest::Identity::from_pem(id)
                .map_err(|e| format!("the client certificate or key is not usable: {e}"))?;
            b = b.identity(id);
        }
        Ok(b)
    }
}

/// The directories searched when no `--*-cert-dir` is given.
pub fn default_dirs(host: &str) -> Vec<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let mut dirs = vec![];
    match (env("XDG_CONFIG_HOME"), env("HOME")) {
        (Some(d), _) => dirs.push(Path::new(&d).join("containers/certs.d").join(host)),
        (None, Some(h)) => dirs.push(Path::new(&h).join(".config/containers/certs.d").join(host)),
        _ => {}
    }
    dirs.push(Path::new("/etc/containers/certs.d").join(host));
    dirs.push(Path::new("/etc/docker/certs.d").join(host));
    dirs
}

/// TLS files for `host`: the explicit directory (which must exist), else the first default
/// directory that exists, else nothing.
pub fn for_registry(explicit: Option<&Path>, host: &str) -> Result<TlsFiles, String> {
    if let Some(d) = explicit {
        if !d.is_dir() {
            return Err(format!(
                "certificate directory {} does not exist",
                d.display()
            ));
        }
        return load_dir(d);
    }
    match default_dirs(host).into_iter().find(|d| d.is_dir()) {
        Some(d) => load_dir(&d),
        None => Ok(TlsFiles::default()),
    }
}

/// Read one `certs.d`-style directory. Every file is checked now, so a bad file is a usage
/// error that names it rather than a handshake failure later.
pub fn load_dir(dir: &Path) -> Result<TlsFiles, String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading certificate directory {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let mut out = TlsFiles {
        dir: Some(dir.to_path_buf()),
        ..TlsFiles::default()
    };
    for p in &names {
        match p.extension().and_then(|e| e.to_str()) {
            Some("crt") => {
                let pem = read(p)?;
                match reqwest::Certificate::from_pem_bundle(&pem) {
                    Ok(c) if !c.is_empty() => out.roots.push(pem),
                    _ => return Err(format!("{} holds no PEM certificate", p.display())),
                }
            }
            Some("cert") => {
                let key = p.with_extension("key");
                if !key.is_file() {
                    return Err(format!(
                        "client certificate {} has no matching key {}",
                        p.display(),
                        key.display()
                    ));
                }
                if out.identity.is_some() {
                    tracing::warn!(file = %p.display(), "more than one client certificate; using the first");
                    continue;
                }
                let mut pem = read(p)?;
                pem.push(b'\n');
                pem.extend(read(&key)?);
                reqwest::Identity::from_pem(&pem).map_err(|e| {
                    format!(
                        "client certificate {} with key {} is not usable: {e}",
                        p.display(),
                        key.display()
                    )
                })?;
                out.identity = Some(pem);
            }
            Some("key") => {
                let cert = p.with_extension("cert");
                if !cert.is_file() {
                    return Err(format!(
                        "client key {} has no matching certificate {}",
                        p.display(),
                        cert.display()
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_without_cert_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("client.key"), "x").unwrap();
        let e = load_dir(d.path()).unwrap_err();
        assert!(e.contains("client.key") && e.contains("client.cert"), "{e}");
    }

    #[test]
    fn bad_ca_is_named() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ca.crt"), "not a cert").unwrap();
        let e = load_dir(d.path()).unwrap_err();
        assert!(e.contains("ca.crt"), "{e}");
        assert!(for_registry(Some(&d.path().join("missing")), "h").is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let t = TlsFiles {
            identity: Some(b"-----BEGIN PRIVATE KEY-----secret".to_vec()),
            ..TlsFiles::default()
        };
        assert!(!format!("{t:?}").contains("secret"));
    }
}
