//! Exact linear contributions: coefficient × preprocessed value, one-hot parts summed per
//! input column, adding up to the margin (log-odds, or the prediction) for every row.

use mlcycle::explain::{ExplainedOutput, explain_rows};
use mlcycle::model::{ColumnTransform, Model, ModelArtifact};
use mlcycle::testing::{CreditDefault, DriftSpec};
use mlcycle::train::{LogisticParams, fit_logistic};

#[test]
fn logistic_contributions_sum_to_the_log_odds_and_group_one_hot_parts() {
    let data = CreditDefault::new(3)
        .sample(400, &DriftSpec::missing_surge("income", 0.1), 0)
        .unwrap();
    let model = fit_logistic(&data, &LogisticParams::default().check().unwrap()).unwrap();
    let art = model.to_artifact().unwrap();
    let e = explain_rows(&art, data.features(), data.features(), None).unwrap();
    assert_eq!(e.output, ExplainedOutput::Margin);
    assert_eq!(e.method, "linear");
    assert_eq!(e.base_value, model.intercepts[0]);
    assert_eq!(e.features.len(), data.schema().features.len());
    let p = model
        .predict(data.features())
        .unwrap()
        .probabilities
        .unwrap();
    let z = model.preprocessor.transform(data.features());
    let one_hot = model
        .preprocessor
        .columns
        .iter()
        .position(|c| matches!(c, ColumnTransform::OneHot { .. }))
        .expect("the credit data has a categorical column");
    // Offset of that column's indicators among the preprocessed inputs.
    let offset: usize = model.preprocessor.columns[..one_hot]
        .iter()
        .map(|c| match c {
            ColumnTransform::Standardize { .. } => 1,
            ColumnTransform::OneHot { n_levels } => *n_levels,
        })
        .sum();
    let ColumnTransform::OneHot { n_levels } = model.preprocessor.columns[one_hot] else {
        unreachable!()
    };
    for (i, r) in e.rows.iter().enumerate() {
        let sum: f64 = r.contributions.iter().sum();
        assert!((e.base_value + sum - r.value).abs() < 1e-9, "row {i}");
        let log_odds = (p[[i, 1]] / p[[i, 0]]).ln();
        assert!(
            (r.value - log_odds).abs() < 1e-9,
            "row {i}: {} vs {log_odds}",
            r.value
        );
        let parts: f64 = (offset..offset + n_levels)
            .map(|k| model.weights[[k, 0]] * z[[i, k]])
            .sum();
        assert!((r.contributions[one_hot] - parts).abs() < 1e-12, "row {i}");
    }
    // Class 0 is the reference class: an error, not a zero explanation.
    assert!(explain_rows(&art, data.features(), data.features(), Some(0)).is_err());
    assert!(explain_rows(&art, data.features(), data.features(), Some(2)).is_err());
    // A bundled artifact explains the same.
    let profile = mlcycle::drift::DatasetProfile::reference(&data.without_target()).unwrap();
    let bundled = art.clone().with_reference_profile(profile);
    let b = explain_rows(&bundled, data.features(), data.features(), None).unwrap();
    assert_eq!(b, e);
    assert!(matches!(art, ModelArtifact::Logistic(_)));
}
