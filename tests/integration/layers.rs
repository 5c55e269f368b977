//! The architecture check: the top-level modules of `src/` import each other without cycles and
//! only downwards, `app → engine → {transport, auth, model}`, `transport → auth → model`, with
//! `error`, `exit` and `interrupt` at the bottom (they may use `model` and each other) and
//! `model` using none of them.
//!
//! A top-level module is `src/NAME.rs` or `src/NAME/` (not `main.rs` or `lib.rs`). Module A
//! uses B when a file of A names `crate::B` in code: `use crate::B::…`, a path, or an item of a
//! `use crate::{B, …}` group. Comments, string literals and `#[cfg(test)]` items are ignored
//! (as `/work/shared/tools/modgraph.py` does, with a lexer instead of regular expressions, and
//! skipping only the test item rather than the rest of the file). A failure names each offending edge with the
//! file and line that makes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Who may use whom. A module missing from this table fails the check until it is placed.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "app",
        &[
            "engine",
            "transport",
            "auth",
            "model",
            "error",
            "exit",
            "interrupt",
        ],
    ),
    // Property checks shared with the fuzz targets: a consumer of the lower layers, like `app`
    // (the response-parser checks drive transport and auth directly).
    (
        "fuzz_checks",
        &["engine", "transport", "auth", "model", "error", "exit"],
    ),
    (
        "engine",
        &["transport", "auth", "model", "error", "exit", "interrupt"],
    ),
    (
        "transport",
        &["auth", "model", "error", "exit", "interrupt"],
    ),
    ("auth", &["model", "error", "exit", "interrupt"]),
    ("error", &["model", "exit", "interrupt"]),
    ("exit", &["model", "error", "interrupt"]),
    ("interrupt", &["model", "error", "exit"]),
    ("model", &[]),
];

/// Where module A first names module B.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    file: PathBuf,
    line: usize,
}

/// The module graph of one `src/` directory.
#[derive(Debug, Default)]
struct Graph {
    modules: BTreeSet<String>,
    /// from → to → the first place `from` names `crate::to`.
    edges: BTreeMap<String, BTreeMap<String, Site>>,
}

impl Graph {
    fn scan(src: &Path) -> Graph {
        let mut g = Graph::default();
        for entry in std::fs::read_dir(src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if path.is_dir() {
                g.modules.insert(name);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                if stem != "main" && stem != "lib" {
                    g.modules.insert(stem.to_string());
                }
            }
        }
        for m in g.modules.clone() {
            let mut files = vec![];
            let file = src.join(format!("{m}.rs"));
            if file.is_file() {
                files.push(file);
            }
            rust_files(&src.join(&m), &mut files);
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                for (to, line) in crate_names(&text) {
                    if to != m && g.modules.contains(&to) {
                        let site = Site {
                            file: f.strip_prefix(src.parent().unwrap()).unwrap().to_path_buf(),
                            line,
                        };
                        g.edges
                            .entry(m.clone())
                            .or_default()
                            .entry(to)
                            .or_insert(site);
                    }
                }
            }
        }
        g
    }

    fn uses(&self, a: &str, b: &str) -> bool {
        self.edges.get(a).is_some_and(|e| e.contains_key(b))
    }

    fn describe(&self, a: &str, b: &str) -> String {
        let s = &self.edges[a][b];
        format!(
            "{a} → {b} ({}:{} names crate::{b})",
            s.file.display(),
            s.line
        )
    }

    /// The strongly connected components of more than one module, each with its edges.
    fn cycles(&self) -> Vec<String> {
        let mods: Vec<&String> = self.modules.iter().collect();
        let n = mods.len();
        let mut reach = vec![vec![false; n]; n];
        for (i, a) in mods.iter().enumerate() {
            for (j, b) in mods.iter().enumerate() {
                reach[i][j] = self.uses(a, b);
            }
        }
        for k in 0..n {
            for i in 0..n {
                for j in 0..n {
                    if reach[i][k] && reach[k][j] {
                        reach[i][j] = true;
                    }
                }
            }
        }
        let mut seen = vec![false; n];
        let mut out = vec![];
        for i in 0..n {
            if seen[i] {
                continue;
            }
            let comp: Vec<usize> = (0..n)
                .filter(|&j| j == i || (reach[i][j] && reach[j][i]))
                .collect();
            comp.iter().for_each(|&j| seen[j] = true);
            if comp.len() > 1 {
                let names: Vec<&str> = comp.iter().map(|&j| mods[j].as_str()).collect();
                let path = self.shortest_cycle(names[0], &names);
                let edges: Vec<String> =
                    path.windows(2).map(|w| self.describe(w[0], w[1])).collect();
                let mut msg = format!("cycle {}: {}", path.join(" → "), edges.join("; "));
                if names.len() + 1 > path.len() {
                    msg.push_str(&format!(
                        " (all of {{{}}} reach each other)",
                        names.join(", ")
                    ));
                }
                out.push(msg);
            }
        }
        out
    }

    /// The shortest path `start → … → start` through the modules `within`.
    fn shortest_cycle<'a>(&self, start: &'a str, within: &[&'a str]) -> Vec<&'a str> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for &v in within.iter().filter(|v| self.uses(u, v)) {
                if v == start {
                    let mut path = vec![start, u];
                    let mut at = u;
                    while at != start {
                        at = parent[at];
                        path.push(at);
                    }
                    path.reverse();
                    return path;
                }
                if !parent.contains_key(v) {
                    parent.insert(v, u);
                    queue.push_back(v);
                }
            }
        }
        unreachable!("{start} is in a cycle within {within:?}")
    }

    /// Edges the layer table does not allow, and modules it does not place.
    fn layer_violations(&self, layers: &[(&str, &[&str])]) -> Vec<String> {
        let allowed: BTreeMap<&str, &[&str]> = layers.iter().copied().collect();
        let mut out = vec![];
        for m in &self.modules {
            let Some(ok) = allowed.get(m.as_str()) else {
                out.push(format!(
                    "top-level module `{m}` has no layer: add it to LAYERS in {}",
                    file!()
                ));
                continue;
            };
            for to in self.edges.get(m).into_iter().flat_map(|e| e.keys()) {
                if !ok.contains(&to.as_str()) {
                    let may = if ok.is_empty() {
                        "none of the others".to_string()
                    } else {
                        ok.join(", ")
                    };
                    out.push(format!(
                        "{} against the layers: {m} may use {may}",
                        self.describe(m, to)
                    ));
                }
            }
        }
        out
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `text` with comments, the contents of string and char literals, and `#[cfg(test)]` items
/// blanked (newlines kept, so positions keep their line).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b[..i]
                .last()
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push(c);
            (i + 1..=j).for_each(|_| out.push(' '));
            i = j + 1;
            while i < b.len() {
                if b[i] == '"' && (1..=hashes).all(|h| b.get(i + h) == Some(&'#')) {
                    (0..=hashes).for_each(|_| out.push(' '));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(b[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{…}'.
            out.push(' ');
            i += 2;
            out.push(' ');
            while i < b.len() && b[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_items(out)
}

/// `code` with every `#[cfg(test)]` item blanked: up to its `;`, or through its `{ … }` block
/// (comments and strings are already blank, so the braces match).
fn without_test_items(code: String) -> String {
    const ATTR: &str = "#[cfg(test)]";
    let mut b: Vec<char> = code.chars().collect();
    let attr: Vec<char> = ATTR.chars().collect();
    let mut i = 0;
    while i + attr.len() <= b.len() {
        if b[i..i + attr.len()] != attr[..] {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut depth = 0;
        while j < b.len() {
            match b[j] {
                ';' if depth == 0 => break,
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let end = j.min(b.len() - 1);
        for c in &mut b[i..=end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end + 1;
    }
    b.into_iter().collect()
}

/// The top-level names after `crate::` in the code of `text`, with their 1-based lines.
fn crate_names(text: &str) -> Vec<(String, usize)> {
    let code = code_only(text);
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = vec![];
    let mut from = 0;
    while let Some(k) = code[from..].find("crate::") {
        let at = from + k;
        from = at + "crate::".len();
        if code[..at]
            .chars()
            .last()
            .is_some_and(|p| p.is_alphanumeric() || p == '_')
        {
            continue; // `mycrate::`
        }
        let rest = code[from..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: a, b, e.
            let mut depth = 1;
            let mut item = String::new();
            let mut items = vec![];
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => items.push(std::mem::take(&mut item)),
                    _ if depth == 1 => item.push(ch),
                    _ => {}
                }
            }
            items.push(item);
            for it in items {
                let name = ident(it.trim());
                if !name.is_empty() {
                    out.push((name, line_of(at)));
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.push((name, line_of(at)));
            }
        }
    }
    out
}

#[test]
fn the_crate_has_no_import_cycles_and_keeps_its_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = Graph::scan(&src);
    for m in [
        "app",
        "engine",
        "model",
        "transport",
        "auth",
        "error",
        "exit",
    ] {
        assert!(g.modules.contains(m), "no top-level module {m}: {g:?}");
    }
    // The scan sees the real imports (so the check cannot pass on an empty graph).
    for (a, b) in [
        ("app", "engine"),
        ("engine", "model"),
        ("transport", "auth"),
    ] {
        assert!(g.uses(a, b), "{a} → {b} not found: {g:?}");
    }
    let mut problems = g.cycles();
    problems.extend(g.layer_violations(LAYERS));
    assert!(
        problems.is_empty(),
        "the module layering is broken:\n  {}",
        problems.join("\n  ")
    );
}

/// The checker on a small tree made for it: a cycle, a layer violation, and names it must
/// ignore (comments, strings, test tails, other crates).
#[test]
fn the_layer_checker_finds_cycles_and_upward_imports() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod top; pub mod low; pub mod mid; pub mod base;\n",
    );
    write("main.rs", "use crate::top::run;\n");
    write(
        "top.rs",
        "//! Uses crate::base only in a comment.\nuse crate::{mid::{self, x}, low};\n",
    );
    write(
        "mid/mod.rs",
        "mod inner;\nfn f() { let _ = \"crate::base\"; let _ = r#\"crate::base\"#; }\n",
    );
    write(
        "mid/inner.rs",
        "fn g() -> char { '\"' }\n\n\npub fn h() { crate::low::go() }\n",
    );
    write(
        "low.rs",
        "pub fn go() {}\n/* crate::top in a block comment */\npub use mycrate::top;\nfn back() { crate::mid::h() }\n#[cfg(test)]\nmod tests { use crate::top; fn f() { if true { crate::top::x() } } }\n#[cfg(test)]\nuse crate::top::y;\nfn after() { crate::base::lifetime(\"\") }\n",
    );
    write(
        "base.rs",
        "pub fn lifetime<'a>(s: &'a str) -> &'a str { s }\n",
    );

    let g = Graph::scan(&src);
    let names: Vec<&str> = g.modules.iter().map(String::as_str).collect();
    assert_eq!(names, ["base", "low", "mid", "top"], "{g:?}");
    let edges: Vec<(String, String, String)> = g
        .edges
        .iter()
        .flat_map(|(a, to)| {
            to.iter().map(move |(b, s)| {
                (
                    a.clone(),
                    b.clone(),
                    format!("{}:{}", s.file.display(), s.line),
                )
            })
        })
        .collect();
    let edge = |a: &str, b: &str, at: &str| (a.to_string(), b.to_string(), at.to_string());
    assert_eq!(
        edges,
        [
            edge("low", "base", "src/low.rs:9"),
            edge("low", "mid", "src/low.rs:4"),
            edge("mid", "low", "src/mid/inner.rs:4"),
            edge("top", "low", "src/top.rs:2"),
            edge("top", "mid", "src/top.rs:2"),
        ],
        "comments, strings, raw strings, char literals, test items and other crates are not \
         imports; code after a test item is"
    );

    assert_eq!(
        g.cycles(),
        [
            "cycle low → mid → low: low → mid (src/low.rs:4 names crate::mid); \
          mid → low (src/mid/inner.rs:4 names crate::low)"
        ]
    );
    let layers: &[(&str, &[&str])] = &[
        ("top", &["mid", "low", "base"]),
        ("mid", &["low", "base"]),
        ("low", &["base"]),
    ];
    assert_eq!(
        g.layer_violations(layers),
        [
            "top-level module `base` has no layer: add it to LAYERS in tests/integration/layers.rs",
            "low → mid (src/low.rs:4 names crate::mid) against the layers: low may use base",
        ]
    );
    // Without the upward import the same tree passes.
    write("low.rs", "pub fn go() {}\n");
    let g = Graph::scan(&src);
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    let mut layers = layers.to_vec();
    layers.push(("base", &[]));
    assert!(g.layer_violations(&layers).is_empty());
}
