//! The crate's modules depend on each other one way only, as the README's module map says:
//! a top-level module uses only modules in rows below its own, and no module reaches into
//! the root `Humanloop` handle. The graph is built from every `crate::…` path in `src/`
//! (comments skipped, grouped `use crate::{a, b}` and re-exported names such as
//! `crate::Error` resolved through `src/lib.rs`), then checked against the table and for
//! cycles. Adding a back edge (say `use crate::capture::…` in `src/client/`) fails it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = "<root Humanloop>";

/// The rows between the module-map markers of `text` (after stripping `//! ` for lib.rs):
/// each row's modules, top row first.
fn map_rows(text: &str, what: &str) -> Vec<Vec<String>> {
    let start = text
        .find("<!-- module-map:start -->")
        .unwrap_or_else(|| panic!("{what} has no module map"));
    let end = text[start..]
        .find("<!-- module-map:end -->")
        .map(|e| start + e)
        .unwrap_or_else(|| panic!("{what}: the module map is not closed"));
    text[start..end]
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| layer"))
        .map(|row| {
            let cell = row.split('|').nth(2).expect("a modules column");
            cell.split(',')
                .map(|m| m.trim().trim_matches('`').to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .collect()
}

/// Layer of each module: the bottom row is 0.
fn layers(rows: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (i, row) in rows.iter().rev().enumerate() {
        for m in row {
            assert!(out.insert(m.clone(), i).is_none(), "{m} is in two rows");
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments (line, doc and block comments) and without the contents
/// of string literals (raw ones included), so only code is scanned.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
                out.push('"');
            }
            i += 1;
            continue;
        }
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if c == b'r' && !ident_before && matches!(b.get(i + 1), Some(b'"' | b'#')) {
            let hashes = b[i + 1..].iter().take_while(|h| **h == b'#').count();
            if b.get(i + 1 + hashes) == Some(&b'"') {
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let body = i + 2 + hashes;
                let end = b[body..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(b.len(), |p| body + p + close.len());
                out.push_str("\"\"");
                i = end;
                continue;
            }
        }
        if c == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            in_str = true;
            out.push('"');
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segment of every `crate::` path in `code` (items of a
/// `crate::{…}` group each count).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c == '$' || c.is_ascii_alphanumeric() || c == '_') {
            continue; // `$crate::` in a macro, or an identifier ending in `crate`
        }
        let rest_trim = rest.trim_start();
        if let Some(group) = rest_trim.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && depth == 1 && !c.is_whitespace() => {
                        item_start = false;
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            out.push(name.to_owned());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest_trim);
            if !name.is_empty() {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// Names `src/lib.rs` re-exports (`pub use module::…::Name`) mapped to their module, and
/// the items it defines itself (the root).
fn root_names(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let code = strip_comments(lib);
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        let Some(pos) = stmt.find("pub use ") else {
            continue;
        };
        let path = &stmt[pos + "pub use ".len()..];
        let module = ident(path).to_owned();
        let items: Vec<&str> = match path.find('{') {
            Some(open) => path[open + 1..path.rfind('}').unwrap_or(path.len())]
                .split(',')
                .collect(),
            None => vec![path.rsplit("::").next().unwrap_or(path)],
        };
        for item in items {
            let item = item.trim();
            let name = item.rsplit(" as ").next().unwrap_or(item).trim();
            let name = name.rsplit("::").next().unwrap_or(name);
            if !name.is_empty() {
                names.insert(name.to_owned(), module.clone());
            }
        }
    }
    for kw in [
        "struct ", "enum ", "fn ", "trait ", "type ", "const ", "static ",
    ] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(kw) {
            let name = ident(&rest[at + kw.len()..]);
            if !name.is_empty() && !modules.contains(name) {
                names
                    .entry(name.to_owned())
                    .or_insert_with(|| ROOT.to_owned());
            }
            rest = &rest[at + kw.len()..];
        }
    }
    names
}

/// Edges between top-level modules, each with one file that makes it.
fn module_graph(src: &Path) -> BTreeMap<(String, String), PathBuf> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let top = |path: &Path| -> Option<String> {
        let rel = path.strip_prefix(src).unwrap();
        let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
        if first == "lib.rs" || first == "bin" {
            return None;
        }
        Some(first.trim_end_matches(".rs").to_owned())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top(f)).collect();
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let names = root_names(&lib, &modules);
    let mut edges = BTreeMap::new();
    for file in &files {
        let Some(from) = top(file) else { continue };
        let code = strip_comments(&fs::read_to_string(file).unwrap());
        assert!(
            !code.contains("super::super::"),
            "{}: reach other modules with `crate::`, not `super::super::` (the check reads `crate::` paths)",
            file.display()
        );
        for first in crate_paths(&code) {
            let to = if modules.contains(&first) {
                first
            } else if let Some(module) = names.get(&first) {
                module.clone()
            } else {
                panic!(
                    "{}: `crate::{first}` is neither a module nor a name src/lib.rs re-exports",
                    file.display()
                )
            };
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.clone());
            }
        }
    }
    edges
}

/// A cycle in `edges`, if there is one.
fn find_cycle(edges: &BTreeMap<(String, String), PathBuf>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| *s == n).unwrap();
                let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        stack.push(n);
        for m in next.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, next, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in next.keys() {
        if let Some(c) = visit(n, &next, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn modules_depend_one_way_as_the_readme_map_says() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let rows = map_rows(&readme, "README.md");
    let layer = layers(&rows);
    let edges = module_graph(&repo().join("src"));

    let mut src_modules = BTreeSet::new();
    for (a, b) in edges.keys() {
        src_modules.insert(a.clone());
        if b != ROOT {
            src_modules.insert(b.clone());
        }
    }
    let mut problems = Vec::new();
    for m in &src_modules {
        if !layer.contains_key(m) {
            problems.push(format!(
                "module `{m}` is not in the README's module map: give it a row"
            ));
        }
    }
    for ((from, to), file) in &edges {
        if to == ROOT {
            problems.push(format!(
                "{from} reaches into the root handle ({}): hand it the part it needs instead",
                file.display()
            ));
            continue;
        }
        if let (Some(a), Some(b)) = (layer.get(from), layer.get(to)) {
            if a <= b {
                problems.push(format!(
                    "{from} → {to} ({}) points up or sideways in the module map",
                    file.display()
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        problems.push(format!("cycle: {}", cycle.join(" → ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The design's chain, and `api` a leaf.
    for pair in [
        "middleware",
        "capture",
        "hierarchy",
        "export",
        "client",
        "api",
    ]
    .windows(2)
    {
        assert!(
            layer[pair[0]] > layer[pair[1]],
            "the map must keep {} above {}",
            pair[0],
            pair[1]
        );
    }
    assert!(layer["semconv"] < layer["capture"] && layer["provider"] < layer["capture"]);
    assert!(
        edges.keys().all(|(from, _)| from != "api"),
        "api depends on nothing of ours"
    );
}

#[test]
fn the_crate_docs_show_the_readme_map() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let lib = fs::read_to_string(repo().join("src/lib.rs")).unwrap();
    assert_eq!(
        map_rows(&lib, "src/lib.rs"),
        map_rows(&readme, "README.md"),
        "src/lib.rs's module map differs from the README's"
    );
}

#[test]
fn the_scanner_sees_grouped_and_reexported_paths() {
    let code = strip_comments(
        "use crate::{api::X, client::{self, Y}, Error};\n\
         // use crate::capture::Z;\n\
         /// [`link`](crate::server::Q)\n\
         fn f() -> crate::export::R { $crate::semconv::S; \"crate::in_a_string\"; r#\"crate::raw\"# }",
    );
    assert_eq!(crate_paths(&code), ["api", "client", "Error", "export"]);
}
