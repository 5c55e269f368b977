//! The architecture checks. Between the top-level modules of `src/`: they import each other
//! without cycles and only downwards, `app → engine → {transport, auth, model}`,
//! `transport → auth → model`, with `error`, `exit` and `interrupt` at the bottom (they may use
//! `model` and each other) and `model` using none of them. Inside each top-level module: no
//! circle between its files (see "Files inside one layer" below for what counts as an edge).
//!
//! A top-level module is `src/NAME.rs` or `src/NAME/` (not `main.rs` or `lib.rs`). Module A
//! uses B when a file of A names `crate::B` in code: `use crate::B::…`, a path, or an item of a
//! `use crate::{B, …}` group. Comments, string literals and `#[cfg(test)]` items are ignored
//! (as `/work/shared/tools/modgraph.py` does, with a lexer instead of regular expressions, and
//! skipping only the test item rather than the rest of the file). A failure names each
//! offending edge with the file and line that makes it.

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

/// Where one node of a graph first names another.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Site {
    file: PathBuf,
    line: usize,
    /// The path as the code names it: `crate::engine`, `super::Storage`.
    names: String,
}

/// An import graph: between the top-level modules of one `src/` directory ([`Graph::scan`]), or
/// between the files inside each of them ([`Graph::scan_files`]).
#[derive(Debug, Default)]
struct Graph {
    nodes: BTreeSet<String>,
    /// from → to → the first place `from` names `to`.
    edges: BTreeMap<String, BTreeMap<String, Site>>,
}

impl Graph {
    fn scan(src: &Path) -> Graph {
        let mut g = Graph::default();
        for entry in std::fs::read_dir(src).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if path.is_dir() {
                g.nodes.insert(name);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                if stem != "main" && stem != "lib" {
                    g.nodes.insert(stem.to_string());
                }
            }
        }
        for m in g.nodes.clone() {
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
                    if to != m && g.nodes.contains(&to) {
                        let site = Site {
                            file: f.strip_prefix(src.parent().unwrap()).unwrap().to_path_buf(),
                            line,
                            names: format!("crate::{to}"),
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
            "{a} → {b} ({}:{} names {})",
            s.file.display(),
            s.line,
            s.names
        )
    }

    /// The nodes `from` reaches through one or more edges.
    fn reach(&self, from: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(u) = todo.pop() {
            for v in self.edges.get(u).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(v.as_str()) {
                    todo.push(v);
                }
            }
        }
        seen
    }

    /// The strongly connected components of more than one node: for each, its shortest cycle
    /// with the import that makes each edge, and when the component is larger than that cycle,
    /// its other members and every other edge between them (all of them must be cut).
    fn cycles(&self) -> Vec<String> {
        let reach: BTreeMap<&str, BTreeSet<&str>> = self
            .nodes
            .iter()
            .map(|n| (n.as_str(), self.reach(n)))
            .collect();
        let mut seen = BTreeSet::new();
        let mut out = vec![];
        for (&a, from_a) in &reach {
            if seen.contains(a) {
                continue;
            }
            let names: Vec<&str> = reach
                .keys()
                .copied()
                .filter(|&b| b == a || (from_a.contains(b) && reach[b].contains(a)))
                .collect();
            seen.extend(names.iter().copied());
            if names.len() < 2 {
                continue;
            }
            let path = self.shortest_cycle(a, &names);
            let edges: Vec<String> = path.windows(2).map(|w| self.describe(w[0], w[1])).collect();
            let mut msg = format!("cycle {}: {}", path.join(" → "), edges.join("; "));
            if names.len() + 1 > path.len() {
                msg.push_str(&format!(
                    " (all of {{{}}} reach each other",
                    names.join(", ")
                ));
                let on_path: BTreeSet<(&str, &str)> =
                    path.windows(2).map(|w| (w[0], w[1])).collect();
                let rest: Vec<String> = names
                    .iter()
                    .flat_map(|&u| names.iter().map(move |&v| (u, v)))
                    .filter(|&(u, v)| self.uses(u, v) && !on_path.contains(&(u, v)))
                    .map(|(u, v)| self.describe(u, v))
                    .collect();
                if !rest.is_empty() {
                    msg.push_str(&format!("; also {}", rest.join("; ")));
                }
                msg.push(')');
            }
            out.push(msg);
        }
        out
    }

    /// The shortest path `start → … → start` through the nodes `within`.
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
        for m in &self.nodes {
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
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_start(&b, i) {
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
            // An escaped char literal: '\n', '\'', '\u{…}' (the escaped char is skipped, so
            // '\'' ends at its own closing quote).
            out.push_str("   ");
            i += 3;
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

/// Whether the `r` at `i` opens a raw string: no identifier runs into it, except the `b` of a
/// raw byte string `br"…"`.
fn raw_string_start(b: &[char], i: usize) -> bool {
    let ident = |k: Option<usize>| k.is_some_and(|k| b[k].is_alphanumeric() || b[k] == '_');
    match i.checked_sub(1) {
        Some(k) if b[k] == 'b' => !ident(k.checked_sub(1)),
        k => !ident(k),
    }
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

// ── Files inside one layer ──────────────────────────────────────────────────────────────────
//
// File F uses file G (both in the same top-level module) when F's code names a path that
// resolves to G: a `use` path (each leaf of a `{…}` group) or an inline path that starts with
// `crate::`, `super::`, `self::` or the name of a child module F declares (`mod x;`, then
// `x::…`). A path resolves to the deepest file of its module path (`crate::a::b::C` →
// `src/a/b.rs` or `src/a/b/mod.rs`, else `src/a.rs` or `src/a/mod.rs`); a re-export is not
// followed, so `crate::transport::Storage` is `transport/mod.rs` wherever `Storage` is
// defined. A `mod x;` declaration alone is no edge. The files are those compiled outside
// tests: reached from `lib.rs` and `main.rs` through `mod` declarations that are not
// `#[cfg(test)]`, so `plan/tests.rs` and `settings_tests.rs` are not part of the graph.

/// One token of blanked code: an identifier (or number), `::`, or one other character; `at` is
/// its char offset.
#[derive(Debug)]
struct Token {
    text: String,
    at: usize,
}

fn tokens(code: &[char]) -> Vec<Token> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = vec![];
    let mut i = 0;
    while i < code.len() {
        let start = i;
        if code[i].is_whitespace() {
            i += 1;
            continue;
        } else if word(code[i]) {
            while i < code.len() && word(code[i]) {
                i += 1;
            }
        } else if code[i] == ':' && code.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            i += 1;
        }
        out.push(Token {
            text: code[start..i].iter().collect(),
            at: start,
        });
    }
    out
}

fn is_ident(t: Option<&Token>) -> bool {
    t.is_some_and(|t| t.text.starts_with(|c: char| c.is_alphabetic() || c == '_'))
}

fn text_at(toks: &[Token], i: usize) -> &str {
    toks.get(i).map_or("", |t| t.text.as_str())
}

/// A file of the crate compiled outside tests.
struct SourceFile {
    path: PathBuf,
    /// Its module path: `["transport", "registry"]` for `transport/registry/mod.rs`; empty for
    /// `lib.rs` and `main.rs`.
    module: Vec<String>,
    /// The children it declares with `mod NAME;`.
    children: BTreeSet<String>,
    code: Vec<char>,
    toks: Vec<Token>,
}

impl SourceFile {
    fn line(&self, at: usize) -> usize {
        self.code[..at].iter().filter(|&&c| c == '\n').count() + 1
    }

    /// Every path the code names that may lead to a file of the crate, with its char offset,
    /// in the order they appear.
    fn named_paths(&self) -> Vec<(usize, Vec<String>)> {
        let toks = &self.toks;
        let mut out = vec![];
        let mut i = 0;
        while i < toks.len() {
            if toks[i].text == "use" {
                // The leaves of the use tree; its prefixes (`crate::a` of `crate::a::{b, c}`)
                // are no paths of their own.
                i = use_tree(toks, i + 1, &[], &mut out);
                continue;
            }
            let t = &toks[i];
            let starts = matches!(t.text.as_str(), "crate" | "super" | "self")
                || self.children.contains(&t.text);
            if starts
                && (i == 0 || toks[i - 1].text != "::")
                && text_at(toks, i + 1) == "::"
                && is_ident(toks.get(i + 2))
            {
                let mut path = vec![t.text.clone()];
                let mut j = i + 1;
                while text_at(toks, j) == "::" && is_ident(toks.get(j + 1)) {
                    path.push(toks[j + 1].text.clone());
                    j += 2;
                }
                out.push((t.at, path));
                i = j;
            } else {
                i += 1;
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }

    /// The module path `path` names from this file, if it names one of the crate.
    fn resolve(&self, path: &[String]) -> Option<Vec<String>> {
        let first = path.first()?.as_str();
        let mut abs = match first {
            "crate" => vec![],
            "super" | "self" => self.module.clone(),
            _ if self.children.contains(first) => {
                let mut m = self.module.clone();
                m.push(first.to_string());
                m
            }
            _ => return None,
        };
        let mut rest = &path[1..];
        if first == "super" {
            abs.pop();
        }
        while let Some(s) = rest.first().filter(|s| *s == "super" || *s == "self") {
            if s == "super" {
                abs.pop();
            }
            rest = &rest[1..];
        }
        abs.extend(rest.iter().cloned());
        Some(abs)
    }
}

/// Parses the use tree at `toks[i..]` under `prefix`, pushes each leaf path with the offset
/// where the leaf's own part starts (`a::{b, c}` gives `a::b` at `b`), and returns the index
/// after the tree. `x::{self}` is `x`; `as NAME` is dropped.
fn use_tree(
    toks: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(usize, Vec<String>)>,
) -> usize {
    let at = toks.get(i).map_or(0, |t| t.at);
    let mut path = prefix.to_vec();
    loop {
        match text_at(toks, i) {
            "::" => i += 1,
            "{" => {
                i += 1;
                loop {
                    match text_at(toks, i) {
                        "}" => return i + 1,
                        "," => i += 1,
                        "" => return i,
                        _ => {
                            let j = use_tree(toks, i, &path, out);
                            i = j.max(i + 1);
                        }
                    }
                }
            }
            "*" => {
                path.push("*".into());
                out.push((at, path));
                return i + 1;
            }
            _ if is_ident(toks.get(i)) => {
                if toks[i].text != "self" || path.is_empty() {
                    path.push(toks[i].text.clone());
                }
                i += 1;
                if text_at(toks, i) == "as" {
                    i += 2;
                }
                if text_at(toks, i) != "::" {
                    out.push((at, path));
                    return i;
                }
            }
            _ => return i,
        }
    }
}

/// The value of a `#[path = "…"]` attribute on the `mod` at `toks[k]`, read from the raw text
/// (the blanked code has no string contents).
fn path_attribute(raw: &[char], toks: &[Token], k: usize) -> Option<String> {
    let mut j = k;
    // Back over the visibility: `pub`, `pub(crate)`, `pub(in crate::a)`.
    while j > 0
        && matches!(
            toks[j - 1].text.as_str(),
            "pub" | ")" | "(" | "crate" | "in" | "super" | "self" | "::"
        )
    {
        j -= 1;
    }
    // Back over the attributes, `#[…]` each.
    while j > 0 && toks[j - 1].text == "]" {
        let close = j - 1;
        let mut open = close;
        while open > 0 && toks[open].text != "[" {
            open -= 1;
        }
        if open == 0 || toks[open - 1].text != "#" {
            return None;
        }
        if text_at(toks, open + 1) == "path" && text_at(toks, open + 2) == "=" {
            let value: String = raw[toks[open + 2].at + 1..toks[close].at].iter().collect();
            return Some(value.trim().trim_matches('"').to_string());
        }
        j = open - 1;
    }
    None
}

/// The files of the crate at `src` compiled outside tests, from `lib.rs` and `main.rs` down
/// through `mod NAME;` declarations (a `#[cfg(test)]` declaration is blank code, so its file
/// and everything below it stay out).
fn crate_files(src: &Path) -> Vec<SourceFile> {
    let mut todo: Vec<(PathBuf, Vec<String>)> = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .filter(|p| p.is_file())
        .map(|p| (p, vec![]))
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    while let Some((path, module)) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let raw: Vec<char> = text.chars().collect();
        let code: Vec<char> = code_only(&text).chars().collect();
        let toks = tokens(&code);
        let name = path.file_name().unwrap().to_str().unwrap();
        let dir = if matches!(name, "mod.rs" | "lib.rs" | "main.rs") {
            path.parent().unwrap().to_path_buf()
        } else {
            path.with_extension("")
        };
        let mut children = BTreeSet::new();
        for k in 0..toks.len() {
            if toks[k].text != "mod" || !is_ident(toks.get(k + 1)) || text_at(&toks, k + 2) != ";" {
                continue;
            }
            let child = toks[k + 1].text.clone();
            let file = match path_attribute(&raw, &toks, k) {
                Some(p) => path.parent().unwrap().join(p),
                None => {
                    let flat = dir.join(format!("{child}.rs"));
                    if flat.is_file() {
                        flat
                    } else {
                        dir.join(&child).join("mod.rs")
                    }
                }
            };
            assert!(
                file.is_file(),
                "{} declares `mod {child};` but {} does not exist",
                path.display(),
                file.display()
            );
            let mut m = module.clone();
            m.push(child.clone());
            todo.push((file, m));
            children.insert(child);
        }
        out.push(SourceFile {
            path,
            module,
            children,
            code,
            toks,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

impl Graph {
    /// The graph between the files of each top-level module (the nodes are paths like
    /// `src/app/run.rs`); edges between files of different top-level modules are left to
    /// [`Graph::scan`].
    fn scan_files(src: &Path) -> Graph {
        let files = crate_files(src);
        let rel = |p: &Path| {
            p.strip_prefix(src.parent().unwrap())
                .unwrap()
                .display()
                .to_string()
        };
        let by_module: BTreeMap<&[String], &SourceFile> =
            files.iter().map(|f| (f.module.as_slice(), f)).collect();
        let mut g = Graph::default();
        for f in files.iter().filter(|f| !f.module.is_empty()) {
            let from = rel(&f.path);
            g.nodes.insert(from.clone());
            for (at, path) in f.named_paths() {
                let Some(abs) = f.resolve(&path) else {
                    continue;
                };
                let Some(to) = (1..=abs.len()).rev().find_map(|n| by_module.get(&abs[..n])) else {
                    continue;
                };
                if to.path == f.path || to.module[0] != f.module[0] {
                    continue;
                }
                g.edges
                    .entry(from.clone())
                    .or_default()
                    .entry(rel(&to.path))
                    .or_insert_with(|| Site {
                        file: PathBuf::from(&from),
                        line: f.line(at),
                        names: path.join("::"),
                    });
            }
        }
        g
    }
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
        assert!(g.nodes.contains(m), "no top-level module {m}: {g:?}");
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
    let names: Vec<&str> = g.nodes.iter().map(String::as_str).collect();
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

/// Inside each top-level module the files import each other without a circle: every layer
/// reads one way, from the files that dispatch down to the files that define, so a change to
/// a lower file never needs one above it (issue 21). A parent `mod.rs` that uses a child while
/// the child uses `super::X` is a circle too: move `X` into a file of its own.
#[test]
fn no_circle_between_the_files_of_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = Graph::scan_files(&src);
    // The scan sees the real imports of the big layers (so the check cannot pass on an empty
    // graph) and leaves out the files only tests compile.
    for layer in ["app", "engine", "transport"] {
        let edges = g
            .edges
            .iter()
            .filter(|(from, _)| from.starts_with(&format!("src/{layer}/")))
            .map(|(_, to)| to.len())
            .sum::<usize>();
        assert!(edges >= 10, "only {edges} edges inside {layer}: {g:?}");
    }
    assert!(
        !g.nodes.iter().any(|n| n.ends_with("settings_tests.rs")),
        "a file declared only under #[cfg(test)] is in the graph: {:?}",
        g.nodes
    );
    let cycles = g.cycles();
    assert!(
        cycles.is_empty(),
        "files inside a layer import each other in a circle; cut each by moving what both \
         need into a file that uses neither:\n  {}",
        cycles.join("\n  ")
    );
}

/// The file checker on a tree made for it: a circle between two siblings, a parent/child
/// circle through `super::`, a re-export that must not hide the file it leads through, and
/// names it must ignore (comments, strings, test items, files only tests compile, other
/// layers, a `mod` declaration alone).
#[test]
fn the_file_checker_finds_circles_inside_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "#![warn(missing_docs)]\npub mod app;\npub mod base;\n",
    );
    write("main.rs", "use lib::app;\nfn main() {}\n");
    write(
        "base.rs",
        "pub struct B;\nfn f() { crate::app::one::f() }\n",
    );
    write(
        "app/mod.rs",
        "//! Names crate::app::one only in a comment.\n\
         pub mod one;\n\
         pub mod two;\n\
         #[doc(hidden)]\n\
         pub mod store;\n\
         mod sub;\n\
         pub use store::Store;\n\
         pub struct Config;\n\
         #[cfg(test)]\n\
         mod tests;\n\
         #[cfg(test)]\n\
         #[path = \"extra_tests.rs\"]\n\
         mod extra;\n",
    );
    write(
        "app/one.rs",
        "use crate::app::{\n    two::{self, Two as T},\n    Config,\n};\n\
         pub fn f() -> &'static str { \"super::sub::s\" }\n",
    );
    write(
        "app/two.rs",
        "use std::fmt;\npub struct Two;\nfn q() -> char { '\\'' }\n\
         fn g() { let _ = br#\"crate::app::store \"x\"\"#; crate::app::one::f(); }\n\
         #[cfg(test)]\nmod t { use crate::app::sub::s; }\n",
    );
    write(
        "app/store.rs",
        "pub struct Store;\npub fn cfg() -> super::Config { super::Config }\n",
    );
    write("app/sub/mod.rs", "mod deep;\npub fn s() { deep::d() }\n");
    write(
        "app/sub/deep.rs",
        "pub fn d() { let _ = crate::base::B; let _ = super::super::Store; }\n",
    );
    write("app/tests.rs", "use super::sub::s;\nuse super::*;\n");
    write("app/extra_tests.rs", "use crate::app::sub::s;\n");
    // Not declared anywhere: not compiled, not a node.
    write("app/stray.rs", "use super::one::f;\n");

    let g = Graph::scan_files(&src);
    let nodes: Vec<&str> = g.nodes.iter().map(String::as_str).collect();
    assert_eq!(
        nodes,
        [
            "src/app/mod.rs",
            "src/app/one.rs",
            "src/app/store.rs",
            "src/app/sub/deep.rs",
            "src/app/sub/mod.rs",
            "src/app/two.rs",
            "src/base.rs",
        ]
    );
    let g = &g;
    let edges: Vec<String> = g
        .edges
        .iter()
        .flat_map(|(a, to)| to.keys().map(move |b| g.describe(a, b)))
        .collect();
    assert_eq!(
        edges,
        [
            "src/app/mod.rs → src/app/store.rs (src/app/mod.rs:7 names store::Store)",
            "src/app/one.rs → src/app/mod.rs (src/app/one.rs:3 names crate::app::Config)",
            "src/app/one.rs → src/app/two.rs (src/app/one.rs:2 names crate::app::two)",
            "src/app/store.rs → src/app/mod.rs (src/app/store.rs:2 names super::Config)",
            // The re-exported `Store` leads through app/mod.rs, not to store.rs.
            "src/app/sub/deep.rs → src/app/mod.rs (src/app/sub/deep.rs:1 names super::super::Store)",
            "src/app/sub/mod.rs → src/app/sub/deep.rs (src/app/sub/mod.rs:2 names deep::d)",
            "src/app/two.rs → src/app/one.rs (src/app/two.rs:4 names crate::app::one::f)",
        ],
        "comments, strings, test items and other layers are no edges; `mod sub;` alone is none"
    );
    assert_eq!(
        g.cycles(),
        [
            "cycle src/app/mod.rs → src/app/store.rs → src/app/mod.rs: \
             src/app/mod.rs → src/app/store.rs (src/app/mod.rs:7 names store::Store); \
             src/app/store.rs → src/app/mod.rs (src/app/store.rs:2 names super::Config)",
            "cycle src/app/one.rs → src/app/two.rs → src/app/one.rs: \
             src/app/one.rs → src/app/two.rs (src/app/one.rs:2 names crate::app::two); \
             src/app/two.rs → src/app/one.rs (src/app/two.rs:4 names crate::app::one::f)",
        ]
    );

    // A re-export does not hide a circle: `Config` moves to store.rs and app/mod.rs re-exports
    // it, so one.rs → mod.rs → store.rs, and a store.rs that reaches back to one.rs closes a
    // circle of three; sub/ joins through a second re-export (all of its edges are named).
    write(
        "app/mod.rs",
        "pub mod one;\npub mod two;\npub mod store;\nmod sub;\n\
         pub use store::{Config, Store};\npub use sub::s;\n",
    );
    write("app/two.rs", "pub struct Two;\n");
    write(
        "app/store.rs",
        "pub struct Store;\npub struct Config;\nfn f() { crate::app::one::f(); }\n",
    );
    let g = Graph::scan_files(&src);
    assert_eq!(
        g.cycles(),
        [
            "cycle src/app/mod.rs → src/app/store.rs → src/app/one.rs → src/app/mod.rs: \
             src/app/mod.rs → src/app/store.rs (src/app/mod.rs:5 names store::Config); \
             src/app/store.rs → src/app/one.rs (src/app/store.rs:3 names crate::app::one::f); \
             src/app/one.rs → src/app/mod.rs (src/app/one.rs:3 names crate::app::Config) \
             (all of {src/app/mod.rs, src/app/one.rs, src/app/store.rs, src/app/sub/deep.rs, \
             src/app/sub/mod.rs} reach each other; also \
             src/app/mod.rs → src/app/sub/mod.rs (src/app/mod.rs:6 names sub::s); \
             src/app/sub/deep.rs → src/app/mod.rs (src/app/sub/deep.rs:1 names super::super::Store); \
             src/app/sub/mod.rs → src/app/sub/deep.rs (src/app/sub/mod.rs:2 names deep::d))",
        ]
    );

    // One way only: the shared types in a leaf file that imports none of its users.
    write("app/config.rs", "pub struct Config;\n");
    write(
        "app/mod.rs",
        "pub mod config;\npub mod one;\npub mod two;\npub mod store;\nmod sub;\npub use sub::s;\n",
    );
    write(
        "app/one.rs",
        "use crate::app::{config::Config, two::Two};\npub fn f() {}\n",
    );
    write(
        "app/store.rs",
        "use super::config::Config;\npub struct Store(Config);\n",
    );
    write(
        "app/sub/deep.rs",
        "pub fn d() { let _ = super::super::store::Store; }\n",
    );
    let g = Graph::scan_files(&src);
    assert!(g.cycles().is_empty(), "{:?}", g.cycles());
    assert!(g.uses("src/app/store.rs", "src/app/config.rs"), "{g:?}");
}
