//! Unit tests of the layout backend.

use super::*;

/// Regression: a writer killed after `oci-layout` but before `index.json` left a layout
/// that every rerun refused ("index.json is missing").
#[test]
fn reopening_a_half_created_layout_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(LAYOUT_FILE),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let l = Layout::create(dir.path()).unwrap();
    assert!(l.read_index().unwrap().is_empty());
    l.pending.lock().unwrap().push((Some("v1".into()), serde_json::json!({"digest": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})));
    l.commit_index().unwrap();
    assert_eq!(l.read_index().unwrap().len(), 1);
}

#[test]
fn garbled_layout_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(LAYOUT_FILE), b"{nope").unwrap();
    let e = Layout::open(dir.path()).err().unwrap().to_string();
    assert!(e.contains("oci-layout is not valid"), "{e}");
    std::fs::write(
        dir.path().join(LAYOUT_FILE),
        br#"{"imageLayoutVersion":"9.0.0"}"#,
    )
    .unwrap();
    assert!(Layout::create(dir.path())
        .err()
        .unwrap()
        .to_string()
        .contains("unsupported imageLayoutVersion"));
}
