use super::fused::LinearKernel;
use super::{Model, ModelArtifact, Prediction, Preprocessor, Signature};
use crate::{Error, Result};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// A fitted (multinomial) logistic regression with its preprocessing.
///
/// Class 0 is the reference class: `weights` has one column per other class, and
/// `P(class k) ∝ exp(intercepts[k-1] + z·weights[:, k-1])` with `P(class 0) ∝ 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Inputs and target.
    pub signature: Signature,
    /// Fitted preprocessing.
    pub preprocessor: Preprocessor,
    /// Coefficients, (preprocessed inputs) × (classes − 1).
    pub weights: Array2<f64>,
    /// Intercepts, one per non-reference class.
    pub intercepts: Array1<f64>,
    /// How the solver ended (`None` in artifacts written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<LogisticConvergence>,
}

/// How the L-BFGS fit of a [`LogisticModel`] ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticConvergence {
    /// Whether the stopping tolerance was met (as SciPy counts it: the gradient tolerance, or
    /// a negligible relative reduction of the loss).
    pub converged: bool,
    /// Iterations run.
    pub n_iter: usize,
    /// The largest gradient component of the (row-averaged) objective at the solution.
    pub max_gradient: f64,
    /// When not converged: what happened and what to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl LogisticModel {
    /// How the fit ended, if recorded; `Some` with `converged: false` carries a warning.
    pub fn convergence(&self) -> Option<&LogisticConvergence> {
        self.convergence.as_ref()
    }

    pub(crate) fn check(&self) -> Result<()> {
        self.preprocessor.check_schema(&self.signature.inputs)?;
        let k = self.signature.n_classes();
        if k < 2
            || self.weights.ncols() != k - 1
            || self.intercepts.len() != k - 1
            || self.weights.nrows() != self.preprocessor.output_width()
        {
            return Err(Error::SchemaMismatch(
                "logistic model: coefficient shapes do not match the signature".into(),
            ));
        }
        Ok(())
    }

    /// The fused prediction kernel (preprocessing folded into the coefficients).
    fn kernel(&self) -> LinearKernel {
        let w = &self.weights;
        LinearKernel::new(
            &self.preprocessor,
            w.ncols(),
            |i, c| w[[i, c]],
            self.intercepts.to_vec(),
        )
    }
}

impl Model for LogisticModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Prediction> {
        let (values, p) = self.kernel().predict_classes(&self.signature, x)?;
        Ok(Prediction {
            values,
            probabilities: Some(p),
        })
    }

    fn to_artifact(&self) -> Result<ModelArtifact> {
        Ok(ModelArtifact::Logistic(self.clone()))
    }
}

/// A fitted linear (ridge) regression with its preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// Inputs and target.
    pub signature: Signature,
    /// Fitted preprocessing.
    pub preprocessor: Preprocessor,
    /// Coefficients on the preprocessed inputs.
    pub weights: Array1<f64>,
    /// Intercept.
    pub intercept: f64,
}

impl LinearModel {
    pub(crate) fn check(&self) -> Result<()> {
        self.preprocessor.check_schema(&self.signature.inputs)?;
        if self.signature.n_classes() != 0 || self.weights.len() != self.preprocessor.output_width()
        {
            return Err(Error::SchemaMismatch(
                "linear model: coefficient shapes do not match the signature".into(),
            ));
        }
        Ok(())
    }
}

impl Model for LinearModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Prediction> {
        let w = &self.weights;
        let kernel = LinearKernel::new(&self.preprocessor, 1, |i, _| w[i], vec![self.intercept]);
        let values = kernel.predict_values(&self.signature, x)?;
        Ok(Prediction {
            values,
            probabilities: None,
        })
    }

    fn to_artifact(&self) -> Result<ModelArtifact> {
        Ok(ModelArtifact::Linear(self.clone()))
    }
}
