//! Helpers shared by the registry integration tests.
#![allow(dead_code)]

use mlcycle::model::{Model, ModelArtifact};
use mlcycle::registry::{Lineage, NewVersion};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A small fitted model's artifact (fitted once per process).
pub fn base_artifact() -> &'static ModelArtifact {
    static BASE: OnceLock<ModelArtifact> = OnceLock::new();
    BASE.get_or_init(|| {
        let data = CreditDefault::new(3)
            .sample(200, &DriftSpec::none(), 0)
            .unwrap();
        fit_logistic(&data, &LogisticParams::default().check().unwrap())
            .unwrap()
            .to_artifact()
            .unwrap()
    })
}

/// A distinct artifact per `variant`.
pub fn artifact(variant: u64) -> ModelArtifact {
    let mut a = base_artifact().clone();
    if let ModelArtifact::Logistic(m) = &mut a {
        m.intercepts[0] += variant as f64 * 1e-6;
    }
    a
}

/// A new version with a distinct artifact and an `auc` metric.
pub fn new_version(variant: u64, auc: f64) -> NewVersion {
    NewVersion {
        artifact: artifact(variant),
        lineage: Lineage {
            trainer: "logistic".into(),
            created_by: "tests".into(),
            code_version: Some(format!("v{variant}")),
            ..Lineage::default()
        },
        metrics: BTreeMap::from([("auc".to_string(), auc)]),
        tags: BTreeMap::new(),
        description: format!("variant {variant}"),
    }
}
