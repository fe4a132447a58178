//! Integration tests: HTML reports and model cards (one test binary).
//!
//! Pages are compared byte for byte with the snapshots in `tests/fixtures/report/`; after an
//! intended change, regenerate them with `MLCYCLE_BLESS=1 cargo test --test report` and look
//! at the new pages before committing them.

mod card;
mod drift;
mod validation;

use std::path::{Path, PathBuf};

/// The snapshot file `name` under `tests/fixtures/report/`.
pub fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name)
}

/// Compare `actual` with the committed snapshot `name` (rewrite it under `MLCYCLE_BLESS=1`).
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var_os("MLCYCLE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} unreadable ({e}); create it with MLCYCLE_BLESS=1 cargo test --test report",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        let got = path.with_extension("actual.html");
        std::fs::write(&got, actual).unwrap();
        panic!(
            "{} differs from the snapshot at line {} (the new page is in {}); if the change is \
             intended, regenerate with MLCYCLE_BLESS=1 cargo test --test report",
            name,
            line + 1,
            got.display()
        );
    }
}

/// Checks every page must pass: one document, no script, no external resource.
pub fn assert_self_contained(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<html").count(), 1);
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "http://", "https://", "src=", "<link", "@import", "url(",
    ] {
        assert!(!lower.contains(banned), "the page contains `{banned}`");
    }
}
