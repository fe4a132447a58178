//! The model card and the timeline: snapshots on a recorded demo store, and the commands.

use crate::{assert_self_contained, assert_snapshot, snapshot_path};
use mlcycle::audit::{AuditEvent, AuditRecord};
use mlcycle::data::write_csv;
use mlcycle::registry::{AliasChange, Change, ModelVersion, StatusChange, VersionStatus};
use mlcycle::report::{CardSources, ModelCard, timeline_html};
use mlcycle::testing::{CreditDefault, DriftSpec};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

struct Demo {
    versions: Vec<ModelVersion>,
    aliases: Vec<AliasChange>,
    audit: Vec<AuditRecord>,
    statuses: Vec<StatusChange>,
}

/// The recorded demo store (scripts/report_fixtures.sh).
fn demo() -> Demo {
    let read = |n: &str| std::fs::read_to_string(snapshot_path(n)).unwrap();
    let audit: Vec<AuditRecord> = read("demo_audit.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // the registry's status history, as its audit records tell it
    let statuses = audit
        .iter()
        .filter_map(
            |r| match AuditEvent::parse(&r.entry.action, &r.entry.payload) {
                Ok(AuditEvent::VersionStatusChanged(s)) => Some(StatusChange {
                    name: s.model_name,
                    version: s.version,
                    status: serde_json::from_value(Value::String(s.status)).unwrap(),
                    at: r.at,
                    change: Change::new(r.entry.actor.clone(), s.reason),
                }),
                _ => None,
            },
        )
        .collect();
    Demo {
        versions: serde_json::from_str(&read("demo_versions.json")).unwrap(),
        aliases: serde_json::from_str(&read("demo_aliases.json")).unwrap(),
        audit,
        statuses,
    }
}

fn card_of(d: &Demo, version: u32) -> ModelCard {
    let mv = d.versions.iter().find(|v| v.version == version).unwrap();
    let statuses: Vec<StatusChange> = d
        .statuses
        .iter()
        .filter(|s| s.version == version)
        .cloned()
        .collect();
    ModelCard::build(CardSources {
        version: mv,
        owner: Some("risk-team"),
        alias_history: &d.aliases,
        status_history: &statuses,
        audit: &d.audit,
    })
}

#[test]
fn model_card_of_the_served_version_matches_its_snapshots() {
    let d = demo();
    let card = card_of(&d, 2);
    // built from the registry and the trail: every part the approver needs
    assert_eq!(card.owner.as_deref(), Some("risk-team"));
    assert_eq!(card.aliases, ["production"]);
    assert_eq!(card.inputs.len(), 13);
    assert!(
        card.datasets
            .iter()
            .all(|ds| ds.rows.is_some() && ds.source.is_some())
    );
    let v = card.validation.as_ref().expect("validation found by trace");
    assert_eq!(v.champion, Some(1));
    assert!(v.report.champion.is_some());
    assert_eq!(card.importance.len(), 13);
    assert!(card.importance.windows(2).all(|w| w[0].1 >= w[1].1));
    assert!(
        card.importance_method
            .as_deref()
            .unwrap()
            .starts_with("mean_abs_contribution:linear")
    );
    assert!(card.profile.contains_key("profile_latency_p50_us"));
    assert!(card.approvals.iter().any(|e| e.what == "status → approved"));
    assert!(
        card.releases
            .iter()
            .any(|e| e.what.starts_with("deployed to"))
    );
    assert!(
        card.releases
            .iter()
            .any(|e| e.what == "alias production → v2")
    );
    assert!(card.monitoring.iter().any(|e| e.what == "window: DRIFT"));
    assert!(!card.alerts.is_empty());
    let md = card.to_markdown();
    for section in [
        "## Signature",
        "## Training data",
        "## Validation metrics",
        "## Validation checks",
        "## Fairness",
        "## Importance",
        "## Profiling",
        "## Approval history",
        "## Alias and deployment history",
        "## Monitoring (latest windows)",
        "## Alerts (latest)",
    ] {
        assert!(md.contains(section), "{section} missing");
    }
    let html = card.to_html();
    assert_self_contained(&html);
    assert_eq!(html, card_of(&d, 2).to_html());
    assert_snapshot("card.md", &md);
    assert_snapshot("card.html", &html);
}

#[test]
fn a_rejected_version_card_shows_why() {
    let d = demo();
    let card = card_of(&d, 3);
    assert_eq!(card.status, "rejected");
    assert!(card.aliases.is_empty());
    assert!(card.approvals.iter().any(|e| e.what == "status → rejected"));
    let checks = &card.validation.as_ref().unwrap().report.checks;
    assert!(checks.iter().any(|c| !c.passed));
    assert!(card.releases.is_empty() && card.monitoring.is_empty());
    assert!(card.to_markdown().contains("| FAIL |"));
}

#[test]
fn timeline_matches_its_snapshot() {
    let d = demo();
    let html = timeline_html("credit-default", &d.versions, &d.aliases, &d.audit);
    assert_self_contained(&html);
    for lane in [
        "versions",
        "aliases",
        "approvals",
        "deployments",
        "monitoring",
        "alerts",
    ] {
        assert!(
            html.contains(&format!(">{lane}</text>")),
            "lane {lane} missing"
        );
    }
    assert!(html.contains("v2 registered"));
    assert!(html.contains("production → v2 (was v1)"));
    assert!(html.contains("share of drifted inputs"));
    assert!(html.contains("time (UTC)"));
    assert_eq!(
        html,
        timeline_html("credit-default", &d.versions, &d.aliases, &d.audit)
    );
    assert_snapshot("timeline.html", &html);
    // another model's page is empty, not wrong
    let other = timeline_html("nope", &d.versions, &d.aliases, &d.audit);
    assert!(other.contains("Nothing recorded for this model."));
    assert!(!VersionStatus::Approved.as_str().is_empty());
}

fn mlcycle(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlcycle"))
        .args(args)
        .env("MLCYCLE_HOME", store)
        .env("USER", "alice")
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn cli_card_timeline_and_importance_stored_at_registration() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let train = dir.path().join("train.csv");
    write_csv(
        &CreditDefault::new(4)
            .sample(900, &DriftSpec::none(), 0)
            .unwrap(),
        &train,
    )
    .unwrap();
    for algo in ["logistic", "gbdt"] {
        ok(mlcycle(
            &store,
            &[
                "train",
                "--data",
                train.to_str().unwrap(),
                "--target",
                "default",
                "--name",
                "credit",
                "--algorithm",
                algo,
                "--seed",
                "1",
            ],
        ));
    }
    ok(mlcycle(
        &store,
        &["models", "owner", "set", "credit", "risk-team"],
    ));
    ok(mlcycle(
        &store,
        &[
            "models",
            "status",
            "credit/1",
            "approved",
            "--reason",
            "reviewed the card",
        ],
    ));
    ok(mlcycle(
        &store,
        &[
            "models",
            "alias",
            "set",
            "credit",
            "production",
            "1",
            "--reason",
            "first release",
        ],
    ));
    // importance is stored with each version at registration
    for (version, method) in [
        (1, "mean_abs_contribution:linear:margin"),
        (2, "mean_abs_contribution:tree_shap_path_dependent:margin"),
    ] {
        let shown: Value = serde_json::from_str(&ok(mlcycle(
            &store,
            &[
                "models",
                "show",
                &format!("credit/{version}"),
                "--format",
                "json",
            ],
        )))
        .unwrap();
        assert_eq!(shown["tags"]["importance_method"], method);
        let imp: serde_json::Map<String, Value> =
            serde_json::from_str(shown["tags"]["importance"].as_str().unwrap()).unwrap();
        let inputs = shown["signature"]["inputs"]["features"].as_array().unwrap();
        assert_eq!(imp.len(), inputs.len());
        for f in inputs {
            let x = imp[f["name"].as_str().unwrap()].as_f64().unwrap();
            assert!(x.is_finite() && x >= 0.0);
        }
        assert!(imp.values().any(|x| x.as_f64().unwrap() > 0.0));
    }
    // the card, in Markdown by default
    let md = ok(mlcycle(&store, &["models", "card", "credit@production"]));
    assert!(md.starts_with("# Model card: credit/1"), "{md}");
    assert!(md.contains("**Owner:** risk-team"));
    assert!(md.contains("**Aliases:** production"));
    assert!(md.contains("## Importance\n\n| input | mean absolute contribution |"));
    assert!(md.contains("alias production → v1 | alice | first release"));
    assert!(md.contains("status → approved | alice | reviewed the card"));
    assert_eq!(
        md,
        ok(mlcycle(
            &store,
            &["models", "card", "credit/1", "--format", "md"]
        ))
    );
    // HTML to a file
    let page = dir.path().join("card.html");
    ok(mlcycle(
        &store,
        &[
            "models",
            "card",
            "credit/2",
            "--format",
            "html",
            "--output",
            page.to_str().unwrap(),
        ],
    ));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("Model card: credit/2"));
    // JSON has the card's fields
    let j: Value = serde_json::from_str(&ok(mlcycle(
        &store,
        &["models", "card", "credit/2", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(j["version"], 2);
    assert_eq!(j["owner"], "risk-team");
    // md/html are card formats only
    let o = mlcycle(&store, &["models", "list", "--format", "html"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("formats of `models card`"));
    // the timeline
    let tl = dir.path().join("timeline.html");
    ok(mlcycle(
        &store,
        &[
            "report",
            "timeline",
            "--store",
            store.to_str().unwrap(),
            "--model",
            "credit",
            "--output",
            tl.to_str().unwrap(),
        ],
    ));
    let html = std::fs::read_to_string(&tl).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("v1 registered") && html.contains("v2 registered"));
    assert!(html.contains("production → v1"));
    let o = mlcycle(
        &store,
        &[
            "report",
            "timeline",
            "--store",
            store.to_str().unwrap(),
            "--model",
            "nope",
        ],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
}
