//! A new version registered outside the lifecycle triggers the release pipeline:
//! validated against the champion, approved, deployed, alias moved — once.

use mlcycle::clock::SystemClock;
use mlcycle::deploy::Deployer;
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDecision, Trigger};
use mlcycle::model::Model;
use mlcycle::registry::{Lineage, NewVersion, RegistryExt, VersionStatus};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::sync::Arc;

fn register(model: &dyn Model) -> NewVersion {
    NewVersion {
        artifact: model.to_artifact().unwrap(),
        lineage: Lineage {
            trainer: "external".into(),
            created_by: "another-team".into(),
            ..Default::default()
        },
        metrics: Default::default(),
        tags: Default::default(),
        description: "registered elsewhere".into(),
    }
}

#[tokio::test]
async fn registered_versions_go_through_the_release_pipeline() {
    let stack = Stack::in_memory(Arc::new(SystemClock), LifecycleConfig::new("credit")).unwrap();
    let g = CreditDefault::new(21);
    // v1 from a weak sample, through the lifecycle.
    let small = g.sample(400, &DriftSpec::none(), 0).unwrap();
    let v1 = stack
        .lifecycle
        .run_training(&small, Trigger::Manual)
        .await
        .unwrap();
    assert!(matches!(v1.decision, TrainingDecision::Promoted { .. }));

    // v2: a much better model registered directly; v3: a poor one.
    let big = g.sample(20_000, &DriftSpec::none(), 1).unwrap();
    let strong = fit_logistic(&big, &LogisticParams::default().check().unwrap()).unwrap();
    let tiny = g.sample(60, &DriftSpec::none(), 2).unwrap();
    let weak = fit_logistic(&tiny, &LogisticParams::default().l2(500.0).check().unwrap()).unwrap();
    stack
        .registry
        .register("credit", register(&strong))
        .await
        .unwrap();
    stack
        .registry
        .register("credit", register(&weak))
        .await
        .unwrap();

    let holdout = g.sample(4_000, &DriftSpec::none(), 3).unwrap();
    let (cursor, outcomes) = stack
        .lifecycle
        .release_registered(0, &holdout)
        .await
        .unwrap();
    assert_eq!(
        outcomes.len(),
        2,
        "v1 was already decided; v2 and v3 are released"
    );
    assert_eq!(outcomes[0].version.version, 2);
    assert!(matches!(
        outcomes[0].decision,
        TrainingDecision::Promoted { .. }
    ));
    assert_eq!(outcomes[0].champion_version, Some(1));
    assert_eq!(outcomes[1].version.version, 3);
    assert!(matches!(
        outcomes[1].decision,
        TrainingDecision::Rejected { .. }
    ));
    assert_eq!(outcomes[1].champion_version, Some(2));

    assert_eq!(
        stack
            .registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        2
    );
    assert_eq!(stack.deployer.current().await.unwrap().version, 2);
    assert_eq!(
        stack
            .registry
            .get_version("credit", 3)
            .await
            .unwrap()
            .status,
        VersionStatus::Rejected
    );

    // Replaying from the returned cursor finds nothing new; from 0, nothing is pending.
    let (again, none) = stack
        .lifecycle
        .release_registered(cursor, &holdout)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(again >= cursor);
    assert!(
        stack
            .lifecycle
            .release_registered(0, &holdout)
            .await
            .unwrap()
            .1
            .is_empty()
    );
}
