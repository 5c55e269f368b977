//! The gateway's settings (`--sign-key` on copy and sync, `sign-key` in the sync file): the site
//! key read once per file, its password from `COSIGN_PASSWORD` or stdin, the private-file
//! warning, and the rule that only verified images are signed (docs/signatures.md).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::app::flags::{SignFormatArg, SigningArgs};
use crate::app::sync::config::image::ImageSettings;
use crate::engine::signature::keys::MAX_KEY_FILE;
use crate::engine::signature::private_key::{is_encrypted, SigningKey};
use crate::engine::signature::publish::SiteSigning;
use crate::engine::signature::sign::SignFormat;
use crate::engine::signature::Policy;
use crate::error::{Error, Result};

/// The environment variable cosign reads the key password from (an empty value is a password).
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// The engine's format for `--sign-format`.
pub fn sign_format(a: Option<SignFormatArg>) -> SignFormat {
    match a.unwrap_or_default() {
        SignFormatArg::Tag => SignFormat::Tag,
        SignFormatArg::Bundle => SignFormat::Bundle,
        SignFormatArg::Both => SignFormat::Both,
    }
}

/// Whether `policy` verifies what is copied: the one question `--sign-key` asks. Upstream keys
/// (`--require-signature`) and a keyless identity policy (`--require-signature-identity` with
/// `--trusted-root`) both answer it.
pub fn verifies(policy: &Policy) -> bool {
    policy.enabled()
}

/// `--sign-key` needs a verification policy on the same run: a gateway must not launder
/// unsigned images into trusted ones. `what` names the image (sync) or is empty (copy).
pub fn check_verified(policy: &Policy, key: &Path, what: &str) -> Result<()> {
    if verifies(policy) {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!(
            "--sign-key {}{what}: signing needs a verification policy on the same run: only what was verified is signed with the site key",
            key.display()
        ),
        hint: Some(
            "add --require-signature UPSTREAM.pub (the upstream's public key), or a keyless policy: --require-signature-identity ID --require-signature-issuer URL --trusted-root FILE (sync: `require-signature:` or `require-signature-identity:`), so the gateway never signs an image nobody vouched for"
                .into(),
        ),
    })
}

fn usage(path: &Path, m: String) -> Error {
    Error::Usage {
        message: format!("--sign-key {m}"),
        hint: Some(format!(
            "pass cosign's cosign.key or an unencrypted PKCS#8 PEM (ECDSA P-256/P-384, RSA >= 2048 bits, Ed25519); `openssl pkey -in {} -text -noout` shows what a file holds",
            path.display()
        )),
    }
}

/// Reads site keys once per file; the password once per run.
pub struct KeyLoader {
    password_stdin: bool,
    password: Option<Zeroizing<String>>,
    keys: HashMap<PathBuf, Arc<SigningKey>>,
    /// Warnings for the report (a key file other users can read).
    pub warnings: Vec<String>,
}

impl KeyLoader {
    /// `password_stdin`: `--sign-key-password-stdin`.
    pub fn new(password_stdin: bool) -> KeyLoader {
        KeyLoader {
            password_stdin,
            password: None,
            keys: HashMap::new(),
            warnings: vec![],
        }
    }

    fn password(&mut self, path: &Path) -> Result<&[u8]> {
        if self.password.is_none() {
            let p = if self.password_stdin {
                let mut s = Zeroizing::new(String::new());
                std::io::stdin().read_to_string(&mut s).map_err(|e| {
                    usage(
                        path,
                        format!("--sign-key-password-stdin: reading stdin: {e}"),
                    )
                })?;
                let trimmed = s.strip_suffix('\n').unwrap_or(&s);
                let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
                Zeroizing::new(trimmed.to_string())
            } else {
                match std::env::var(PASSWORD_ENV) {
                    Ok(v) => Zeroizing::new(v),
                    Err(_) => {
                        return Err(usage(
                            path,
                            format!(
                                "{}: cosign's encrypted key needs its password: set {PASSWORD_ENV} or pass --sign-key-password-stdin",
                                path.display()
                            ),
                        ))
                    }
                }
            };
            self.password = Some(p);
        }
        Ok(self.password.as_ref().map_or(&[][..], |p| p.as_bytes()))
    }

    /// The key in `path`: read (bounded), warned about when other users may read it, decrypted
    /// when it is cosign's, parsed. A usage error (exit 2) naming the file and the reason.
    pub fn load(&mut self, path: &Path) -> Result<Arc<SigningKey>> {
        if let Some(k) = self.keys.get(path) {
            return Ok(k.clone());
        }
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| usage(path, format!("{name}: {e}")))?;
        if meta.len() > MAX_KEY_FILE as u64 {
            return Err(usage(
                path,
                format!(
                    "{name}: {} bytes is too large for a private key file (at most {MAX_KEY_FILE})",
                    meta.len()
                ),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                self.warnings.push(format!(
                    "the signing key {name} is accessible to other users (mode {mode:04o}); keep it private: chmod 600 {name}"
                ));
            }
        }
        let bytes =
            Zeroizing::new(std::fs::read(path).map_err(|e| usage(path, format!("{name}: {e}")))?);
        let password = if is_encrypted(&bytes) {
            Some(Zeroizing::new(self.password(path)?.to_vec()))
        } else {
            None
        };
        let key = SigningKey::from_pem(&bytes, &name, password.as_ref().map(|p| p.as_slice()))
            .map_err(|e| usage(path, e.0))?;
        let key = Arc::new(key);
        self.keys.insert(path.to_path_buf(), key.clone());
        Ok(key)
    }
}

/// `--sign-key` of `mirror copy`: the gateway settings, checked against the verification
/// policy of the same run; `created` stamps bundle referrers.
pub fn copy_signing(
    a: &SigningArgs,
    policy: &Policy,
    loader: &mut KeyLoader,
    created: &str,
) -> Result<Option<Arc<SiteSigning>>> {
    let Some(path) = &a.sign_key else {
        return Ok(None);
    };
    check_verified(policy, path, "")?;
    Ok(Some(Arc::new(SiteSigning {
        key: loader.load(path)?,
        children: a.sign_children,
        format: sign_format(a.sign_format),
        created: created.to_string(),
    })))
}

/// The gateway of a `mirror sync` run: every site key the file (or `--sign-key`) names, read
/// before any image is looked at, and the flags' defaults.
pub struct SyncSigning {
    keys: HashMap<PathBuf, Arc<SigningKey>>,
    defaults: SigningArgs,
    created: String,
}

impl SyncSigning {
    /// Reads every key of `images` (each image's `sign-key`, else `--sign-key`) once, after
    /// checking that each image that signs also verifies. `images`: each entry's settings and
    /// where it is written, for messages.
    pub fn load<'a>(
        defaults: &SigningArgs,
        images: impl Iterator<Item = (&'a ImageSettings, String)>,
        loader: &mut KeyLoader,
        created: &str,
    ) -> Result<SyncSigning> {
        let mut keys = HashMap::new();
        for (settings, place) in images {
            let Some(path) = settings.sign_key.as_ref().or(defaults.sign_key.as_ref()) else {
                continue;
            };
            check_verified(&settings.signatures, path, &format!(" ({place})"))?;
            if !keys.contains_key(path) {
                keys.insert(path.clone(), loader.load(path)?);
            }
        }
        Ok(SyncSigning {
            keys,
            defaults: defaults.clone(),
            created: created.to_string(),
        })
    }

    /// No signing (commands that only read targets: `mirror client-config`).
    pub fn none() -> SyncSigning {
        SyncSigning {
            keys: HashMap::new(),
            defaults: SigningArgs::default(),
            created: String::new(),
        }
    }

    /// The gateway settings of one image, if it signs.
    pub fn for_image(&self, settings: &ImageSettings) -> Option<Arc<SiteSigning>> {
        let path = settings
            .sign_key
            .as_ref()
            .or(self.defaults.sign_key.as_ref())?;
        Some(Arc::new(SiteSigning {
            key: self.keys.get(path)?.clone(),
            children: settings
                .sign_children
                .unwrap_or(self.defaults.sign_children),
            format: settings
                .sign_format
                .unwrap_or_else(|| sign_format(self.defaults.sign_format)),
            created: self.created.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/engine/signature/testdata/sign")
            .join(name)
    }

    #[test]
    fn signing_without_a_verification_policy_is_refused() {
        let e = check_verified(&Policy::default(), Path::new("site.key"), "").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(
            text.contains("site.key") && text.contains("verification policy"),
            "{text}"
        );
    }

    #[test]
    fn keys_are_read_once_and_unsupported_ones_name_file_and_reason() {
        let mut l = KeyLoader::new(false);
        let a = l.load(&testdata("p256.pem")).unwrap();
        let b = l.load(&testdata("p256.pem")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let e = l.load(&testdata("rsa1024.pem")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("rsa1024.pem") && e.to_string().contains("1024 bits"));
        let e = l.load(Path::new("/nonexistent/site.key")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/site.key"), "{e}");
    }
}
