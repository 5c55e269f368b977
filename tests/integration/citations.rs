//! Citations of the registry facts resolve inside the repository: every `docs/registries.md
//! §Name` in src/, tests/ and docs/ names a `## Name` section there, and nothing cites the
//! out-of-tree notes (REGISTRY-FACTS.md) any more.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs" || x == "md") {
            out.push(p);
        }
    }
}

#[test]
fn registry_fact_citations_name_sections_of_docs_registries_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/registries.md")).unwrap();
    let sections: Vec<&str> = doc.lines().filter_map(|l| l.strip_prefix("## ")).collect();
    let mut all = vec![];
    for d in ["src", "tests", "docs"] {
        files(&root.join(d), &mut all);
    }
    let this = Path::new(file!()).file_name().unwrap();
    let (mut cited, mut bad) = (0, vec![]);
    for f in all.iter().filter(|f| f.file_name() != Some(this)) {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        let in_doc = rel == "docs/registries.md";
        for (n, line) in text.lines().enumerate() {
            if line.contains("REGISTRY-FACTS") {
                bad.push(format!("{rel}:{}: cites REGISTRY-FACTS", n + 1));
            }
            let marker = if in_doc {
                "§"
            } else {
                "docs/registries.md §"
            };
            for (k, _) in line.match_indices(marker) {
                let after = &line[k + marker.len()..];
                if after.starts_with("Name`") {
                    continue; // the form, as the doc's introduction gives it
                }
                cited += 1;
                if !sections.iter().any(|s| after.starts_with(s)) {
                    bad.push(format!("{rel}:{}: no section for {after:?}", n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "sections: {sections:?}\n{}", bad.join("\n"));
    assert!(cited >= 10, "only {cited} citations found");
}
