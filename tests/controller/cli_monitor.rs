//! `mlcycle monitor` exit codes: 0 when nothing is wrong, 3 when it would alert.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mlcycle");

#[test]
fn monitor_exits_0_when_nothing_is_wrong_and_3_when_it_would_alert() {
    let store = tempfile::tempdir().unwrap();
    let demo = Command::new(BIN)
        .args(["demo", "--json", "--store"])
        .arg(store.path())
        .output()
        .unwrap();
    assert!(demo.status.success());
    // The demo ends with version 2, trained after the shift (day 30 from 2026-03-02): a
    // pre-shift window differs from its data, a late window does not.
    let monitor = |from: &str, to: &str| {
        Command::new(BIN)
            .args(["monitor", "--store"])
            .arg(store.path())
            .args([
                "--model",
                "credit-default@production",
                "--from",
                from,
                "--to",
                to,
            ])
            .args(["--format", "json"])
            .output()
            .unwrap()
    };
    let early = monitor("2026-03-05T00:00:00Z", "2026-03-06T00:00:00Z");
    assert_eq!(early.status.code(), Some(3), "{early:?}");
    let v: serde_json::Value = serde_json::from_slice(&early.stdout).unwrap();
    assert_eq!(v["would_alert"], true);
    assert_eq!(v["version"], 2);
    let late = monitor("2026-04-28T00:00:00Z", "2026-04-29T00:00:00Z");
    assert_eq!(late.status.code(), Some(0), "{late:?}");
    let v: serde_json::Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(v["would_alert"], false);
    assert_eq!(v["decision"], "NoAction");
}
