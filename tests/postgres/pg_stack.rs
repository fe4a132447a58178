//! The whole stack on PostgreSQL (`Stack::open_postgres`): train → validate → register →
//! deploy with every record in the database; a second process's stack on the same database
//! serves what the alias names and sees one audit chain.

use crate::pg_support::TestDb;
use mlcycle::audit::{AuditQuery, actions};
use mlcycle::clock::SimulatedClock;
use mlcycle::deploy::{Deployer, ScoreRequest};
use mlcycle::embedded::Stack;
use mlcycle::lifecycle::{LifecycleConfig, TrainingDecision, Trigger};
use mlcycle::registry::RegistryExt;
use mlcycle::testing::{CreditDefault, DriftSpec};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_on_postgres_trains_registers_deploys_and_is_shared() {
    let db = TestDb::create().await;
    let clock = Arc::new(SimulatedClock::new(chrono::DateTime::UNIX_EPOCH));
    let config = LifecycleConfig::new("credit");
    let data = CreditDefault::new(5)
        .sample(2_000, &DriftSpec::none(), 0)
        .unwrap();
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Stack::open_postgres(db.url(), a_dir.path(), clock.clone(), config.clone())
        .await
        .unwrap();
    assert!(a.deployer.current().await.is_none());
    let out = a
        .lifecycle
        .run_training(&data, Trigger::Manual)
        .await
        .unwrap();
    assert!(
        matches!(out.decision, TrainingDecision::Promoted { .. }),
        "{:?}",
        out.decision
    );
    assert_eq!(
        a.registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        1
    );

    // Another process (another host, with its own prediction-log directory) on the same
    // database serves the version the alias names.
    let b = Stack::open_postgres(db.url(), b_dir.path(), clock.clone(), config)
        .await
        .unwrap();
    let rows = CreditDefault::new(5)
        .sample(20, &DriftSpec::none(), 9)
        .unwrap();
    let answer = b
        .deployer
        .predict(ScoreRequest {
            rows: rows.features().to_owned(),
            request_id: None,
        })
        .await
        .unwrap();
    assert_eq!(answer.model_version, 1);
    assert_eq!(
        b.registry
            .resolve("credit@production")
            .await
            .unwrap()
            .version,
        1
    );

    // One audit chain in the database, with the registration recorded once.
    assert!(b.audit.verify().await.unwrap() > 0);
    let registered = b
        .audit
        .query(&AuditQuery {
            action: Some(actions::VERSION_REGISTERED.to_string()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(registered.len(), 1);
}
