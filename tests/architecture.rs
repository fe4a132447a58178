//! The layer order of `src/`, checked.
//!
//! Every module of the library belongs to one layer (see [`LAYERS`] and the "Layers" section of
//! docs/ARCHITECTURE.md). A module may import from the layers below its own; within one layer,
//! imports between modules are allowed as long as they form no cycle. This test reads every
//! `.rs` file under `src/`, finds each `use crate::…`, `crate::…` path and `super::…` path that
//! leaves its module, maps it to the module it names and fails, naming the file, the line and
//! the path, for every import that runs against the order. Comments (doc comments and their
//! links included) and string literals are not code and are skipped; `src/lib.rs` (the module
//! list and the prelude) and the binary `src/bin/mlcycle` (the top layer, which sees the
//! library as `mlcycle::…`) may import anything.
//!
//! A second rule: only `src/store/` speaks SQL, so no other file names a database driver
//! (`rusqlite`, `tokio_postgres`, `deadpool_postgres`).
//!
//! The checker is a set of plain functions on `(path, source text)`, so the unit tests at the
//! bottom show it failing on a deliberate back-import and on a same-layer cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of each module, lowest first. A module imports only from modules of a lower
/// layer, or of the same layer without a cycle. Sub-modules named `parent::child` are pure-math
/// parts of a higher module, placed in a layer of their own; every other sub-module belongs to
/// its top-level module. Modules listed here may not exist yet.
const LAYERS: &[(u32, &[&str])] = &[
    // 1 foundation: the error type (with `Stage`) and time.
    (10, &["error", "clock"]),
    // 1a the shared failure report of the conformance suites (imports only the error type).
    (12, &["conformance_support"]),
    // 1b the one module allowed `unsafe`: number parsing, fused prediction, tree traversal.
    (15, &["kernels"]),
    // 1c pure math: statistics and metrics on slices, no I/O. Below `data`, because the
    //    reference profile `data` keeps (and `model` stores in an artifact) is made of these
    //    statistics' summaries; the math itself needs nothing but the error type.
    (18, &["drift::stats", "validate::metrics"]),
    // 2 data: schema, datasets, CSV, quality, reference profiles.
    (20, &["data"]),
    // 3 models: the `Model` trait, signatures, artifacts, fitted model types.
    (30, &["model"]),
    // 5 storage: the only layer that speaks SQL.
    (50, &["store"]),
    // 6a stores of record: registry, audit trail, prediction log.
    (60, &["registry", "audit", "collect", "labels"]),
    // 6b components built on them.
    (
        65,
        &[
            "train", "validate", "drift", "deploy", "monitor", "alerts", "explain",
        ],
    ),
    // 7 lineage: joins registry, audit trail and prediction log.
    (70, &["lineage"]),
    // 8 orchestration.
    (80, &["lifecycle"]),
    // 8a the controller that keeps the lifecycle running, and the training data sources.
    (85, &["controller", "datasets"]),
    // 9 assemblies.
    (90, &["embedded", "testing", "scenario"]),
    // 10 faces: pure rendering of reports (HTML pages, model cards) from values read above,
    //    and the read-only dashboard that reads a store and renders its pages with them.
    (95, &["report", "ui"]),
];

/// Modules held to a narrower rule than their layer: they import only the modules listed.
/// `kernels` (the `unsafe` code) works on plain slices and sees nothing but the error type.
const ONLY: &[(&str, &[&str])] = &[("kernels", &["error"])];

/// Sub-modules that form a layer of their own (see [`LAYERS`]).
const SPLIT_MODULES: &[(&str, &str)] = &[("drift", "stats"), ("validate", "metrics")];

/// Names the crate root re-exports, and the module each comes from.
const ROOT_REEXPORTS: &[(&str, &str)] = &[("Error", "error"), ("Result", "error")];

/// Imports against the order that other work in progress removes, as `(file, imported module,
/// what removes it)`. Each entry is allowed until that work lands; the list is meant to be empty.
const PENDING: &[(&str, &str, &str)] = &[];

/// Files outside `src/store/` that still hold SQL text of their own (queries, not the connection
/// or the schema), as `(file, why)`. The list is meant to be empty.
const SQL_PENDING: &[(&str, &str)] = &[
    (
        "src/registry/sqlite.rs",
        "the SQLite registry's queries (reads and the group-commit writer); the connection, \
         pragmas, migrations and schema are in store/sqlite.rs, the queries move there once \
         store/ offers a row-level API the registry can sit on",
    ),
    (
        "src/audit/sqlite.rs",
        "the SQLite audit log's queries (chain append, head, checkpoints); the connection and \
         the tables are in store/sqlite.rs, the queries move with the registry's",
    ),
];

/// One import found in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    /// The file, relative to the crate root (`src/...`).
    file: String,
    /// 1-based line of the path.
    line: usize,
    /// The importing module (a key of [`LAYERS`]).
    from: String,
    /// The imported module (a key of [`LAYERS`]), or the first segment when it has no layer.
    to: String,
    /// The path as written (group expanded).
    text: String,
}

/// The unit (key of [`LAYERS`]) a module path belongs to.
fn unit_of(segments: &[String]) -> Option<String> {
    let first = segments.first()?;
    if let Some(second) = segments.get(1) {
        for (parent, child) in SPLIT_MODULES {
            if first == parent && second == child {
                return Some(format!("{parent}::{child}"));
            }
        }
    }
    Some(first.clone())
}

fn layer_of(unit: &str) -> Option<u32> {
    LAYERS
        .iter()
        .find(|(_, units)| units.contains(&unit))
        .map(|(l, _)| *l)
}

/// What a file under `src/` is, seen by the checker.
enum FileKind {
    /// A library module file, with its module path (`src/a/b.rs` → `[a, b]`).
    Module(Vec<String>),
    /// `src/lib.rs`, the binary, or anything else outside the layers.
    Exempt,
}

fn file_kind(path: &str) -> FileKind {
    let rel = path.strip_prefix("src/").unwrap_or(path);
    if rel == "lib.rs" || rel.starts_with("bin/") || rel == "main.rs" {
        return FileKind::Exempt;
    }
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segments: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segments.last().is_some_and(|s| s == "mod") {
        segments.pop();
    }
    FileKind::Module(segments)
}

/// The source with comments and the contents of string and char literals blanked out
/// (newlines kept, so line numbers stay right).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
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
        } else if (c == 'r' || (c == 'b' && next == Some('r')))
            && (i == 0 || !is_ident(b[i - 1]))
            && {
                let mut j = i + if c == 'b' { 2 } else { 1 };
                while b.get(j) == Some(&'#') {
                    j += 1;
                }
                b.get(j) == Some(&'"')
            }
        {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            for _ in i..j {
                out.push(' ');
            }
            i = j;
            while i < b.len() {
                if b[i] == '"' && (0..hashes).all(|k| b.get(i + 1 + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
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
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                // Skip the escaped character itself (it may be a quote: '\'').
                let mut j = i + 3;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                for _ in i..=j.min(b.len() - 1) {
                    out.push(' ');
                }
                i = j + 1;
            } else if b.get(i + 2) == Some(&'\'') {
                out.push_str("   ");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Parse a use tree (`a::b`, `a::{b, c::d}`, `*`) starting at `s[i..]`; returns the paths it
/// names (segments, `self`/`*` dropped) and the index after it.
fn parse_tree(s: &[char], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let skip_ws = |s: &[char], mut i: usize| {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut prefix: Vec<String> = Vec::new();
    loop {
        i = skip_ws(s, i);
        if i < s.len() && s[i] == '{' {
            i += 1;
            let mut all = Vec::new();
            loop {
                i = skip_ws(s, i);
                if i >= s.len() {
                    break;
                }
                if s[i] == '}' {
                    i += 1;
                    break;
                }
                if s[i] == ',' {
                    i += 1;
                    continue;
                }
                let (paths, j) = parse_tree(s, i);
                if j == i {
                    i += 1; // not a path: skip a character and go on
                    continue;
                }
                for p in paths {
                    let mut full = prefix.clone();
                    full.extend(p);
                    all.push(full);
                }
                i = j;
            }
            return (all, i);
        }
        let start = i;
        while i < s.len() && (is_ident(s[i]) || s[i] == '*') {
            i += 1;
        }
        if i == start {
            return (vec![prefix], i);
        }
        let seg: String = s[start..i].iter().collect();
        if seg != "self" && seg != "*" {
            prefix.push(seg);
        }
        let j = skip_ws(s, i);
        if s.get(j) == Some(&':') && s.get(j + 1) == Some(&':') {
            i = j + 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// Every import from `path` (relative, `src/...`) to another module: `crate::` paths and
/// `super::` paths, resolved to absolute module paths and mapped to their units.
fn imports_of(path: &str, src: &str) -> Vec<Import> {
    let FileKind::Module(module) = file_kind(path) else {
        return Vec::new();
    };
    let Some(from) = unit_of(&module) else {
        return Vec::new();
    };
    let code: Vec<char> = code_only(src).chars().collect();
    let line_of = |idx: usize| code[..idx].iter().filter(|&&c| c == '\n').count() + 1;
    // Inline `mod name {` blocks: (brace depth at which it closes, name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut i = 0;
    let starts_word = |i: usize, w: &str| {
        let wc: Vec<char> = w.chars().collect();
        code.len() >= i + wc.len()
            && code[i..i + wc.len()] == wc[..]
            && (i == 0 || !(is_ident(code[i - 1]) || code[i - 1] == '$' || code[i - 1] == ':'))
    };
    while i < code.len() {
        let c = code[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|(d, _)| *d > depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        if starts_word(i, "mod") && code.get(i + 3).is_some_and(|c| c.is_whitespace()) {
            let mut j = i + 3;
            while j < code.len() && code[j].is_whitespace() {
                j += 1;
            }
            let start = j;
            while j < code.len() && is_ident(code[j]) {
                j += 1;
            }
            let name: String = code[start..j].iter().collect();
            while j < code.len() && code[j].is_whitespace() {
                j += 1;
            }
            if code.get(j) == Some(&'{') {
                inline.push((depth + 1, name));
                depth += 1;
                i = j + 1;
                continue;
            }
            i = j.max(i + 1);
            continue;
        }
        let (base, after): (Vec<String>, usize) = if starts_word(i, "crate::") {
            (Vec::new(), i + "crate::".len())
        } else if starts_word(i, "super::") {
            let mut here: Vec<String> = module.clone();
            here.extend(inline.iter().map(|(_, n)| n.clone()));
            let mut j = i;
            while code[j..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                here.pop();
                j += "super::".len();
                while j < code.len() && code[j].is_whitespace() {
                    j += 1;
                }
            }
            (here, j)
        } else {
            i += 1;
            continue;
        };
        let (paths, end) = parse_tree(&code, after);
        let text: String = code[i..end].iter().collect::<String>();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut seen = BTreeSet::new();
        for p in paths {
            let mut full = base.clone();
            full.extend(p);
            // `crate::Error`, `crate::Error::invalid`: a name re-exported at the root.
            if let Some(first) = full.first()
                && let Some((_, m)) = ROOT_REEXPORTS.iter().find(|(n, _)| n == first)
            {
                full = vec![m.to_string()];
            }
            let Some(to) = unit_of(&full) else { continue };
            if to != from && seen.insert(to.clone()) {
                out.push(Import {
                    file: path.to_string(),
                    line: line_of(i),
                    from: from.clone(),
                    to,
                    text: text.clone(),
                });
            }
        }
        i = end.max(i + 1);
    }
    out
}

/// The database drivers whose names only `src/store/` may use.
const DRIVERS: &[&str] = &["rusqlite", "tokio_postgres", "deadpool_postgres"];

/// Lines of `path` that name a database driver ([`DRIVERS`]) in code, when `path` is outside
/// `src/store/`.
fn sql_outside_store(path: &str, src: &str) -> Vec<(usize, String)> {
    if path.starts_with("src/store/") {
        return Vec::new();
    }
    let code = code_only(src);
    code.lines()
        .enumerate()
        .filter(|(_, l)| {
            DRIVERS.iter().any(|d| {
                l.match_indices(d)
                    .any(|(k, _)| k == 0 || !is_ident(l[..k].chars().last().unwrap_or(' ')))
            })
        })
        .map(|(n, _)| (n + 1, src.lines().nth(n).unwrap_or("").trim().to_string()))
        .collect()
}

/// All violations of the layer order among `files` (path, source), one message each.
fn check(files: &[(String, String)], pending: &[(&str, &str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut same_layer: BTreeMap<(String, String), Vec<Import>> = BTreeMap::new();
    for (path, src) in files {
        for imp in imports_of(path, src) {
            if pending
                .iter()
                .any(|(f, to, _)| *f == imp.file && *to == imp.to)
            {
                continue;
            }
            let where_ = format!("{}:{}: `{}`", imp.file, imp.line, imp.text);
            if let Some((_, allowed)) = ONLY.iter().find(|(m, _)| *m == imp.from)
                && !allowed.contains(&imp.to.as_str())
            {
                problems.push(format!(
                    "{where_}: `{}` may import only {allowed:?}, not `{}`",
                    imp.from, imp.to
                ));
                continue;
            }
            match (layer_of(&imp.from), layer_of(&imp.to)) {
                (None, _) => problems.push(format!(
                    "{where_}: module `{}` has no layer; add it to LAYERS in tests/architecture.rs \
                     and to docs/ARCHITECTURE.md",
                    imp.from
                )),
                (_, None) => problems.push(format!(
                    "{where_}: `{}` is not a module with a layer; add it to LAYERS (or \
                     ROOT_REEXPORTS) in tests/architecture.rs",
                    imp.to
                )),
                (Some(a), Some(b)) if b > a => problems.push(format!(
                    "{where_}: `{}` (layer {a}) imports `{}` (layer {b}), a higher layer; move \
                     the shared item down or invert the dependency",
                    imp.from, imp.to
                )),
                (Some(a), Some(b)) if a == b => same_layer
                    .entry((imp.from.clone(), imp.to.clone()))
                    .or_default()
                    .push(imp),
                _ => {}
            }
        }
    }
    // Same-layer imports must not form a cycle: report every edge on one.
    let edges: BTreeSet<(String, String)> = same_layer.keys().cloned().collect();
    let reaches = |from: &str, to: &str| -> bool {
        let mut stack = vec![from.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(
                    edges
                        .iter()
                        .filter(|(a, _)| *a == n)
                        .map(|(_, b)| b.clone()),
                );
            }
        }
        false
    };
    for ((a, b), imps) in &same_layer {
        if reaches(b, a) {
            for imp in imps {
                problems.push(format!(
                    "{}:{}: `{}`: `{a}` imports `{b}`, which imports `{a}` back (a cycle within \
                     one layer); move what both need into one of them or a lower layer",
                    imp.file, imp.line, imp.text
                ));
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn crate_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    rust_files(&root.join("src"), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .expect("under the crate root")
                .to_string_lossy()
                .replace('\\', "/");
            let src = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {rel}: {e}"));
            (rel, src)
        })
        .collect()
}

#[test]
fn no_import_runs_against_the_layer_order() {
    let files = crate_sources();
    assert!(
        files.iter().any(|(p, _)| p == "src/lib.rs"),
        "src/lib.rs not found"
    );
    let problems = check(&files, PENDING);
    assert!(
        problems.is_empty(),
        "{} import(s) against the layer order (see docs/ARCHITECTURE.md, \"Layers\"):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_pending_exception_is_still_needed() {
    let files = crate_sources();
    for (file, to, by) in PENDING {
        let still = files
            .iter()
            .filter(|(p, _)| p == file)
            .flat_map(|(p, s)| imports_of(p, s))
            .any(|imp| imp.to == *to);
        assert!(
            still,
            "PENDING lists {file} -> {to} ({by}), but the import is gone: remove the entry"
        );
    }
}

#[test]
fn only_the_store_speaks_sql() {
    let mut problems = Vec::new();
    for (path, src) in crate_sources() {
        if SQL_PENDING.iter().any(|(f, _)| *f == path) {
            assert!(
                !sql_outside_store(&path, &src).is_empty(),
                "SQL_PENDING lists {path}, which no longer uses a database driver: remove the entry"
            );
            continue;
        }
        for (line, text) in sql_outside_store(&path, &src) {
            problems.push(format!("{path}:{line}: `{text}`"));
        }
    }
    assert!(
        problems.is_empty(),
        "only src/store/ may use a database driver ({}); found one in:\n{}",
        DRIVERS.join(", "),
        problems.join("\n")
    );
}

mod checker {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, s)| (p.to_string(), s.to_string()))
            .collect()
    }

    #[test]
    fn fails_on_a_back_import_naming_file_line_and_path() {
        let src = "//! Data.\n\nuse crate::error::Result;\nuse crate::lifecycle::Stage;\n";
        let problems = check(&files(&[("src/data/x.rs", src)]), &[]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("src/data/x.rs:4: `crate::lifecycle::Stage`"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("higher layer"), "{}", problems[0]);
    }

    #[test]
    fn fails_on_grouped_inline_and_super_imports() {
        let grouped = "use crate::{Error, data::Dataset, lifecycle::{Stage, Trigger}};\n";
        let p = check(&files(&[("src/model/a.rs", grouped)]), &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("`model` (layer 30) imports `lifecycle`"),
            "{}",
            p[0]
        );

        let inline = "fn f() -> crate::registry::ModelVersion { todo!() }\n";
        let p = check(&files(&[("src/data/b.rs", inline)]), &[]);
        assert_eq!(p.len(), 1, "{p:?}");

        // `super::` from drift/stats leaves the pure-math layer for drift itself.
        let sup = "use super::super::DriftReport;\nuse super::binning::Bins;\n";
        let p = check(&files(&[("src/drift/stats/c.rs", sup)]), &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("src/drift/stats/c.rs:1:"), "{}", p[0]);
        assert!(
            p[0].contains("`drift::stats` (layer 18) imports `drift`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn fails_on_a_same_layer_cycle() {
        let p = check(
            &files(&[
                ("src/registry/a.rs", "use crate::audit::AuditLog;\n"),
                (
                    "src/audit/b.rs",
                    "\n\nuse crate::registry::sqlite::open_db;\n",
                ),
            ]),
            &[],
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p.iter().any(|m| m.starts_with("src/audit/b.rs:3:")),
            "{p:?}"
        );
        assert!(p.iter().all(|m| m.contains("cycle")), "{p:?}");
    }

    #[test]
    fn kernels_import_only_the_error_type() {
        let src = "use crate::Result;\nuse crate::clock::Clock;\nuse crate::error::Error;\n";
        let p = check(&files(&[("src/kernels/parse.rs", src)]), &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("src/kernels/parse.rs:2:"), "{}", p[0]);
        assert!(p[0].contains("may import only"), "{}", p[0]);
    }

    #[test]
    fn fails_on_an_unknown_module() {
        let p = check(
            &files(&[("src/data/d.rs", "use crate::gadgets::Thing;\n")]),
            &[],
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("not a module with a layer"), "{}", p[0]);
    }

    #[test]
    fn passes_on_a_clean_tree() {
        let p = check(
            &files(&[
                ("src/lib.rs", "pub use crate::lifecycle::Stage;\n"),
                (
                    "src/lifecycle/mod.rs",
                    "use crate::{Error, Result, registry::Registry};\nuse super::data::Dataset;\n",
                ),
                (
                    "src/registry/a.rs",
                    "use crate::audit::AuditLog;\nuse super::types::X;\n",
                ),
                ("src/audit/b.rs", "use crate::store::sqlite;\n"),
                (
                    "src/drift/engine.rs",
                    "use super::stats::ks;\nuse crate::drift::stats::x;\n",
                ),
                (
                    "src/data/x.rs",
                    "//! See [`crate::lifecycle::Stage`].\n\
                     /// [`crate::lifecycle`]\nconst S: &str = \"crate::lifecycle::Stage\";\n\
                     const R: &str = r#\"use crate::lifecycle\"#;\n\
                     fn f<'a>(x: &'a str) -> char { '\"' }\n\
                     const Q: [char; 2] = ['\\'', '\\n']; const U: &str = \"crate::lifecycle\";\n\
                     /* crate::lifecycle */\n\
                     #[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::data::Schema;\n}\n\
                     macro_rules! m { () => { $crate::lifecycle::Stage } }\n",
                ),
                (
                    "src/bin/mlcycle/main.rs",
                    "use mlcycle::lifecycle::Stage;\nuse crate::x;\n",
                ),
            ]),
            &[],
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn pending_entries_silence_one_import_only() {
        let fs = files(&[(
            "src/model/trees.rs",
            "use crate::train::trees::Fitted;\nuse crate::lifecycle::Stage;\n",
        )]);
        let p = check(&fs, &[("src/model/trees.rs", "train", "test")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("lifecycle"), "{}", p[0]);
    }

    #[test]
    fn finds_rusqlite_outside_the_store_only() {
        let src = "// rusqlite in a comment\nuse rusqlite::Connection;\nfn f(c: &::rusqlite::Connection) {}\n";
        assert_eq!(
            sql_outside_store("src/audit/sqlite.rs", src)
                .iter()
                .map(|(l, _)| *l)
                .collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(sql_outside_store("src/store/sqlite.rs", src).is_empty());
        let pg = "use deadpool_postgres::Pool;\nfn f(c: &tokio_postgres::Client) {}\n";
        assert_eq!(sql_outside_store("src/registry/postgres.rs", pg).len(), 2);
        assert!(sql_outside_store("src/store/postgres/mod.rs", pg).is_empty());
    }
}
