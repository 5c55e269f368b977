//! Registry access flags: `--src-*` and `--dest-*` (one macro, so both sides have the same
//! flags), the options that are not per side, and [`AccessArgs`], one side without its prefix.

use std::path::PathBuf;

use clap::Args;

/// Registry access options that are not per side.
#[derive(Debug, Clone, Default, Args)]
pub struct SharedAccessArgs {
    /// A docker config.json or containers auth.json with credentials for any registry
    /// (after --src-authfile/--dest-authfile, before $REGISTRY_AUTH_FILE).
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = "Registry access")]
    pub authfile: Option<PathBuf>,

    /// Send credentials over plain HTTP to registries that are not on this machine (unsafe).
    #[arg(long, help_heading = "Registry access")]
    pub allow_insecure_auth: bool,
}

/// Generates the source and target access groups: the same flags, prefixed `--src-`/`--dest-`.
macro_rules! access_args {
    ($(#[$meta:meta])* $name:ident, $p:literal, $env:literal, $who:literal, $heading:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Args)]
        pub struct $name {
            /// Credentials: USER[:PASSWORD] (without PASSWORD: asked on the terminal).
            #[arg(
                id = concat!($p, "_creds"),
                long = concat!($p, "-creds"),
                value_name = "USER[:PASSWORD]",
                env = concat!("MIRROR_", $env, "_CREDS"),
                hide_env_values = true,
                help = concat!("Credentials for the ", $who, " registry: USER[:PASSWORD] (without PASSWORD: asked on the terminal)"),
                help_heading = $heading
            )]
            pub creds: Option<String>,

            /// Read the password from stdin (with --*-creds USER).
            #[arg(
                id = concat!($p, "_password_stdin"),
                long = concat!($p, "-password-stdin"),
                requires = concat!($p, "_creds"),
                help = concat!("Read the ", $who, " password from stdin (with --", $p, "-creds USER)"),
                help_heading = $heading
            )]
            pub password_stdin: bool,

            /// A bearer token, sent as is (no token server round trip).
            #[arg(
                id = concat!($p, "_registry_token"),
                long = concat!($p, "-registry-token"),
                value_name = "TOKEN",
                env = concat!("MIRROR_", $env, "_REGISTRY_TOKEN"),
                hide_env_values = true,
                conflicts_with = concat!($p, "_creds"),
                help = concat!("A bearer token for the ", $who, " registry, sent as is (no token server round trip)"),
                help_heading = $heading
            )]
            pub registry_token: Option<String>,

            /// A docker config.json or containers auth.json to read credentials from.
            #[arg(
                id = concat!($p, "_authfile"),
                long = concat!($p, "-authfile"),
                value_name = "FILE",
                value_hint = clap::ValueHint::FilePath,
                help = concat!("A docker config.json or containers auth.json to read ", $who, " credentials from"),
                help_heading = $heading
            )]
            pub authfile: Option<PathBuf>,

            /// Talk plain HTTP (loopback hosts fall back to it by themselves).
            #[arg(
                id = concat!($p, "_plain_http"),
                long = concat!($p, "-plain-http"),
                help = concat!("Talk plain HTTP to the ", $who, " registry (loopback hosts fall back to it by themselves)"),
                help_heading = $heading
            )]
            pub plain_http: bool,

            /// Verify the registry's TLS certificate.
            #[arg(
                id = concat!($p, "_tls_verify"),
                long = concat!($p, "-tls-verify"),
                default_value_t = true,
                action = clap::ArgAction::Set,
                value_name = "BOOL",
                help = concat!("Verify the ", $who, " registry's TLS certificate"),
                help_heading = $heading
            )]
            pub tls_verify: bool,

            /// Certificates: *.crt CA files, client.cert + client.key for mutual TLS.
            #[arg(
                id = concat!($p, "_cert_dir"),
                long = concat!($p, "-cert-dir"),
                value_name = "DIR",
                value_hint = clap::ValueHint::DirPath,
                help = concat!("Certificates for the ", $who, " registry: *.crt CA files, client.cert + client.key for mutual TLS"),
                long_help = concat!("Certificates for the ", $who, " registry: *.crt CA files, client.cert + client.key for mutual TLS.\n\n",
                    "The docker/podman certs.d layout. Without it, the first existing directory of ",
                    "~/.config/containers/certs.d/HOST, /etc/containers/certs.d/HOST and ",
                    "/etc/docker/certs.d/HOST is used."),
                help_heading = $heading
            )]
            pub cert_dir: Option<PathBuf>,
        }

        impl $name {
            /// The side-independent view that settings work with.
            pub fn view(&self) -> AccessArgs {
                AccessArgs {
                    creds: self.creds.clone(),
                    password_stdin: self.password_stdin,
                    registry_token: self.registry_token.clone(),
                    authfile: self.authfile.clone(),
                    plain_http: self.plain_http,
                    tls_verify: self.tls_verify,
                    cert_dir: self.cert_dir.clone(),
                }
            }
        }
    };
}

access_args!(
    /// `--src-*`: how to reach and authenticate to the source registry.
    SourceAccessArgs,
    "src",
    "SRC",
    "source",
    "Source registry"
);
access_args!(
    /// `--dest-*`: how to reach and authenticate to the target registry.
    TargetAccessArgs,
    "dest",
    "DEST",
    "target",
    "Target registry"
);

/// One side's access flags without their prefix (also built from a sync file's `registries`).
#[derive(Debug, Clone)]
pub struct AccessArgs {
    /// `--*-creds USER[:PASSWORD]`.
    pub creds: Option<String>,
    /// `--*-password-stdin`.
    pub password_stdin: bool,
    /// `--*-registry-token`.
    pub registry_token: Option<String>,
    /// `--*-authfile`.
    pub authfile: Option<PathBuf>,
    /// `--*-plain-http`.
    pub plain_http: bool,
    /// `--*-tls-verify`.
    pub tls_verify: bool,
    /// `--*-cert-dir`.
    pub cert_dir: Option<PathBuf>,
}

impl Default for AccessArgs {
    fn default() -> Self {
        AccessArgs {
            creds: None,
            password_stdin: false,
            registry_token: None,
            authfile: None,
            plain_http: false,
            tls_verify: true,
            cert_dir: None,
        }
    }
}
