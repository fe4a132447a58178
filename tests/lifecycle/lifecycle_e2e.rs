//! The whole loop on the scenario harness: drift is detected after it is switched on and a
//! retrained version is promoted; without drift, 60 days pass without a false alarm.

use mlcycle::lifecycle::{LifecycleConfig, MonitoringDecision, TrainingDecision};
use mlcycle::testing::scenario::{self, ScenarioConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_detected_and_a_retrained_version_is_promoted() {
    let config = ScenarioConfig::default();
    let drift_day = config.drift.as_ref().unwrap().start_day;
    let fault = config.fault.clone().unwrap();
    let report = scenario::run(config, LifecycleConfig::new("credit"), None, |_| {})
        .await
        .unwrap();

    assert!(matches!(
        report.initial.decision,
        TrainingDecision::Promoted { .. }
    ));
    let drift_days = report.drift_days();
    assert!(!drift_days.is_empty(), "drift was never detected");
    assert!(
        drift_days.iter().all(|&d| d >= drift_day),
        "drift flagged before it was switched on: {drift_days:?}"
    );
    assert!(
        drift_days[0] <= drift_day + 2,
        "drift detected late: first on day {}",
        drift_days[0]
    );

    // The data fault is triaged as such and never causes a retrain.
    let fault_days: Vec<u32> = report
        .days
        .iter()
        .filter(|d| {
            matches!(
                d.monitoring.decision,
                MonitoringDecision::DataQualityFault { .. }
            )
        })
        .map(|d| d.day)
        .collect();
    assert!(
        !fault_days.is_empty(),
        "the missing-value surge was not noticed"
    );
    assert!(
        fault_days
            .iter()
            .all(|&d| d >= fault.start_day && d < drift_day)
    );

    let retrains: Vec<_> = report.retrains().collect();
    assert!(!retrains.is_empty(), "no retrain happened");
    assert!(retrains.iter().all(|(d, _)| *d >= drift_day));
    let (day, promoted) = retrains
        .iter()
        .find(|(_, o)| matches!(o.decision, TrainingDecision::Promoted { .. }))
        .expect("a retrained version was promoted");
    // It was validated against the version in production, on the same holdout, and won.
    assert_eq!(promoted.champion_version, Some(1));
    let cand = promoted.validation.candidate["roc_auc"];
    let champ = promoted.validation.champion.as_ref().unwrap()["roc_auc"];
    assert!(
        cand > champ,
        "promoted {cand} does not beat champion {champ}"
    );
    // Trained on data from after the drift began.
    assert!(promoted.dataset_source.contains("labelled production rows"));
    assert_eq!(report.final_version, Some(promoted.version.version));
    // The days after the promotion are served by the new version.
    let after = report.days.iter().find(|d| d.day == day + 1).unwrap();
    assert_eq!(after.served_by, vec![promoted.version.version]);
    assert!(report.audit_records > 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_false_alarms_without_drift() {
    let report = scenario::run(
        ScenarioConfig::default().without_drift(),
        LifecycleConfig::new("credit"),
        None,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(report.days.len(), 60);
    assert_eq!(report.drift_days(), Vec::<u32>::new(), "false drift alarms");
    assert_eq!(report.retrains().count(), 0);
    assert!(
        report
            .days
            .iter()
            .all(|d| matches!(d.monitoring.decision, MonitoringDecision::NoAction))
    );
    assert_eq!(report.final_version, Some(1));
}
