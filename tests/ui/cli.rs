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
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &ui.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
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

fn mlcycle(args: &[&str], store: &std::path::Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mlcycle {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn pages_answer_and_follow_while_other_processes_write_to_the_store() {
    let store = demo_store();
    let ui = start_ui(store.path());
    let dir = store.path().to_path_buf();
    // Other processes change the store: owners, then a person's approval released from the
    // command line (alias moved, deployment and decision audited).
    let writer = std::thread::spawn(move || {
        for i in 0..5 {
            mlcycle(
                &[
                    "models",
                    "owner",
                    "set",
                    "credit-default",
                    &format!("owner {i}"),
                ],
                &dir,
            );
        }
        mlcycle(
            &[
                "approve",
                "credit-default@2",
                "--by",
                "alice",
                "--reason",
                "better on the drifted data",
                "--release",
            ],
            &dir,
        );
    });
    let mut rounds = 0;
    while !writer.is_finished() {
        for p in ["/", "/models/credit-default", "/approvals", "/audit"] {
            get(&format!("{}{p}", ui.base));
        }
        rounds += 1;
    }
    writer.join().unwrap();
    assert!(rounds > 0);
    assert!(
        get(&ui.base).contains("owner 4"),
        "the last owner is not shown"
    );
    let approvals = get(&format!("{}/approvals", ui.base));
    assert!(approvals.contains("0 pending"), "{approvals}");
    assert!(approvals.contains("alice") && approvals.contains("better on the drifted data"));
    let model = get(&format!("{}/models/credit-default", ui.base));
    assert!(
        model.contains("<td>production</td><td><a href=\"/models/credit-default/versions/2\">"),
        "the alias does not point at v2"
    );
}
