//! `mlcycle ui` as a command: refuses what is not a store, stops cleanly on SIGTERM.

use crate::browser::start_ui;
use crate::support::demo_store;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_directory_that_is_not_a_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-store");
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(["ui", "--store"])
        .arg(&missing)
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("store") && err.contains("--store"), "{err}");
    assert!(!missing.exists(), "the dashboard created a directory");
}

#[test]
fn sigterm_stops_the_dashboard_cleanly() {
    let store = demo_store();
    let mut ui = start_ui(store.path());
    let page = get(&ui.base);
    assert!(page.contains("credit-default"));
    // SAFETY: `kill` on the process id of a child this test started and has not reaped.
    let rc = unsafe { libc::kill(ui.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let line = ui
        .stderr
        .recv_timeout(Duration::from_secs(60))
        .expect("a line on SIGTERM");
    assert!(line.contains("stopping on SIGTERM"), "{line}");
    let status = ui.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// A GET on its own runtime; the body of a 200 answer.
fn get(url: &str) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let r = reqwest::get(url).await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    })
}
