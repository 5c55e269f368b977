//! Docker credential helpers: `docker-credential-NAME get`, with a timeout.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::auth::Credentials;

/// Default time a credential helper may take (`MIRROR_CREDENTIAL_HELPER_TIMEOUT` overrides).
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Ask a docker credential helper: run `docker-credential-HELPER get` with `server` on stdin and
/// read `{"ServerURL","Username","Secret"}` from stdout. `Ok(None)`: the helper has nothing for
/// this server. Errors name the helper and never contain its stdout (it may hold the secret).
pub fn run_helper(
    helper: &str,
    server: &str,
    timeout: Duration,
) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("the credential helper {program} is not installed (not found on PATH)")
            }
            _ => format!("cannot run the credential helper {program}: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives EPIPE: its exit status tells the story.
        let _ = stdin.write_all(server.as_bytes());
    }
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = r {
                let _ = r.take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the credential helper {program} did not answer within {}s (MIRROR_CREDENTIAL_HELPER_TIMEOUT sets the limit)",
                    timeout.as_secs_f32()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for the credential helper {program}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        // docker-credential-helpers print "credentials not found in native keychain" on stdout.
        let text = String::from_utf8_lossy(&stdout).to_ascii_lowercase();
        if text.contains("credentials not found") {
            return Ok(None);
        }
        let msg = String::from_utf8_lossy(&stderr);
        let msg: String = msg.trim().chars().take(300).collect();
        return Err(format!(
            "the credential helper `{program} get` failed ({status}){}",
            if msg.is_empty() {
                String::new()
            } else {
                format!(": {msg}")
            }
        ));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&stdout).map_err(|e| {
        format!(
            "the credential helper {program} printed something that is not its JSON answer ({e})"
        )
    })?;
    if a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if a.username == "<token>" {
        Credentials::IdentityToken {
            username: String::new(),
            token: a.secret,
        }
    } else {
        Credentials::Basic {
            username: a.username,
            password: a.secret,
        }
    }))
}

/// The helper timeout: `MIRROR_CREDENTIAL_HELPER_TIMEOUT` seconds, else [`HELPER_TIMEOUT`].
pub fn helper_timeout() -> Duration {
    std::env::var("MIRROR_CREDENTIAL_HELPER_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map_or(HELPER_TIMEOUT, Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_failures_name_the_helper() {
        let e = run_helper("surely-not-installed-xyz", "reg.local", HELPER_TIMEOUT).unwrap_err();
        assert!(
            e.contains("docker-credential-surely-not-installed-xyz"),
            "{e}"
        );
        assert!(e.contains("not installed"), "{e}");
    }
}
