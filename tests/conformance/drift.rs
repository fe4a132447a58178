//! Every built-in drift detector configuration passes `drift_conformance`.

use mlcycle::drift::stats::{Correction, Method};
use mlcycle::drift::{
    DriftDetector, MethodSelection, StatisticalDriftConfig, StatisticalDriftDetector,
    drift_conformance,
};

#[tokio::test]
async fn the_default_detector_conforms() {
    drift_conformance(&StatisticalDriftDetector::default()).await;
}

#[tokio::test]
async fn the_evidently_configuration_conforms() {
    let d = StatisticalDriftDetector::new(StatisticalDriftConfig::evidently()).unwrap();
    drift_conformance(&d).await;
}

#[tokio::test]
async fn distance_deciders_and_corrections_conform() {
    for (methods, correction) in [
        (
            MethodSelection::list([Method::Psi, Method::ChiSquare]),
            Correction::None,
        ),
        (
            MethodSelection::list([Method::Wasserstein, Method::JensenShannon]),
            Correction::None,
        ),
        (
            MethodSelection::list([Method::Ks, Method::ChiSquare]),
            Correction::Bonferroni,
        ),
        (
            MethodSelection::list([Method::Ks, Method::ChiSquare]),
            Correction::BenjaminiHochberg,
        ),
    ] {
        let d = StatisticalDriftDetector::new(StatisticalDriftConfig {
            methods,
            correction,
            ..StatisticalDriftConfig::default()
        })
        .unwrap();
        drift_conformance(&d).await;
    }
}

/// A detector that ignores the current data never sees a shift: the report names the
/// broken property and the column, in one short line.
#[tokio::test]
async fn a_detector_blind_to_shifts_is_reported_by_property() {
    #[derive(Debug)]
    struct Blind(StatisticalDriftDetector);
    #[async_trait::async_trait]
    impl DriftDetector for Blind {
        async fn detect(
            &self,
            reference: &mlcycle::data::Dataset,
            _current: &mlcycle::data::Dataset,
        ) -> mlcycle::Result<mlcycle::drift::DriftReport> {
            self.0.detect(reference, reference).await
        }
    }
    let panic = tokio::spawn(async {
        drift_conformance(&Blind(StatisticalDriftDetector::default())).await;
    })
    .await
    .unwrap_err()
    .into_panic();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.starts_with(
            "drift detector conformance: broken property `a strong shift of `x1` is drift on `x1` only`: column `x1` drift = false"
        ),
        "{msg}"
    );
    assert!(msg.len() < 300, "a short report: {msg}");
}
