//! A lifecycle with a dispatcher: a candidate rejected by validation raises
//! `validation_failed` to a channel sink, naming the model's owner; a promotion raises
//! `released`.

use mlcycle::alerts::{AlertDispatcher, AlertKind, ChannelSink, MemoryAlertStore, Severity};
use mlcycle::audit::InMemoryAuditLog;
use mlcycle::clock::SystemClock;
use mlcycle::collect::InMemoryPredictionLog;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDecision, Trigger};
use mlcycle::model::Model;
use mlcycle::registry::{Change, InMemoryRegistry, Lineage, NewVersion, Registry};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::sync::Arc;

#[tokio::test]
async fn a_rejected_candidate_alerts_the_owner() {
    let clock = Arc::new(SystemClock);
    let audit = Arc::new(InMemoryAuditLog::new(clock.clone()));
    let registry = Arc::new(InMemoryRegistry::new(clock.clone()).with_audit(audit.clone()));
    let (sink, mut rx) = ChannelSink::new(16);
    let dispatcher = Arc::new(
        AlertDispatcher::new(Arc::new(MemoryAlertStore::default()))
            .registry(registry.clone())
            .audit(audit.clone())
            .sink(Arc::new(sink)),
    );
    let d = dispatcher.clone();
    let stack = Stack::assemble(
        clock,
        LifecycleConfig::new("credit"),
        registry.clone(),
        Arc::new(InMemoryPredictionLog::default()),
        move |b| b.alerts(d),
    )
    .unwrap();

    let g = CreditDefault::new(21);
    let big = g.sample(20_000, &DriftSpec::none(), 1).unwrap();
    let v1 = stack
        .lifecycle
        .run_training(&big, Trigger::Manual)
        .await
        .unwrap();
    assert!(matches!(v1.decision, TrainingDecision::Promoted { .. }));
    let released = rx.recv().await.unwrap();
    assert_eq!(released.kind, AlertKind::Released);
    assert_eq!(released.version, Some(1));
    assert_eq!(released.owner, None, "no owner set yet");

    registry
        .set_owner(
            "credit",
            Some("ann@example.com"),
            Change::new("ops", "on call"),
        )
        .await
        .unwrap();
    let tiny = g.sample(60, &DriftSpec::none(), 2).unwrap();
    let weak = fit_logistic(&tiny, &LogisticParams::default().l2(500.0).check().unwrap()).unwrap();
    registry
        .register(
            "credit",
            NewVersion {
                artifact: weak.to_artifact().unwrap(),
                lineage: Lineage {
                    trainer: "external".into(),
                    created_by: "another-team".into(),
                    ..Default::default()
                },
                metrics: Default::default(),
                tags: Default::default(),
                description: "weak".into(),
            },
        )
        .await
        .unwrap();
    let holdout = g.sample(4_000, &DriftSpec::none(), 3).unwrap();
    let (_, outcomes) = stack
        .lifecycle
        .release_registered(0, &holdout)
        .await
        .unwrap();
    assert!(matches!(
        outcomes[0].decision,
        TrainingDecision::Rejected { .. }
    ));

    let a = rx.recv().await.unwrap();
    assert_eq!(a.kind, AlertKind::ValidationFailed);
    assert_eq!(a.severity, Severity::Warning);
    assert_eq!(a.model_name, "credit");
    assert_eq!(a.version, Some(2));
    assert_eq!(a.owner.as_deref(), Some("ann@example.com"));
    assert!(a.message.contains("credit/2"), "{}", a.message);
    assert!(
        !a.details["failed_checks"].as_array().unwrap().is_empty(),
        "{}",
        a.details
    );
    assert!(rx.try_recv().is_err(), "one alert per event");

    let stored = dispatcher.store().list(&Default::default()).await.unwrap();
    let kinds: Vec<&str> = stored.iter().map(|r| r.alert.kind.as_str()).collect();
    assert_eq!(kinds, ["released", "validation_failed"]);
}
