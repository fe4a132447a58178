//! Open model flavors: a flavor is a name plus a loader that turns stored bytes back into a
//! servable [`Model`]. The built-in algorithms are flavors like any other; applications add
//! their own with [`FlavorRegistry::register`] (or `LifecycleBuilder::flavor`).
//!
//! A model of an application's own type stores itself as a
//! [`ModelArtifact::flavored`] artifact — its flavor name, its signature and whatever bytes
//! it chooses — and is loaded back by the flavor registered under that name. Artifacts are
//! content-addressed and verified by the registry exactly like built-in ones; the reference
//! profile of the training data travels with them the same way
//! ([`ModelArtifact::with_reference_profile`]).
//!
//! Loading goes through the process-wide registry ([`FlavorRegistry::global`]): the
//! registry's loading path ([`RegistryExt::load_model`](crate::registry::RegistryExt)),
//! serving, the lifecycle and [`ModelArtifact::into_model`] all find a flavor as soon as it
//! is registered there. Loading an artifact whose flavor is not registered is an
//! [`Error::NotFound`] naming the flavor and how to register it.

use super::{
    DecisionTreePipeline, GbdtPipeline, LinearModel, LogisticModel, Model, ModelArtifact,
    RandomForestPipeline, Signature,
};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, OnceLock, RwLock};

/// The names of the built-in flavors (they cannot be replaced).
pub const BUILTIN_FLAVORS: &[&str] = &[
    "logistic",
    "linear",
    "gbdt",
    "decision_tree",
    "random_forest",
];

/// A named loader of stored models.
///
/// # Contract
/// - `name` is stable: it is written into every artifact of this flavor, and the flavor
///   registered under it must load all of them, including those written by earlier versions
///   of the application.
/// - `load(bytes, signature)` receives exactly the bytes and signature the model's
///   [`Model::to_artifact`] stored ([`ModelArtifact::flavored`]) and returns a model with
///   bit-identical predictions and that signature; it never panics on damaged bytes but
///   returns an error saying what is wrong.
///
/// ```
/// use mlcycle::model::{FlavorRegistry, Model, ModelArtifact, ModelFlavor, Prediction, Signature};
/// use ndarray::ArrayView2;
/// use std::sync::Arc;
///
/// /// Predicts a constant.
/// #[derive(Debug)]
/// struct Constant { signature: Signature, value: f64 }
///
/// impl Model for Constant {
///     fn signature(&self) -> &Signature { &self.signature }
///     fn predict(&self, x: ArrayView2<'_, f64>) -> mlcycle::Result<Prediction> {
///         Ok(Prediction { values: ndarray::Array1::from_elem(x.nrows(), self.value), probabilities: None })
///     }
///     fn to_artifact(&self) -> mlcycle::Result<ModelArtifact> {
///         ModelArtifact::flavored("doc_constant", self.signature.clone(), self.value.to_le_bytes().to_vec())
///     }
/// }
///
/// #[derive(Debug)]
/// struct ConstantFlavor;
///
/// impl ModelFlavor for ConstantFlavor {
///     fn name(&self) -> &str { "doc_constant" }
///     fn load(&self, bytes: &[u8], signature: &Signature) -> mlcycle::Result<Arc<dyn Model>> {
///         let b: [u8; 8] = bytes.try_into().map_err(|_| mlcycle::Error::Data("need 8 bytes".into()))?;
///         Ok(Arc::new(Constant { signature: signature.clone(), value: f64::from_le_bytes(b) }))
///     }
/// }
///
/// let flavors = FlavorRegistry::new();
/// flavors.register(Arc::new(ConstantFlavor)).unwrap();
/// # use mlcycle::data::{Feature, Schema, Target, TargetKind};
/// # let target = Target { name: "y".into(), kind: TargetKind::Regression };
/// # let schema = Schema::new(vec![Feature::numeric("x")], Some(target)).unwrap();
/// # let signature = Signature::from_training_schema(&schema).unwrap();
/// let art = Constant { signature, value: 2.5 }.to_artifact().unwrap();
/// let back = flavors.load(ModelArtifact::from_bytes(&art.to_bytes().unwrap()).unwrap()).unwrap();
/// assert_eq!(back.predict(ndarray::Array2::zeros((3, 1)).view()).unwrap().values[0], 2.5);
/// ```
pub trait ModelFlavor: Send + Sync + Debug {
    /// The flavor's name, as written into its artifacts.
    fn name(&self) -> &str;
    /// Load a model from the bytes and signature its artifact stores.
    fn load(&self, bytes: &[u8], signature: &Signature) -> Result<Arc<dyn Model>>;
}

/// One of the built-in algorithms as a flavor: its bytes are the JSON of the fitted model
/// (the `"model"` member of its artifact).
#[derive(Debug, Clone, Copy)]
struct BuiltinFlavor(&'static str);

impl ModelFlavor for BuiltinFlavor {
    fn name(&self) -> &str {
        self.0
    }

    fn load(&self, bytes: &[u8], signature: &Signature) -> Result<Arc<dyn Model>> {
        let bad =
            |e: serde_json::Error| Error::Serde(format!("not a valid `{}` model: {e}", self.0));
        let art = match self.0 {
            "logistic" => ModelArtifact::Logistic(
                serde_json::from_slice::<LogisticModel>(bytes).map_err(bad)?,
            ),
            "linear" => {
                ModelArtifact::Linear(serde_json::from_slice::<LinearModel>(bytes).map_err(bad)?)
            }
            "gbdt" => {
                ModelArtifact::Gbdt(serde_json::from_slice::<GbdtPipeline>(bytes).map_err(bad)?)
            }
            "decision_tree" => ModelArtifact::DecisionTree(
                serde_json::from_slice::<DecisionTreePipeline>(bytes).map_err(bad)?,
            ),
            "random_forest" => ModelArtifact::RandomForest(
                serde_json::from_slice::<RandomForestPipeline>(bytes).map_err(bad)?,
            ),
            other => {
                return Err(Error::invalid(
                    "flavor",
                    format!("`{other}` is not a built-in flavor"),
                ));
            }
        };
        if art.signature() != signature {
            return Err(Error::SchemaMismatch(format!(
                "the stored `{}` model's signature differs from the artifact's",
                self.0
            )));
        }
        art.into_model()
    }
}

/// Check a flavor name: 1 to 64 characters of `a-z`, `0-9`, `_`, `-`, `.`, starting with a
/// letter.
pub(crate) fn validate_flavor_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "flavor name",
            format!(
                "`{name}` must be 1 to 64 characters of a-z, 0-9, `_`, `-`, `.`, starting with a \
                 letter"
            ),
        ))
    }
}

/// The flavors a program can load, by name: the built-in ones plus those the application
/// registered.
#[derive(Debug)]
pub struct FlavorRegistry {
    flavors: RwLock<BTreeMap<String, Arc<dyn ModelFlavor>>>,
}

impl Default for FlavorRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl FlavorRegistry {
    /// A registry holding the built-in flavors ([`BUILTIN_FLAVORS`]).
    pub fn new() -> Self {
        let flavors = BUILTIN_FLAVORS
            .iter()
            .map(|&n| {
                (
                    n.to_string(),
                    Arc::new(BuiltinFlavor(n)) as Arc<dyn ModelFlavor>,
                )
            })
            .collect();
        FlavorRegistry {
            flavors: RwLock::new(flavors),
        }
    }

    /// The process-wide registry that every loading path consults
    /// ([`ModelArtifact::into_model`], the registry, serving, the lifecycle).
    pub fn global() -> &'static FlavorRegistry {
        static GLOBAL: OnceLock<FlavorRegistry> = OnceLock::new();
        GLOBAL.get_or_init(FlavorRegistry::new)
    }

    /// Register `flavor` under its name. Registering a name again replaces the earlier
    /// loader (so a program may build several lifecycles with the same flavor). A built-in
    /// name or an invalid name is an [`Error::InvalidInput`].
    pub fn register(&self, flavor: Arc<dyn ModelFlavor>) -> Result<()> {
        let name = flavor.name().to_string();
        validate_flavor_name(&name)?;
        if BUILTIN_FLAVORS.contains(&name.as_str()) {
            return Err(Error::invalid(
                "flavor",
                format!("`{name}` is a built-in flavor and cannot be replaced; pick another name"),
            ));
        }
        self.flavors
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, flavor);
        Ok(())
    }

    /// The flavor registered under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn ModelFlavor>> {
        self.flavors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The names of every flavor this registry can load, sorted.
    pub fn names(&self) -> Vec<String> {
        self.flavors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Turn `artifact` into a servable model with the flavor it names (a bundled reference
    /// profile is dropped; read it first). An unregistered flavor is an [`Error::NotFound`]
    /// that names it and says how to register it.
    pub fn load(&self, artifact: ModelArtifact) -> Result<Arc<dyn Model>> {
        match artifact.without_reference_profile() {
            ModelArtifact::Flavored(f) => {
                let flavor = self
                    .get(f.flavor())
                    .ok_or_else(|| self.missing(f.flavor()))?;
                let model = flavor.load(f.bytes(), f.signature())?;
                if model.signature() != f.signature() {
                    return Err(Error::SchemaMismatch(format!(
                        "flavor `{}` loaded a model whose signature differs from the one its \
                         artifact stores; its loader must return the stored signature",
                        f.flavor()
                    )));
                }
                Ok(model)
            }
            builtin => builtin.into_builtin_model(),
        }
    }

    /// The error for an unregistered flavor.
    fn missing(&self, name: &str) -> Error {
        Error::NotFound {
            kind: "model flavor",
            name: name.to_string(),
            hint: format!(
                "the artifact was written by a model of flavor `{name}`, which this program has \
                 not registered; register its loader before loading it, with \
                 `LifecycleBuilder::flavor(Arc::new(YourFlavor))` or \
                 `FlavorRegistry::global().register(Arc::new(YourFlavor))` (flavors known \
                 here: {})",
                self.names().join(", ")
            ),
        }
    }
}
