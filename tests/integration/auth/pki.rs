//! Test PKI made with the `openssl` CLI, and htpasswd files made with `htpasswd -B`.
//!
//! Everything is EC P-256 (fast to generate): a CA, a server certificate for `127.0.0.1` /
//! `localhost`, a client certificate for mutual TLS, and a token-signing key whose
//! self-signed certificate is the registry's `rootcertbundle`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::Registry;

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {program} (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Paths of the generated files.
pub struct Pki {
    pub dir: PathBuf,
    /// CA certificate (PEM).
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

const CA_CONF: &str = "[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n\
    [dn]\nCN=sparse-mirror test CA\n\
    [ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
    subjectKeyIdentifier=hash\n";

impl Pki {
    /// Generates a CA, a server and a client certificate in `dir`.
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("ca.cnf"), CA_CONF).unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-config", "ca.cnf", "-keyout", "ca.key"];
        ca.extend(ec);
        ca.extend(["-out", "ca.pem", "-days", "2"]);
        run(dir, "openssl", &ca);
        for (name, cn, ext) in [
            (
                "server",
                "127.0.0.1",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
            ),
            (
                "client",
                "mirror-client",
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=clientAuth\n",
            ),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
            let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
            let subj = format!("/CN={cn}");
            let mut req = vec!["req", "-new", "-keyout", &key, "-out", &csr, "-subj", &subj];
            req.extend(ec);
            run(dir, "openssl", &req);
            let (pem, extfile) = (format!("{name}.pem"), format!("{name}.ext"));
            run(
                dir,
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "2",
                    "-extfile",
                    &extfile,
                ],
            );
        }
        Pki {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }

    /// The `http:` YAML block for TLS (and client certificates when `mtls`).
    pub fn http_yaml(&self, mtls: bool) -> String {
        let mut y = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            self.server_cert.display(),
            self.server_key.display()
        );
        if mtls {
            y.push_str(&format!("    clientcas:\n      - {}\n", self.ca.display()));
        }
        y
    }

    /// A docker/podman cert dir at `dir`: `ca.crt`, plus `client.cert`/`client.key` if `client`.
    pub fn cert_dir(&self, dir: &Path, client: bool) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&self.ca, dir.join("ca.crt")).unwrap();
        if client {
            std::fs::copy(&self.client_cert, dir.join("client.cert")).unwrap();
            std::fs::copy(&self.client_key, dir.join("client.key")).unwrap();
        }
        dir.to_path_buf()
    }
}

/// Writes an htpasswd file with one bcrypt entry (`htpasswd -Bbn`).
pub fn htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let out = Command::new("htpasswd")
        .args(["-Bbn", user, pass])
        .output()
        .unwrap_or_else(|e| panic!("`htpasswd` is needed (apt-get install -y apache2-utils): {e}"));
    assert!(out.status.success(), "htpasswd failed");
    let p = dir.join("htpasswd");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&p, &out.stdout).unwrap();
    p
}

/// The `auth:` YAML for an htpasswd file.
pub fn htpasswd_yaml(file: &Path) -> String {
    format!(
        "auth:\n  htpasswd:\n    realm: mirror-test\n    path: {}\n",
        file.display()
    )
}

/// A registry with htpasswd auth over TLS (client certificates required when `mtls`).
pub fn tls_registry(pki: &Pki, htpasswd_file: &Path, mtls: bool) -> Registry {
    Registry::start_secured(&pki.http_yaml(mtls), &htpasswd_yaml(htpasswd_file))
}

/// An EC P-256 token-signing key (PKCS#8 DER) and its self-signed certificate (PEM path, DER).
pub fn token_key(dir: &Path) -> (Vec<u8>, PathBuf, Vec<u8>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("tok.cnf"),
        "[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=mirror-test-token-issuer\n\
         [ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\n",
    )
    .unwrap();
    run(
        dir,
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "tok.key",
        ],
    );
    run(
        dir,
        "openssl",
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "tok.key", "-outform", "DER", "-out", "tok.p8",
        ],
    );
    run(
        dir,
        "openssl",
        &[
            "req", "-x509", "-new", "-key", "tok.key", "-config", "tok.cnf", "-days", "2", "-out",
            "tok.pem",
        ],
    );
    run(
        dir,
        "openssl",
        &[
            "x509", "-in", "tok.pem", "-outform", "DER", "-out", "tok.der",
        ],
    );
    (
        std::fs::read(dir.join("tok.p8")).unwrap(),
        dir.join("tok.pem"),
        std::fs::read(dir.join("tok.der")).unwrap(),
    )
}
