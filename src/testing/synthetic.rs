//! A seeded synthetic credit-default problem that can also produce drifted data.
//!
//! Ten numeric and three categorical applicant features; the probability of default
//! depends on them through a known logistic model (with an interaction), so a trained
//! model has real signal to find. [`DriftSpec`] switches on what happens in production:
//! a mean shift or scale change of any numeric feature, a new category, a surge of
//! missing values, and a change of the relation between features and default ("concept
//! drift", which is what makes retraining on newer data worth it).

use crate::data::{Dataset, Feature, Schema, Target, TargetKind};
use crate::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
use serde::{Deserialize, Serialize};

/// Numeric feature names with their nominal population mean and standard deviation
/// (used to express shifts in standard deviations).
const NUMERIC: [(&str, f64, f64); 10] = [
    ("age", 42.0, 12.0),
    ("income", 58_000.0, 30_000.0),
    ("debt_ratio", 0.35, 0.15),
    ("credit_limit", 15_000.0, 9_000.0),
    ("utilization", 0.40, 0.22),
    ("late_payments", 0.6, 0.8),
    ("months_employed", 60.0, 55.0),
    ("n_accounts", 5.0, 2.0),
    ("loan_amount", 12_000.0, 8_000.0),
    ("interest_rate", 9.0, 3.0),
];

const HOME: [&str; 3] = ["mortgage", "own", "rent"];
const PURPOSE: [&str; 5] = ["business", "car", "education", "home", "other"];
const REGION: [&str; 4] = ["east", "north", "south", "west"];

/// A change of one numeric feature's distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureShift {
    /// The numeric feature.
    pub feature: String,
    /// Mean shift in units of the feature's nominal standard deviation.
    pub mean_shift_sd: f64,
    /// Factor applied to the spread around the nominal mean (1 = unchanged).
    pub scale: f64,
}

/// A category that starts to appear in a categorical feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCategory {
    /// The categorical feature.
    pub feature: String,
    /// The new level's name.
    pub level: String,
    /// The fraction of rows that take it.
    pub fraction: f64,
}

/// What drifts, and by how much. The default is no drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftSpec {
    /// Numeric distribution changes.
    pub shifts: Vec<FeatureShift>,
    /// A new category (rows with it get a schema extended by the new level).
    pub new_category: Option<NewCategory>,
    /// Features whose values go missing, with the fraction of rows affected.
    pub missing: Vec<(String, f64)>,
    /// Concept drift in [0, 1]: at 1 the effect of utilization and late payments on
    /// default doubles and the effect of income reverses in part.
    pub concept: f64,
}

impl DriftSpec {
    /// No drift.
    pub fn none() -> Self {
        DriftSpec::default()
    }

    /// An economic downturn at `intensity` in [0, 1]: incomes fall, utilization and late
    /// payments rise, and (concept drift) defaults react more strongly to them.
    pub fn downturn(intensity: f64) -> Self {
        let shift = |f: &str, sd: f64, scale: f64| FeatureShift {
            feature: f.into(),
            mean_shift_sd: sd * intensity,
            scale: 1.0 + (scale - 1.0) * intensity,
        };
        DriftSpec {
            shifts: vec![
                shift("income", -0.6, 1.0),
                shift("utilization", 0.9, 1.2),
                shift("late_payments", 0.8, 1.3),
                shift("debt_ratio", 0.5, 1.0),
                shift("months_employed", -0.4, 1.0),
                shift("interest_rate", 0.7, 1.1),
                shift("credit_limit", -0.5, 1.0),
                shift("loan_amount", 0.5, 1.2),
            ],
            new_category: None,
            missing: vec![],
            concept: intensity,
        }
    }

    /// An upstream data fault: `fraction` of `feature`'s values go missing.
    pub fn missing_surge(feature: &str, fraction: f64) -> Self {
        DriftSpec {
            missing: vec![(feature.into(), fraction)],
            ..Default::default()
        }
    }

    fn check(&self) -> Result<()> {
        for s in &self.shifts {
            if !NUMERIC.iter().any(|(n, _, _)| *n == s.feature) {
                return Err(Error::not_found(
                    "numeric feature",
                    &s.feature,
                    "shift one of the generator's numeric features",
                ));
            }
            if !(s.scale.is_finite() && s.scale > 0.0 && s.mean_shift_sd.is_finite()) {
                return Err(Error::invalid(
                    "drift shift",
                    format!("`{}`: scale must be > 0 and the shift finite", s.feature),
                ));
            }
        }
        for (f, frac) in &self.missing {
            if CreditDefault::schema().feature_index(f).is_none() {
                return Err(Error::not_found(
                    "feature",
                    f,
                    "see CreditDefault::schema()",
                ));
            }
            if !(0.0..=1.0).contains(frac) {
                return Err(Error::invalid(
                    "missing fraction",
                    format!("{frac} is not in [0, 1]"),
                ));
            }
        }
        if let Some(nc) = &self.new_category {
            let schema = CreditDefault::schema();
            let f = schema
                .feature_index(&nc.feature)
                .map(|i| &schema.features[i])
                .filter(|f| f.is_categorical())
                .ok_or_else(|| {
                    Error::not_found(
                        "categorical feature",
                        &nc.feature,
                        "home_ownership, purpose or region",
                    )
                })?;
            if f.levels().is_some_and(|l| l.contains(&nc.level)) {
                return Err(Error::invalid(
                    "new category",
                    format!("`{}` is already a level of `{}`", nc.level, nc.feature),
                ));
            }
            if !(0.0..=1.0).contains(&nc.fraction) {
                return Err(Error::invalid(
                    "new category fraction",
                    format!("{} is not in [0, 1]", nc.fraction),
                ));
            }
        }
        if !(0.0..=1.0).contains(&self.concept) {
            return Err(Error::invalid(
                "concept drift",
                format!("{} is not in [0, 1]", self.concept),
            ));
        }
        Ok(())
    }
}

/// The seeded credit-default generator.
///
/// ```
/// use mlcycle::testing::{CreditDefault, DriftSpec};
/// let generator = CreditDefault::new(7);
/// let train = generator.sample(1_000, &DriftSpec::none(), 0).unwrap();
/// assert_eq!(train.n_rows(), 1_000);
/// assert_eq!(train.schema().n_features(), 13);
/// // Same seed and stream: same data, same id.
/// assert_eq!(train.id(), generator.sample(1_000, &DriftSpec::none(), 0).unwrap().id());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CreditDefault {
    seed: u64,
}

impl CreditDefault {
    /// A generator; everything it produces is a function of `seed` and the call's `stream`.
    pub fn new(seed: u64) -> Self {
        CreditDefault { seed }
    }

    /// The schema (13 features, binary target `default` with classes `no`, `yes`).
    pub fn schema() -> Schema {
        let mut features: Vec<Feature> = NUMERIC
            .iter()
            .map(|(n, _, _)| Feature::numeric(*n))
            .collect();
        features.push(Feature::categorical("home_ownership", HOME));
        features.push(Feature::categorical("purpose", PURPOSE));
        features.push(Feature::categorical("region", REGION));
        Schema {
            features,
            target: Some(Target {
                name: "default".into(),
                kind: TargetKind::Binary {
                    classes: vec!["no".into(), "yes".into()],
                },
            }),
        }
    }

    /// `n` labelled rows without timestamps. `stream` selects an independent random stream.
    pub fn sample(&self, n: usize, drift: &DriftSpec, stream: u64) -> Result<Dataset> {
        self.generate(n, drift, stream, None)
    }

    /// `n` labelled rows with timestamps spread evenly over `[start, start + span)`.
    pub fn sample_between(
        &self,
        n: usize,
        drift: &DriftSpec,
        stream: u64,
        start: DateTime<Utc>,
        span: Duration,
    ) -> Result<Dataset> {
        self.generate(n, drift, stream, Some((start, span)))
    }

    fn generate(
        &self,
        n: usize,
        drift: &DriftSpec,
        stream: u64,
        time: Option<(DateTime<Utc>, Duration)>,
    ) -> Result<Dataset> {
        if n == 0 {
            return Err(Error::invalid("sample size", "must be at least 1 row"));
        }
        drift.check()?;
        let mut schema = Self::schema();
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03)),
        );
        // Distribution constructors only fail on invalid constant parameters.
        let std_normal = Normal::<f64>::new(0.0, 1.0).expect("valid normal");
        let income_d = LogNormal::<f64>::new(10.85, 0.45).expect("valid lognormal");
        let loan_d = LogNormal::<f64>::new(9.2, 0.6).expect("valid lognormal");
        let late_d = Poisson::<f64>::new(0.6).expect("valid poisson");
        let acc_d = Poisson::<f64>::new(4.0).expect("valid poisson");

        let n_cols = NUMERIC.len() + 3;
        let mut x = Array2::<f64>::zeros((n, n_cols));
        let mut y = Array1::<f64>::zeros(n);
        let new_cat = drift.new_category.as_ref().map(|nc| {
            let j = schema.feature_index(&nc.feature).unwrap_or(0);
            if let crate::data::FeatureKind::Categorical { levels } = &mut schema.features[j].kind {
                levels.push(nc.level.clone());
            }
            (
                j,
                (schema.features[j].levels().map_or(1, <[String]>::len) - 1) as f64,
                nc.fraction,
            )
        });
        let shifts: Vec<(usize, f64, f64)> = drift
            .shifts
            .iter()
            .filter_map(|s| {
                NUMERIC
                    .iter()
                    .position(|(n, _, _)| *n == s.feature)
                    .map(|j| (j, s.mean_shift_sd, s.scale))
            })
            .collect();
        let missing: Vec<(usize, f64)> = drift
            .missing
            .iter()
            .filter_map(|(f, p)| schema.feature_index(f).map(|j| (j, *p)))
            .collect();

        for i in 0..n {
            let z = |rng: &mut ChaCha8Rng| -> f64 { std_normal.sample(rng) };
            let age = (42.0 + 12.0 * z(&mut rng)).clamp(18.0, 85.0).round();
            let income = income_d.sample(&mut rng);
            let debt_ratio = (0.35 + 0.15 * z(&mut rng)).clamp(0.0, 1.2);
            let credit_limit = (income * 0.25 * (0.3 * z(&mut rng)).exp()).round();
            let utilization = (0.40 + 0.22 * z(&mut rng)).clamp(0.0, 1.3);
            let late = late_d.sample(&mut rng);
            let months = (-60.0 * (1.0 - rng.random::<f64>()).ln()).round();
            let accounts = 1.0 + acc_d.sample(&mut rng);
            let loan = loan_d.sample(&mut rng).round();
            let mut row = [
                age,
                income,
                debt_ratio,
                credit_limit,
                utilization,
                late,
                months,
                accounts,
                loan,
                0.0,
            ];
            for &(j, shift, scale) in &shifts {
                let (_, mean, sd) = NUMERIC[j];
                row[j] = mean + (row[j] - mean) * scale + shift * sd;
            }
            row[0] = row[0].clamp(18.0, 90.0);
            row[1] = row[1].max(5_000.0);
            row[2] = row[2].max(0.0);
            row[4] = row[4].clamp(0.0, 1.5);
            row[5] = row[5].max(0.0).round();
            row[6] = row[6].max(0.0);
            let risk = 1.5 * (row[4] - 0.4) + 0.3 * row[5] + 1.0 * (row[2] - 0.35);
            row[9] = (6.0 + 2.0 * risk + 2.0 * z(&mut rng)).clamp(2.0, 30.0);
            for &(j, shift, scale) in shifts.iter().filter(|s| s.0 == 9) {
                let (_, mean, sd) = NUMERIC[j];
                row[9] = mean + (row[9] - mean) * scale + shift * sd;
            }
            let home = pick(&mut rng, &[0.38, 0.22, 0.40]);
            let purpose = pick(&mut rng, &[0.12, 0.25, 0.13, 0.30, 0.20]);
            let region = pick(&mut rng, &[0.25, 0.30, 0.25, 0.20]);

            let c = drift.concept;
            let logit = -1.7
                + (2.6 + 2.6 * c) * (row[4] - 0.4)
                + (0.55 + 0.55 * c) * row[5]
                + (-0.9 + 0.8 * c) * (row[1] / 58_000.0).ln()
                + (2.0 - 1.5 * c) * (row[2] - 0.35)
                - 0.012 * (row[0] - 42.0)
                - 0.004 * row[6]
                + 0.00002 * (row[8] - 12_000.0)
                + 0.05 * (row[9] - 9.0)
                + 2.0 * (row[4] - 0.4) * (row[2] - 0.35)
                + [0.0, -0.2, 0.35][home]
                + [0.35, 0.0, 0.15, -0.1, 0.1][purpose]
                + [0.0, -0.1, 0.15, 0.05][region];
            let p = 1.0 / (1.0 + (-logit).exp());
            y[i] = if rng.random::<f64>() < p { 1.0 } else { 0.0 };

            for (j, v) in row.iter().enumerate() {
                x[[i, j]] = *v;
            }
            x[[i, 10]] = home as f64;
            x[[i, 11]] = purpose as f64;
            x[[i, 12]] = region as f64;
            if let Some((j, code, frac)) = new_cat
                && rng.random::<f64>() < frac
            {
                x[[i, j]] = code;
            }
            for &(j, p) in &missing {
                if rng.random::<f64>() < p {
                    x[[i, j]] = f64::NAN;
                }
            }
        }
        let timestamps = time.map(|(start, span)| {
            let step = span.num_microseconds().unwrap_or(i64::MAX) / n as i64;
            (0..n)
                .map(|i| start + Duration::microseconds(step * i as i64))
                .collect()
        });
        Ok(
            Dataset::new(schema, x, Some(y), timestamps)?.with_source(format!(
                "synthetic credit-default (seed {}, stream {stream}{})",
                self.seed,
                if *drift == DriftSpec::none() {
                    ""
                } else {
                    ", drifted"
                }
            )),
        )
    }
}

fn pick(rng: &mut ChaCha8Rng, probs: &[f64]) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}
