//! The signers the signature tests run: cosign 3.x (`cosign`), cosign 2.x (`cosign-2`) and
//! notation 1.3 (`notation`), static binaries from Debian that `scripts/install-peers` unpacks.

use std::path::PathBuf;

/// Finds peer tool `name` (`cosign`, `cosign-2`, `notation`): `$<NAME>_BIN` (upper case, `-` as
/// `_`, e.g. `COSIGN_2_BIN`), then `$MIRROR_PEERS_DIR/bin/NAME`, then
/// `${XDG_CACHE_HOME:-$HOME/.cache}/mirror-peers/bin/NAME` (where `scripts/install-peers` puts
/// it), then PATH (only for `cosign` and `notation`: a `cosign` on PATH is not cosign 2).
pub fn peer_bin(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Some(p) = std::env::var_os(&var) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    let peers = std::env::var_os("MIRROR_PEERS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(cache.map(|c| c.join("mirror-peers")))
        .map(|d| d.join("bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path: Vec<PathBuf> = if name.contains('-') {
        vec![]
    } else {
        std::env::split_paths(&path).collect()
    };
    peers
        .chain(on_path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed; the signature tests sign with the real cosign 3.x, \
                 cosign 2.x and notation 1.3 (Debian sid/trixie): run scripts/install-peers"
            )
        })
}
