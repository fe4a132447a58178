//! The registry conformance suite: every [`Registry`] backend must pass it.

use super::artifacts::sha256_hex;
use super::{
    Change, CmpOp, Lineage, ModelVersion, NewVersion, Registry, RegistryEvent, RegistryEventKind,
    RegistryExt, VersionQuery, VersionStatus,
};
use crate::Error;
use crate::model::ModelArtifact;
use std::collections::BTreeMap;

/// The bytes of a small stored artifact (a logistic model of three features, as the training
/// stage writes it), so the suite needs no training.
const SMALL_ARTIFACT: &[u8] = include_bytes!("conformance_artifact.json");

/// The small stored artifact the suite registers (and the registry's own tests use).
pub(crate) fn small_artifact() -> ModelArtifact {
    ModelArtifact::from_bytes(SMALL_ARTIFACT).expect("the stored conformance artifact is valid")
}

/// A small valid artifact; `variant` makes its bytes (and hash) distinct.
fn artifact(base: &ModelArtifact, variant: u32) -> ModelArtifact {
    let mut a = base.clone().without_reference_profile();
    match &mut a {
        ModelArtifact::Logistic(m) => m.intercepts[0] += f64::from(variant) * 1e-3,
        other => panic!(
            "the conformance artifact must be a logistic model, found {}",
            other.flavor()
        ),
    }
    a
}

fn new_version(base: &ModelArtifact, variant: u32, auc: f64, team: &str) -> NewVersion {
    NewVersion {
        artifact: artifact(base, variant),
        lineage: Lineage {
            training_datasets: vec![],
            validation_dataset: None,
            parent_version: variant.checked_sub(1).filter(|&v| v > 0),
            code_version: Some(format!("commit-{variant}")),
            trainer: "logistic".into(),
            params: serde_json::json!({ "l2": 0.1, "variant": variant }),
            created_by: "conformance".into(),
        },
        metrics: BTreeMap::from([("auc".to_string(), auc)]),
        tags: BTreeMap::from([("team".to_string(), team.to_string())]),
        description: format!("variant {variant}"),
    }
}

fn who(reason: &str) -> Change {
    Change::new("conformance", reason)
}

macro_rules! expect_err {
    ($fut:expr, $pat:pat, $what:expr) => {
        match $fut.await {
            Err($pat) => {}
            other => crate::conformance_support::broken(
                "registry",
                &$what.to_string(),
                format!(
                    "expected {}, got {}",
                    stringify!($pat),
                    crate::conformance_support::outcome(&other)
                ),
            ),
        }
    };
}

// A failed check names the broken property with the values cut short, not a Debug dump.
macro_rules! assert_eq {
    ($($t:tt)+) => { crate::conformance_support::suite_assert_eq!("registry", $($t)+) };
}

/// Run the whole registry contract against `registry`, which must be empty.
///
/// Covers names and references, versions and their immutability, mutable tags and
/// description, status and its history, aliases and their history (including "what did the
/// alias point to at time T"), deletion rules, search, events (sequence, content, replay and
/// live subscription) and concurrent registrations.
///
/// # Panics
/// On the first violation, with a message naming it (it is a test suite).
pub async fn registry_conformance(registry: &dyn Registry) {
    assert!(
        registry
            .list_models()
            .await
            .expect("list_models")
            .is_empty(),
        "registry_conformance needs an empty registry"
    );
    let base = small_artifact();

    names(registry, &base).await;
    versions_and_references(registry, &base).await;
    aliases(registry).await;
    status_and_mutable_fields(registry).await;
    deletion(registry, &base).await;
    search(registry).await;
    events(registry, &base).await;
    concurrency(registry, &base).await;
    if registry.audit_log().is_some() {
        audit_trail(registry, &base).await;
    }
    owners(registry, &base).await;
}

/// A model's owner: unset at first, set, replaced, cleared; unknown models are `NotFound`;
/// an audited registry records each change as `model.owner_set`.
async fn owners(registry: &dyn Registry, base: &ModelArtifact) {
    const P: &str = "owners";
    let ck =
        |holds: bool, why: String| crate::conformance_support::check("registry", P, holds, || why);
    registry
        .register("owned", new_version(base, 1, 0.7, "a"))
        .await
        .expect("register");
    let o = registry.get_owner("owned").await.expect("get_owner");
    ck(
        o.is_none(),
        format!("a new model has no owner, found {o:?}"),
    );
    registry
        .set_owner("owned", Some("ann@example.com"), who("on call"))
        .await
        .expect("set_owner");
    registry
        .set_owner("owned", Some("risk-team"), who("handover"))
        .await
        .expect("set_owner");
    let o = registry.get_owner("owned").await.expect("get_owner");
    ck(
        o.as_deref() == Some("risk-team"),
        format!("the last owner set reads back, found {o:?}"),
    );
    expect_err!(
        registry.set_owner("no-such-model", Some("x"), who("x")),
        Error::NotFound { .. },
        "set_owner of an unknown model is NotFound"
    );
    expect_err!(
        registry.get_owner("no-such-model"),
        Error::NotFound { .. },
        "get_owner of an unknown model is NotFound"
    );
    if let Some(log) = registry.audit_log() {
        let recs = log
            .query(&crate::audit::AuditQuery {
                action: Some(crate::audit::actions::OWNER_SET.into()),
                subject: Some("owned".into()),
                ..Default::default()
            })
            .await
            .expect("query");
        let owners: Vec<_> = recs
            .iter()
            .map(|r| r.entry.payload["owner"].clone())
            .collect();
        ck(
            owners
                == vec![
                    serde_json::json!("ann@example.com"),
                    serde_json::json!("risk-team"),
                ],
            format!("each owner change is audited, found {owners:?}"),
        );
    }
    registry
        .set_owner("owned", None, who("left"))
        .await
        .expect("set_owner");
    let o = registry.get_owner("owned").await.expect("get_owner");
    ck(
        o.is_none(),
        format!("a cleared owner reads None, found {o:?}"),
    );
}

/// The (action, first subject) an audited registry records for an event; `None` for the
/// events it does not record (tags, description).
fn audited_as(kind: &RegistryEventKind) -> Option<(&'static str, String)> {
    use crate::audit::actions;
    match kind {
        RegistryEventKind::VersionCreated { name, version } => {
            Some((actions::VERSION_REGISTERED, format!("{name}/{version}")))
        }
        RegistryEventKind::StatusChanged { name, version, .. } => {
            Some((actions::VERSION_STATUS_CHANGED, format!("{name}/{version}")))
        }
        RegistryEventKind::AliasSet { name, version, .. } => {
            Some((actions::ALIAS_MOVED, format!("{name}/{version}")))
        }
        RegistryEventKind::AliasDeleted { name, previous, .. } => {
            Some((actions::ALIAS_DELETED, format!("{name}/{previous}")))
        }
        RegistryEventKind::VersionDeleted { name, version } => {
            Some((actions::VERSION_DELETED, format!("{name}/{version}")))
        }
        _ => None,
    }
}

/// A registry that records its changes: one record per change, in the order of the
/// changes, with the change's actor and trace; nothing for a failed change; a valid chain.
async fn audit_trail(registry: &dyn Registry, base: &ModelArtifact) {
    use crate::audit::{AuditQuery, actions, in_trace};
    let log = registry.audit_log().expect("audit log");
    let all = |log: std::sync::Arc<dyn crate::audit::AuditLog>| async move {
        log.query(&AuditQuery::default())
            .await
            .expect("audit query")
    };

    // Everything the suite changed so far was recorded, in order, and nothing else.
    let recorded: Vec<(String, String)> = all(log.clone())
        .await
        .into_iter()
        .map(|r| (r.entry.action, r.entry.subjects[0].clone()))
        .collect();
    let expected: Vec<(String, String)> = registry
        .events_since(0)
        .await
        .expect("events")
        .iter()
        .filter_map(|e| audited_as(&e.kind))
        .map(|(a, s)| (a.to_string(), s))
        .collect();
    assert_eq!(
        recorded, expected,
        "one audit record per registry change, in the order of the changes"
    );

    // Actor, trace and payload of each kind of change.
    let before = all(log.clone()).await.len();
    let mv = in_trace(
        "trace-a",
        registry.register("audited", new_version(base, 1, 0.8, "a")),
    )
    .await
    .expect("register");
    in_trace(
        "trace-a",
        registry.set_status(
            "audited",
            mv.version,
            VersionStatus::Approved,
            Change::new("ann", "looks good"),
        ),
    )
    .await
    .expect("status");
    registry
        .set_alias("audited", "champion", mv.version, Change::new("bob", "go"))
        .await
        .expect("alias");
    expect_err!(
        registry.set_alias(
            "audited",
            "champion",
            99,
            Change::new("bob", "no such version")
        ),
        Error::NotFound { .. },
        "alias to a missing version"
    );
    registry
        .delete_version("audited", mv.version, true, Change::new("eve", "retired"))
        .await
        .expect("forced delete");
    let new: Vec<_> = all(log.clone()).await.split_off(before);
    let seen: Vec<(&str, &str, &str)> = new
        .iter()
        .map(|r| {
            (
                r.entry.action.as_str(),
                r.entry.actor.as_str(),
                r.entry.subjects[0].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (actions::VERSION_REGISTERED, "conformance", "audited/1"),
            (actions::VERSION_STATUS_CHANGED, "ann", "audited/1"),
            (actions::ALIAS_MOVED, "bob", "audited/1"),
            (actions::ALIAS_DELETED, "eve", "audited/1"),
            (actions::VERSION_DELETED, "eve", "audited/1"),
        ],
        "the failed change appended nothing"
    );
    assert_eq!(new[0].entry.trace_id, "trace-a");
    assert_eq!(new[1].entry.trace_id, "trace-a");
    assert!(
        new[2].entry.trace_id.starts_with("change-")
            && new[2].entry.trace_id != new[3].entry.trace_id,
        "a change outside a trace gets a trace of its own: {:?}",
        new[2].entry.trace_id
    );
    assert_eq!(
        new[3].entry.trace_id, new[4].entry.trace_id,
        "one deletion, one trace"
    );
    let p = &new[0].entry.payload;
    assert_eq!(p["artifact_sha256"], serde_json::json!(mv.artifact_sha256));
    assert_eq!(p["lineage"]["code_version"], "commit-1");
    assert_eq!(new[1].entry.payload["status"], "approved");
    assert_eq!(new[1].entry.payload["reason"], "looks good");
    assert_eq!(new[2].entry.payload["alias"], "champion");
    assert_eq!(new[2].entry.payload["to"], 1);
    assert_eq!(new[4].entry.payload["forced"], true);
    assert_eq!(
        new[4].entry.payload["aliases"],
        serde_json::json!(["champion"])
    );
    let n = log.verify().await.expect("the chain verifies");
    assert_eq!(n as usize, before + 5);
}

async fn names(registry: &dyn Registry, base: &ModelArtifact) {
    let long = "n".repeat(257);
    for bad in [
        "",
        "a b",
        "../x",
        ".hidden",
        "a/b",
        "a@b",
        "é",
        "a\0b",
        long.as_str(),
    ] {
        expect_err!(
            registry.register(bad, new_version(base, 0, 0.5, "x")),
            Error::InvalidInput { .. },
            format!("register with bad name {bad:?}")
        );
    }
    assert!(
        registry.list_models().await.unwrap().is_empty(),
        "a rejected name must not create a model"
    );
    let max = "m".repeat(256);
    let mv = registry
        .register(&max, new_version(base, 0, 0.5, "x"))
        .await
        .expect("a 256-byte name is valid");
    assert_eq!(mv.version, 1);
    registry
        .delete_version(&max, 1, false, who("cleanup"))
        .await
        .expect("delete the long-name version");
    for bad_ref in [
        "",
        "a b@x",
        "../x/1",
        "m@",
        "m/0",
        "m/-1",
        "m/x",
        "m@bad alias",
    ] {
        expect_err!(
            registry.resolve(bad_ref),
            Error::InvalidInput { .. },
            format!("resolve bad reference {bad_ref:?}")
        );
    }
}

async fn versions_and_references(registry: &dyn Registry, base: &ModelArtifact) {
    let mut registered = Vec::new();
    for v in 1..=3 {
        let new = new_version(base, v, 0.5 + f64::from(v) * 0.125, "risk");
        let expected_artifact = new.artifact.clone();
        let mv = registry
            .register("churn", new.clone())
            .await
            .expect("register");
        assert_eq!(mv.name, "churn");
        assert_eq!(mv.version, v, "versions are numbered 1, 2, 3");
        assert_eq!(mv.status, VersionStatus::PendingApproval);
        assert_eq!(mv.lineage, new.lineage, "lineage is stored");
        assert_eq!(mv.metrics, new.metrics);
        assert_eq!(mv.tags, new.tags);
        assert_eq!(mv.description, new.description);
        assert_eq!(mv.flavor, expected_artifact.flavor());
        assert_eq!(&mv.signature, expected_artifact.signature());
        assert_eq!(
            mv.artifact_sha256,
            sha256_hex(&expected_artifact.to_bytes().unwrap()),
            "the hash is the sha256 of the artifact bytes"
        );
        assert!(mv.aliases.is_empty());
        let loaded = registry.load_artifact("churn", v).await.expect("load");
        assert_eq!(
            loaded, expected_artifact,
            "load returns the registered artifact"
        );
        assert_eq!(registry.get_version("churn", v).await.unwrap(), mv);
        registered.push(mv);
    }
    registry
        .register("alpha", new_version(base, 9, 0.5, "growth"))
        .await
        .expect("register a second model");
    assert_eq!(
        registry.list_models().await.unwrap(),
        vec!["alpha".to_string(), "churn".to_string(), "m".repeat(256)],
        "models are listed sorted"
    );
    assert_eq!(
        registry.list_versions("churn").await.unwrap(),
        registered,
        "versions are listed oldest first"
    );

    // Unknown things.
    expect_err!(
        registry.get_version("nope", 1),
        Error::NotFound { .. },
        "unknown model"
    );
    expect_err!(
        registry.get_version("churn", 99),
        Error::NotFound { .. },
        "unknown version"
    );
    expect_err!(
        registry.list_versions("nope"),
        Error::NotFound { .. },
        "list versions of an unknown model"
    );
    expect_err!(
        registry.load_artifact("churn", 99),
        Error::NotFound { .. },
        "load an unknown version"
    );
    expect_err!(
        registry.resolve("churn@production"),
        Error::NotFound { .. },
        "unset alias"
    );
    expect_err!(
        registry.resolve("nope@latest"),
        Error::NotFound { .. },
        "latest of an unknown model"
    );

    // References.
    for (r, v) in [
        ("churn/2", 2),
        ("models:/churn/2", 2),
        ("churn/v2", 2),
        ("churn@v2", 2),
        ("churn@latest", 3),
        ("churn@LATEST", 3),
        ("churn/latest", 3),
        ("churn", 3),
        ("models:/churn@latest", 3),
    ] {
        assert_eq!(
            registry.resolve(r).await.expect(r).version,
            v,
            "reference {r}"
        );
    }
    registry
        .set_alias("churn", "production", 1, who("first"))
        .await
        .unwrap();
    for r in ["churn@production", "models:/churn@production"] {
        assert_eq!(registry.resolve(r).await.expect(r).version, 1, "{r}");
    }
    let (mv, model) = registry.load_model("churn@production").await.unwrap();
    assert_eq!(mv.version, 1);
    assert_eq!(
        model.signature(),
        artifact(base, 1).signature(),
        "load_model returns the model"
    );
}

async fn aliases(registry: &dyn Registry) {
    // `production` -> 1 was set above.
    for reserved in ["latest", "LATEST", "Latest", "v1", "V2", "v007"] {
        expect_err!(
            registry.set_alias("churn", reserved, 1, who("reserved")),
            Error::InvalidInput { .. },
            format!("reserved alias {reserved}")
        );
    }
    for bad in ["", "a b", "x/y", "../z"] {
        expect_err!(
            registry.set_alias("churn", bad, 1, who("bad")),
            Error::InvalidInput { .. },
            format!("bad alias {bad:?}")
        );
    }
    expect_err!(
        registry.set_alias("churn", "staging", 99, who("missing")),
        Error::NotFound { .. },
        "alias to an unknown version"
    );
    expect_err!(
        registry.set_alias("nope", "staging", 1, who("missing")),
        Error::NotFound { .. },
        "alias on an unknown model"
    );

    let moved = registry
        .set_alias("churn", "production", 2, who("promote v2"))
        .await
        .unwrap();
    assert_eq!(moved.version, Some(2));
    assert_eq!(
        moved.previous,
        Some(1),
        "setting an existing alias moves it"
    );
    registry
        .set_alias("churn", "champion", 2, who("same version"))
        .await
        .unwrap();
    registry
        .set_alias("churn", "staging", 3, who("try v3"))
        .await
        .unwrap();
    assert_eq!(
        registry.get_version("churn", 2).await.unwrap().aliases,
        vec!["champion".to_string(), "production".to_string()],
        "a version carries several aliases, sorted"
    );
    assert!(
        registry
            .get_version("churn", 1)
            .await
            .unwrap()
            .aliases
            .is_empty()
    );
    let listed: Vec<Vec<String>> = registry
        .list_versions("churn")
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.aliases)
        .collect();
    assert_eq!(
        listed,
        vec![
            vec![],
            vec!["champion".to_string(), "production".to_string()],
            vec!["staging".to_string()]
        ],
        "list_versions includes aliases"
    );
    assert_eq!(
        registry.get_alias("churn", "production").await.unwrap(),
        Some(2)
    );
    assert_eq!(registry.get_alias("churn", "unset").await.unwrap(), None);

    let deleted = registry
        .delete_alias("churn", "staging", who("drop staging"))
        .await
        .unwrap();
    assert_eq!((deleted.version, deleted.previous), (None, Some(3)));
    assert_eq!(registry.get_alias("churn", "staging").await.unwrap(), None);
    expect_err!(
        registry.delete_alias("churn", "staging", who("again")),
        Error::NotFound { .. },
        "deleting an unset alias"
    );
    expect_err!(
        registry.delete_alias("nope", "staging", who("again")),
        Error::NotFound { .. },
        "deleting an alias of an unknown model"
    );

    // History, oldest first, with who and why.
    let history = registry.alias_history("churn", None).await.unwrap();
    let summary: Vec<(&str, Option<u32>, Option<u32>, &str)> = history
        .iter()
        .map(|c| {
            (
                c.alias.as_str(),
                c.version,
                c.previous,
                c.change.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("production", Some(1), None, "first"),
            ("production", Some(2), Some(1), "promote v2"),
            ("champion", Some(2), None, "same version"),
            ("staging", Some(3), None, "try v3"),
            ("staging", None, Some(3), "drop staging"),
        ]
    );
    assert!(
        history
            .iter()
            .all(|c| c.change.actor == "conformance" && c.name == "churn")
    );
    assert!(
        history.windows(2).all(|w| w[0].at <= w[1].at),
        "history is in time order"
    );
    let production = registry
        .alias_history("churn", Some("production"))
        .await
        .unwrap();
    assert_eq!(production.len(), 2);
    assert!(
        registry
            .alias_history("alpha", None)
            .await
            .unwrap()
            .is_empty()
    );

    // What the alias pointed to at each moment of its history.
    let before = production[0].at - chrono::Duration::seconds(1);
    assert_eq!(
        registry
            .alias_at("churn", "production", before)
            .await
            .unwrap(),
        None,
        "before the first assignment"
    );
    let staging = registry
        .alias_history("churn", Some("staging"))
        .await
        .unwrap();
    for h in [&production, &staging] {
        for c in h.iter() {
            let expected = h
                .iter()
                .rev()
                .find(|x| x.at <= c.at)
                .and_then(|x| x.version);
            assert_eq!(
                registry.alias_at("churn", &c.alias, c.at).await.unwrap(),
                expected,
                "alias_at at {}",
                c.at
            );
        }
    }
    let after = staging[1].at + chrono::Duration::seconds(1);
    assert_eq!(
        registry.alias_at("churn", "staging", after).await.unwrap(),
        None,
        "a deleted alias points nowhere"
    );
}

async fn status_and_mutable_fields(registry: &dyn Registry) {
    let before = registry.get_version("churn", 3).await.unwrap();
    let c = registry
        .set_status(
            "churn",
            3,
            VersionStatus::Approved,
            Change::new("alice", "metrics ok"),
        )
        .await
        .unwrap();
    assert_eq!(c.status, VersionStatus::Approved);
    registry
        .set_status(
            "churn",
            1,
            VersionStatus::Archived,
            Change::new("bob", "superseded"),
        )
        .await
        .unwrap();
    registry
        .set_status(
            "churn",
            2,
            VersionStatus::Rejected,
            Change::new("carol", "bias"),
        )
        .await
        .unwrap();
    expect_err!(
        registry.set_status("churn", 99, VersionStatus::Approved, who("x")),
        Error::NotFound { .. },
        "status of an unknown version"
    );
    let h3 = registry.status_history("churn", Some(3)).await.unwrap();
    let s: Vec<(VersionStatus, &str, &str)> = h3
        .iter()
        .map(|c| (c.status, c.change.actor.as_str(), c.change.reason.as_str()))
        .collect();
    assert_eq!(
        s,
        vec![
            (VersionStatus::PendingApproval, "conformance", "registered"),
            (VersionStatus::Approved, "alice", "metrics ok"),
        ],
        "status history starts at registration and records who and why"
    );
    assert_eq!(h3[1].at, c.at);
    let all = registry.status_history("churn", None).await.unwrap();
    assert_eq!(all.len(), 6, "3 registrations + 3 changes");
    expect_err!(
        registry.status_history("nope", None),
        Error::NotFound { .. },
        "status history of an unknown model"
    );

    registry
        .set_tag("churn", 3, "reviewed", "yes")
        .await
        .unwrap();
    registry.set_tag("churn", 3, "team", "ops").await.unwrap();
    expect_err!(
        registry.set_tag("churn", 3, "", "v"),
        Error::InvalidInput { .. },
        "empty tag key"
    );
    expect_err!(
        registry.set_tag("churn", 99, "k", "v"),
        Error::NotFound { .. },
        "tag on an unknown version"
    );
    registry
        .set_description("churn", 3, "the good one")
        .await
        .unwrap();
    expect_err!(
        registry.set_description("churn", 99, "x"),
        Error::NotFound { .. },
        "description of an unknown version"
    );
    let after = registry.get_version("churn", 3).await.unwrap();
    assert_eq!(after.status, VersionStatus::Approved);
    assert_eq!(after.tags.get("reviewed").map(String::as_str), Some("yes"));
    assert_eq!(
        after.tags.get("team").map(String::as_str),
        Some("ops"),
        "tags are mutable"
    );
    assert_eq!(after.description, "the good one");
    // Immutable parts are unchanged.
    assert_eq!(after.artifact_sha256, before.artifact_sha256);
    assert_eq!(after.signature, before.signature);
    assert_eq!(after.lineage, before.lineage);
    assert_eq!(after.metrics, before.metrics);
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(after.flavor, before.flavor);
}

async fn deletion(registry: &dyn Registry, base: &ModelArtifact) {
    // churn: 1 (no alias), 2 (production, champion), 3.
    let mv4 = registry
        .register("churn", new_version(base, 4, 0.9, "risk"))
        .await
        .unwrap();
    assert_eq!(mv4.version, 4);
    registry
        .set_alias("churn", "canary", 4, who("canary"))
        .await
        .unwrap();
    expect_err!(
        registry.delete_version("churn", 2, false, who("try")),
        Error::Conflict(_),
        "deleting an aliased version without force"
    );
    assert_eq!(registry.get_version("churn", 2).await.unwrap().version, 2);
    expect_err!(
        registry.delete_version("churn", 99, true, who("try")),
        Error::NotFound { .. },
        "deleting an unknown version"
    );

    let gone = registry
        .delete_version("churn", 1, false, who("unaliased"))
        .await
        .expect("an unaliased version can be deleted");
    assert_eq!(gone.version, 1);
    expect_err!(
        registry.get_version("churn", 1),
        Error::NotFound { .. },
        "a deleted version is gone"
    );
    expect_err!(
        registry.resolve("churn/1"),
        Error::NotFound { .. },
        "a deleted version does not resolve"
    );

    let gone = registry
        .delete_version("churn", 4, true, Change::new("dave", "bad canary"))
        .await
        .expect("forced deletion");
    assert_eq!(gone.aliases, vec!["canary".to_string()]);
    assert_eq!(registry.get_alias("churn", "canary").await.unwrap(), None);
    let last = registry
        .alias_history("churn", Some("canary"))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((last.version, last.previous), (None, Some(4)));
    assert_eq!(last.change, Change::new("dave", "bad canary"));
    assert_eq!(
        registry.resolve("churn@latest").await.unwrap().version,
        3,
        "latest is the highest remaining version"
    );
    let versions: Vec<u32> = registry
        .list_versions("churn")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, vec![2, 3]);
    let mv5 = registry
        .register("churn", new_version(base, 5, 0.95, "risk"))
        .await
        .unwrap();
    assert_eq!(mv5.version, 5, "deleted version numbers are never reused");
}

async fn search(registry: &dyn Registry) {
    // churn 2 (rejected, production+champion, auc .75), 3 (approved, team=ops, auc .875),
    // 5 (pending, auc .95); alpha 1 (pending, growth, auc .5).
    let ids = |vs: Vec<ModelVersion>| -> Vec<(String, u32)> {
        vs.into_iter().map(|v| (v.name, v.version)).collect()
    };
    let churn = |v: u32| ("churn".to_string(), v);
    let q = |q: VersionQuery| async move { registry.search_versions(&q).await.expect("search") };
    assert_eq!(
        ids(q(VersionQuery::new().name("churn")).await),
        vec![churn(2), churn(3), churn(5)]
    );
    assert_eq!(ids(q(VersionQuery::new().name("nope")).await), vec![]);
    assert_eq!(
        ids(q(VersionQuery::new().name_contains("lph")).await),
        vec![("alpha".to_string(), 1)]
    );
    assert_eq!(
        ids(q(VersionQuery::new().tag("team", "ops")).await),
        vec![churn(3)]
    );
    assert_eq!(
        ids(q(VersionQuery::new().tag("team", "risk")).await),
        vec![churn(2), churn(5)]
    );
    let by_alias = q(VersionQuery::new().alias("production")).await;
    assert_eq!(ids(by_alias.clone()), vec![churn(2)]);
    assert_eq!(
        by_alias[0].aliases,
        vec!["champion".to_string(), "production".to_string()],
        "search results include aliases"
    );
    assert_eq!(
        ids(q(VersionQuery::new().status(VersionStatus::Approved)).await),
        vec![churn(3)]
    );
    assert_eq!(
        ids(q(VersionQuery::new().status(VersionStatus::PendingApproval)).await),
        vec![("alpha".to_string(), 1), churn(5)]
    );
    assert_eq!(
        ids(q(VersionQuery::new().metric("auc", CmpOp::Ge, 0.875)).await),
        vec![churn(3), churn(5)]
    );
    assert_eq!(
        ids(q(VersionQuery::new()
            .name("churn")
            .metric("auc", CmpOp::Gt, 0.85)
            .metric("auc", CmpOp::Lt, 0.92))
        .await),
        vec![churn(3)]
    );
    assert_eq!(
        ids(q(VersionQuery::new().metric("missing", CmpOp::Ge, 0.0)).await),
        vec![],
        "a missing metric does not match"
    );
    assert_eq!(q(VersionQuery::new()).await.len(), 4);
}

fn kinds(events: &[RegistryEvent]) -> Vec<RegistryEventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

async fn events(registry: &dyn Registry, base: &ModelArtifact) {
    let all = registry.events_since(0).await.unwrap();
    assert!(!all.is_empty());
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "sequence numbers are 1, 2, 3, ...");
    }
    assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    // Every change so far has its event: spot-check the counts.
    let count = |f: fn(&RegistryEventKind) -> bool| all.iter().filter(|e| f(&e.kind)).count();
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::VersionCreated { .. })),
        7,
        "VersionCreated: long name, churn 1-5, alpha 1"
    );
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::VersionDeleted { .. })),
        3
    );
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::AliasSet { .. })),
        5
    );
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::AliasDeleted { .. })),
        2
    );
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::StatusChanged { .. })),
        3
    );
    assert_eq!(count(|k| matches!(k, RegistryEventKind::TagSet { .. })), 2);
    assert_eq!(
        count(|k| matches!(k, RegistryEventKind::DescriptionSet { .. })),
        1
    );
    let forced: Vec<RegistryEventKind> = all
        .iter()
        .skip_while(|e| {
            !matches!(&e.kind, RegistryEventKind::AliasDeleted { alias, .. } if alias == "canary")
        })
        .take(2)
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(
        forced,
        vec![
            RegistryEventKind::AliasDeleted {
                name: "churn".into(),
                alias: "canary".into(),
                previous: 4
            },
            RegistryEventKind::VersionDeleted {
                name: "churn".into(),
                version: 4
            },
        ],
        "a forced deletion deletes the aliases first"
    );
    let cursor = all.last().unwrap().seq;
    assert!(registry.events_since(cursor).await.unwrap().is_empty());
    assert_eq!(
        registry.events_since(cursor - 2).await.unwrap(),
        all[all.len() - 2..].to_vec(),
        "events_since returns the events after the cursor"
    );

    // A failed change appends no event.
    let _ = registry
        .set_alias("churn", "latest", 2, who("reserved"))
        .await;
    let _ = registry.set_tag("churn", 99, "k", "v").await;
    assert!(registry.events_since(cursor).await.unwrap().is_empty());

    // Subscriptions: replay from a cursor, then live.
    let mut replay = registry.subscribe(cursor - 3);
    for expected in &all[all.len() - 3..] {
        assert_eq!(
            &replay.next().await.unwrap(),
            expected,
            "replay after a cursor"
        );
    }
    assert_eq!(replay.cursor(), cursor);
    let mut sub = registry.subscribe(cursor);
    let (got, _) = tokio::join!(sub.next(), async {
        // Runs while `next` waits: the event must reach the waiting subscriber.
        tokio::task::yield_now().await;
        registry
            .set_tag("churn", 3, "live", "1")
            .await
            .expect("set tag")
    });
    let got = got.unwrap();
    assert_eq!(got.seq, cursor + 1);
    assert_eq!(
        got.kind,
        RegistryEventKind::TagSet {
            name: "churn".into(),
            version: 3,
            key: "live".into(),
            value: "1".into()
        }
    );
    let mv = registry
        .register("churn", new_version(base, 6, 0.5, "risk"))
        .await
        .unwrap();
    registry
        .set_alias("churn", "production", mv.version, who("live"))
        .await
        .unwrap();
    assert_eq!(
        replay.next().await.unwrap(),
        got,
        "two subscribers see the same stream"
    );
    let next_two = [sub.next().await.unwrap(), sub.next().await.unwrap()];
    assert_eq!(
        kinds(&next_two),
        vec![
            RegistryEventKind::VersionCreated {
                name: "churn".into(),
                version: 6
            },
            RegistryEventKind::AliasSet {
                name: "churn".into(),
                alias: "production".into(),
                version: 6,
                previous: Some(2)
            },
        ]
    );
    assert_eq!(
        [replay.next().await.unwrap(), replay.next().await.unwrap()],
        next_two
    );
    assert_eq!(sub.cursor(), cursor + 3);
    // A resubscription from a stored cursor continues exactly where it stopped.
    let mut again = registry.subscribe(cursor + 1);
    assert_eq!(again.next().await.unwrap().seq, cursor + 2);
}

async fn concurrency(registry: &dyn Registry, base: &ModelArtifact) {
    let n = 24u32;
    let start = registry.list_versions("churn").await.unwrap().len();
    let results = futures_util::future::join_all((0..n).map(|i| {
        let new = new_version(base, 100 + i, 0.5, "load");
        async move { registry.register("churn", new).await }
    }))
    .await;
    let mut numbers: Vec<u32> = results
        .into_iter()
        .map(|r| r.expect("concurrent register").version)
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (7..7 + n).collect::<Vec<u32>>(),
        "concurrent registrations get distinct consecutive numbers"
    );
    assert_eq!(
        registry.list_versions("churn").await.unwrap().len(),
        start + n as usize
    );
    let tags = futures_util::future::join_all((0..n).map(|i| async move {
        registry
            .set_tag("churn", 3, &format!("k{i}"), &i.to_string())
            .await
    }))
    .await;
    assert!(tags.iter().all(Result::is_ok));
    let mv = registry.get_version("churn", 3).await.unwrap();
    for i in 0..n {
        assert_eq!(
            mv.tags.get(&format!("k{i}")),
            Some(&i.to_string()),
            "concurrent tag updates are not lost"
        );
    }
    let events = registry.events_since(0).await.unwrap();
    assert!(
        events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "no gaps in the event sequence"
    );
}
