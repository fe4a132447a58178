//! The public surface, written down: every public item of the library (modules, types, traits,
//! functions, constants, re-exports and the public methods of inherent impls), one per line in
//! `tests/public-api.txt`. A change that adds, removes or renames a public item fails here
//! until the listing is regenerated, so the surface grows by decision:
//!
//! ```sh
//! MLCYCLE_BLESS=1 cargo test --test public_api
//! ```
//!
//! The listing is read from the source with `syn`: public modules are followed from
//! `src/lib.rs` (private modules contribute only through `pub use`), `#[cfg(test)]` and
//! `#[doc(hidden)]` items are left out, items behind a feature are marked with it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use syn::{Attribute, ImplItem, Item, TraitItem, UseTree, Visibility};

const LISTING: &str = "tests/public-api.txt";

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn has_attr(attrs: &[Attribute], name: &str, arg: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident(name)
            && a.meta
                .require_list()
                .map(|l| l.tokens.to_string().contains(arg))
                .unwrap_or(false)
    })
}

fn skipped(attrs: &[Attribute]) -> bool {
    has_attr(attrs, "cfg", "test") && !has_attr(attrs, "cfg", "feature")
        || has_attr(attrs, "doc", "hidden")
}

/// The `feature = "…"` a `#[cfg(…)]` gates the item on, as a suffix.
fn feature_of(attrs: &[Attribute], inherited: &str) -> String {
    for a in attrs {
        if a.path().is_ident("cfg")
            && let Ok(list) = a.meta.require_list()
        {
            let t = list.tokens.to_string();
            if let Some(i) = t.find("feature") {
                let rest = &t[i..];
                if let Some(q) = rest.find('"') {
                    let rest = &rest[q + 1..];
                    if let Some(e) = rest.find('"') {
                        return format!(" [{}]", &rest[..e]);
                    }
                }
            }
        }
    }
    inherited.to_string()
}

fn use_paths(tree: &UseTree, prefix: String, out: &mut Vec<(String, String)>) {
    match tree {
        UseTree::Path(p) => use_paths(&p.tree, format!("{prefix}{}::", p.ident), out),
        UseTree::Name(n) => out.push((n.ident.to_string(), format!("{prefix}{}", n.ident))),
        UseTree::Rename(r) => out.push((r.rename.to_string(), format!("{prefix}{}", r.ident))),
        UseTree::Glob(_) => out.push(("*".into(), format!("{prefix}*"))),
        UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix.clone(), out);
            }
        }
    }
}

fn type_name(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        // Only paths name a type whose methods are listed; anything else is a marker.
        _ => "_".into(),
    }
}

struct Walker {
    out: BTreeSet<String>,
}

impl Walker {
    fn module(&mut self, file: &Path, dir: &Path, path: &str, public: bool, feature: &str) {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", file.display()));
        self.items(&parsed.items, dir, path, public, feature);
    }

    fn items(&mut self, items: &[Item], dir: &Path, path: &str, public: bool, feature: &str) {
        for item in items {
            match item {
                Item::Mod(m) => {
                    if skipped(&m.attrs) {
                        continue;
                    }
                    let name = m.ident.to_string();
                    let feat = feature_of(&m.attrs, feature);
                    let child_public = public && is_pub(&m.vis);
                    let child_path = format!("{path}::{name}");
                    if child_public {
                        self.out.insert(format!("mod {child_path}{feat}"));
                    }
                    match &m.content {
                        Some((_, inner)) => {
                            self.items(inner, &dir.join(&name), &child_path, child_public, &feat)
                        }
                        None => {
                            let (file, child_dir) = if dir.join(format!("{name}.rs")).exists() {
                                (dir.join(format!("{name}.rs")), dir.join(&name))
                            } else {
                                (dir.join(&name).join("mod.rs"), dir.join(&name))
                            };
                            self.module(&file, &child_dir, &child_path, child_public, &feat);
                        }
                    }
                }
                Item::Impl(i) if i.trait_.is_none() && !skipped(&i.attrs) => {
                    let ty = type_name(&i.self_ty);
                    let feat = feature_of(&i.attrs, feature);
                    for it in &i.items {
                        if let ImplItem::Fn(f) = it
                            && is_pub(&f.vis)
                            && !skipped(&f.attrs)
                        {
                            self.out
                                .insert(format!("method {ty}::{}{feat}", f.sig.ident));
                        }
                    }
                }
                _ if !public => {}
                Item::Use(u) if is_pub(&u.vis) && !skipped(&u.attrs) => {
                    let feat = feature_of(&u.attrs, feature);
                    let mut paths = Vec::new();
                    use_paths(&u.tree, String::new(), &mut paths);
                    for (name, target) in paths {
                        self.out
                            .insert(format!("use {path}::{name} = {target}{feat}"));
                    }
                }
                other => {
                    let (kind, ident, vis, attrs) = match other {
                        Item::Fn(f) => ("fn", f.sig.ident.to_string(), &f.vis, &f.attrs),
                        Item::Struct(s) => ("struct", s.ident.to_string(), &s.vis, &s.attrs),
                        Item::Enum(e) => ("enum", e.ident.to_string(), &e.vis, &e.attrs),
                        Item::Type(t) => ("type", t.ident.to_string(), &t.vis, &t.attrs),
                        Item::Const(c) => ("const", c.ident.to_string(), &c.vis, &c.attrs),
                        Item::Static(s) => ("static", s.ident.to_string(), &s.vis, &s.attrs),
                        Item::Trait(t) => ("trait", t.ident.to_string(), &t.vis, &t.attrs),
                        _ => continue,
                    };
                    if !is_pub(vis) || skipped(attrs) {
                        continue;
                    }
                    let feat = feature_of(attrs, feature);
                    self.out.insert(format!("{kind} {path}::{ident}{feat}"));
                    if let Item::Trait(t) = other {
                        for ti in &t.items {
                            if let TraitItem::Fn(f) = ti {
                                self.out.insert(format!(
                                    "trait-method {path}::{ident}::{}{feat}",
                                    f.sig.ident
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
}

fn listing() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut w = Walker {
        out: BTreeSet::new(),
    };
    w.module(
        &root.join("src/lib.rs"),
        &root.join("src"),
        "mlcycle",
        true,
        "",
    );
    let mut s = String::new();
    for line in &w.out {
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[test]
fn public_surface_is_written_down() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(LISTING);
    let now = listing();
    if std::env::var_os("MLCYCLE_BLESS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    if before == now {
        return;
    }
    let old: BTreeSet<&str> = before.lines().collect();
    let new: BTreeSet<&str> = now.lines().collect();
    let mut report = String::new();
    for added in new.difference(&old) {
        report.push_str(&format!("  + {added}\n"));
    }
    for removed in old.difference(&new) {
        report.push_str(&format!("  - {removed}\n"));
    }
    panic!(
        "the public surface changed ({} items now):\n{report}\
         If this is intended, regenerate {LISTING} with \
         `MLCYCLE_BLESS=1 cargo test --test public_api` and commit it.",
        new.len()
    );
}

#[test]
fn the_walker_sees_public_items_and_skips_private_ones() {
    let src = "pub mod a { pub fn f() {} fn g() {} pub(crate) fn h() {} \
               #[cfg(test)] pub mod tests { pub fn t() {} } } \
               mod b { pub fn hidden() {} } pub use b::hidden as shown; \
               pub struct S; impl S { pub fn m(&self) {} fn p(&self) {} }";
    let file = syn::parse_file(src).unwrap();
    let mut w = Walker {
        out: BTreeSet::new(),
    };
    w.items(&file.items, Path::new("/nonexistent"), "c", true, "");
    let got: Vec<&str> = w.out.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        [
            "fn c::a::f",
            "method S::m",
            "mod c::a",
            "struct c::S",
            "use c::shown = b::hidden",
        ]
    );
}
