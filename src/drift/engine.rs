//! The per-column work of the drift engine: prepare a column pair once (sort, count,
//! bin), then run every requested method on the prepared data.

use std::borrow::Cow;

use ndarray::ArrayView1;

use super::config::{MethodSelection, StatisticalDriftConfig};
use super::report::{MethodOutcomes, TestOutcome};
use super::stats::{
    AlignedCounts, Alternative, BinnedShares, Binning, BucketedPair, CategoricalSummary,
    ColumnKind, Method, NumericSummary, SortedSample, anderson_ksamp, bucketed_pair,
    chi2_contingency, chisquare, cramer_von_mises, empirical_mmd, energy_distance,
    hellinger_evidently_numeric, ks_from_statistic, ks_statistic_and_wasserstein, l_infinity,
    mann_whitney_u, select_method, t_test, tvd_permutation, z_test,
};
use crate::{Error, Result};

/// The values of one column on one side, as the engine takes them.
#[derive(Debug, Clone)]
pub enum ColumnValues<'a> {
    /// Raw numbers (any stride). NaN and ±inf are dropped and counted as missing.
    Numeric(ArrayView1<'a, f64>),
    /// Category counts (missing values counted in the profile).
    Categorical(Cow<'a, CategoricalSummary>),
}

impl<'a> ColumnValues<'a> {
    /// Numeric values from a slice.
    pub fn numeric(values: &'a [f64]) -> Self {
        ColumnValues::Numeric(ArrayView1::from(values))
    }

    /// Categorical values from optional labels (`None` = missing).
    pub fn categorical<'l>(labels: impl IntoIterator<Item = Option<&'l str>>) -> Self {
        ColumnValues::Categorical(Cow::Owned(CategoricalSummary::from_labels(labels)))
    }

    fn kind(&self) -> ColumnKind {
        match self {
            ColumnValues::Numeric(_) => ColumnKind::Numeric,
            ColumnValues::Categorical(_) => ColumnKind::Categorical,
        }
    }
}

/// One column to compare: its name and its reference and current values.
#[derive(Debug, Clone)]
pub struct ColumnInput<'a> {
    /// Column name (used in the report, for per-column settings and in errors).
    pub name: &'a str,
    /// Reference values.
    pub reference: ColumnValues<'a>,
    /// Current values.
    pub current: ColumnValues<'a>,
}

/// A column pair after the one-off preparation.
pub(crate) enum Prepared<'a> {
    Numeric {
        reference: SortedSample,
        current: SortedSample,
    },
    /// Large numeric samples whose methods need only `D`, W1, the reference's standard
    /// deviation and Evidently's bins: computed without sorting (see `bucketed_pair`).
    NumericBucketed(Box<BucketedPair>),
    NumericSummarys {
        reference: &'a NumericSummary,
        current: &'a NumericSummary,
    },
    Categorical {
        counts: AlignedCounts,
        missing: (u64, u64),
    },
}

/// The engine's result for one column, before multiple-testing correction.
#[derive(Debug, Clone)]
pub(crate) struct ColumnEval {
    pub name: String,
    pub kind: ColumnKind,
    pub n_reference: usize,
    pub n_current: usize,
    pub missing_reference: usize,
    pub missing_current: usize,
    pub method: Method,
    pub outcome: TestOutcome,
    /// The number compared with the threshold (p-value or distance).
    pub score: f64,
    pub threshold: f64,
    pub tests: MethodOutcomes,
}

pub(crate) fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
    }
}

/// Attach the column name to an error.
pub(crate) fn in_column(column: &str, e: Error) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("column `{column}`: {m}")),
        Error::InvalidInput { what, why } => Error::InvalidInput {
            what: format!("{what} for column `{column}`"),
            why,
        },
        other => other,
    }
}

/// Smallest pooled sample for which the bucketed path is tried (below it sorting is cheap).
const BUCKETED_MIN_POOLED: usize = 16_384;

/// Whether every method that would run on a numeric column `name` with more than 20
/// distinct values needs only what the bucketed path computes (KS, Wasserstein and the
/// binned divergences under Evidently's binning). `Some(needs_bins)` if so.
fn bucketed_methods(config: &StatisticalDriftConfig, name: &str) -> Option<bool> {
    let kind = ColumnKind::Numeric;
    let mut methods: Vec<Method> = match &config.methods {
        // Evidently's selection for > 5 distinct values: `ks` or `wasserstein`
        MethodSelection::Auto => vec![],
        MethodSelection::All => return None,
        MethodSelection::List { methods, .. } => methods
            .iter()
            .copied()
            .filter(|m| m.supports(kind))
            .collect(),
    };
    methods.extend(config.column_methods.get(name).copied());
    let mut bins = false;
    for m in methods {
        match m {
            Method::Ks | Method::Wasserstein => {}
            Method::Psi | Method::KlDiv | Method::JensenShannon
                if config.binning == Binning::Evidently =>
            {
                bins = true
            }
            _ => return None,
        }
    }
    Some(bins)
}

/// Sort / count one raw column pair (or, for large numeric samples whose methods allow
/// it, compute the bucketed summary without sorting).
pub(crate) fn prepare<'a>(
    input: &ColumnInput<'_>,
    config: &StatisticalDriftConfig,
) -> Result<Prepared<'a>> {
    let name = input.name;
    match (&input.reference, &input.current) {
        (ColumnValues::Numeric(r), ColumnValues::Numeric(c)) => {
            if r.len() + c.len() >= BUCKETED_MIN_POOLED
                && let Some(bins) = bucketed_methods(config, name)
            {
                fn as_slice<'v>(v: &'v ArrayView1<'_, f64>) -> Cow<'v, [f64]> {
                    match v.as_slice() {
                        Some(s) => Cow::Borrowed(s),
                        None => Cow::Owned(v.to_vec()),
                    }
                }
                let (rs, cs) = (as_slice(r), as_slice(c));
                if let Some(b) = bucketed_pair(&rs, &cs, bins) {
                    return Ok(Prepared::NumericBucketed(Box::new(b)));
                }
            }
            let sort = |v: &ArrayView1<'_, f64>| match v.as_slice() {
                Some(s) => SortedSample::from_slice(s),
                None => SortedSample::from_values(v.iter().copied()),
            };
            let (reference, current) = rayon::join(|| sort(r), || sort(c));
            for (s, side) in [(&reference, "reference"), (&current, "current")] {
                if s.is_empty() {
                    return Err(Error::Data(format!(
                        "column `{name}` has no finite values in the {side} data ({} missing); \
                         cannot test it for drift",
                        s.dropped().total()
                    )));
                }
            }
            Ok(Prepared::Numeric { reference, current })
        }
        (ColumnValues::Categorical(r), ColumnValues::Categorical(c)) => {
            prepare_categorical(name, r, c)
        }
        (r, c) => Err(Error::SchemaMismatch(format!(
            "column `{name}` is {} in the reference data but {} in the current data",
            kind_name(r.kind()),
            kind_name(c.kind())
        ))),
    }
}

pub(crate) fn prepare_categorical<'a>(
    name: &str,
    r: &CategoricalSummary,
    c: &CategoricalSummary,
) -> Result<Prepared<'a>> {
    for (p, side) in [(r, "reference"), (c, "current")] {
        if p.count() == 0 {
            return Err(Error::Data(format!(
                "column `{name}` has no values in the {side} data ({} missing); \
                 cannot test it for drift",
                p.missing
            )));
        }
    }
    let counts = CategoricalSummary::aligned(r, c).map_err(|e| in_column(name, e))?;
    Ok(Prepared::Categorical {
        counts,
        missing: (r.missing, c.missing),
    })
}

impl Prepared<'_> {
    fn kind(&self) -> ColumnKind {
        match self {
            Prepared::Numeric { .. }
            | Prepared::NumericBucketed(_)
            | Prepared::NumericSummarys { .. } => ColumnKind::Numeric,
            Prepared::Categorical { .. } => ColumnKind::Categorical,
        }
    }

    /// `(n_reference, n_current, missing_reference, missing_current)`.
    fn sizes(&self) -> (u64, u64, u64, u64) {
        match self {
            Prepared::Numeric { reference, current } => (
                reference.len() as u64,
                current.len() as u64,
                reference.dropped().total(),
                current.dropped().total(),
            ),
            Prepared::NumericBucketed(b) => (
                b.n_reference as u64,
                b.n_current as u64,
                b.dropped_reference.total(),
                b.dropped_current.total(),
            ),
            Prepared::NumericSummarys { reference, current } => (
                reference.count,
                current.count,
                reference.missing + reference.infinite,
                current.missing + current.infinite,
            ),
            Prepared::Categorical { counts, missing } => (
                counts.n_reference(),
                counts.n_current(),
                missing.0,
                missing.1,
            ),
        }
    }

    fn is_profile(&self) -> bool {
        matches!(self, Prepared::NumericSummarys { .. })
    }
}

/// Methods that need only counts or histograms (so they run on profiles too).
fn profile_capable(method: Method, kind: ColumnKind) -> bool {
    match kind {
        ColumnKind::Numeric => matches!(
            method,
            Method::Psi | Method::KlDiv | Method::JensenShannon | Method::Hellinger
        ),
        ColumnKind::Categorical => method.supports(kind),
    }
}

fn categorical_only(method: Method) -> bool {
    matches!(
        method,
        Method::ChiSquare | Method::Z | Method::Tvd | Method::LInfinity | Method::Chi2Contingency
    )
}

/// Whether `method` can decide a column of `kind` (numeric columns may use the
/// categorical tests on their distinct values, as Evidently's selection does).
fn can_decide(method: Method, kind: ColumnKind) -> bool {
    method.supports(kind) || (kind == ColumnKind::Numeric && categorical_only(method))
}

/// Run the configured methods on one prepared column.
pub(crate) fn evaluate_column(
    name: &str,
    prepared: &Prepared<'_>,
    config: &StatisticalDriftConfig,
) -> Result<ColumnEval> {
    let kind = prepared.kind();
    let on_profiles = prepared.is_profile();
    let mut ctx = Ctx {
        prepared,
        binning: config.binning,
        seed: config.seed,
        shares: None,
        counts: None,
        ks_w: None,
    };
    // the deciding method
    let auto = || -> Result<Method> {
        Ok(match prepared {
            Prepared::NumericSummarys { .. } => Method::JensenShannon,
            // more than 20 distinct reference values
            Prepared::NumericBucketed(b) => select_method(kind, b.n_reference, 21),
            Prepared::Numeric { reference, current } => {
                // only "more than 5" / "3 to 5" / "2 or fewer" matters
                let n_unique = super::stats::distinct_union_count(reference, current, 6);
                select_method(kind, reference.len(), n_unique)
            }
            Prepared::Categorical { counts, .. } => {
                select_method(kind, counts.n_reference() as usize, counts.n_categories())
            }
        })
    };
    let listed: Vec<Method> = match &config.methods {
        MethodSelection::Auto => vec![],
        MethodSelection::All => Method::ALL
            .into_iter()
            .filter(|m| !matches!(m, Method::EmpiricalMmd))
            .filter(|m| m.supports(kind) && (!on_profiles || profile_capable(*m, kind)))
            .collect(),
        MethodSelection::List { methods, .. } => methods
            .iter()
            .copied()
            .filter(|m| m.supports(kind))
            .collect(),
    };
    let decide = match config.column_methods.get(name) {
        Some(&m) => {
            if !can_decide(m, kind) {
                return Err(Error::invalid(
                    format!("method for column `{name}`"),
                    format!(
                        "`{}` does not apply to a {} column",
                        m.name(),
                        kind_name(kind)
                    ),
                ));
            }
            m
        }
        None => match &config.methods {
            MethodSelection::List { auto: false, .. } => match listed.first() {
                Some(&m) => m,
                None => auto()?,
            },
            _ => auto()?,
        },
    };
    let mut order = vec![decide];
    order.extend(listed.into_iter().filter(|m| *m != decide));
    let mut tests = MethodOutcomes::default();
    let mut decision = None;
    for m in order {
        if on_profiles && !profile_capable(m, kind) {
            return Err(Error::invalid(
                format!("method for column `{name}`"),
                format!(
                    "`{}` needs the raw values; from profiles only psi, kl_div, \
                     jensenshannon and hellinger run on numeric columns",
                    m.name()
                ),
            ));
        }
        let outcome = ctx.run(m).map_err(|e| in_column(name, e))?;
        if decision.is_none() {
            decision = Some(outcome);
        }
        tests.insert(m.name(), outcome);
    }
    let outcome = decision.unwrap_or(TestOutcome::distance(f64::NAN));
    let direction = decide.direction();
    let score = if direction.is_p_value() {
        outcome.p_value.unwrap_or(f64::NAN)
    } else {
        outcome.statistic
    };
    let threshold = config.threshold_for(name, decide);
    let (n_r, n_c, m_r, m_c) = prepared.sizes();
    Ok(ColumnEval {
        name: name.to_string(),
        kind,
        n_reference: n_r as usize,
        n_current: n_c as usize,
        missing_reference: m_r as usize,
        missing_current: m_c as usize,
        method: decide,
        outcome,
        score,
        threshold,
        tests,
    })
}

/// Per-column cache: binned shares and category counts are built once and shared.
struct Ctx<'p, 'a> {
    prepared: &'p Prepared<'a>,
    binning: Binning,
    seed: u64,
    shares: Option<BinnedShares>,
    counts: Option<AlignedCounts>,
    /// KS statistic and W1, from one merge.
    ks_w: Option<(f64, f64)>,
}

impl Ctx<'_, '_> {
    fn shares(&mut self) -> Result<&BinnedShares> {
        if self.shares.is_none() {
            let s = match self.prepared {
                Prepared::Numeric { reference, current } => {
                    BinnedShares::numeric(reference, current, self.binning)?
                }
                Prepared::NumericSummarys { reference, current } => {
                    if self.binning != Binning::Reference {
                        return Err(Error::invalid(
                            "binning",
                            "numeric profiles hold reference-fixed bins; use the `reference` \
                             binning convention with profiles",
                        ));
                    }
                    reference.binned_against(current)?
                }
                Prepared::Categorical { counts, .. } => {
                    BinnedShares::categorical(counts, self.binning)?
                }
                Prepared::NumericBucketed(b) => match (&b.sturges_counts, self.binning) {
                    (Some((rc, cc)), Binning::Evidently) => BinnedShares::evidently_from_counts(
                        rc,
                        b.n_reference as u64,
                        cc,
                        b.n_current as u64,
                    ),
                    _ => return Err(not_bucketed("the requested binning")),
                },
            };
            self.shares = Some(s);
        }
        Ok(self.shares.as_ref().expect("just built"))
    }

    fn counts(&mut self) -> Result<&AlignedCounts> {
        if self.counts.is_none() {
            let c = match self.prepared {
                Prepared::Numeric { reference, current } => {
                    AlignedCounts::from_samples(reference, current)?.1
                }
                Prepared::Categorical { counts, .. } => counts.clone(),
                Prepared::NumericSummarys { .. } => {
                    return Err(Error::invalid(
                        "drift method",
                        "categorical tests need the raw values of a numeric column",
                    ));
                }
                Prepared::NumericBucketed(_) => return Err(not_bucketed("category counts")),
            };
            self.counts = Some(c);
        }
        Ok(self.counts.as_ref().expect("just built"))
    }

    fn ks_w(&mut self, r: &SortedSample, c: &SortedSample) -> Result<(f64, f64)> {
        if self.ks_w.is_none() {
            self.ks_w = Some(ks_statistic_and_wasserstein(r, c)?);
        }
        Ok(self.ks_w.expect("just built"))
    }

    fn run(&mut self, method: Method) -> Result<TestOutcome> {
        if matches!(self.prepared, Prepared::Categorical { .. })
            && !method.supports(ColumnKind::Categorical)
        {
            return Err(Error::invalid(
                "drift method",
                format!("`{}` does not apply to a categorical column", method.name()),
            ));
        }
        // KS and W1 of a bucketed column come with its preparation.
        if let Prepared::NumericBucketed(b) = self.prepared {
            match method {
                Method::Ks => {
                    let t = ks_from_statistic(b.ks_d, b.n_reference, b.n_current);
                    return Ok(TestOutcome::test(t.statistic, t.p_value));
                }
                Method::Wasserstein => {
                    return Ok(TestOutcome {
                        statistic: b.w1 / b.std_reference.max(0.001),
                        p_value: None,
                        raw: Some(b.w1),
                    });
                }
                _ => {}
            }
        }
        let binning = self.binning;
        Ok(match method {
            Method::Psi => TestOutcome::distance(self.shares()?.psi()),
            Method::KlDiv => TestOutcome::distance(self.shares()?.kl_div()),
            Method::JensenShannon => TestOutcome::distance(self.shares()?.jensenshannon()),
            Method::Hellinger => match (self.prepared, binning) {
                (Prepared::Numeric { reference, current }, Binning::Evidently) => {
                    TestOutcome::distance(hellinger_evidently_numeric(reference, current)?)
                }
                (Prepared::NumericBucketed(_), _) => {
                    return Err(not_bucketed("hellinger"));
                }
                _ => TestOutcome::distance(self.shares()?.hellinger()),
            },
            Method::ChiSquare => {
                let t = chisquare(self.counts()?)?;
                TestOutcome::test(t.statistic, t.p_value)
            }
            Method::Z => {
                let t = z_test(self.counts()?)?;
                TestOutcome::test(t.statistic, t.p_value)
            }
            Method::Tvd => {
                let seed = self.seed;
                let t = tvd_permutation(self.counts()?, 1000, seed)?;
                TestOutcome::test(t.statistic, t.p_value)
            }
            Method::LInfinity => TestOutcome::distance(l_infinity(self.counts()?)),
            Method::Chi2Contingency => {
                let t = chi2_contingency(self.counts()?)?;
                TestOutcome::test(t.statistic, t.p_value)
            }
            numeric => {
                let Prepared::Numeric {
                    reference: r,
                    current: c,
                } = self.prepared
                else {
                    return Err(Error::invalid(
                        "drift method",
                        format!("`{}` needs raw numeric values", numeric.name()),
                    ));
                };
                match numeric {
                    Method::Ks => {
                        let (d, _) = self.ks_w(r, c)?;
                        let t = ks_from_statistic(d, r.len(), c.len());
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::Wasserstein => {
                        let (_, w) = self.ks_w(r, c)?;
                        let sd = r.std_pop().unwrap_or(0.0);
                        TestOutcome {
                            statistic: w / sd.max(0.001),
                            p_value: None,
                            raw: Some(w),
                        }
                    }
                    Method::Anderson => {
                        let t = anderson_ksamp(r, c)?;
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::CramerVonMises => {
                        let t = cramer_von_mises(r, c)?;
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::MannWhitney => {
                        let t = mann_whitney_u(r, c, Alternative::Less)?;
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::TTest => {
                        let t = t_test(r, c)?;
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::EmpiricalMmd => {
                        let t = empirical_mmd(r, c, 100, self.seed)?;
                        TestOutcome::test(t.statistic, t.p_value)
                    }
                    Method::EnergyDistance => TestOutcome::distance(energy_distance(r, c)?),
                    other => {
                        return Err(Error::invalid(
                            "drift method",
                            format!("`{}` is not a numeric method", other.name()),
                        ));
                    }
                }
            }
        })
    }
}

/// The error for a method the bucketed summary cannot serve. `prepare` chooses that path
/// only when every method of the column can use it, so this signals a broken invariant.
fn not_bucketed(what: &str) -> Error {
    Error::invalid(
        "drift method",
        format!("{what} needs the sorted values, which this column's summary does not keep"),
    )
}
